"""Simulation: every pod and every workload template of a namespace, judged at each level.

Owns `simulate`, which walks the inventory once, judges each template source (workloads
that no held controller manages, so Deployments scaled to zero and CronJobs with no pods
count) and each existing pod at restricted and baseline, at the policy version the
namespace will pin and at `latest`, and returns per namespace the subjects with their
verdicts and the workload floor (the strictest level every subject passes).

Pods are judged once per shape: the pods of a namespace with the same owner (held or only
named as controller), the same PSP,
the same runtimeClass and the same security key (every field a check reads, after the
API server's defaulting) are one Subject with a count and a few example names, so the
cost and the size of the plan follow the distinct shapes, not the replicas.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from migrator.model.inventory import Inventory, Obj, name_of, namespace_of
from migrator.model.owners import OwnerIndex, template_sources
from migrator.model.workloads import pod_template
from migrator.pss.api import Level, LevelVersion, Version
from migrator.pss.defaults import apply_api_defaults
from migrator.pss.engine import security_key, verdict_cached
from migrator.pss.registry import Violation

JUDGED_LEVELS = (Level.RESTRICTED, Level.BASELINE)


@dataclass(frozen=True, slots=True)
class Subject:
    """A template or pod, with its verdict at each judged level and version."""

    kind: str
    namespace: str
    name: str
    origin: str
    is_template: bool
    #: for templates: whether pods of it exist or are wanted now (False for CronJobs
    #: between runs and workloads scaled to zero); for pods: True
    active: bool
    #: "Kind/name" of the workload whose template creates this pod, if held
    owner: str | None
    verdicts: dict[LevelVersion, tuple[Violation, ...]]
    #: spec.runtimeClassName of the pod (or of the pods the template creates)
    runtime_class: str | None = None
    #: for pods: how many pods of this shape (`name` is the first of them by name)
    count: int = 1
    #: for pods of a shape held more than once: the first few names, sorted
    examples: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.name}"

    def strictest(self, version: Version) -> Level:
        """The strictest level this subject passes at `version`."""
        for level in JUDGED_LEVELS:
            if not self.verdicts[LevelVersion(level, version)]:
                return level
        return Level.PRIVILEGED


@dataclass
class NamespaceSimulation:
    namespace: str
    subjects: list[Subject] = field(default_factory=list)

    def floor(self, version: Version) -> Level:
        """The strictest level every template and pod passes at `version`."""
        levels = [s.strictest(version) for s in self.subjects]
        return min(levels, key=lambda lv: lv.rank) if levels else Level.RESTRICTED

    def pod_count(self) -> int:
        """Every pod, each shape counted as many times as it occurs."""
        return sum(s.count for s in self.subjects if not s.is_template)

    def templates(self) -> list[Subject]:
        return [s for s in self.subjects if s.is_template]

    def pods(self) -> list[Subject]:
        return [s for s in self.subjects if not s.is_template]


def _active(obj: Obj) -> bool:
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    if kind == "CronJob":
        return False  # it runs on a schedule; pods between runs are absent
    if kind in ("Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"):
        replicas = spec.get("replicas", 1)
        return not (isinstance(replicas, int) and replicas == 0)
    return True


def _runtime_class(obj: Obj) -> str | None:
    template = pod_template(obj)
    name = template.spec.get("runtimeClassName") if template else None
    return str(name) if name else None


#: How many pod names a shape keeps as examples.
EXAMPLES = 3


Prepared = tuple[Mapping[str, Any], Mapping[str, Any] | None, str]


def _prepared(obj: Obj, raw_keys: dict[int, str] | None) -> Prepared:
    """The pod metadata and defaulted spec `obj` is judged on, and its security key (noted
    in `raw_keys` under `id(obj)` when no default changed the spec, so that it is also the
    key of `obj` as read)."""
    template = pod_template(obj)
    assert template is not None
    spec = apply_api_defaults(template.spec, template.metadata, pod=obj.get("kind") == "Pod")
    key = security_key(template.metadata, spec)
    if raw_keys is not None and spec is template.spec:
        raw_keys[id(obj)] = key
    return template.metadata, spec, key


def _judge(
    prepared: Prepared, versions: tuple[Version, ...]
) -> dict[LevelVersion, tuple[Violation, ...]]:
    metadata, spec, key = prepared
    return {
        LevelVersion(level, version): verdict_cached(level, version, metadata, spec, key)
        for level in JUDGED_LEVELS
        for version in versions
    }


def _controller(metadata: Mapping[str, Any]) -> str | None:
    """`Kind/name` of the controller a pod names, held or not (so that the pods of two
    controllers the inventory lacks are not one shape)."""
    for ref in metadata.get("ownerReferences") or ():
        if isinstance(ref, dict) and ref.get("controller"):
            return f"{ref.get('kind')}/{ref.get('name')}"
    return None


def simulate(
    inventory: Inventory, versions: tuple[Version, ...], index: OwnerIndex | None = None,
    raw_keys: dict[int, str] | None = None,
) -> dict[str, NamespaceSimulation]:
    """Judge every template source and every pod shape of the inventory at each of
    `versions`. `raw_keys`, when given, is filled with the security key of each object
    whose spec no API default changed (by `id`), for `survey.analyze_psps` to reuse."""
    index = index or OwnerIndex.build(inventory.workloads)
    result: dict[str, NamespaceSimulation] = defaultdict(lambda: NamespaceSimulation(""))
    for ns in inventory.namespace_names():
        result[ns] = NamespaceSimulation(ns)

    def add(subject: Subject) -> None:
        sim = result[subject.namespace]
        sim.namespace = subject.namespace
        sim.subjects.append(subject)

    for obj in template_sources(inventory, index):
        add(Subject(
            kind=str(obj.get("kind")), namespace=namespace_of(obj), name=name_of(obj),
            origin=inventory.origins.get((str(obj.get("kind")), namespace_of(obj), name_of(obj)),
                                         ""),
            is_template=True, active=_active(obj), owner=None,
            verdicts=_judge(_prepared(obj, raw_keys), versions), runtime_class=_runtime_class(obj),
        ))
    shapes: dict[tuple[str, str | None, str | None, Any, str | None, str],
                 tuple[list[str], Prepared]] = {}
    for pod in inventory.pods:
        top = index.top(pod)
        owner = f"{top.get('kind')}/{name_of(top)}" if top is not None else None
        prepared = _prepared(pod, raw_keys)
        metadata = pod.get("metadata") or {}
        psp = (metadata.get("annotations") or {}).get("kubernetes.io/psp")
        shape = (namespace_of(pod), owner, _controller(metadata), psp, _runtime_class(pod),
                 prepared[2])
        found = shapes.get(shape)
        if found is None:
            shapes[shape] = ([name_of(pod)], prepared)
        else:
            found[0].append(name_of(pod))
    for (namespace, owner, _ctl, _psp, runtime_class, _key), (names, prepared) in (
            shapes.items()):
        names.sort()
        add(Subject(
            kind="Pod", namespace=namespace, name=names[0],
            origin=inventory.origins.get(("Pod", namespace, names[0]), ""),
            is_template=False, active=True, owner=owner,
            verdicts=_judge(prepared, versions), runtime_class=runtime_class,
            count=len(names), examples=tuple(names[:EXAMPLES]) if len(names) > 1 else (),
        ))
    for sim in result.values():
        sim.subjects.sort(key=lambda s: (not s.is_template, s.kind, s.name))
    return dict(sorted(result.items()))
