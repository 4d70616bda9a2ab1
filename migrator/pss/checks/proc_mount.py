"""procMount (baseline, from v1.0): the default /proc masks must be kept.

Restricted fields:
    spec.{initContainers,containers,ephemeralContainers}[*].securityContext.procMount
Allowed values: undefined, "Default"
From v1.35, pods in their own user namespace (spec.hostUsers: false) are not checked.
Replaced at restricted from v1.35 by procMount_restricted, which has no such relaxation.
"""

from __future__ import annotations

from migrator.pss.api import Level
from migrator.pss.helpers import containers_phrase, join_quote, user_namespaced
from migrator.pss.pod import PodView
from migrator.pss.registry import Check, VersionedCheck, Violation

ID = "procMount"


def unmasked(pod: PodView, check_id: str) -> Violation | None:
    """The v1.0 rule, shared with procMount_restricted."""
    bad: list[str] = []
    kinds: set[str] = set()
    for c in pod.containers:
        context = c.get("securityContext")
        if not context:
            continue
        mount = context.get("procMount")
        if mount is not None and mount != "Default":
            bad.append(c.get("name", ""))
            kinds.add(str(mount))
    if not bad:
        return None
    return Violation(
        check_id,
        "procMount",
        f"{containers_phrase(bad)} must not set securityContext.procMount to "
        f"{join_quote(sorted(kinds))}",
    )


def proc_mount_v1_0(pod: PodView) -> Violation | None:
    return unmasked(pod, ID)


def proc_mount_v1_35(pod: PodView) -> Violation | None:
    if user_namespaced(pod.spec):
        return None
    return unmasked(pod, ID)


CHECK = Check(
    ID,
    Level.BASELINE,
    (VersionedCheck(0, proc_mount_v1_0), VersionedCheck(35, proc_mount_v1_35)),
    fix='remove securityContext.procMount (or set it to "Default")',
    fields=("spec.{initContainers,containers,ephemeralContainers}[*].securityContext"
            ".procMount",),
)
