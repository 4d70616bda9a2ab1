"""Audit annotations mapped back to check IDs, and restricted verdicts re-judged for baseline.

Each pod of the upstream conformance corpus (MIGRATOR_PSS_CONFORMANCE, when present) and a
few pods kept here is judged at restricted; the annotation the API server would write is
built with `migrator.pss.messages.warning` and read back. The check IDs must be the engine's,
and re-judging for baseline from the text alone must never pass a pod baseline rejects (and,
with the pod at hand, must agree with the engine exactly).
"""

from __future__ import annotations

from typing import Any

import pytest
from paths import CONFORMANCE

from migrator.files.manifests import load_file
from migrator.plan.evidence import REASON_CHECKS, judge, parse_violations
from migrator.pss.api import Level, LevelVersion, Version
from migrator.pss.engine import evaluate
from migrator.pss.messages import warning

CORPUS = CONFORMANCE
FIXTURES = sorted(CORPUS.rglob("*.yaml")) if CORPUS.is_dir() else []

#: Pods kept here so the property holds on a fresh clone too.
LOCAL: list[tuple[str, dict[str, Any]]] = [
    ("v1.24", {"containers": [{"name": "a", "securityContext": {"privileged": True}}]}),
    ("latest", {"containers": [{"name": "a", "securityContext": {
        "capabilities": {"add": ["NET_ADMIN", "CHOWN"], "drop": ["ALL"]}}}]}),
    ("latest", {"containers": [{"name": "a", "securityContext": {
        "capabilities": {"add": ["CHOWN"]}}}]}),
    ("latest", {"volumes": [{"name": "h", "hostPath": {"path": "/"}},
                            {"name": "n", "nfs": {"server": "x", "path": "/"}}],
                "containers": [{"name": "a"}]}),
    ("latest", {"volumes": [{"name": "n", "nfs": {"server": "x", "path": "/"}}],
                "containers": [{"name": "a"}]}),
    ("latest", {"securityContext": {"seccompProfile": {"type": "Unconfined"}},
                "containers": [{"name": "a"}]}),
    ("v1.35", {"hostUsers": False, "containers": [
        {"name": "a", "securityContext": {"procMount": "Unmasked"}}]}),
    ("v1.34", {"hostUsers": False, "containers": [
        {"name": "a", "securityContext": {"procMount": "Unmasked"}}]}),
    ("latest", {"hostNetwork": True, "hostPID": True, "containers": [
        {"name": "a", "ports": [{"containerPort": 80, "hostPort": 80}]},
        {"name": "b", "securityContext": {"runAsUser": 0}}]}),
]


def _cases() -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    cases = [(f"local{i}", v, {}, spec) for i, (v, spec) in enumerate(LOCAL)]
    for path in FIXTURES:
        (doc,) = list(load_file(str(path)))
        cases.append((str(path.relative_to(CORPUS)), path.parts[-3],
                      doc.obj.get("metadata") or {}, doc.obj.get("spec") or {}))
    return cases


CASES = _cases()


@pytest.mark.parametrize(("name", "version", "metadata", "spec"), CASES,
                         ids=[c[0] for c in CASES])
def test_recorded_restricted_rejudged_for_baseline(
        name: str, version: str, metadata: dict[str, Any], spec: dict[str, Any]) -> None:
    ver = Version.parse(version)
    restricted = evaluate(Level.RESTRICTED, ver, metadata, spec)
    if not restricted:
        return
    policy = LevelVersion(Level.RESTRICTED, ver)
    parsed = parse_violations(warning(policy, restricted))
    assert parsed is not None
    recorded_policy, failures = parsed
    assert recorded_policy == policy
    assert [(f.reason, f.detail) for f in failures] == [(v.reason, v.detail) for v in restricted]
    for failure, violation in zip(failures, restricted, strict=True):
        assert violation.check in REASON_CHECKS[failure.reason]

    baseline = evaluate(Level.BASELINE, ver, metadata, spec)
    target = LevelVersion(Level.BASELINE, ver)
    from_text = judge(parsed, None, None, target)
    if baseline:
        assert from_text.violates is True, name
    pod = {"kind": "Pod", "metadata": metadata, "spec": spec}
    exact = judge(parsed, None, pod, target)
    assert exact.violates is bool(baseline), name
    if baseline:
        assert exact.checks, name


def test_text_alone_passes_restricted_only_pods() -> None:
    """Without the pod, a restricted-only failure still clears baseline (not just 'maybe')."""
    passed = 0
    for _name, version, metadata, spec in CASES:
        ver = Version.parse(version)
        restricted = evaluate(Level.RESTRICTED, ver, metadata, spec)
        if not restricted or evaluate(Level.BASELINE, ver, metadata, spec):
            continue
        parsed = parse_violations(warning(LevelVersion(Level.RESTRICTED, ver), restricted))
        verdict = judge(parsed, None, None, LevelVersion(Level.BASELINE, ver))
        if ver.effective_minor() < 35 or all(v.check != "procMount_restricted"
                                             for v in restricted):
            assert verdict.violates is False, (spec, verdict)
        passed += 1
    assert passed >= 3


def test_every_engine_reason_is_known() -> None:
    reasons = set()
    for _name, version, metadata, spec in CASES:
        for level in (Level.BASELINE, Level.RESTRICTED):
            reasons.update(v.reason for v in evaluate(level, Version.parse(version),
                                                      metadata, spec))
    assert reasons - {"malformed pod spec"} <= set(REASON_CHECKS)
    if FIXTURES:  # the corpus reaches every reason (the plural only with several profiles)
        assert set(REASON_CHECKS) - reasons == {"forbidden AppArmor profiles"}


def test_unknown_reasons_count_as_violating() -> None:
    text = 'would violate PodSecurity "restricted:latest": a future check (detail)'
    parsed = parse_violations(text)
    assert parsed is not None
    verdict = judge(parsed, None, None, LevelVersion(Level.BASELINE, Version.latest()))
    assert verdict.violates is True and verdict.checks == ("unknown",)


def test_commas_inside_details_do_not_split() -> None:
    text = ('would violate PodSecurity "baseline:v1.24": host namespaces (hostNetwork=true, '
            'hostPID=true), hostPort (containers "a", "b" use hostPorts 80, 81)')
    parsed = parse_violations(text)
    assert parsed is not None
    assert [(f.reason, f.detail) for f in parsed[1]] == [
        ("host namespaces", "hostNetwork=true, hostPID=true"),
        ("hostPort", 'containers "a", "b" use hostPorts 80, 81')]


def test_violations_without_the_policy_head() -> None:
    from migrator.plan.evidence import bare_violations

    policy, failures = bare_violations(
        'allowPrivilegeEscalation != false (container "app" must set '
        'securityContext.allowPrivilegeEscalation=false), runAsNonRoot != true (pod or '
        'container "app" must set securityContext.runAsNonRoot=true)')
    assert policy.level == Level.RESTRICTED and len(failures) == 2
    # restricted-only failures, so they clear baseline
    verdict = judge((policy, failures), None, None, LevelVersion(Level.BASELINE, Version.latest()))
    assert verdict.violates is False
    policy, failures = bare_violations('privileged (container "app" must not set '
                                       'securityContext.privileged=true)')
    assert policy.level == Level.BASELINE
    assert judge((policy, failures), None, None,
                 LevelVersion(Level.BASELINE, Version.latest())).violates is True
    policy, failures = bare_violations("something else entirely")
    assert (policy.level, [f.reason for f in failures]) == (Level.BASELINE,
                                                            ["something else entirely"])
