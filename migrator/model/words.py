"""Wording shared by every message and document, pure: counts with their nouns, lists."""

from __future__ import annotations

from collections.abc import Iterable


def count(n: int, noun: str, plural: str | None = None) -> str:
    """`1 pod`, `2 pods`; `plural` for nouns that do not take an `s`."""
    return f"{n} {noun}" if n == 1 else f"{n} {plural or noun + 's'}"


def join(items: Iterable[str]) -> str:
    """`a`, `a and b`, `a, b and c`."""
    words = list(items)
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]
