"""`migrator plan`: decide each namespace's level, and the terminal summary of a plan."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from migrator.cli.console import edge, err_line, error, live_feedback
from migrator.cli.options import ContextOpt, KubeconfigOpt, PathsArg, PspFromOpt, parse_version
from migrator.model.plan import Blocker, Plan


def render_plan(plan: Plan) -> None:
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
        by_object: dict[str, list[Blocker]] = {}
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



@edge
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
    from migrator.app.plan import run_plan

    run = run_plan(paths, out=out, target=parse_version(target),
                   pin=str(parse_version(pin)) if pin is not None else None,
                   kubeconfig=kubeconfig, context=context, psp_from=psp_from,
                   admission_config=admission_config, server_dry_run=server_dry_run,
                   force=force, echo=(lambda _line: None) if quiet else typer.echo,
                   err=err_line, stdin=sys.stdin, **live_feedback(quiet=quiet))
    for problem in run.errors:
        error(str(problem))
    if not quiet:
        render_plan(run.plan)
        typer.echo(f"\nwrote {run.plan_path} and the reports {out}/report.html, report.md")
    if run.code:
        raise typer.Exit(run.code)
