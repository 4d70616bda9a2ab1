"""`migrator apply` and `migrator rollback`: the only commands that change a cluster."""

from __future__ import annotations

from typing import Annotated

import typer

from migrator.cli.console import edge, err_line
from migrator.cli.options import ContextOpt, KubeconfigOpt
from migrator.errors import UsageError


@edge
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
    allow_lower: Annotated[bool, typer.Option(
        "--allow-lower", help="Also lower a namespace whose current level is stricter than "
        "the plan's (by default it is kept and reported).")] = False,
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
    evidence: Annotated[str | None, typer.Option(
        "--evidence", help="audit.json from `migrator audit --plan`: with --phase enforce, "
        "refuse the namespaces whose gate it does not clear (blocked, no evidence).")] = None,
    allow_violations: Annotated[bool, typer.Option(
        "--allow-violations", help="Enforce namespaces --evidence does not clear too, with a "
        "warning.")] = False,
) -> None:
    """Set the planned Pod Security labels on the cluster's namespaces.

    Without --yes nothing is persisted. With --yes a rollback file is written first, then
    the labels are set by server-side apply (field manager `migrator`). Idempotent.
    With --evidence, exit 1 when namespaces were refused.
    """
    from migrator.app.apply import cmd_apply

    if phase not in ("audit", "enforce"):
        raise UsageError("--phase must be audit or enforce")
    raise typer.Exit(cmd_apply(plan_path, phase, namespace or None, yes, kubeconfig, context,
                               rollback_file, typer.echo, err_line, evidence_path=evidence,
                               allow_violations=allow_violations, allow_lower=allow_lower))


@edge
def rollback(
    file: Annotated[str, typer.Argument(help="A rollback file written by `migrator apply`.")],
    yes: Annotated[bool, typer.Option("--yes", help="Really restore the labels.")] = False,
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
) -> None:
    """Restore the namespace labels recorded in a rollback file."""
    from migrator.app.apply import cmd_rollback

    raise typer.Exit(cmd_rollback(file, kubeconfig, context, yes, typer.echo, err_line))

