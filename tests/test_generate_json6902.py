"""Every generated RFC 6902 patch applies to its source manifest, and the result passes.

Patches are applied with the `jsonpatch` library and, where kubectl is installed, through
`kubectl kustomize` (a kustomization with the manifest as resource and the patch as a
JSON 6902 patch), then judged with `check_object` at the level they promise. The
workloads come from tests/data/decisions: a Deployment without any securityContext and
with template annotations, a mutating PSP's Deployment and its CronJob sibling.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonpatch
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))

from migrator.files.source import read_files
from migrator.generate.patches import (
    WorkloadPatch,
    json6902,
    patch_all,
    select,
    served,
    source_shape,
)
from migrator.plan.checking import check_object
from migrator.plan.decide import build_plan
from migrator.pss.api import Version

DATA = Path(__file__).resolve().parent / "data" / "decisions"


def _objects() -> dict[tuple[str, str, str], dict[str, Any]]:
    inventory = read_files([str(DATA)], [])
    return {(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]): o
            for o in inventory.workloads}


def _plan() -> dict[str, Any]:
    inventory = read_files([str(DATA)], [])
    plan: dict[str, Any] = json.loads(json.dumps(build_plan(inventory, pin=Version.of(24))))
    return plan


def _patches(objects: dict[tuple[str, str, str], dict[str, Any]]) -> list[WorkloadPatch]:
    patched = patch_all(select(_plan()).targets, objects)
    return list(patched.patches)


def server_object(manifest: dict[str, Any]) -> dict[str, Any]:
    """`manifest` as a live read returns it: server metadata, status, defaulted empties."""
    obj = copy.deepcopy(manifest)
    obj["metadata"].update({"uid": "0f0f", "resourceVersion": "42",
                            "creationTimestamp": "2026-01-01T00:00:00Z"})
    obj["status"] = {"replicas": 1}
    path = {"Deployment": ("spec", "template"),
            "CronJob": ("spec", "jobTemplate", "spec", "template")}[obj["kind"]]
    template = obj
    for key in path:
        template = template[key]
    template.setdefault("metadata", {})["creationTimestamp"] = None
    template["metadata"].setdefault("annotations", {})[
        "kubectl.kubernetes.io/restartedAt"] = "2026-01-02T00:00:00Z"
    template["spec"].setdefault("securityContext", {})
    for container in template["spec"]["containers"]:
        container.setdefault("resources", {})
    return obj


def passes(obj: dict[str, Any], patch: WorkloadPatch) -> bool:
    result = check_object(obj, "patched", patch.target.level, patch.target.version)
    return result is not None and result.allowed


def template_annotations(obj: dict[str, Any]) -> dict[str, str]:
    spec = obj["spec"]
    template = spec["jobTemplate"]["spec"]["template"] if obj["kind"] == "CronJob" \
        else spec["template"]
    found: dict[str, str] = (template.get("metadata") or {}).get("annotations") or {}
    return found


OBJECTS = _objects()
SOURCE_PATCHES = _patches(OBJECTS)


def test_the_cases_are_there() -> None:
    labels = {p.target.label for p in SOURCE_PATCHES}
    assert {"shop Deployment/web", "jobs Deployment/api", "jobs CronJob/report"} <= labels


@pytest.mark.parametrize("patch", SOURCE_PATCHES, ids=lambda p: p.target.label)
def test_patch_from_the_source_applies_to_the_source_and_passes(patch: WorkloadPatch) -> None:
    source = OBJECTS[(patch.target.kind, patch.target.namespace, patch.target.name)]
    assert not passes(source, patch)
    result = jsonpatch.apply_patch(source, json6902(patch))
    assert passes(result, patch)
    assert result == patch.patched
    # annotations the manifest had are kept
    assert template_annotations(source).items() <= template_annotations(result).items()


@pytest.mark.parametrize("patch", SOURCE_PATCHES, ids=lambda p: p.target.label)
def test_patch_from_a_live_object_applies_to_the_manifest_and_the_live_object(
        patch: WorkloadPatch) -> None:
    source = OBJECTS[(patch.target.kind, patch.target.namespace, patch.target.name)]
    live = server_object(source)
    assert served(live) and not served(source)
    key = (patch.target.kind, patch.target.namespace, patch.target.name)
    (from_live,) = [p for p in _patches({**OBJECTS, key: live})
                    if p.target.label == patch.target.label]
    ops = json6902(from_live)
    on_manifest = jsonpatch.apply_patch(source, ops)
    assert passes(on_manifest, patch)
    assert template_annotations(source).items() <= template_annotations(on_manifest).items()
    on_live = jsonpatch.apply_patch(live, ops)
    assert passes(on_live, patch)


def test_single_annotation_keys_are_added_with_escaping() -> None:
    web = next(p for p in SOURCE_PATCHES if p.target.label == "shop Deployment/web")
    ops = json6902(web)
    keyed = [op for op in ops if "annotations/" in op["path"]]
    assert keyed and all("~1" in op["path"] for op in keyed)
    assert not any(op["path"].endswith("/annotations") for op in ops)


def test_missing_parents_are_created_whole() -> None:
    legacy = next(p for p in SOURCE_PATCHES if p.target.label == "strict Deployment/legacy")
    paths = {op["path"]: op for op in json6902(legacy)}
    assert paths["/spec/template/spec/securityContext"]["op"] == "add"
    assert "/spec/template/spec/securityContext/runAsNonRoot" not in paths


def test_source_shape_drops_only_what_the_server_adds() -> None:
    source = OBJECTS[("Deployment", "shop", "web")]
    assert source_shape(source) == source
    shaped = source_shape(server_object(source))
    assert shaped == source


KUBECTL = shutil.which("kubectl")


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed: kustomize not run")
@pytest.mark.parametrize("patch", SOURCE_PATCHES, ids=lambda p: p.target.label)
def test_patch_applies_through_kubectl_kustomize(patch: WorkloadPatch, tmp_path: Path) -> None:
    assert KUBECTL is not None
    source = OBJECTS[(patch.target.kind, patch.target.namespace, patch.target.name)]
    (tmp_path / "workload.yaml").write_text(yaml.safe_dump(source), encoding="utf-8")
    (tmp_path / "patch.json").write_text(json.dumps(json6902(patch)), encoding="utf-8")
    group, _, version = patch.api_version.rpartition("/")
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "resources": ["workload.yaml"],
        "patches": [{"path": "patch.json", "target": {
            "group": group, "version": version, "kind": patch.target.kind,
            "name": patch.target.name}}],
    }
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(kustomization),
                                                 encoding="utf-8")
    built = subprocess.run([KUBECTL, "kustomize", str(tmp_path)], capture_output=True,
                           text=True, timeout=60, check=False)
    assert built.returncode == 0, built.stderr
    (result,) = list(yaml.safe_load_all(built.stdout))
    assert passes(result, patch)
    assert template_annotations(source).items() <= template_annotations(result).items()


def test_every_demo_patch_applies_to_its_source_manifest() -> None:
    from demo import demo_inventory, demo_plan

    objects = {(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]): o
               for o in demo_inventory().workloads}
    patched = patch_all(select(demo_plan()).targets, objects)
    assert len(patched.patches) >= 3
    for patch in patched.patches:
        source = objects[(patch.target.kind, patch.target.namespace, patch.target.name)]
        result = jsonpatch.apply_patch(source, json6902(patch))
        assert passes(result, patch), patch.target.label
        assert template_annotations(source).items() <= template_annotations(result).items()


def test_a_cronjob_sibling_gets_its_psp_defaults_marked_predicted() -> None:
    report = next(p for p in SOURCE_PATCHES if p.target.label == "jobs CronJob/report")
    api = next(p for p in SOURCE_PATCHES if p.target.label == "jobs Deployment/api")
    fields = {c.field.rsplit(".", 1)[-1]: c for c in report.changes}
    assert fields["fsGroup"].after == 1000 and fields["supplementalGroups"].after == [1000]
    (why,) = fields["fsGroup"].reasons
    assert why.startswith("PSP jobs-mutating: spec.fsGroup (predicted")
    assert "only the bottom of the PSP's allowed range 1000-2000" in why
    assert any("container.apparmor.security.beta.kubernetes.io/report" in c.field
               for c in report.changes)
    # the running sibling's values were observed, not predicted
    observed = {c.field.rsplit(".", 1)[-1]: c for c in api.changes}["fsGroup"]
    assert "predicted" not in observed.reasons[0]
    assert observed.after == fields["fsGroup"].after
