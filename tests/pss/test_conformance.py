"""Every upstream reference fixture of the conformance corpus (MIGRATOR_PSS_CONFORMANCE), judged as upstream does."""

from __future__ import annotations

from pathlib import Path

import pytest
from paths import CONFORMANCE

from migrator.files.manifests import load_file
from migrator.pss.api import Level, Version
from migrator.pss.engine import evaluate
from migrator.pss.messages import forbidden_detail

CORPUS = CONFORMANCE

#: lower-cased fixture stem -> substring the denial must contain (the corpus README).
REQUIRED = {
    "allowprivilegeescalation": "allowPrivilegeEscalation",
    "apparmorprofile": "forbidden AppArmor profile",
    "capabilities_baseline": "capabilities",
    "capabilities_restricted": "unrestricted capabilities",
    "hostnamespaces": "host namespaces",
    "hostpathvolumes": "hostPath",
    "hostports": "hostPort",
    "hostprobesandhostlifecycle": "probe or lifecycle host",
    "privileged": "privileged",
    "procmount": "procMount",
    "procmount_restricted": "procMount",
    "restrictedvolumes": "restricted volume types",
    "runasnonroot": "runAsNonRoot",
    "runasuser": "runAsUser",
    "selinuxoptions": "seLinuxOptions",
    "seccompprofile_baseline": "seccompProfile",
    "seccompprofile_restricted": "seccompProfile",
    "sysctls": "forbidden sysctl",
    "windowshostprocess": "hostProcess",
}

FIXTURES = sorted(CORPUS.rglob("*.yaml")) if CORPUS.is_dir() else []


def test_corpus_is_present() -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"conformance corpus not found at {CORPUS} (set MIGRATOR_PSS_CONFORMANCE)")
    assert len(FIXTURES) == 3573


@pytest.mark.parametrize(
    "path", FIXTURES, ids=[str(p.relative_to(CORPUS)) for p in FIXTURES]
)
def test_fixture(path: Path) -> None:
    level, version, outcome = path.parts[-4], path.parts[-3], path.parts[-2]
    (doc,) = list(load_file(str(path)))
    pod = doc.obj
    violations = evaluate(Level(level), Version.parse(version), pod["metadata"], pod["spec"])
    message = forbidden_detail(violations)
    if outcome == "pass":
        assert violations == [], message
    else:
        assert violations, "denied by upstream, allowed here"
        stem = path.stem.rstrip("0123456789")
        assert REQUIRED[stem] in message
        assert "unknown forbidden reason" not in message
