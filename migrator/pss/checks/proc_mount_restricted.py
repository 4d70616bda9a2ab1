"""procMount_restricted (restricted, from v1.35): the default /proc masks, without exception.

Restricted fields:
    spec.{initContainers,containers,ephemeralContainers}[*].securityContext.procMount
Allowed values: undefined, "Default" (also for pods with spec.hostUsers: false)
Replaces the baseline procMount check at restricted.
"""

from __future__ import annotations

from migrator.pss.api import Level
from migrator.pss.checks.proc_mount import unmasked
from migrator.pss.pod import PodView
from migrator.pss.registry import Check, VersionedCheck, Violation

ID = "procMount_restricted"


def proc_mount_restricted_v1_35(pod: PodView) -> Violation | None:
    return unmasked(pod, ID)


CHECK = Check(
    ID,
    Level.RESTRICTED,
    (VersionedCheck(35, proc_mount_restricted_v1_35, ("procMount",)),),
    fix='remove securityContext.procMount (or set it to "Default"), even in user namespaces',
    fields=("spec.{initContainers,containers,ephemeralContainers}[*].securityContext"
            ".procMount",),
)
