"""Labels on a (loopback) cluster: server dry-run vs the plan, apply in phases, rollback.

The loopback server records every request; namespace PATCHes are answered for real
(merge patch, server-side apply with field managers, dryRun, preconditions), with the
PodSecurity warnings computed from the stored pods by the engine, as a real server would.
"""

from __future__ import annotations

import copy
import json
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from stored import read_plan, stored

sys.path.insert(0, str(Path(__file__).parent))

import fake_apiserver as fa  # noqa: E402
from edge import edged  # noqa: E402

from migrator.app.apply import (  # noqa: E402
    attach_server_dry_run,
    cmd_apply,
    cmd_rollback,
    default_rollback_path,
    load_plan,
)
from migrator.cluster.client import connect, read_inventory  # noqa: E402
from migrator.cluster.dryrun import (  # noqa: E402
    run_server_dry_runs,
    server_dry_run,
)
from migrator.cluster.labels import phase_labels  # noqa: E402
from migrator.errors import NamespaceError  # noqa: E402
from migrator.plan.decide import build_plan, pin_version  # noqa: E402
from migrator.pss.api import (  # noqa: E402
    LABEL_PREFIX,
    Level,
    LevelVersion,
    Version,
    policy_from_labels,
)
from migrator.pss.engine import evaluate  # noqa: E402
from migrator.pss.messages import PodVerdict, namespace_warnings  # noqa: E402

cmd_apply = edged(cmd_apply)
cmd_rollback = edged(cmd_rollback)

ROOT = Path(__file__).resolve().parents[1]
PLAN_SCHEMA = json.loads((ROOT / "schemas" / "plan.schema.json").read_text())
SIX = [LABEL_PREFIX + m + s for m in ("enforce", "audit", "warn") for s in ("", "-version")]


# ---------------------------------------------------------------------------------------
# a small cluster


def compliant_spec() -> dict[str, Any]:
    return {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{"name": "app", "image": "registry.example/app:1", "securityContext": {
            "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}],
    }


def agent_spec() -> dict[str, Any]:
    return {"hostNetwork": True, "containers": [
        {"name": "agent", "image": "registry.example/agent:1",
         "securityContext": {"privileged": True}}]}


def psa_evaluator(server: fa.FakeApiServer) -> fa.NamespaceEvaluator:
    """PodSecurity's check of existing pods on a namespace update, from the stored pods."""
    def check(name: str, old: dict[str, str], new: dict[str, str]) -> list[str]:
        before = policy_from_labels(old).policy.enforce
        after = policy_from_labels(new).policy.enforce
        if after == before or after.level is Level.PRIVILEGED:
            return []
        if after.version == before.version and not after.level.stricter_than(before.level):
            return []
        pods = sorted((p for p in server.objects("", "pods")
                       if p["metadata"]["namespace"] == name),
                      key=lambda p: p["metadata"]["name"])
        verdicts = [PodVerdict(p["metadata"]["name"],
                               evaluate(after.level, after.version, p["metadata"], p["spec"]))
                    for p in pods]
        texts = namespace_warnings(name, after, verdicts)
        head = [t for t in texts if t.startswith(("new PodSecurity", "existing pods"))]
        return head + sorted(t for t in texts if t not in head)  # upstream sorts pod lines
    return check


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[fa.FakeApiServer]:
    with fa.v1_36() as server:
        server.add(fa.namespace("shop"), fa.namespace("tools"), fa.namespace("gone"),
                   fa.namespace("payments", {LABEL_PREFIX + "enforce": "baseline"}))
        server.add(fa.pod("agent", "shop", spec=agent_spec()),
                   *(fa.pod(f"web-{i}", "shop") for i in (1, 2, 3)),
                   fa.pod("checkout", "payments", spec=compliant_spec()),
                   fa.pod("tool", "tools", spec=compliant_spec()))
        yield server


@pytest.fixture
def kubeconfig(tmp_path: Path, cluster: fa.FakeApiServer) -> str:
    return str(fa.write_kubeconfig(tmp_path, cluster.url))


def make_plan(kubeconfig: str) -> dict[str, Any]:
    with connect(kubeconfig) as client:
        inventory = read_inventory(client)
    return build_plan(inventory, pin=pin_version(inventory.server_version, None),
                      source="test")


@pytest.fixture
def plan(kubeconfig: str) -> dict[str, Any]:
    return make_plan(kubeconfig)


def write_plan(tmp_path: Path, plan: dict[str, Any]) -> str:
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    path = out / "plan.json"
    path.write_text(json.dumps(plan, indent=2), encoding="utf-8")
    return str(path)


@pytest.fixture
def plan_path(tmp_path: Path, plan: dict[str, Any]) -> str:
    return write_plan(tmp_path, plan)


class Output:
    def __init__(self) -> None:
        self.out: list[str] = []
        self.err: list[str] = []

    @property
    def text(self) -> str:
        return "\n".join(self.out + self.err)


def run_apply(plan_path: str, kubeconfig: str, phase: str, *, yes: bool = False,
              namespaces: list[str] | None = None,
              rollback: str | None = None) -> tuple[int, Output]:
    output = Output()
    code = cmd_apply(plan_path, phase, namespaces, yes, kubeconfig, None, rollback,
                     output.out.append, output.err.append)
    return code, output


def run_rollback(path: str, kubeconfig: str, *, yes: bool) -> tuple[int, Output]:
    output = Output()
    code = cmd_rollback(path, kubeconfig, None, yes, output.out.append, output.err.append)
    return code, output


def all_labels(server: fa.FakeApiServer) -> dict[str, dict[str, str]]:
    return {ns["metadata"]["name"]: server.namespace_labels(ns["metadata"]["name"])
            for ns in server.objects("", "namespaces")}


def by_name(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {ns["name"]: ns for ns in plan["namespaces"]}


def patches(server: fa.FakeApiServer) -> list[fa.Request]:
    found = server.non_get_requests()
    assert all(r.method == "PATCH" for r in found)
    return found


# ---------------------------------------------------------------------------------------
# the requests have the recorded shape


def test_server_dry_run_sends_the_recorded_request(cluster: fa.FakeApiServer,
                                                   kubeconfig: str) -> None:
    recording = fa.load_recording("ns-dryrun-restricted.json")
    cluster.serve_recording(recording)
    cluster.serve_namespace_patches()  # for the missing namespace: 404
    with connect(kubeconfig) as client:
        verdict = server_dry_run(client, "shop", {LABEL_PREFIX + "enforce": "restricted"},
                                 level_version=LevelVersion(Level.RESTRICTED, Version.latest()))
        with pytest.raises(NamespaceError) as missing:
            server_dry_run(client, "nope",
                           level_version=LevelVersion(Level.RESTRICTED, Version.latest()))
    assert missing.value.status == 404
    assert [(g.pod, g.count) for g in verdict.groups] == [("agent", 1), ("web-1", 3)]
    sent = [r for r in patches(cluster) if r.path == "/api/v1/namespaces/shop"]
    assert len(sent) == 1
    assert sent[0].query == recording["request"]["query"]
    assert sent[0].header("Content-Type") == recording["request"]["headers"]["Content-Type"]
    assert sent[0].json() == recording["request"]["body"]
    default = [r for r in patches(cluster) if r.path == "/api/v1/namespaces/nope"]
    assert default[0].json() == {"metadata": {"labels": {
        LABEL_PREFIX + "enforce": "restricted", LABEL_PREFIX + "enforce-version": "latest"}}}


def test_apply_dry_run_sends_the_recorded_server_side_apply(
    cluster: fa.FakeApiServer, kubeconfig: str, plan: dict[str, Any], tmp_path: Path
) -> None:
    recording = fa.load_recording("ns-dryrun-server-side-apply.json")
    cluster.serve_recording(recording)
    labels = by_name(plan)["shop"]["labels"]
    labels[LABEL_PREFIX + "enforce"] = "baseline"
    code, output = run_apply(write_plan(tmp_path, plan), kubeconfig, "enforce",
                             namespaces=["shop"])
    assert code == 0, output.text
    sent = patches(cluster)
    assert len(sent) == 1
    recorded = recording["request"]
    assert sent[0].query == recorded["query"]
    assert sent[0].header("Content-Type") == recorded["headers"]["Content-Type"]
    body, expected = json.loads(sent[0].body), json.loads(recorded["body"])
    assert {k: body[k] for k in ("apiVersion", "kind")} == \
        {k: expected[k] for k in ("apiVersion", "kind")}
    assert body["metadata"]["name"] == expected["metadata"]["name"]
    assert set(expected["metadata"]["labels"]) <= set(body["metadata"]["labels"])
    assert ("shop: server warning: existing pods in namespace \"shop\" violate the new "
            "PodSecurity enforce level \"baseline:v1.36\"") in output.out
    assert "shop: server warning: agent: host namespaces, privileged" in output.out


# ---------------------------------------------------------------------------------------
# apply


def test_dry_run_persists_nothing(cluster: fa.FakeApiServer, kubeconfig: str,
                                  plan_path: str, tmp_path: Path) -> None:
    cluster.serve_namespace_patches(psa_evaluator(cluster))
    before = all_labels(cluster)
    cluster.clear_requests()
    code, output = run_apply(plan_path, kubeconfig, "audit")
    assert code == 0, output.text
    sent = patches(cluster)
    assert sent and all(r.query.get("dryRun") == "All" for r in sent)
    assert all(r.query.get("fieldManager") == "migrator" for r in sent)
    assert all_labels(cluster) == before
    assert "shop: pod-security.kubernetes.io/audit: (unset) -> baseline" in output.out
    assert "shop: pod-security.kubernetes.io/warn-version: (unset) -> latest" in output.out
    # the audit phase touches no enforce label
    assert not any("/enforce" in line for line in output.out if line.startswith("shop:"))
    assert any(line.startswith("dry run: nothing was changed") for line in output.out)
    assert list((tmp_path / "out").glob("rollback-*.json")) == []


def test_yes_writes_the_rollback_file_first_then_exactly_the_applies(
    cluster: fa.FakeApiServer, kubeconfig: str, plan: dict[str, Any], plan_path: str,
    tmp_path: Path,
) -> None:
    rollback = tmp_path / "rollback.json"
    file_there: list[bool] = []

    def guard(request: fa.Request) -> None:
        file_there.append(rollback.is_file())
        return None

    cluster.on("PATCH", re.compile(r"/api/v1/namespaces/[^/]+"), guard)
    cluster.serve_namespace_patches(psa_evaluator(cluster))
    before = all_labels(cluster)
    cluster.clear_requests()
    code, output = run_apply(plan_path, kubeconfig, "enforce", yes=True,
                             namespaces=["shop", "tools"], rollback=str(rollback))
    assert code == 0, output.text
    sent = patches(cluster)
    # enforce: first the evidence (a dry-run of each write), then the rollback file, then
    # exactly the writes
    evidence = [r for r in sent if r.query.get("dryRun") == "All"]
    sent = [r for r in sent if r not in evidence]
    assert [r.path for r in evidence] == ["/api/v1/namespaces/shop", "/api/v1/namespaces/tools"]
    assert sorted(r.path for r in sent) == ["/api/v1/namespaces/shop", "/api/v1/namespaces/tools"]
    assert file_there == [False, False, True, True]
    for request in sent:
        name = request.path.rsplit("/", 1)[1]
        assert request.query == {"fieldManager": "migrator"}
        assert request.header("Content-Type") == "application/apply-patch+yaml"
        body = json.loads(request.body)
        assert body["apiVersion"] == "v1" and body["kind"] == "Namespace"
        assert body["metadata"]["name"] == name
        assert body["metadata"]["labels"] == by_name(plan)[name]["labels"]
        assert body["metadata"]["resourceVersion"]
    after = all_labels(cluster)
    for name in ("shop", "tools"):
        assert after[name] == {**before[name], **by_name(plan)[name]["labels"]}
    assert after["payments"] == before["payments"]
    record = json.loads(rollback.read_text())
    assert record["schema"] == "migrator.rollback/v1"
    assert record["namespaces"]["shop"]["previous"] == dict.fromkeys(SIX)
    assert record["namespaces"]["shop"]["applied"] == by_name(plan)["shop"]["labels"]
    assert f"previous values saved to {rollback}" in output.out[-1]


def test_rerun_is_idempotent(cluster: fa.FakeApiServer, kubeconfig: str,
                             plan_path: str, tmp_path: Path) -> None:
    cluster.serve_namespace_patches(psa_evaluator(cluster))
    code, output = run_apply(plan_path, kubeconfig, "enforce", yes=True,
                             rollback=str(tmp_path / "first.json"))
    assert code == 0, output.text
    cluster.clear_requests()
    code, output = run_apply(plan_path, kubeconfig, "enforce", yes=True,
                             rollback=str(tmp_path / "second.json"))
    assert code == 0, output.text
    assert cluster.non_get_requests() == []
    assert not (tmp_path / "second.json").exists()
    assert output.out[-1] == "nothing to change"
    code, output = run_apply(plan_path, kubeconfig, "audit")  # nothing left for audit either
    assert code == 0 and cluster.non_get_requests() == []


def test_rollback_restores_the_recorded_state(cluster: fa.FakeApiServer, kubeconfig: str,
                                              plan_path: str, tmp_path: Path) -> None:
    cluster.serve_namespace_patches(psa_evaluator(cluster))
    before = all_labels(cluster)
    rollback = str(tmp_path / "rollback.json")
    code, output = run_apply(plan_path, kubeconfig, "enforce", yes=True, rollback=rollback)
    assert code == 0, output.text
    applied = all_labels(cluster)
    assert applied != before
    cluster.clear_requests()
    code, output = run_rollback(rollback, kubeconfig, yes=False)
    assert code == 0, output.text
    assert all(r.query.get("dryRun") == "All" for r in patches(cluster))
    assert all_labels(cluster) == applied
    assert "shop: pod-security.kubernetes.io/enforce: privileged -> (unset)" in output.out
    assert "payments: pod-security.kubernetes.io/enforce: restricted -> baseline" in output.out
    cluster.clear_requests()
    code, output = run_rollback(rollback, kubeconfig, yes=True)
    assert code == 0, output.text
    sent = patches(cluster)
    assert sent and all(r.header("Content-Type") == "application/merge-patch+json"
                        and r.query == {"fieldManager": "migrator"} for r in sent)
    assert all_labels(cluster) == before
    shop = next(json.loads(r.body) for r in sent if r.path.endswith("/shop"))
    assert shop["metadata"]["labels"] == dict.fromkeys(SIX)
    cluster.clear_requests()
    code, output = run_rollback(rollback, kubeconfig, yes=True)
    assert code == 0 and cluster.non_get_requests() == []


def test_conflicting_owner_is_taken_over_and_reported(
    cluster: fa.FakeApiServer, kubeconfig: str, plan_path: str, tmp_path: Path
) -> None:
    cluster.serve_namespace_patches(psa_evaluator(cluster))  # payments: enforce by kubectl-label
    cluster.clear_requests()
    code, output = run_apply(plan_path, kubeconfig, "enforce", yes=True,
                             namespaces=["payments"], rollback=str(tmp_path / "rb.json"))
    assert code == 0, output.text
    sent = patches(cluster)
    assert [r.query for r in sent] == [  # the evidence (a dry-run), then the write
        {"dryRun": "All", "fieldManager": "migrator"},
        {"dryRun": "All", "fieldManager": "migrator", "force": "true"},
        {"fieldManager": "migrator"}, {"fieldManager": "migrator", "force": "true"}]
    assert any("took over from another field manager" in line and "kubectl-label" in line
               for line in output.out)
    assert cluster.namespace_labels("payments")[LABEL_PREFIX + "enforce"] == "restricted"


def test_audit_after_enforce_keeps_the_enforce_labels(
    cluster: fa.FakeApiServer, kubeconfig: str, plan: dict[str, Any], tmp_path: Path
) -> None:
    cluster.serve_namespace_patches(psa_evaluator(cluster))
    path = write_plan(tmp_path, plan)
    code, output = run_apply(path, kubeconfig, "enforce", yes=True, namespaces=["shop"],
                             rollback=str(tmp_path / "one.json"))
    assert code == 0, output.text
    changed = copy.deepcopy(plan)
    by_name(changed)["shop"]["labels"][LABEL_PREFIX + "audit"] = "restricted"
    path = write_plan(tmp_path, changed)
    code, output = run_apply(path, kubeconfig, "audit", yes=True, namespaces=["shop"],
                             rollback=str(tmp_path / "two.json"))
    assert code == 0, output.text
    assert output.out[1] == "shop: pod-security.kubernetes.io/audit: baseline -> restricted"
    labels = cluster.namespace_labels("shop")
    assert labels[LABEL_PREFIX + "enforce"] == "privileged"
    assert labels[LABEL_PREFIX + "audit"] == "restricted"
    two = json.loads((tmp_path / "two.json").read_text())
    assert two["namespaces"] == {"shop": {
        "previous": {LABEL_PREFIX + "audit": "baseline"},
        "applied": {LABEL_PREFIX + "audit": "restricted"}}}


def test_forbidden_patch_is_a_clear_error(cluster: fa.FakeApiServer, kubeconfig: str,
                                          plan_path: str, tmp_path: Path) -> None:
    cluster.serve_recording("ns-dryrun-forbidden.json")  # PATCH namespaces/tools: 403
    cluster.serve_namespace_patches(psa_evaluator(cluster))
    for yes in (False, True):
        code, output = run_apply(plan_path, kubeconfig, "enforce", yes=yes,
                                 namespaces=["tools", "shop"],
                                 rollback=str(tmp_path / f"rb-{yes}.json"))
        assert code == 2
        errors = [line for line in output.err if line.startswith("error:")]
        assert len(errors) == 1
        assert errors[0].startswith("error: no permission to patch namespace tools: ")
        assert 'cannot patch resource "namespaces"' in errors[0]
        assert "1 namespace failed" in output.text
    # enforce needs the dry-run's evidence for every namespace first: without it for
    # tools, nothing is written anywhere, and no rollback file is left
    assert "stopped before changing anything" in output.text
    assert LABEL_PREFIX + "enforce" not in cluster.namespace_labels("shop")
    assert LABEL_PREFIX + "enforce" not in cluster.namespace_labels("tools")
    assert not (tmp_path / "rb-True.json").exists()


def test_missing_namespace_is_skipped(cluster: fa.FakeApiServer, kubeconfig: str,
                                      plan_path: str, tmp_path: Path) -> None:
    assert cluster.remove("Namespace", "gone")
    cluster.serve_namespace_patches(psa_evaluator(cluster))
    cluster.clear_requests()
    code, output = run_apply(plan_path, kubeconfig, "enforce", yes=True,
                             rollback=str(tmp_path / "rb.json"))
    assert code == 0, output.text
    assert "gone: namespace gone is in the plan but not in the cluster: skipped" in output.err
    assert all(not r.path.endswith("/gone") for r in patches(cluster))
    assert "gone" not in json.loads((tmp_path / "rb.json").read_text())["namespaces"]


def test_namespace_changed_between_read_and_write(
    cluster: fa.FakeApiServer, kubeconfig: str, plan_path: str, tmp_path: Path
) -> None:
    cluster.serve_namespace_patches(psa_evaluator(cluster))

    def meddle(_request: fa.Request) -> None:
        changed = fa.namespace("shop", {"team": "shop"})
        changed["metadata"]["resourceVersion"] = "7"
        cluster.add(changed)
        return None

    cluster._hooks.insert(0, fa._Hook("PATCH", "/api/v1/namespaces/shop", meddle, 1))
    code, output = run_apply(plan_path, kubeconfig, "enforce", yes=True, namespaces=["shop"],
                             rollback=str(tmp_path / "rb.json"))
    assert code == 2
    assert any("namespace shop changed while migrator worked on it" in line
               for line in output.err)
    assert cluster.namespace_labels("shop") == {"kubernetes.io/metadata.name": "shop",
                                                "team": "shop"}


def test_bad_plans_and_arguments_are_one_line(tmp_path: Path, plan: dict[str, Any]) -> None:
    nowhere = str(tmp_path / "no-kubeconfig")
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{\n  \"schema\": ", encoding="utf-8")
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"schema": "something/v9"}), encoding="utf-8")
    good = write_plan(tmp_path, plan)
    cases = [
        (str(tmp_path / "missing.json"), "audit", None, "no such file"),
        (str(tmp_path), "audit", None, "plan.json: no such file"),
        (str(bad_json), "audit", None, "bad.json:2: not valid JSON"),
        (str(other), "audit", None, 'schema "something/v9", expected migrator.plan/v2'),
        (good, "everything", None, "unknown phase 'everything'"),
        (good, "audit", ["nope"], "not in the plan: nope"),
    ]
    for path, phase, namespaces, message in cases:
        output = Output()
        code = cmd_apply(path, phase, namespaces, True, nowhere, None, None,
                         output.out.append, output.err.append)
        assert code == 2
        assert output.out == [] and len(output.err) == 1, output.err
        assert output.err[0].startswith("error: ") and message in output.err[0], output.err
    broken = copy.deepcopy(plan)
    broken["namespaces"][0]["labels"][LABEL_PREFIX + "enforce"] = "strict"
    output = Output()
    code = cmd_apply(write_plan(tmp_path, broken), "enforce", None, False, nowhere, None, None,
                     output.out.append, output.err.append)
    assert code == 2 and "must be one of privileged, baseline, restricted" in output.err[0]


def test_existing_rollback_file_is_refused(cluster: fa.FakeApiServer, kubeconfig: str,
                                           plan_path: str, tmp_path: Path) -> None:
    taken = tmp_path / "taken.json"
    taken.write_text("{}", encoding="utf-8")
    cluster.clear_requests()
    code, output = run_apply(plan_path, kubeconfig, "audit", yes=True, rollback=str(taken))
    assert code == 2 and "taken.json exists" in output.err[0]
    assert cluster.requests == []
    assert taken.read_text() == "{}"


def test_default_rollback_path_and_plan_folder(plan_path: str) -> None:
    from datetime import UTC, datetime

    when = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
    folder = os.path.dirname(plan_path)
    expected = os.path.join(folder, "rollback-enforce-20250304T050607Z.json")
    assert default_rollback_path(plan_path, "enforce", when) == expected
    assert default_rollback_path(folder, "enforce", when) == expected
    assert load_plan(folder)["schema"] == "migrator.plan/v2"
    assert set(phase_labels(load_plan(plan_path), "audit")["shop"]) == {
        LABEL_PREFIX + k for k in ("audit", "audit-version", "warn", "warn-version")}


def test_bad_rollback_files(tmp_path: Path) -> None:
    nowhere = str(tmp_path / "no-kubeconfig")
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"schema": "migrator.rollback/v1", "namespaces": {
        "shop": {"previous": {"team": None}}}}), encoding="utf-8")
    for path, message in ((str(tmp_path / "none.json"), "no such file"),
                          (str(wrong), "not a Pod Security label: team")):
        code, output = run_rollback(path, nowhere, yes=True)
        assert code == 2 and len(output.err) == 1 and message in output.err[0]


def test_rollback_refuses_another_cluster(cluster: fa.FakeApiServer, kubeconfig: str,
                                          tmp_path: Path) -> None:
    record = tmp_path / "rb.json"
    record.write_text(json.dumps({
        "schema": "migrator.rollback/v1", "server": "https://elsewhere.example:6443",
        "namespaces": {"shop": {"previous": {LABEL_PREFIX + "enforce": None}}}}))
    cluster.serve_namespace_patches()
    code, output = run_rollback(str(record), kubeconfig, yes=True)
    assert code == 2 and "was written for https://elsewhere.example:6443" in output.err[0]
    code, output = run_rollback(str(record), kubeconfig, yes=False)
    assert code == 0 and output.err[0].startswith("warning: ")


# ---------------------------------------------------------------------------------------
# server dry-run


def schema_with_server_dry_run() -> dict[str, Any]:
    """plan.schema.json, the one declaration of the server dry-run's shape too."""
    return PLAN_SCHEMA


def tighten(plan: dict[str, Any], name: str, level: str = "restricted") -> None:
    """Propose a stricter enforce than the plan's, so the server has pods to judge."""
    by_name(plan)[name]["recommended"]["enforce"] = level


def dry_run(plan: dict[str, Any], kubeconfig: str) -> Output:
    output = Output()
    attach_server_dry_run(plan, kubeconfig, None, output.out.append, output.err.append)
    return output


def test_server_dry_run_agrees_with_the_plan(cluster: fa.FakeApiServer, kubeconfig: str,
                                             plan: dict[str, Any]) -> None:
    cluster.serve_namespace_patches(psa_evaluator(cluster))
    tighten(plan, "shop")
    before = all_labels(cluster)
    cluster.clear_requests()
    output = dry_run(plan, kubeconfig)
    assert output.err == []
    sent = patches(cluster)
    assert sent and all(r.query == {"dryRun": "All"} for r in sent)
    assert all(r.header("Content-Type") == "application/merge-patch+json" for r in sent)
    shop_patch = next(json.loads(r.body) for r in sent if r.path.endswith("/shop"))
    assert shop_patch == {"metadata": {"labels": {LABEL_PREFIX + "enforce": "restricted",
                                                  LABEL_PREFIX + "enforce-version": "v1.36"}}}
    assert all_labels(cluster) == before
    summary = plan["server_dry_run"]
    assert summary["disagreements"] == 0 and summary["errors"] == []
    assert summary["checked"] == summary["namespaces"] == len(plan["namespaces"])
    shop = by_name(plan)["shop"]["server_dry_run"]
    assert shop["evaluated"] and shop["agrees"] is True
    assert shop["server"]["groups"] == shop["offline"]["groups"] == [
        {"pod": "agent", "count": 1, "reasons": ["host namespaces", "privileged",
                                                 "allowPrivilegeEscalation != false",
                                                 "unrestricted capabilities",
                                                 "runAsNonRoot != true", "seccompProfile"]},
        {"pod": "web-1", "count": 3, "reasons": ["allowPrivilegeEscalation != false",
                                                 "unrestricted capabilities",
                                                 "runAsNonRoot != true", "seccompProfile"]}]
    assert shop["coverage"]["complete"] is True
    # kube-system and default stay privileged... or not: every namespace is accounted for
    assert set(summary["not_evaluated"]) | {n for n in by_name(plan)
                                           if by_name(plan)[n]["server_dry_run"]["evaluated"]} \
        == set(by_name(plan))
    jsonschema.validate(stored(plan), schema_with_server_dry_run())
    assert "0 disagreements" in output.out[0]


def test_server_dry_run_reports_disagreements(cluster: fa.FakeApiServer, kubeconfig: str,
                                              plan: dict[str, Any]) -> None:
    real = psa_evaluator(cluster)

    def lenient(name: str, old: dict[str, str], new: dict[str, str]) -> list[str]:
        return [t.replace("host namespaces, privileged, ", "host namespaces, ")
                for t in real(name, old, new)]

    cluster.serve_namespace_patches(lenient)
    tighten(plan, "shop")
    output = dry_run(plan, kubeconfig)
    summary = plan["server_dry_run"]
    assert summary["disagreements"] == 1 and summary["with_disagreements"] == ["shop"]
    found = by_name(plan)["shop"]["server_dry_run"]["disagreements"]
    assert [(d["kind"], d["pod"], d["offline_only"]) for d in found] == [
        ("reasons", "agent", ["privileged"])]
    assert len(output.err) == 1
    assert output.err[0].startswith("DISAGREEMENT shop (restricted:v1.36): agent: ")
    jsonschema.validate(stored(plan), schema_with_server_dry_run())


def test_server_dry_run_truncated_coverage(cluster: fa.FakeApiServer, kubeconfig: str,
                                           plan: dict[str, Any]) -> None:
    real = psa_evaluator(cluster)

    def truncated(name: str, old: dict[str, str], new: dict[str, str]) -> list[str]:
        texts = real(name, old, new)
        if name != "shop":
            return texts
        # the server reached web-1 and web-2 only
        return ["new PodSecurity enforce level only checked against the first 2 of 4 "
                "existing pods", texts[0],
                texts[2].replace("(and 2 other pods)", "(and 1 other pod)")]

    cluster.serve_namespace_patches(truncated)
    tighten(plan, "shop")
    output = dry_run(plan, kubeconfig)
    shop = by_name(plan)["shop"]["server_dry_run"]
    assert shop["disagreements"] == [] and shop["agrees"] is True
    assert shop["coverage"] == {"complete": False, "checked": 2, "total": 4, "offline_pods": 4,
                                "note": "server checked 2 of 4 pods"}
    assert plan["server_dry_run"]["incomplete_coverage"] == [
        {"namespace": "shop", "checked": 2, "total": 4, "note": "server checked 2 of 4 pods"}]
    assert output.err == ["INCOMPLETE shop: server checked 2 of 4 pods; pods beyond those "
                          "were not compared"]


def test_server_dry_run_errors_are_per_namespace(cluster: fa.FakeApiServer, kubeconfig: str,
                                                 plan: dict[str, Any]) -> None:
    cluster.serve_recording("ns-dryrun-forbidden.json")  # tools: 403
    cluster.serve_recording("ns-dryrun-invalid-level.json")  # shop: 422
    cluster.serve_namespace_patches(psa_evaluator(cluster))
    assert cluster.remove("Namespace", "gone")
    output = dry_run(plan, kubeconfig)
    errors = {e["namespace"]: e["message"] for e in plan["server_dry_run"]["errors"]}
    assert errors["tools"].startswith(
        "no permission to patch namespaces: server dry-run skipped for tools (")
    assert errors["gone"] == "namespace gone not found in the cluster"
    assert 'Invalid value: "strict"' in errors["shop"]
    assert set(errors) == {"tools", "gone", "shop"}
    assert plan["server_dry_run"]["checked"] == len(plan["namespaces"]) - 3
    assert len([line for line in output.err if line.startswith("error: ")]) == 3
    jsonschema.validate(stored(plan), schema_with_server_dry_run())


def test_server_dry_run_of_an_unchanged_enforce_is_not_evaluated(
    cluster: fa.FakeApiServer, kubeconfig: str, plan: dict[str, Any]
) -> None:
    cluster.serve_namespace_patches(psa_evaluator(cluster))
    payments = by_name(plan)["payments"]
    payments["recommended"]["enforce"], payments["recommended"]["enforce_version"] = \
        "baseline", "latest"  # what the namespace already enforces
    dry_run(plan, kubeconfig)
    entry = payments["server_dry_run"]
    assert entry["evaluated"] is False and entry["agrees"] is None
    assert "already baseline:latest" in entry["not_evaluated_because"]
    assert "payments" in plan["server_dry_run"]["not_evaluated"]


# ---------------------------------------------------------------------------------------
# a real cluster


@pytest.mark.cluster
def test_real_cluster_server_dry_run_agrees() -> None:
    kubeconfig = os.environ["MIGRATOR_TEST_KUBECONFIG"]
    plan = make_plan(kubeconfig)
    strict = copy.deepcopy(plan)
    for entry in strict["namespaces"]:
        entry["recommended"]["enforce"] = "restricted"
    for candidate in (plan, strict):
        with connect(kubeconfig) as client:
            results = run_server_dry_runs(client, candidate)
        problems = {name: [d["message"] for d in entry["disagreements"]
                           if d["kind"] != "exemption"]
                    for name, entry in results["namespaces"].items()}
        assert {n: p for n, p in problems.items() if p} == {}


def test_rollback_file_without_hard_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from migrator.errors import UsageError
    from migrator.files.rollback import write_new_file

    def no_links(_source: str, _target: str) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    target = tmp_path / "sub" / "rb.json"
    write_new_file(str(target), "{}\n")
    assert target.read_text() == "{}\n"
    assert [p.name for p in target.parent.iterdir()] == ["rb.json"]
    with pytest.raises(UsageError, match="exists"):
        write_new_file(str(target), "[]\n")
    assert target.read_text() == "{}\n"


# ---------------------------------------------------------------------------------------
# a plan belongs to one cluster


def _with_kube_system_uid(server: fa.FakeApiServer, uid: str) -> None:
    kube_system = fa.namespace("kube-system")
    kube_system["metadata"]["uid"] = uid
    server.add(kube_system)


def test_plan_records_the_cluster_and_apply_refuses_another(
    cluster: fa.FakeApiServer, tmp_path: Path
) -> None:
    _with_kube_system_uid(cluster, "uid-cluster-a")
    kubeconfig = str(fa.write_kubeconfig(tmp_path, cluster.url, context="prod"))
    plan = make_plan(kubeconfig)
    assert plan["cluster"]["identity"] == {"server": cluster.url, "context": "prod",
                                           "kube_system_uid": "uid-cluster-a"}
    jsonschema.validate(stored(plan), PLAN_SCHEMA)
    path = write_plan(tmp_path, plan)
    with fa.v1_36() as other:
        _with_kube_system_uid(other, "uid-cluster-b")
        other.add(fa.namespace("shop"), fa.namespace("tools"))
        other.serve_namespace_patches()
        other_config = str(fa.write_kubeconfig(tmp_path, other.url, context="staging",
                                               filename="other-kubeconfig"))
        for yes in (False, True):
            code, output = run_apply(path, other_config, "audit", yes=yes,
                                     rollback=str(tmp_path / f"rb-{yes}.json"))
            assert code == 2
            message = output.err[-1]
            assert message.startswith(f"error: {path} was made on {cluster.url} (context prod, "
                                      "kube-system uid uid-cluster-a), but the current cluster "
                                      f"is {other.url} (context staging, kube-system uid "
                                      "uid-cluster-b)")
            assert "--allow-other-cluster" in message and "(--context prod)" in message
            assert other.non_get_requests() == []
            assert not (tmp_path / f"rb-{yes}.json").exists()
        output = Output()
        code = cmd_apply(path, "audit", ["shop"], True, other_config, None,
                         str(tmp_path / "rb-allowed.json"), output.out.append,
                         output.err.append, allow_other_cluster=True)
        assert code == 0, output.text
        assert any(line.startswith("warning: ") and "going on as --allow-other-cluster"
                   in line for line in output.err)
        assert LABEL_PREFIX + "audit" in other.namespace_labels("shop")


def test_the_same_cluster_under_another_address_or_context_is_accepted(
    cluster: fa.FakeApiServer, kubeconfig: str, tmp_path: Path
) -> None:
    _with_kube_system_uid(cluster, "uid-cluster-a")
    cluster.serve_namespace_patches(psa_evaluator(cluster))
    plan = make_plan(kubeconfig)
    plan["cluster"]["identity"]["server"] = "https://old-name.example:6443"
    plan["cluster"]["identity"]["context"] = "renamed"
    code, output = run_apply(write_plan(tmp_path, plan), kubeconfig, "audit")
    assert code == 0, output.text


def test_a_plan_made_from_files_needs_allow_other_cluster(
    cluster: fa.FakeApiServer, kubeconfig: str, plan: dict[str, Any], tmp_path: Path
) -> None:
    plan["cluster"]["identity"] = None
    code, output = run_apply(write_plan(tmp_path, plan), kubeconfig, "audit")
    assert code == 2
    assert "was planned from files and records no cluster" in output.err[-1]


def test_rollback_compares_the_kube_system_uid(
    cluster: fa.FakeApiServer, kubeconfig: str, plan_path: str, tmp_path: Path
) -> None:
    _with_kube_system_uid(cluster, "uid-cluster-a")
    cluster.serve_namespace_patches(psa_evaluator(cluster))
    rollback = tmp_path / "rb.json"
    code, output = run_apply(plan_path, kubeconfig, "audit", yes=True, namespaces=["shop"],
                             rollback=str(rollback))
    assert code == 0, output.text
    record = json.loads(rollback.read_text())
    assert record["kube_system_uid"] == "uid-cluster-a"
    record["kube_system_uid"] = "uid-elsewhere"
    rollback.write_text(json.dumps(record))
    code, output = run_rollback(str(rollback), kubeconfig, yes=True)
    assert code == 2
    assert "the kube-system namespace UID differs (uid-elsewhere != uid-cluster-a)" in output.text


# ---------------------------------------------------------------------------------------
# a failed apply leaves no lie behind


def test_a_failed_write_is_left_out_of_the_rollback_file(
    cluster: fa.FakeApiServer, kubeconfig: str, plan_path: str, tmp_path: Path
) -> None:
    cluster.serve_recording("ns-dryrun-forbidden.json")  # PATCH namespaces/tools: 403
    cluster.serve_namespace_patches(psa_evaluator(cluster))
    rollback = tmp_path / "rb.json"
    code, output = run_apply(plan_path, kubeconfig, "audit", yes=True,
                             namespaces=["shop", "tools"], rollback=str(rollback))
    assert code == 2
    assert sorted(json.loads(rollback.read_text())["namespaces"]) == ["shop"]
    assert "1 namespace failed" in output.text
    assert f"undo with: migrator rollback {rollback} --yes" in output.text


def test_nothing_changed_leaves_no_rollback_file_and_no_undo(
    cluster: fa.FakeApiServer, kubeconfig: str, plan_path: str, tmp_path: Path
) -> None:
    cluster.respond("PATCH", re.compile(r"/api/v1/namespaces/(shop|tools)"), 403,
                    fa.status_body(403, "Forbidden", 'namespaces is forbidden: cannot patch '
                                   'resource "namespaces"'))
    rollback = tmp_path / "rb.json"
    code, output = run_apply(plan_path, kubeconfig, "audit", yes=True,
                             namespaces=["shop", "tools"], rollback=str(rollback))
    assert code == 2
    assert not rollback.exists()
    assert "undo" not in output.text and "previous values saved" not in output.text
    assert "nothing was changed; no rollback file was kept" in output.err


def test_a_write_whose_answer_was_lost_is_read_back(
    cluster: fa.FakeApiServer, kubeconfig: str, plan_path: str, tmp_path: Path
) -> None:
    cluster.serve_namespace_patches(psa_evaluator(cluster))

    def applied_then_timed_out(request: fa.Request) -> fa.Reply:
        cluster._patch_namespace(request)  # the write happens ...
        return fa.Reply.status_error(504, "Timeout", "the server was unable to return a "
                                     "response in the time allotted")  # ... the answer is lost

    cluster._hooks.insert(0, fa._Hook("PATCH", "/api/v1/namespaces/tools",
                                      applied_then_timed_out, 1))
    cluster._hooks.insert(0, fa._Hook("PATCH", "/api/v1/namespaces/shop", lambda _r:
                                      fa.Reply.status_error(504, "Timeout", "timed out"), 3))
    rollback = tmp_path / "rb.json"
    code, output = run_apply(plan_path, kubeconfig, "audit", yes=True,
                             namespaces=["shop", "tools"], rollback=str(rollback))
    assert code == 2, output.text  # shop really failed
    record = json.loads(rollback.read_text())
    assert sorted(record["namespaces"]) == ["tools"]
    assert any("reading the namespace back shows the labels were set" in line
               for line in output.out)


# ---------------------------------------------------------------------------------------
# enforce only on evidence


def test_enforce_stops_when_existing_pods_would_violate(
    cluster: fa.FakeApiServer, kubeconfig: str, plan_path: str, tmp_path: Path
) -> None:
    cluster.serve_namespace_patches(psa_evaluator(cluster))
    # after the plan, a privileged pod starts in tools (planned restricted)
    cluster.add(fa.pod("intruder", "tools", spec=agent_spec()))
    rollback = tmp_path / "rb.json"
    code, output = run_apply(plan_path, kubeconfig, "enforce", yes=True,
                             namespaces=["shop", "tools"], rollback=str(rollback))
    assert code == 1, output.text
    assert any(line.startswith("tools:   intruder: ") for line in output.err), output.text
    assert "pass --allow-violations" in output.text
    assert not rollback.exists()
    assert [r for r in cluster.non_get_requests() if r.query.get("dryRun") != "All"] == []
    assert LABEL_PREFIX + "enforce" not in cluster.namespace_labels("shop")
    output = Output()
    code = cmd_apply(plan_path, "enforce", ["tools"], True, kubeconfig, None, str(rollback),
                     output.out.append, output.err.append, allow_violations=True)
    assert code == 0, output.text
    assert cluster.namespace_labels("tools")[LABEL_PREFIX + "enforce"] == "restricted"


def test_a_plan_made_from_a_snapshot_still_belongs_to_its_cluster(
    cluster: fa.FakeApiServer, kubeconfig: str, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from migrator.cli.main import app

    _with_kube_system_uid(cluster, "uid-cluster-a")
    cluster.serve_namespace_patches(psa_evaluator(cluster))
    runner = CliRunner()
    snap = tmp_path / "snap.yaml"
    assert runner.invoke(app, ["snapshot", "--out", str(snap), "--kubeconfig",
                               kubeconfig]).exit_code == 0
    out = tmp_path / "offline"
    assert runner.invoke(app, ["plan", str(snap), "--out", str(out), "-q"]).exit_code == 0
    plan = read_plan(out / "plan.json")
    assert plan["cluster"]["identity"]["kube_system_uid"] == "uid-cluster-a"
    code, output = run_apply(str(out / "plan.json"), kubeconfig, "audit")
    assert code == 0, output.text
    with fa.v1_36() as other:
        _with_kube_system_uid(other, "uid-cluster-b")
        other_config = str(fa.write_kubeconfig(tmp_path, other.url, filename="other"))
        code, output = run_apply(str(out / "plan.json"), other_config, "audit")
        assert code == 2 and "kube-system namespace UID differs" in output.err[-1]


def test_a_stricter_label_is_kept_unless_lowering_is_allowed(
        cluster: fa.FakeApiServer, kubeconfig: str, tmp_path: Path) -> None:
    cluster.add(fa.namespace("locked", {LABEL_PREFIX + "enforce": "restricted"}),
                fa.pod("agent", "locked", spec=agent_spec()))
    plan = make_plan(kubeconfig)
    locked = by_name(plan)["locked"]
    assert locked["recommended"]["enforce"] == "privileged"
    assert locked["lowers_existing"] == {"current": "restricted", "recommended": "privileged"}
    path = write_plan(tmp_path, plan)
    cluster.serve_namespace_patches(psa_evaluator(cluster))
    cluster.clear_requests()
    code, output = run_apply(path, kubeconfig, "enforce", yes=True,
                             rollback=str(tmp_path / "rb.json"), namespaces=["locked", "tools"])
    assert code == 1, output.text  # refused: not everything the plan asked for was done
    assert any(line.startswith("locked: keeps pod-security.kubernetes.io/enforce=restricted")
               and "--allow-lower" in line for line in output.err)
    assert "1 namespace kept a stricter level (not lowered)" in output.text
    # the stricter enforce label and its version stay; audit and warn are set
    sent = [r.json() for r in patches(cluster) if r.path.endswith("/locked")]
    assert sent and all(LABEL_PREFIX + "enforce" not in body["metadata"]["labels"]
                        and LABEL_PREFIX + "enforce-version" not in body["metadata"]["labels"]
                        for body in sent)
    labels = cluster.namespace_labels("locked")
    assert labels[LABEL_PREFIX + "enforce"] == "restricted"
    assert labels[LABEL_PREFIX + "audit"] == locked["recommended"]["audit"]
    assert cluster.namespace_labels("tools")[LABEL_PREFIX + "enforce"] == \
        by_name(plan)["tools"]["recommended"]["enforce"]
    output = Output()
    code = cmd_apply(path, "enforce", ["locked"], True, kubeconfig, None,
                     str(tmp_path / "rb2.json"), output.out.append, output.err.append,
                     allow_lower=True)
    assert code == 0, output.text
    assert cluster.namespace_labels("locked")[LABEL_PREFIX + "enforce"] == "privileged"


def test_enforce_stops_when_the_server_checked_only_some_pods(
    cluster: fa.FakeApiServer, kubeconfig: str, plan_path: str, tmp_path: Path
) -> None:
    cluster.respond("PATCH", "/api/v1/namespaces/tools", 200, fa.namespace("tools"),
                    warnings=["new PodSecurity enforce level only checked against the first "
                              "3000 of 3200 existing pods"])
    rollback = tmp_path / "rb.json"
    code, output = run_apply(plan_path, kubeconfig, "enforce", yes=True, namespaces=["tools"],
                             rollback=str(rollback))
    assert code == 1, output.text
    assert "tools: the server checked only 3000 of 3200 existing pods" in output.err
    assert not rollback.exists()
    assert [r.query.get("dryRun") for r in cluster.non_get_requests()] == ["All"]
