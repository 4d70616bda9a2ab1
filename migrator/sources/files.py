"""The file source: an Inventory read from manifests, cluster dumps or a snapshot.

Owns `read_files`, which streams every document under the given paths into an Inventory
(the same shape a live read produces) and applies a snapshot's header (server version,
PSP API, what could not be read) when one is found. Broken files are collected in
`errors`; the rest is still read.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import IO

from migrator.errors import ManifestError
from migrator.inventory import Inventory
from migrator.manifests import load_documents
from migrator.sources.snapshot import apply_snapshot_header, is_snapshot_header


def read_files(
    paths: Iterable[str], errors: list[ManifestError], stdin: IO[str] | None = None
) -> Inventory:
    inventory = Inventory()
    for doc in load_documents(paths, errors, stdin=stdin):
        if is_snapshot_header(doc.obj):
            apply_snapshot_header(inventory, doc.obj)
        else:
            inventory.add(doc.obj, doc.source)
    return inventory
