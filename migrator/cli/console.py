"""The terminal: the error edge, progress while reading, and the lines commands print.

Owns `edge`, the one place where a `MigratorError` becomes an `error:` line on stderr and
its exit code (every command is wrapped in it), `err_line` for diagnostics that carry their
own prefix (`error:`, `warning:`, `note:`), and `ReadProgress`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from migrator.errors import MigratorError, exit_code_of

F = TypeVar("F", bound=Callable[..., Any])


def err_line(line: str) -> None:
    """Print a line on stderr that already carries its own prefix."""
    typer.echo(line, err=True)


def error(message: str) -> None:
    """Print `error: message` on stderr."""
    typer.echo(f"error: {message}", err=True)


def edge(command: F) -> F:
    """Run `command`, turning a `MigratorError` into one `error:` line and its exit code."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except MigratorError as exc:
            error(str(exc))
            raise typer.Exit(exit_code_of(exc)) from None
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            error(f"{where}{exc.strerror or exc}")
            raise typer.Exit(exit_code_of(exc)) from None

    return run  # type: ignore[return-value]


class ReadProgress:
    """Shows how far a live read is: a spinner with counts on a terminal, else one line per
    resource once it is read."""

    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console(stderr=True)
        self.current: tuple[str, int] | None = None
        self.status = self.console.status("connecting") if self.console.is_terminal else None

    def __enter__(self) -> ReadProgress:
        if self.status is not None:
            self.status.__enter__()
        return self

    def __call__(self, what: str, count: int) -> None:
        if self.current is not None and self.current[0] != what:
            self._done(*self.current)
        self.current = (what, count)
        if self.status is not None:
            self.status.update(f"reading {what}: {count:,}")

    def _done(self, what: str, count: int) -> None:
        self.console.print(f"  read {count:,} {what}", highlight=False)

    def __exit__(self, *exc: object) -> None:
        if self.status is not None:
            self.status.__exit__(None, None, None)
        if self.current is not None:
            self._done(*self.current)


def live_feedback(*, quiet: bool) -> dict[str, Any]:
    """The `announce` and `progress` arguments of a read: silent when `quiet`."""
    if quiet:
        return {}
    return {"announce": err_line, "progress": ReadProgress()}


class BytesProgress:
    """A progress bar of bytes read, on a terminal (stderr) only."""

    def __init__(self, title: str) -> None:
        from rich.console import Console

        self.title = title
        self.console = Console(stderr=True)
        self.bar: Any = None
        self.task: Any = None

    def __enter__(self) -> BytesProgress:
        if self.console.is_terminal:
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self.bar = Progress(TextColumn(self.title), BarColumn(), DownloadColumn(),
                                TransferSpeedColumn(), TimeRemainingColumn(),
                                console=self.console, transient=True)
            self.bar.__enter__()
            self.task = self.bar.add_task(self.title, total=None)
        return self

    def __call__(self, done: int, total: int | None) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=done, total=total)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
