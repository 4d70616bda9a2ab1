"""The inventory: everything a migration reads from a cluster, in one shape for every source.

Owns `Inventory`, a container of plain camelCase object dictionaries grouped by kind, the
origin of each object (`path#doc` for files, `cluster` for a live read), what the source
could not read (and what that leaves unknown), and `Inventory.from_documents` to build one
from manifests. Live and file sources must produce the same Inventory for the same objects.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from migrator.model.workloads import WORKLOAD_KINDS

Obj = dict[str, Any]

#: kind -> Inventory attribute holding objects of that kind.
KIND_FIELDS: dict[str, str] = {
    "Namespace": "namespaces",
    "Pod": "pods",
    "ServiceAccount": "service_accounts",
    "PodSecurityPolicy": "psps",
    "Role": "roles",
    "ClusterRole": "cluster_roles",
    "RoleBinding": "role_bindings",
    "ClusterRoleBinding": "cluster_role_bindings",
    "PodTemplate": "workloads",
    **dict.fromkeys(WORKLOAD_KINDS, "workloads"),
}


class Sourced(Protocol):
    """A document read from somewhere: its object and its address (`path#index`)."""

    @property
    def obj(self) -> dict[str, Any]: ...

    @property
    def source(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Unreadable:
    """Something the source could not read, and what that leaves unknown."""

    what: str
    reason: str
    consequence: str


@dataclass(frozen=True, slots=True)
class Duplicate:
    """An object read a second time: where the kept one and the ignored one came from."""

    key: tuple[str, str, str]
    kept: str
    ignored: str

    def describe(self) -> str:
        kind, namespace, name = self.key
        ref = f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"
        return f"{ref} is defined twice: kept {self.kept}, ignored {self.ignored}"


@dataclass
class Inventory:
    """All objects a migration needs, as plain dictionaries."""

    server_version: str | None = None
    #: True when the server serves PodSecurityPolicies, False when it answers 404,
    #: None when unknown (read from files).
    psp_api: bool | None = None
    namespaces: list[Obj] = field(default_factory=list)
    pods: list[Obj] = field(default_factory=list)
    service_accounts: list[Obj] = field(default_factory=list)
    workloads: list[Obj] = field(default_factory=list)
    psps: list[Obj] = field(default_factory=list)
    roles: list[Obj] = field(default_factory=list)
    cluster_roles: list[Obj] = field(default_factory=list)
    role_bindings: list[Obj] = field(default_factory=list)
    cluster_role_bindings: list[Obj] = field(default_factory=list)
    unreadable: list[Unreadable] = field(default_factory=list)
    #: (kind, namespace, name) -> where the object was read.
    origins: dict[tuple[str, str, str], str] = field(default_factory=dict)
    #: kinds read but not used, with counts (ConfigMaps, Services, …).
    skipped: Counter[str] = field(default_factory=Counter)
    #: objects read twice (same kind, namespace and name): the first is kept.
    duplicates: list[Duplicate] = field(default_factory=list)

    def add(self, obj: Obj, origin: str) -> bool:
        """File `obj` under its kind; False for other kinds (counted in `skipped`) and for
        an object already held (recorded in `duplicates`; the first one read wins)."""
        kind = obj.get("kind")
        attr = KIND_FIELDS.get(kind) if isinstance(kind, str) else None
        if attr is None:
            self.skipped[str(kind)] += 1
            return False
        key = key_of(obj)
        if key in self.origins:
            self.duplicates.append(Duplicate(key, self.origins[key], origin))
            return False
        getattr(self, attr).append(obj)
        self.origins[key] = origin
        return True

    def overlay(self, obj: Obj, origin: str) -> bool:
        """File `obj`, replacing an object of the same kind, namespace and name already held
        (the one precedence of `--psp-from`: its files win over the main source)."""
        key = key_of(obj)
        kind = obj.get("kind")
        attr = KIND_FIELDS.get(kind) if isinstance(kind, str) else None
        if attr is not None and key in self.origins:
            held: list[Obj] = getattr(self, attr)
            held[:] = [o for o in held if key_of(o) != key]
            del self.origins[key]
        return self.add(obj, origin)

    @classmethod
    def from_documents(cls, documents: Iterable[Sourced]) -> Inventory:
        inventory = cls()
        for doc in documents:
            inventory.add(doc.obj, doc.source)
        return inventory

    def all_objects(self) -> Iterator[Obj]:
        for attr in sorted(set(KIND_FIELDS.values())):
            yield from getattr(self, attr)

    def namespace_names(self) -> list[str]:
        """Every namespace named by a Namespace object or by any namespaced object, sorted."""
        names = {name_of(ns) for ns in self.namespaces}
        for obj in self.all_objects():
            ns = namespace_of(obj)
            if ns:
                names.add(ns)
        names.discard("")
        return sorted(names)


def name_of(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


#: Kinds that live outside namespaces.
CLUSTER_SCOPED = frozenset({"Namespace", "ClusterRole", "ClusterRoleBinding",
                            "PodSecurityPolicy"})


def namespace_of(obj: Obj) -> str:
    """The object's namespace; `default` for a namespaced object that names none (as
    `kubectl apply` would place it), "" for cluster-scoped kinds."""
    if obj.get("kind") in CLUSTER_SCOPED:
        return ""
    return str((obj.get("metadata") or {}).get("namespace") or "default")


def key_of(obj: Obj) -> tuple[str, str, str]:
    return (str(obj.get("kind") or ""), namespace_of(obj), name_of(obj))
