"""The project's own exceptions.

The core raises these (chaining the YAML or API error as the cause); only `cli` catches
them and turns each into one clear line and an exit code. Nothing here prints.
"""

from __future__ import annotations

#: Exit codes of every command: all is well; findings (denied pods, a tripped gate);
#: bad usage or input that could not be read.
EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


class MigratorError(Exception):
    """Base of every error the tool reports to its user."""


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
