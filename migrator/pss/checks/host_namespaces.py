"""hostNamespaces (baseline, from v1.0): sharing the host namespaces must be disallowed.

Restricted fields:
    spec.hostNetwork, spec.hostPID, spec.hostIPC
Allowed values: undefined, false
"""

from __future__ import annotations

from migrator.pss.api import Level
from migrator.pss.pod import PodView
from migrator.pss.registry import Check, VersionedCheck, Violation

ID = "hostNamespaces"


def host_namespaces_v1_0(pod: PodView) -> Violation | None:
    spec = pod.spec
    used = [
        f"{key}=true" for key in ("hostNetwork", "hostPID", "hostIPC") if spec.get(key) is True
    ]
    if not used:
        return None
    return Violation(ID, "host namespaces", ", ".join(used))


CHECK = Check(
    ID,
    Level.BASELINE,
    (VersionedCheck(0, host_namespaces_v1_0),),
    fix="remove hostNetwork, hostPID and hostIPC (or set them to false)",
    fields=("spec.hostNetwork", "spec.hostPID", "spec.hostIPC"),
)
