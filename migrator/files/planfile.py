"""Reading plan.json (and other JSON files the tool wrote) back from disk.

Owns `read_json` (one clear `ManifestError` for a missing, unreadable or malformed file)
and `load_plan` / `parse_plan`, the single reader every command that starts from a plan
uses: it accepts the plan's folder too, and checks the shape the commands rely on; and
`load_evidence`, the reader of the audit evidence (`migrator audit --out`).
"""

from __future__ import annotations

import json
import os
from typing import Any, cast

import msgspec

from migrator.errors import ManifestError
from migrator.model.packed import READABLE_SCHEMAS, PackError, unpack_plan
from migrator.model.plan import PLAN_FILE, PLAN_SCHEMA, Plan

_NAMESPACE_KEYS = ("name", "recommended", "labels", "after_patches", "subjects")


def read_json(path: str) -> Any:
    """The JSON document at `path`."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise ManifestError(path, "no such file") from None
    except IsADirectoryError:
        raise ManifestError(path, "is a directory") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ManifestError(path, f"cannot read: {reason}") from None
    try:  # msgspec reads a large plan several times faster; the stdlib names the error
        return msgspec.json.decode(text)
    except msgspec.DecodeError:
        pass
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(path, f"not valid JSON: {exc.msg}", exc.lineno) from None


def parse_plan(data: Any, source: str) -> Plan:
    """`data` if it is a plan the commands can use; ManifestError naming `source` if not."""
    if not isinstance(data, dict) or data.get("schema") not in READABLE_SCHEMAS:
        found = data.get("schema") if isinstance(data, dict) else None
        raise ManifestError(source, f"not a migrator plan (schema {json.dumps(found)}, expected "
                            f"{PLAN_SCHEMA}); write one with `migrator plan`")
    try:
        data = unpack_plan(data)
    except PackError as exc:
        raise ManifestError(source, f"damaged plan: {exc}") from None
    for key in ("pin_version", "target_version", "cluster", "admission_config"):
        if key not in data:
            raise ManifestError(source, f"plan lacks `{key}`")
    namespaces = data.get("namespaces")
    if not isinstance(namespaces, list):
        raise ManifestError(source, "`namespaces` is not a list")
    for index, entry in enumerate(namespaces):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise ManifestError(source, f"namespaces[{index}] has no name")
        missing = [key for key in _NAMESPACE_KEYS if key not in entry]
        if missing:
            raise ManifestError(source, f"namespace {entry['name']} lacks {', '.join(missing)}")
        for key in ("labels", "recommended"):
            if not isinstance(entry.get(key), dict):
                raise ManifestError(source, f"namespace {entry['name']}: `{key}` is not an object")
    return cast(Plan, data)


def plan_path(path: str) -> str:
    """`path`, or the plan.json inside it when it is a folder."""
    return os.path.join(path, PLAN_FILE) if os.path.isdir(path) else path


def load_plan(path: str) -> Plan:
    """The plan at `path` (a plan.json, or the folder holding one)."""
    path = plan_path(path)
    if not os.path.exists(path):
        raise ManifestError(path, "no such file (write one with `migrator plan`)")
    return parse_plan(read_json(path), path)


_EVIDENCE_COUNTS = ("pod_creations", "violating_pod_creations", "exempt", "dry_runs")


def load_evidence(path: str) -> dict[str, Any]:
    """The audit evidence at `path` (what `migrator audit --out` writes), shape-checked."""
    from migrator.plan.evidence import AUDIT_SCHEMA

    data = read_json(path)
    if not isinstance(data, dict) or data.get("schema") != AUDIT_SCHEMA:
        raise ManifestError(path, f"not migrator audit evidence (schema {AUDIT_SCHEMA}); write "
                            "it with `migrator audit LOG... --plan plan.json --out FILE`")
    if not data.get("planned"):
        raise ManifestError(path, "this evidence was made without --plan, so no namespace was "
                            "judged at a planned level; run `migrator audit --plan` again")
    if not isinstance(data.get("window"), dict):
        raise ManifestError(path, "`window` is not an object")
    namespaces = data.get("namespaces")
    if not isinstance(namespaces, list) or not all(
            isinstance(n, dict) and isinstance(n.get("name"), str) for n in namespaces):
        raise ManifestError(path, "`namespaces` is not a list of named namespaces")
    for ns in namespaces:
        bad = [key for key in _EVIDENCE_COUNTS if not isinstance(ns.get(key), int)]
        violators = ns.get("violators")
        if not isinstance(violators, list) or not all(
                isinstance(v, dict) and isinstance(v.get("object"), str)
                and isinstance(v.get("user"), str) and isinstance(v.get("count"), int)
                for v in violators):
            bad.append("violators")
        if ns.get("gate") not in (None, "ready", "blocked", "no-evidence"):
            bad.append("gate")
        if bad:
            raise ManifestError(path, f"namespace {ns['name']}: missing or malformed "
                                f"{', '.join(bad)}")
    candidates = data.get("exemption_candidates", [])
    if not isinstance(candidates, list) or not all(
            isinstance(c, dict) and isinstance(c.get("username"), str) for c in candidates):
        raise ManifestError(path, "`exemption_candidates` is not a list of users")
    return data
