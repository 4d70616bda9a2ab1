"""The options several commands share, declared once, and the parsers of their values."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from migrator.pss.api import Level, Version
from migrator.pss.server import ServerVersion


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


class ReportFormat(StrEnum):
    text = "text"
    json = "json"
    yaml = "yaml"


class FailOn(StrEnum):
    blockers = "blockers"
    warnings = "warnings"


KubeconfigOpt = Annotated[
    str | None, typer.Option("--kubeconfig", help="Path to a kubeconfig (default: $KUBECONFIG, "
                             "~/.kube/config, then in-cluster).")
]
ContextOpt = Annotated[str | None, typer.Option("--context", help="kubeconfig context to use.")]
PspFromOpt = Annotated[
    list[str] | None,
    typer.Option("--psp-from", help="Read PodSecurityPolicies (and their RBAC) from these files "
                 "instead of the cluster, e.g. for clusters already past 1.24. They replace "
                 "objects of the same kind and name read from PATHS or the cluster."),
]
PathsArg = Annotated[
    list[str] | None,
    typer.Argument(help="Manifests, cluster dumps or a snapshot to read instead of a live "
                   "cluster (files, directories, - for stdin)."),
]
SourcesOpt = Annotated[list[str] | None, typer.Option(
    "--from", help="Where the workloads are (manifests or a snapshot), when the origins "
    "recorded in the plan are not at hand.")]
PlanPathOpt = Annotated[str, typer.Option("--plan", help="plan.json (or its folder).")]
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
