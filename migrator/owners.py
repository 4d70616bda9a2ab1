"""Who owns whom: controller chains from pods up to the workload that holds their template.

Owns the ownership index of an inventory (Pod → ReplicaSet → Deployment, Pod → Job →
CronJob, Pod → StatefulSet / DaemonSet / ReplicationController), the list of workloads
whose templates decide tomorrow's pods (those with no controller above them), and the
comparison of a pod's security-relevant fields with its template's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from migrator.inventory import Inventory, Obj, name_of, namespace_of
from migrator.workloads import pod_template

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


# -- template vs pod -----------------------------------------------------------------------

_POD_SC_FIELDS = ("runAsUser", "runAsGroup", "runAsNonRoot", "fsGroup", "supplementalGroups",
                  "seLinuxOptions", "seccompProfile", "appArmorProfile", "sysctls",
                  "windowsOptions", "fsGroupChangePolicy")
_CONTAINER_SC_FIELDS = ("runAsUser", "runAsGroup", "runAsNonRoot", "seLinuxOptions",
                        "seccompProfile", "appArmorProfile", "capabilities", "privileged",
                        "allowPrivilegeEscalation", "readOnlyRootFilesystem", "procMount",
                        "windowsOptions")


@dataclass(frozen=True, slots=True)
class FieldChange:
    """A security-relevant field whose value in the pod differs from the template's."""

    path: str
    template: Any
    pod: Any


def _security_annotations(metadata: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in (metadata.get("annotations") or {}).items()
            if "seccomp.security" in k or "apparmor.security" in k}


def security_changes(template: Obj, pod: Obj) -> list[FieldChange]:
    """Every security-relevant field set differently in `pod` than in `template`'s pods."""
    tpl = pod_template(template)
    got = pod_template(pod)
    if tpl is None or got is None:
        return []
    changes: list[FieldChange] = []
    t_ann, p_ann = _security_annotations(tpl.metadata), _security_annotations(got.metadata)
    for key in sorted(set(t_ann) | set(p_ann)):
        if t_ann.get(key) != p_ann.get(key):
            changes.append(FieldChange(f"metadata.annotations[{key}]", t_ann.get(key),
                                       p_ann.get(key)))
    if tpl.spec.get("runtimeClassName") != got.spec.get("runtimeClassName"):
        changes.append(FieldChange("spec.runtimeClassName", tpl.spec.get("runtimeClassName"),
                                   got.spec.get("runtimeClassName")))
    t_sc = tpl.spec.get("securityContext") or {}
    p_sc = got.spec.get("securityContext") or {}
    for key in _POD_SC_FIELDS:
        if t_sc.get(key) != p_sc.get(key):
            changes.append(FieldChange(f"spec.securityContext.{key}", t_sc.get(key),
                                       p_sc.get(key)))
    for list_key in ("initContainers", "containers"):
        t_containers = {c.get("name"): c for c in tpl.spec.get(list_key) or ()
                        if isinstance(c, dict)}
        for container in got.spec.get(list_key) or ():
            if not isinstance(container, dict):
                continue
            name = container.get("name")
            if name not in t_containers:
                changes.append(FieldChange(f"spec.{list_key}[{name}]", None, "added"))
                continue
            t_csc = t_containers[name].get("securityContext") or {}
            p_csc = container.get("securityContext") or {}
            for key in _CONTAINER_SC_FIELDS:
                if t_csc.get(key) != p_csc.get(key):
                    changes.append(FieldChange(
                        f"spec.{list_key}[{name}].securityContext.{key}", t_csc.get(key),
                        p_csc.get(key)))
    return changes
