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
from migrator.errors import ManifestError
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


def main() -> None:
    """Console-script entry point."""
    app()
