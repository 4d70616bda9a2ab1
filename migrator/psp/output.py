"""Deterministic, JSON-friendly rendering shared by the package's `to_dict` methods."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def sorted_json(value: Any) -> Any:
    """`value` with every mapping's keys sorted and tuples turned into lists."""
    if isinstance(value, Mapping):
        return {str(k): sorted_json(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list | tuple):
        return [sorted_json(v) for v in value]
    return value
