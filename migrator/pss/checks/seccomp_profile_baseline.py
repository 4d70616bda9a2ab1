"""seccompProfile_baseline (baseline): seccomp may not be explicitly set to Unconfined.

Restricted fields before v1.19 (annotations):
    metadata.annotations["seccomp.security.alpha.kubernetes.io/pod"]
    metadata.annotations["container.seccomp.security.alpha.kubernetes.io/*"]
    allowed: anything but "unconfined"
Restricted fields from v1.19:
    spec.securityContext.seccompProfile.type
    spec.{initContainers,containers,ephemeralContainers}[*].securityContext.seccompProfile.type
    allowed: undefined, "RuntimeDefault", "Localhost"
Replaced by seccompProfile_restricted at restricted from v1.19.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from migrator.pss.api import SECCOMP_CONTAINER_PREFIX, SECCOMP_POD_ANNOTATION, Level
from migrator.pss.helpers import containers_phrase, go_quote, join_quote, pluralize
from migrator.pss.pod import PodView
from migrator.pss.registry import Check, VersionedCheck, Violation

ID = "seccompProfile_baseline"
VALID_TYPES = frozenset({"RuntimeDefault", "Localhost"})


def seccomp_profile_baseline_v1_0(pod: PodView) -> Violation | None:
    annotations = pod.annotations
    if not annotations:
        return None
    forbidden: set[str] = set()
    if annotations.get(SECCOMP_POD_ANNOTATION) == "unconfined":
        forbidden.add(f"{SECCOMP_POD_ANNOTATION}={go_quote('unconfined')}")
    for c in pod.containers:
        key = SECCOMP_CONTAINER_PREFIX + str(c.get("name", ""))
        if annotations.get(key) == "unconfined":
            forbidden.add(f"{key}={go_quote('unconfined')}")
    if not forbidden:
        return None
    return Violation(
        ID,
        "seccompProfile",
        f"forbidden {pluralize('annotation', 'annotations', len(forbidden))} "
        f"{', '.join(sorted(forbidden))}",
    )


def profile_type(context: Mapping[str, Any] | None) -> str | None:
    """The seccompProfile.type a security context sets, or None when it sets none."""
    if not context:
        return None
    profile = context.get("seccompProfile")
    if profile is None:
        return None
    return str(profile.get("type") or "")


def seccomp_profile_baseline_v1_19(pod: PodView) -> Violation | None:
    setters: list[str] = []
    values: set[str] = set()
    kind = profile_type(pod.spec.get("securityContext"))
    if kind is not None and kind not in VALID_TYPES:
        setters.append("pod")
        values.add(kind)
    bad: list[str] = []
    for c in pod.containers:
        kind = profile_type(c.get("securityContext"))
        if kind is not None and kind not in VALID_TYPES:
            bad.append(c.get("name", ""))
            values.add(kind)
    if bad:
        setters.append(containers_phrase(bad))
    if not setters:
        return None
    return Violation(
        ID,
        "seccompProfile",
        f"{' and '.join(setters)} must not set securityContext.seccompProfile.type to "
        f"{join_quote(sorted(values))}",
    )


CHECK = Check(
    ID,
    Level.BASELINE,
    (
        VersionedCheck(0, seccomp_profile_baseline_v1_0),
        VersionedCheck(19, seccomp_profile_baseline_v1_19),
    ),
    fix='remove seccompProfile type "Unconfined"; use "RuntimeDefault" or "Localhost"',
    fields=(
        "spec.securityContext.seccompProfile.type",
        "spec.{initContainers,containers,ephemeralContainers}[*].securityContext"
        ".seccompProfile.type",
    ),
)
