"""The command-line interface: the only module that prints, exits or reads the environment.

Each command parses its options, calls the pure core, and renders the result. Every
`MigratorError` becomes one clear line on stderr and a non-zero exit; no traceback
reaches the user.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from typing import Annotated, Any

import typer

from migrator import __version__
from migrator.checking import ObjectResult, check_object
from migrator.errors import EXIT_ERROR, EXIT_FINDINGS, ManifestError, MigratorError
from migrator.inventory import Inventory
from migrator.manifests import load_documents
from migrator.pss.api import Level, Version
from migrator.pss.engine import EVALUATOR

app = typer.Typer(
    name="migrator",
    help="Take a Kubernetes cluster off PodSecurityPolicy and onto Pod Security Admission.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)



class OutputFormat(StrEnum):
    text = "text"
    json = "json"


class ReportFormat(StrEnum):
    text = "text"
    json = "json"
    yaml = "yaml"


KubeconfigOpt = Annotated[
    str | None, typer.Option("--kubeconfig", help="Path to a kubeconfig (default: $KUBECONFIG, "
                             "~/.kube/config, then in-cluster).")
]
ContextOpt = Annotated[str | None, typer.Option("--context", help="kubeconfig context to use.")]
PspFromOpt = Annotated[
    list[str] | None,
    typer.Option("--psp-from", help="Read PodSecurityPolicies (and their RBAC) from these files "
                 "instead of the cluster, e.g. for clusters already past 1.24."),
]
PathsArg = Annotated[
    list[str] | None,
    typer.Argument(help="Manifests, cluster dumps or a snapshot to read instead of a live "
                   "cluster (files, directories, - for stdin)."),
]


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"migrator {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    show_version: Annotated[
        bool,
        typer.Option("--version", callback=_version_callback, is_eager=True,
                     help="Print the version and exit."),
    ] = False,
) -> None:
    """Take a Kubernetes cluster off PodSecurityPolicy and onto Pod Security Admission."""


def _err(message: str) -> None:
    typer.echo(f"error: {message}", err=True)


def _parse_level(text: str) -> Level:
    try:
        return Level.parse(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _parse_version(text: str) -> Version:
    try:
        return Version.parse(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _render_text(results: list[ObjectResult], level: Level, version: Version) -> str:
    lines: list[str] = []
    policy = f"{level}:{version}"
    for result in results:
        if result.allowed:
            continue
        where = f"{result.namespace}/{result.name}" if result.namespace else result.name
        lines.append(f"{result.source}: {result.kind} {where}: denied at {policy}")
        for violation in result.violations:
            lines.append(f"  {violation.check}: {violation.text()}")
            check = EVALUATOR.checks.get(violation.check)
            if check is not None:
                lines.append(f"    fix: {check.fix}")
    denied = sum(1 for r in results if not r.allowed)
    lines.append(
        f"{len(results)} {'object' if len(results) == 1 else 'objects'} checked at {policy}: "
        f"{len(results) - denied} allowed, {denied} denied"
    )
    return "\n".join(lines)


@app.command()
def check(
    paths: Annotated[
        list[str],
        typer.Argument(help="Files or directories of manifests (.yaml, .yml, .json); - for stdin."),
    ],
    level: Annotated[
        str, typer.Option("--level", "-l", help="privileged, baseline or restricted.")
    ] = "restricted",
    version: Annotated[
        str, typer.Option("--version", "-v", help="Policy version: v1.N or latest.")
    ] = "latest",
    output: Annotated[
        OutputFormat, typer.Option("--format", "-o", help="text or json.")
    ] = OutputFormat.text,
) -> None:
    """Judge every pod and pod template in PATHS against a Pod Security level.

    Exit 0 when all are allowed, 1 when any is denied, 2 when input could not be read.
    """
    level_ = _parse_level(level)
    version_ = _parse_version(version)
    errors: list[ManifestError] = []
    results: list[ObjectResult] = []
    for doc in load_documents(paths, errors, stdin=sys.stdin):
        result = check_object(doc.obj, doc.source, level_, version_)
        if result is not None:
            results.append(result)
    for error in errors:
        _err(str(error))
    if output is OutputFormat.json:
        payload = {
            "level": str(level_),
            "version": str(version_),
            "results": [r.to_dict() for r in results],
        }
        typer.echo(json.dumps(payload, indent=2))
    else:
        typer.echo(_render_text(results, level_, version_))
    if errors:
        raise typer.Exit(EXIT_ERROR)
    if any(not r.allowed for r in results):
        raise typer.Exit(EXIT_FINDINGS)


class _ReadProgress:
    """Shows how far a live read is: a spinner with counts on a terminal, else one line per
    resource once it is read."""

    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console(stderr=True)
        self.current: tuple[str, int] | None = None
        self.status = self.console.status("connecting") if self.console.is_terminal else None

    def __enter__(self) -> _ReadProgress:
        if self.status is not None:
            self.status.__enter__()
        return self

    def __call__(self, what: str, count: int) -> None:
        if self.current is not None and self.current[0] != what:
            self._done(*self.current)
        self.current = (what, count)
        if self.status is not None:
            self.status.update(f"reading {what}: {count:,}")

    def _done(self, what: str, count: int) -> None:
        self.console.print(f"  read {count:,} {what}", highlight=False)

    def __exit__(self, *exc: object) -> None:
        if self.status is not None:
            self.status.__exit__(None, None, None)
        if self.current is not None:
            self._done(*self.current)


def _load_inventory(
    paths: list[str] | None,
    kubeconfig: str | None,
    context: str | None,
    psp_from: list[str] | None,
    errors: list[ManifestError],
    quiet: bool = False,
) -> Inventory:
    """An Inventory from files when paths are given, else from the live cluster."""
    if paths:
        from migrator.sources.files import read_files

        return read_files([*paths, *(psp_from or ())], errors, stdin=sys.stdin)
    from migrator.sources.cluster import connect, read_inventory

    with connect(kubeconfig, context) as client:
        if quiet:
            return read_inventory(client, psp_from=psp_from or None)
        typer.echo(f"reading {client.describe()}", err=True)
        with _ReadProgress() as progress:
            return read_inventory(client, psp_from=psp_from or None, progress=progress)


def _dump(data: object, fmt: ReportFormat) -> str:
    from migrator.render import to_json, to_yaml

    return to_yaml(data) if fmt is ReportFormat.yaml else to_json(data, indent=2)


@app.command()
def inventory(
    paths: PathsArg = None,
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
    psp_from: PspFromOpt = None,
    output: Annotated[
        ReportFormat, typer.Option("--format", "-o", help="text, json or yaml.")
    ] = ReportFormat.text,
) -> None:
    """What the cluster has: PSPs mapped to levels, who may use each where, who may relabel.

    Reads PATHS (manifests, `kubectl get -o yaml` dumps, a snapshot) or, without PATHS,
    the live cluster. Never writes to the cluster.
    """
    from migrator.survey import render_text, survey

    errors: list[ManifestError] = []
    try:
        inv = _load_inventory(paths, kubeconfig, context, psp_from, errors,
                              quiet=output is not ReportFormat.text)
    except MigratorError as exc:
        _err(str(exc))
        raise typer.Exit(EXIT_ERROR) from None
    for error in errors:
        _err(str(error))
    data = survey(inv)
    typer.echo(render_text(data) if output is ReportFormat.text else _dump(data, output))
    if errors:
        raise typer.Exit(EXIT_ERROR)


@app.command()
def snapshot(
    out: Annotated[str, typer.Option("--output", "-o", help="File to write.")],
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
    psp_from: PspFromOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Save what a migration needs from the live cluster to one YAML file, for offline runs.

    Holds no Secrets and no ConfigMaps; pods are reduced to their security-relevant fields.
    """
    import os

    from migrator.sources.snapshot import write_snapshot

    if os.path.exists(out) and not force:
        _err(f"{out} exists; pass --force to overwrite it")
        raise typer.Exit(EXIT_ERROR)
    errors: list[ManifestError] = []
    try:
        inv = _load_inventory(None, kubeconfig, context, psp_from, errors)
        count = write_snapshot(inv, out)
    except MigratorError as exc:
        _err(str(exc))
        raise typer.Exit(EXIT_ERROR) from None
    except OSError as exc:
        _err(f"{out}: {exc.strerror or exc}")
        raise typer.Exit(EXIT_ERROR) from None
    typer.echo(f"wrote {count} objects to {out}")
    for item in inv.unreadable:
        _err(f"could not read {item.what}: {item.reason}")


def _render_plan(plan: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, width=max(160, Console().width))
    pin, target = plan["pin_version"], plan["target_version"]
    table = Table(title=f"Pod Security plan: labels pinned to {pin}, also judged at {target}")
    for column in ("namespace", "enforce", "audit/warn", "floor", "PSP ceiling",
                   "after patches", "blockers", "notes"):
        table.add_column(column, no_wrap=True)
    for ns in plan["namespaces"]:
        rec, floor, ceiling = ns["recommended"], ns["floor"], ns["ceiling"]
        notes = []
        if ns["looser_than_psp"]:
            notes.append("[bold red]LOOSER THAN PSP[/]")
        if ns["system"]:
            notes.append("system")
        if ns["exempt"]:
            notes.append("exempt")
        if any(m["passes_only_because_of_mutation"] for m in ns["mutation"]):
            notes.append("[yellow]mutation-only pass[/]")
        if ns["rejected_today"]:
            notes.append("PSP rejects some today")
        floors = "/".join(dict.fromkeys(floor[v] for v in (pin, target) if v in floor))
        table.add_row(
            ns["name"], rec["enforce"], rec["audit"], floors,
            f"{ceiling['strict'] or '-'}/{ceiling['practical'] or '-'}", ns["after_patches"],
            str(len(ns["blockers"])), ", ".join(notes))
    console.print(table)
    console.print("floor: strictest level every template and pod passes (pinned/target); "
                  "PSP ceiling: loosest usable PSP, strict/practical")
    for ns in plan["namespaces"]:
        console.print(f"\n[bold]{ns['name']}[/]: enforce {ns['recommended']['enforce']}"
                      f" ({ns['recommended']['enforce_version']})")
        for warning in ns["warnings"]:
            console.print(f"  [bold red]{warning}[/]")
        for line in ns["reasoning"]:
            console.print(f"  - {line}")
        by_object: dict[str, list[dict[str, Any]]] = {}
        for b in ns["blockers"]:
            by_object.setdefault(b["object"], []).append(b)
        templates = {ref for ref, items in by_object.items() if items[0]["template"]}
        owners = {s["kind"] + "/" + s["name"]: s["owner"] for s in ns["subjects"]}
        for ref, items in by_object.items():
            if owners.get(ref) in templates:
                continue  # its template is listed: the pods are replicas of it
            fixable = all(b["patchable"] for b in items)
            checks = ", ".join(b["check"] for b in items)
            console.print(f"  blocks {items[0]['level']}: {ref}: {checks}"
                          + (" (fixed by the generated patch)" if fixable else ""))
    summary = plan["summary"]
    console.print(f"\n{summary['namespaces']} namespaces: "
                  + ", ".join(f"{n} {lv}" for lv, n in summary["by_recommended_level"].items())
                  + f"; {summary['blockers']} blockers (details in plan.json)")


@app.command()
def plan(
    paths: PathsArg = None,
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
    psp_from: PspFromOpt = None,
    out: Annotated[str, typer.Option("--out", help="Folder for plan.json and every other "
                                     "artefact of the run.")] = "migrator-out",
    pin: Annotated[str | None, typer.Option("--pin-version", help="Policy version to pin "
                   "(default: the cluster's minor version, else latest).")] = None,
    target: Annotated[str, typer.Option("--target-version", help="Policy version also "
                      "judged, e.g. the one after the upgrade.")] = "latest",
    admission_config: Annotated[str | None, typer.Option(
        "--admission-config", help="The API server's PodSecurity admission configuration "
        "(defaults and exemptions).")] = None,
    server_dry_run: Annotated[bool, typer.Option(
        "--server-dry-run", help="Also ask the live API server (dryRun=All, nothing is "
        "persisted) and compare its verdicts with ours.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing plan.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No terminal summary.")] = False,
) -> None:
    """Decide each namespace's Pod Security level and write plan.json.

    Reads PATHS (manifests, dumps, a snapshot) or, without PATHS, the live cluster.
    """
    import os

    from migrator.admission import AdmissionConfig, parse_admission_config
    from migrator.manifests import load_file
    from migrator.plan import build_plan, pin_version

    target_ = _parse_version(target)
    if pin is not None:
        _parse_version(pin)
    plan_path = os.path.join(out, "plan.json")
    if os.path.exists(plan_path) and not force:
        _err(f"{plan_path} exists; pass --force to overwrite it")
        raise typer.Exit(EXIT_ERROR)
    if server_dry_run and paths:
        _err("--server-dry-run needs a live cluster (no PATHS)")
        raise typer.Exit(EXIT_ERROR)
    errors: list[ManifestError] = []
    try:
        config = AdmissionConfig.default()
        if admission_config:
            docs = list(load_file(admission_config))
            if not docs:
                raise ManifestError(admission_config, "no document found")
            config = parse_admission_config(docs[0].obj, admission_config)
        inv = _load_inventory(paths, kubeconfig, context, psp_from, errors, quiet=quiet)
        pin_ = pin_version(inv.server_version, pin)
        result = build_plan(inv, pin=pin_, target=target_, config=config,
                            source="files" if paths else (context or "cluster"))
        if server_dry_run:
            from migrator.cli_apply import attach_server_dry_run

            attach_server_dry_run(result, kubeconfig, context,
                                  (lambda _line: None) if quiet else typer.echo, _err_line)
        os.makedirs(out, exist_ok=True)
        with open(plan_path, "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=2, sort_keys=False, ensure_ascii=False)
            handle.write("\n")
        from migrator.cli_report import name_of_paths, write_report

        write_report(out, result, inventory=inv, write_plan=False,
                     cluster_name=name_of_paths(paths) if paths else (context or None))
    except MigratorError as exc:
        _err(str(exc))
        raise typer.Exit(EXIT_ERROR) from None
    except OSError as exc:
        _err(f"{out}: {exc.strerror or exc}")
        raise typer.Exit(EXIT_ERROR) from None
    for error in errors:
        _err(str(error))
    if not quiet:
        _render_plan(result)
        typer.echo(f"\nwrote {plan_path} and the reports {out}/report.html, report.md")
    if errors:
        raise typer.Exit(EXIT_ERROR)


class FailOn(StrEnum):
    blockers = "blockers"
    warnings = "warnings"


@app.command()
def report(
    paths: PathsArg = None,
    plan_file: Annotated[str | None, typer.Option(
        "--plan", help="Report on this plan.json instead of planning again.")] = None,
    out: Annotated[str, typer.Option("--out", help="Folder for the reports.")] = "migrator-out",
    kubeconfig: KubeconfigOpt = None,
    context: Annotated[list[str] | None, typer.Option(
        "--context", help="kubeconfig context; give several for a fleet report.")] = None,
    all_contexts: Annotated[bool, typer.Option(
        "--all-contexts", help="Every context of the kubeconfig (a fleet report).")] = False,
    helm_history: Annotated[bool, typer.Option(
        "--helm-history", help="Read Helm release Secrets and list releases whose stored "
        "manifests still hold PodSecurityPolicies.")] = False,
    fail_on: Annotated[FailOn | None, typer.Option(
        "--fail-on", help="Exit 1 on blockers, or on warnings too (for CI gates).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing reports.")] = False,
    psp_from: PspFromOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Readiness report for an upgrade past 1.24: HTML, Markdown and JSON."""
    from migrator.cli_report import run_report

    code = run_report(paths, echo=typer.echo, err=_err, progress=_err_line,
                      plan_file=plan_file, out=out, kubeconfig=kubeconfig, contexts=context,
                      all_contexts=all_contexts, helm_history=helm_history,
                      fail_on=fail_on.value if fail_on else None, force=force,
                      psp_from=psp_from, quiet=quiet, stdin=sys.stdin)
    if code:
        raise typer.Exit(code)


def _err_line(line: str) -> None:
    """Print a line that already carries its own `error:`/`warning:` prefix."""
    typer.echo(line, err=True)


SourcesOpt = Annotated[list[str] | None, typer.Option(
    "--from", help="Where the workloads are (manifests or a snapshot), when the origins "
    "recorded in the plan are not at hand.")]


@app.command()
def generate(
    plan_path: Annotated[str, typer.Option("--plan", help="plan.json (or its folder).")] = (
        "migrator-out/plan.json"),
    out: Annotated[str, typer.Option("--out", help="Output folder.")] = "migrator-out",
    fmt: Annotated[str, typer.Option(
        "--format", help="all, strategic, json6902 or full.")] = "all",
    sources: SourcesOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing output.")] = False,
    drops: Annotated[list[str] | None, typer.Option(
        "--drop-guarantee", metavar="PSP:FIELD",
        help="Leave a residual PSP rule out of the generated policies (repeatable), "
        "e.g. baseline:spec.volumes.")] = None,
) -> None:
    """Namespace manifests (two phases), securityContext patches, residual policies for
    what Pod Security drops, and the admission config."""
    from migrator.cli_generate import generate as run

    raise typer.Exit(run(plan_path, out, force=force, fmt=fmt, sources=sources or (),
                         drops=drops or (), echo=typer.echo, err=_err_line))


@app.command()
def patch(
    repo: Annotated[str, typer.Option("--repo", help="The manifests repository to edit.")],
    plan_path: Annotated[str, typer.Option("--plan", help="plan.json (or its folder).")] = (
        "migrator-out/plan.json"),
    out: Annotated[str, typer.Option(
        "--out", help="Folder for the pull request description.")] = "migrator-out",
    commit: Annotated[bool, typer.Option(
        "--commit", help="Create a branch and one commit in the repository.")] = False,
    allow_dirty: Annotated[bool, typer.Option(
        "--allow-dirty", help="Edit a repository with uncommitted changes.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing output.")] = False,
    sources: SourcesOpt = None,
) -> None:
    """Edit the workloads' source manifests in place (comments and layout kept) for a PR."""
    from migrator.cli_generate import patch as run

    raise typer.Exit(run(plan_path, repo, out, commit=commit, allow_dirty=allow_dirty,
                         force=force, sources=sources or (), echo=typer.echo, err=_err_line))


@app.command()
def apply(
    plan_path: Annotated[str, typer.Option("--plan", help="plan.json (or its folder).")] = (
        "migrator-out/plan.json"),
    phase: Annotated[str, typer.Option("--phase", help="audit (audit and warn labels only) "
                                       "or enforce (all labels).")] = "audit",
    namespace: Annotated[list[str] | None, typer.Option(
        "--namespace", "-n", help="Only these namespaces (repeatable).")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Really change the cluster. Without it, "
                                      "print the changes and run a server dry-run.")] = False,
    rollback_file: Annotated[str | None, typer.Option(
        "--rollback-file", help="Where to save the labels being replaced (default: beside "
        "the plan).")] = None,
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
) -> None:
    """Set the planned Pod Security labels on the cluster's namespaces.

    Without --yes nothing is persisted. With --yes a rollback file is written first, then
    the labels are set by server-side apply (field manager `migrator`). Idempotent.
    """
    from migrator.cli_apply import cmd_apply

    if phase not in ("audit", "enforce"):
        _err("--phase must be audit or enforce")
        raise typer.Exit(EXIT_ERROR)
    raise typer.Exit(cmd_apply(plan_path, phase, namespace or None, yes, kubeconfig, context,
                               rollback_file, typer.echo, _err_line))


@app.command()
def rollback(
    file: Annotated[str, typer.Argument(help="A rollback file written by `migrator apply`.")],
    yes: Annotated[bool, typer.Option("--yes", help="Really restore the labels.")] = False,
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
) -> None:
    """Restore the namespace labels recorded in a rollback file."""
    from migrator.cli_apply import cmd_rollback

    raise typer.Exit(cmd_rollback(file, kubeconfig, context, yes, typer.echo, _err_line))


def main() -> None:
    """Console-script entry point."""
    app()
