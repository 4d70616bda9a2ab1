"""Evaluating ValidatingAdmissionPolicy CEL offline, as the API server would at admission.

Owns the one use of the CEL library (`common-expression-language`, the Python bindings of
the Rust CEL implementation): `CompiledPolicy` compiles a policy's variables and
validations once (a syntax error is a `CelError` naming the expression) and `evaluate`
runs them on one object: the variables in order into `variables`, then each validation;
a validation that errors counts as failed, as with `failurePolicy: Fail`. The messages of
failed validations come from their `messageExpression` (or the static message when it
errors, as the API server falls back).

The Kubernetes string extension's `list.join(separator)` is provided, the one extension the
generated messages use. Pure: no I/O.
"""

from __future__ import annotations

import functools
import sys
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@functools.cache
def _cel() -> Any:
    """The CEL library, imported when first used. Its package also imports its interactive
    shell (`cel.cli`, with prompt_toolkit: a sixth of a second, more than a large plan's
    CEL costs): an empty module stands in for the shell while the library loads, and is
    dropped after, so a later `import cel.cli` gets the real one. Should the library need
    its shell to load, it is imported the plain way."""
    placeholder = "cel.cli" not in sys.modules
    if placeholder:
        sys.modules["cel.cli"] = types.ModuleType("cel.cli")
    try:
        import cel
    except Exception:  # the library changed: the plain import
        for name in [n for n in sys.modules if n == "cel" or n.startswith("cel.")]:
            del sys.modules[name]
        placeholder = False
        import cel
    finally:
        if placeholder:
            sys.modules.pop("cel.cli", None)
    return cel


class CelError(ValueError):
    """An expression that does not compile."""


def _join(items: Any, separator: Any = "") -> str:
    return str(separator).join(str(item) for item in items)


def _compile(expression: str, what: str) -> Any:
    try:
        return _cel().compile(expression)
    except Exception as exc:  # the library raises ValueError and RuntimeError alike
        raise CelError(f"{what}: {exc}") from None


@dataclass(frozen=True, slots=True)
class Failure:
    """A validation that rejected the object: its index and message."""

    index: int
    message: str


class CompiledPolicy:
    """The variables and validations of one policy, compiled once, evaluated many times."""

    def __init__(self, variables: Sequence[tuple[str, str]],
                 validations: Sequence[tuple[str, str | None, str]]) -> None:
        """`validations`: (expression, messageExpression or None, static message)."""
        self._variables = [(name, _compile(expr, f"variable {name}")) for name, expr in variables]
        self._validations = [
            (_compile(expr, f"validation {i}"),
             _compile(msg, f"messageExpression {i}") if msg else None, static)
            for i, (expr, msg, static) in enumerate(validations)
        ]

    def _context(self, values: Mapping[str, Any]) -> Any:
        context = _cel().Context()
        context.add_function("join", _join)
        for key, value in values.items():
            context.add_variable(key, value)
        return context

    def evaluate(self, obj: Mapping[str, Any],
                 extra: Mapping[str, Any] | None = None) -> list[Failure]:
        """The validations `obj` (as `object`) fails, in order."""
        base: dict[str, Any] = {"object": obj, **(extra or {})}
        variables: dict[str, Any] = {}
        for name, program in self._variables:
            try:
                variables[name] = program.execute(self._context({**base, "variables": variables}))
            except Exception:  # left undefined: every use of it errors, as on the server
                continue
        context = self._context({**base, "variables": variables})
        failures = []
        for index, (program, message, static) in enumerate(self._validations):
            try:
                passed = program.execute(context) is True
                error = ""
            except Exception as exc:
                passed, error = False, f"expression error: {exc}"
            if passed:
                continue
            text = static
            if message is not None:
                try:
                    text = str(message.execute(context))
                except Exception:
                    text = static
            failures.append(Failure(index, text + (f" ({error})" if error else "")))
        return failures

