"""Rollback files, pure: what `apply` records before it changes a label, and its parser.

Owns `RollbackFile` (per namespace, each label's previous and applied value, and the cluster
it was written for) and `parse_rollback`. Reading and writing the file is
`migrator.files.rollback`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from migrator.errors import ManifestError
from migrator.pss.api import LABEL_PREFIX

ROLLBACK_SCHEMA = "migrator.rollback/v1"


@dataclass(frozen=True, slots=True)
class RollbackFile:
    """A parsed rollback file: per namespace, each label's previous and applied value."""

    path: str
    server: str | None
    context: str | None
    phase: str | None
    created: str | None
    previous: dict[str, dict[str, str | None]]
    applied: dict[str, dict[str, str | None]]


def _labels_map(value: Any, path: str, where: str) -> dict[str, str | None]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in value.items()
    ):
        raise ManifestError(path, f"{where}: expected label names mapped to strings or null")
    return dict(value)


def parse_rollback(data: Any, path: str) -> RollbackFile:
    """A rollback file's content, checked; ManifestError naming `path` when it is not one."""
    if not isinstance(data, dict) or data.get("schema") != ROLLBACK_SCHEMA:
        raise ManifestError(path, f"not a migrator rollback file (schema {ROLLBACK_SCHEMA})")
    namespaces = data.get("namespaces")
    if not isinstance(namespaces, dict):
        raise ManifestError(path, "`namespaces` is not a mapping")
    previous: dict[str, dict[str, str | None]] = {}
    applied: dict[str, dict[str, str | None]] = {}
    for name, entry in namespaces.items():
        if not isinstance(entry, dict):
            raise ManifestError(path, f"namespace {name}: not a mapping")
        previous[str(name)] = _labels_map(entry.get("previous"), path, f"{name}.previous")
        applied[str(name)] = _labels_map(entry.get("applied") or {}, path, f"{name}.applied")
        bad = sorted(k for k in previous[str(name)] if not k.startswith(LABEL_PREFIX))
        if bad:
            raise ManifestError(path, f"namespace {name}: not a Pod Security label: {bad[0]}")

    def text(key: str) -> str | None:
        value = data.get(key)
        return value if isinstance(value, str) else None

    return RollbackFile(path, text("server"), text("context"), text("phase"), text("created"),
                        previous, applied)
