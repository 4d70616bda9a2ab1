"""The three message forms, compared with what real API servers sent (../shared/apiserver)."""

from __future__ import annotations

import json
from pathlib import Path

from migrator.model.workloads import pod_template
from migrator.pss.api import Level, LevelVersion, Version
from migrator.pss.engine import evaluate
from migrator.pss.messages import PodVerdict, denial, namespace_warnings, warning

RESTRICTED_LATEST = LevelVersion(Level.RESTRICTED, Version.latest())


def _recording(shared: Path, name: str) -> dict:
    return json.loads((shared / "apiserver" / name).read_text())


def _unquote(header: str) -> str:
    assert header.startswith('299 - "') and header.endswith('"')
    return header[len('299 - "'):-1].replace('\\"', '"')


def test_enforce_denial_matches_server(shared: Path) -> None:
    rec = _recording(shared, "pod-create-forbidden.json")
    pod = rec["request"]["body"]
    violations = evaluate(Level.RESTRICTED, Version.latest(), pod["metadata"], pod["spec"])
    assert denial("pods", pod["metadata"]["name"], RESTRICTED_LATEST, violations) == (
        rec["response"]["body"]["message"]
    )


def test_workload_warning_matches_server(shared: Path) -> None:
    rec = _recording(shared, "deployment-create-warned.json")
    template = pod_template(rec["request"]["body"])
    assert template is not None
    violations = evaluate(Level.RESTRICTED, Version.latest(), template.metadata, template.spec)
    (header,) = rec["response"]["headers"]["Warning"]
    assert warning(RESTRICTED_LATEST, violations) == _unquote(header)


def _restricted_pod(name: str) -> PodVerdict:
    spec = {"containers": [{"name": "web", "image": "nginx"}]}
    return PodVerdict(name, evaluate(Level.RESTRICTED, Version.latest(), {}, spec))


def test_namespace_warnings_fold_like_server(shared: Path) -> None:
    rec = _recording(shared, "ns-dryrun-restricted.json")
    agent_spec = {"hostPID": True, "containers": [{"name": "a", "image": "x",
                                                   "securityContext": {"privileged": True}}]}
    agent = PodVerdict("agent", evaluate(Level.RESTRICTED, Version.latest(), {}, agent_spec))
    pods = [agent, _restricted_pod("web-1"), _restricted_pod("web-2"), _restricted_pod("web-3")]
    expected = [_unquote(h) for h in rec["response"]["headers"]["Warning"]]
    assert namespace_warnings("shop", RESTRICTED_LATEST, pods) == expected


def test_truncation_notice_comes_first(shared: Path) -> None:
    rec = _recording(shared, "ns-dryrun-truncated.json")
    pods = [_restricted_pod(f"worker-{i:05d}") for i in range(3000)]
    expected = [_unquote(h) for h in rec["response"]["headers"]["Warning"]]
    assert namespace_warnings("big", RESTRICTED_LATEST, pods, checked=3000, total=3200) == expected


def test_first_name_and_sorted_lines() -> None:
    agent_spec = {"hostPID": True, "containers": [{"name": "a", "image": "x"}]}
    agent = PodVerdict("zz-agent", evaluate(Level.RESTRICTED, Version.latest(), {}, agent_spec))
    pods = [_restricted_pod("web-b"), agent, _restricted_pod("web-a")]
    lines = namespace_warnings("ns", RESTRICTED_LATEST, pods)[1:]
    assert [line.split(":")[0] for line in lines] == ["web-a (and 1 other pod)", "zz-agent"]


def test_one_other_pod_is_singular() -> None:
    pods = [_restricted_pod("a"), _restricted_pod("b")]
    assert namespace_warnings("ns", RESTRICTED_LATEST, pods)[1].startswith("a (and 1 other pod): ")


def test_no_violations_no_warnings() -> None:
    assert namespace_warnings("ns", RESTRICTED_LATEST, [PodVerdict("ok", [])]) == []
