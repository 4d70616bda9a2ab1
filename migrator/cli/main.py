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
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

#: The kubectl plugin's name as kubectl users type it.
PLUGIN_PROG = "kubectl psa-migrate"


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


def prog_name(argv0: str) -> str:
    """`kubectl psa-migrate` when run as the kubectl plugin (`kubectl-psa_migrate`), else
    `migrator`, for usage lines."""
    import os

    return PLUGIN_PROG if os.path.basename(argv0).startswith("kubectl-") else "migrator"


def main() -> None:
    """Console-script entry point."""
    import sys

    app(prog_name=prog_name(sys.argv[0]))
