"""`migrator apply` and `migrator rollback`: the only commands that change a cluster."""

from __future__ import annotations

from typing import Annotated

import typer

from migrator.cli.console import echo, edge, err_line
from migrator.cli.options import (
    AllNamespacesOpt,
    ContextOpt,
    KubeconfigOpt,
    NamespaceOpt,
    RequestTimeoutOpt,
    scope,
)
from migrator.errors import UsageError


@edge
def apply(
    plan_path: Annotated[str, typer.Option(
        "--plan", metavar="PLAN", help="plan.json (or its folder).")] = "migrator-out/plan.json",
    phase: Annotated[str, typer.Option(
        "--phase", metavar="PHASE", help="audit (audit and warn labels only) or enforce (all "
        "labels).")] = "audit",
    namespace: NamespaceOpt = None,
    all_namespaces: AllNamespacesOpt = False,
    yes: Annotated[bool, typer.Option("--yes", help="Really change the cluster. Without it, "
                                      "print the changes and run a server dry-run.")] = False,
    rollback_file: Annotated[str | None, typer.Option(
        "--rollback-file", metavar="FILE", help="Where to save the labels being replaced "
        "(default: beside the plan).")] = None,
    allow_other_cluster: Annotated[bool, typer.Option(
        "--allow-other-cluster", help="Apply even though the current cluster is not the one "
        "the plan was made on (or the plan records none).")] = False,
    allow_violations: Annotated[bool, typer.Option(
        "--allow-violations", help="With --phase enforce: enforce even when the "
        "server's dry-run (or --evidence) says existing pods violate the level.")] = False,
    allow_lower: Annotated[bool, typer.Option(
        "--allow-lower", help="Also lower a namespace whose current level is stricter than "
        "the plan's (by default it is kept and reported).")] = False,
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
    request_timeout: RequestTimeoutOpt = None,
    evidence: Annotated[str | None, typer.Option(
        "--evidence", metavar="FILE", help="audit.json from `migrator audit --plan`: with "
        "--phase enforce, refuse the namespaces whose gate it does not clear (blocked, no "
        "evidence).")] = None,
) -> None:
    """Set the planned Pod Security labels on the cluster's namespaces.

    Without --yes nothing is persisted. With --yes a rollback file is written first, then
    the labels are set by server-side apply (field manager `migrator`). Idempotent.
    Refuses a cluster other than the plan's. With --phase enforce --yes, stops when the
    server's dry-run finds existing pods that would violate the level; with --evidence,
    refuses the namespaces the audit evidence does not clear.

    Exit 0; 1 when enforce stopped on violating pods or namespaces were refused; 2 for
    another cluster, a bad plan, an unreachable cluster or any namespace that failed.
    """
    from migrator.app.apply import cmd_apply

    if phase not in ("audit", "enforce"):
        raise UsageError("--phase must be audit or enforce")
    raise typer.Exit(cmd_apply(plan_path, phase, scope(namespace, all_namespaces), yes,
                               kubeconfig, context,
                               rollback_file, echo, err_line, evidence_path=evidence,
                               allow_other_cluster=allow_other_cluster,
                               allow_violations=allow_violations, allow_lower=allow_lower))


@edge
def rollback(
    file: Annotated[str, typer.Argument(metavar="FILE", hidden=True)],
    yes: Annotated[bool, typer.Option("--yes", help="Really restore the labels.")] = False,
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
    request_timeout: RequestTimeoutOpt = None,
) -> None:
    """Restore the namespace labels recorded in FILE, a rollback file written by apply.

    Refuses a cluster other than the one FILE was written for. Exit 0; 2 when the file or
    the cluster cannot be read, or any namespace failed.
    """
    from migrator.app.apply import cmd_rollback

    raise typer.Exit(cmd_rollback(file, kubeconfig, context, yes, echo, err_line))

