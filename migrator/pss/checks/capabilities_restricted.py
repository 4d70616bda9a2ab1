"""capabilities_restricted (restricted, from v1.22): drop ALL, add at most NET_BIND_SERVICE.

Restricted fields:
    spec.{initContainers,containers,ephemeralContainers}[*].securityContext.capabilities.drop
        allowed: any list that includes "ALL"
    spec.{initContainers,containers,ephemeralContainers}[*].securityContext.capabilities.add
        allowed: undefined, or only "NET_BIND_SERVICE"
Replaces capabilities_baseline at restricted. From v1.25, Windows pods are not checked.
"""

from __future__ import annotations

from migrator.pss.api import Level
from migrator.pss.helpers import containers_phrase, is_windows, join_quote
from migrator.pss.pod import PodView
from migrator.pss.registry import Check, VersionedCheck, Violation

ID = "capabilities_restricted"


def capabilities_restricted_v1_22(pod: PodView) -> Violation | None:
    missing_drop: list[str] = []
    adding: list[str] = []
    forbidden: set[str] = set()
    for c in pod.containers:
        context = c.get("securityContext")
        capabilities = context.get("capabilities") if context else None
        if not capabilities:
            missing_drop.append(c.get("name", ""))
            continue
        if "ALL" not in (capabilities.get("drop") or ()):
            missing_drop.append(c.get("name", ""))
        added = [str(cap) for cap in capabilities.get("add") or () if cap != "NET_BIND_SERVICE"]
        if added:
            adding.append(c.get("name", ""))
            forbidden.update(added)
    if not missing_drop and not adding:
        return None
    details = []
    if missing_drop:
        details.append(
            f'{containers_phrase(missing_drop)} must set securityContext.capabilities.drop=["ALL"]'
        )
    if adding:
        details.append(
            f"{containers_phrase(adding)} must not include {join_quote(sorted(forbidden))} "
            "in securityContext.capabilities.add"
        )
    return Violation(ID, "unrestricted capabilities", "; ".join(details))


def capabilities_restricted_v1_25(pod: PodView) -> Violation | None:
    if is_windows(pod.spec):
        return None
    return capabilities_restricted_v1_22(pod)


def _patchable(violation: Violation) -> bool:
    """Dropping ALL fixes a missing drop; a forbidden capability added is the user's to remove."""
    return "must not include" not in violation.detail


CHECK = Check(
    ID,
    Level.RESTRICTED,
    (
        VersionedCheck(22, capabilities_restricted_v1_22, ("capabilities_baseline",)),
        VersionedCheck(25, capabilities_restricted_v1_25, ("capabilities_baseline",)),
    ),
    fix='set securityContext.capabilities.drop: ["ALL"] in every container and add back at '
    "most NET_BIND_SERVICE",
    fields=("spec.{initContainers,containers,ephemeralContainers}[*].securityContext"
            ".capabilities.{drop,add}",),
    patch='capabilities.drop: ["ALL"] in every container',
    additive=_patchable,
)
