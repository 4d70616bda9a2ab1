"""The one read→plan pipeline: every command that plans goes through here.

Owns `read_source` (an Inventory from files, or from the live cluster of a kubeconfig
context, with the `--psp-from` files merged in one way), `plan_source` (the plan of what
was read), and `load_admission_config` (the API server's PodSecurity configuration, or the
defaults). `plan`, `report` and every cluster of a fleet use these three and nothing else.

The precedence of `--psp-from`: its PodSecurityPolicies and RBAC objects replace the objects
of the same kind, namespace and name read from the main source (files or cluster); its other
kinds are counted as skipped. With a live cluster the live PSP list is then not read at all.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, Any

from migrator.errors import ManifestError, UsageError
from migrator.model.admission import AdmissionConfig, parse_admission_config
from migrator.model.inventory import Inventory
from migrator.model.plan import Plan
from migrator.pss.api import Version

Echo = Callable[[str], None]
Progress = Callable[[str, int], None]


@dataclass
class Source:
    """What was read, and how to name it in reports."""

    inventory: Inventory
    #: the cluster's name in reports: the paths' base names, or the context (else server).
    name: str
    #: "files", or the context (else "cluster") for a live read: the plan's `cluster.source`.
    origin: str
    live: bool = False
    #: Helm release history (`--helm-history`), read while connected.
    helm: dict[str, Any] | None = None


def name_of_paths(paths: Sequence[str]) -> str:
    """A report's cluster name for files: the paths' base names, in order, once each."""
    import os

    names = [os.path.basename(os.path.normpath(p)) or p for p in paths if p != "-"]
    return ", ".join(dict.fromkeys(names)) or "stdin"


def _merge_policies(inventory: Inventory, psp_from: Sequence[str],
                    errors: list[ManifestError]) -> None:
    from migrator.files.source import read_policy_files

    objects, other_kinds = read_policy_files(psp_from, errors)
    for obj, origin in objects:
        inventory.overlay(obj, origin)
    for kind in other_kinds:
        inventory.skipped[kind] += 1


def read_source(
    paths: Sequence[str] | None,
    *,
    errors: list[ManifestError],
    kubeconfig: str | None = None,
    context: str | None = None,
    psp_from: Sequence[str] | None = None,
    helm_history: bool = False,
    stdin: IO[str] | None = None,
    announce: Echo | None = None,
    progress: Progress | None = None,
) -> Source:
    """Read `paths` (files, folders, `-`) or, without paths, the live cluster.

    Unreadable files are collected in `errors` and the rest is read; a cluster that cannot
    be reached raises `SourceError`. `announce` hears which cluster is being read,
    `progress` each resource's running count.
    """
    if paths:
        from migrator.files.source import read_files

        inventory = read_files(paths, errors, stdin=stdin)
        if psp_from:
            _merge_policies(inventory, psp_from, errors)
        return Source(inventory, name_of_paths(paths), "files")
    from migrator.cluster.client import connect, read_inventory

    helm = None
    with contextlib.ExitStack() as stack:
        if isinstance(progress, contextlib.AbstractContextManager):
            stack.enter_context(progress)  # a spinner, stopped when the read ends
        client = stack.enter_context(connect(kubeconfig, context))
        if announce is not None:
            announce(f"reading {client.describe()}")
        inventory = read_inventory(client, skip_psps=bool(psp_from), progress=progress)
        if helm_history:
            from migrator.cluster.helm import read_helm_history

            if announce is not None:
                announce("reading Helm release history (Secrets of type helm.sh/release.v1)")
            helm = read_helm_history(client).to_dict()
        name = client.context or client.server
    if psp_from:
        _merge_policies(inventory, psp_from, errors)
    return Source(inventory, name, context or "cluster", live=True, helm=helm)


def plan_source(source: Source, *, pin: str | None, target: Version | None,
                config: AdmissionConfig, server: str | None = None,
                upgrade_to: str | None = None) -> Plan:
    """The plan of what `source` holds, on today's server (`server`, else as the source
    reports it, else assumed) and the one after the upgrade (`upgrade_to`, default the newest
    modelled): labels pinned to `pin` (default: today's server's minor version), also judged
    at `target` (default: the upgrade's version).

    Raises UsageError for a version that does not parse, an upgrade older than today's
    server, or a pin newer than it."""
    from migrator.plan.decide import build_plan, check_pin, current_server
    from migrator.pss.server import ServerVersion

    inventory = source.inventory
    try:
        now, basis = current_server(inventory, server)
        after = ServerVersion.parse(upgrade_to) if upgrade_to else max(now,
                                                                       ServerVersion.newest())
        pinned = Version.parse(pin) if pin else Version.of(now.minor)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if after < now:
        raise UsageError(f"--upgrade-to {after} is older than the current server ({now})")
    refused = check_pin(pinned, now)
    if refused:
        raise UsageError(refused)
    return build_plan(inventory, pin=pinned, target=target, config=config,
                      source=source.origin, server=now, upgrade_to=after, server_basis=basis)


def load_admission_config(path: str | None) -> AdmissionConfig:
    """The PodSecurity admission configuration in `path` (a PodSecurityConfiguration or an
    AdmissionConfiguration holding one), or the API server's defaults without a path."""
    from migrator.files.manifests import load_file

    if not path:
        return AdmissionConfig.default()
    docs = list(load_file(path))
    if not docs:
        raise ManifestError(path, "no document found")
    return parse_admission_config(docs[0].obj, path)
