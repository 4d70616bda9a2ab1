"""`migrator inventory` and `migrator snapshot`: what the cluster has today, read only."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from migrator.app.pipeline import read_source
from migrator.cli.console import echo, edge, err_line, error, live_feedback
from migrator.cli.options import (
    ContextOpt,
    KubeconfigOpt,
    PathsArg,
    PspFromOpt,
    ReportFormat,
    RequestTimeoutOpt,
    no_live_options,
)
from migrator.errors import EXIT_ERROR, EXIT_INCOMPLETE, ManifestError, NoObjectsFound


def dump(data: object, fmt: ReportFormat) -> str:
    from migrator.model.serialise import to_json, to_yaml

    return to_yaml(data) if fmt is ReportFormat.yaml else to_json(data, indent=2)


@edge
def inventory(
    paths: PathsArg = None,
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
    request_timeout: RequestTimeoutOpt = None,
    psp_from: PspFromOpt = None,
    output: Annotated[
        ReportFormat, typer.Option("--output", "-o", metavar="FORMAT",
                                   help="text, json or yaml.")
    ] = ReportFormat.text,
) -> None:
    """What the cluster has: PSPs mapped to levels, who may use each where, who may relabel.

    Reads PATH... (manifests, `kubectl get -o yaml` dumps, a snapshot; - for stdin) or,
    without PATH, the live cluster. Never writes to the cluster.

    Exit 0; 2 when input could not be read; 3 when something could not be read (a 403 on
    a list), so the answer is incomplete.
    """
    from migrator.plan.survey import render_text, survey

    no_live_options(paths, kubeconfig, context)
    errors: list[ManifestError] = []
    source = read_source(paths, errors=errors, kubeconfig=kubeconfig, context=context,
                         psp_from=psp_from, stdin=sys.stdin,
                         **live_feedback(quiet=output is not ReportFormat.text))
    for problem in errors:
        error(str(problem))
    if paths and not any(True for _ in source.inventory.all_objects()):
        detail = "; ".join(str(e) for e in errors[:3])
        raise NoObjectsFound(f"no Kubernetes objects found in {', '.join(paths)}"
                             + (f" ({detail})" if detail else ""))
    data = survey(source.inventory)
    echo(render_text(data) if output is ReportFormat.text else dump(data, output))
    if errors:
        raise typer.Exit(EXIT_ERROR)
    if source.inventory.unreadable:
        raise typer.Exit(EXIT_INCOMPLETE)


@edge
def snapshot(
    out: Annotated[str, typer.Option("--out", metavar="FILE", help="File to write.")],
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
    request_timeout: RequestTimeoutOpt = None,
    psp_from: PspFromOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Save what a migration needs from the live cluster to one YAML file, for offline runs.

    Holds no Secrets and no ConfigMaps; pods are reduced to their security-relevant fields.
    The cluster's identity is recorded, so a plan made from the file still belongs to it.

    Exit 0; 2 when the cluster cannot be read or the file written; 3 when something could
    not be read (the snapshot is incomplete).
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
    echo(f"wrote {count} objects to {out}")
    for item in source.inventory.unreadable:
        error(f"could not read {item.what}: {item.reason}")
    if errors:
        raise typer.Exit(EXIT_ERROR)
    if source.inventory.unreadable:
        err_line(f"incomplete: {out} lacks what could not be read (exit 3)")
        raise typer.Exit(EXIT_INCOMPLETE)
