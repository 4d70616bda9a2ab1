"""`migrator report` as plain functions: the command line calls these and exits with their code.

Owns the edges of the readiness report: reading its input (a plan.json, manifests, one live
cluster, or several contexts at once), writing its files (`report.html`, `report.md` (the
summary that fits a ticket), `report-details.md`, `report.json` and `plan.json`; for a
fleet one folder per context plus `index.html` and `fleet.json`), printing a short summary
through the `echo` and `err` callables it is given, and the exit code: 0, 1 when the
`--fail-on` gate fails (`migrator.report.model.FAIL_ON_RULES` says on what), 2 when an
input could not be read or a cluster could not be planned. Every `MigratorError` becomes
one line through `err`; nothing here raises it to the caller.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from migrator.app.pipeline import (
    load_admission_config,
    plan_source,
    read_source,
    require_objects,
)
from migrator.errors import (
    EXIT_ERROR,
    EXIT_FINDINGS,
    EXIT_INCOMPLETE,
    EXIT_OK,
    ManifestError,
    OutputExists,
    UsageError,
    WriteError,
)
from migrator.files.planfile import load_evidence, load_plan
from migrator.files.writing import check_output, write_file, write_set
from migrator.model.inventory import Inventory
from migrator.model.plan import PLAN_FILE, Plan
from migrator.model.serialise import plan_json
from migrator.model.words import count
from migrator.plan.gaps import plan_gaps
from migrator.report.model import build_report, gate
from migrator.report.render import (
    render_fleet,
    render_html,
    render_json,
    render_markdown,
    render_markdown_details,
)
from migrator.report.rules import FAIL_ON

#: report.md is the ticket and pull-request body (it always fits 65,536 characters);
#: report-details.md holds every namespace in detail.
REPORT_FILES = ("report.html", "report.md", "report-details.md", "report.json")

Echo = Callable[[str], None]


def _silent(_text: str) -> None:
    pass


# -- writing ------------------------------------------------------------------------------------


def _write_all(files: Mapping[Path, str]) -> None:
    """One artefact set, all or nothing (`migrator.files.writing.write_set`)."""
    try:
        write_set(files)
    except OSError as exc:
        where = exc.filename or ", ".join(str(p) for p in files)
        raise WriteError(f"{where}: cannot write: {exc.strerror or exc}") from exc


def _write(path: Path, text: str) -> None:
    try:
        write_file(path, text)
    except OSError as exc:
        raise WriteError(f"{path}: cannot write: {exc.strerror or exc}") from exc


def write_report(
    out: str | Path,
    plan: Plan,
    *,
    inventory: Inventory | None = None,
    helm: Mapping[str, Any] | None = None,
    generated_at: str | None = None,
    cluster_name: str | None = None,
    write_plan: bool = True,
    source: str = "plan",
    evidence: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], list[Path]]:
    """Build one cluster's report and write its files into `out`; (report, paths written).

    `migrator plan --out DIR` calls this with `write_plan=False` after writing plan.json.
    Raises ManifestError (naming `source`) when `plan` is not a complete plan, OSError when
    a file cannot be written.
    """
    report = report_of(plan, source=source, inventory=inventory, helm=helm,
                       generated_at=generated_at, cluster_name=cluster_name, evidence=evidence)
    folder = Path(out)
    details = render_markdown_details(report)
    texts = {
        "report.html": render_html(report),
        "report.md": render_markdown(report, details),
        "report-details.md": details,
        "report.json": render_json(report),
    }
    if write_plan:
        texts[PLAN_FILE] = plan_json(plan)
    written = [folder / name for name in sorted(texts, key=lambda name: name == PLAN_FILE)]
    _write_all({path: texts[path.name] for path in written})
    return report, written


def report_of(plan: Plan, *, source: str = "plan", **kwargs: Any) -> dict[str, Any]:
    """`build_report`, with a plan that is not shaped as the schema says as a ManifestError."""
    try:
        return build_report(plan, **kwargs)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        detail = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
        raise ManifestError(source, f"not a complete migrator plan ({detail})") from exc


# -- reading -----------------------------------------------------------------------------------


def _version(text: str, option: str) -> Any:
    from migrator.pss.api import Version

    try:
        return Version.parse(text)
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None


# -- the command -------------------------------------------------------------------------------


def _gate_lines(report: Mapping[str, Any], fail_on: str | None) -> list[str]:
    return [f"  {f['rule']}: {f['subject']}: {f['text']}" for f in gate(report, fail_on)]


def _existing(paths: Sequence[Path], keep: Path | None = None) -> list[Path]:
    found = []
    for path in paths:
        if not path.exists():
            continue
        if keep is not None and keep.exists() and os.path.samefile(path, keep):
            continue
        found.append(path)
    return found


def run_report(
    paths: Sequence[str] | None = None,
    *,
    echo: Echo,
    err: Echo,
    plan_file: str | None = None,
    out: str = "migrator-out",
    kubeconfig: str | None = None,
    contexts: Sequence[str] | None = None,
    all_contexts: bool = False,
    helm_history: bool = False,
    fail_on: str | None = None,
    force: bool = False,
    psp_from: Sequence[str] | None = None,
    pin: str | None = None,
    target: str | None = None,
    admission_config: str | None = None,
    generated_at: str | None = None,
    quiet: bool = False,
    evidence: str | None = None,
    stdin: IO[str] | None = None,
    progress: Echo | None = None,
    namespaces: Sequence[str] | None = None,
) -> int:
    """`migrator report`: write the readiness report(s) and return the exit code.

    The plan comes from `plan_file`, else from `paths` (manifests, dumps, a snapshot), else
    from the live cluster of `kubeconfig`/`contexts`. Two or more `contexts`, or
    `all_contexts`, make a fleet: one report per context in `out/<context>/` and
    `out/index.html`. `helm_history` also reads the Helm release Secrets of the (live)
    cluster. `echo` prints results, `err` one line per error, `progress` (optional) what is
    being read; `quiet` silences `echo`'s summary and `progress`.
    """
    report_progress: Echo = _silent if quiet or progress is None else progress
    if fail_on is not None and fail_on not in FAIL_ON:
        raise UsageError(f"--fail-on must be one of: {', '.join(FAIL_ON)}")
    contexts = list(dict.fromkeys(contexts or []))
    fleet = all_contexts or len(contexts) > 1
    if plan_file and paths:
        raise UsageError("pass either PATHS or --plan, not both")
    if fleet and (plan_file or paths):
        raise UsageError("several contexts (or --all-contexts) read live clusters: "
                         "leave out PATHS and --plan")
    if all_contexts and contexts:
        raise UsageError("pass either --context or --all-contexts, not both")
    if fleet and evidence:
        raise UsageError("--evidence is one cluster's: leave it out of a fleet report")
    evidence_data = load_evidence(evidence) if evidence else None
    target_ = _version(target, "--target-version") if target is not None else None
    if pin is not None:
        _version(pin, "--pin-version")
    config = load_admission_config(admission_config)
    if fleet:
        return _run_fleet(contexts, echo=echo, err=err, progress=report_progress, out=out,
                          kubeconfig=kubeconfig, all_contexts=all_contexts,
                          helm_history=helm_history, fail_on=fail_on, force=force,
                          psp_from=psp_from, pin=pin, target=target_, config=config,
                          generated_at=generated_at, quiet=quiet,
                          namespaces=tuple(namespaces or ()))
    return _run_single(paths, echo=echo, err=err, progress=report_progress,
                       plan_file=plan_file, out=out, kubeconfig=kubeconfig,
                       context=contexts[0] if contexts else None,
                       helm_history=helm_history, fail_on=fail_on, force=force,
                       psp_from=psp_from, pin=pin, target=target_, config=config,
                       generated_at=generated_at, quiet=quiet, stdin=stdin,
                       namespaces=namespaces, evidence=evidence_data)


def _run_single(
    paths: Sequence[str] | None, *, echo: Echo, err: Echo, progress: Echo,
    plan_file: str | None, out: str,
    kubeconfig: str | None, context: str | None, helm_history: bool, fail_on: str | None,
    force: bool, psp_from: Sequence[str] | None, pin: str | None, target: Any, config: Any,
    generated_at: str | None, quiet: bool, stdin: IO[str] | None,
    namespaces: Sequence[str] | None = None,
    evidence: Mapping[str, Any] | None = None,
) -> int:
    folder = Path(out)
    targets = [folder / name for name in (*REPORT_FILES, PLAN_FILE)]
    existing = _existing(targets, Path(plan_file) if plan_file else None)
    if existing and not force:
        raise OutputExists(out, [p.name for p in existing])
    check_output(out, [], force=True)
    errors: list[ManifestError] = []
    inventory: Inventory | None = None
    helm: dict[str, Any] | None = None
    name: str | None
    if plan_file:
        plan = load_plan(plan_file)
        name = None  # the plan's own cluster.source
        if helm_history:
            helm = _helm_live(kubeconfig, context, progress)
    else:
        source = read_source(paths, errors=errors, kubeconfig=kubeconfig, context=context,
                             psp_from=psp_from, helm_history=helm_history and not paths,
                             stdin=stdin, announce=progress, gap=err, namespaces=namespaces)
        require_objects(source, paths, errors, namespaces)
        plan = plan_source(source, pin=pin, target=target, config=config)
        inventory, helm, name = source.inventory, source.helm, source.name
        if helm_history and paths:
            helm = _helm_live(kubeconfig, context, progress)
    try:
        report, written = write_report(folder, plan, inventory=inventory, helm=helm,
                                       generated_at=generated_at, cluster_name=name,
                                       evidence=evidence,
                                       write_plan=not _same(plan_file, folder / PLAN_FILE),
                                       source=plan_file or "plan")
    except OSError as exc:
        raise UsageError(f"{out}: cannot write the report: {exc.strerror or exc}") from exc
    for error in errors:
        err(f"error: {error}")
    gaps = plan_gaps(plan)
    if plan_file:  # a plan read back: its gaps were not told while it was made
        for line in gaps:
            err(line)
    if not quiet:
        echo(str(report["headline"]))
        echo("wrote " + ", ".join(str(p) for p in written))
    code = _gate(report, fail_on, echo)
    if gaps:
        err(f"incomplete: {len(gaps)} thing{'s' if len(gaps) != 1 else ''} could not be read "
            "or checked; the report may be wrong there")
    if errors:
        return EXIT_ERROR
    return EXIT_INCOMPLETE if gaps else code


def _same(plan_file: str | None, path: Path) -> bool:
    return bool(plan_file) and path.exists() and os.path.samefile(str(plan_file), path)


def _helm_live(kubeconfig: str | None, context: str | None, progress: Echo) -> dict[str, Any]:
    from migrator.cluster.client import connect
    from migrator.cluster.helm import read_helm_history

    with connect(kubeconfig, context) as client:
        progress(f"reading Helm release history from {client.describe()}")
        return read_helm_history(client).to_dict()


def _gate(report: Mapping[str, Any], fail_on: str | None, echo: Echo) -> int:
    lines = _gate_lines(report, fail_on)
    if not lines:
        return EXIT_OK
    echo(f"--fail-on {fail_on}: {count(len(lines), 'finding')}")
    for line in lines:
        echo(line)
    return EXIT_FINDINGS


def _run_fleet(
    contexts: list[str], *, echo: Echo, err: Echo, progress: Echo, out: str,
    kubeconfig: str | None,
    all_contexts: bool, helm_history: bool, fail_on: str | None, force: bool,
    psp_from: Sequence[str] | None, pin: str | None, target: Any, config: Any,
    generated_at: str | None, quiet: bool, namespaces: tuple[str, ...] = (),
) -> int:
    from migrator.app.fleet import ClusterOptions, plan_clusters
    from migrator.cluster.client import kubeconfig_contexts
    from migrator.report.fleet import ClusterOutcome, cluster_dirs, fleet_view

    if all_contexts:
        contexts = kubeconfig_contexts(kubeconfig)
    folder = Path(out)
    dirs = cluster_dirs(contexts)
    targets = [folder / "index.html", folder / "fleet.json"] + [
        folder / d / name for d in dirs.values() for name in (*REPORT_FILES, PLAN_FILE)]
    existing = _existing(targets)
    if existing and not force:
        raise UsageError(f"{existing[0]} exists; pass --force to overwrite it")
    options = ClusterOptions(pin=pin, target=target, config=config,
                             psp_from=tuple(psp_from or ()), helm_history=helm_history,
                             generated_at=generated_at, namespaces=namespaces)

    def done(outcome: ClusterOutcome) -> None:
        progress(f"  {outcome.context}: " + ("failed" if outcome.error else "planned"))

    progress(f"planning {len(dirs)} clusters: {', '.join(sorted(dirs))}")
    outcomes = plan_clusters(sorted(dirs), kubeconfig, options, done=done)
    gated = False
    try:
        files: dict[Path, str] = {}
        for outcome in outcomes:
            if outcome.report is None or outcome.plan is None:
                continue
            report = outcome.report
            sub = folder / outcome.directory
            files[sub / "report.html"] = render_html(report)
            details = render_markdown_details(report)
            files[sub / "report.md"] = render_markdown(report, details)
            files[sub / "report-details.md"] = details
            files[sub / "report.json"] = render_json(report)
            files[sub / PLAN_FILE] = plan_json(outcome.plan)
        view = fleet_view(outcomes, generated_at)
        files[folder / "index.html"] = render_fleet(view)
        files[folder / "fleet.json"] = render_json(view)
        _write_all(files)
    except OSError as exc:
        raise UsageError(f"{out}: cannot write the reports: {exc.strerror or exc}") from exc
    incomplete = False
    for outcome in outcomes:
        if outcome.error:
            err(f"error: {outcome.context}: {outcome.error}")
        elif outcome.plan is not None:
            for line in plan_gaps(outcome.plan):
                incomplete = True
                err(f"{outcome.context}: {line}")
    if not quiet:
        echo(str(view["headline"]))
        for cluster in view["clusters"]:
            if cluster["error"] is None:
                echo(f"  {cluster['context']}: {cluster['headline']}")
        echo(f"wrote {folder / 'index.html'}")
    for outcome in outcomes:
        if outcome.report is not None:
            lines = _gate_lines(outcome.report, fail_on)
            if lines:
                gated = True
                echo(f"{outcome.context}: --fail-on {fail_on}: {count(len(lines), 'finding')}")
                for line in lines:
                    echo(line)
    if any(o.error for o in outcomes):
        return EXIT_ERROR
    if incomplete:
        return EXIT_INCOMPLETE
    return EXIT_FINDINGS if gated else EXIT_OK
