"""`migrator check`: judge manifests against one Pod Security level and version."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from migrator.cli.console import echo, edge, err_line, error
from migrator.cli.options import (
    AllNamespacesOpt,
    NamespaceOpt,
    OutputFormat,
    parse_level,
    parse_server,
    parse_version,
    scope,
)
from migrator.errors import EXIT_ERROR, EXIT_FINDINGS, ManifestError, NoObjectsFound
from migrator.files.manifests import load_documents
from migrator.model.serialise import to_yaml
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
        kind = result.kind + (" (custom workload)" if result.custom else "")
        note = result.server_note()
        if result.allowed:
            if note:
                lines.append(f"{result.source}: {kind} {where}: allowed at {on}; "
                             f"depends on the server version: {note}")
            continue
        if result.invalid:
            lines.append(f"{result.source}: {kind} {where}: refused by a {server} "
                         "server before Pod Security judges it (invalid)")
            lines += [f"  {problem}" for problem in result.invalid]
        else:
            lines.append(f"{result.source}: {kind} {where}: denied at {on}")
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
    paths: Annotated[list[str], typer.Argument(metavar="PATH", hidden=True)],
    level: Annotated[
        str, typer.Option("--level", "-l", metavar="LEVEL",
                          help="privileged, baseline or restricted.")
    ] = "restricted",
    version: Annotated[
        str, typer.Option("--version", "-v", metavar="VERSION",
                          help="Policy version: v1.N or latest.")
    ] = "latest",
    output: Annotated[
        OutputFormat, typer.Option("--output", "-o", metavar="FORMAT",
                                   help="text, json or yaml.")
    ] = OutputFormat.text,
    server_version: Annotated[
        str, typer.Option("--server-version", metavar="VERSION",
                          help="The API server that will create the pods: v1.N or its "
                          "gitVersion (it decides how seccomp and AppArmor annotations "
                          "count).")
    ] = f"v1.{NEWEST_SERVER_MINOR}",
    namespace: NamespaceOpt = None,
    all_namespaces: AllNamespacesOpt = False,
) -> None:
    """Judge every pod and pod template in PATH... against a Pod Security level.

    PATH: files or folders of manifests (.yaml, .yml, .json), or - for stdin.

    Exit 0 when all are allowed, 1 when any is denied (or refused as invalid), 2 when input
    could not be read or holds nothing to judge.
    """
    level_ = parse_level(level)
    version_ = parse_version(version)
    only = scope(namespace, all_namespaces)
    server_ = parse_server(server_version)
    if server_.note:
        err_line(f"note: {server_.note}")
    errors: list[ManifestError] = []
    results: list[ObjectResult] = []
    for doc in load_documents(paths, errors, stdin=sys.stdin):
        result = check_object(doc.obj, doc.source, level_, version_, server_)
        if result is not None and (only is None or (result.namespace or "default") in only):
            if doc.name_problem:
                err_line(f"warning: {doc.source}: {doc.name_problem} (the API server would "
                         "refuse this name; judged all the same)")
                result = result._replace(name_problem=doc.name_problem)
            results.append(result)
    for problem in errors:
        error(str(problem))
    if not results:
        detail = f" ({len(errors)} unreadable)" if errors else ""
        where = ", ".join(paths) + (f" (namespaces {', '.join(only)})" if only else "")
        raise NoObjectsFound(f"no Kubernetes objects with pods found in {where}"
                             f"{detail}: nothing was checked")
    if output is not OutputFormat.text:
        payload = {
            "level": str(level_),
            "version": str(version_),
            "server_version": str(server_),
            "results": [r.to_dict() for r in results],
        }
        echo(json.dumps(payload, indent=2) if output is OutputFormat.json
             else to_yaml(payload))
    else:
        echo(render_text(results, level_, version_, server_))
    if errors:
        raise typer.Exit(EXIT_ERROR)
    if any(not r.allowed for r in results):
        raise typer.Exit(EXIT_FINDINGS)

