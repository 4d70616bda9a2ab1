"""The command line's error edge, for tests that call a use case of `migrator.app` directly:
a `MigratorError` becomes the `error:` line and exit code `migrator` itself would print."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from migrator.errors import MigratorError, exit_code_of


def edged(function: Callable[..., int]) -> Callable[..., int]:
    """`function`, returning the edge's exit code (and printing through its `err` callable,
    the keyword `err` or else its last positional argument) when it raises."""

    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> int:
        err = kwargs["err"] if "err" in kwargs else args[-1]
        try:
            return function(*args, **kwargs)
        except MigratorError as exc:
            err(f"error: {exc}")
            return exit_code_of(exc)

    return call
