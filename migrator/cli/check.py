"""`migrator check`: judge manifests against one Pod Security level and version."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from migrator.cli.console import edge, error
from migrator.cli.options import OutputFormat, parse_level, parse_version
from migrator.errors import EXIT_ERROR, EXIT_FINDINGS, ManifestError
from migrator.files.manifests import load_documents
from migrator.plan.checking import ObjectResult, check_object
from migrator.pss.api import Level, Version
from migrator.pss.engine import EVALUATOR


def render_text(results: list[ObjectResult], level: Level, version: Version) -> str:
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



@edge
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
    level_ = parse_level(level)
    version_ = parse_version(version)
    errors: list[ManifestError] = []
    results: list[ObjectResult] = []
    for doc in load_documents(paths, errors, stdin=sys.stdin):
        result = check_object(doc.obj, doc.source, level_, version_)
        if result is not None:
            results.append(result)
    for problem in errors:
        error(str(problem))
    if output is OutputFormat.json:
        payload = {
            "level": str(level_),
            "version": str(version_),
            "results": [r.to_dict() for r in results],
        }
        typer.echo(json.dumps(payload, indent=2))
    else:
        typer.echo(render_text(results, level_, version_))
    if errors:
        raise typer.Exit(EXIT_ERROR)
    if any(not r.allowed for r in results):
        raise typer.Exit(EXIT_FINDINGS)

