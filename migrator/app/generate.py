"""The `generate` and `patch` commands, as plain functions the CLI calls.

Owns turning a plan into files: `generate_files` (pure: every artefact of `generate`, keyed
by relative path), `load_objects` (reading the workload manifests the plan came from), and
the two command bodies `generate` and `patch`, which print only through the `echo` and `err`
callables they are given and return an exit code: 0 done, 2 nothing (or, for a git failure
after the edits, not everything) could be done. Every `MigratorError` becomes one line on
`err`; no traceback reaches the user.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from migrator.errors import EXIT_OK, ManifestError, MigratorError, UsageError
from migrator.files.overlays import kustomize_command
from migrator.files.planfile import load_evidence, load_plan
from migrator.files.repo import (
    Git,
    PullRequest,
    branch_name,
    commit_message,
    describe,
    helm_release,
    index_repository,
    prepare,
    read_repository,
)
from migrator.files.writing import check_tree, replace_file, write_tree
from migrator.generate.admission import (
    admission_files,
    evidence_usernames,
    exemptions,
    upgraded_names,
)
from migrator.generate.namespaces import namespace_files
from migrator.generate.patches import (
    FORMATS,
    ObjectKey,
    Patched,
    patch_all,
    render_patches,
    select,
    unpatched_rows,
)
from migrator.generate.residual import Residual, parse_drops, residual_files, residual_view
from migrator.model.plan import Plan
from migrator.report.render import md, md_code
from migrator.report.templating import render

Echo = Callable[[str], None]
DESCRIPTION = "pr-description.md"


def formats_of(value: str) -> tuple[str, ...]:
    """The patch formats `--format` names (all, strategic, json6902 or full)."""
    if value == "all":
        return FORMATS
    if value not in FORMATS:
        raise UsageError(f"--format must be all, {', '.join(FORMATS)}; got {value!r}")
    return (value,)


# -- inputs ---------------------------------------------------------------------------------


def _origin_file(origin: str, plan_path: str) -> str | None:
    path, sep, _doc = origin.rpartition("#")
    if not sep or not path:
        return None
    for candidate in (path, os.path.join(os.path.dirname(plan_path), path)):
        if os.path.isfile(candidate):
            return candidate
    return None


def load_objects(plan: Plan, plan_path: str, sources: Sequence[str],
                 errors: list[ManifestError]) -> dict[ObjectKey, dict[str, Any]]:
    """The workloads of the plan by (kind, namespace, name): read from `sources` when given,
    else from the files the plan's origins name (relative to here, then to the plan)."""
    from migrator.files.source import read_files

    paths = list(sources)
    if not paths:
        origins = {str(s.get("origin") or "") for ns in plan.get("namespaces") or ()
                   for s in ns.get("subjects") or () if s.get("template")}
        paths = sorted({p for o in origins if (p := _origin_file(o, plan_path)) is not None})
    if not paths:
        return {}
    inventory = read_files(paths, errors)
    out: dict[ObjectKey, dict[str, Any]] = {}
    for obj in inventory.workloads:
        metadata = obj.get("metadata") or {}
        out[(str(obj.get("kind")), str(metadata.get("namespace") or ""),
             str(metadata.get("name") or ""))] = obj
    return out


# -- generate -------------------------------------------------------------------------------


def _readme(plan: Plan, patched: Patched, formats: Iterable[str],
            files: Iterable[str], residual: Mapping[str, Any]) -> str:
    selection = select(plan)
    exempt = dict(exemptions(plan)["namespaces"])
    namespaces = []
    for ns in sorted(plan.get("namespaces") or (), key=lambda n: str(n["name"])):
        rec = ns["recommended"]
        why = exempt.get(str(ns["name"]))
        namespaces.append({
            "name": ns["name"], "enforce": f"{rec['enforce']}:{rec['enforce_version']}",
            "watch": f"{rec['audit']}:{rec['audit_version']}" if why is None
            else "none (exempt)",
            "after": ns["after_patches"],
            "notes": [*(ns.get("warnings") or ()),
                      *([ns["suggestion"]] if ns.get("suggestion") else ())]
            if why is None else
            [f"exempt in admission-config.yaml: {why}; its pods are not checked, so audit "
             "and warn record nothing"],
        })
    recorded = plan.get("servers")
    servers: Mapping[str, Any] = recorded if isinstance(recorded, Mapping) else {}
    after = servers.get("upgrade_to")
    upgrade_files = (list(upgraded_names(str(after)))
                     if after and after != servers.get("current") else None)
    return render(
        "generate-readme.md.j2",
        md=md,
        code=md_code,
        plan=plan,
        upgrade_files=upgrade_files,
        formats=list(formats),
        files=sorted(files),
        residual=residual,
        namespaces=namespaces,
        patches=[{"label": p.target.label, "stem": p.target.stem, "policy": p.policy,
                  "satisfies": list(p.satisfies), "psp": p.target.psp,
                  "psp_defaults": list(p.psp_defaults), "warnings": list(p.warnings),
                  "helm": helm_release(p.original)}
                 for p in sorted(patched.patches, key=lambda p: p.target.stem)],
        refusals=[{"label": r.target.label, "policy": f"{r.target.level}:{r.target.version}",
                   "reasons": list(r.reasons)} for r in patched.refusals],
        untouched=[{"subject": u.subject, "reason": u.reason}
                   for u in (*selection.skipped, *patched.untouched)],
        unpatched_defaults=unpatched_rows(selection),
    )


def generate_files(plan: Plan, objects: Mapping[ObjectKey, Mapping[str, Any]],
                   formats: Sequence[str], evidence: Mapping[str, Any] | None = None,
                   drops: Iterable[str] = ()
                   ) -> tuple[dict[str, str], Patched, Residual]:
    """Every file `generate` writes, keyed by path relative to the output folder."""
    selection = select(plan)
    patched = patch_all(selection.targets, objects)
    residual = residual_files(plan, parse_drops(drops))
    files: dict[str, str] = dict(residual.files)
    bindings = residual.bindings if residual.served_now else None
    files.update({f"namespaces/{k}": v for k, v in namespace_files(plan, bindings).items()})
    files.update({f"patches/{k}": v
                  for k, v in render_patches(patched.patches, formats).items()})
    files.update(admission_files(plan, evidence))
    files["README.md"] = _readme(plan, patched, formats, [*files, "README.md"],
                                 residual_view(plan, residual))
    return dict(sorted(files.items())), patched, residual


def generate(plan_path: str, out: str, *, force: bool = False, fmt: str = "all",
             sources: Sequence[str] = (), echo: Echo, err: Echo,
             evidence_path: str | None = None, drops: Sequence[str] = ()) -> int:
    """`migrator generate`: namespaces/, patches/, residual-policies/,
    admission-config.yaml and README.md.

    With `evidence_path` (audit.json), the admission configuration suggests the usernames
    the audit evidence names; `drops` (PSP:FIELD) leaves residual rules out."""
    errors: list[ManifestError] = []
    formats = formats_of(fmt)
    plan = load_plan(plan_path)
    evidence = load_evidence(evidence_path) if evidence_path else None
    objects = load_objects(plan, plan_path, sources, errors)
    files, patched, residual = generate_files(plan, objects, formats, evidence, drops)
    write_tree(out, files, force=force)
    for error in errors:
        err(f"warning: {error}")
    for refusal in patched.refusals:
        err(f"not patched: {refusal.target.label}: {'; '.join(refusal.reasons)}")
    for untouched in patched.untouched:
        err(f"not patched: {untouched.subject}: {untouched.reason}")
    for patch in patched.patches:
        for warning in patch.warnings:
            err(f"warning: {patch.target.label}: {warning}")
    suggested, not_exempted = evidence_usernames(evidence)
    for user, why in suggested:
        err(f"note: admission configuration: username exemption {user}: {why}")
    for warning in not_exempted:
        err(f"warning: admission configuration: {warning}")
    if not residual.planned:
        err("note: the plan has no residual section (made by an older migrator): no residual "
            "policies written; make the plan again to get them")
    elif residual.api_version is None and residual.policies:
        err(f"note: no ValidatingAdmissionPolicy API on {plan.get('target_version')} (it needs "
            f"1.28 or later): {len(residual.policies)} residual policies not written, their "
            "rules are lost; see the README")
    echo(f"wrote {len(files)} files to {out}: {len(patched.patches)} workload patches "
         f"({', '.join(formats)}), namespace labels in two phases, "
         f"{len(residual.policies) if residual.api_version else 0} residual policies, "
         f"admission configuration; see {os.path.join(out, 'README.md')}")
    return EXIT_OK


# -- patch (pull-request mode) --------------------------------------------------------------


def _preflight(repo: str, out: str, branch: str, *, commit: bool, allow_dirty: bool,
               force: bool, err: Echo) -> Git | None:
    """Refuse what must be refused before anything is written; the Git to commit with."""
    if not os.path.isdir(repo):
        raise UsageError(f"--repo {repo}: not a folder")
    check_tree(out, {DESCRIPTION: ""}, force=force)
    git = Git(repo)
    if not git.is_repository():
        if commit:
            raise UsageError(f"--commit: {repo} is not a git repository")
        err(f"note: {repo} is not a git repository; uncommitted changes cannot be checked")
        return None
    dirty = git.dirty()
    if dirty and not allow_dirty:
        raise UsageError(f"{repo} has uncommitted changes ({', '.join(dirty[:3])}"
                         f"{' …' if len(dirty) > 3 else ''}); commit or stash them, or pass "
                         "--allow-dirty")
    if commit and git.branch_exists(branch) and not force:
        raise UsageError(f"branch {branch} exists; pass --force to reset it to the current "
                         "commit")
    return git


def _report(pr: PullRequest, echo: Echo, err: Echo) -> None:
    for problem in pr.unparseable:
        err(f"unparseable, left untouched: {problem}")
    for note in pr.notes:
        err(f"note: {note}")
    for entry in pr.entries:
        if entry.status == "edited":
            echo(f"edited {entry.locations[0]}: {entry.target.label}")
        elif entry.status == "helm" and entry.helm is not None:
            echo(f"Helm chart {entry.helm.chart} (release {entry.helm.release}): "
                 f"{entry.target.label}: set the fields through the chart's values")
        elif entry.status != "passes":
            err(f"{entry.status}: {entry.target.label}: {'; '.join(entry.reasons)}")


def patch(plan_path: str, repo: str, out: str, *, commit: bool = False,
          allow_dirty: bool = False, force: bool = False, sources: Sequence[str] = (),
          echo: Echo, err: Echo) -> int:
    """`migrator patch`: edit the workloads' sources in `repo`, optionally on a new branch
    with one commit, and write the pull-request description to `out`."""
    errors: list[ManifestError] = []
    plan = load_plan(plan_path)
    branch = branch_name(str(plan.get("pin_version") or "latest"))
    git = _preflight(repo, out, branch, commit=commit, allow_dirty=allow_dirty,
                     force=force, err=err)
    objects = load_objects(plan, plan_path, sources, errors)
    texts, notes = read_repository(repo)
    pr = prepare(select(plan).targets, index_repository(texts, notes), objects,
                 kustomize=kustomize_command())
    if git is not None and commit and pr.edits:
        overlap = git.dirty(pr.edited_files)
        if overlap:
            raise UsageError(f"{', '.join(overlap)} has uncommitted changes that --commit "
                             "would include; commit or stash them first")
    text = describe(plan, pr, branch=branch if commit and pr.edits else None,
                    residual=residual_view(plan, residual_files(plan)))
    if git is not None and commit and pr.edits:
        git.create_branch(branch, force=force)
    for relpath, new_text in pr.edits.items():
        replace_file(repo, relpath, new_text)
    write_tree(out, {DESCRIPTION: text}, force=force)
    for error in errors:
        err(f"warning: {error}")
    _report(pr, echo, err)
    if git is not None and commit and pr.edits:
        subject, body = commit_message(plan, pr)
        try:
            sha = git.commit(pr.edited_files, subject, body)
        except MigratorError as exc:
            raise MigratorError(
                f"{exc} (the edits are in the working tree on branch {branch})") from exc
        echo(f"committed {sha[:12]} on branch {branch}")
    elif commit:
        echo("nothing to commit: no file was edited")
    echo(f"wrote {os.path.join(out, DESCRIPTION)} ({len(pr.edits)} file"
         f"{'s' if len(pr.edits) != 1 else ''} edited in {repo})")
    return EXIT_OK
