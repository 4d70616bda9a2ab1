"""The plan: the demo's verdict for every namespace, its schema, and the rules behind it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from stored import stored
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
from golden import assert_golden  # noqa: E402

from migrator.cli.main import app  # noqa: E402
from migrator.errors import ManifestError  # noqa: E402
from migrator.files.source import read_files  # noqa: E402
from migrator.model.admission import AdmissionConfig, parse_admission_config  # noqa: E402
from migrator.model.inventory import Inventory  # noqa: E402
from migrator.plan.decide import build_plan, pin_version  # noqa: E402
from migrator.pss.api import Version  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "schemas" / "plan.schema.json").read_text())


def load(path: str = "fixtures/demo") -> Inventory:
    errors: list[ManifestError] = []
    inventory = read_files([str(ROOT / path)], errors)
    assert errors == []
    return inventory


@pytest.fixture(scope="module")
def demo_plan() -> dict[str, Any]:
    inventory = load()
    return build_plan(inventory, pin=pin_version(inventory.server_version, None))


def by_name(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {ns["name"]: ns for ns in plan["namespaces"]}


EXPECTED = {
    # namespace: (enforce, audit/warn, after patches, floor at pin)
    "batch": ("baseline", "restricted", "restricted", "baseline"),
    "ingress-nginx": ("baseline", "restricted", "restricted", "baseline"),
    "kube-system": ("privileged", "baseline", "privileged", "privileged"),
    "legacy": ("baseline", "restricted", "baseline", "baseline"),
    "monitoring": ("privileged", "baseline", "privileged", "privileged"),
    "payments": ("restricted", "restricted", "restricted", "restricted"),
    "team-a": ("baseline", "restricted", "restricted", "baseline"),
}


def test_demo_pins_the_cluster_minor(demo_plan: dict[str, Any]) -> None:
    assert demo_plan["pin_version"] == "v1.24"
    assert demo_plan["cluster"]["psp_api"] is True


@pytest.mark.parametrize("namespace", sorted(EXPECTED))
def test_demo_namespace_verdicts(demo_plan: dict[str, Any], namespace: str) -> None:
    ns = by_name(demo_plan)[namespace]
    enforce, audit, after, floor = EXPECTED[namespace]
    assert ns["recommended"] == {"enforce": enforce, "enforce_version": "v1.24", "audit": audit,
                                 "audit_version": "latest", "warn": audit,
                                 "warn_version": "latest"}
    assert ns["after_patches"] == after
    assert ns["floor"]["v1.24"] == floor
    assert ns["labels"]["pod-security.kubernetes.io/enforce"] == enforce


def test_demo_explanations(demo_plan: dict[str, Any]) -> None:
    ns = by_name(demo_plan)
    assert [b["object"] for b in ns["batch"]["rejected_today"]] == ["CronJob/nightly-reconcile"]
    assert [b["object"] for b in ns["legacy"]["rejected_today"]] == ["Deployment/quarterly-report"]
    assert any("Counted although no pods run now: CronJob/hourly-export" in r
               for r in ns["batch"]["reasoning"])
    (mutation,) = [m for m in ns["team-a"]["mutation"] if m["passes_only_because_of_mutation"]]
    assert mutation["workload"] == "Deployment/web"
    assert mutation["psp"] == "restricted-mutating"
    assert mutation["attributed_to"] == "psp"
    assert (mutation["pod_level"], mutation["template_level"]) == ("restricted", "baseline")
    assert ns["kube-system"]["blockers"] == [] and ns["kube-system"]["suggestion"]
    assert {b["check"] for b in ns["team-a"]["blockers"]} == {
        "allowPrivilegeEscalation", "capabilities_restricted", "runAsNonRoot",
        "seccompProfile_restricted"}
    assert all(b["patchable"] for b in ns["team-a"]["blockers"])
    assert demo_plan["summary"]["passing_only_by_mutation"] == ["team-a/Deployment/web"]


def test_plan_matches_its_schema(demo_plan: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.validate(stored(demo_plan), SCHEMA, cls=jsonschema.Draft202012Validator)


def test_looser_than_psp_is_loud() -> None:
    """Only a mutating restricted PSP is usable: the template alone allows baseline."""
    inventory = load()
    inventory.cluster_role_bindings = [
        b for b in inventory.cluster_role_bindings
        if b["metadata"]["name"] != "psp:baseline:authenticated"]
    plan = build_plan(inventory, pin=Version.of(24))
    team_a = by_name(plan)["team-a"]
    assert team_a["ceiling"]["practical"] == "restricted"
    assert team_a["recommended"]["enforce"] == "baseline"
    assert team_a["looser_than_psp"] is True
    assert team_a["warnings"][0].startswith("LOOSER THAN PSP: enforcing baseline here is looser")
    assert plan["summary"]["looser_than_psp"] == ["team-a"]


def test_admission_config_exemptions_and_defaults() -> None:
    config = parse_admission_config({
        "apiVersion": "pod-security.admission.config.k8s.io/v1",
        "kind": "PodSecurityConfiguration",
        "defaults": {"enforce": "baseline", "enforce-version": "v1.24"},
        "exemptions": {"namespaces": ["monitoring"]},
    }, "cfg")
    plan = build_plan(load(), pin=Version.of(24), config=config)
    ns = by_name(plan)
    assert ns["monitoring"]["exempt"] is True
    assert any("Exempt in the admission configuration" in r for r in ns["monitoring"]["reasoning"])
    assert ns["payments"]["current_policy"]["enforce"] == "baseline:v1.24"
    assert plan["admission_config"]["exempt_namespaces"] == ["monitoring"]
    assert by_name(build_plan(load(), pin=Version.of(24), config=AdmissionConfig.default()))[
        "monitoring"]["exempt"] is False


@pytest.mark.parametrize("server,override,expected", [
    ("v1.24.17", None, "v1.24"), ("v1.29.3-eks-1234", None, "v1.29"), (None, None, "latest"),
    ("v1.24.17", "v1.25", "v1.25"),
])
def test_pin_version(server: str | None, override: str | None, expected: str) -> None:
    assert str(pin_version(server, override)) == expected


def test_plan_command_writes_plan_and_golden(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    runner = CliRunner()
    out = tmp_path / "out"
    result = runner.invoke(app, ["plan", "fixtures/demo", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "team-a" in result.stdout and "mutation-only pass" in result.stdout
    text = (out / "plan.json").read_text()
    assert_golden("plan/demo.plan.json", text)
    again = runner.invoke(app, ["plan", "fixtures/demo", "--out", str(out)])
    assert again.exit_code == 2 and "--force" in again.stderr
    forced = runner.invoke(app, ["plan", "fixtures/demo", "--out", str(out), "--force", "-q"])
    assert forced.exit_code == 0 and (out / "plan.json").read_text() == text


def test_runtime_class_exemption_is_honoured() -> None:
    """A kata-isolated privileged pod in payments is exempt by runtimeClass: not counted."""
    inventory = load()
    inventory.add({"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": "sandboxed", "namespace": "payments",
                                "uid": "0d3c"},  # running: it counts whatever PSP says
                   "spec": {"runtimeClassName": "kata", "hostPID": True,
                            "containers": [{"name": "c", "image": "x"}]}}, "test")
    plain = by_name(build_plan(inventory, pin=Version.of(24)))["payments"]
    assert plain["recommended"]["enforce"] == "privileged"
    config = parse_admission_config({
        "apiVersion": "pod-security.admission.config.k8s.io/v1",
        "kind": "PodSecurityConfiguration", "exemptions": {"runtimeClasses": ["kata"],
                                                           "usernames": ["ci-bot"]}}, "cfg")
    exempt = by_name(build_plan(inventory, pin=Version.of(24), config=config))["payments"]
    assert exempt["recommended"]["enforce"] == "restricted"
    (subject,) = [s for s in exempt["subjects"] if s["name"] == "sandboxed"]
    assert subject["exempt"] is True and subject["runtime_class"] == "kata"
    assert any("runtimeClass kata, exempt" in r for r in exempt["reasoning"])
    assert any("exempts users (ci-bot)" in r for r in exempt["reasoning"])


def test_plan_types_and_schema_declare_the_same_shape(demo_plan: dict[str, Any]) -> None:
    """The TypedDicts the program reads a plan through match the file's schema (the file's
    top level also holds the tables packing writes each violation and fix into once)."""
    from migrator.model import plan as types
    from migrator.model.packed import FROM_SUBJECT, TABLES

    pairs = [(types.Plan, SCHEMA), (types.PlanNamespace, SCHEMA["$defs"]["namespace"]),
             (types.Blocker, SCHEMA["$defs"]["blocker"]),
             (types.Subject, SCHEMA["$defs"]["subject"]),
             (types.Mutation, SCHEMA["$defs"]["mutation"])]
    for typed, schema in pairs:
        tables = set(TABLES) if typed is types.Plan else set()
        # what a packed blocker may leave out (its subject's) is required once unpacked
        packed_out = set(FROM_SUBJECT) if typed is types.Blocker else set()
        required = {k for k, v in typed.__annotations__.items()
                    if "NotRequired[" not in str(v)}
        assert (required | tables) - packed_out == set(schema["required"]), typed.__name__
        assert set(typed.__annotations__) | tables == set(schema["properties"]), typed.__name__
    assert set(demo_plan) <= set(types.Plan.__annotations__)
