"""hostPorts (baseline, from v1.0): host ports must be disallowed.

Restricted fields:
    spec.{initContainers,containers,ephemeralContainers}[*].ports[*].hostPort
Allowed values: undefined, 0
"""

from __future__ import annotations

from migrator.pss.api import Level
from migrator.pss.helpers import containers_phrase, pluralize
from migrator.pss.pod import PodView
from migrator.pss.registry import Check, VersionedCheck, Violation

ID = "hostPorts"


def host_ports_v1_0(pod: PodView) -> Violation | None:
    bad: list[str] = []
    ports: set[str] = set()
    for c in pod.containers:
        listed = c.get("ports")
        if not listed:
            continue
        used = [str(p["hostPort"]) for p in listed if p.get("hostPort")]
        if used:
            bad.append(c.get("name", ""))
            ports.update(used)
    if not bad:
        return None
    return Violation(
        ID,
        "hostPort",
        f"{containers_phrase(bad)} {pluralize('uses', 'use', len(bad))} "
        f"{pluralize('hostPort', 'hostPorts', len(ports))} {', '.join(sorted(ports))}",
    )


CHECK = Check(
    ID,
    Level.BASELINE,
    (VersionedCheck(0, host_ports_v1_0),),
    fix="remove hostPort from container ports; expose the pod through a Service instead",
    fields=("spec.{initContainers,containers,ephemeralContainers}[*].ports[*].hostPort",),
)
