"""Namespace dry-run warnings: parsing every recorded answer, and comparing with the plan."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import fake_apiserver as fa  # noqa: E402

from migrator.cluster.client import RawResponse  # noqa: E402
from migrator.plan.dryrun import (  # noqa: E402
    Disagreement,
    PodGroup,
    ServerVerdict,
    compare,
    offline_groups,
    parse_level_version,
    parse_namespace_warnings,
    server_skip_reason,
)
from migrator.pss.api import Level, LevelVersion, Policy, Version  # noqa: E402
from migrator.pss.messages import PodVerdict, namespace_warnings  # noqa: E402
from migrator.pss.registry import Violation  # noqa: E402

RESTRICTED_4 = ("allowPrivilegeEscalation != false", "unrestricted capabilities",
                "runAsNonRoot != true", "seccompProfile")
AGENT_RESTRICTED = ("host namespaces", "privileged") + RESTRICTED_4


def recorded_texts(name: str) -> list[str]:
    """The unquoted warning texts of a recording, as `RawResponse` decodes them."""
    response = fa.load_recording(name)["response"]
    headers = {"warning": list(response["headers"].get("Warning") or [])}
    raw = RawResponse(int(response["status"]), response["reason"], headers, b"")
    return raw.warning_texts()


# ---------------------------------------------------------------------------------------
# every recording

EXPECTED: dict[str, dict[str, Any]] = {
    "ns-dryrun-restricted.json": {
        "namespace": "shop", "level": "restricted:latest", "checked": None, "total": None,
        "groups": [PodGroup("agent", 1, AGENT_RESTRICTED), PodGroup("web-1", 3, RESTRICTED_4)],
    },
    "ns-dryrun-baseline-pinned.json": {
        "namespace": "shop", "level": "baseline:v1.24", "checked": None, "total": None,
        "groups": [PodGroup("agent", 1, ("host namespaces", "privileged"))],
    },
    "ns-dryrun-server-side-apply.json": {
        "namespace": "shop", "level": "baseline:v1.36", "checked": None, "total": None,
        "groups": [PodGroup("agent", 1, ("host namespaces", "privileged"))],
    },
    "ns-dryrun-truncated.json": {
        "namespace": "big", "level": "restricted:latest", "checked": 3000, "total": 3200,
        "groups": [PodGroup("worker-00000", 3000, RESTRICTED_4)],
    },
    "ns-dryrun-warn-audit-only.json": {
        "namespace": None, "level": None, "checked": None, "total": None, "groups": [],
    },
    "ns-dryrun-invalid-level.json": {
        "namespace": None, "level": None, "checked": None, "total": None, "groups": [],
    },
    "ns-dryrun-forbidden.json": {
        "namespace": None, "level": None, "checked": None, "total": None, "groups": [],
    },
    "v1.24/ns-dryrun-restricted.json": {
        "namespace": None, "level": None, "checked": None, "total": None, "groups": [],
    },
    "v1.24/ns-dryrun-restricted-pinned-v1.24.json": {
        "namespace": None, "level": None, "checked": None, "total": None, "groups": [],
    },
    "v1.24/ns-dryrun-restricted-with-admin-pod.json": {
        "namespace": "team-a", "level": "restricted:latest", "checked": None, "total": None,
        "groups": [PodGroup("bare-by-admin", 1, RESTRICTED_4)],
    },
}


def test_every_recording_is_covered() -> None:
    found = {str(p.relative_to(fa.RECORDINGS)) for p in fa.RECORDINGS.rglob("ns-dryrun-*.json")}
    assert found == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_recorded_warnings_parse(name: str) -> None:
    texts = recorded_texts(name)
    verdict = parse_namespace_warnings(texts)
    expected = EXPECTED[name]
    assert verdict.namespace == expected["namespace"]
    assert verdict.level == expected["level"]
    assert (verdict.checked, verdict.total) == (expected["checked"], expected["total"])
    assert list(verdict.groups) == expected["groups"]
    assert verdict.other == ()
    assert verdict.exemption is None and not verdict.pods_unlisted
    assert list(verdict.warnings) == texts
    # the group lines are rebuilt word for word
    lines = [t for t in texts if not t.startswith(("existing pods", "new PodSecurity"))]
    assert [g.line() for g in verdict.groups] == lines


def test_truncated_recording_is_incomplete() -> None:
    verdict = parse_namespace_warnings(recorded_texts("ns-dryrun-truncated.json"))
    assert verdict.truncated and not verdict.complete
    assert verdict.violating == 3000


def test_recordings_agree_with_matching_offline_verdicts() -> None:
    verdict = parse_namespace_warnings(recorded_texts("ns-dryrun-restricted.json"))
    offline = {"agent": list(AGENT_RESTRICTED), "web-1": list(RESTRICTED_4),
               "web-2": ", ".join(RESTRICTED_4), "web-3": list(RESTRICTED_4), "quiet": ""}
    assert compare(offline, verdict, level="restricted:latest") == []


# ---------------------------------------------------------------------------------------
# the forms of warnings


def test_our_namespace_warnings_round_trip() -> None:
    def violations(*reasons: str) -> list[Violation]:
        return [Violation("x", r, "detail") for r in reasons]

    pods = [PodVerdict("a.b-1", violations("privileged")),
            PodVerdict("a.b-2", violations("privileged")),
            PodVerdict("c", violations("hostPort", "seccompProfile")),
            PodVerdict("d", []),
            PodVerdict("e-0", violations("hostPort")),
            PodVerdict("e-1", violations("hostPort")),
            PodVerdict("e-2", violations("hostPort"))]
    policy = LevelVersion(Level.RESTRICTED, Version.of(30))
    verdict = parse_namespace_warnings(namespace_warnings("ns", policy, pods, 7, 9))
    assert verdict.level == "restricted:v1.30" and verdict.namespace == "ns"
    assert (verdict.checked, verdict.total) == (7, 9)
    assert list(verdict.groups) == [PodGroup("a.b-1", 2, ("privileged",)),
                                    PodGroup("c", 1, ("hostPort", "seccompProfile")),
                                    PodGroup("e-0", 3, ("hostPort",))]


def test_exemption_failure_and_other_warnings() -> None:
    texts = [
        'namespace "kube-system" is exempt from Pod Security, and the policy '
        "(enforce=restricted:latest, warn=baseline:v1.30) will be ignored",
        "failed to list pods while checking new PodSecurity enforce level",
        "metadata.finalizers: something else entirely",
        "agent: privileged",  # no summary line: not a pod line
    ]
    verdict = parse_namespace_warnings(texts)
    assert verdict.namespace == "kube-system"
    assert verdict.exemption == "enforce=restricted:latest, warn=baseline:v1.30"
    assert verdict.pods_unlisted and not verdict.complete
    assert verdict.groups == ()
    assert verdict.other == ("metadata.finalizers: something else entirely", "agent: privileged")


def test_pod_line_forms() -> None:
    texts = [
        'existing pods in namespace "ns" violate the new PodSecurity enforce level '
        '"baseline:latest"',
        "api.v2-x (and 1 other pod): hostPort",
        "b (and 41 other pods): host namespaces, hostPath volumes",
        "c (and 1 other pods): hostPort",  # the wrong noun: not upstream's
        "D: hostPort",  # not a pod name
    ]
    verdict = parse_namespace_warnings(texts)
    assert list(verdict.groups) == [
        PodGroup("api.v2-x", 2, ("hostPort",)),
        PodGroup("b", 42, ("host namespaces", "hostPath volumes")),
    ]
    assert verdict.other == ("c (and 1 other pods): hostPort", "D: hostPort")


def test_time_limit_uses_the_same_notice() -> None:
    verdict = parse_namespace_warnings([
        "new PodSecurity enforce level only checked against the first 812 of 1500 existing pods",
    ])
    assert (verdict.checked, verdict.total, verdict.complete) == (812, 1500, False)
    assert verdict.groups == () and verdict.level is None


# ---------------------------------------------------------------------------------------
# compare


def server(*groups: PodGroup, checked: int | None = None, total: int | None = None,
           level: str = "restricted:latest") -> ServerVerdict:
    return ServerVerdict(namespace="ns", level=level if groups else None, groups=groups,
                         checked=checked, total=total)


def kinds(found: list[Disagreement]) -> list[str]:
    return [d.kind for d in found]


OFFLINE = {"agent": ", ".join(AGENT_RESTRICTED), "web-1": list(RESTRICTED_4),
           "web-2": list(RESTRICTED_4), "web-3": list(RESTRICTED_4), "ok": []}


def test_compare_agreement() -> None:
    assert compare(OFFLINE, server(PodGroup("agent", 1, AGENT_RESTRICTED),
                                   PodGroup("web-1", 3, RESTRICTED_4))) == []
    assert compare({"ok": ""}, server()) == []
    assert offline_groups(OFFLINE) == [PodGroup("agent", 1, AGENT_RESTRICTED),
                                       PodGroup("web-1", 3, RESTRICTED_4)]


def test_compare_extra_server_reason() -> None:
    extra = ("host namespaces", "privileged", "hostPort") + RESTRICTED_4
    found = compare(OFFLINE, server(PodGroup("agent", 1, extra),
                                    PodGroup("web-1", 3, RESTRICTED_4)))
    assert kinds(found) == ["reasons"]
    assert found[0].pod == "agent"
    assert found[0].server_only == ("hostPort",) and found[0].offline_only == ()
    assert (found[0].server_count, found[0].offline_count) == (1, 1)
    assert "only the server: hostPort" in found[0].message


def test_compare_missing_server_reason() -> None:
    fewer = ("host namespaces",) + RESTRICTED_4
    found = compare(OFFLINE, server(PodGroup("agent", 1, fewer),
                                    PodGroup("web-1", 3, RESTRICTED_4)))
    assert kinds(found) == ["reasons"]
    assert found[0].server_only == () and found[0].offline_only == ("privileged",)
    assert "only the plan: privileged" in found[0].message


def test_compare_count_mismatch() -> None:
    found = compare(OFFLINE, server(PodGroup("agent", 1, AGENT_RESTRICTED),
                                    PodGroup("web-1", 2, RESTRICTED_4)))
    assert kinds(found) == ["count"]
    assert (found[0].server_count, found[0].offline_count) == (2, 3)
    assert "the server counts 2 pods (first web-1), the plan 3 pods (first web-1)" in \
        found[0].message


def test_compare_server_group_we_pass_or_do_not_know() -> None:
    found = compare(OFFLINE, server(PodGroup("agent", 1, AGENT_RESTRICTED),
                                    PodGroup("ok", 1, ("seccompProfile",)),
                                    PodGroup("web-1", 3, RESTRICTED_4),
                                    PodGroup("zz-new", 1, ("hostPort",))))
    assert kinds(found) == ["server_only", "server_only"]
    assert found[0].pod == "zz-new" and "does not know zz-new" in found[0].message
    assert found[1].pod == "ok" and "passing" in found[1].message
    assert found[1].server_only == ("seccompProfile",)


def test_compare_group_the_server_did_not_report() -> None:
    found = compare(OFFLINE, server(PodGroup("web-1", 3, RESTRICTED_4)))
    assert kinds(found) == ["offline_only"]
    assert found[0].pod == "agent" and found[0].offline_only == AGENT_RESTRICTED


def test_compare_named_pod_elsewhere_or_not_first() -> None:
    offline = {"web-1": list(RESTRICTED_4), "web-2": list(RESTRICTED_4), "x": ["hostPort"]}
    # same counts, but the server's first pod is not ours: web-1 is not in its group
    found = compare(offline, server(PodGroup("web-2", 2, RESTRICTED_4),
                                    PodGroup("x", 1, ("hostPort",))))
    assert kinds(found) == ["pod"]
    assert "did not find web-1" in found[0].message
    # x is ours with other reasons: named elsewhere, and its own group goes unreported
    found = compare(offline, server(PodGroup("x", 2, RESTRICTED_4)))
    assert kinds(found) == ["pod", "offline_only"]
    assert found[0].server_only == RESTRICTED_4 and found[0].offline_only == ("hostPort",)
    assert 'the plan has it with "hostPort"' in found[0].message


def test_compare_truncated_coverage() -> None:
    offline = {f"worker-{i:05d}": list(RESTRICTED_4) for i in range(3200)}
    offline["special"] = ["hostPort"]
    verdict = parse_namespace_warnings(recorded_texts("ns-dryrun-truncated.json"))
    # 3,000 of our 3,200 were checked; `special` may not have been: no disagreement
    assert compare(offline, verdict, level="restricted:latest") == []
    # but what the checked pods prove still counts
    fewer = {k: v for k, v in offline.items() if k < "worker-02000"}
    found = compare(fewer, verdict)
    assert kinds(found) == ["count"]
    assert (found[0].server_count, found[0].offline_count) == (3000, 2000)
    wrong = dict(offline, **{"worker-00000": ["seccompProfile"]})
    found = compare(wrong, verdict)
    assert kinds(found) == ["pod"]
    assert found[0].pod == "worker-00000"
    assert found[0].server_only == RESTRICTED_4[:3] and found[0].offline_only == ()
    # the same offline verdicts with complete coverage disagree
    complete = ServerVerdict("big", "restricted:latest", verdict.groups)
    assert sorted(kinds(compare(offline, complete))) == ["count", "offline_only"]


def test_compare_level_and_unlisted() -> None:
    verdict = server(PodGroup("web-1", 3, RESTRICTED_4), level="restricted:v1.30")
    offline = {k: v for k, v in OFFLINE.items() if k != "agent"}
    assert kinds(compare(offline, verdict, level="restricted:latest")) == ["level"]
    unlisted = parse_namespace_warnings(
        ["failed to list pods while checking new PodSecurity enforce level"])
    assert compare(OFFLINE, unlisted) == []


# ---------------------------------------------------------------------------------------
# when the server checks pods at all

E = "pod-security.kubernetes.io/enforce"
EV = "pod-security.kubernetes.io/enforce-version"
RESTRICTED_LATEST = {E: "restricted", EV: "latest"}


@pytest.mark.parametrize(("current", "patch", "exempt", "skipped"), [
    ({}, RESTRICTED_LATEST, False, None),
    ({E: "restricted"}, RESTRICTED_LATEST, False, "already restricted:latest"),
    ({E: "restricted", EV: "v1.30"}, RESTRICTED_LATEST, False, None),
    ({E: "restricted"}, {E: "baseline", EV: "latest"}, False, "not stricter"),
    ({E: "baseline", EV: "v1.30"}, {E: "baseline", EV: "latest"}, False, None),
    ({}, {E: "privileged", EV: "latest"}, False, "privileged"),
    ({}, RESTRICTED_LATEST, True, "exempt"),
    ({"pod-security.kubernetes.io/warn": "restricted"},
     {"pod-security.kubernetes.io/audit": "restricted"}, False, "already privileged:latest"),
])
def test_server_skip_reason(current: dict[str, str], patch: dict[str, str], exempt: bool,
                            skipped: str | None) -> None:
    reason = server_skip_reason(current, patch, exempt=exempt)
    if skipped is None:
        assert reason is None
    else:
        assert reason is not None and skipped in reason


def test_server_skip_reason_uses_the_admission_defaults() -> None:
    baseline = LevelVersion(Level.BASELINE, Version.latest())
    defaults = Policy(baseline, baseline, baseline)
    assert server_skip_reason({}, {E: "baseline", EV: "latest"}, defaults=defaults) is not None
    assert server_skip_reason({}, RESTRICTED_LATEST, defaults=defaults) is None
    assert parse_level_version("baseline:v1.24") == LevelVersion(Level.BASELINE, Version.of(24))
    with pytest.raises(ValueError):
        parse_level_version("baseline")


def test_disagreement_dict_is_json() -> None:
    found = compare(OFFLINE, server(PodGroup("web-1", 3, RESTRICTED_4)))
    assert json.loads(json.dumps([d.to_dict() for d in found]))[0]["kind"] == "offline_only"
