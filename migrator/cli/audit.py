"""`migrator audit`: Pod Security's verdicts in audit logs, and the gate before enforcing."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any

import typer

from migrator.cli.console import BytesProgress, edge, err_line
from migrator.cli.options import OutputFormat
from migrator.errors import EXIT_ERROR, EXIT_FINDINGS


class AuditFailOn(StrEnum):
    violations = "violations"


def render_text(evidence: Mapping[str, Any]) -> list[str]:
    """The evidence in words, one namespace per paragraph."""
    from migrator.plan.evidence import count_of, gate_line, violator_line  # (audit only)

    lines: list[str] = []
    window = evidence["window"]
    lines.append(f"audit window {window['from'] or '?'} .. {window['until'] or '?'}")
    for ns in evidence["namespaces"]:
        head = gate_line(ns, window)
        extras = []
        if ns["exempt"]:
            kinds = ", ".join(f"{k} {n:,}" for k, n in ns["exempt_by"].items())
            extras.append(f"{ns['exempt']:,} exempt ({kinds})")
        if ns["dry_runs"]:
            extras.append(f"{count_of(ns['dry_runs'], 'dry run')} not counted")
        lines.append(head + (f"; {'; '.join(extras)}" if extras else ""))
        lines.extend(f"  {violator_line(v)}" for v in ns["violators"])
    candidates = evidence.get("exemption_candidates") or ()
    for c in candidates:
        if c["suggest"]:
            lines.append(f"username exemption candidate: {c['username']} creates its "
                         f"violating pods itself ({', '.join(c['namespaces'])})")
        else:
            lines.append(f"not an exemption candidate: {c['username']} creates pods for "
                         "workloads; exempting it would exempt every workload it creates")
    if evidence["malformed_lines"]:
        lines.append(f"{count_of(evidence['malformed_lines'], 'malformed line')} skipped")
    return lines


@edge
def audit(
    logs: Annotated[list[str], typer.Argument(metavar="LOG", hidden=True)],
    plan_path: Annotated[str | None, typer.Option(
        "--plan", metavar="PLAN", help="plan.json (or its folder): judge each namespace at "
        "its planned enforce level (the gate).")] = None,
    since: Annotated[str | None, typer.Option(
        "--since", metavar="DURATION", help="Only the last DURATION (7d, 24h, 1h30m) before "
        "--until or now.")] = None,
    start: Annotated[str | None, typer.Option(
        "--since-time", metavar="TIME", help="Only events from this time (RFC 3339, or a "
        "date), as kubectl logs --since-time.")] = None,
    until: Annotated[str | None, typer.Option(
        "--until", metavar="TIME", help="Only events up to this time (RFC 3339, or a date)."
        )] = None,
    output: Annotated[OutputFormat, typer.Option(
        "--output", "-o", metavar="FORMAT", help="text, json or yaml.")] = OutputFormat.text,
    out: Annotated[str | None, typer.Option(
        "--out", metavar="FILE", help="Also write the JSON evidence to this file "
        "(audit.json), for `apply --evidence`, `report --evidence` and `generate "
        "--evidence`.")] = None,
    fail_on: Annotated[AuditFailOn | None, typer.Option(
        "--fail-on", metavar="WHAT", help="violations: exit 1 when a namespace's gate is "
        "blocked (for CI).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite --out.")] = False,
) -> None:
    """Evidence before enforcement: Pod Security's verdicts in the API server's audit logs.

    LOG: audit logs: files (rotated and .gz too), folders, - for stdin; Event lines or the
    webhook backend's EventList batches.

    Per namespace: pod creations seen, which violate the planned enforce level, by which
    workload and user, and whether enforcing is safe (ready, blocked, or no evidence).
    Exit 0; 1 when --fail-on violations trips; 2 when a log could not be read.
    """
    from migrator.app.audit import evidence_json, run_audit

    with BytesProgress("reading audit logs") as progress:
        run = run_audit(logs, plan_path=plan_path, since=since, start=start, until=until,
                        out=out, fail_on=fail_on.value if fail_on else None, force=force,
                        stdin=sys.stdin.buffer, progress=progress)
    if output is OutputFormat.json:
        typer.echo(evidence_json(run.evidence), nl=False)
    elif output is OutputFormat.yaml:
        from migrator.model.serialise import to_yaml

        typer.echo(to_yaml(run.evidence))
    else:
        for line in render_text(run.evidence):
            typer.echo(line)
        if run.written:
            typer.echo(f"wrote {run.written}")
    stats = run.stats
    for line in stats.malformed_lines:
        err_line(f"warning: malformed line skipped: {line}")
    if stats.malformed > len(stats.malformed_lines):
        err_line(f"warning: {stats.malformed - len(stats.malformed_lines):,} more malformed "
                 "lines skipped")
    for item in stats.unreadable:
        err_line(f"error: {item}")
    if stats.unreadable:
        err_line("error: the evidence above is incomplete")
        raise typer.Exit(EXIT_ERROR)
    for line in run.trips:
        err_line(f"fail-on violations: {line}")
    if run.trips:
        raise typer.Exit(EXIT_FINDINGS)
