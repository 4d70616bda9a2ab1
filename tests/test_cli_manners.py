"""kubectl manners: one meaning per flag, -n/-A scoping, -h, --request-timeout, --context
with PATHS refused, natural namespace order, help without Python types, the plugin's name,
shell completion."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from stored import read_plan  # noqa: E402
from typer.testing import CliRunner

from migrator.cli.main import PLUGIN_PROG, app, prog_name
from migrator.cli.options import parse_duration
from migrator.cluster import client
from migrator.errors import EXIT_ERROR

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "fixtures" / "demo"
COMMANDS = ["check", "inventory", "snapshot", "plan", "report", "generate", "patch", "audit", "apply",
            "rollback"]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.mark.parametrize("command", COMMANDS)
def test_help_shows_no_python_types_and_answers_to_h(runner: CliRunner, command: str) -> None:
    result = runner.invoke(app, [command, "-h"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: migrator {command} ")
    assert not re.search(r"<\w+(\[\w+\])?>|\b(TEXT|INTEGER|BOOLEAN|FLOAT)\b", result.output), \
        result.output


def test_top_level_help_offers_shell_completion(runner: CliRunner) -> None:
    result = runner.invoke(app, ["-h"])
    assert result.exit_code == 0
    assert "--install-completion" in result.output and "--show-completion" in result.output


def test_o_is_the_output_format_everywhere(runner: CliRunner, tmp_path: Path) -> None:
    check = runner.invoke(app, ["check", str(DEMO), "-o", "yaml", "-l", "privileged"])
    assert check.exit_code == 0, check.output
    assert check.stdout.startswith("level: privileged\n")
    inventory = runner.invoke(app, ["inventory", str(DEMO), "--output", "json"])
    assert json.loads(inventory.stdout)["counts"]["namespaces"] == 7
    snapshot = runner.invoke(app, ["snapshot", "-o", str(tmp_path / "x.yaml")])
    assert snapshot.exit_code == EXIT_ERROR  # -o is not snapshot's file: --out is
    assert "No such option: -o" in snapshot.output


@pytest.mark.parametrize("command", ["plan", "inventory", "report"])
@pytest.mark.parametrize("option", [["--context", "prod"], ["--kubeconfig", "k.yaml"]])
def test_live_options_with_paths_are_an_error(runner: CliRunner, tmp_path: Path, command: str,
                                              option: list[str]) -> None:
    args = [command, str(DEMO), *option]
    if command != "inventory":
        args += ["--out", str(tmp_path / "out")]
    result = runner.invoke(app, args)
    assert result.exit_code == EXIT_ERROR, result.output
    assert f"{option[0]} selects a live cluster, but PATHS were given" in result.stderr
    assert not (tmp_path / "out").exists()


def test_n_scopes_plan_and_check(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["plan", str(DEMO), "-n", "payments", "-n", "batch", "--out",
                                 str(tmp_path / "out"), "-q"])
    assert result.exit_code == 0, result.output
    plan = read_plan(tmp_path / "out" / "plan.json")
    assert [ns["name"] for ns in plan["namespaces"]] == ["batch", "payments"]
    check = runner.invoke(app, ["check", str(DEMO), "-n", "payments", "-o", "json"])
    namespaces = {r["namespace"] for r in json.loads(check.stdout)["results"]}
    assert namespaces == {"payments"}
    both = runner.invoke(app, ["plan", str(DEMO), "-n", "batch", "-A", "--out",
                               str(tmp_path / "again")])
    assert both.exit_code == EXIT_ERROR
    assert "pass either -n/--namespace or -A/--all-namespaces" in both.stderr
    nowhere = runner.invoke(app, ["plan", str(DEMO), "-n", "nope", "--out",
                                  str(tmp_path / "none")])
    assert nowhere.exit_code == EXIT_ERROR
    assert "no Kubernetes objects found in" in nowhere.stderr and "(namespaces nope)" in \
        nowhere.stderr


def test_namespaces_sort_naturally(runner: CliRunner, tmp_path: Path) -> None:
    src = tmp_path / "ns.yaml"
    src.write_text("".join(f"---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: team-{i}}}\n"
                           for i in (10, 2, 1)))
    result = runner.invoke(app, ["plan", str(src), "--out", str(tmp_path / "out"), "-q"])
    assert result.exit_code == 0, result.output
    plan = read_plan(tmp_path / "out" / "plan.json")
    assert [ns["name"] for ns in plan["namespaces"]] == ["team-1", "team-2", "team-10"]


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("2m", 120), ("1m30s", 90),
                                               ("500ms", 0.5), ("5", 5), ("1h", 3600)])
def test_request_timeout_reads_as_kubectl_does(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["0", "soon", "-1s", "10x"])
def test_bad_request_timeouts_are_usage_errors(text: str) -> None:
    with pytest.raises(typer.BadParameter):
        parse_duration(text)


def test_request_timeout_reaches_the_client(runner: CliRunner, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client, "DEFAULT_TIMEOUT", 30.0)
    runner.invoke(app, ["inventory", "--request-timeout", "7s", "--kubeconfig",
                        str(tmp_path / "missing")])
    assert client.DEFAULT_TIMEOUT == 7


def test_the_kubectl_plugin_names_itself_as_kubectl_users_type_it() -> None:
    assert prog_name("/usr/local/bin/kubectl-psa_migrate") == PLUGIN_PROG == "kubectl psa-migrate"
    assert prog_name("/usr/bin/migrator") == "migrator"
    plugin = Path(sys.executable).with_name("kubectl-psa_migrate")
    if not plugin.exists():
        pytest.skip("the kubectl-psa_migrate script is not installed in this environment")
    result = subprocess.run([str(plugin), "plan", "-h"], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.stdout.startswith("Usage: kubectl psa-migrate plan ")


def test_inventory_text_shows_yaml_values_not_python(runner: CliRunner) -> None:
    result = runner.invoke(app, ["inventory", str(DEMO)])
    injects = [line for line in result.stdout.splitlines() if " injects " in line]
    assert injects
    assert not [line for line in injects if re.search(r"= (True|False|None|\[')|= '", line)]
    assert any(line.endswith('drop = ["ALL"]') for line in injects)


@pytest.mark.parametrize("command", COMMANDS)
def test_the_readme_synopsis_lists_every_option(runner: CliRunner, command: str) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    headings = [line for line in readme.splitlines() if line.startswith("### ")
                and f"`migrator {command} " in line]
    assert headings, f"no README section for migrator {command}"
    synopsis = next(part for h in headings for part in h.split("` and `")
                    if f"migrator {command} " in part)
    help_text = runner.invoke(app, [command, "-h"]).output
    options = re.findall(r"^  (?:(-\w), )?(--[a-z][a-z-]+)(?=\s|$)", help_text, re.M)
    missing = sorted(long for short, long in options if long != "--help"
                     and long not in synopsis
                     and not (short and re.search(rf"\[{short}[ \]]", synopsis)))
    assert missing == [], f"README synopsis of {command} lacks {missing}"


def test_reports_say_when_they_were_made_and_source_date_epoch_fixes_it(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1764626400")
    for out in ("one", "two"):
        assert runner.invoke(app, ["plan", str(DEMO), "--out", str(tmp_path / out),
                                   "-q"]).exit_code == 0
    html = (tmp_path / "one" / "report.html").read_text()
    assert "generated 2025-12-01 22:00:00 UTC" in html and "migrator " in html
    assert html == (tmp_path / "two" / "report.html").read_text()


def test_plan_text_in_brackets_is_printed_not_read_as_markup() -> None:
    from rich.console import Console

    from migrator.cli.plan import safe

    console = Console(width=200, record=True)
    line = 'drop=["ALL"] in containers[x=1] \x1b[2J'
    console.print("  - " + safe(line))
    text = console.export_text()
    assert 'drop=["ALL"] in containers[x=1] \\x1b[2J' in text
