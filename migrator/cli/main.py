"""The typer app: every command registered, the version option, and the entry point.

Each command module (`check`, `inventory`, `plan`, `report`, `generate`, `audit`,
`apply`) parses its options and calls a use case of `migrator.app`; every command runs inside
`migrator.cli.console.edge`, the one place errors become exit codes.
"""

from __future__ import annotations

from typing import Annotated

import typer

from migrator import __version__
from migrator.cli import apply, audit, check, generate, inventory, plan, report

app = typer.Typer(
    name="migrator",
    help="Take a Kubernetes cluster off PodSecurityPolicy and onto Pod Security Admission.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


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


for command in (check.check, inventory.inventory, inventory.snapshot, plan.plan,
                report.report, generate.generate, generate.patch, audit.audit, apply.apply,
                apply.rollback):
    app.command()(command)


def main() -> None:
    """Console-script entry point."""
    app()
