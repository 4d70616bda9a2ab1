"""`migrator report`: the readiness report of one cluster, a plan, or a fleet."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from migrator.cli.console import echo, edge, err_line, now
from migrator.cli.options import (
    AllNamespacesOpt,
    FailOn,
    KubeconfigOpt,
    NamespaceOpt,
    PathsArg,
    PspFromOpt,
    RequestTimeoutOpt,
    no_live_options,
    scope,
)


@edge
def report(
    paths: PathsArg = None,
    plan_file: Annotated[str | None, typer.Option(
        "--plan", metavar="PLAN", help="Report on this plan.json instead of planning again."
        )] = None,
    out: Annotated[str, typer.Option("--out", metavar="DIR", help="Folder for the reports."
                                     )] = "migrator-out",
    kubeconfig: KubeconfigOpt = None,
    context: Annotated[list[str] | None, typer.Option(
        "--context", metavar="CONTEXT", help="kubeconfig context; give several for a fleet "
        "report.")] = None,
    all_contexts: Annotated[bool, typer.Option(
        "--all-contexts", help="Every context of the kubeconfig (a fleet report).")] = False,
    request_timeout: RequestTimeoutOpt = None,
    namespace: NamespaceOpt = None,
    all_namespaces: AllNamespacesOpt = False,
    helm_history: Annotated[bool, typer.Option(
        "--helm-history", help="Read Helm release Secrets and list releases whose stored "
        "manifests still hold PodSecurityPolicies.")] = False,
    fail_on: Annotated[FailOn | None, typer.Option(
        "--fail-on", metavar="WHAT", help="blockers or warnings: exit 1 on blockers, or on "
        "warnings too (for CI gates).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing reports.")] = False,
    psp_from: PspFromOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary.")] = False,
    evidence: Annotated[str | None, typer.Option(
        "--evidence", metavar="FILE", help="audit.json from `migrator audit --plan`: add the "
        "audit-log evidence (per namespace: ready, blocked, no evidence) to the report."
        )] = None,
) -> None:
    """Readiness report for an upgrade past 1.24: HTML, Markdown and JSON.

    Reads PATH... (manifests, dumps, a snapshot; - for stdin), or --plan, or without
    either the live cluster (several --context or --all-contexts: a fleet).

    Exit 0; 1 when the --fail-on gate fails; 2 when input could not be read, holds nothing
    to plan, a cluster failed, or the output exists (without --force); 3 when something
    could not be read or checked (incomplete).
    """
    from migrator.app.report import run_report

    if not helm_history:
        no_live_options(paths, kubeconfig, context[0] if context else None)
    code = run_report(paths, echo=echo, err=err_line, progress=err_line,
                      namespaces=scope(namespace, all_namespaces), generated_at=now(),
                      plan_file=plan_file, out=out, kubeconfig=kubeconfig, contexts=context,
                      all_contexts=all_contexts, helm_history=helm_history,
                      fail_on=fail_on.value if fail_on else None, force=force,
                      psp_from=psp_from, quiet=quiet, stdin=sys.stdin, evidence=evidence)
    if code:
        raise typer.Exit(code)

