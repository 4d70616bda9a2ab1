"""allowPrivilegeEscalation (restricted, from v1.8): privilege escalation must be disallowed.

Restricted fields:
    spec.containers[*].securityContext.allowPrivilegeEscalation
    spec.initContainers[*].securityContext.allowPrivilegeEscalation
    spec.ephemeralContainers[*].securityContext.allowPrivilegeEscalation
Allowed values: false
From v1.25, pods with spec.os.name "windows" are not checked.
"""

from __future__ import annotations

from migrator.pss.api import Level
from migrator.pss.helpers import containers_phrase, is_windows
from migrator.pss.pod import PodView
from migrator.pss.registry import Check, VersionedCheck, Violation

ID = "allowPrivilegeEscalation"


def allow_privilege_escalation_v1_8(pod: PodView) -> Violation | None:
    bad = [
        c.get("name", "")
        for c in pod.containers
        if (c.get("securityContext") or {}).get("allowPrivilegeEscalation") is not False
    ]
    if not bad:
        return None
    return Violation(
        ID,
        "allowPrivilegeEscalation != false",
        f"{containers_phrase(bad)} must set securityContext.allowPrivilegeEscalation=false",
    )


def allow_privilege_escalation_v1_25(pod: PodView) -> Violation | None:
    if is_windows(pod.spec):
        return None
    return allow_privilege_escalation_v1_8(pod)


def _patchable(violation: Violation) -> bool:
    """Setting the field to false in each named container always fixes this check."""
    return "must set" in violation.detail


CHECK = Check(
    ID,
    Level.RESTRICTED,
    (
        VersionedCheck(8, allow_privilege_escalation_v1_8),
        VersionedCheck(25, allow_privilege_escalation_v1_25),
    ),
    fix="set securityContext.allowPrivilegeEscalation: false in every container",
    fields=("spec.{initContainers,containers,ephemeralContainers}[*].securityContext"
            ".allowPrivilegeEscalation",),
    patch="allowPrivilegeEscalation: false in every container",
    additive=_patchable,
)
