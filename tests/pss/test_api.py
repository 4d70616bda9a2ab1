"""Namespace label parsing and versions, as Pod Security Admission resolves them."""

from __future__ import annotations

import pytest

from migrator.pss.api import (
    NEWEST_MINOR,
    Level,
    LevelVersion,
    Policy,
    Version,
    policy_from_labels,
)

P = "pod-security.kubernetes.io/"
PRIV_LATEST = "privileged:latest"


def lv(text: str) -> LevelVersion:
    level, version = text.split(":")
    return LevelVersion(Level(level), Version.parse(version))


CASES = [
    ("none", {}, PRIV_LATEST, PRIV_LATEST, PRIV_LATEST, []),
    ("enforce only: warn follows", {P + "enforce": "restricted"},
     "restricted:latest", PRIV_LATEST, "restricted:latest", []),
    ("enforce pinned: warn follows with version", {P + "enforce": "baseline", P + "enforce-version": "v1.25"},
     "baseline:v1.25", PRIV_LATEST, "baseline:v1.25", []),
    ("warn-version kept when warn follows", {P + "enforce": "baseline", P + "enforce-version": "v1.25", P + "warn-version": "v1.30"},
     "baseline:v1.25", PRIV_LATEST, "baseline:v1.30", []),
    ("explicit warn wins", {P + "enforce": "restricted", P + "warn": "baseline"},
     "restricted:latest", PRIV_LATEST, "baseline:latest", []),
    ("explicit looser warn wins", {P + "enforce": "restricted", P + "warn": "privileged"},
     "restricted:latest", PRIV_LATEST, PRIV_LATEST, []),
    ("invalid enforce fails closed, warn does not follow", {P + "enforce": "strict"},
     "restricted:latest", PRIV_LATEST, PRIV_LATEST, [P + "enforce"]),
    ("invalid audit fails open", {P + "audit": "bogus", P + "audit-version": "v1.2"},
     PRIV_LATEST, "privileged:v1.2", PRIV_LATEST, [P + "audit"]),
    ("invalid warn fails open", {P + "warn": "Restricted"},
     PRIV_LATEST, PRIV_LATEST, PRIV_LATEST, [P + "warn"]),
    ("invalid version is latest", {P + "enforce": "baseline", P + "enforce-version": "1.25"},
     "baseline:latest", PRIV_LATEST, "baseline:latest", [P + "enforce-version"]),
    ("leading zero is invalid", {P + "enforce": "baseline", P + "enforce-version": "v1.025"},
     "baseline:latest", PRIV_LATEST, "baseline:latest", [P + "enforce-version"]),
    ("v2 is invalid", {P + "audit": "baseline", P + "audit-version": "v2.0"},
     PRIV_LATEST, "baseline:latest", PRIV_LATEST, [P + "audit-version"]),
    ("privileged enforce: warn stays", {P + "enforce": "privileged"},
     PRIV_LATEST, PRIV_LATEST, PRIV_LATEST, []),
    ("all three", {P + "enforce": "baseline", P + "audit": "restricted", P + "warn": "restricted",
                   P + "audit-version": "v1.30", P + "warn-version": "latest", P + "enforce-version": "v1.29"},
     "baseline:v1.29", "restricted:v1.30", "restricted:latest", []),
]


@pytest.mark.parametrize("labels,enforce,audit,warn,problems", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_policy_from_labels(labels: dict[str, str], enforce: str, audit: str, warn: str,
                            problems: list[str]) -> None:
    parsed = policy_from_labels(labels)
    assert parsed.policy == Policy(lv(enforce), lv(audit), lv(warn))
    assert [p.label for p in parsed.problems] == problems


def test_defaults_from_admission_configuration() -> None:
    defaults = Policy(lv("baseline:v1.25"), lv("restricted:latest"), lv("restricted:latest"))
    parsed = policy_from_labels({P + "enforce": "restricted"}, defaults)
    # the unset enforce-version takes the default version; enforce is not stricter than the
    # default warn level, so warn keeps its default
    assert parsed.policy == Policy(lv("restricted:v1.25"), lv("restricted:latest"),
                                   lv("restricted:latest"))
    assert policy_from_labels({}, defaults).policy == defaults


@pytest.mark.parametrize("text,minor,effective", [
    ("v1.0", 0, 0), ("v1.25", 25, 25), ("latest", None, NEWEST_MINOR), ("v1.99", 99, NEWEST_MINOR),
])
def test_versions(text: str, minor: int | None, effective: int) -> None:
    version = Version.parse(text)
    assert version.minor == minor
    assert version.effective_minor() == effective
    assert str(version) == text


@pytest.mark.parametrize("text", ["", "1.25", "v1", "v1.x", "v1.-1", "Latest", "v01.2"])
def test_invalid_versions(text: str) -> None:
    with pytest.raises(ValueError):
        Version.parse(text)


def test_version_order_puts_latest_last() -> None:
    assert sorted([Version.latest(), Version.of(25), Version.of(3)]) == [
        Version.of(3), Version.of(25), Version.latest()]


def test_level_order() -> None:
    assert Level.RESTRICTED.stricter_than(Level.BASELINE)
    assert Level.BASELINE.stricter_than(Level.PRIVILEGED)
    assert not Level.PRIVILEGED.stricter_than(Level.PRIVILEGED)
