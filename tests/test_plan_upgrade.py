"""A plan across the upgrade: a 1.24 dump with an annotation-only template, a CronJob whose
pods ask for `unconfined` by annotation (none running), and a control workload."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from stored import read_plan, stored
from typer.testing import CliRunner

from migrator.cli.main import app
from migrator.generate.patches import compute_patch, select

ROOT = Path(__file__).resolve().parents[1]
DUMP = ROOT / "tests" / "data" / "upgrade" / "dump.yaml"
SCHEMA = json.loads((ROOT / "schemas" / "plan.schema.json").read_text())


def run_plan(tmp_path: Path, *args: str) -> tuple[Any, dict[str, Any]]:
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["plan", str(DUMP), "--out", str(out), "--force", *args])
    plan = read_plan(out / "plan.json") if result.exit_code == 0 else {}
    return result, plan


def by_name(plan: dict[str, Any]) -> dict[str, Any]:
    return {ns["name"]: ns for ns in plan["namespaces"]}


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, dict[str, Any]]:
    return run_plan(tmp_path_factory.mktemp("plan"))


def test_the_dump_is_assumed_to_be_1_24_and_says_why(planned: tuple[Any, dict]) -> None:
    result, plan = planned
    assert result.exit_code == 0, result.output
    jsonschema.validate(stored(plan), SCHEMA)
    assert plan["servers"]["current"] == "v1.24" and plan["servers"]["upgrade_to"] == "v1.36"
    assert "policy/v1beta1 PodSecurityPolicies" in plan["servers"]["current_basis"]
    assert "note: current server v1.24: assumed" in result.output
    assert (plan["pin_version"], plan["target_version"]) == ("v1.24", "v1.36")


def test_the_level_holds_before_and_after_the_upgrade(planned: tuple[Any, dict]) -> None:
    _result, plan = planned
    shop, batch = by_name(plan)["shop"], by_name(plan)["batch"]
    # restricted on 1.24, only baseline from 1.27: enforce baseline, restricted after patches
    assert shop["recommended"]["enforce"] == "baseline"
    assert shop["after_patches"] == "restricted"
    # its pods fail baseline on 1.24 (Unconfined is copied into the field): privileged now
    assert batch["recommended"]["enforce"] == "privileged"
    assert batch["floor"] == {"v1.24": "privileged", "v1.36": "baseline"}


def test_templates_that_flip_are_findings(planned: tuple[Any, dict]) -> None:
    result, plan = planned
    assert plan["summary"]["flips_across_upgrade"] == ["batch/CronJob/cleanup",
                                                       "shop/Deployment/web"]
    [web] = by_name(plan)["shop"]["flips_across_upgrade"]
    assert (web["before"], web["after"], web["checks"]) == (
        "restricted", "baseline", ["seccompProfile_restricted"])
    assert web["text"] == (
        "Deployment/web passes restricted on v1.24, fails it after the upgrade to v1.36 "
        "(passes baseline there): its pods rely on the seccomp annotation, which v1.36 no "
        "longer turns into a field; the generated patch sets the field")
    [cleanup] = by_name(plan)["batch"]["flips_across_upgrade"]
    assert (cleanup["before"], cleanup["after"], cleanup["active"]) == (
        "privileged", "baseline", False)
    assert "Templates whose verdict flips across the upgrade (2)" in result.output
    # the control and the stored pod do not flip
    refs = {f["object"] for ns in plan["namespaces"] for f in ns["flips_across_upgrade"]}
    assert "Deployment/api" not in refs and not any(r.startswith("Pod/") for r in refs)


def test_the_stored_pod_is_judged_as_stored(planned: tuple[Any, dict]) -> None:
    _result, plan = planned
    pod = next(s for s in by_name(plan)["shop"]["subjects"] if s["kind"] == "Pod")
    assert pod["verdicts"]["restricted:v1.24"] == []  # the field is stored
    assert "verdicts_after_upgrade" not in pod  # the same on both servers


def test_the_patch_makes_the_field_explicit(planned: tuple[Any, dict]) -> None:
    _result, plan = planned
    [target] = select(plan).targets
    assert target.ref == "Deployment/web"
    assert [str(s) for s in target.servers] == ["v1.24", "v1.36"]
    obj = next(d for d in yaml.safe_load(DUMP.read_text())["items"]
               if d["kind"] == "Deployment" and d["metadata"]["name"] == "web")
    patch = compute_patch(obj, target)
    assert patch is not None and not hasattr(patch, "reasons")
    assert [(c.field, c.after) for c in patch.changes] == [
        ("spec.template.spec.securityContext.seccompProfile", {"type": "RuntimeDefault"})]


def test_no_upgrade_means_no_flip(tmp_path: Path) -> None:
    result, plan = run_plan(tmp_path, "--upgrade-to", "v1.24")
    assert result.exit_code == 0, result.output
    assert plan["summary"]["flips_across_upgrade"] == []
    assert by_name(plan)["shop"]["recommended"]["enforce"] == "restricted"


@pytest.mark.parametrize("args,message", [
    (["--pin-version", "v1.30"], "--pin-version v1.30 is newer than the server (v1.24)"),
    (["--server-version", "v1.30", "--upgrade-to", "v1.28"],
     "--upgrade-to v1.28 is older than the current server (v1.30)"),
    (["--server-version", "one"], "invalid server version 'one'"),
])
def test_bad_versions_are_refused(tmp_path: Path, args: list[str], message: str) -> None:
    result, _plan = run_plan(tmp_path, *args)
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_server_version_overrides_the_assumption(tmp_path: Path) -> None:
    result, plan = run_plan(tmp_path, "--server-version", "v1.23.17")
    assert result.exit_code == 0, result.output
    assert plan["servers"]["current"] == "v1.23"
    assert plan["servers"]["current_basis"] == "given by --server-version"
    assert plan["pin_version"] == "v1.23"


def test_the_report_lists_the_flipping_templates(tmp_path: Path) -> None:
    result, _plan = run_plan(tmp_path)
    assert result.exit_code == 0, result.output
    report = (tmp_path / "out" / "report.md").read_text()
    assert "## Templates that flip across the upgrade (2)" in report
    assert ("| shop | Deployment/web | restricted | baseline | Deployment/web passes restricted "
            "on v1.24, fails it after the upgrade to v1.36") in report
    assert "| batch | CronJob/cleanup (no pods now) | privileged | baseline |" in report
    assert "| Kubernetes | v1.24 (assumed), upgrading to v1.36 |" in report
    html = (tmp_path / "out" / "report.html").read_text()
    assert 'id="flips"' in html and "CronJob/cleanup" in html
    data = json.loads((tmp_path / "out" / "report.json").read_text())
    assert [f["rule"] for f in data["findings"]["warnings"]].count("flips-on-upgrade") == 2


def test_admission_configuration_for_each_server(tmp_path: Path) -> None:
    result, _plan = run_plan(tmp_path)
    assert result.exit_code == 0, result.output
    out = tmp_path / "out"
    generated = CliRunner().invoke(app, ["generate", "--plan", str(out / "plan.json"),
                                         "--out", str(out), "--force"])
    assert generated.exit_code == 0, generated.output
    today = yaml.safe_load((out / "admission-config.yaml").read_text())
    after = yaml.safe_load((out / "admission-config.v1.36.yaml").read_text())
    assert today["apiVersion"] == "pod-security.admission.config.k8s.io/v1beta1"
    assert after["apiVersion"] == "pod-security.admission.config.k8s.io/v1"
    wrapped = yaml.safe_load((out / "admission-configuration.v1.36.yaml").read_text())
    assert wrapped["plugins"][0]["configuration"] == after
    readme = (out / "README.md").read_text()
    assert "when you upgrade to\n   v1.36, give it `admission-configuration.v1.36.yaml`" in readme


POD_1_23 = """\
apiVersion: v1
kind: Namespace
metadata: {name: old}
---
apiVersion: v1
kind: Pod
metadata: {name: legacy, namespace: old, uid: "1"}
spec:
  securityContext: {runAsNonRoot: true, seccompProfile: {type: Unconfined}}
  containers:
  - name: app
    image: x
    securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
status: {phase: Running}
"""


def test_the_live_comparison_uses_the_servers_own_model(tmp_path: Path) -> None:
    """On a 1.23 server a restricted check is reported beside the baseline one it replaces:
    the plan's offline verdicts say so too, so the dry run does not disagree."""
    from migrator.cluster.dryrun import offline_pods, plan_server
    from migrator.pss.api import Level, LevelVersion, Version

    (tmp_path / "pod.yaml").write_text(POD_1_23)
    unconfined = "seccompProfile"
    for server, expected in (("v1.23.17", f"{unconfined}, {unconfined}"),
                             ("v1.24.17", unconfined)):
        out = tmp_path / server
        result = CliRunner().invoke(app, ["plan", str(tmp_path / "pod.yaml"), "--out", str(out),
                                          "--server-version", server, "--upgrade-to", server])
        assert result.exit_code == 0, result.output
        plan = read_plan(out / "plan.json")
        entry = by_name(plan)["old"]
        server_ = plan_server(plan)
        assert server_ is not None and server_.text == server
        at_latest = offline_pods(entry, LevelVersion(Level.RESTRICTED, Version.latest()),
                                 server_)
        assert at_latest == {"legacy": expected}


def test_the_report_counts_a_rejection_after_the_upgrade(planned: tuple[Any, dict]) -> None:
    """Enforcing restricted in shop would reject Deployment/web's pods after the upgrade
    only: the report says so although today's verdict passes."""
    import copy

    from migrator.report.model import build_report

    _result, plan = planned
    plan = copy.deepcopy(plan)
    shop = by_name(plan)["shop"]
    shop["recommended"]["enforce"] = "restricted"
    web = next(s for s in shop["subjects"] if s["name"] == "web")
    assert web["verdicts"]["restricted:v1.24"] == []
    view = next(n for n in build_report(plan)["namespaces"] if n["name"] == "shop")
    assert [r["object"] for r in view["rejected_at_pin"]] == ["Deployment/web"]
