"""The command-line interface: the only module that prints, exits or reads the environment.

Each command parses its options, calls the pure core, and renders the result. Every
`MigratorError` becomes one clear line on stderr and a non-zero exit; no traceback
reaches the user.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from typing import Annotated

import typer

from migrator import __version__
from migrator.checking import ObjectResult, check_object
from migrator.errors import ManifestError, MigratorError
from migrator.inventory import Inventory
from migrator.manifests import load_documents
from migrator.pss.api import Level, Version
from migrator.pss.engine import EVALUATOR

app = typer.Typer(
    name="migrator",
    help="Take a Kubernetes cluster off PodSecurityPolicy and onto Pod Security Admission.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_OK, EXIT_DENIED, EXIT_ERROR = 0, 1, 2


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


class ReportFormat(StrEnum):
    text = "text"
    json = "json"
    yaml = "yaml"


KubeconfigOpt = Annotated[
    str | None, typer.Option("--kubeconfig", help="Path to a kubeconfig (default: $KUBECONFIG, "
                             "~/.kube/config, then in-cluster).")
]
ContextOpt = Annotated[str | None, typer.Option("--context", help="kubeconfig context to use.")]
PspFromOpt = Annotated[
    list[str] | None,
    typer.Option("--psp-from", help="Read PodSecurityPolicies (and their RBAC) from these files "
                 "instead of the cluster, e.g. for clusters already past 1.24."),
]
PathsArg = Annotated[
    list[str] | None,
    typer.Argument(help="Manifests, cluster dumps or a snapshot to read instead of a live "
                   "cluster (files, directories, - for stdin)."),
]


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"migrator {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    show_version: Annotated[
        bool,
        typer.Option("--version", callback=_version_callback, is_eager=True,
                     help="Print the version and exit."),
    ] = False,
) -> None:
    """Take a Kubernetes cluster off PodSecurityPolicy and onto Pod Security Admission."""


def _err(message: str) -> None:
    typer.echo(f"error: {message}", err=True)


def _parse_level(text: str) -> Level:
    try:
        return Level.parse(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _parse_version(text: str) -> Version:
    try:
        return Version.parse(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _render_text(results: list[ObjectResult], level: Level, version: Version) -> str:
    lines: list[str] = []
    policy = f"{level}:{version}"
    for result in results:
        if result.allowed:
            continue
        where = f"{result.namespace}/{result.name}" if result.namespace else result.name
        lines.append(f"{result.source}: {result.kind} {where}: denied at {policy}")
        for violation in result.violations:
            lines.append(f"  {violation.check}: {violation.text()}")
            check = EVALUATOR.checks.get(violation.check)
            if check is not None:
                lines.append(f"    fix: {check.fix}")
    denied = sum(1 for r in results if not r.allowed)
    lines.append(
        f"{len(results)} {'object' if len(results) == 1 else 'objects'} checked at {policy}: "
        f"{len(results) - denied} allowed, {denied} denied"
    )
    return "\n".join(lines)


@app.command()
def check(
    paths: Annotated[
        list[str],
        typer.Argument(help="Files or directories of manifests (.yaml, .yml, .json); - for stdin."),
    ],
    level: Annotated[
        str, typer.Option("--level", "-l", help="privileged, baseline or restricted.")
    ] = "restricted",
    version: Annotated[
        str, typer.Option("--version", "-v", help="Policy version: v1.N or latest.")
    ] = "latest",
    output: Annotated[
        OutputFormat, typer.Option("--format", "-o", help="text or json.")
    ] = OutputFormat.text,
) -> None:
    """Judge every pod and pod template in PATHS against a Pod Security level.

    Exit 0 when all are allowed, 1 when any is denied, 2 when input could not be read.
    """
    level_ = _parse_level(level)
    version_ = _parse_version(version)
    errors: list[ManifestError] = []
    results: list[ObjectResult] = []
    for doc in load_documents(paths, errors, stdin=sys.stdin):
        result = check_object(doc.obj, doc.source, level_, version_)
        if result is not None:
            results.append(result)
    for error in errors:
        _err(str(error))
    if output is OutputFormat.json:
        payload = {
            "level": str(level_),
            "version": str(version_),
            "results": [r.to_dict() for r in results],
        }
        typer.echo(json.dumps(payload, indent=2))
    else:
        typer.echo(_render_text(results, level_, version_))
    if errors:
        raise typer.Exit(EXIT_ERROR)
    if any(not r.allowed for r in results):
        raise typer.Exit(EXIT_DENIED)


def _progress(what: str, count: int) -> None:
    typer.echo(f"  read {count} {what}", err=True)


def _load_inventory(
    paths: list[str] | None,
    kubeconfig: str | None,
    context: str | None,
    psp_from: list[str] | None,
    errors: list[ManifestError],
    quiet: bool = False,
) -> Inventory:
    """An Inventory from files when paths are given, else from the live cluster."""
    if paths:
        from migrator.sources.files import read_files

        inventory = read_files(paths, errors, stdin=sys.stdin)
        if psp_from:
            extra = read_files(psp_from, errors)
            for obj in extra.all_objects():
                inventory.add(obj, extra.origins.get(
                    (str(obj.get("kind")), str((obj.get("metadata") or {}).get("namespace") or ""),
                     str((obj.get("metadata") or {}).get("name") or "")), "file"))
        return inventory
    from migrator.sources.cluster import connect, read_inventory

    with connect(kubeconfig, context) as client:
        if not quiet:
            typer.echo(f"reading {client.describe()}", err=True)
        return read_inventory(client, psp_from=psp_from or None,
                              progress=None if quiet else _progress)


def _dump(data: object, fmt: ReportFormat) -> str:
    if fmt is ReportFormat.yaml:
        import yaml

        return yaml.safe_dump(data, sort_keys=False, default_flow_style=False,
                              allow_unicode=True).rstrip("\n")
    return json.dumps(data, indent=2, ensure_ascii=False)


@app.command()
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
    from migrator.survey import render_text, survey

    errors: list[ManifestError] = []
    try:
        inv = _load_inventory(paths, kubeconfig, context, psp_from, errors,
                              quiet=output is not ReportFormat.text)
    except MigratorError as exc:
        _err(str(exc))
        raise typer.Exit(EXIT_ERROR) from None
    for error in errors:
        _err(str(error))
    data = survey(inv)
    typer.echo(render_text(data) if output is ReportFormat.text else _dump(data, output))
    if errors:
        raise typer.Exit(EXIT_ERROR)


@app.command()
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

    from migrator.sources.snapshot import write_snapshot

    if os.path.exists(out) and not force:
        _err(f"{out} exists; pass --force to overwrite it")
        raise typer.Exit(EXIT_ERROR)
    errors: list[ManifestError] = []
    try:
        inv = _load_inventory(None, kubeconfig, context, psp_from, errors)
        count = write_snapshot(inv, out)
    except MigratorError as exc:
        _err(str(exc))
        raise typer.Exit(EXIT_ERROR) from None
    except OSError as exc:
        _err(f"{out}: {exc.strerror or exc}")
        raise typer.Exit(EXIT_ERROR) from None
    typer.echo(f"wrote {count} objects to {out}")
    for item in inv.unreadable:
        _err(f"could not read {item.what}: {item.reason}")


def main() -> None:
    """Console-script entry point."""
    app()
