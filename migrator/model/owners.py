"""Who owns whom: controller chains from pods up to the workload that holds their template.

Owns the ownership index of an inventory (Pod → ReplicaSet → Deployment, Pod → Job →
CronJob, Pod → StatefulSet / DaemonSet / ReplicationController) and the list of workloads
whose templates decide tomorrow's pods (those with no controller above them). Comparing a
pod with its template is `migrator.psp.explains`' job.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from migrator.model.inventory import Inventory, Obj, name_of, namespace_of

#: Kinds whose template is the source of tomorrow's pods when nothing controls them.
TEMPLATE_OWNERS = ("CronJob", "DaemonSet", "Deployment", "Job", "ReplicaSet",
                   "ReplicationController", "StatefulSet")


def controller_ref(obj: Obj) -> Mapping[str, Any] | None:
    """The ownerReference marked `controller: true`, or None."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or ():
        if isinstance(ref, dict) and ref.get("controller"):
            return ref
    return None


@dataclass
class OwnerIndex:
    """Workloads by namespace and uid, and by namespace, kind and name."""

    by_uid: dict[tuple[str, str], Obj]
    by_name: dict[tuple[str, str, str], Obj]

    @classmethod
    def build(cls, workloads: Iterable[Obj]) -> OwnerIndex:
        by_uid: dict[tuple[str, str], Obj] = {}
        by_name: dict[tuple[str, str, str], Obj] = {}
        for obj in workloads:
            ns = namespace_of(obj)
            uid = (obj.get("metadata") or {}).get("uid")
            if uid:
                by_uid[(ns, str(uid))] = obj
            by_name[(ns, str(obj.get("kind")), name_of(obj))] = obj
        return cls(by_uid, by_name)

    def parent(self, obj: Obj) -> Obj | None:
        """The controlling workload of `obj`, if the inventory holds it."""
        ref = controller_ref(obj)
        if ref is None:
            return None
        ns = namespace_of(obj)
        uid = ref.get("uid")
        if uid and (ns, str(uid)) in self.by_uid:
            return self.by_uid[(ns, str(uid))]
        return self.by_name.get((ns, str(ref.get("kind")), str(ref.get("name"))))

    def top(self, obj: Obj) -> Obj | None:
        """The topmost workload above `obj` (None for an object with no controller held)."""
        seen: set[int] = set()
        current = self.parent(obj)
        top = current
        while current is not None and id(current) not in seen:
            seen.add(id(current))
            top = current
            current = self.parent(current)
        return top


def template_sources(inventory: Inventory, index: OwnerIndex) -> Iterator[Obj]:
    """Workloads whose template creates pods and that no held controller manages."""
    for obj in inventory.workloads:
        if obj.get("kind") in TEMPLATE_OWNERS and index.parent(obj) is None:
            yield obj
