"""capabilities_baseline (baseline, from v1.0): only default capabilities may be added.

Restricted fields:
    spec.{initContainers,containers,ephemeralContainers}[*].securityContext.capabilities.add
Allowed values: undefined, or a subset of AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER,
FSETID, KILL, MKNOD, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT.
"""

from __future__ import annotations

from migrator.pss.api import Level
from migrator.pss.helpers import containers_phrase, join_quote
from migrator.pss.pod import PodView
from migrator.pss.registry import Check, VersionedCheck, Violation

ID = "capabilities_baseline"
ALLOWED = frozenset({
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
    "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
})


def capabilities_baseline_v1_0(pod: PodView) -> Violation | None:
    bad: list[str] = []
    forbidden: set[str] = set()
    for c in pod.containers:
        context = c.get("securityContext")
        if not context:
            continue
        capabilities = context.get("capabilities")
        if not capabilities:
            continue
        added = [str(cap) for cap in capabilities.get("add") or () if cap not in ALLOWED]
        if added:
            bad.append(c.get("name", ""))
            forbidden.update(added)
    if not bad:
        return None
    return Violation(
        ID,
        "non-default capabilities",
        f"{containers_phrase(bad)} must not include {join_quote(sorted(forbidden))} "
        "in securityContext.capabilities.add",
    )


CHECK = Check(
    ID,
    Level.BASELINE,
    (VersionedCheck(0, capabilities_baseline_v1_0),),
    fix="add only default capabilities (e.g. NET_BIND_SERVICE, CHOWN), never NET_ADMIN, "
    "SYS_ADMIN or NET_RAW",
    fields=("spec.{initContainers,containers,ephemeralContainers}[*].securityContext"
            ".capabilities.add",),
)
