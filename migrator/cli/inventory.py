"""`migrator inventory` and `migrator snapshot`: what the cluster has today, read only."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from migrator.app.pipeline import read_source
from migrator.cli.console import edge, error, live_feedback
from migrator.cli.options import ContextOpt, KubeconfigOpt, PathsArg, PspFromOpt, ReportFormat
from migrator.errors import EXIT_ERROR, ManifestError


def dump(data: object, fmt: ReportFormat) -> str:
    from migrator.model.serialise import to_json, to_yaml

    return to_yaml(data) if fmt is ReportFormat.yaml else to_json(data, indent=2)


@edge
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
    from migrator.plan.survey import render_text, survey

    errors: list[ManifestError] = []
    source = read_source(paths, errors=errors, kubeconfig=kubeconfig, context=context,
                         psp_from=psp_from, stdin=sys.stdin,
                         **live_feedback(quiet=output is not ReportFormat.text))
    for problem in errors:
        error(str(problem))
    data = survey(source.inventory)
    typer.echo(render_text(data) if output is ReportFormat.text else dump(data, output))
    if errors:
        raise typer.Exit(EXIT_ERROR)


@edge
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

    from migrator.files.snapshot import write_snapshot

    if os.path.exists(out) and not force:
        error(f"{out} exists; pass --force to overwrite it")
        raise typer.Exit(EXIT_ERROR)
    errors: list[ManifestError] = []
    source = read_source(None, errors=errors, kubeconfig=kubeconfig, context=context,
                         psp_from=psp_from, **live_feedback(quiet=False))
    for problem in errors:
        error(str(problem))
    count = write_snapshot(source.inventory, out)
    typer.echo(f"wrote {count} objects to {out}")
    for item in source.inventory.unreadable:
        error(f"could not read {item.what}: {item.reason}")
    if errors:
        raise typer.Exit(EXIT_ERROR)
