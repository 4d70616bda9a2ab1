"""`migrator generate`: the whole output folder for the demo, byte for byte, and its rules.

The demo's output is compared file by file with tests/golden/generate/demo/ (missing and
extra files fail too); regenerate with MIGRATOR_UPDATE_GOLDEN=1.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from demo import ROOT, cwd, write_demo_plan  # noqa: E402
from edge import edged  # noqa: E402
from golden import GOLDEN  # noqa: E402

from migrator.app.generate import generate, generate_files  # noqa: E402
from migrator.errors import OutputExists, WriteError  # noqa: E402
from migrator.files.planfile import load_plan  # noqa: E402
from migrator.files.writing import write_tree  # noqa: E402
from migrator.generate.admission import admission_files, config_version  # noqa: E402
from migrator.generate.namespaces import namespace_files  # noqa: E402
from migrator.model.admission import parse_admission_config  # noqa: E402
from migrator.plan.checking import check_object  # noqa: E402
from migrator.pss.api import Level, Version  # noqa: E402

generate = edged(generate)

GOLDEN_TREE = GOLDEN / "generate" / "demo"


@pytest.fixture(scope="module")
def plan_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_demo_plan(tmp_path_factory.mktemp("plan"))


def run_generate(plan: Path, out: Path, **kwargs: Any) -> tuple[int, list[str], list[str]]:
    said: list[str] = []
    errs: list[str] = []
    with cwd(ROOT):
        rc = generate(str(plan), str(out), echo=said.append, err=errs.append, **kwargs)
    return rc, said, errs


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_demo_output_matches_the_golden_tree(plan_file: Path, tmp_path: Path) -> None:
    rc, said, errs = run_generate(plan_file, tmp_path / "out")
    assert rc == 0, errs
    produced = tree(tmp_path / "out")
    if os.environ.get("MIGRATOR_UPDATE_GOLDEN") == "1":
        shutil.rmtree(GOLDEN_TREE, ignore_errors=True)
        shutil.copytree(tmp_path / "out", GOLDEN_TREE)
        return
    expected = tree(GOLDEN_TREE)
    assert sorted(set(expected) - set(produced)) == [], "missing files"
    assert sorted(set(produced) - set(expected)) == [], "extra files"
    for name, content in expected.items():
        assert produced[name].decode() == content.decode(), f"{name} differs from its golden file"
    assert said == [f"wrote 52 files to {tmp_path / 'out'}: 3 workload patches (strategic, "
                    f"json6902, full), namespace labels in two phases, 6 residual policies, "
                    f"admission configuration; see {tmp_path / 'out' / 'README.md'}"]
    assert errs[0].startswith("not patched: batch CronJob/nightly-reconcile: "
                              "capabilities_restricted")


def test_output_is_byte_stable_across_runs(plan_file: Path, tmp_path: Path) -> None:
    assert run_generate(plan_file, tmp_path / "a")[0] == 0
    assert run_generate(plan_file, tmp_path / "b")[0] == 0
    assert tree(tmp_path / "a") == tree(tmp_path / "b")


def test_every_generated_manifest_reparses_and_every_full_manifest_passes(
        plan_file: Path, tmp_path: Path) -> None:
    assert run_generate(plan_file, tmp_path / "out")[0] == 0
    out = tmp_path / "out"
    for path in sorted(out.rglob("*")):
        if path.suffix == ".yaml":
            docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
            assert len(docs) == 1 and isinstance(docs[0], dict), path
        elif path.suffix == ".json":
            json.loads(path.read_text())
    for path in sorted((out / "patches" / "full").glob("*.yaml")):
        obj = yaml.safe_load(path.read_text())
        result = check_object(obj, str(path), Level.RESTRICTED, Version.of(24))
        assert result is not None and result.allowed, (path, result)


def test_only_the_chosen_format_is_written(plan_file: Path, tmp_path: Path) -> None:
    assert run_generate(plan_file, tmp_path / "out", fmt="json6902")[0] == 0
    folders = {p.parent.relative_to(tmp_path / "out").as_posix()
               for p in (tmp_path / "out" / "patches").rglob("*") if p.is_file()}
    assert folders == {"patches/json6902"}


def test_existing_output_is_kept_without_force(plan_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run_generate(plan_file, out)[0] == 0
    (out / "README.md").write_text("mine\n")
    rc, said, errs = run_generate(plan_file, out)
    assert rc == 2 and said == []
    assert "already exist; pass --force to overwrite" in errs[0]
    assert (out / "README.md").read_text() == "mine\n"
    assert run_generate(plan_file, out, force=True)[0] == 0
    assert (out / "README.md").read_text() != "mine\n"


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON"),
    ('{"schema": "something/else"}', "not a migrator plan"),
    ('{"schema": "migrator.plan/v1"}', "plan lacks"),
])
def test_a_bad_plan_is_one_line_and_exit_2(tmp_path: Path, content: str, message: str) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(content)
    rc, said, errs = run_generate(plan, tmp_path / "out")
    assert (rc, said) == (2, [])
    assert len(errs) == 1 and errs[0].startswith(f"error: {plan}") and message in errs[0]
    assert not (tmp_path / "out").exists()


def test_an_unknown_format_is_refused(plan_file: Path, tmp_path: Path) -> None:
    rc, _said, errs = run_generate(plan_file, tmp_path / "out", fmt="helm")
    assert rc == 2 and "--format must be" in errs[0]


def test_unavailable_sources_are_reported_and_from_reads_them(
        plan_file: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    said: list[str] = []
    errs: list[str] = []
    with cwd(elsewhere):  # the plan's relative origins do not resolve from here
        assert generate(str(plan_file), "out", echo=said.append, err=errs.append) == 0
        assert any("is not available; pass the files" in e for e in errs)
        assert not (elsewhere / "out" / "patches" / "full").exists()
        errs.clear()
        assert generate(str(plan_file), "out2", sources=[str(ROOT / "fixtures" / "demo")],
                        echo=said.append, err=errs.append) == 0
    assert len(list((elsewhere / "out2" / "patches" / "full").glob("*.yaml"))) == 3


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="needs kubectl (kustomize)")
@pytest.mark.parametrize("fmt", ["strategic", "json6902"])
def test_kustomize_applies_the_patches_as_the_full_manifests_show(
        plan_file: Path, tmp_path: Path, fmt: str) -> None:
    """Independent proof: kustomize (in kubectl) builds the demo workloads with the
    generated kustomization and gets exactly the full patched manifests."""
    import subprocess

    assert run_generate(plan_file, tmp_path / "out")[0] == 0
    folder = tmp_path / "out" / "patches" / fmt
    full = {yaml.safe_load(p.read_text())["metadata"]["name"]: yaml.safe_load(p.read_text())
            for p in (tmp_path / "out" / "patches" / "full").glob("*.yaml")}
    names = []
    for source in sorted((ROOT / "fixtures" / "demo").glob("4*.yaml")):
        for doc in yaml.safe_load_all(source.read_text()):
            if doc and doc.get("kind") in ("Deployment", "CronJob") \
                    and doc["metadata"]["name"] in full:
                doc["metadata"].pop("uid", None)
                name = f"src-{doc['metadata']['name']}.yaml"
                (folder / name).write_text(yaml.safe_dump(doc))
                names.append(name)
    kustomization = folder / "kustomization.yaml"
    kustomization.write_text(kustomization.read_text() + "resources:\n"
                             + "".join(f"- {n}\n" for n in sorted(names)))
    built = subprocess.run(["kubectl", "kustomize", str(folder)], capture_output=True,
                           text=True, check=False)
    assert built.returncode == 0, built.stderr
    docs = [d for d in yaml.safe_load_all(built.stdout) if d]
    assert {d["metadata"]["name"]: d for d in docs} == full


# -- namespaces ------------------------------------------------------------------------------


def test_phase_one_watches_and_phase_two_enforces(plan_file: Path) -> None:
    plan = load_plan(str(plan_file))
    files = namespace_files(plan)
    one = yaml.safe_load(files["phase1-audit/team-a.yaml"])
    two = yaml.safe_load(files["phase2-enforce/team-a.yaml"])
    prefix = "pod-security.kubernetes.io/"
    assert one == {"apiVersion": "v1", "kind": "Namespace", "metadata": {
        "name": "team-a", "labels": {prefix + "audit": "restricted",
                                     prefix + "audit-version": "latest",
                                     prefix + "warn": "restricted",
                                     prefix + "warn-version": "latest"}}}
    assert two["metadata"]["labels"] == {**one["metadata"]["labels"],
                                         prefix + "enforce": "baseline",
                                         prefix + "enforce-version": "v1.24"}
    for phase in ("phase1-audit", "phase2-enforce"):
        kustomization = yaml.safe_load(files[f"{phase}/kustomization.yaml"])
        assert kustomization["resources"] == [f"{ns['name']}.yaml" for ns in plan["namespaces"]]


# -- admission configuration -----------------------------------------------------------------


def test_admission_config_reads_back_and_exempts_only_what_the_plan_says(
        plan_file: Path) -> None:
    plan = load_plan(str(plan_file))
    files = admission_files(plan)
    for name in ("admission-config.yaml", "admission-configuration.yaml"):
        config = parse_admission_config(yaml.safe_load(files[name]), name)
        assert str(config.defaults.enforce) == "privileged:v1.24"
        assert str(config.defaults.audit) == str(config.defaults.warn) == "baseline:v1.24"
        assert config.namespaces == frozenset({"kube-system"})
        assert config.usernames == frozenset()
        assert "exempts every workload it creates" in files[name]
    assert yaml.safe_load(files["admission-config.yaml"])["apiVersion"] == \
        "pod-security.admission.config.k8s.io/v1beta1"


@pytest.mark.parametrize("server, pin, expected", [
    ("v1.24.17", "v1.24", "v1beta1"),
    ("v1.23.0", "v1.23", "v1beta1"),
    ("v1.25.3-eks-1", "v1.25", "v1"),
    ("v1.30.1", "v1.24", "v1"),
    ("v1.22.9", "v1.22", "v1alpha1"),
    (None, "v1.24", "v1beta1"),
    (None, "latest", "v1"),
])
def test_config_api_version_follows_the_cluster(server: str | None, pin: str,
                                                expected: str) -> None:
    assert config_version({"cluster": {"server_version": server},
                           "pin_version": pin})[0] == expected


def test_defaults_never_loosen_the_configuration_in_force() -> None:
    plan = {"cluster": {"server_version": "v1.26.0"}, "pin_version": "v1.26",
            "admission_config": {"defaults": {"enforce": "baseline:v1.25",
                                              "audit": "restricted:latest",
                                              "warn": "privileged:latest"},
                                 "exempt_namespaces": ["tools"],
                                 "exempt_runtime_classes": ["kata"],
                                 "exempt_usernames": [
                                     "system:serviceaccount:kube-system:replicaset-controller"]},
            "namespaces": []}
    files = admission_files(plan)
    config = parse_admission_config(yaml.safe_load(files["admission-config.yaml"]), "x")
    assert str(config.defaults.enforce) == "baseline:v1.25"
    assert str(config.defaults.audit) == "restricted:latest"
    assert str(config.defaults.warn) == "baseline:v1.26"
    assert config.namespaces == frozenset({"tools"})
    assert config.runtime_classes == frozenset({"kata"})
    assert "look like controllers; remove them: system:serviceaccount:kube-system:" \
        "replicaset-controller" in files["admission-config.yaml"]


# -- writing ---------------------------------------------------------------------------------


@pytest.mark.parametrize("relpath", ["../escape.yaml", "/etc/passwd", "a/../../b", "", "a//b",
                                     "./a"])
def test_paths_outside_the_folder_are_refused(tmp_path: Path, relpath: str) -> None:
    with pytest.raises(WriteError):
        write_tree(str(tmp_path / "out"), {relpath: "x"}, force=True)
    assert not (tmp_path / "escape.yaml").exists()


def test_writing_through_a_link_is_refused(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "out" / "patches").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(WriteError, match="symbolic link"):
        write_tree(str(tmp_path / "out"), {"patches/a.yaml": "x"}, force=True)
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_nothing_is_written_when_one_file_exists(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text("keep")
    with pytest.raises(OutputExists):
        write_tree(str(tmp_path), {"a.yaml": "new", "b.yaml": "new"}, force=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.yaml"]


def test_generate_files_is_pure_and_sorted(plan_file: Path) -> None:
    plan = load_plan(str(plan_file))
    files, patched, _residual = generate_files(plan, {}, ("strategic",))
    assert list(files) == sorted(files)
    assert patched.patches == ()
    assert "patches/strategic/kustomization.yaml" in files
