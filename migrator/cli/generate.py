"""`migrator generate` and `migrator patch`: the files a team commits, from a plan."""

from __future__ import annotations

from typing import Annotated

import typer

from migrator.cli.console import edge, err_line
from migrator.cli.options import SourcesOpt


@edge
def generate(
    plan_path: Annotated[str, typer.Option("--plan", help="plan.json (or its folder).")] = (
        "migrator-out/plan.json"),
    out: Annotated[str, typer.Option("--out", help="Output folder.")] = "migrator-out",
    fmt: Annotated[str, typer.Option(
        "--format", help="all, strategic, json6902 or full.")] = "all",
    sources: SourcesOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing output.")] = False,
    evidence: Annotated[str | None, typer.Option(
        "--evidence", help="audit.json from `migrator audit --plan`: suggest username "
        "exemptions for the users whose own pods violate the plan.")] = None,
    drops: Annotated[list[str] | None, typer.Option(
        "--drop-guarantee", metavar="PSP:FIELD",
        help="Leave a residual PSP rule out of the generated policies (repeatable), "
        "e.g. baseline:spec.volumes.")] = None,
) -> None:
    """Namespace manifests (two phases), securityContext patches, residual policies for
    what Pod Security drops, and the admission config."""
    from migrator.app.generate import generate as run

    raise typer.Exit(run(plan_path, out, force=force, fmt=fmt, sources=sources or (),
                         echo=typer.echo, err=err_line, evidence_path=evidence,
                         drops=drops or ()))


@edge
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
    from migrator.app.generate import patch as run

    raise typer.Exit(run(plan_path, repo, out, commit=commit, allow_dirty=allow_dirty,
                         force=force, sources=sources or (), echo=typer.echo, err=err_line))

