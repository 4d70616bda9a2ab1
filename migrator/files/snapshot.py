"""Snapshots: an Inventory written to one YAML file, to be read again without the cluster.

Owns `write_snapshot` (a multi-document YAML file: a leading comment, a `MigratorSnapshot`
header document with the server version, whether the PodSecurityPolicy API was served and
what could not be read, then every object sorted by kind, namespace and name), and the
helpers the file source uses to recover that header (`read_snapshot_header`,
`apply_snapshot_header`, `load_snapshot`). The objects read back with
`migrator.files.manifests.load_documents` equal the objects written; the header document is a
kind the Inventory does not hold (counted in `skipped` until applied).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

from migrator.errors import ManifestError
from migrator.files.manifests import Document, load_documents
from migrator.files.writing import atomic_open
from migrator.model.inventory import KIND_FIELDS, Inventory, Obj, Unreadable, key_of

SNAPSHOT_API_VERSION = "migrator/v1alpha1"
SNAPSHOT_KIND = "MigratorSnapshot"

_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _header(inventory: Inventory, source: str | None) -> Obj:
    header: Obj = {
        "apiVersion": SNAPSHOT_API_VERSION,
        "kind": SNAPSHOT_KIND,
        "serverVersion": inventory.server_version,
        "pspAPI": inventory.psp_api,
    }
    if source:
        header["source"] = source
    header["unreadable"] = [
        {"what": u.what, "reason": u.reason, "consequence": u.consequence}
        for u in inventory.unreadable
    ]
    return header


def _comment(inventory: Inventory, source: str | None) -> str:
    psp = {True: "served", False: "not served", None: "unknown"}[inventory.psp_api]
    lines = [
        f"# migrator snapshot{' of ' + source if source else ''}",
        f"# server version: {inventory.server_version or 'unknown'}; "
        f"PodSecurityPolicy API: {psp}",
    ]
    if inventory.unreadable:
        lines.append(f"# not readable: {', '.join(u.what for u in inventory.unreadable)}")
    return "\n".join(lines) + "\n"


def snapshot_objects(inventory: Inventory) -> list[Obj]:
    """Every object of `inventory` that a snapshot holds, sorted by (kind, namespace, name)."""
    objects = [obj for obj in inventory.all_objects() if obj.get("kind") in KIND_FIELDS]
    objects.sort(key=key_of)
    return objects


def write_snapshot(inventory: Inventory, path: str | os.PathLike[str], *,
                   source: str | None = None) -> int:
    """Write `inventory` to `path` (replaced atomically); the number of objects written.

    `source` (e.g. `cluster:prod`) is recorded in the comment and the header document.
    """
    target = Path(path)
    objects = snapshot_objects(inventory)
    documents: Iterator[Obj] = iter([_header(inventory, source), *objects])
    with atomic_open(target) as handle:
        handle.write(_comment(inventory, source))
        yaml.dump_all(
            documents,
            handle,
            Dumper=_Dumper,
            explicit_start=True,
            sort_keys=False,
            default_flow_style=False,
            allow_unicode=True,
            width=4096,
        )
    return len(objects)


def read_snapshot_header(documents: Iterable[Document]) -> Obj | None:
    """The first `MigratorSnapshot` document among `documents`, or None."""
    for doc in documents:
        if doc.obj.get("kind") == SNAPSHOT_KIND:
            return doc.obj
    return None


def is_snapshot_header(obj: Obj) -> bool:
    return obj.get("kind") == SNAPSHOT_KIND


def apply_snapshot_header(inventory: Inventory, obj: Obj) -> None:
    """Set server version, PSP API presence and unreadable entries from a header document.

    Also takes the header back out of `inventory.skipped` if `Inventory.add` counted it.
    """
    if not is_snapshot_header(obj):
        raise ValueError(f"not a {SNAPSHOT_KIND} document: kind {obj.get('kind')!r}")
    version = obj.get("serverVersion")
    inventory.server_version = version if isinstance(version, str) and version else None
    psp_api = obj.get("pspAPI")
    inventory.psp_api = psp_api if isinstance(psp_api, bool) else None
    for entry in obj.get("unreadable") or []:
        if isinstance(entry, dict):
            item = Unreadable(
                str(entry.get("what", "")),
                str(entry.get("reason", "")),
                str(entry.get("consequence", "")),
            )
            if item not in inventory.unreadable:
                inventory.unreadable.append(item)
    if inventory.skipped.get(SNAPSHOT_KIND):
        inventory.skipped[SNAPSHOT_KIND] -= 1
        if inventory.skipped[SNAPSHOT_KIND] <= 0:
            del inventory.skipped[SNAPSHOT_KIND]


def load_snapshot(path: str | os.PathLike[str]) -> Inventory:
    """An Inventory read back from a snapshot file; ManifestError if it cannot be read."""
    errors: list[ManifestError] = []
    documents = list(load_documents([os.fspath(path)], errors))
    if errors:
        raise errors[0]
    inventory = Inventory.from_documents(documents)
    header = read_snapshot_header(documents)
    if header is not None:
        apply_snapshot_header(inventory, header)
    return inventory


__all__ = [
    "SNAPSHOT_API_VERSION",
    "SNAPSHOT_KIND",
    "apply_snapshot_header",
    "is_snapshot_header",
    "load_snapshot",
    "read_snapshot_header",
    "snapshot_objects",
    "write_snapshot",
]
