"""The report's view model: headline, findings and gate rules, rejections at both policy
versions, the PSP/RBAC clean-up list, anchors, and server dry-run disagreements."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from demo import demo_inventory, demo_plan  # noqa: E402
from stored import stored  # noqa: E402

from migrator.model.inventory import Inventory
from migrator.report.model import (
    BLOCKED,
    READY,
    WARNINGS,
    anchor_of,
    build_report,
    gate,
    rbac_cleanup,
)


def namespace(plan: dict[str, Any], name: str) -> dict[str, Any]:
    return next(ns for ns in plan["namespaces"] if ns["name"] == name)


def subject(ns: dict[str, Any], ref: str) -> dict[str, Any]:
    return next(s for s in ns["subjects"] if f"{s['kind']}/{s['name']}" == ref)


VIOLATION = {"check": "hostPorts", "reason": "hostPort", "detail": "container \"x\" uses 80"}


def clean(plan: dict[str, Any]) -> dict[str, Any]:
    """The demo plan without its blockers and warnings."""
    plan = copy.deepcopy(plan)
    for ns in plan["namespaces"]:
        rejected = {b["object"] for b in ns["rejected_today"]}
        ns["subjects"] = [s for s in ns["subjects"]
                          if f"{s['kind']}/{s['name']}" not in rejected]
        ns["rejected_today"] = []
        ns["looser_than_psp"], ns["warnings"] = False, []
        for m in ns["mutation"]:
            m["passes_only_because_of_mutation"] = False
    for psp in plan["psps"]:
        psp["lost_guarantees"] = []
    return plan


# -- headline and status ---------------------------------------------------------------------


def test_demo_is_blocked_by_templates_psp_already_rejects() -> None:
    report = build_report(demo_plan(), inventory=demo_inventory())
    assert report["status"] == BLOCKED
    assert report["headline"] == (
        "Not ready to upgrade, 2 blockers: resolve 2 workload templates that PodSecurityPolicy "
        "already "
        "rejects (in batch and legacy) first.")
    blockers = [(f["rule"], f["namespace"]) for f in report["findings"]["blockers"]]
    assert blockers == [("rejected-today", "batch"), ("rejected-today", "legacy")]
    rules = {f["rule"] for f in report["findings"]["warnings"]}
    assert rules == {"mutation-only", "lost-guarantee"}
    assert report["counts"]["templates"] == 12 and report["counts"]["pods"] == 12


def test_ready_and_ready_with_warnings() -> None:
    plan = clean(demo_plan())
    report = build_report(plan)
    assert report["status"] == READY
    assert report["headline"].startswith("Ready to upgrade: every namespace can enforce")
    assert report["findings"] == {"blockers": [], "warnings": []}
    namespace(plan, "team-a")["mutation"][0]["passes_only_because_of_mutation"] = True
    report = build_report(plan)
    assert report["status"] == WARNINGS
    assert "review 1 warning first (passing only thanks to psp mutation)" in report["headline"]
    assert namespace(report, "team-a")["status"] == WARNINGS


def test_an_active_workload_the_enforce_label_rejects_is_a_blocker() -> None:
    plan = clean(demo_plan())
    ns = namespace(plan, "team-a")
    subject(ns, "Pod/web-6b7f9-4xz8m")["verdicts"]["baseline:v1.24"] = [VIOLATION]
    report = build_report(plan)
    assert report["status"] == BLOCKED
    [finding] = report["findings"]["blockers"]
    assert finding["rule"] == "enforce-rejects"
    assert finding["text"] == "Pod/web-6b7f9-4xz8m fails baseline at v1.24 (hostPorts)"
    view = namespace(report, "team-a")
    assert [r["object"] for r in view["rejected_at_pin"]] == ["Pod/web-6b7f9-4xz8m"]
    assert view["rejected_at_pin"][0]["violations"][0]["fix"]
    assert "1 active workload the recommended levels would reject (in team-a)" in \
        report["headline"]


def test_pods_fold_into_their_rejected_template() -> None:
    plan = clean(demo_plan())
    ns = namespace(plan, "team-a")
    # The two replicas of web are one pod shape: one subject with a count.
    assert subject(ns, "Pod/web-6b7f9-4xz8m")["count"] == 2
    for ref in ("Deployment/web", "Pod/web-6b7f9-4xz8m"):
        subject(ns, ref)["verdicts"]["baseline:v1.24"] = [VIOLATION]
    view = namespace(build_report(plan), "team-a")
    assert [(r["object"], r["pods"]) for r in view["rejected_at_pin"]] == [
        ("Deployment/web", ["web-6b7f9-4xz8m", "web-6b7f9-9p2lk"])]
    assert "pod_count" not in view["rejected_at_pin"][0]  # the names listed tell it


def test_new_checks_at_the_target_version_warn_before_the_upgrade() -> None:
    plan = clean(demo_plan())
    ns = namespace(plan, "payments")
    subject(ns, "Deployment/checkout")["verdicts"]["restricted:v1.36"] = [VIOLATION]
    report = build_report(plan)
    assert report["status"] == WARNINGS
    [finding] = report["findings"]["warnings"]
    assert finding["rule"] == "target-rejects"
    assert "fails restricted at v1.36" in finding["text"]
    assert "keep enforce-version at v1.24" in finding["text"]
    assert gate(report, "blockers") == []
    assert gate(report, "warnings") == [finding]


def test_exempt_namespaces_reject_nothing() -> None:
    plan = clean(demo_plan())
    ns = namespace(plan, "team-a")
    ns["exempt"] = True
    subject(ns, "Pod/web-6b7f9-4xz8m")["verdicts"]["baseline:v1.24"] = [VIOLATION]
    assert build_report(plan)["status"] == READY


# -- gate ------------------------------------------------------------------------------------------


def test_gate_rules() -> None:
    report = build_report(demo_plan())
    assert gate(report, None) == []
    assert len(gate(report, "blockers")) == 2
    assert len(gate(report, "warnings")) == 2 + len(report["findings"]["warnings"])
    with pytest.raises(ValueError):
        gate(report, "everything")
    assert set(report["fail_on_rules"]) == {"blockers", "warnings"}


def test_looser_than_psp_and_unreadable_warn() -> None:
    plan = clean(demo_plan())
    ns = namespace(plan, "legacy")
    ns["looser_than_psp"], ns["warnings"] = True, ["LOOSER THAN PSP: enforcing baseline ..."]
    plan["unreadable"] = [{"what": "pods in all namespaces", "reason": "forbidden: no",
                           "consequence": "running pods are not evaluated"}]
    report = build_report(plan)
    rules = [(f["rule"], f["subject"]) for f in report["findings"]["warnings"]]
    assert rules == [("looser-than-psp", "legacy"), ("unreadable", "pods in all namespaces")]


# -- server dry run ----------------------------------------------------------------------------------


def _ns_dry_run(level: str, *, disagreements: list[dict[str, Any]] | None = None,
                complete: bool = True, error: str | None = None) -> dict[str, Any]:
    """A namespace's server_dry_run as `migrator plan --server-dry-run` writes it."""
    return {
        "level": level, "labels": {"pod-security.kubernetes.io/enforce": level.split(":")[0]},
        "evaluated": error is None, "not_evaluated_because": None, "server": None,
        "offline": {"pods": 4, "violating_pods": 0, "groups": []},
        "coverage": None if error else {
            "complete": complete, "checked": 4 if complete else 2, "total": 4,
            "offline_pods": 4, "note": None if complete else "server checked 2 of 4 pods"},
        "disagreements": disagreements or [],
        "agrees": None if error else not disagreements,
        "error": error,
    }


DISAGREEMENT = {"kind": "reasons", "pod": "web-6b7f9-4xz8m", "server_reasons": "host ports",
                "offline_reasons": "", "server_count": 1, "offline_count": 0,
                "server_only": ["host ports"], "offline_only": [],
                "message": "the server rejects it (host ports); the plan expects it to pass"}


def server_dry_run_plan() -> dict[str, Any]:
    plan = clean(demo_plan())
    plan["server_dry_run"] = {
        "server": "https://127.0.0.1:6443", "context": "prod", "namespaces": 7, "checked": 7,
        "evaluated": 6, "agreeing": 4, "disagreements": 1, "with_disagreements": ["team-a"],
        "not_evaluated": ["legacy"],
        "incomplete_coverage": [{"namespace": "payments", "checked": 2, "total": 4,
                                 "note": "server checked 2 of 4 pods"}],
        "errors": [{"namespace": "legacy", "message": "403 Forbidden: cannot patch"}],
    }
    namespace(plan, "team-a")["server_dry_run"] = _ns_dry_run(
        "baseline:v1.24", disagreements=[DISAGREEMENT])
    namespace(plan, "payments")["server_dry_run"] = _ns_dry_run("restricted:v1.24",
                                                                complete=False)
    namespace(plan, "legacy")["server_dry_run"] = _ns_dry_run(
        "baseline:v1.24", error="403 Forbidden: cannot patch")
    return plan


def test_server_dry_run_shape_is_the_one_plan_writes() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((Path(__file__).resolve().parents[1] / "schemas"
                         / "plan.schema.json").read_text())
    jsonschema.validate(stored(server_dry_run_plan()), schema)


def test_server_disagreements_block_and_coverage_warns() -> None:
    report = build_report(server_dry_run_plan())
    assert report["status"] == BLOCKED
    [finding] = report["findings"]["blockers"]
    assert (finding["rule"], finding["namespace"]) == ("server-disagreement", "team-a")
    assert finding["text"] == ("web-6b7f9-4xz8m: the server rejects it (host ports); the plan "
                               "expects it to pass")
    warnings = [(f["rule"], f["namespace"], f["text"]) for f in report["findings"]["warnings"]]
    assert warnings == [
        ("server-incomplete", "payments",
         "server checked 2 of 4 pods: pods beyond those were not compared"),
        ("server-incomplete", "legacy", "server dry run failed: 403 Forbidden: cannot patch"),
    ]
    assert report["server_dry_run"]["text"] == (
        "The API server judged 6 of 7 namespaces (dryRun=All): 4 agree with the plan, "
        "1 disagreement.")
    view = namespace(report, "payments")["server_dry_run"]
    assert view["incomplete"] is True and view["coverage"] == "server checked 2 of 4 pods"
    assert "1 disagreement between offline and server verdicts (in team-a)" in report["headline"]


def test_summary_without_namespace_details_still_blocks() -> None:
    plan = server_dry_run_plan()
    namespace(plan, "team-a")["server_dry_run"] = None
    [finding] = build_report(plan)["findings"]["blockers"]
    assert finding["namespace"] == "team-a"
    assert finding["text"] == "the API server's verdict differs from the plan's"


def test_a_list_of_disagreements_is_also_understood() -> None:
    plan = clean(demo_plan())
    item = {"namespace": "team-a", "object": "Pod/web-6b7f9-4xz8m", "offline": "allowed",
            "server": "forbidden", "message": "host ports"}
    plan["server_dry_run"] = {"coverage": {"namespaces": 7}, "disagreements": [item]}
    [finding] = build_report(plan)["findings"]["blockers"]
    assert finding["text"] == ("object Pod/web-6b7f9-4xz8m; offline: allowed; server: forbidden; "
                               "host ports")


def test_a_plan_without_server_dry_run_has_none() -> None:
    assert build_report(demo_plan())["server_dry_run"] is None


# -- clean-up -------------------------------------------------------------------------------------------


def test_cleanup_lists_psps_roles_and_bindings_from_the_inventory() -> None:
    cleanup = rbac_cleanup(demo_plan(), demo_inventory())
    assert cleanup["psps"] == ["baseline", "ingress", "privileged", "restricted-mutating"]
    assert cleanup["cluster_roles"] == ["psp:baseline", "psp:ingress", "psp:privileged",
                                        "psp:restricted"]
    assert cleanup["cluster_role_bindings"] == ["psp:baseline:authenticated"]
    assert [(b["namespace"], b["name"]) for b in cleanup["role_bindings"]] == [
        ("ingress-nginx", "psp:ingress"), ("kube-system", "psp:privileged"),
        ("monitoring", "psp:privileged:node-exporter"), ("payments", "psp:restricted"),
        ("team-a", "psp:restricted")]
    assert "namespace-admin" not in cleanup["cluster_roles"]
    assert cleanup["commands"][0] == "kubectl delete clusterrolebinding psp:baseline:authenticated"
    assert cleanup["commands"][-1] == (
        "kubectl delete podsecuritypolicy baseline ingress privileged restricted-mutating")


def test_cleanup_edits_mixed_roles_and_keeps_aggregated_ones() -> None:
    inventory = Inventory()
    rule = {"apiGroups": ["policy"], "resources": ["podsecuritypolicies"], "verbs": ["use"]}
    inventory.add({"kind": "ClusterRole", "metadata": {"name": "mixed"},
                   "rules": [rule, {"apiGroups": [""], "resources": ["pods"],
                                    "verbs": ["get"]}]}, "f")
    inventory.add({"kind": "ClusterRole", "metadata": {"name": "everything"},
                   "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]}, "f")
    inventory.add({"kind": "Role", "metadata": {"name": "only-psp", "namespace": "a"},
                   "rules": [rule]}, "f")
    inventory.add({"kind": "RoleBinding", "metadata": {"name": "to-role", "namespace": "a"},
                   "roleRef": {"kind": "Role", "name": "only-psp"}}, "f")
    inventory.add({"kind": "RoleBinding", "metadata": {"name": "other-ns", "namespace": "b"},
                   "roleRef": {"kind": "Role", "name": "only-psp"}}, "f")
    inventory.add({"kind": "ClusterRoleBinding", "metadata": {"name": "to-mixed"},
                   "roleRef": {"kind": "ClusterRole", "name": "mixed"}}, "f")
    cleanup = rbac_cleanup({"psps": []}, inventory)
    assert cleanup["cluster_roles"] == []
    assert cleanup["roles"] == [{"namespace": "a", "name": "only-psp"}]
    assert cleanup["role_bindings"] == [{"namespace": "a", "name": "to-role"}]
    assert cleanup["cluster_role_bindings"] == []
    assert cleanup["edit"] == [{"kind": "ClusterRole", "namespace": None, "name": "mixed"}]


def test_a_plan_alone_names_the_rbac_to_delete() -> None:
    """The RBAC cleanup is computed when the plan is made, so plan.json alone is enough."""
    with_inventory = build_report(demo_plan(), inventory=demo_inventory())["cleanup"]
    alone = build_report(demo_plan())["cleanup"]
    assert alone == with_inventory
    assert alone["rbac_known"] is True and alone["cluster_roles"]


def test_an_older_plan_without_rbac_lists_only_psps_and_the_report_says_so() -> None:
    plan = demo_plan()
    del plan["rbac_cleanup"]
    report = build_report(plan)
    assert report["cleanup"]["rbac_known"] is False
    assert report["cleanup"]["cluster_roles"] == []
    step = next(s for s in report["rollout"] if s["id"] == "cleanup")
    assert "holds no RBAC objects" in step["text"]
    assert step["commands"] == [
        "kubectl delete podsecuritypolicy baseline ingress privileged restricted-mutating"]


def test_rollout_commands() -> None:
    report = build_report(demo_plan(), inventory=demo_inventory())
    steps = {s["id"]: s for s in report["rollout"]}
    assert list(steps) == ["fix", "audit", "watch", "enforce", "disable-psp", "cleanup"]
    # made from files: nothing names the cluster, so apply needs (and the step explains)
    # --allow-other-cluster
    audit = "migrator apply --plan plan.json --phase audit --allow-other-cluster"
    enforce = ("migrator apply --plan plan.json --phase enforce --evidence audit.json "
               "--allow-other-cluster")
    assert steps["audit"]["commands"] == [audit, audit + " --yes"]
    assert steps["enforce"]["commands"] == [enforce, enforce + " --yes"]
    assert "check that the current kubectl context" in steps["audit"]["text"]
    assert steps["watch"]["commands"][0] == (
        "migrator audit /var/log/kubernetes/audit/ --plan plan.json --since 7d --out audit.json")
    assert ("kubectl label --dry-run=server --overwrite namespace team-a "
            "pod-security.kubernetes.io/enforce=baseline "
            "pod-security.kubernetes.io/enforce-version=v1.24") in steps["watch"]["commands"]
    assert not any("kube-system" in c for c in steps["watch"]["commands"])  # privileged


def test_rollout_commands_name_the_context_the_plan_was_made_on() -> None:
    plan = copy.deepcopy(demo_plan())
    plan["cluster"]["identity"] = {"server": "https://prod:6443", "context": "prod eu",
                                   "kube_system_uid": "u"}
    report = build_report(plan, inventory=demo_inventory())
    commands = [c for step in report["rollout"] for c in step["commands"]]
    assert ("migrator apply --plan plan.json --phase enforce --evidence audit.json --context "
            "'prod eu' --yes") in commands
    assert all(c.startswith(("migrator apply", "migrator audit", "kubectl --context 'prod eu' "))
               for c in commands)
    assert any(c.startswith("kubectl --context 'prod eu' delete podsecuritypolicy")
               for c in commands)


# -- anchors and determinism ----------------------------------------------------------------------------------


def test_anchors() -> None:
    assert anchor_of("team-a") == "ns-team-a"
    odd = anchor_of("<script>&x")
    assert odd.startswith("ns-script-x-") and odd == anchor_of("<script>&x")
    assert anchor_of("<>") != anchor_of("&&")


def test_same_plan_same_report() -> None:
    first = json.dumps(build_report(demo_plan(), inventory=demo_inventory()))
    assert first == json.dumps(build_report(demo_plan(), inventory=demo_inventory()))
    assert '"generated_at": null' in first
    assert build_report(demo_plan(), generated_at="2024-05-01")["generated_at"] == "2024-05-01"
