"""`migrator report`: the readiness report of one cluster, a plan, or a fleet."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from migrator.cli.console import edge, err_line
from migrator.cli.options import FailOn, KubeconfigOpt, PathsArg, PspFromOpt


@edge
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
    evidence: Annotated[str | None, typer.Option(
        "--evidence", help="audit.json from `migrator audit --plan`: add the audit-log "
        "evidence (per namespace: ready, blocked, no evidence) to the report.")] = None,
) -> None:
    """Readiness report for an upgrade past 1.24: HTML, Markdown and JSON."""
    from migrator.app.report import run_report

    code = run_report(paths, echo=typer.echo, err=err_line, progress=err_line,
                      plan_file=plan_file, out=out, kubeconfig=kubeconfig, contexts=context,
                      all_contexts=all_contexts, helm_history=helm_history,
                      fail_on=fail_on.value if fail_on else None, force=force,
                      psp_from=psp_from, quiet=quiet, stdin=sys.stdin, evidence=evidence)
    if code:
        raise typer.Exit(code)

