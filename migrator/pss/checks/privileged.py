"""privileged (baseline, from v1.0): privileged containers must be disallowed.

Restricted fields:
    spec.{initContainers,containers,ephemeralContainers}[*].securityContext.privileged
Allowed values: undefined, false
"""

from __future__ import annotations

from migrator.pss.api import Level
from migrator.pss.helpers import containers_phrase
from migrator.pss.pod import PodView
from migrator.pss.registry import Check, VersionedCheck, Violation

ID = "privileged"


def privileged_v1_0(pod: PodView) -> Violation | None:
    bad = [
        c.get("name", "")
        for c in pod.containers
        if (c.get("securityContext") or {}).get("privileged") is True
    ]
    if not bad:
        return None
    return Violation(
        ID, "privileged", f"{containers_phrase(bad)} must not set securityContext.privileged=true"
    )


CHECK = Check(
    ID,
    Level.BASELINE,
    (VersionedCheck(0, privileged_v1_0),),
    fix="remove securityContext.privileged (or set it to false)",
    fields=("spec.{initContainers,containers,ephemeralContainers}[*].securityContext"
            ".privileged",),
)
