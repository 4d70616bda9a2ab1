"""Custom workloads (Argo Rollouts, OpenKruise CloneSets, Knative Services, ...) are judged
by the pod template they carry, like the built-in workloads, and named as custom."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from migrator.cli.main import app
from migrator.errors import ManifestError
from migrator.files.source import read_files
from migrator.generate.patches import Target, WorkloadPatch, compute_patch
from migrator.model.inventory import Inventory
from migrator.model.workloads import carries_pod, is_custom, pod_template
from migrator.plan.checking import check_object
from migrator.plan.decide import build_plan
from migrator.pss.api import Level, Version

sys.path.insert(0, str(Path(__file__).parent))  # fake_apiserver, imported by the live tests

PRIVILEGED_SPEC = {"containers": [{"name": "app", "image": "app:1",
                                   "securityContext": {"privileged": True}}]}
PLAIN_SPEC = {"containers": [{"name": "app", "image": "app:1"}]}


def rollout(spec: dict[str, Any], name: str = "web", **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
            "metadata": {"name": name, "namespace": "shop", "uid": f"uid-{name}"},
            "spec": {"replicas": 2, "template": {"metadata": {"labels": {"app": name}},
                                                 "spec": spec}, **extra}}


CUSTOM = {
    "Rollout": rollout(PRIVILEGED_SPEC),
    "CloneSet": {"apiVersion": "apps.kruise.io/v1alpha1", "kind": "CloneSet",
                 "metadata": {"name": "c", "namespace": "shop"},
                 "spec": {"template": {"spec": PRIVILEGED_SPEC}}},
    "Knative Service": {"apiVersion": "serving.knative.dev/v1", "kind": "Service",
                        "metadata": {"name": "k", "namespace": "shop"},
                        "spec": {"template": {"spec": PRIVILEGED_SPEC}}},
    "jobTemplate": {"apiVersion": "example.com/v1", "kind": "ScheduledThing",
                    "metadata": {"name": "s", "namespace": "shop"},
                    "spec": {"jobTemplate": {"spec": {"template": {"spec": PRIVILEGED_SPEC}}}}},
}


@pytest.mark.parametrize("obj", list(CUSTOM.values()), ids=list(CUSTOM))
def test_custom_kinds_carry_their_template(obj: dict[str, Any]) -> None:
    assert is_custom(obj) and carries_pod(obj)
    template = pod_template(obj)
    assert template is not None and template.spec == PRIVILEGED_SPEC
    result = check_object(obj, "x#0", Level.BASELINE, Version.latest())
    assert result is not None and result.custom
    assert [v.check for v in result.violations] == ["privileged"]


@pytest.mark.parametrize("obj", [
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
     "spec": {"ports": [{"port": 80}], "selector": {"app": "x"}}},
    {"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "t"},
     "spec": {"template": {"spec": {"replicas": 3}}}},
    {"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "t"},
     "spec": {"template": "not a mapping"}},
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
     "spec": {"template": {"spec": PLAIN_SPEC}}},
])
def test_other_objects_are_not_custom_workloads(obj: dict[str, Any]) -> None:
    assert not is_custom(obj)


def test_check_judges_a_custom_workload_and_names_it(tmp_path: Path) -> None:
    path = tmp_path / "rollout.yaml"
    path.write_text(yaml.safe_dump(CUSTOM["Rollout"]))
    result = CliRunner().invoke(app, ["check", str(path), "--level", "baseline"])
    assert result.exit_code == 1, result.output
    assert result.output.splitlines()[0] == (
        f"{path}#0: Rollout (custom workload) shop/web: denied at baseline:latest on a v1.36 "
        "server")
    assert "1 object checked" in result.output
    as_json = CliRunner().invoke(app, ["check", str(path), "-o", "json"])
    assert json.loads(as_json.output)["results"][0]["custom"] is True


def _inventory(tmp_path: Path, *objects: dict[str, Any]) -> Inventory:
    path = tmp_path / "objects.yaml"
    path.write_text(yaml.safe_dump_all(objects))
    errors: list[ManifestError] = []
    inventory = read_files([str(path)], errors)
    assert errors == []
    return inventory


def test_plan_counts_a_custom_workload_and_its_pods_fold_into_it(tmp_path: Path) -> None:
    owned_rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": "web-abc", "namespace": "shop", "uid": "uid-rs",
                             "ownerReferences": [{"kind": "Rollout", "name": "web",
                                                  "uid": "uid-web", "controller": True}]},
                "spec": {"template": {"spec": PRIVILEGED_SPEC}}}
    inventory = _inventory(tmp_path, rollout(PRIVILEGED_SPEC), owned_rs)
    plan = build_plan(inventory, pin=Version.parse("v1.30"))
    (shop,) = plan["namespaces"]
    templates = [s for s in shop["subjects"] if s["template"]]
    assert [(s["kind"], s["name"], s["custom"]) for s in templates] == [("Rollout", "web", True)]
    assert shop["floor"]["v1.30"] == "privileged"


def test_a_custom_workload_scaled_to_zero_is_inactive(tmp_path: Path) -> None:
    inventory = _inventory(tmp_path, rollout(PLAIN_SPEC, replicas=0))
    plan = build_plan(inventory, pin=Version.parse("v1.30"))
    (subject,) = plan["namespaces"][0]["subjects"]
    assert subject["active"] is False


def test_a_custom_workload_gets_a_patch_at_its_template() -> None:
    obj = rollout(PLAIN_SPEC)
    target = Target("shop", "Rollout", "web", "x#0", Level.RESTRICTED, Version.parse("v1.30"))
    patch = compute_patch(obj, target)
    assert isinstance(patch, WorkloadPatch)
    assert all(c.path[:2] == ("spec", "template") for c in patch.changes)
    after = check_object(dict(patch.patched), "x#0", Level.RESTRICTED, Version.parse("v1.30"))
    assert after is not None and after.allowed


# -- read live: custom resources found through their CRDs --------------------------------------


def _rollout_crd(schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "rollouts.argoproj.io"},
            "spec": {"group": "argoproj.io", "scope": "Namespaced",
                     "names": {"kind": "Rollout", "plural": "rollouts"},
                     "versions": [{"name": "v1alpha1", "served": True, "storage": True,
                                   "schema": {"openAPIV3Schema": schema or {
                                       "type": "object",
                                       "x-kubernetes-preserve-unknown-fields": True}}}]}}


def test_a_live_read_lists_custom_workloads_through_their_crds(tmp_path: Path) -> None:
    import fake_apiserver as fa

    from migrator.cluster.client import connect, read_inventory

    with fa.v1_36() as server:
        server.serve("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        server.serve("argoproj.io", "v1alpha1", "rollouts")
        server.add(fa.namespace("shop"), _rollout_crd(), rollout(PRIVILEGED_SPEC))
        kubeconfig = fa.write_kubeconfig(tmp_path, server.url)
        with connect(str(kubeconfig)) as client:
            inventory = read_inventory(client)
    assert [(w["kind"], w["metadata"]["name"]) for w in inventory.workloads] == [
        ("Rollout", "web")]
    plan = build_plan(inventory, pin=Version.parse("v1.30"))
    shop = next(ns for ns in plan["namespaces"] if ns["name"] == "shop")
    assert [(s["kind"], s["custom"]) for s in shop["subjects"]] == [("Rollout", True)]
    assert shop["floor"]["v1.30"] == "privileged"
    assert inventory.unreadable == []


def test_crds_that_cannot_be_listed_leave_the_answer_incomplete(tmp_path: Path) -> None:
    import fake_apiserver as fa

    from migrator.cluster.client import connect, read_inventory

    with fa.v1_36() as server:
        server.serve("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        server.forbid("customresourcedefinitions", "apiextensions.k8s.io")
        kubeconfig = fa.write_kubeconfig(tmp_path, server.url)
        with connect(str(kubeconfig)) as client:
            inventory = read_inventory(client)
    assert [u.what for u in inventory.unreadable] == ["customresourcedefinitions"]
    assert "custom workloads" in inventory.unreadable[0].consequence


def test_crd_schemas_that_declare_a_pod_template_are_listed() -> None:
    from migrator.cluster.client import custom_workload_resources

    template = {"properties": {"spec": {"properties": {"template": {"properties": {
        "spec": {"properties": {"containers": {"type": "array"}}}}}}}}}
    crd = _rollout_crd(template)
    crd["spec"]["group"], crd["spec"]["names"] = "example.com", {"kind": "Thing",
                                                                 "plural": "things"}
    other = _rollout_crd()
    other["spec"]["group"], other["spec"]["names"] = "example.com", {"kind": "Config",
                                                                     "plural": "configs"}
    found = custom_workload_resources([crd, other, _rollout_crd()])
    assert [r.paths for r in found] == [("/apis/argoproj.io/v1alpha1/rollouts",),
                                        ("/apis/example.com/v1alpha1/things",)]


def test_plan_names_a_custom_workload_on_the_terminal(tmp_path: Path) -> None:
    path = tmp_path / "rollout.yaml"
    path.write_text(yaml.safe_dump(rollout(PRIVILEGED_SPEC)))
    result = CliRunner().invoke(app, ["plan", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "Rollout/web (custom workload)" in result.stdout
