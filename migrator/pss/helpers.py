"""Small wording and traversal helpers shared by the checks.

Owns the exact phrasing conventions of upstream messages (quoted, comma-joined names;
singular or plural nouns; Go-style quoting) and the access helpers that let checks read
absent fields as unset without raising.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

EMPTY: Mapping[str, Any] = MappingProxyType({})


def join_quote(items: Iterable[str]) -> str:
    """`"a", "b"`: every item double-quoted, joined by comma and space."""
    items = list(items)
    if not items:
        return ""
    return '"' + '", "'.join(items) + '"'


def pluralize(singular: str, plural: str, count: int) -> str:
    return singular if count == 1 else plural


def go_quote(text: str) -> str:
    """Quote like Go's %q for the strings that appear in pod fields."""
    return json.dumps(text, ensure_ascii=False)


def security_context(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """`obj.securityContext`, or an empty mapping when unset."""
    value = obj.get("securityContext")
    return value if value else EMPTY


def containers_phrase(names: list[str]) -> str:
    """`container "a"` or `containers "a", "b"`."""
    return f"{pluralize('container', 'containers', len(names))} {join_quote(names)}"


def is_windows(spec: Mapping[str, Any]) -> bool:
    os_ = spec.get("os")
    if not os_:
        return False
    return bool(os_.get("name") == "windows")


def user_namespaced(spec: Mapping[str, Any]) -> bool:
    """True when the pod runs in its own user namespace (`hostUsers: false`)."""
    return spec.get("hostUsers") is False
