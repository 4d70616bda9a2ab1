"""Exits that tell the truth: nothing to plan is an error (2), an incomplete answer is not
a success (3), and every gap is named on stderr."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))

import fake_apiserver as fa  # noqa: E402
from stored import read_plan  # noqa: E402

from migrator.cli.main import app  # noqa: E402
from migrator.errors import EXIT_ERROR, EXIT_INCOMPLETE, EXIT_OK  # noqa: E402
from migrator.files.source import read_files  # noqa: E402

DEMO = Path(__file__).resolve().parents[1] / "fixtures" / "demo"


def demo_objects() -> list[dict]:
    inventory = read_files([str(DEMO)], [])
    return list(inventory.all_objects())


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


# -- nothing to plan -------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["plan", "report"])
def test_a_missing_path_is_nothing_to_plan(runner: CliRunner, tmp_path: Path,
                                           command: str) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, [command, str(tmp_path / "nope"), "--out", str(out)])
    assert result.exit_code == EXIT_ERROR, result.output
    assert f"no Kubernetes objects found in {tmp_path / 'nope'}" in result.stderr
    assert "no such file or directory" in result.stderr
    assert "Ready" not in result.output
    assert not out.exists()


@pytest.mark.parametrize("content", [None, "apiVersion: v1\nkind: ConfigMap\nmetadata: "
                                     "{name: c}\ndata: {a: b}\n", "replicas: 3\n"])
@pytest.mark.parametrize("command", ["plan", "report"])
def test_no_workloads_or_namespaces_is_nothing_to_plan(
    runner: CliRunner, tmp_path: Path, command: str, content: str | None
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    if content is not None:
        (src / "other.yaml").write_text(content, encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(app, [command, str(src), "--out", str(out)])
    assert result.exit_code == EXIT_ERROR, result.output
    assert result.stderr.startswith(f"error: no Kubernetes objects found in {src}")
    assert not out.exists()


def test_check_with_nothing_to_judge_is_an_error(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["check", str(tmp_path)])
    assert result.exit_code == EXIT_ERROR
    assert "no Kubernetes objects with pods found" in result.stderr


# -- incomplete answers ----------------------------------------------------------------------


def test_plan_without_pod_access_is_incomplete(runner: CliRunner, tmp_path: Path) -> None:
    with fa.FakeApiServer("v1.24.17", psp="policy") as server:
        server.add_all(demo_objects())
        server.forbid("pods")
        kubeconfig = fa.write_kubeconfig(tmp_path, server.url)
        result = runner.invoke(app, ["plan", "--kubeconfig", str(kubeconfig),
                                     "--out", str(tmp_path / "out"), "-q"])
        assert result.exit_code == EXIT_INCOMPLETE, result.output
        assert re.search(r"^incomplete: could not read pods .*\(forbidden", result.stderr,
                         re.M | re.I), result.stderr
        plan = read_plan(tmp_path / "out" / "plan.json")
        report = runner.invoke(app, ["report", "--plan", str(tmp_path / "out" / "plan.json"),
                                     "--out", str(tmp_path / "again")])
        assert report.exit_code == EXIT_INCOMPLETE, report.output
        assert "incomplete: could not read pods" in report.stderr
        live = runner.invoke(app, ["report", "--kubeconfig", str(kubeconfig),
                                   "--out", str(tmp_path / "live")])
        assert live.exit_code == EXIT_INCOMPLETE, live.output
    assert [u["what"] for u in plan["unreadable"]] == ["pods in all namespaces"]


def test_a_complete_live_plan_exits_zero(runner: CliRunner, tmp_path: Path) -> None:
    with fa.FakeApiServer("v1.24.17", psp="policy") as server:
        server.add_all(demo_objects())
        kubeconfig = fa.write_kubeconfig(tmp_path, server.url)
        result = runner.invoke(app, ["plan", "--kubeconfig", str(kubeconfig),
                                     "--out", str(tmp_path / "out"), "-q"])
    assert result.exit_code == EXIT_OK, result.output
    assert "incomplete" not in result.stderr


def _dry_run_cluster(tmp_path: Path, forbidden: str) -> tuple[fa.FakeApiServer, Path]:
    server = fa.v1_36().start()
    server.add(fa.namespace("shop"), fa.pod("web", "shop"))
    server.respond("PATCH", re.compile(forbidden), 403, fa.status_body(
        403, "Forbidden", 'namespaces is forbidden: User "u" cannot patch resource '
        '"namespaces"'))
    server.serve_namespace_patches()
    return server, fa.write_kubeconfig(tmp_path, server.url)


def test_server_dry_run_with_some_namespaces_unanswered_is_incomplete(
    runner: CliRunner, tmp_path: Path
) -> None:
    server, kubeconfig = _dry_run_cluster(tmp_path, r"/api/v1/namespaces/shop$")
    with server:
        result = runner.invoke(app, ["plan", "--kubeconfig", str(kubeconfig), "--out",
                                     str(tmp_path / "out"), "--server-dry-run", "-q"])
    assert result.exit_code == EXIT_INCOMPLETE, result.output
    assert "error: server dry-run of shop: no permission" in result.stderr
    assert "incomplete: 1 thing could not be read or checked" in result.stderr


def test_server_dry_run_with_no_namespace_answered_is_an_error(
    runner: CliRunner, tmp_path: Path
) -> None:
    server, kubeconfig = _dry_run_cluster(tmp_path, r"/api/v1/namespaces/[^/]+$")
    with server:
        result = runner.invoke(app, ["plan", "--kubeconfig", str(kubeconfig), "--out",
                                     str(tmp_path / "out"), "--server-dry-run", "-q"])
    assert result.exit_code == EXIT_ERROR, result.output
    assert "none of the 3 namespaces answered" in result.stderr
    assert not (tmp_path / "out" / "plan.json").exists()


def test_snapshot_of_an_incomplete_read_is_incomplete(runner: CliRunner,
                                                      tmp_path: Path) -> None:
    with fa.FakeApiServer("v1.24.17", psp="policy") as server:
        server.add_all(demo_objects())
        server.forbid("pods")
        kubeconfig = fa.write_kubeconfig(tmp_path, server.url)
        result = runner.invoke(app, ["snapshot", "--out", str(tmp_path / "snap.yaml"),
                                     "--kubeconfig", str(kubeconfig)])
    assert result.exit_code == EXIT_INCOMPLETE, result.output
    offline = runner.invoke(app, ["plan", str(tmp_path / "snap.yaml"), "--out",
                                  str(tmp_path / "out"), "-q"])
    assert offline.exit_code == EXIT_INCOMPLETE, offline.output  # the snapshot's own gap
    assert "incomplete: could not read pods" in offline.stderr


def test_blockers_mean_one_number_in_the_terminal_the_report_and_the_gate(
    runner: CliRunner, tmp_path: Path
) -> None:
    planned = runner.invoke(app, ["plan", str(DEMO), "--out", str(tmp_path / "out")])
    assert planned.exit_code == 0, planned.output
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert planned.stdout.rstrip().splitlines()[-1] == report["headline"]
    n = report["counts"]["blockers"]
    assert report["headline"].startswith(f"Not ready to upgrade, {n} blockers:")
    gated = runner.invoke(app, ["report", "--plan", str(tmp_path / "out" / "plan.json"),
                                "--out", str(tmp_path / "gate"), "--fail-on", "blockers"])
    assert gated.exit_code == 1
    assert f"--fail-on blockers: {n} findings" in gated.stdout
    assert " blockers" not in planned.stdout.replace(report["headline"], "")


def test_inventory_of_nothing_is_an_error(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["inventory", str(tmp_path)])
    assert result.exit_code == EXIT_ERROR
    assert f"no Kubernetes objects found in {tmp_path}" in result.stderr


def test_control_characters_never_reach_the_terminal(runner: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "evil\x1b[2J\x07.yaml"
    bad.write_text("kind: [unclosed\n")
    result = runner.invoke(app, ["check", str(bad)])
    assert result.exit_code == EXIT_ERROR
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
    assert "evil\\x1b[2J\\x07.yaml" in result.stderr
