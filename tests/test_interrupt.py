"""Ctrl-C stops now: exit 130 with "interrupted", a fleet does not wait for requests in
flight, and an artefact set is written whole or not at all."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))

import fake_apiserver as fa  # noqa: E402

from migrator.app.fleet import ClusterOptions, plan_clusters  # noqa: E402
from migrator.cli.console import edge  # noqa: E402
from migrator.errors import EXIT_INTERRUPTED  # noqa: E402
from migrator.files import writing  # noqa: E402


def test_ctrl_c_in_a_command_is_exit_130() -> None:
    app = typer.Typer()

    @app.command()
    @edge
    def slow() -> None:
        raise KeyboardInterrupt

    result = CliRunner().invoke(app, [])
    assert result.exit_code == EXIT_INTERRUPTED == 130
    assert result.stderr == "interrupted\n"


def test_a_fleet_does_not_wait_for_requests_in_flight(tmp_path: Path) -> None:
    with fa.v1_36() as server:
        server.delay("/version", 20)
        kubeconfig = fa.write_kubeconfig(tmp_path, server.url)
        timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))  # Ctrl-C
        timer.start()
        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            plan_clusters(["test"], str(kubeconfig), ClusterOptions())
        assert time.monotonic() - started < 5


def test_an_artefact_set_is_replaced_whole_even_when_interrupted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {tmp_path / name: f"new {name}" for name in ("report.html", "plan.json")}
    for path in files:
        path.write_text("old")
    real_replace = os.replace
    calls: list[str] = []

    def replace_then_ctrl_c(source: str, target: Path) -> None:
        if not calls:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C between the two renames
        calls.append(str(target))
        real_replace(source, target)

    monkeypatch.setattr(writing.os, "replace", replace_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        writing.write_set(files)
    assert len(calls) == 2
    assert {p.name: p.read_text() for p in files} == {
        "report.html": "new report.html", "plan.json": "new plan.json"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.json", "report.html"]


def test_an_interrupted_staging_leaves_the_old_set(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    files = {tmp_path / name: f"new {name}" for name in ("a.json", "b.json")}
    for path in files:
        path.write_text("old")

    def no_rename(*_args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(writing.os, "replace", no_rename)
    with pytest.raises(KeyboardInterrupt):
        writing.write_set(files)
    assert [p.read_text() for p in files] == ["old", "old"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.json"]


def test_generated_trees_are_written_as_one_set(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    def no_rename(*_args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(writing.os, "replace", no_rename)
    with pytest.raises(KeyboardInterrupt):
        writing.write_tree(str(tmp_path / "out"), {"a/one.yaml": "1", "b/two.yaml": "2"},
                           force=False)
    assert [p for p in (tmp_path / "out").rglob("*") if p.is_file()] == []
