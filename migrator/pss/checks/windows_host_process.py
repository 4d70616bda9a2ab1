"""windowsHostProcess (baseline, from v1.0): Windows HostProcess containers are forbidden.

Restricted fields:
    spec.securityContext.windowsOptions.hostProcess
    spec.{initContainers,containers,ephemeralContainers}[*].securityContext.windowsOptions
        .hostProcess
Allowed values: undefined, false
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from migrator.pss.api import Level
from migrator.pss.helpers import containers_phrase
from migrator.pss.pod import PodView
from migrator.pss.registry import Check, VersionedCheck, Violation

ID = "windowsHostProcess"


def _host_process(context: Mapping[str, Any] | None) -> bool:
    if not context:
        return False
    options = context.get("windowsOptions")
    if not options:
        return False
    return options.get("hostProcess") is True


def windows_host_process_v1_0(pod: PodView) -> Violation | None:
    at_pod = _host_process(pod.spec.get("securityContext"))
    bad = [c.get("name", "") for c in pod.containers if _host_process(c.get("securityContext"))]
    if not at_pod and not bad:
        return None
    if at_pod and bad:
        who = f"pod and {containers_phrase(bad)}"
    elif at_pod:
        who = "pod"
    else:
        who = containers_phrase(bad)
    return Violation(
        ID, "hostProcess", f"{who} must not set securityContext.windowsOptions.hostProcess=true"
    )


CHECK = Check(
    ID,
    Level.BASELINE,
    (VersionedCheck(0, windows_host_process_v1_0),),
    fix="remove securityContext.windowsOptions.hostProcess (or set it to false)",
    fields=(
        "spec.securityContext.windowsOptions.hostProcess",
        "spec.{initContainers,containers,ephemeralContainers}[*].securityContext"
        ".windowsOptions.hostProcess",
    ),
)
