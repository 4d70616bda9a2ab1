"""The file source: an Inventory read from manifests, cluster dumps or a snapshot.

Owns `read_files`, which streams every document under the given paths into an Inventory
(the same shape a live read produces) and applies a snapshot's header (server version,
PSP API, what could not be read) when one is found, keeping of each pod only what a
migration reads (`slim_pod`, with its replicas' identical parts shared by `share_parts`, as
the live reader does), and `read_policy_files`, the PodSecurityPolicies and RBAC objects of
`--psp-from`. Broken files are collected in `errors`; the rest is still read.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable
from typing import IO, Any

from migrator.errors import ManifestError
from migrator.files.manifests import load_documents, paused_gc
from migrator.files.snapshot import apply_snapshot_header, is_snapshot_header
from migrator.model.inventory import Inventory
from migrator.model.workloads import share_parts, slim_pod

#: The kinds `--psp-from` takes from its files; any other kind there is counted as skipped.
POLICY_KINDS = frozenset({"PodSecurityPolicy", "Role", "ClusterRole", "RoleBinding",
                          "ClusterRoleBinding"})


def read_files(
    paths: Iterable[str], errors: list[ManifestError], stdin: IO[str] | None = None
) -> Inventory:
    inventory = Inventory()
    seen: dict[bytes, Any] = {}
    with paused_gc():
        for doc in load_documents(paths, errors, stdin=stdin):
            if is_snapshot_header(doc.obj):
                apply_snapshot_header(inventory, doc.obj)
            elif doc.obj.get("kind") == "Pod":
                inventory.add(share_parts(slim_pod(doc.obj), seen), doc.source)
            else:
                inventory.add(doc.obj, doc.source)
        # What was read lives as long as the run and holds no cycles: later collections
        # need not scan it again (frozen before the collector is back, or its first
        # collection would scan it all once).
        gc.freeze()
    return inventory


def read_policy_files(
    paths: Iterable[str], errors: list[ManifestError]
) -> tuple[list[tuple[dict[str, Any], str]], list[str]]:
    """The PSPs and RBAC objects of `paths` with their origins, and the other kinds found."""
    found: list[tuple[dict[str, Any], str]] = []
    other: list[str] = []
    for doc in load_documents(paths, errors):
        kind = doc.obj.get("kind")
        if kind in POLICY_KINDS:
            found.append((doc.obj, doc.source))
        else:
            other.append(str(kind))
    return found, other
