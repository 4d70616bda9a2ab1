"""Serialising documents, pure: the one YAML and JSON dumper every output goes through.

Owns `dump_yaml` (block style, keys in insertion order, Unicode kept, long lines unbroken
unless a width is given), `to_yaml` (the same without the final newline, for templates),
`to_json` and `plan_json` (the indentation plan.json and report.json are written with;
indented JSON is encoded by msgspec, byte for byte what `json.dumps(indent=...)` writes),
`comment` (YAML comment lines) and `sorted_json` (a value with its mappings sorted by key,
for deterministic output).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec
import yaml

from migrator.model.packed import pack_plan
from migrator.model.plan import Plan

#: YAML line width: wide enough that no generated line is folded.
UNFOLDED = 4096


def dump_yaml(value: Any, *, width: int = UNFOLDED) -> str:
    """`value` as a block-style YAML document."""
    return yaml.safe_dump(value, sort_keys=False, default_flow_style=False, allow_unicode=True,
                          width=width)


def to_yaml(value: Any) -> str:
    """`value` as YAML for a template: folded at 80 columns, no final newline."""
    return dump_yaml(value, width=80).rstrip("\n")


_ENCODE = msgspec.json.Encoder().encode
#: Where msgspec may have written a float unlike `json.dumps` does: with an exponent (`1e16`,
#: not `1e+16`) or without one (`0.00001`, not `1e-05`), as a number token (after `:`, `,`
#: or `[` in compact JSON, or a bare number; a string may match too, which only costs the
#: search). Only then is the value searched for floats, and written by the stdlib if it
#: holds one. (A NaN or infinity, which JSON
#: cannot hold, is written as null.)
_EXPONENT = re.compile(rb"[:,\[]-?[0-9]+(?:\.[0-9]+)?[eE]|[:,\[]-?0\.0000")


def to_json(value: Any, indent: int | None = None) -> str:
    """`value` as JSON text, Unicode kept; `indent` as in `json.dumps`."""
    if indent is not None:
        try:
            encoded = _ENCODE(value)
        except (TypeError, ValueError, OverflowError):
            encoded = b""
        suspect = encoded[:1] in b"-0123456789" or _EXPONENT.search(encoded)
        if encoded and not (suspect and _has_float(value)):
            return msgspec.json.format(encoded, indent=indent).decode()
    return json.dumps(value, indent=indent, sort_keys=False, ensure_ascii=False)


def inline_value(value: Any) -> str:
    """A value on one line as YAML flow style reads it: `runtime/default`, `["ALL"]`,
    `true`, `{"type": "RuntimeDefault"}` (JSON is valid YAML; a plain string stays bare
    unless YAML would read it as something else)."""
    if isinstance(value, str) and value and value.strip() == value \
            and not value.startswith(("{", "[", "'", '"', "&", "*", "!", "#")):
        try:
            if yaml.safe_load(value) == value:
                return value
        except yaml.YAMLError:
            pass
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
def _has_float(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float):
            return True
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False


def plan_json(plan: Plan) -> str:
    """plan.json exactly as the tool writes it: packed (`migrator.model.packed`), indented."""
    return to_json(pack_plan(plan), indent=2) + "\n"


def comment(lines: Iterable[str]) -> str:
    """YAML comment lines, one `# line` per line."""
    return "".join(f"# {line}".rstrip() + "\n" for line in lines)


def sorted_json(value: Any) -> Any:
    """`value` with every mapping's keys sorted (and made strings), lists kept in order."""
    if isinstance(value, Mapping):
        return {str(k): sorted_json(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list | tuple):
        return [sorted_json(v) for v in value]
    return value
