"""Pull-request mode with kustomize overlays that override their base.

tests/data/overlay-repo: `web` has a base without any securityContext and a prod overlay
whose strategic-merge patch sets `allowPrivilegeEscalation: true`, and a dev overlay with
no patch; `api` has a prod overlay whose JSON 6902 patch sets the same. The cluster
(tests/data/overlay-repo-cluster.yaml) runs what those overlays build.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from migrator.files.overlays import build_in_process, patch_entries, strategic_merge
from migrator.files.repo import (
    PullRequest,
    describe,
    index_repository,
    prepare,
    read_repository,
)
from migrator.files.source import read_files
from migrator.generate.patches import select
from migrator.plan.checking import check_object
from migrator.plan.decide import build_plan
from migrator.pss.api import Level, Version

DATA = Path(__file__).resolve().parent / "data"
REPO = DATA / "overlay-repo"
KUBECTL = shutil.which("kubectl")


def _plan() -> dict[str, Any]:
    inventory = read_files([str(DATA / "overlay-repo-cluster.yaml")], [])
    plan: dict[str, Any] = json.loads(json.dumps(build_plan(inventory, pin=Version.of(24))))
    return plan


def _pr(kustomize: list[str] | None = None) -> tuple[PullRequest, dict[str, Any]]:
    plan = _plan()
    texts, notes = read_repository(str(REPO))
    return prepare(select(plan).targets, index_repository(texts, notes), {},  # type: ignore[arg-type]
                   kustomize=kustomize), plan


def entry_of(pr: PullRequest, label: str) -> Any:
    return next(e for e in pr.entries if e.target.label == label)


def write_edited(tmp_path: Path, pr: PullRequest) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(REPO, root)
    for rel, text in pr.edits.items():
        (root / rel).write_text(text, encoding="utf-8")
    return root


def passes(obj: dict[str, Any]) -> bool:
    result = check_object(obj, "built", Level.RESTRICTED, Version.of(24))
    return result is not None and result.allowed


def test_the_plan_targets_all_three() -> None:
    labels = {t.label for t in select(_plan()).targets}  # type: ignore[arg-type]
    assert labels == {"shop Deployment/web", "shop-dev Deployment/web", "shop Deployment/api"}


def test_the_overlay_patch_that_decides_the_field_is_edited() -> None:
    pr, _plan_data = _pr()
    web = entry_of(pr, "shop Deployment/web")
    assert web.status == "edited", web.reasons
    assert "web/overlays/prod/escalation.yaml" in pr.edits
    patch_doc = yaml.safe_load(pr.edits["web/overlays/prod/escalation.yaml"])
    container = patch_doc["spec"]["template"]["spec"]["containers"][0]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    # the comment of the patch file is kept
    assert pr.edits["web/overlays/prod/escalation.yaml"].startswith("# prod: the image's")
    assert any("escalation.yaml#0 set" in line and "that file decides it" in line
               for line in web.overlays)
    assert any(line.startswith("web/overlays/prod: built in process")
               and "passes restricted:v1.24" in line for line in web.overlays)


def test_the_dev_overlay_is_verified_too() -> None:
    pr, _plan_data = _pr()
    dev = entry_of(pr, "shop-dev Deployment/web")
    assert dev.status == "edited"
    assert any(line.startswith("web/overlays/dev:") and "passes" in line
               for line in dev.overlays)


def test_a_json6902_override_is_reported_not_claimed() -> None:
    pr, plan = _pr()
    api = entry_of(pr, "shop Deployment/api")
    assert api.status == "overlay-overrides"
    assert any("escalation.json" in r for r in api.reasons)
    text = describe(plan, pr, branch=None)  # type: ignore[arg-type]
    assert "Edited, but an overlay overrides the fix" in text
    assert "what the overlay builds is not" in text
    assert "api/overlays/prod: built in process" in text


def test_the_description_states_which_overlays_were_verified() -> None:
    pr, plan = _pr()
    text = describe(plan, pr, branch=None)  # type: ignore[arg-type]
    assert "web/overlays/prod: built in process (1 patch applied): passes" in text
    assert "web/overlays/dev: built in process (0 patches applied): passes" in text


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed: kustomize not run")
def test_kubectl_kustomize_builds_pass_after_the_edits(tmp_path: Path) -> None:
    assert KUBECTL is not None
    pr, _plan_data = _pr([KUBECTL, "kustomize"])
    web = entry_of(pr, "shop Deployment/web")
    assert any("verified with" in line and "kustomize: passes" in line
               for line in web.overlays)
    root = write_edited(tmp_path, pr)
    for overlay in ("web/overlays/prod", "web/overlays/dev"):
        built = subprocess.run([KUBECTL, "kustomize", str(root / overlay)],
                               capture_output=True, text=True, check=True, timeout=60)
        (obj,) = [o for o in yaml.safe_load_all(built.stdout) if o]
        assert passes(obj), overlay
        annotations = obj["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
    api = subprocess.run([KUBECTL, "kustomize", str(root / "api/overlays/prod")],
                         capture_output=True, text=True, check=True, timeout=60)
    (obj,) = [o for o in yaml.safe_load_all(api.stdout) if o]
    assert not passes(obj)  # which is why the description does not claim it


def test_strategic_merge_merges_containers_by_name() -> None:
    base = {"spec": {"containers": [{"name": "a", "image": "x", "securityContext": {
        "runAsNonRoot": True}}, {"name": "b", "image": "y"}]}}
    patch = {"spec": {"containers": [{"name": "b", "securityContext": {"privileged": True}},
                                     {"name": "c", "image": "z"}]}}
    merged = strategic_merge(base, patch)
    assert [c["name"] for c in merged["spec"]["containers"]] == ["a", "b", "c"]
    assert merged["spec"]["containers"][0]["securityContext"] == {"runAsNonRoot": True}
    assert merged["spec"]["containers"][1]["securityContext"] == {"privileged": True}
    deleted = strategic_merge(base, {"spec": {"containers": [{"name": "a", "$patch": "delete"}]}})
    assert [c["name"] for c in deleted["spec"]["containers"]] == ["b"]
    assert strategic_merge({"a": {"b": 1, "c": 2}}, {"a": {"b": None}}) == {"a": {"c": 2}}


def test_in_process_build_applies_json6902_to_its_target_only() -> None:
    entries = patch_entries("o/kustomization.yaml", {"patches": [
        {"path": "p.json", "target": {"kind": "Deployment", "name": "api"}}]})
    texts = {"o/p.json": '[{"op": "add", "path": "/spec/replicas", "value": 3}]'}
    api = build_in_process({"kind": "Deployment", "metadata": {"name": "api"}, "spec": {}},
                           [entries], texts, ["api"])
    web = build_in_process({"kind": "Deployment", "metadata": {"name": "web"}, "spec": {}},
                           [entries], texts, ["web"])
    assert api.obj["spec"] == {"replicas": 3} and api.applied == ["o/p.json"]
    assert web.obj["spec"] == {} and web.applied == []


def test_a_patch_target_selects_by_labels_and_namespace_too() -> None:
    entries = patch_entries("o/kustomization.yaml", {"patches": [
        {"path": "p.json", "target": {"kind": "Deployment", "labelSelector": "tier=web"}}]})
    texts = {"o/p.json": '[{"op": "add", "path": "/spec/replicas", "value": 3}]'}
    web = {"kind": "Deployment", "metadata": {"name": "a", "labels": {"tier": "web"}},
           "spec": {}}
    db = {"kind": "Deployment", "metadata": {"name": "b", "labels": {"tier": "db"}}, "spec": {}}
    assert build_in_process(web, [entries], texts, ["a"]).applied == ["o/p.json"]
    assert build_in_process(db, [entries], texts, ["b"]).applied == []
