"""The project's own exceptions.

Every error the tool reports to its user is a `MigratorError` subclass defined here. The
core raises them (chaining the YAML or API error as the cause); only the command line's
edge (`migrator.cli.console.edge`) catches them and turns each into one `error:` line and
the exit code it carries. Nothing here prints.
"""

from __future__ import annotations

#: Exit codes of every command: all is well; findings (denied pods, a tripped gate);
#: bad usage or input that could not be read.
EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


class MigratorError(Exception):
    """Base of every error the tool reports to its user."""

    #: the exit code of a command this error stops.
    exit_code: int = EXIT_ERROR


class ManifestError(MigratorError):
    """A file or document could not be read or parsed."""

    def __init__(self, source: str, message: str, line: int | None = None) -> None:
        self.source = source
        self.line = line
        self.message = message
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {message}")


class SourceError(MigratorError):
    """A cluster (or its kubeconfig) could not be reached or read."""


class UsageError(MigratorError):
    """The user asked for something that cannot be done as asked."""


class NamespaceError(SourceError):
    """One namespace request the server refused; `status` is the HTTP status."""

    def __init__(self, namespace: str, status: int, message: str) -> None:
        self.namespace = namespace
        self.status = status
        super().__init__(message)


class WriteError(MigratorError):
    """Output could not be written where or as asked."""


class OutputExists(WriteError):
    """Output files exist and overwriting them was not allowed."""

    def __init__(self, root: str, existing: list[str]) -> None:
        self.existing = existing
        shown = ", ".join(existing[:5]) + (f" and {len(existing) - 5} more"
                                            if len(existing) > 5 else "")
        super().__init__(f"{root}: {shown} already exist; pass --force to overwrite")


class NotEditable(MigratorError):
    """A document that cannot be edited without changing bytes outside the patched fields."""


class GitError(MigratorError):
    """A git command failed in the repository."""


class PlanError(MigratorError):
    """A plan file that is not a complete migrator plan."""


def exit_code_of(exc: BaseException) -> int:
    """The exit code a command ends with when `exc` stops it."""
    return int(getattr(exc, "exit_code", EXIT_ERROR))
