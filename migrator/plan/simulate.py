"""Simulation: every pod and every workload template of a namespace, judged at each level.

Owns `simulate`, which walks the inventory once, judges each template source (workloads
that no held controller manages, so Deployments scaled to zero and CronJobs with no pods
count) and each existing pod at restricted and baseline, at the policy version the
namespace will pin and at the target version, on two API servers: today's and the one after
the upgrade. A template is judged as the pods each server will create from it; a pod read
from a cluster or a dump as stored (`migrator.pss.server`). Returns per namespace the
subjects with their verdicts and the workload floor (the strictest level every subject
passes on both servers).

Pods read back from a server are judged once per shape: those of a namespace with the same
owner (held, or only named as controller), PSP, runtimeClass and security key (every field
a check reads) are one Subject with a count and a few example names, so that the cost and
the size of a plan follow the distinct shapes, not the replicas.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from migrator.model.inventory import Inventory, Obj, name_of, namespace_of, natural_key
from migrator.model.owners import OwnerIndex, controller_ref, template_sources
from migrator.model.workloads import is_custom, pod_template
from migrator.pss.api import Level, LevelVersion, Version
from migrator.pss.engine import security_key
from migrator.pss.registry import Violation
from migrator.pss.server import Origin, ServerVersion, judge_cached, origin_of, prepare

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
    #: on today's server
    verdicts: dict[LevelVersion, tuple[Violation, ...]]
    #: spec.runtimeClassName of the pod (or of the pods the template creates)
    runtime_class: str | None = None
    #: a custom resource (Argo Rollout, OpenKruise CloneSet, Knative Service, ...) whose
    #: pod template is judged like a built-in workload's
    custom: bool = False
    #: on the server after the upgrade (the same as `verdicts` when there is no upgrade)
    after: dict[LevelVersion, tuple[Violation, ...]] = field(default_factory=dict)
    #: the 422 errors by server ("now", "after") when that server refuses to create the pods
    invalid: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: for pods: how many pods of this shape (`name` is the first of them by name)
    count: int = 1
    #: for pods of a shape held more than once: the first few names, sorted
    examples: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.name}"

    def strictest(self, version: Version) -> Level:
        """The strictest level this subject passes at `version` on today's server."""
        return _strictest_of(self.verdicts, version)

    def strictest_after(self, version: Version) -> Level:
        """The strictest level this subject passes at `version` after the upgrade."""
        return _strictest_of(self.after or self.verdicts, version)

    def strictest_both(self, version: Version) -> Level:
        """The strictest level this subject passes at `version` before and after the upgrade."""
        now, after = self.strictest(version), self.strictest_after(version)
        return now if now.rank <= after.rank else after

    def flips(self, version: Version) -> bool:
        """True when the upgrade changes the strictest level it passes at `version`."""
        return self.strictest(version) != self.strictest_after(version)


def _strictest_of(verdicts: dict[LevelVersion, tuple[Violation, ...]], version: Version) -> Level:
    for level in JUDGED_LEVELS:
        if not verdicts[LevelVersion(level, version)]:
            return level
    return Level.PRIVILEGED


@dataclass
class NamespaceSimulation:
    namespace: str
    subjects: list[Subject] = field(default_factory=list)

    def floor(self, version: Version) -> Level:
        """The strictest level every template and pod passes at `version`, before and after
        the upgrade."""
        levels = [s.strictest_both(version) for s in self.subjects]
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
    if kind in ("Deployment", "StatefulSet", "ReplicaSet", "ReplicationController") or (
        is_custom(obj) and "replicas" in spec
    ):
        replicas = spec.get("replicas", 1)
        return not (isinstance(replicas, int) and replicas == 0)
    return True


def _runtime_class(obj: Obj) -> str | None:
    template = pod_template(obj)
    name = template.spec.get("runtimeClassName") if template else None
    return str(name) if name else None


Verdicts = dict[LevelVersion, tuple[Violation, ...]]


def _judge(
    obj: Obj, versions: Iterable[Version], servers: tuple[ServerVersion, ServerVersion],
    memo: dict[tuple[int, str], Verdicts] | None = None,
) -> tuple[Verdicts, Verdicts, dict[str, tuple[str, ...]]]:
    """(verdicts today, verdicts after the upgrade, 422 errors by server) of one subject.

    A server that refuses the pods (422) judges nothing: that subject passes every level
    there, and the refusal is reported instead."""
    template = pod_template(obj)
    assert template is not None
    origin = origin_of(obj) if obj.get("kind") == "Pod" else Origin.CREATED
    found: list[Verdicts] = []
    invalid: dict[str, tuple[str, ...]] = {}
    key: str | None = None
    for label, server in zip(("now", "after"), servers, strict=True):
        if label == "after" and servers[1] == servers[0]:
            found.append(found[0])
            if "now" in invalid:
                invalid["after"] = invalid["now"]
            break
        pod = prepare(template.metadata, template.spec, server, origin)
        if pod.invalid:
            invalid[label] = pod.invalid
        if key is None or origin is Origin.CREATED:  # a stored pod is the same on both
            key = security_key(pod.metadata, pod.spec)
        remembered = memo.get((server.modelled_minor, key)) if memo is not None else None
        if remembered is None or pod.invalid:
            remembered = {
                LevelVersion(level, version):
                    () if pod.invalid else judge_cached(level, version, pod, server, key)
                for level in JUDGED_LEVELS
                for version in versions
            }
            if memo is not None and not pod.invalid:
                memo[(server.modelled_minor, key)] = remembered  # the replicas share it
        found.append(remembered)
    return found[0], found[1], invalid


_ENCODE = msgspec.json.Encoder().encode


def _judge_once(
    obj: Obj, versions: Iterable[Version], servers: tuple[ServerVersion, ServerVersion],
    memo: dict[tuple[int, str], Verdicts],
    judged: dict[Any, tuple[Verdicts, Verdicts, dict[str, tuple[str, ...]]]],
) -> tuple[Verdicts, Verdicts, dict[str, tuple[str, ...]]]:
    """`_judge`, once per template content: the same chart in many namespaces is prepared
    and judged once (the verdicts are a pure function of the pod template)."""
    template = pod_template(obj)
    try:
        key: Any = (obj.get("kind") == "Pod" and origin_of(obj) is Origin.STORED,
                    _ENCODE(template.metadata), _ENCODE(template.spec)) if template else None
    except (TypeError, ValueError, OverflowError):
        key = None
    found = judged.get(key) if key is not None else None
    if found is None:
        found = _judge(obj, versions, servers, memo)
        if key is not None:
            judged[key] = found
    now, after, invalid = found
    return now, after, dict(invalid)


#: How many pod names a shape keeps as examples.
EXAMPLES = 3


def _controller(metadata: Mapping[str, Any]) -> str | None:
    """`Kind/name` of the controller a pod names, held or not (so that the pods of two
    controllers the inventory lacks are not one shape)."""
    for ref in metadata.get("ownerReferences") or ():
        if isinstance(ref, dict) and ref.get("controller"):
            return f"{ref.get('kind')}/{ref.get('name')}"
    return None


def _raw_key(obj: Obj, raw_keys: dict[int, str] | None,
             shared: dict[Any, Any]) -> str:
    """The security key of `obj` as read, noted in `raw_keys` (by `id`) for the PSP
    analysis to reuse (`shared`: see `security_key`)."""
    template = pod_template(obj)
    key = security_key(template.metadata, template.spec, shared) if template else ""
    if raw_keys is not None:
        raw_keys[id(obj)] = key
    return key


def simulate(
    inventory: Inventory,
    versions: tuple[Version, ...],
    index: OwnerIndex | None = None,
    servers: tuple[ServerVersion, ServerVersion] | None = None,
    raw_keys: dict[int, str] | None = None,
) -> dict[str, NamespaceSimulation]:
    """Judge every template source and pod shape of the inventory at each of `versions`,
    on today's server and on the upgraded one (`servers`; default: the newest modelled,
    twice). `raw_keys`, when given, is filled with each object's security key as read."""
    index = index or OwnerIndex.build(inventory.workloads)
    servers = servers or (ServerVersion.newest(), ServerVersion.newest())
    result: dict[str, NamespaceSimulation] = defaultdict(lambda: NamespaceSimulation(""))
    for ns in inventory.namespace_names():
        result[ns] = NamespaceSimulation(ns)

    def add(subject: Subject) -> None:
        sim = result[subject.namespace]
        sim.namespace = subject.namespace
        sim.subjects.append(subject)

    memo: dict[tuple[int, str], Verdicts] = {}
    shared: dict[Any, Any] = {}  # the read objects' parts, encoded once
    judged: dict[Any, tuple[Verdicts, Verdicts, dict[str, tuple[str, ...]]]] = {}
    for obj in template_sources(inventory, index):
        now, after, invalid = _judge_once(obj, versions, servers, memo, judged)
        add(Subject(
            kind=str(obj.get("kind")), namespace=namespace_of(obj), name=name_of(obj),
            origin=inventory.origins.get((str(obj.get("kind")), namespace_of(obj), name_of(obj)),
                                         ""),
            is_template=True, active=_active(obj), owner=None, verdicts=now,
            runtime_class=_runtime_class(obj), after=after, invalid=invalid,
            custom=is_custom(obj),
        ))
    for obj in template_sources(inventory, index):
        if raw_keys is not None:
            _raw_key(obj, raw_keys, shared)
    # Pods read back from a server are judged as stored, on what their security key holds:
    # one of a shape stands for all. A pod to be created goes through the server's
    # defaulting and validation, and is judged alone.
    shapes: dict[tuple[Any, ...], list[Obj]] = {}
    owners: dict[tuple[str, ...], tuple[str | None, str | None]] = {}  # by controller
    for i, pod in enumerate(inventory.pods):
        metadata = pod.get("metadata") or {}
        namespace = namespace_of(pod)
        ref = controller_ref(pod)
        by = (namespace,) if ref is None else (
            namespace, str(ref.get("uid")), str(ref.get("kind")), str(ref.get("name")))
        known = owners.get(by)
        if known is None:  # the replicas of one controller share their owners
            top = index.top(pod)
            known = owners[by] = (f"{top.get('kind')}/{name_of(top)}" if top is not None
                                  else None, _controller(metadata))
        owner, controller = known
        key = _raw_key(pod, raw_keys, shared)
        if origin_of(pod) is Origin.STORED:
            shape: tuple[Any, ...] = (
                namespace, owner, controller,
                (metadata.get("annotations") or {}).get("kubernetes.io/psp"),
                _runtime_class(pod), key)
        else:
            shape = ("created", i)
        shapes.setdefault(shape, []).append(pod)
    for members in shapes.values():
        members.sort(key=name_of)
        pod = members[0]
        top = index.top(pod)
        now, after, invalid = _judge(pod, versions, servers, memo)
        names = [name_of(p) for p in members]
        add(Subject(
            kind="Pod", namespace=namespace_of(pod), name=name_of(pod),
            origin=inventory.origins.get(("Pod", namespace_of(pod), name_of(pod)), ""),
            is_template=False, active=True,
            owner=f"{top.get('kind')}/{name_of(top)}" if top is not None else None,
            verdicts=now, runtime_class=_runtime_class(pod), after=after, invalid=invalid,
            count=len(members), examples=tuple(names[:EXAMPLES]) if len(names) > 1 else (),
        ))
    for sim in result.values():
        sim.subjects.sort(key=lambda s: (not s.is_template, s.kind, s.name))
    return dict(sorted(result.items(), key=lambda item: natural_key(item[0])))
