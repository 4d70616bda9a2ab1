"""seccompProfile_restricted (restricted, from v1.19): a seccomp profile must be set.

Restricted fields:
    spec.securityContext.seccompProfile.type
    spec.{initContainers,containers,ephemeralContainers}[*].securityContext.seccompProfile.type
Allowed values: "RuntimeDefault" or "Localhost"; a container may leave it undefined when
the pod level sets an allowed value. From v1.25, Windows pods are not checked.
Replaces seccompProfile_baseline at restricted.
"""

from __future__ import annotations

from migrator.pss.api import Level
from migrator.pss.checks.seccomp_profile_baseline import VALID_TYPES, profile_type
from migrator.pss.helpers import containers_phrase, is_windows, join_quote
from migrator.pss.pod import PodView
from migrator.pss.registry import Check, VersionedCheck, Violation

ID = "seccompProfile_restricted"


def seccomp_profile_restricted_v1_19(pod: PodView) -> Violation | None:
    setters: list[str] = []
    values: set[str] = set()
    pod_set = False
    kind = profile_type(pod.spec.get("securityContext"))
    if kind is not None:
        if kind in VALID_TYPES:
            pod_set = True
        else:
            setters.append("pod")
            values.add(kind)
    explicit: list[str] = []
    implicit: list[str] = []
    for c in pod.containers:
        kind = profile_type(c.get("securityContext"))
        if kind is None:
            if not pod_set:
                implicit.append(c.get("name", ""))
        elif kind not in VALID_TYPES:
            explicit.append(c.get("name", ""))
            values.add(kind)
    if explicit:
        setters.append(containers_phrase(explicit))
    if setters:
        return Violation(
            ID,
            "seccompProfile",
            f"{' and '.join(setters)} must not set securityContext.seccompProfile.type to "
            f"{join_quote(sorted(values))}",
        )
    if implicit:
        return Violation(
            ID,
            "seccompProfile",
            f"pod or {containers_phrase(implicit)} must set securityContext.seccompProfile.type "
            'to "RuntimeDefault" or "Localhost"',
        )
    return None


def seccomp_profile_restricted_v1_25(pod: PodView) -> Violation | None:
    if is_windows(pod.spec):
        return None
    return seccomp_profile_restricted_v1_19(pod)


def _patchable(violation: Violation) -> bool:
    """An unset profile is set at pod level; an explicit Unconfined is the user's to change."""
    return "must not set" not in violation.detail


CHECK = Check(
    ID,
    Level.RESTRICTED,
    (
        VersionedCheck(19, seccomp_profile_restricted_v1_19, ("seccompProfile_baseline",)),
        VersionedCheck(25, seccomp_profile_restricted_v1_25, ("seccompProfile_baseline",)),
    ),
    fix="set securityContext.seccompProfile.type: RuntimeDefault at pod level",
    fields=(
        "spec.securityContext.seccompProfile.type",
        "spec.{initContainers,containers,ephemeralContainers}[*].securityContext"
        ".seccompProfile.type",
    ),
    patch="seccompProfile.type: RuntimeDefault at pod level",
    additive=_patchable,
)
