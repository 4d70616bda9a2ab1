"""Levels, policy versions and the namespace labels that select them.

Owns the vocabulary shared by the whole engine: `Level`, `Version` (with `latest`), the
`pod-security.kubernetes.io/*` label keys, and parsing of those labels into an effective
policy exactly as Pod Security Admission does it (always a usable policy plus the problems
found, never an exception).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from functools import total_ordering

LABEL_PREFIX = "pod-security.kubernetes.io/"

#: The pre-1.19 seccomp and the beta AppArmor annotations (still read by the checks).
SECCOMP_POD_ANNOTATION = "seccomp.security.alpha.kubernetes.io/pod"
SECCOMP_CONTAINER_PREFIX = "container.seccomp.security.alpha.kubernetes.io/"
APPARMOR_CONTAINER_PREFIX = "container.apparmor.security.beta.kubernetes.io/"
MODES = ("enforce", "audit", "warn")

#: The newest policy version this engine knows. `latest` evaluates as this version.
NEWEST_MINOR = 37


class Level(enum.StrEnum):
    """A Pod Security Standards level, ordered from loosest to strictest."""

    PRIVILEGED = "privileged"
    BASELINE = "baseline"
    RESTRICTED = "restricted"

    @property
    def rank(self) -> int:
        """0 for privileged, 1 for baseline, 2 for restricted."""
        return _RANK[self]

    def stricter_than(self, other: Level) -> bool:
        return self.rank > other.rank

    @classmethod
    def parse(cls, text: str) -> Level:
        """Parse a level name; raises ValueError on an unknown one."""
        try:
            return cls(text)
        except ValueError:
            raise ValueError(
                f"invalid level {text!r}: must be one of privileged, baseline, restricted"
            ) from None


_RANK = {Level.PRIVILEGED: 0, Level.BASELINE: 1, Level.RESTRICTED: 2}

_VERSION_RE = re.compile(r"^v1\.(0|[1-9][0-9]*)$")


@total_ordering
@dataclass(frozen=True, slots=True)
class Version:
    """A policy version: `v1.<minor>`, or `latest` (minor None)."""

    minor: int | None

    @classmethod
    def latest(cls) -> Version:
        return cls(None)

    @classmethod
    def of(cls, minor: int) -> Version:
        return cls(minor)

    @classmethod
    def parse(cls, text: str) -> Version:
        """Parse `latest` or `v1.N`; raises ValueError on anything else."""
        if text == "latest":
            return cls(None)
        match = _VERSION_RE.match(text)
        if not match:
            raise ValueError(f"invalid version {text!r}: must be 'latest' or 'v1.<minor>'")
        return cls(int(match.group(1)))

    @property
    def is_latest(self) -> bool:
        return self.minor is None

    def effective_minor(self) -> int:
        """The minor version the checks run at: latest and newer-than-known clamp to newest."""
        if self.minor is None or self.minor > NEWEST_MINOR:
            return NEWEST_MINOR
        return self.minor

    def __str__(self) -> str:
        return "latest" if self.minor is None else f"v1.{self.minor}"

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        mine = float("inf") if self.minor is None else self.minor
        theirs = float("inf") if other.minor is None else other.minor
        return mine < theirs


@dataclass(frozen=True, slots=True)
class LevelVersion:
    """A level at a policy version, printed as upstream does: `restricted:latest`."""

    level: Level
    version: Version

    def __str__(self) -> str:
        return f"{self.level}:{self.version}"


@dataclass(frozen=True, slots=True)
class Policy:
    """The effective policy of a namespace: one level/version per mode."""

    enforce: LevelVersion
    audit: LevelVersion
    warn: LevelVersion


@dataclass(frozen=True, slots=True)
class LabelProblem:
    """A namespace label PSA would reject on create, with the value it falls back to."""

    label: str
    value: str
    message: str


@dataclass(frozen=True, slots=True)
class ParsedPolicy:
    policy: Policy
    problems: list[LabelProblem] = field(default_factory=list)


_DEFAULT = LevelVersion(Level.PRIVILEGED, Version.latest())


def policy_from_labels(
    labels: dict[str, str] | None,
    defaults: Policy | None = None,
) -> ParsedPolicy:
    """The policy PSA evaluates for a namespace with these labels.

    Mirrors PSA's resolver: an unset label takes the default (from the admission
    configuration; privileged:latest without one); an invalid enforce level counts as
    restricted, an invalid audit or warn level as privileged (they fail open); an invalid
    version counts as latest; an unset warn level follows enforce when enforce is stricter
    than the default warn level. The problems found are returned beside the policy.
    """
    labels = labels or {}
    base = defaults or Policy(_DEFAULT, _DEFAULT, _DEFAULT)
    problems: list[LabelProblem] = []
    resolved: dict[str, LevelVersion] = {}
    enforce_level_valid = False
    for mode in MODES:
        default: LevelVersion = getattr(base, mode)
        level = default.level
        version = default.version
        level_key = LABEL_PREFIX + mode
        version_key = level_key + "-version"
        if level_key in labels:
            raw = labels[level_key]
            try:
                level = Level.parse(raw)
                enforce_level_valid = enforce_level_valid or mode == "enforce"
            except ValueError as exc:
                # enforce fails closed; audit and warn fail open
                level = Level.RESTRICTED if mode == "enforce" else Level.PRIVILEGED
                problems.append(LabelProblem(level_key, raw, str(exc)))
        if version_key in labels:
            raw = labels[version_key]
            try:
                version = Version.parse(raw)
            except ValueError as exc:
                version = Version.latest()
                problems.append(LabelProblem(version_key, raw, str(exc)))
        resolved[mode] = LevelVersion(level, version)
    warn = resolved["warn"]
    enforce = resolved["enforce"]
    if (
        (LABEL_PREFIX + "warn") not in labels
        and enforce_level_valid
        and enforce.level.stricter_than(warn.level)
    ):
        # An unset warn level follows an explicitly stricter enforce level, and so does
        # its version unless warn-version is set.
        warn_version = (
            warn.version if (LABEL_PREFIX + "warn-version") in labels else enforce.version
        )
        resolved["warn"] = LevelVersion(enforce.level, warn_version)
    return ParsedPolicy(
        Policy(resolved["enforce"], resolved["audit"], resolved["warn"]), problems
    )
