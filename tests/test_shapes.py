"""Pods are planned once per shape: a count and a few names, and every reader counts through
the shape (plan summary, report, Markdown, the server dry-run comparison)."""

from __future__ import annotations

from typing import Any

from migrator.cluster.dryrun import offline_pods
from migrator.model.inventory import Inventory
from migrator.plan.decide import build_plan
from migrator.plan.dryrun import parse_level_version
from migrator.pss.api import Version
from migrator.report.model import build_report
from migrator.report.render import render_markdown


def _pod(name: str, *, root: bool, owner: str | None = "web-1") -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "app", "image": "app:1"}]}
    if root:
        spec["securityContext"] = {"runAsUser": 0}
    meta: dict[str, Any] = {"name": name, "namespace": "shop"}
    if owner:
        meta["ownerReferences"] = [{"kind": "ReplicaSet", "name": owner, "uid": "rs",
                                    "controller": True}]
    # Read back from a cluster (a status): judged as stored, so one of a shape stands for all.
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec,
            "status": {"phase": "Running"}}


def _inventory(replicas: int) -> Inventory:
    inventory = Inventory(server_version="v1.24.0")
    inventory.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}, "t")
    for i in range(replicas):
        inventory.add(_pod(f"web-1-{i:03d}", root=True), "t")
    inventory.add(_pod("web-1-zzz", root=False), "t")  # the same owner, another shape
    inventory.add(_pod("bare", root=True, owner=None), "t")
    return inventory


def test_replicas_are_one_subject_with_a_count_and_examples() -> None:
    plan = build_plan(_inventory(12), pin=Version.of(24))
    (ns,) = plan["namespaces"]
    pods = {s["name"]: s for s in ns["subjects"] if not s["template"]}
    assert sorted(pods) == ["bare", "web-1-000", "web-1-zzz"]
    assert pods["web-1-000"]["count"] == 12
    assert pods["web-1-000"]["examples"] == ["web-1-000", "web-1-001", "web-1-002"]
    assert "count" not in pods["bare"] and "examples" not in pods["bare"]
    assert "14 pods judged" in ns["reasoning"][0]
    root = [b for b in ns["blockers"] if b["object"] == "Pod/web-1-000"]
    assert root and all(b["count"] == 12 for b in root)
    # The summary still counts every pod's blockers.
    assert plan["summary"]["blockers"] == sum(b.get("count", 1) for b in ns["blockers"])
    assert plan["summary"]["blockers"] > len(ns["blockers"])


def test_pods_to_be_created_are_judged_one_by_one() -> None:
    inventory = Inventory(server_version="v1.24.0")
    for i in range(3):
        pod = _pod(f"web-{i}", root=True)
        del pod["status"]  # a manifest: the server will default and validate each
        inventory.add(pod, "t")
    (ns,) = build_plan(inventory, pin=Version.of(24))["namespaces"]
    assert [s.get("count", 1) for s in ns["subjects"]] == [1, 1, 1]


def test_plan_size_follows_shapes_not_replicas() -> None:
    small = build_plan(_inventory(3), pin=Version.of(24))
    large = build_plan(_inventory(3000), pin=Version.of(24))
    assert len(small["namespaces"][0]["subjects"]) == len(large["namespaces"][0]["subjects"])


def test_report_counts_and_lists_through_the_shape() -> None:
    report = build_report(build_plan(_inventory(12), pin=Version.of(24)))
    assert report["counts"]["pods"] == 14
    (ns,) = report["namespaces"]
    assert ns["pods"] == 14
    items = {i["object"]: i for i in ns["to_next_level"]}
    assert items["Pod/web-1-000"]["count"] == 12
    text = render_markdown(report)
    assert "Pod/web-1-000" in text and "(and 11 more pods of the same shape)" in text


def test_server_dry_run_comparison_expands_each_shape_to_its_count() -> None:
    plan = build_plan(_inventory(12), pin=Version.of(24))
    (ns,) = plan["namespaces"]
    pods = offline_pods(ns, parse_level_version("restricted:v1.24"))
    assert len(pods) == 14
    assert min(p for p in pods if pods[p] == pods["web-1-000"]) == "bare" or (
        pods["bare"] != pods["web-1-000"])
    same = sorted(p for p, r in pods.items() if r == pods["web-1-001"] and p.startswith("web"))
    assert same[0] == "web-1-000" and len(same) == 12


def _wide_inventory(namespaces: int) -> Inventory:
    inventory = Inventory(server_version="v1.24.0")
    for n in range(namespaces):
        ns = f"team-{n:04d}"
        inventory.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}, "t")
        pod = _pod(f"web-{n}", root=n % 2 == 0, owner=None)
        pod["metadata"]["namespace"] = ns
        inventory.add(pod, "t")
    return inventory


def test_markdown_summary_fits_a_ticket_and_the_details_hold_every_namespace() -> None:
    from migrator.report.render import (
        MARKDOWN_LIMIT,
        render_markdown,
        render_markdown_details,
    )

    report = build_report(build_plan(_wide_inventory(600), pin=Version.of(24)))
    details = render_markdown_details(report)
    assert len(details) > MARKDOWN_LIMIT
    summary = render_markdown(report, details)
    assert len(summary) <= MARKDOWN_LIMIT
    assert "report-details.md" in summary and "more namespaces" in summary
    assert all(f"### team-{n:04d}: enforce" in details for n in range(600))
    # Namespaces that are not ready come first in the cut-short table.
    table = [line for line in summary.splitlines() if line.startswith("| team-")]
    statuses = [line.split("|")[2].strip() for line in table]
    assert statuses == sorted(statuses, key=lambda s: s == "ready")


def test_small_reports_stay_whole() -> None:
    from migrator.report.render import render_markdown, render_markdown_details

    report = build_report(build_plan(_wide_inventory(3), pin=Version.of(24)))
    assert render_markdown(report) == render_markdown_details(report)


def test_html_report_stays_within_its_limit_and_counts_what_it_leaves_out(
    monkeypatch: Any,
) -> None:
    from migrator.report import render

    report = build_report(build_plan(_wide_inventory(300), pin=Version.of(24)))
    whole = render.render_html(report)
    monkeypatch.setattr(render, "HTML_LIMIT", len(whole.encode()) // 4)
    cut = render.render_html(report)
    assert len(cut.encode()) <= render.HTML_LIMIT
    assert "more namespaces" in cut and "report-details.md" in cut
    assert whole.count('<details class="ns"') == 300 > cut.count('<details class="ns"') > 0


def test_terminal_summary_is_one_line_per_namespace_past_the_threshold(tmp_path: Any) -> None:
    import json as _json

    from typer.testing import CliRunner

    from migrator.cli.main import app
    from migrator.cli.plan import TABLE_LIMIT

    items = []
    for n in range(TABLE_LIMIT + 10):
        ns = f"team-{n:04d}"
        items.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        for i in range(5):
            pod = _pod(f"web-{i}", root=True, owner="web-1")
            pod["metadata"]["namespace"] = ns
            items.append(pod)
    dump = tmp_path / "cluster.json"
    dump.write_text(_json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    runner = CliRunner()
    result = runner.invoke(app, ["plan", str(dump), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert sum(1 for line in lines if line.startswith("team-")) == TABLE_LIMIT + 10
    assert "--details" in result.stdout and "pods judged at" not in result.stdout
    assert "┃" not in result.stdout  # no table drawing past the threshold
    detailed = runner.invoke(app, ["plan", str(dump), "--out", str(tmp_path / "out"),
                                   "--force", "--details"])
    assert detailed.exit_code == 0, detailed.output
    assert detailed.stdout.count("5 pods judged at") == TABLE_LIMIT + 10
    assert "(and 4 more pods of the same shape)" in detailed.stdout


def test_check_judges_identical_objects_once_and_tells_different_ones_apart() -> None:
    from migrator.plan.checking import check_object
    from migrator.pss.api import Level

    def deployment(name: str, privileged: bool) -> dict[str, Any]:
        container: dict[str, Any] = {"name": "app", "image": "app:1"}
        if privileged:
            container["securityContext"] = {"privileged": True}
        return {"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": name, "namespace": "shop"},
                "spec": {"template": {"metadata": {}, "spec": {"containers": [container]}}}}

    a = check_object(deployment("a", False), "x#0", Level.BASELINE, Version.latest())
    b = check_object(deployment("b", False), "x#1", Level.BASELINE, Version.latest())
    c = check_object(deployment("c", True), "x#2", Level.BASELINE, Version.latest())
    assert a is not None and b is not None and c is not None
    assert (a.name, b.name, c.name) == ("a", "b", "c")
    assert a.allowed and b.allowed and not c.allowed
    assert [v.check for v in c.violations] == ["privileged"]


def test_every_html_list_is_cut_short_with_what_it_leaves_out(monkeypatch: Any) -> None:
    """At 10,000 namespaces the lists outside the namespace table (lost PSP defaults, the
    residual policies' namespaces and rejections) must be capped too."""
    from migrator.report import render

    report = build_report(build_plan(_wide_inventory(20), pin=Version.of(24)))
    report["lost_psp_defaults"] = [
        {"namespace": f"team-{n:04d}", "workload": "Deployment/web", "psp": "p",
         "predicted": False, "fields": ["spec.securityContext.fsGroup"]} for n in range(3000)]
    residual = report["residual"]
    residual["planned"] = True
    residual["policies"] = [{"name": "psp-residual-1", "alternatives": [],
                             "namespaces": [f"team-{n:04d}" for n in range(3000)]}]
    residual["rejects"] = [{"namespace": f"team-{n:04d}", "object": "Pod/web",
                            "message": "hostPath /data not allowed"} for n in range(3000)]
    whole = render.render_html(report)
    monkeypatch.setattr(render, "HTML_LIMIT", len(whole.encode()) // 10)
    cut = render.render_html(report)
    assert len(cut.encode()) <= render.HTML_LIMIT
    assert "more workloads" in cut and "more rejections" in cut
    assert cut.count("Deployment/web</b>") < 3000 and "… and " in cut
    assert whole.count("hostPath /data not allowed") == 3000 > cut.count("hostPath /data")
