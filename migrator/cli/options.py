"""The options several commands share, declared once, and the parsers of their values.

One meaning per flag, as kubectl has them: `-o/--output` is always an output format,
`--out` always a folder (or, for `snapshot`, the one file it writes), `-n/--namespace`
(repeatable) and `-A/--all-namespaces` scope a command to namespaces, `--context`,
`--kubeconfig` and `--request-timeout` select and bound a live cluster. Every option has a
metavar, so help shows `DIR` or `CONTEXT`, never a Python type.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated

import typer

from migrator.errors import UsageError
from migrator.pss.api import Level, Version
from migrator.pss.server import ServerVersion


class OutputFormat(StrEnum):
    text = "text"
    json = "json"
    yaml = "yaml"


ReportFormat = OutputFormat


class FailOn(StrEnum):
    blockers = "blockers"
    warnings = "warnings"


def _set_request_timeout(value: str | None) -> str | None:
    if value is not None:
        from migrator.cluster import client

        client.DEFAULT_TIMEOUT = parse_duration(value)
    return value


KubeconfigOpt = Annotated[
    str | None, typer.Option("--kubeconfig", metavar="FILE", help="Path to a kubeconfig "
                             "(default: $KUBECONFIG, ~/.kube/config, then in-cluster).")
]
ContextOpt = Annotated[str | None, typer.Option("--context", metavar="CONTEXT",
                                                help="kubeconfig context to use.")]
RequestTimeoutOpt = Annotated[str | None, typer.Option(
    "--request-timeout", metavar="DURATION", callback=_set_request_timeout,
    help="How long to wait for each API server request, as kubectl takes it: 30s, 2m, "
    "or a number of seconds (default 30s).")]
PspFromOpt = Annotated[
    list[str] | None,
    typer.Option("--psp-from", metavar="PATH",
                 help="Read PodSecurityPolicies (and their RBAC) from these files instead "
                 "of the cluster, e.g. for clusters already past 1.24. They replace objects "
                 "of the same kind and name read from PATHS or the cluster."),
]
#: PATHS are described in each command's help text (typer would print a Python type).
PathsArg = Annotated[list[str] | None, typer.Argument(metavar="PATH", hidden=True)]
NamespaceOpt = Annotated[list[str] | None, typer.Option(
    "--namespace", "-n", metavar="NAMESPACE", help="Only this namespace (repeatable).")]
AllNamespacesOpt = Annotated[bool, typer.Option(
    "--all-namespaces", "-A", help="Every namespace (the default).")]
OutOpt = Annotated[str, typer.Option("--out", metavar="DIR", help="Output folder.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Replace existing output files.")]
SourcesOpt = Annotated[list[str] | None, typer.Option(
    "--from", metavar="PATH", help="Where the workloads are (manifests or a snapshot), "
    "when the origins recorded in the plan are not at hand.")]
PlanPathOpt = Annotated[str, typer.Option("--plan", metavar="PLAN",
                                          help="plan.json (or its folder).")]
DEFAULT_PLAN = "migrator-out/plan.json"


def parse_level(text: str) -> Level:
    try:
        return Level.parse(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def parse_server(text: str) -> ServerVersion:
    try:
        return ServerVersion.parse(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def parse_version(text: str) -> Version:
    try:
        return Version.parse(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)(h|ms|m|s))+|\d+(?:\.\d+)?")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_duration(text: str) -> float:
    """`--request-timeout` as kubectl reads it: `1m30s`, `45s`, `500ms` or plain seconds;
    it must be more than zero."""
    value = text.strip()
    if not _DURATION.fullmatch(value):
        raise typer.BadParameter(f"{text!r} is not a duration (e.g. 30s, 2m, 1m30s)",
                                 param_hint="--request-timeout")
    if re.fullmatch(r"\d+(?:\.\d+)?", value):
        seconds = float(value)
    else:
        seconds = sum(float(n) * _UNITS[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)(h|ms|m|s)",
                                                                   value))
    if seconds <= 0:
        raise typer.BadParameter("must be more than zero", param_hint="--request-timeout")
    return seconds


def scope(namespace: Sequence[str] | None, all_namespaces: bool) -> list[str] | None:
    """The namespaces `-n` names (sorted, once each), None for all; `-n` with `-A` is an
    error."""
    if namespace and all_namespaces:
        raise UsageError("pass either -n/--namespace or -A/--all-namespaces, not both")
    return sorted(set(namespace)) if namespace else None


def no_live_options(paths: Sequence[str] | None, kubeconfig: str | None,
                    context: str | None) -> None:
    """PATHS are read instead of a live cluster: `--context` or `--kubeconfig` with them
    would be silently ignored, so they are an error."""
    if paths and (kubeconfig or context):
        given = "--context" if context else "--kubeconfig"
        raise UsageError(f"{given} selects a live cluster, but PATHS were given (they are "
                         "read instead of a cluster): pass one or the other")
