"""`migrator plan`: decide each namespace's level, and the terminal summary of a plan."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Annotated, Any

import typer

from migrator.cli.console import echo, edge, err_line, error, live_feedback, now
from migrator.cli.options import (
    AllNamespacesOpt,
    ContextOpt,
    KubeconfigOpt,
    NamespaceOpt,
    PathsArg,
    PspFromOpt,
    RequestTimeoutOpt,
    no_live_options,
    parse_server,
    parse_version,
    scope,
)
from migrator.model.escape import terminal
from migrator.model.plan import Blocker, Plan, PlanNamespace
from migrator.pss.server import NEWEST_SERVER_MINOR

#: Past this many namespaces the summary is one plain line per namespace, and the
#: reasoning and blockers of each are printed only with --details.
TABLE_LIMIT = 50


def safe(text: object) -> str:
    """Text from the plan for a rich console: its `[...]` is shown, never read as markup,
    and control characters are shown escaped."""
    from rich.markup import escape

    return escape(terminal(str(text)))


def _notes(ns: PlanNamespace, markup: bool) -> str:
    notes = []
    if ns["looser_than_psp"]:
        notes.append("[bold red]LOOSER THAN PSP[/]" if markup else "LOOSER THAN PSP")
    if ns["system"]:
        notes.append("system")
    if ns["exempt"]:
        notes.append("exempt")
    if any(m["passes_only_because_of_mutation"] for m in ns["mutation"]):
        notes.append("[yellow]mutation-only pass[/]" if markup else "mutation-only pass")
    if ns["rejected_today"]:
        notes.append("PSP rejects some today")
    if ns.get("flips_across_upgrade"):
        notes.append("[yellow]flips on upgrade[/]" if markup else "flips on upgrade")
    if ns.get("invalid"):
        notes.append("[bold red]invalid pods[/]" if markup else "invalid pods")
    return ", ".join(notes)


def _row(ns: PlanNamespace, pin: str, target: str, markup: bool) -> list[str]:
    rec, floor, ceiling = ns["recommended"], ns["floor"], ns["ceiling"]
    floors = "/".join(dict.fromkeys(floor[v] for v in (pin, target) if v in floor))
    return [ns["name"], rec["enforce"], rec["audit"], floors,
            f"{ceiling['strict'] or '-'}/{ceiling['practical'] or '-'}", ns["after_patches"],
            str(_blocker_count(ns["blockers"])), _notes(ns, markup)]


def _blocker_count(blockers: list[Blocker]) -> int:
    """Blockers as the summary counts them: a pod shape counts once per pod."""
    return sum(b.get("count", 1) for b in blockers)


def _details(ns: PlanNamespace, residual: dict[str, Any] | None = None) -> list[str]:
    lines = [f"\n{ns['name']}: enforce {ns['recommended']['enforce']}"
             f" ({ns['recommended']['enforce_version']})"]
    lines += [f"  {warning}" for warning in ns["warnings"]]
    lines += [f"  - {line}" for line in ns["reasoning"]]
    lines += _residual_lines(residual)
    by_object: dict[str, list[Blocker]] = {}
    for b in ns["blockers"]:
        by_object.setdefault(b["object"], []).append(b)
    templates = {ref for ref, items in by_object.items() if items[0]["template"]}
    owners = {s["kind"] + "/" + s["name"]: s["owner"] for s in ns["subjects"]}
    custom = {s["kind"] + "/" + s["name"] for s in ns["subjects"] if s.get("custom")}
    for ref, items in by_object.items():
        if owners.get(ref) in templates:
            continue  # its template is listed: the pods are replicas of it
        fixable = all(b["patchable"] for b in items)
        checks = ", ".join(b["check"] for b in items)
        shape = items[0].get("count", 1)
        shown = f"{ref} (custom workload)" if ref in custom else ref
        lines.append(f"  short of {items[0]['level']}: {shown}"
                     + (f" (and {shape - 1} more pods of the same shape)" if shape > 1 else "")
                     + f": {checks}" + (" (fixed by the generated patch)" if fixable else ""))
    return lines


COLUMNS = ("namespace", "enforce", "audit/warn", "floor", "PSP ceiling", "after patches",
           "short of next", "notes")


def render_plan(plan: Plan, details: bool = False) -> None:
    """The terminal summary: a table and each namespace's reasoning, or past TABLE_LIMIT
    namespaces one line per namespace (the reasoning too with `details`)."""
    pin, target = plan["pin_version"], plan["target_version"]
    servers: Mapping[str, Any] = plan.get("servers") or {}
    upgrade = (f"; servers {servers.get('current')} today, {servers.get('upgrade_to')} after "
               "the upgrade" if servers.get("current") != servers.get("upgrade_to")
               else f"; server {servers.get('current')}") if servers else ""
    title = f"Pod Security plan: labels pinned to {pin}, also judged at {target}{upgrade}"
    summary = plan["summary"]
    flips = [f"  {ns['name']}: {flip['text']}" for ns in plan["namespaces"]
             for flip in ns.get("flips_across_upgrade") or ()]
    flipped = ([f"\nTemplates whose verdict flips across the upgrade ({len(flips)}):", *flips]
               if flips else [])
    from migrator.plan.residual import entry_alternatives  # (not loaded for other commands)

    section: Mapping[str, Any] = plan.get("residual") or {}
    residual = {str(e["namespace"]): {**e, "alternatives": entry_alternatives(section, e)}
                for e in section.get("namespaces") or ()}
    footer = (f"\n{summary['namespaces']} namespaces: "
              + ", ".join(f"{n} {lv}" for lv, n in summary["by_recommended_level"].items())
              + f"; {summary['blockers']} failed checks stand between the enforced levels "
              "and the next stricter ones (details in plan.json)")
    if len(plan["namespaces"]) > TABLE_LIMIT:
        rows = [list(COLUMNS)] + [_row(ns, pin, target, False) for ns in plan["namespaces"]]
        widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS) - 1)]
        lines = [title]
        lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1]
                  for r in rows]
        if details:
            for ns in plan["namespaces"]:
                lines += _details(ns, residual.get(ns["name"]))
        else:
            lines.append(f"\n(one line per namespace past {TABLE_LIMIT}; --details prints "
                         "each one's reasoning and blockers, report.md sums them up)")
        lines += flipped
        echo("\n".join(line.rstrip() for line in lines) + footer)
        return

    from rich.console import Console
    from rich.table import Table

    escape = safe
    console = Console(highlight=False, width=max(160, Console().width))
    table = Table(title=title)
    for column in COLUMNS:
        table.add_column(column, no_wrap=True)
    for ns in plan["namespaces"]:
        row = _row(ns, pin, target, True)
        table.add_row(*[escape(c) for c in row[:-1]], row[-1])
    console.print(table)
    console.print("floor: strictest level every template and pod passes (pinned/target); "
                  "PSP ceiling: loosest usable PSP, strict/practical")
    for ns in plan["namespaces"]:
        for i, line in enumerate(_details(ns, residual.get(ns["name"]))):
            if i == 0:
                console.print(f"\n[bold]{escape(line.lstrip())}[/]")
            elif line.lstrip() in ns["warnings"]:
                console.print(f"  [bold red]{escape(line.lstrip())}[/]")
            else:
                console.print(escape(line))
    for line in flipped:
        console.print(f"[bold]{escape(line)}[/]" if not line.startswith("  ") else escape(line))
    console.print(escape(footer))


def _residual_lines(entry: dict[str, Any] | None) -> list[str]:
    """What the namespace's residual policy keeps, reports and would reject."""
    if not entry:
        return []
    from migrator.psp.residual import short_field

    kept = [f"{a['psp']}: " + ", ".join(short_field(r["field"]) for r in a["rules"])
            for a in entry["alternatives"] if a["rules"]]
    lines = [f"  - residual policy keeps {'; '.join(kept)}"] if kept else []
    lines += [f"  residual rule reported, not generated: {r['psp']} {r['field']}: {r['reason']}"
              for r in entry["reported"]]
    lines += [f"  residual policy would reject {r['object']}: {r['message']}"
              for r in entry["rejects"]]
    return lines


@edge
def plan(
    paths: PathsArg = None,
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
    request_timeout: RequestTimeoutOpt = None,
    namespace: NamespaceOpt = None,
    all_namespaces: AllNamespacesOpt = False,
    psp_from: PspFromOpt = None,
    out: Annotated[str, typer.Option("--out", metavar="DIR", help="Folder for plan.json and "
                                     "the reports (report.html, report.md, report.json)."
                                     )] = "migrator-out",
    pin: Annotated[str | None, typer.Option("--pin-version", metavar="VERSION",
                   help="Policy version to pin (default: the current server's minor version; "
                   "never newer than it).")] = None,
    target: Annotated[str | None, typer.Option("--target-version", metavar="VERSION",
                      help="Policy version also judged (default: the --upgrade-to "
                      "version).")] = None,
    server_version: Annotated[str | None, typer.Option(
        "--server-version", metavar="VERSION", help="Today's API server, v1.N or its "
        "gitVersion (default: read from the cluster or the snapshot; for dumps, assumed and "
        "said so).")] = None,
    upgrade_to: Annotated[str, typer.Option(
        "--upgrade-to", metavar="VERSION", help="The Kubernetes version after the upgrade: "
        "every template is judged as the pods today's server and that one create."
        )] = f"v1.{NEWEST_SERVER_MINOR}",
    admission_config: Annotated[str | None, typer.Option(
        "--admission-config", metavar="FILE", help="The API server's PodSecurity admission "
        "configuration (defaults and exemptions).")] = None,
    server_dry_run: Annotated[bool, typer.Option(
        "--server-dry-run", help="Also ask the live API server (dryRun=All, nothing is "
        "persisted) and compare its verdicts with ours.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing plan.json and "
                                        "reports.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No terminal summary.")] = False,
    details: Annotated[bool, typer.Option(
        "--details", help=f"Print each namespace's reasoning and blockers even past "
        f"{TABLE_LIMIT} namespaces.")] = False,
) -> None:
    """Decide each namespace's Pod Security level and write plan.json and the reports.

    Reads PATH... (manifests, dumps, a snapshot; - for stdin) or, without PATH, the live
    cluster.

    Exit 0; 2 when input could not be read, holds nothing to plan, or the output exists
    (without --force); 3 when something could not be read or checked (incomplete).
    """
    from migrator.app.plan import run_plan

    no_live_options(paths, kubeconfig, context)
    run = run_plan(paths, out=out,
                   target=parse_version(target) if target is not None else None,
                   namespaces=scope(namespace, all_namespaces), generated_at=now(),
                   pin=str(parse_version(pin)) if pin is not None else None,
                   server=str(parse_server(server_version).text) if server_version else None,
                   upgrade_to=parse_server(upgrade_to).text,
                   kubeconfig=kubeconfig, context=context, psp_from=psp_from,
                   admission_config=admission_config, server_dry_run=server_dry_run,
                   force=force, echo=(lambda _line: None) if quiet else echo,
                   err=err_line, stdin=sys.stdin, **live_feedback(quiet=quiet))
    for problem in run.errors:
        error(str(problem))
    servers: Mapping[str, Any] = run.plan.get("servers") or {}
    if not quiet and str(servers.get("current_basis", "")).startswith("assumed"):
        err_line(f"note: current server {servers.get('current')}: {servers['current_basis']}")
    for note in servers.get("notes") or () if not quiet else ():
        err_line(f"note: {note}")
    if not quiet:
        render_plan(run.plan, details=details)
        echo(f"\nwrote {run.plan_path} and the reports {out}/report.html, report.md "
             "(the summary for a ticket), report-details.md")
        echo(run.headline)
    if run.gaps:
        err_line(f"incomplete: {len(run.gaps)} thing{'s' if len(run.gaps) != 1 else ''} could "
                 "not be read or checked (listed above); the plan may be wrong there")
    if run.code:
        raise typer.Exit(run.code)
