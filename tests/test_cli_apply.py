"""The plan → server dry-run → apply → rollback path through the command line, on the demo."""

from __future__ import annotations

import sys
from pathlib import Path

from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))

import fake_apiserver as fa  # noqa: E402
from stored import read_plan  # noqa: E402
from test_apply import psa_evaluator  # noqa: E402

from migrator.cli.main import app  # noqa: E402
from migrator.errors import ManifestError  # noqa: E402
from migrator.files.source import read_files  # noqa: E402

DEMO = Path(__file__).resolve().parents[1] / "fixtures" / "demo"
P = "pod-security.kubernetes.io/"


def test_demo_end_to_end(tmp_path: Path) -> None:
    errors: list[ManifestError] = []
    objects = list(read_files([str(DEMO)], errors).all_objects())
    runner = CliRunner()
    with fa.FakeApiServer("v1.24.17", psp="policy") as server:
        server.add_all(objects)
        server.serve_namespace_patches(psa_evaluator(server))
        kubeconfig = str(fa.write_kubeconfig(tmp_path, server.url))
        out = tmp_path / "out"
        planned = runner.invoke(app, ["plan", "--kubeconfig", kubeconfig, "--out", str(out),
                                      "--server-dry-run", "-q"])
        assert planned.exit_code == 0, planned.output
        plan = read_plan(out / "plan.json")
        assert plan["server_dry_run"]["disagreements"] == 0
        assert [r for r in server.non_get_requests() if r.query.get("dryRun") != "All"] == []

        dry = runner.invoke(app, ["apply", "--plan", str(out), "--phase", "enforce",
                                  "--kubeconfig", kubeconfig])
        assert dry.exit_code == 0, dry.output
        assert "team-a: " + P + "enforce: (unset) -> baseline" in dry.stdout
        assert server.namespace_labels("team-a").get(P + "enforce") is None

        rollback_file = tmp_path / "rollback.json"
        done = runner.invoke(app, ["apply", "--plan", str(out), "--phase", "enforce", "--yes",
                                   "--rollback-file", str(rollback_file),
                                   "--kubeconfig", kubeconfig])
        assert done.exit_code == 0, done.output
        labels = server.namespace_labels("team-a")
        assert labels[P + "enforce"] == "baseline"
        assert labels[P + "enforce-version"] == "v1.24"
        assert labels[P + "warn"] == "restricted"

        restored = runner.invoke(app, ["rollback", str(rollback_file), "--yes",
                                       "--kubeconfig", kubeconfig])
        assert restored.exit_code == 0, restored.output
        assert P + "enforce" not in server.namespace_labels("team-a")
        assert server.namespace_labels("payments") == {
            "kubernetes.io/metadata.name": "payments", P + "warn": "restricted"}


def test_server_dry_run_needs_a_cluster(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["plan", str(DEMO), "--server-dry-run", "--out",
                                      str(tmp_path)])
    assert result.exit_code == 2 and "needs a live cluster" in result.stderr


def test_bad_phase() -> None:
    result = CliRunner().invoke(app, ["apply", "--phase", "all"])
    assert result.exit_code == 2 and "--phase must be audit or enforce" in result.stderr
