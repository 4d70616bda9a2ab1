"""Pull-request mode: locating sources (kustomize, multi-document files, Helm), editing them
in place without touching any other byte, git, and the pull-request description.

The demo's description and the textual diff of its edits are golden files under
tests/golden/generate/demo-repo/ (regenerate with MIGRATOR_UPDATE_GOLDEN=1).
"""

from __future__ import annotations

import difflib
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from demo import ROOT, cwd, write_demo_plan  # noqa: E402
from edge import edged  # noqa: E402
from golden import assert_golden  # noqa: E402

from migrator.app.generate import patch  # noqa: E402
from migrator.files.repo import (  # noqa: E402
    NotEditable,
    change_summary,
    edit_document,
    guess_indentation,
    helm_release,
    index_repository,
    keep_comments_with_their_key,
    locate,
    read_repository,
    round_trip,
    split_documents,
)
from migrator.generate.patches import Change  # noqa: E402
from migrator.plan.checking import check_object  # noqa: E402
from migrator.pss.api import Level, Version  # noqa: E402

patch = edged(patch)

DEMO_REPO = ROOT / "fixtures" / "demo-repo"
BRANCH = "migrator/pod-security-v1.24"


@pytest.fixture(scope="module")
def plan_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_demo_plan(tmp_path_factory.mktemp("plan"))


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout


def make_repo(tmp_path: Path, *, init: bool = True) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(DEMO_REPO, repo)
    if init:
        git(repo, "init", "-q", "-b", "main")
        git(repo, "config", "user.name", "Test User")
        git(repo, "config", "user.email", "test@example.com")
        git(repo, "config", "commit.gpgsign", "false")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "manifests")
    return repo


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".git" not in p.relative_to(root).parts}


def run_patch(plan: Path, repo: Path, out: Path, **kwargs: Any) -> tuple[int, list[str],
                                                                        list[str]]:
    said: list[str] = []
    errs: list[str] = []
    with cwd(ROOT):
        rc = patch(str(plan), str(repo), str(out), echo=said.append, err=errs.append, **kwargs)
    return rc, said, errs


def unified(before: dict[str, bytes], after: dict[str, bytes]) -> str:
    out: list[str] = []
    for name in sorted(after):
        if before.get(name) != after[name]:
            out.extend(difflib.unified_diff(
                before[name].decode().splitlines(keepends=True),
                after[name].decode().splitlines(keepends=True), f"a/{name}", f"b/{name}"))
    return "".join(out)


# -- the demo pull request -------------------------------------------------------------------


def test_demo_pull_request_description_and_diff(plan_file: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # the golden description must not depend on whether kubectl is installed
    monkeypatch.setattr("migrator.app.generate.kustomize_command", lambda: None)
    repo = make_repo(tmp_path)
    before = snapshot(repo)
    rc, said, errs = run_patch(plan_file, repo, tmp_path / "out")
    assert rc == 0, errs
    after = snapshot(repo)
    assert sorted(n for n in after if after[n] != before[n]) == [
        "apps/team-a/base/deployment.yaml", "batch/cronjobs.yaml"]
    assert set(after) == set(before)
    assert_golden("generate/demo-repo/changes.diff", unified(before, after))
    assert_golden("generate/demo-repo/pr-description.md",
                  (tmp_path / "out" / "pr-description.md").read_text())
    assert said[:3] == [
        "edited batch/cronjobs.yaml#1 (line 24): batch CronJob/hourly-export",
        "Helm chart ingress-nginx (release ingress-nginx): ingress-nginx "
        "Deployment/ingress-nginx-controller: set the fields through the chart's values",
        "edited apps/team-a/base/deployment.yaml#0 (line 1) (deployed through "
        "apps/team-a/overlays/prod/kustomization.yaml -> apps/team-a/base/kustomization.yaml):"
        " team-a Deployment/web"]
    assert any(e.startswith("refused: batch CronJob/nightly-reconcile") for e in errs)
    assert git(repo, "branch", "--show-current").strip() == "main"


def _changed_lines_only_touch_patched_fields(old: str, new: str) -> None:
    """Every original line survives, in order, except lines whose own field was patched;
    those keep their text up to the patched value."""
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag in ("equal", "insert"):
            continue
        assert tag == "replace", (tag, a[i1:i2])
        for line in a[i1:i2]:
            stem = line.rstrip("\n").rstrip("}]").split(": ")[0]
            assert any(n.startswith(stem) for n in b[j1:j2]), line
            assert any(key in line for key in ("securityContext", "allowPrivilegeEscalation",
                                               "drop", "add")), line


def test_no_byte_outside_the_patched_fields_changes(plan_file: Path, tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    before = snapshot(repo)
    assert run_patch(plan_file, repo, tmp_path / "out")[0] == 0
    after = snapshot(repo)
    for name in sorted(after):
        if after[name] == before[name]:
            continue
        old, new = before[name].decode(), after[name].decode()
        _changed_lines_only_touch_patched_fields(old, new)
        old_docs = [d for d in yaml.safe_load_all(old) if d]
        new_docs = [d for d in yaml.safe_load_all(new) if d]
        assert len(old_docs) == len(new_docs)
        for old_doc, new_doc in zip(old_docs, new_docs, strict=True):
            summary = change_summary(old_doc, new_doc)
            assert summary["removed"] == 0 and summary["changed"] <= 1
            result = check_object(new_doc, name, Level.RESTRICTED, Version.of(24))
            if old_doc != new_doc:
                assert result is not None and result.allowed, (name, result)


def test_commit_creates_the_branch_and_one_commit(plan_file: Path, tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    base = git(repo, "rev-parse", "HEAD").strip()
    rc, said, errs = run_patch(plan_file, repo, tmp_path / "out", commit=True)
    assert rc == 0, errs
    assert git(repo, "branch", "--show-current").strip() == BRANCH
    assert git(repo, "rev-list", "--count", f"{base}..HEAD").strip() == "1"
    assert git(repo, "rev-parse", "HEAD~1").strip() == base
    files = git(repo, "show", "--name-only", "--format=", "HEAD").split()
    assert files == ["apps/team-a/base/deployment.yaml", "batch/cronjobs.yaml"]
    assert git(repo, "status", "--porcelain") == ""
    subject = git(repo, "log", "-1", "--format=%s").strip()
    assert subject == "Pod Security: explicit securityContext for 2 workloads (v1.24)"
    assert any(line.startswith("committed ") and line.endswith(f"on branch {BRANCH}")
               for line in said)
    assert f"Branch: `{BRANCH}`." in (tmp_path / "out" / "pr-description.md").read_text()
    # the branch is there now: a second run is refused without --force
    git(repo, "checkout", "-q", "main")
    rc, _said, errs = run_patch(plan_file, repo, tmp_path / "out2", commit=True)
    assert rc == 2 and f"branch {BRANCH} exists" in errs[0]


def test_a_dirty_tree_is_refused_unless_allowed(plan_file: Path, tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    (repo / "legacy" / "billing-api.yaml").write_text(
        (repo / "legacy" / "billing-api.yaml").read_text() + "# local edit\n")
    before = snapshot(repo)
    rc, said, errs = run_patch(plan_file, repo, tmp_path / "out")
    assert (rc, said) == (2, [])
    assert "uncommitted changes (legacy/billing-api.yaml)" in errs[0]
    assert "--allow-dirty" in errs[0]
    assert snapshot(repo) == before
    assert not (tmp_path / "out").exists()
    rc, _said, errs = run_patch(plan_file, repo, tmp_path / "out", allow_dirty=True)
    assert rc == 0, errs
    assert snapshot(repo)["legacy/billing-api.yaml"] == before["legacy/billing-api.yaml"]


def test_commit_refuses_to_sweep_in_local_edits_of_a_file_it_edits(
        plan_file: Path, tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    path = repo / "batch" / "cronjobs.yaml"
    path.write_text(path.read_text() + "# local edit\n")
    rc, _said, errs = run_patch(plan_file, repo, tmp_path / "out", commit=True,
                                allow_dirty=True)
    assert rc == 2 and "batch/cronjobs.yaml has uncommitted changes" in errs[0]
    assert git(repo, "branch", "--show-current").strip() == "main"


def test_an_unparseable_file_is_reported_with_its_line_and_left_alone(
        plan_file: Path, tmp_path: Path) -> None:
    repo = make_repo(tmp_path, init=False)
    broken = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [oops\n"
    (repo / "broken.yaml").write_text(broken)
    rc, _said, errs = run_patch(plan_file, repo, tmp_path / "out")
    assert rc == 0
    assert any(e.startswith("unparseable, left untouched: broken.yaml:5: invalid YAML")
               for e in errs), errs
    assert (repo / "broken.yaml").read_text() == broken
    description = (tmp_path / "out" / "pr-description.md").read_text()
    assert "## Files that could not be read (left untouched)" in description
    assert "`broken.yaml:5: invalid YAML" in description
    assert "edited" in " ".join(_said)


def test_the_helm_object_gets_values_advice_and_is_not_edited(
        plan_file: Path, tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    before = (repo / "ingress-nginx" / "controller.yaml").read_bytes()
    assert run_patch(plan_file, repo, tmp_path / "out")[0] == 0
    assert (repo / "ingress-nginx" / "controller.yaml").read_bytes() == before
    description = (tmp_path / "out" / "pr-description.md").read_text()
    assert "chart `ingress-nginx` 4.4.0, release `ingress-nginx`" in description
    assert "set these securityContext fields through the chart's values" in description
    assert "| containers controller | `securityContext.allowPrivilegeEscalation` | `false` |" \
        in description
    assert "| pod | `securityContext.seccompProfile` | `{\"type\": \"RuntimeDefault\"}` |" \
        in description


def test_objects_not_in_the_repository_get_a_patch_to_apply_by_hand(
        plan_file: Path, tmp_path: Path) -> None:
    repo = make_repo(tmp_path, init=False)
    shutil.rmtree(repo / "apps" / "team-a")
    rc, _said, errs = run_patch(plan_file, repo, tmp_path / "out")
    assert rc == 0
    assert any(e.startswith("not-found: team-a Deployment/web: no document in the repository")
               for e in errs)
    description = (tmp_path / "out" / "pr-description.md").read_text()
    section = description.split("## Not found in the repository: apply by hand")[1]
    hand = section.split("```yaml\n")[1].split("```")[0]
    assert yaml.safe_load(hand)["metadata"] == {"name": "web", "namespace": "team-a"}
    assert "runAsNonRoot: true" in hand


def test_a_document_that_already_passes_in_the_repository_is_left_alone(
        plan_file: Path, tmp_path: Path) -> None:
    repo = make_repo(tmp_path, init=False)
    path = repo / "apps" / "team-a" / "base" / "deployment.yaml"
    path.write_text(path.read_text().replace(
        "    spec:\n      # One", "    spec:\n      securityContext: {runAsNonRoot: true, "
        "seccompProfile: {type: RuntimeDefault}}\n      # One").replace(
        "              memory: 256Mi\n", "              memory: 256Mi\n          securityContext:"
        " {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}\n"))
    before = path.read_bytes()
    assert run_patch(plan_file, repo, tmp_path / "out")[0] == 0
    assert path.read_bytes() == before
    assert "## Already passing in the repository" in (
        tmp_path / "out" / "pr-description.md").read_text()


def test_without_git_commit_is_refused_but_editing_works(plan_file: Path,
                                                          tmp_path: Path) -> None:
    repo = make_repo(tmp_path, init=False)
    rc, _said, errs = run_patch(plan_file, repo, tmp_path / "out", commit=True)
    assert rc == 2 and "--commit" in errs[0] and "not a git repository" in errs[0]
    rc, _said, errs = run_patch(plan_file, repo, tmp_path / "out")
    assert rc == 0 and any("not a git repository" in e for e in errs)


def test_an_existing_description_is_kept_without_force(plan_file: Path, tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "pr-description.md").write_text("mine")
    before = snapshot(repo)
    rc, _said, errs = run_patch(plan_file, repo, tmp_path / "out")
    assert rc == 2 and "pass --force" in errs[0]
    assert snapshot(repo) == before
    assert run_patch(plan_file, repo, tmp_path / "out", force=True)[0] == 0


# -- locating --------------------------------------------------------------------------------


def test_the_demo_index_follows_kustomize() -> None:
    texts, notes = read_repository(str(DEMO_REPO))
    index = index_repository(texts, notes)
    assert index.unparseable == []
    assert "apps/team-a/overlays/prod/replicas.yaml" in index.patch_files
    assert not any(d.path.endswith("kustomization.yaml") or d.path.endswith("replicas.yaml")
                   for d in index.documents)
    (match,) = locate(index, "Deployment", "team-a", "web")
    assert match.exact and match.document.path == "apps/team-a/base/deployment.yaml"
    assert match.context.via == ("apps/team-a/overlays/prod/kustomization.yaml",
                                 "apps/team-a/base/kustomization.yaml")
    (cron,) = locate(index, "CronJob", "batch", "hourly-export")
    assert (cron.document.path, cron.document.chunk, cron.document.index) == (
        "batch/cronjobs.yaml", 1, 1)
    assert locate(index, "Deployment", "team-b", "web") == []


def test_document_indexes_agree_with_the_manifest_loader(tmp_path: Path) -> None:
    from migrator.files.manifests import load_file

    (tmp_path / "odd.yaml").write_text("# top\n---\n---\nkind: A\nmetadata: {name: a}\n"
                                       "---\n# only a comment\n---\nkind: B\n"
                                       "metadata: {name: b}\n")
    texts = {"odd.yaml": (tmp_path / "odd.yaml").read_text()}
    for path in sorted(DEMO_REPO.rglob("*.yaml")):
        texts[path.relative_to(DEMO_REPO).as_posix()] = path.read_text()
    index = index_repository(texts)
    ours = {(d.path, d.index, d.name) for d in index.documents}
    theirs = set()
    for rel in texts:
        if rel in index.patch_files or rel.endswith("kustomization.yaml"):
            continue
        source = tmp_path / "odd.yaml" if rel == "odd.yaml" else DEMO_REPO / rel
        for doc in load_file(str(source)):
            if doc.obj.get("kind"):
                theirs.add((rel, doc.index, str((doc.obj.get("metadata") or {}).get("name")
                                                or "")))
    assert ours == theirs
    assert {(d.index, d.name) for d in index.documents if d.path == "odd.yaml"} == {
        (1, "a"), (3, "b")}


def test_prefixes_suffixes_and_the_outermost_namespace_win() -> None:
    texts = {
        "base/kustomization.yaml": "resources: [app.yaml]\nnamespace: inner\nnamePrefix: b-\n",
        "base/app.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app}\n",
        "prod/kustomization.yaml": "resources: [../base]\nnamespace: prod\nnameSuffix: -p\n",
        "loose.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: solo}\n",
    }
    index = index_repository(texts)
    (match,) = locate(index, "Deployment", "prod", "b-app-p")
    assert match.exact and match.context.namespace == "prod"
    (inner,) = locate(index, "Deployment", "inner", "b-app")
    assert inner.context.via == ("base/kustomization.yaml",)
    (loose,) = locate(index, "Deployment", "anywhere", "solo")
    assert not loose.exact and "matched by kind and name" in loose.describe()


def test_the_same_object_twice_is_ambiguous_and_not_edited(plan_file: Path,
                                                           tmp_path: Path) -> None:
    repo = make_repo(tmp_path, init=False)
    shutil.copy(repo / "batch" / "cronjobs.yaml", repo / "batch" / "copy.yaml")
    before = snapshot(repo)
    assert run_patch(plan_file, repo, tmp_path / "out")[0] == 0
    after = snapshot(repo)
    assert after["batch/cronjobs.yaml"] == before["batch/cronjobs.yaml"]
    assert "## Found more than once: apply by hand" in (
        tmp_path / "out" / "pr-description.md").read_text()


def test_helm_release_reads_chart_and_release() -> None:
    obj = {"metadata": {"labels": {"helm.sh/chart": "ingress-nginx-4.4.0",
                                   "app.kubernetes.io/managed-by": "Helm"},
                        "annotations": {"meta.helm.sh/release-name": "edge"}}}
    release = helm_release(obj)
    assert release is not None and (release.chart, release.version, release.release) == (
        "ingress-nginx", "4.4.0", "edge")
    assert helm_release({"metadata": {"labels": {"app": "x"}}}) is None


# -- editing ---------------------------------------------------------------------------------


def test_split_documents_joins_back() -> None:
    for path in sorted(DEMO_REPO.rglob("*.yaml")):
        text = path.read_text()
        assert "".join(c.text for c in split_documents(text)) == text
    text = "# top\n---\na: 1\n--- # two\nb: |\n  ---x\n...\n"
    assert [c.first_line for c in split_documents(text)] == [1, 2, 4]


@pytest.mark.parametrize("text, expected", [
    ("a:\n  b:\n  - c\n", (2, 2, 0)),
    ("a:\n  b:\n    - c\n", (2, 4, 2)),
    ("a:\n    b:\n        - c\n", (4, 6, 4)),
])
def test_indentation_is_detected(text: str, expected: tuple[int, int, int]) -> None:
    assert guess_indentation(text) == expected
    round_trip(text)


def test_a_document_ruamel_would_reformat_is_not_editable() -> None:
    text = "kind: Deployment\nspec:\n  template:   {spec: {containers: [{name: a}]}}\n"
    with pytest.raises(NotEditable):
        round_trip(text)


def test_a_document_with_aliases_is_not_editable() -> None:
    text = ("kind: Deployment\n"
            "x-common: &sc\n"
            "  runAsNonRoot: true\n"
            "spec:\n"
            "  template:\n"
            "    spec:\n"
            "      securityContext: *sc\n")
    with pytest.raises(NotEditable, match="aliases"):
        edit_document(text, 0, [_sc_change(
            ("spec", "template", "spec", "securityContext", "seccompProfile"),
            {"type": "RuntimeDefault"})])


def _sc_change(path: tuple[str | int, ...], after: Any) -> Change:
    return Change(path, ".".join(map(str, path)), None, after, ("test",))


def test_comments_stay_with_the_key_they_introduce() -> None:
    text = ("spec:\n"
            "  template:\n"
            "    spec:\n"
            "      # the main container\n"
            "      containers:\n"
            "      - name: a\n"
            "        image: x   # pinned\n"
            "      # volumes below\n"
            "      volumes: []\n")
    changes = [
        _sc_change(("spec", "template", "spec", "securityContext", "runAsNonRoot"), True),
        _sc_change(("spec", "template", "spec", "containers", 0, "securityContext",
                    "allowPrivilegeEscalation"), False),
    ]
    edited = edit_document(text, 0, changes)
    assert edited == ("spec:\n"
                      "  template:\n"
                      "    spec:\n"
                      "      securityContext:\n"
                      "        runAsNonRoot: true\n"
                      "      # the main container\n"
                      "      containers:\n"
                      "      - name: a\n"
                      "        image: x   # pinned\n"
                      "        securityContext:\n"
                      "          allowPrivilegeEscalation: false\n"
                      "      # volumes below\n"
                      "      volumes: []\n")
    assert keep_comments_with_their_key(text, text) == text


def test_other_documents_of_the_file_are_kept_verbatim() -> None:
    text = ("kind: A  # first\n"
            "x:    {a: 1,   b: 2}\n"   # ruamel would reformat this one; it is not edited
            "---\n"
            "kind: B\n"
            "spec:\n"
            "  template:\n"
            "    spec:\n"
            "      containers:\n"
            "        - name: c\n")
    edited = edit_document(text, 1, [_sc_change(
        ("spec", "template", "spec", "containers", 0, "securityContext", "runAsNonRoot"),
        True)])
    assert edited.startswith("kind: A  # first\nx:    {a: 1,   b: 2}\n---\n")
    assert edited.endswith("        - name: c\n          securityContext:\n"
                           "            runAsNonRoot: true\n")
