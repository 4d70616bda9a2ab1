"""Mapping one PodSecurityPolicy to Pod Security levels: strict, practical, and what is lost.

Owns `analyze_psp` and its result. The *strict* level is the strictest Pod Security level
(latest version) that every pod the PSP admits, after the PSP's own mutations, passes: the
loosest level any of its fields allows, one `Reason` per field that holds it below
restricted. The *practical* level is the level left once the loopholes that no given
workload uses are closed: each field's looseness is tested against the workloads (pods,
or any object with a pod template, with the PSP's defaults replayed on them), unused
tiers become `Loophole`s and used ones stay as reasons naming their workloads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from migrator.model.workloads import pod_template
from migrator.psp.guarantees import LostGuarantee, lost_guarantees
from migrator.psp.mutation import Default, apply_defaults, defaults_of
from migrator.psp.podview import PodRef
from migrator.psp.rules import Tier, tiers_by_field
from migrator.psp.spec import Problem, PSPSpec, read_psp
from migrator.pss.api import Level

#: How many workloads a reason names before it only counts them.
USED_BY_LIMIT = 5


@dataclass(frozen=True, slots=True)
class Reason:
    """A PSP field that holds the level down to `level`, and the workloads that need it.

    `used_by` names at most USED_BY_LIMIT workloads (sorted); `used_by_count` counts all.
    """

    field: str
    level: Level
    message: str
    used_by: tuple[str, ...] = ()
    used_by_count: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "level": str(self.level),
            "message": self.message,
            "used_by": list(self.used_by),
            "used_by_count": self.used_by_count,
        }


@dataclass(frozen=True, slots=True)
class Loophole:
    """A looseness no given workload uses: closing it lifts `field` from `level` to `closes_to`."""

    field: str
    level: Level
    closes_to: Level
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "closes_to": str(self.closes_to),
            "field": self.field,
            "level": str(self.level),
            "message": self.message,
        }


@dataclass(frozen=True)
class PSPAnalysis:
    """Everything the migration needs to know about one PSP. `to_dict` is JSON-ready."""

    name: str
    strict_level: Level
    strict_reasons: list[Reason] = field(default_factory=list)
    practical_level: Level = Level.RESTRICTED
    practical_reasons: list[Reason] = field(default_factory=list)
    loopholes: list[Loophole] = field(default_factory=list)
    lost_guarantees: list[LostGuarantee] = field(default_factory=list)
    mutating: bool = False
    defaults: list[Default] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    workloads: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "defaults": [d.to_dict() for d in self.defaults],
            "loopholes": [h.to_dict() for h in self.loopholes],
            "lost_guarantees": [g.to_dict() for g in self.lost_guarantees],
            "mutating": self.mutating,
            "name": self.name,
            "practical_level": str(self.practical_level),
            "practical_reasons": [r.to_dict() for r in self.practical_reasons],
            "problems": [{"field": p.field, "message": p.message} for p in self.problems],
            "strict_level": str(self.strict_level),
            "strict_reasons": [r.to_dict() for r in self.strict_reasons],
            "workloads": self.workloads,
        }


def workload_ident(obj: Mapping[str, Any]) -> str:
    """`namespace/name` for a pod, `namespace/name (Kind)` for any other workload."""
    metadata = obj.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    name = metadata.get("name") or metadata.get("generateName") or "<unnamed>"
    namespace = metadata.get("namespace")
    ident = f"{namespace}/{name}" if namespace else str(name)
    kind = obj.get("kind")
    return ident if kind in (None, "Pod") else f"{ident} ({kind})"


def admitted_pods(pods: Iterable[Any], defaults: Sequence[Default]) -> list[PodRef]:
    """Each workload's pod as this PSP would store it (objects without a pod are skipped)."""
    refs: list[PodRef] = []
    for obj in pods:
        if not isinstance(obj, Mapping):
            continue
        if obj.get("kind") is None and isinstance(obj.get("spec"), Mapping):
            pod: dict[str, Any] = {"metadata": obj.get("metadata") or {}, "spec": obj["spec"]}
        else:
            template = pod_template(dict(obj))
            if template is None:
                continue
            pod = {"metadata": template.metadata, "spec": template.spec}
        mutated = apply_defaults(defaults, pod)
        refs.append(PodRef(workload_ident(obj), mutated["metadata"], mutated["spec"]))
    return refs


def _with_problems(psp: PSPSpec, tier: Tier) -> str:
    notes = [p.message for p in psp.problems_for(tier.field)]
    return tier.message + (f" ({'; '.join(notes)})" if notes else "")


def _reason(psp: PSPSpec, tier: Tier, users: list[str]) -> Reason:
    names = sorted(set(users))
    return Reason(
        tier.field, tier.level, _with_problems(psp, tier),
        tuple(names[:USED_BY_LIMIT]), len(names),
    )


def _loophole(tiers: list[Tier], used_index: int | None) -> Loophole:
    closes_to = Level.RESTRICTED if used_index is None else tiers[used_index].level
    strictest_unused = tiers[(len(tiers) if used_index is None else used_index) - 1]
    message = (
        f"no workload {strictest_unused.unused}; {strictest_unused.closing} would keep them "
        f"all admitted ({tiers[0].level} → {closes_to})"
    )
    return Loophole(tiers[0].field, tiers[0].level, closes_to, message)


@dataclass
class _Assessment:
    strict: list[Reason] = field(default_factory=list)
    practical: list[Reason] = field(default_factory=list)
    loopholes: list[Loophole] = field(default_factory=list)


def _assess(psp: PSPSpec, pods: list[PodRef]) -> _Assessment:
    out = _Assessment()
    for tiers in tiers_by_field(psp).values():
        users = [[p.ident for p in pods if tier.used(p.metadata, p.spec)] for tier in tiers]
        out.strict.append(_reason(psp, tiers[0], users[0]))
        used_index = next((i for i, names in enumerate(users) if names), None)
        if used_index != 0:
            out.loopholes.append(_loophole(tiers, used_index))
        if used_index is not None:
            out.practical.append(_reason(psp, tiers[used_index], users[used_index]))
    return out


def _level(reasons: list[Reason]) -> Level:
    return min((r.level for r in reasons), key=lambda lv: lv.rank, default=Level.RESTRICTED)


def _by_level(items: list[Any]) -> list[Any]:
    return sorted(items, key=lambda item: (item.level.rank, item.field))


def analyze_psp(psp: Mapping[str, Any], pods: Iterable[Any] | None = None) -> PSPAnalysis:
    """Analyse one PSP object against the given workloads (pods or pod-bearing objects).

    `pods` None means no workload is known at all: the practical level is then the
    strict level (no loophole can be shown unused). An empty list means workloads were
    read and none uses this PSP: every looseness is an unused loophole.

    Never raises: a malformed PSP is read with its malformed fields at their loosest,
    noted in `problems` and in the message of every reason they affect.
    """
    spec = read_psp(psp)
    defaults = defaults_of(spec)
    refs = admitted_pods(pods or (), defaults)
    found = _assess(spec, refs)
    if pods is None:
        found.practical, found.loopholes = list(found.strict), []
    return PSPAnalysis(
        name=spec.name,
        strict_level=_level(found.strict),
        strict_reasons=_by_level(found.strict),
        practical_level=_level(found.practical),
        practical_reasons=_by_level(found.practical),
        loopholes=_by_level(found.loopholes),
        lost_guarantees=lost_guarantees(spec),
        mutating=bool(defaults),
        defaults=defaults,
        problems=list(spec.problems),
        workloads=len(refs),
    )
