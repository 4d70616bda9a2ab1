"""`migrator check`: judge manifests against one Pod Security level and version."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from migrator.cli.console import edge, err_line, error
from migrator.cli.options import OutputFormat, parse_level, parse_server, parse_version
from migrator.errors import EXIT_ERROR, EXIT_FINDINGS, ManifestError
from migrator.files.manifests import load_documents
from migrator.plan.checking import ObjectResult, check_object
from migrator.pss.api import Level, Version
from migrator.pss.engine import EVALUATOR
from migrator.pss.server import NEWEST_SERVER_MINOR, ServerVersion


def render_text(results: list[ObjectResult], level: Level, version: Version,
                server: ServerVersion) -> str:
    lines: list[str] = []
    on = f"{level}:{version} on a {server} server"
    for result in results:
        where = f"{result.namespace}/{result.name}" if result.namespace else result.name
        note = result.server_note()
        if result.allowed:
            if note:
                lines.append(f"{result.source}: {result.kind} {where}: allowed at {on}; "
                             f"depends on the server version: {note}")
            continue
        if result.invalid:
            lines.append(f"{result.source}: {result.kind} {where}: refused by a {server} "
                         "server before Pod Security judges it (invalid)")
            lines += [f"  {problem}" for problem in result.invalid]
        else:
            lines.append(f"{result.source}: {result.kind} {where}: denied at {on}")
        if note:
            lines.append(f"  depends on the server version: {note}; set the seccompProfile / "
                         "appArmorProfile fields so it does not")
        for violation in result.violations:
            lines.append(f"  {violation.check}: {violation.text()}")
            check = EVALUATOR.checks.get(violation.check)
            if check is not None:
                lines.append(f"    fix: {check.fix}")
    denied = sum(1 for r in results if not r.allowed)
    lines.append(
        f"{len(results)} {'object' if len(results) == 1 else 'objects'} checked at {on}: "
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
    server_version: Annotated[
        str, typer.Option("--server-version", help="The API server that will create the pods: "
                          "v1.N or its gitVersion (it decides how seccomp and AppArmor "
                          "annotations count).")
    ] = f"v1.{NEWEST_SERVER_MINOR}",
) -> None:
    """Judge every pod and pod template in PATHS against a Pod Security level.

    Exit 0 when all are allowed, 1 when any is denied (or refused as invalid), 2 when input
    could not be read.
    """
    level_ = parse_level(level)
    version_ = parse_version(version)
    server_ = parse_server(server_version)
    if server_.note:
        err_line(f"note: {server_.note}")
    errors: list[ManifestError] = []
    results: list[ObjectResult] = []
    for doc in load_documents(paths, errors, stdin=sys.stdin):
        result = check_object(doc.obj, doc.source, level_, version_, server_)
        if result is not None:
            results.append(result)
    for problem in errors:
        error(str(problem))
    if output is OutputFormat.json:
        payload = {
            "level": str(level_),
            "version": str(version_),
            "server_version": str(server_),
            "results": [r.to_dict() for r in results],
        }
        typer.echo(json.dumps(payload, indent=2))
    else:
        typer.echo(render_text(results, level_, version_, server_))
    if errors:
        raise typer.Exit(EXIT_ERROR)
    if any(not r.allowed for r in results):
        raise typer.Exit(EXIT_FINDINGS)

