"""`migrator inventory` and `snapshot`: files and a live (loopback) server give one answer."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))

import fake_apiserver as fa  # noqa: E402
from golden import assert_golden  # noqa: E402
from stored import read_plan  # noqa: E402

from migrator.cli.main import app  # noqa: E402
from migrator.errors import ManifestError  # noqa: E402
from migrator.files.source import read_files  # noqa: E402

DEMO = Path(__file__).resolve().parents[1] / "fixtures" / "demo"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def demo_objects() -> list[dict]:
    errors: list[ManifestError] = []
    inventory = read_files([str(DEMO)], errors)
    assert errors == []
    return list(inventory.all_objects())


def test_golden_text_and_json(runner: CliRunner) -> None:
    text = runner.invoke(app, ["inventory", str(DEMO)])
    assert text.exit_code == 0, text.output
    assert_golden("inventory/demo.txt", text.output)
    data = runner.invoke(app, ["inventory", str(DEMO), "-o", "json"])
    assert data.exit_code == 0
    assert_golden("inventory/demo.json", data.output)


def test_yaml_output_parses(runner: CliRunner) -> None:
    import yaml

    result = runner.invoke(app, ["inventory", str(DEMO), "-o", "yaml"])
    assert result.exit_code == 0
    assert yaml.safe_load(result.output)["counts"]["pod_security_policies"] == 4


def test_live_read_equals_file_read(runner: CliRunner, tmp_path: Path) -> None:
    with fa.FakeApiServer("v1.24.17", psp="policy") as server:
        server.add_all(demo_objects())
        kubeconfig = fa.write_kubeconfig(tmp_path, server.url)
        live = runner.invoke(app, ["inventory", "--kubeconfig", str(kubeconfig), "-o", "json"])
        assert live.exit_code == 0, live.output
        assert server.non_get_requests() == []
    files = runner.invoke(app, ["inventory", str(DEMO), "-o", "json"])
    live_data, file_data = json.loads(live.stdout), json.loads(files.stdout)
    assert live_data.pop("server_version") == "v1.24.17"
    assert live_data.pop("psp_api") is True
    file_data.pop("server_version"), file_data.pop("psp_api")
    assert live_data == file_data


def test_forbidden_lists_are_named_with_what_they_leave_unknown(
    runner: CliRunner, tmp_path: Path
) -> None:
    with fa.FakeApiServer("v1.24.17", psp="policy") as server:
        server.add_all(demo_objects())
        server.forbid("pods").forbid("clusterrolebindings", "rbac.authorization.k8s.io")
        kubeconfig = fa.write_kubeconfig(tmp_path, server.url)
        result = runner.invoke(app, ["inventory", "--kubeconfig", str(kubeconfig)])
    assert result.exit_code == 3, result.output  # incomplete, not success
    lines = [line for line in result.stdout.splitlines() if line.startswith("! could not read")]
    assert len(lines) == 2
    assert any("pods" in line and "forbidden" in line for line in lines)
    assert any("clusterrolebindings" in line for line in lines)


def test_post_1_25_server_without_psp_api(runner: CliRunner, tmp_path: Path) -> None:
    with fa.FakeApiServer("v1.36.2") as server:
        server.add_all(o for o in demo_objects() if o["kind"] != "PodSecurityPolicy")
        kubeconfig = fa.write_kubeconfig(tmp_path, server.url)
        result = runner.invoke(app, ["inventory", "--kubeconfig", str(kubeconfig),
                                     "--psp-from", str(DEMO / "10-psps.yaml"), "-o", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["psp_api"] is False
    assert [p["name"] for p in data["pod_security_policies"]] == [
        "baseline", "ingress", "privileged", "restricted-mutating"]


def test_unreachable_server_and_broken_kubeconfig(runner: CliRunner, tmp_path: Path) -> None:
    kubeconfig = fa.write_kubeconfig(tmp_path, fa.closed_port_url())
    result = runner.invoke(app, ["inventory", "--kubeconfig", str(kubeconfig)])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "cannot reach the API server" in result.stderr
    broken = tmp_path / "broken"
    broken.write_text("clusters: [\n")
    result = runner.invoke(app, ["inventory", "--kubeconfig", str(broken)])
    assert result.exit_code == 2
    assert str(broken) in result.stderr and "Traceback" not in result.output


def test_snapshot_round_trip(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "cluster.yaml"
    with fa.FakeApiServer("v1.24.17", psp="policy") as server:
        server.add_all(demo_objects())
        kubeconfig = fa.write_kubeconfig(tmp_path, server.url)
        result = runner.invoke(app, ["snapshot", "--out", str(out), "--kubeconfig", str(kubeconfig)])
        assert result.exit_code == 0, result.output
        again = runner.invoke(app, ["snapshot", "--out", str(out), "--kubeconfig", str(kubeconfig)])
        assert again.exit_code == 2 and "--force" in again.stderr
        live = runner.invoke(app, ["inventory", "--kubeconfig", str(kubeconfig), "-o", "json"])
    offline = runner.invoke(app, ["inventory", str(out), "-o", "json"])
    assert offline.exit_code == 0
    assert json.loads(offline.stdout) == json.loads(live.stdout)
    assert "kind: Secret" not in out.read_text()


@pytest.mark.cluster
def test_real_cluster_inventory_and_plan(runner: CliRunner, tmp_path: Path) -> None:
    """Runs only with MIGRATOR_TEST_KUBECONFIG (see conftest): the same commands, for real."""
    import os

    kubeconfig = os.environ["MIGRATOR_TEST_KUBECONFIG"]
    result = runner.invoke(app, ["inventory", "--kubeconfig", kubeconfig, "-o", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["server_version"].startswith("v1.")
    assert isinstance(data["psp_api"], bool)
    assert "kube-system" in [ns["name"] for ns in data["namespaces"]]
    planned = runner.invoke(app, ["plan", "--kubeconfig", kubeconfig, "--out",
                                  str(tmp_path / "out"), "--server-dry-run", "-q"])
    assert planned.exit_code == 0, planned.output
    plan = read_plan(tmp_path / "out" / "plan.json")
    # the cluster's own admission configuration is not passed here: exemptions may differ
    problems = {ns["name"]: [d for d in ns["server_dry_run"]["disagreements"]
                             if d["kind"] != "exemption"]
                for ns in plan["namespaces"] if ns.get("server_dry_run")}
    assert {name: found for name, found in problems.items() if found} == {}
