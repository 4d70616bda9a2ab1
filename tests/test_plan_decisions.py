"""The plan's decisions against PSP admission: rejected today, practical levels, advice, labels.

The cluster in tests/data/decisions holds one case per rule: in `shop` a PSP that rejects
a privileged Deployment, forbids a hostPath CronJob and forbids privilege escalation; in
`jobs` a mutating PSP with a CronJob sibling of a running Deployment; in `ctrl` a PSP
granted only to the controller that creates Deployment pods, and a bare pod manifest; in
`strict` a namespace already stricter than its workloads.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from stored import stored

from migrator.errors import ManifestError
from migrator.files.source import read_files
from migrator.model.inventory import Inventory
from migrator.plan.decide import _floor, _loosest, _strictest, build_plan
from migrator.plan.survey import analyze_psps
from migrator.pss.api import Level, Version
from migrator.report.model import build_report

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "decisions"
SCHEMA = json.loads((ROOT / "schemas" / "plan.schema.json").read_text())


def load(*names: str) -> Inventory:
    errors: list[ManifestError] = []
    paths = [str(DATA / n) for n in names] if names else [str(DATA)]
    inventory = read_files(paths, errors)
    assert errors == []
    return inventory


@pytest.fixture(scope="module")
def plan() -> dict[str, Any]:
    return build_plan(load(), pin=Version.of(24))


def ns_of(plan: dict[str, Any], name: str) -> dict[str, Any]:
    return next(n for n in plan["namespaces"] if n["name"] == name)


def rejected(ns: dict[str, Any]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for entry in ns["rejected_today"]:
        out.setdefault(entry["object"], set()).add(entry["check"])
    return out


def test_plan_matches_its_schema(plan: dict[str, Any]) -> None:
    jsonschema.validate(stored(plan), SCHEMA)


def test_templates_the_psp_rejects_are_rejected_today_with_the_rule(plan: dict[str, Any]) -> None:
    shop = ns_of(plan, "shop")
    assert rejected(shop) == {
        "Deployment/debug": {"psp:spec.privileged"},
        "CronJob/logs-cleanup": {"psp:spec.volumes"},
        "Deployment/escalator": {"psp:spec.allowPrivilegeEscalation"},
    }
    assert all(e["psp"] == "shop-restricted" for e in shop["rejected_today"])
    # they do not pull the namespace down to privileged
    assert shop["recommended"]["enforce"] == "baseline"
    assert shop["floor"]["v1.24"] == "baseline"
    assert any("Deployment/debug" in r and "Privileged containers are not allowed" in r
               for r in shop["reasoning"])


def test_without_the_psp_rule_the_same_templates_count() -> None:
    inventory = load("shop.yaml")  # no PSPs, no RBAC: nothing rejects them
    shop = ns_of(build_plan(inventory, pin=Version.of(24)), "shop")
    assert shop["rejected_today"] == []
    assert shop["recommended"]["enforce"] == "privileged"


def test_a_psp_granted_to_the_controller_admits_the_deployment(plan: dict[str, Any]) -> None:
    ctrl = ns_of(plan, "ctrl")
    assert "Deployment/agent" not in rejected(ctrl)
    assert ctrl["recommended"]["enforce"] == "privileged"
    assert "privileged" in {p["psp"] for p in ctrl["ceiling"]["psps"]}
    assert ctrl["looser_than_psp"] is False


def test_a_bare_pod_manifest_is_judged_for_its_service_account(plan: dict[str, Any]) -> None:
    ctrl = ns_of(plan, "ctrl")
    assert rejected(ctrl) == {"Pod/toolbox": {"psp:spec.hostNetwork"}}


def test_a_running_pod_counts_whatever_the_psps_say() -> None:
    inventory = load()
    inventory.add({"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": "running", "namespace": "shop", "uid": "u-1"},
                   "spec": {"hostNetwork": True, "containers": [{"name": "c", "image": "x"}]},
                   "status": {"phase": "Running"}}, "test")
    shop = ns_of(build_plan(inventory, pin=Version.of(24)), "shop")
    assert "Pod/running" not in rejected(shop)
    assert shop["recommended"]["enforce"] == "privileged"


def test_practical_level_ignores_the_workloads_the_psp_rejects() -> None:
    analyses = analyze_psps(load())
    shop = analyses["shop-restricted"]
    assert shop.strict_level == Level.PRIVILEGED  # seLinux RunAsAny
    # escalator sets seLinuxOptions spc_t but the PSP rejects it: no user of the loophole
    assert shop.practical_level == Level.RESTRICTED
    assert all("escalator" not in " ".join(r.used_by) for r in shop.practical_reasons)


def test_practical_level_is_strict_without_any_workload() -> None:
    analyses = analyze_psps(load("psps.yaml"))
    for analysis in analyses.values():
        assert analysis.practical_level == analysis.strict_level
    assert analyses["privileged"].practical_level == Level.PRIVILEGED


def test_looser_than_psp_names_the_blockers_and_what_the_patches_fix(
        plan: dict[str, Any]) -> None:
    shop = ns_of(plan, "shop")
    assert shop["looser_than_psp"] is True
    (warning,) = [w for w in shop["warnings"] if w.startswith("LOOSER THAN PSP")]
    assert "Deployment/web" in warning and "runAsNonRoot" in warning
    assert "generated patches fix all of them" in warning
    assert {b["object"] for b in shop["looser_blockers"]} == {"Deployment/web"}
    assert all(b["level"] == "restricted" for b in shop["looser_blockers"])


def test_no_looser_warning_offers_a_move_to_privileged(plan: dict[str, Any]) -> None:
    for ns in plan["namespaces"]:
        for warning in ns["warnings"]:
            assert "move to privileged" not in warning
        if ns["looser_than_psp"]:
            assert ns["looser_blockers"], ns["name"]


def test_level_helpers_are_right_by_name() -> None:
    levels = [Level.BASELINE, Level.RESTRICTED, Level.PRIVILEGED]
    assert _strictest(levels) == Level.RESTRICTED
    assert _loosest(levels) == Level.PRIVILEGED
    assert _floor(levels) == Level.PRIVILEGED
    assert _floor([]) == Level.RESTRICTED and _loosest([]) is None


def test_a_stricter_existing_label_is_a_finding(plan: dict[str, Any]) -> None:
    strict = ns_of(plan, "strict")
    assert strict["lowers_existing"] == {"current": "restricted", "recommended": "baseline"}
    assert any(w.startswith("STRICTER TODAY") for w in strict["warnings"])
    assert plan["summary"]["lowers_existing"] == ["strict"]
    assert ns_of(plan, "shop")["lowers_existing"] is None


def test_a_cronjob_sibling_gets_the_psp_defaults_predicted(plan: dict[str, Any]) -> None:
    jobs = ns_of(plan, "jobs")
    by_workload = {m["workload"]: m for m in jobs["mutation"]}
    observed, predicted = by_workload["Deployment/api"], by_workload["CronJob/report"]
    assert "predicted" not in observed and predicted["predicted"] is True
    paths = {c["path"] for c in predicted["changes"]}
    assert {"spec.securityContext.fsGroup", "spec.securityContext.supplementalGroups",
            "metadata.annotations[container.apparmor.security.beta.kubernetes.io/report]"} \
        <= paths
    assert paths == {p.replace("/api]", "/report]") for p in
                     (c["path"] for c in observed["changes"])}
    fs_group = next(c for c in predicted["changes"] if c["path"].endswith("fsGroup"))
    assert fs_group["pod"] == 1000
    assert fs_group["note"] == "only the bottom of the PSP's allowed range 1000-2000"


def test_the_report_lists_the_lowered_label_and_the_rejections(plan: dict[str, Any]) -> None:
    report = build_report(plan)
    warnings = report["findings"]["warnings"]
    lowered = [w for w in warnings if w["rule"] == "lowers-existing"]
    assert [w["namespace"] for w in lowered] == ["strict"]
    assert "restricted" in lowered[0]["text"] and "--allow-lower" in lowered[0]["text"]
    assert not any(w["rule"] == "looser-than-psp" and "STRICTER" in w["text"]
                   for w in warnings)
    rejected = {(b["namespace"], b["text"].split(" ")[0])
                for b in report["findings"]["blockers"] if b["rule"] == "rejected-today"}
    assert {("shop", "Deployment/debug"), ("shop", "CronJob/logs-cleanup"),
            ("ctrl", "Pod/toolbox")} <= rejected


def test_lost_psp_defaults_say_whether_a_patch_keeps_them(plan: dict[str, Any]) -> None:
    jobs = {lost["workload"]: lost for lost in ns_of(plan, "jobs")["lost_psp_defaults"]}
    assert jobs["CronJob/report"]["predicted"] is True
    assert jobs["CronJob/report"]["patched"] is True  # the generated patch adds them
    assert "spec.securityContext.fsGroup" in jobs["Deployment/api"]["fields"]


def test_the_report_lists_the_workloads_that_lose_a_psp_default_unedited() -> None:
    import sys
    sys.path.insert(0, str(ROOT / "tests"))
    from demo import demo_plan

    report = build_report(demo_plan())
    lost = {(item["namespace"], item["workload"]): item for item in report["lost_psp_defaults"]}
    checkout = lost[("payments", "Deployment/checkout")]
    assert checkout["psp"] == "restricted-mutating"
    assert "spec.securityContext.fsGroup" in checkout["fields"]
    # team-a/web's defaults are made explicit by its patch: not listed
    assert ("team-a", "Deployment/web") not in lost


def test_without_psp_admission_running_nothing_is_rejected_today() -> None:
    inventory = load()
    # a pod the API server stored without the annotation PSP admission writes
    inventory.add({"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": "plain", "namespace": "shop", "uid": "u-2"},
                   "spec": {"containers": [{"name": "c", "image": "x"}]},
                   "status": {"phase": "Running"}}, "test")
    jobs_pod = next(p for p in inventory.pods if p["metadata"]["name"] == "api-5d4f8-x1")
    del jobs_pod["metadata"]["annotations"]["kubernetes.io/psp"]
    plan = build_plan(inventory, pin=Version.of(24))
    shop = ns_of(plan, "shop")
    assert shop["rejected_today"] == []
    assert shop["recommended"]["enforce"] == "privileged"
    assert any("does not seem to run" in r for r in shop["reasoning"])
