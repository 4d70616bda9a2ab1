"""hostProbesAndHostLifecycle (baseline, from v1.34): probes and hooks may not name a host.

Restricted fields (every container, init container and ephemeral container):
    {livenessProbe,readinessProbe,startupProbe}.{httpGet,tcpSocket}.host
    lifecycle.{postStart,preStop}.{httpGet,tcpSocket}.host
Allowed values: undefined, ""
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from migrator.pss.api import Level
from migrator.pss.helpers import join_quote, pluralize
from migrator.pss.pod import PodView
from migrator.pss.registry import Check, VersionedCheck, Violation

ID = "hostProbesAndHostLifecycle"
_PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
_HOOKS = ("postStart", "preStop")


def _hosts(handler: Mapping[str, Any] | None) -> list[str]:
    if not handler:
        return []
    found = []
    for key in ("httpGet", "tcpSocket"):
        action = handler.get(key)
        if action and action.get("host"):
            found.append(str(action["host"]))
    return found


def host_probes_and_host_lifecycle_v1_34(pod: PodView) -> Violation | None:
    bad: set[str] = set()
    hosts: set[str] = set()
    for c in pod.containers:
        found = [h for key in _PROBES for h in _hosts(c.get(key))]
        lifecycle = c.get("lifecycle")
        if lifecycle:
            found += [h for key in _HOOKS for h in _hosts(lifecycle.get(key))]
        if found:
            bad.add(c.get("name", ""))
            hosts.update(found)
    if not bad:
        return None
    return Violation(
        ID,
        "probe or lifecycle host",
        f"{pluralize('container', 'containers', len(bad))} {join_quote(sorted(bad))} "
        f"{pluralize('uses', 'use', len(bad))} "
        f"{pluralize('probe or lifecycle host', 'probe or lifecycle hosts', len(hosts))} "
        f"{join_quote(sorted(hosts))}",
    )


CHECK = Check(
    ID,
    Level.BASELINE,
    (VersionedCheck(34, host_probes_and_host_lifecycle_v1_34),),
    fix="remove the host field from httpGet and tcpSocket probes and lifecycle hooks",
    fields=(
        "spec.{initContainers,containers,ephemeralContainers}[*]"
        ".{livenessProbe,readinessProbe,startupProbe}.{httpGet,tcpSocket}.host",
        "spec.{initContainers,containers,ephemeralContainers}[*]"
        ".lifecycle.{postStart,preStop}.{httpGet,tcpSocket}.host",
    ),
)
