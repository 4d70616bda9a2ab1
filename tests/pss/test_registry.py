"""Meta-tests of the registry: its validation and the completeness of ALL_CHECKS."""

from __future__ import annotations

import pkgutil

import pytest

import migrator.pss.checks as checks_pkg
from migrator.pss.api import NEWEST_MINOR, Level, Version
from migrator.pss.checks import ALL_CHECKS
from migrator.pss.engine import EVALUATOR
from migrator.pss.registry import Check, Evaluator, RegistryError, VersionedCheck

UPSTREAM_IDS = {
    "allowPrivilegeEscalation": Level.RESTRICTED, "appArmorProfile": Level.BASELINE,
    "capabilities_baseline": Level.BASELINE, "capabilities_restricted": Level.RESTRICTED,
    "hostNamespaces": Level.BASELINE, "hostPathVolumes": Level.BASELINE,
    "hostPorts": Level.BASELINE, "hostProbesAndHostLifecycle": Level.BASELINE,
    "privileged": Level.BASELINE, "procMount": Level.BASELINE,
    "procMount_restricted": Level.RESTRICTED, "restrictedVolumes": Level.RESTRICTED,
    "runAsNonRoot": Level.RESTRICTED, "runAsUser": Level.RESTRICTED,
    "seLinuxOptions": Level.BASELINE, "seccompProfile_baseline": Level.BASELINE,
    "seccompProfile_restricted": Level.RESTRICTED, "sysctls": Level.BASELINE,
    "windowsHostProcess": Level.BASELINE,
}


def test_all_upstream_checks_with_their_levels() -> None:
    assert {c.id: c.level for c in ALL_CHECKS} == UPSTREAM_IDS


def test_every_module_is_registered() -> None:
    modules = {m.name for m in pkgutil.iter_modules(checks_pkg.__path__)}
    registered = {c.versions[0].fn.__module__.rsplit(".", 1)[1] for c in ALL_CHECKS}
    assert modules == registered


def test_every_check_opens_with_its_fields_and_has_a_fix() -> None:
    for check in ALL_CHECKS:
        module = __import__(check.versions[0].fn.__module__, fromlist=["x"])
        doc = (module.__doc__ or "").lower()
        assert "restricted fields" in doc and "allowed" in doc, check.id
        assert check.fix and check.fields, check.id


def _noop(pod: object) -> None:
    return None


@pytest.mark.parametrize("checks,message", [
    ((Check("a", Level.BASELINE, (VersionedCheck(0, _noop),), "fix"),
      Check("a", Level.BASELINE, (VersionedCheck(0, _noop),), "fix")), "duplicate"),
    ((Check("a", Level.BASELINE, (VersionedCheck(3, _noop), VersionedCheck(3, _noop)), "fix"),),
     "strictly increase"),
    ((Check("a", Level.BASELINE, (VersionedCheck(0, _noop, ("b",)),), "fix"),
      Check("b", Level.BASELINE, (VersionedCheck(0, _noop),), "fix")), "only restricted"),
    ((Check("a", Level.RESTRICTED, (VersionedCheck(0, _noop, ("b",)),), "fix"),
      Check("b", Level.RESTRICTED, (VersionedCheck(0, _noop),), "fix")), "not a baseline"),
    ((Check("a", Level.PRIVILEGED, (VersionedCheck(0, _noop),), "fix"),), "level"),
    ((Check("a", Level.BASELINE, (VersionedCheck(NEWEST_MINOR + 1, _noop),), "fix"),), "unknown"),
    ((Check("a", Level.BASELINE, (), "fix"),), "no versions"),
])
def test_invalid_registries_are_rejected(checks: tuple[Check, ...], message: str) -> None:
    with pytest.raises(RegistryError, match=message):
        Evaluator(checks)


def test_overridden_checks_leave_restricted_tables() -> None:
    at = {m: [cid for cid, _ in EVALUATOR.table(Level.RESTRICTED, Version.of(m))] for m in (0, 18, 19, 22, 35)}
    assert "hostPathVolumes" not in at[0] and "restrictedVolumes" in at[0]
    assert "seccompProfile_baseline" in at[18] and "seccompProfile_restricted" not in at[18]
    assert "seccompProfile_baseline" not in at[19]
    assert "capabilities_baseline" not in at[22] and "capabilities_restricted" in at[22]
    assert "procMount" not in at[35] and "procMount_restricted" in at[35]
    baseline = [cid for cid, _ in EVALUATOR.table(Level.BASELINE, Version.latest())]
    assert baseline == sorted(baseline)
    assert "hostPathVolumes" in baseline and "procMount" in baseline
