"""The check registry and the evaluator built from it.

Owns `Check` (an upstream check ID, its level, its versioned implementations and a one-line
fix), `Violation` (check ID, upstream reason and detail), and `Evaluator`: built from a
tuple of checks, it validates them (unique IDs, strictly increasing versions, overrides
only from restricted checks onto baseline ones) and expands them into one ordered list of
functions per level and minor version, in upstream's order: baseline checks sorted by ID,
then restricted checks sorted by ID, with overridden baseline checks left out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from migrator.pss.api import NEWEST_MINOR, Level, Version
from migrator.pss.pod import PodView


class Violation(NamedTuple):
    """One failed check: upstream's check ID, reason and detail (detail may be empty)."""

    check: str
    reason: str
    detail: str

    def text(self) -> str:
        """`reason (detail)`, as the API server writes one check's part of a message."""
        return f"{self.reason} ({self.detail})" if self.detail else self.reason


CheckFn = Callable[[PodView], Violation | None]


@dataclass(frozen=True, slots=True)
class VersionedCheck:
    """An implementation that applies from policy version v1.`minimum` on."""

    minimum: int
    fn: CheckFn
    overrides: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Check:
    """One upstream check: its ID, level, versioned implementations and how to fix it.

    `fix` is the advice for a person; `patch` and `additive` describe the generated fix:
    what a securityContext patch sets, and whether a given violation is fixed by only
    adding fields (never loosening, never choosing a user ID). Checks without `additive`
    are never patched.
    """

    id: str
    level: Level
    versions: tuple[VersionedCheck, ...]
    fix: str
    fields: tuple[str, ...] = field(default=())
    patch: str = ""
    additive: Callable[[Violation], bool] | None = None

    def patchable(self, violation: Violation) -> bool:
        """True when the generated securityContext patch fixes `violation`."""
        return self.additive is not None and self.additive(violation)

    def at(self, minor: int) -> VersionedCheck | None:
        """The implementation in force at v1.`minor`, or None before the first one."""
        chosen = None
        for versioned in self.versions:
            if versioned.minimum <= minor:
                chosen = versioned
        return chosen


class RegistryError(ValueError):
    """The registry of checks is inconsistent."""


def validate(checks: Sequence[Check]) -> None:
    """Raise RegistryError unless the checks form a valid registry."""
    ids: set[str] = set()
    levels = {c.id: c.level for c in checks}
    for check in checks:
        if check.id in ids:
            raise RegistryError(f"duplicate check ID {check.id!r}")
        ids.add(check.id)
        if check.level not in (Level.BASELINE, Level.RESTRICTED):
            raise RegistryError(f"check {check.id!r}: level must be baseline or restricted")
        if not check.versions:
            raise RegistryError(f"check {check.id!r}: no versions")
        previous = -1
        for versioned in check.versions:
            if versioned.minimum <= previous:
                raise RegistryError(f"check {check.id!r}: versions must strictly increase")
            if versioned.minimum > NEWEST_MINOR:
                raise RegistryError(f"check {check.id!r}: v1.{versioned.minimum} is unknown")
            previous = versioned.minimum
            for target in versioned.overrides:
                if check.level != Level.RESTRICTED:
                    raise RegistryError(f"check {check.id!r}: only restricted checks override")
                if levels.get(target) != Level.BASELINE:
                    raise RegistryError(
                        f"check {check.id!r}: overrides {target!r}, which is not a baseline check"
                    )
        if not check.fix:
            raise RegistryError(f"check {check.id!r}: no fix")


Table = tuple[tuple[str, CheckFn], ...]


class Evaluator:
    """Evaluates pods against a level at a policy version with a validated registry."""

    def __init__(self, checks: Sequence[Check], *, overrides: bool = True) -> None:
        """`overrides=False` keeps overridden baseline checks in the restricted tables, as
        the Pod Security library of servers before 1.24 does (both reasons are reported)."""
        validate(checks)
        self.checks: dict[str, Check] = {c.id: c for c in checks}
        baseline = sorted(c.id for c in checks if c.level == Level.BASELINE)
        restricted = sorted(c.id for c in checks if c.level == Level.RESTRICTED)
        self._tables: dict[tuple[Level, int], Table] = {}
        for minor in range(NEWEST_MINOR + 1):
            active = {cid: v for cid, c in self.checks.items() if (v := c.at(minor))}
            overridden = {t for cid in restricted if cid in active
                          for t in active[cid].overrides} if overrides else set()
            base_table = tuple((cid, active[cid].fn) for cid in baseline if cid in active)
            self._tables[(Level.BASELINE, minor)] = base_table
            self._tables[(Level.RESTRICTED, minor)] = tuple(
                (cid, fn) for cid, fn in base_table if cid not in overridden
            ) + tuple((cid, active[cid].fn) for cid in restricted if cid in active)
            self._tables[(Level.PRIVILEGED, minor)] = ()

    def table(self, level: Level, version: Version) -> Table:
        """The ordered (check ID, function) pairs in force for `level` at `version`."""
        return self._tables[(level, version.effective_minor())]

    def evaluate(
        self,
        level: Level,
        version: Version,
        metadata: Mapping[str, Any] | None,
        spec: Mapping[str, Any] | None,
    ) -> list[Violation]:
        """Every violation of the pod at `level`/`version`, in upstream order; [] = allowed."""
        table = self.table(level, version)
        try:
            pod = PodView(metadata, spec)
        except (AttributeError, TypeError, KeyError, ValueError) as exc:
            # e.g. a container list that is not a list: the server would refuse the pod
            return [Violation(table[0][0], "malformed pod spec", f"cannot read: {exc}")] \
                if table else []
        return run(table, pod)


def run(table: Table, pod: PodView) -> list[Violation]:
    """Run one table of checks over a prepared pod."""
    found: list[Violation] = []
    malformed: Violation | None = None
    for check_id, fn in table:
        try:
            violation = fn(pod)
        except (AttributeError, TypeError, KeyError, ValueError) as exc:
            # A field of the wrong type: the API server would have refused this pod. Say so
            # once, at the first check that could not read it.
            if malformed is None:
                malformed = Violation(check_id, "malformed pod spec", f"cannot read: {exc}")
                found.append(malformed)
            continue
        if violation is not None:
            found.append(violation)
    return found
