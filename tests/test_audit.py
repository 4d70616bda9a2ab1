"""`migrator audit` on the audit logs recorded from real 1.24 and 1.36 API servers.

tests/data/audit/README.md says which request made which line; the plan comes from
tests/data/audit/cluster.yaml (audit-demo plans baseline, audit-pinned restricted, sandbox
and quiet restricted).
"""

from __future__ import annotations

import copy
import gzip
import io
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from migrator.errors import ManifestError
from migrator.files.auditlog import LogStats, log_files, read_events
from migrator.files.source import read_files
from migrator.model.inventory import Inventory
from migrator.plan.decide import build_plan
from migrator.plan.evidence import Collector, Window, parse_time
from migrator.pss.api import Version

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "audit"
V136 = DATA / "v1.36-audit.jsonl"
V124 = DATA / "v1.24-audit.jsonl"
META136 = DATA / "v1.36-audit-metadata-level.jsonl"
SCHEMA = json.loads((ROOT / "schemas" / "audit.schema.json").read_text())


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines(path)]


def plan_for(pin: str) -> dict[str, Any]:
    errors: list[ManifestError] = []
    inventory: Inventory = read_files([str(DATA / "cluster.yaml")], errors)
    assert errors == []
    return build_plan(inventory, pin=Version.parse(pin))


def collect(evts: list[dict[str, Any]], plan: dict[str, Any] | None,
            window: Window | None = None) -> dict[str, Any]:
    collector = Collector(plan, window)
    for event in evts:
        collector.add(event)
    result = collector.result()
    jsonschema.validate(result, SCHEMA)
    return result


def ns_of(result: dict[str, Any], name: str) -> dict[str, Any]:
    return next(n for n in result["namespaces"] if n["name"] == name)


def violators(ns: dict[str, Any]) -> list[tuple[str, str, int]]:
    return [(v["object"], v["user"], v["count"]) for v in ns["violators"]]


# -- the recorded logs: gate and attribution ---------------------------------------------------


@pytest.mark.parametrize(("log", "pin"), [(V136, "latest"), (V124, "v1.24")])
def test_recorded_logs_gate_and_attribution(log: Path, pin: str) -> None:
    result = collect(events(log), plan_for(pin))
    demo = ns_of(result, "audit-demo")
    assert (demo["enforce"], demo["enforce_version"], demo["gate"]) == ("baseline", pin, "blocked")
    # six real pod creations (two dry runs apart); the two privileged pods violate baseline,
    # the restricted-only pods and Deployments do not
    assert demo["pod_creations"] == 6
    assert demo["violating_pod_creations"] == 2
    assert demo["dry_runs"] == 2 and demo["dry_run_violations"] == 2
    assert demo["violating_workload_writes"] == 0 and demo["workload_writes"] == 2
    assert violators(demo) == [("Pod/privileged-admin", "admin", 1),
                               ("Pod/privileged-deployer", "deployer", 1)]
    assert all(v["checks"] == ["privileged"] for v in demo["violators"])
    assert {tuple(v["recorded_at"]) for v in demo["violators"]} == {
        ("restricted:latest",) if pin == "latest" else ("restricted:v1.24",)}

    pinned = ns_of(result, "audit-pinned")
    assert (pinned["enforce"], pinned["gate"]) == ("restricted", "blocked")
    assert pinned["pod_creations"] == 2 and pinned["violating_pod_creations"] == 2
    assert violators(pinned) == [("Pod/pinned-privileged-admin", "admin", 1),
                                 ("Pod/pinned-privileged-deployer", "deployer", 1)]
    # recorded at baseline:v1.24; the request shows what restricted adds
    assert pinned["violators"][0]["recorded_at"] == ["baseline:v1.24"]
    assert {"privileged", "runAsNonRoot"} <= set(pinned["violators"][0]["checks"])

    quiet = ns_of(result, "quiet")
    assert (quiet["gate"], quiet["pod_creations"]) == ("no-evidence", 0)
    sandbox = ns_of(result, "sandbox")
    assert sandbox["gate"] == "no-evidence" and sandbox["pod_creations"] == 0
    if log == V136:
        assert sandbox["exempt"] == 1 and sandbox["exempt_by"] == {"namespace": 1}
    else:
        assert sandbox["exempt"] == 0
    assert result["malformed_lines"] == 0
    assert result["window"]["from"] == min(e["requestReceivedTimestamp"] for e in events(log)
                                           if e["objectRef"]["resource"] != "namespaces")


def test_impersonated_requests_are_the_impersonated_users() -> None:
    result = collect(events(V136), None)
    demo = ns_of(result, "audit-demo")
    users = {v["object"]: v["user"] for v in demo["violators"]}
    assert users["Pod/restricted-only-deployer"] == "deployer"
    assert users["Deployment/tmpl-deployer"] == "deployer"
    assert users["Pod/restricted-only-admin"] == "admin"
    assert "admin" not in {u for o, u in users.items() if "deployer" in o}


def test_without_a_plan_violations_are_as_recorded() -> None:
    result = collect(events(V136), None)
    demo = ns_of(result, "audit-demo")
    assert demo["gate"] is None and demo["enforce"] is None
    assert demo["recorded_violations"] == 6  # 4 pods and 2 Deployments, dry runs apart
    assert {v["object"] for v in demo["violators"]} == {
        "Pod/restricted-only-admin", "Pod/restricted-only-deployer", "Pod/privileged-admin",
        "Pod/privileged-deployer", "Deployment/tmpl-admin", "Deployment/tmpl-deployer"}
    restricted_only = next(v for v in demo["violators"]
                           if v["object"] == "Pod/restricted-only-admin")
    assert restricted_only["checks"] == ["allowPrivilegeEscalation", "capabilities_restricted",
                                         "runAsNonRoot", "seccompProfile_restricted"]


def test_restricted_only_violations_clear_baseline() -> None:
    # only the compliant and restricted-only pods (README lines 3, 4, 10, 11) and the
    # Deployments (6, 13): every one violates restricted, none baseline
    chosen = [e for i, e in enumerate(events(V136), 1) if i in (1, 2, 3, 4, 6, 10, 11, 13)]
    result = collect(chosen, plan_for("latest"))
    demo = ns_of(result, "audit-demo")
    assert demo["gate"] == "ready"
    assert (demo["pod_creations"], demo["violating_pod_creations"]) == (4, 0)
    assert demo["violators"] == []
    # planned at restricted instead, the same requests block, with pods and templates
    plan = plan_for("latest")
    for ns in plan["namespaces"]:
        if ns["name"] == "audit-demo":
            ns["recommended"]["enforce"] = "restricted"
    blocked = ns_of(collect(chosen, plan), "audit-demo")
    assert blocked["gate"] == "blocked"
    assert blocked["violating_pod_creations"] == 2
    assert blocked["violating_workload_writes"] == 2
    assert ("Deployment/tmpl-deployer", "deployer", 1) in violators(blocked)


def test_dry_runs_never_clear_a_gate() -> None:
    dry = [e for i, e in enumerate(events(V136), 1) if i in (7, 14)]
    result = collect(dry, plan_for("latest"))
    demo = ns_of(result, "audit-demo")
    assert demo["gate"] == "no-evidence" and demo["dry_runs"] == 2
    assert demo["violators"] == []


def test_window_limits_what_counts() -> None:
    evts = events(V136)
    # the second user's requests start at line 10
    start = parse_time(evts[9]["requestReceivedTimestamp"])
    result = collect(evts, plan_for("latest"), Window(start, None))
    demo = ns_of(result, "audit-demo")
    assert demo["pod_creations"] == 3
    assert violators(demo) == [("Pod/privileged-deployer", "deployer", 1)]
    assert result["window"]["from"] == evts[9]["requestReceivedTimestamp"]


# -- owner chains -----------------------------------------------------------------------------


def _pod_event(line: int, **changes: Any) -> dict[str, Any]:
    event = copy.deepcopy(events(V136)[line - 1])
    event.update(changes)
    return event


def test_controller_pods_go_to_the_top_of_their_chain() -> None:
    # a baseline violation created by the ReplicaSet controller for Deployment web
    pod = _pod_event(5)
    pod["user"] = {"username": "system:serviceaccount:kube-system:replicaset-controller"}
    pod["objectRef"].pop("name")
    meta = pod["requestObject"]["metadata"]
    meta.pop("name")
    meta["generateName"] = "web-5d8f7c9b6d-"
    meta["labels"] = {"app": "web", "pod-template-hash": "5d8f7c9b6d"}
    meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                "name": "web-5d8f7c9b6d", "uid": "u1", "controller": True}]
    # a Job of CronJob nightly, whose own create the log holds
    job_pod = copy.deepcopy(pod)
    job_pod["user"] = {"username": "system:serviceaccount:kube-system:job-controller"}
    job_meta = job_pod["requestObject"]["metadata"]
    job_meta["generateName"] = "nightly-29410000-"
    job_meta["labels"] = {"job-name": "nightly-29410000"}
    job_meta["ownerReferences"] = [{"apiVersion": "batch/v1", "kind": "Job",
                                    "name": "nightly-29410000", "uid": "u2", "controller": True}]
    job_create = _pod_event(6)
    job_create["user"] = {"username": "system:serviceaccount:kube-system:cronjob-controller"}
    job_create["objectRef"] = {"resource": "jobs", "namespace": "audit-demo",
                               "name": "nightly-29410000", "apiGroup": "batch"}
    job_create["requestURI"] = "/apis/batch/v1/namespaces/audit-demo/jobs"
    job_create["annotations"] = {"authorization.k8s.io/decision": "allow"}
    job_create["requestObject"] = {
        "kind": "Job", "apiVersion": "batch/v1",
        "metadata": {"name": "nightly-29410000", "ownerReferences": [
            {"apiVersion": "batch/v1", "kind": "CronJob", "name": "nightly", "uid": "u3",
             "controller": True}]},
        "spec": {"template": job_pod["requestObject"]}}
    job_pod["auditID"] = "job-pod"
    replica = copy.deepcopy(pod)
    replica["auditID"] = "second-replica"
    # the pod's line comes before the Job's: chains are resolved at the end
    result = collect([job_pod, pod, replica, job_create], plan_for("latest"))
    demo = ns_of(result, "audit-demo")
    assert violators(demo) == [
        ("CronJob/nightly", "system:serviceaccount:kube-system:job-controller", 1),
        ("Deployment/web", "system:serviceaccount:kube-system:replicaset-controller", 2)]
    assert demo["gate"] == "blocked"
    # controllers are never suggested as exemptions
    candidates = {c["username"]: c for c in result["exemption_candidates"]}
    assert candidates["system:serviceaccount:kube-system:replicaset-controller"]["suggest"] \
        is False
    assert candidates["system:serviceaccount:kube-system:replicaset-controller"]["controller"]


def test_metadata_level_events_use_the_plans_owner_index() -> None:
    plan = plan_for("latest")
    demo_plan = next(n for n in plan["namespaces"] if n["name"] == "audit-demo")
    demo_plan["subjects"].append({**demo_plan["subjects"][0], "kind": "Pod",
                                  "name": "privileged-admin", "template": False,
                                  "owner": "Deployment/tmpl-admin"})
    metadata_only = []
    for line in (3, 5):
        event = _pod_event(line, level="Metadata")
        event.pop("requestObject")
        metadata_only.append(event)
    result = collect(metadata_only, plan)
    demo = ns_of(result, "audit-demo")
    assert violators(demo) == [("Deployment/tmpl-admin", "admin", 1)]
    # the compliant pod was judged clean at restricted (the namespace's audit level)
    assert demo["unjudged_pod_creations"] == 0 and demo["pod_creations"] == 2


def test_metadata_only_pods_audited_below_the_plan_are_not_evidence() -> None:
    # audit-pinned audits baseline; a clean Metadata-only pod says nothing about restricted
    event = _pod_event(8, level="Metadata")
    event.pop("requestObject")
    event["annotations"] = {"pod-security.kubernetes.io/enforce-policy": "privileged:latest"}
    result = collect([event], plan_for("latest"))
    pinned = ns_of(result, "audit-pinned")
    assert (pinned["gate"], pinned["unjudged_pod_creations"]) == ("no-evidence", 1)
    # with the pod logged, the engine judges it at restricted
    with_pod = _pod_event(8)
    with_pod["annotations"] = dict(event["annotations"])
    judged = ns_of(collect([with_pod], plan_for("latest")), "audit-pinned")
    assert judged["gate"] == "blocked" and "privileged" in judged["violators"][0]["checks"]


def test_namespace_label_changes_in_the_log_are_followed() -> None:
    # line 16 patches audit-pinned's audit label to restricted: a clean Metadata-only pod
    # after it counts as clean at restricted
    patch = events(V136)[15]
    event = _pod_event(8, level="Metadata")
    event.pop("requestObject")
    event["annotations"] = {"pod-security.kubernetes.io/enforce-policy": "privileged:latest"}
    event["requestReceivedTimestamp"] = "2026-12-01T20:41:05.000000Z"
    result = collect([patch, event], plan_for("latest"))
    pinned = ns_of(result, "audit-pinned")
    assert (pinned["gate"], pinned["pod_creations"]) == ("ready", 1)


def test_failed_requests_and_watch_stages_are_not_counted() -> None:
    denied = _pod_event(5)
    denied["responseStatus"] = {"code": 403}
    started = _pod_event(5, stage="ResponseStarted")
    result = collect([denied, started], plan_for("latest"))
    assert ns_of(result, "audit-demo")["pod_creations"] == 0


# -- reading ----------------------------------------------------------------------------------


def test_reader_parses_only_lines_with_a_needle(tmp_path: Path) -> None:
    unrelated = json.dumps({"kind": "Event", "auditID": "x", "stage": "ResponseComplete",
                            "verb": "get", "objectRef": {"resource": "configmaps"}})
    log = tmp_path / "audit.log"
    log.write_text("\n".join([unrelated] * 1000 + lines(V136) + [unrelated]) + "\n")
    stats = LogStats()
    found = list(read_events([str(log)], stats))
    assert len(found) == 16  # every recorded line names a pod-security annotation or label
    assert stats.parsed_lines == 16
    assert stats.bytes_read == log.stat().st_size == stats.bytes_total


def test_malformed_lines_are_counted_and_named(tmp_path: Path) -> None:
    text = lines(V136)
    text.insert(3, text[3][:-50])  # a line cut short (its annotations hold a needle)
    text.insert(5, '{"pod-security.kubernetes.io/": "not an event"}')
    log = tmp_path / "audit.log"
    log.write_text("\n".join(text))  # no newline at the end
    stats = LogStats()
    found = list(read_events([str(log)], stats))
    assert len(found) == 16
    assert stats.malformed == 2
    assert stats.malformed_lines[0].startswith(f"{log}:4: not valid JSON")
    assert stats.malformed_lines[1] == f"{log}:6: not an audit event"


def test_rotated_gzip_folders_in_time_order(tmp_path: Path) -> None:
    evts = lines(V136)
    (tmp_path / "audit.log").write_text("\n".join(evts[10:]) + "\n")
    (tmp_path / "audit.log.1").write_text("\n".join(evts[5:10]) + "\n")
    with gzip.open(tmp_path / "audit.log.2.gz", "wt") as handle:
        handle.write("\n".join(evts[:5]) + "\n")
    assert [Path(p).name for p in log_files([str(tmp_path)])] == [
        "audit.log.2.gz", "audit.log.1", "audit.log"]
    stats = LogStats()
    found = list(read_events([str(tmp_path)], stats))
    assert [e["auditID"] for e in found] == [
        json.loads(line)["auditID"] for line in evts if "pod-security.kubernetes.io/" in line]
    assert stats.bytes_read == sum(p.stat().st_size for p in tmp_path.iterdir())


def test_lumberjack_backups_sort_by_their_time(tmp_path: Path) -> None:
    for name in ("audit.log", "audit-2026-12-01T10-00-00.000.log.gz",
                 "audit-2026-11-30T10-00-00.000.log"):
        (tmp_path / name).write_text("")
    assert [Path(p).name for p in log_files([str(tmp_path)])] == [
        "audit-2026-11-30T10-00-00.000.log", "audit-2026-12-01T10-00-00.000.log.gz",
        "audit.log"]


def test_webhook_eventlist_batches(tmp_path: Path) -> None:
    evts = events(V124)
    batch = {"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "metadata": {},
             "items": evts}
    one_line = tmp_path / "batches.jsonl"
    one_line.write_text(json.dumps({**batch, "items": evts[:7]}) + "\n"
                        + json.dumps({**batch, "items": evts[7:]}) + "\n")
    pretty = tmp_path / "batch.json"
    pretty.write_text(json.dumps(batch, indent=2))
    for path in (one_line, pretty):
        stats = LogStats()
        found = list(read_events([str(path)], stats))
        assert len(found) == 15 and stats.malformed == 0
        result = collect(found, plan_for("v1.24"))
        assert ns_of(result, "audit-demo")["violating_pod_creations"] == 2


def test_stdin_gzip_and_truncated_gzip(tmp_path: Path) -> None:
    data = gzip.compress(V136.read_bytes())
    stats = LogStats()
    found = list(read_events(["-"], stats, stdin=io.BufferedReader(io.BytesIO(data))))
    assert len(found) == 16 and stats.files == ["-"]
    cut = tmp_path / "audit.log.1.gz"
    cut.write_bytes(data[: len(data) // 2])
    stats = LogStats()
    list(read_events([str(cut)], stats))
    assert len(stats.unreadable) == 1 and str(cut) in stats.unreadable[0]


def test_missing_path_is_named() -> None:
    with pytest.raises(ManifestError, match="nope.log: no such file"):
        list(read_events(["nope.log"], LogStats()))


@pytest.mark.parametrize("block", [64, 1000, 4 << 20])
def test_block_boundaries_do_not_change_what_is_read(tmp_path: Path, block: int,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import migrator.files.auditlog as auditlog

    monkeypatch.setattr(auditlog, "BLOCK", block)
    text = lines(V136)
    text.insert(8, text[8][:-3])
    text.insert(12, text[12][:-3])
    log = tmp_path / "audit.log"
    log.write_text("\n".join(text) + "\n")
    stats = LogStats()
    found = list(read_events([str(log)], stats))
    assert [e["auditID"] for e in found] == [json.loads(t)["auditID"] for t in lines(V136)]
    assert [m.split(": ")[0] for m in stats.malformed_lines] == [f"{log}:9", f"{log}:13"]
    # stdin is counted as it is read, with the same numbers
    stats = LogStats()
    piped = io.BufferedReader(io.BytesIO(log.read_bytes()))
    assert len(list(read_events(["-"], stats, stdin=piped))) == 16
    assert [m.split(": ")[0] for m in stats.malformed_lines] == ["stdin:9", "stdin:13"]


def test_metadata_only_clean_pods_settle_at_the_audit_level_the_window_shows() -> None:
    # audit-pinned's plan knows an audit label of baseline: v1.24; a recorded baseline
    # violation shows it; clean Metadata-only pods count as clean for a baseline plan, in
    # whatever order the lines come
    plan = plan_for("latest")
    for ns in plan["namespaces"]:
        if ns["name"] == "audit-pinned":
            ns["recommended"]["enforce"] = "baseline"
            ns["current_policy"]["audit"] = "privileged:latest"  # stale plan: not known
    clean = _pod_event(8, level="Metadata")
    clean.pop("requestObject")
    clean["annotations"] = {"pod-security.kubernetes.io/enforce-policy": "privileged:latest"}
    violating = _pod_event(15, level="Metadata")
    violating.pop("requestObject")
    for order in ([clean, violating], [violating, clean]):
        pinned = ns_of(collect(order, plan), "audit-pinned")
        assert (pinned["gate"], pinned["unjudged_pod_creations"]) == ("blocked", 0)
    alone = ns_of(collect([clean], plan), "audit-pinned")
    assert (alone["gate"], alone["unjudged_pod_creations"]) == ("no-evidence", 1)


def test_metadata_only_clean_pods_can_clear_a_gate() -> None:
    plan = plan_for("latest")
    for ns in plan["namespaces"]:
        if ns["name"] == "audit-demo":
            ns["current_policy"]["audit"] = "privileged:latest"  # the plan predates phase 1
    evts = []
    for line in (4, 3):  # a restricted-only violation (recorded at restricted), a clean pod
        event = _pod_event(line, level="Metadata")
        event.pop("requestObject")
        evts.append(event)
    demo = ns_of(collect(evts, plan), "audit-demo")
    assert (demo["gate"], demo["pod_creations"], demo["unjudged_pod_creations"]) == (
        "ready", 2, 0)


def test_evidence_refusals() -> None:
    from migrator.plan.evidence import evidence_refusals

    plan = plan_for("latest")
    evidence = collect(events(V136), plan)
    names = [ns["name"] for ns in plan["namespaces"]]
    refused = evidence_refusals(plan, evidence, names)
    assert sorted(refused) == ["audit-demo", "audit-pinned", "quiet", "sandbox"]
    assert refused["audit-demo"].startswith("blocked: 2 pod creations of 6 violate")
    assert refused["quiet"].startswith("no evidence: no pod creation")
    for ns in plan["namespaces"]:
        if ns["name"] == "sandbox":
            ns["exempt"] = True  # exempt in the admission configuration: nothing to refuse
        if ns["name"] == "quiet":
            ns["recommended"]["enforce"] = "privileged"
        if ns["name"] == "audit-pinned":
            ns["recommended"]["enforce_version"] = "v1.30"  # not what the evidence judged
    refused = evidence_refusals(plan, evidence, names)
    assert sorted(refused) == ["audit-demo", "audit-pinned"]
    assert "judged it at restricted:latest, the plan enforces restricted:v1.30" in \
        refused["audit-pinned"]


def test_progress_reports_bytes_read(tmp_path: Path) -> None:
    first, second = tmp_path / "audit.log.1", tmp_path / "audit.log"
    first.write_bytes(V124.read_bytes())
    second.write_bytes(V136.read_bytes())
    seen: list[tuple[int, int | None]] = []
    list(read_events([str(tmp_path)], LogStats(), progress=lambda d, t: seen.append((d, t))))
    total = first.stat().st_size + second.stat().st_size
    assert seen[-1] == (total, total)
    assert all(t == total for _d, t in seen)
    assert [d for d, _t in seen] == sorted(d for d, _t in seen)


def test_generated_names_come_from_the_response_at_request_response_level() -> None:
    pod = _pod_event(5, level="RequestResponse")
    pod["objectRef"].pop("name")
    pod["requestObject"]["metadata"] = {"generateName": "agent-"}
    pod["responseObject"] = {"kind": "Pod", "metadata": {"name": "agent-x7k2p",
                                                          "generateName": "agent-"}}
    demo = ns_of(collect([pod], plan_for("latest")), "audit-demo")
    assert violators(demo) == [("Pod/agent-x7k2p", "admin", 1)]


def test_metadata_level_controller_requests_find_their_workload_by_name() -> None:
    # a ReplicaSet create at Metadata level (no requestObject), violating baseline, made by
    # the Deployment controller for the plan's Deployment tmpl-admin
    rs = _pod_event(6, level="Metadata")
    rs.pop("requestObject")
    rs["objectRef"] = {"resource": "replicasets", "namespace": "audit-demo",
                       "name": "tmpl-admin-7b9c6d5f4", "apiGroup": "apps", "apiVersion": "v1"}
    rs["user"] = {"username": "system:serviceaccount:kube-system:deployment-controller"}
    rs["annotations"] = dict(events(V136)[4]["annotations"])  # the privileged pod's verdict
    rs["annotations"].pop("pod-security.kubernetes.io/enforce-policy")
    # a Job of a CronJob the log names (its create, Metadata level too)
    cron = copy.deepcopy(rs)
    cron["objectRef"] = {"resource": "cronjobs", "namespace": "audit-demo", "name": "nightly"}
    cron["user"] = {"username": "ci"}
    job = copy.deepcopy(rs)
    job["objectRef"] = {"resource": "jobs", "namespace": "audit-demo", "name": "nightly-29410560"}
    job["user"] = {"username": "system:serviceaccount:kube-system:cronjob-controller"}
    other = copy.deepcopy(rs)
    other["objectRef"]["name"] = "unrelated-7b9c6d5f4"  # no such Deployment: stays a ReplicaSet
    for i, event in enumerate((cron, job, other)):
        event["auditID"] = f"request-{i}"
    demo = ns_of(collect([rs, job, cron, other], plan_for("latest")), "audit-demo")
    assert violators(demo) == [
        ("CronJob/nightly", "ci", 1),
        ("CronJob/nightly", "system:serviceaccount:kube-system:cronjob-controller", 1),
        ("Deployment/tmpl-admin", "system:serviceaccount:kube-system:deployment-controller", 1),
        ("ReplicaSet/unrelated-7b9c6d5f4",
         "system:serviceaccount:kube-system:deployment-controller", 1)]
    assert demo["gate"] == "blocked" and demo["violating_workload_writes"] == 4


def test_distinct_violators_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    import migrator.plan.evidence as evidence

    monkeypatch.setattr(evidence, "MAX_VIOLATORS", 3)
    evts = []
    for i in range(6):
        pod = _pod_event(5)
        pod["objectRef"]["name"] = f"ci-{i}"
        pod["auditID"] = f"ci-{i}"
        evts.append(pod)
    demo = ns_of(collect(evts, plan_for("latest")), "audit-demo")
    assert violators(demo) == [("Pod/(others)", "admin", 3), ("Pod/ci-0", "admin", 1),
                               ("Pod/ci-1", "admin", 1), ("Pod/ci-2", "admin", 1)]
    assert demo["violating_pod_creations"] == 6


def test_repeated_events_count_once(tmp_path: Path) -> None:
    # the same log given twice (a copy beside the original): every request counts once
    copy_of = tmp_path / "audit.log.1"
    copy_of.write_bytes(V136.read_bytes())
    stats = LogStats()
    found = list(read_events([str(V136), str(copy_of)], stats))
    once = collect(events(V136), plan_for("latest"))
    twice = collect(found, plan_for("latest"))
    assert twice["namespaces"] == once["namespaces"]
    assert (once["duplicate_events"], twice["duplicate_events"]) == (0, 13)  # lines 3-15


def test_odd_shapes_are_passed_over_not_fatal() -> None:
    """Every field of a real event replaced by a value of the wrong type: never a crash."""
    base = events(V136)[4]
    paths = [("verb",), ("stage",), ("objectRef",), ("objectRef", "namespace"),
             ("objectRef", "name"), ("objectRef", "resource"), ("annotations",),
             ("annotations", "pod-security.kubernetes.io/audit-violations"),
             ("annotations", "pod-security.kubernetes.io/enforce-policy"),
             ("user",), ("user", "username"), ("impersonatedUser",), ("responseStatus",),
             ("responseStatus", "code"), ("requestObject",), ("requestObject", "metadata"),
             ("requestObject", "metadata", "ownerReferences"),
             ("requestObject", "metadata", "labels"), ("requestObject", "spec"),
             ("requestObject", "spec", "containers"), ("requestReceivedTimestamp",),
             ("requestURI",)]
    odd_values: list[Any] = [None, 5, "x", [], ["x", 1], {}, {"a": 1}, True]
    for path in paths:
        for value in odd_values:
            event = copy.deepcopy(base)
            node = event
            for key in path[:-1]:
                node = node.setdefault(key, {}) if isinstance(node, dict) else {}
            if isinstance(node, dict):
                node[path[-1]] = value
            for plan in (plan_for("latest"), None):
                collect([event, events(V136)[15]], plan)


def test_crlf_binary_and_empty_files(tmp_path: Path) -> None:
    (tmp_path / "audit.log").write_bytes(V136.read_bytes().replace(b"\n", b"\r\n"))
    (tmp_path / "core.bin").write_bytes(bytes(range(256)) * 64
                                        + b"pod-security.kubernetes.io/\xff\xfe\n")
    (tmp_path / "empty.log").write_bytes(b"")
    stats = LogStats()
    found = list(read_events([str(tmp_path)], stats))
    assert len(found) == 16
    assert stats.malformed == 1 and stats.malformed_lines[0].startswith(
        f"{tmp_path / 'core.bin'}:")
    assert stats.unreadable == []


def test_unreadable_files_are_named_and_the_rest_read(tmp_path: Path) -> None:
    (tmp_path / "audit.log").write_bytes(V136.read_bytes())
    (tmp_path / "dangling.log").symlink_to(tmp_path / "gone.log")
    stats = LogStats()
    assert len(list(read_events([str(tmp_path)], stats))) == 16
    assert len(stats.unreadable) == 1 and "dangling.log" in stats.unreadable[0]
