"""appArmorProfile (baseline, from v1.0): the default AppArmor profile may not be disabled.

Restricted fields:
    metadata.annotations["container.apparmor.security.beta.kubernetes.io/*"]
        allowed: "runtime/default", "localhost/*", empty, undefined
    spec.securityContext.appArmorProfile.type
    spec.{initContainers,containers,ephemeralContainers}[*].securityContext.appArmorProfile.type
        allowed: "RuntimeDefault", "Localhost", undefined
Upstream checks the fields at every policy version (they were added to the v1.0 rule) from
the Pod Security library of 1.30 on; the libraries of earlier servers read only the
annotations and word the message differently (`LEGACY_CHECK`, chosen by `migrator.pss.server`).
"""

from __future__ import annotations

from migrator.pss.api import APPARMOR_CONTAINER_PREFIX, Level
from migrator.pss.helpers import containers_phrase, go_quote, join_quote, pluralize
from migrator.pss.pod import PodView
from migrator.pss.registry import Check, VersionedCheck, Violation

ID = "appArmorProfile"
_ALLOWED_TYPES = frozenset({"RuntimeDefault", "Localhost"})


def _allowed_annotation(value: str) -> bool:
    return not value or value == "runtime/default" or value.startswith("localhost/")


def _bad_type(context: object) -> str | None:
    if not isinstance(context, dict):
        return None
    profile = context.get("appArmorProfile")
    if profile is None:
        return None
    kind = str(profile.get("type") or "")
    return None if kind in _ALLOWED_TYPES else kind


def app_armor_profile_v1_0(pod: PodView) -> Violation | None:
    setters: list[str] = []
    values: set[str] = set()
    bad = _bad_type(pod.spec.get("securityContext"))
    if bad is not None:
        setters.append("pod")
        values.add(bad)
    containers: list[str] = []
    for c in pod.containers:
        bad = _bad_type(c.get("securityContext"))
        if bad is not None:
            containers.append(c.get("name", ""))
            values.add(bad)
    if containers:
        setters.append(containers_phrase(containers))
    annotations = sorted(
        f"{key}={go_quote(str(value))}"
        for key, value in pod.annotations.items()
        if key.startswith(APPARMOR_CONTAINER_PREFIX) and not _allowed_annotation(str(value or ""))
    )
    if not setters and not annotations:
        return None
    listed = sorted(values) + annotations
    if annotations:
        setters.append(pluralize("annotation", "annotations", len(annotations)))
    return Violation(
        ID,
        pluralize("forbidden AppArmor profile", "forbidden AppArmor profiles", len(listed)),
        f"{' and '.join(setters)} must not set AppArmor profile type to {join_quote(listed)}",
    )


def app_armor_profile_annotations_v1_0(pod: PodView) -> Violation | None:
    """The rule as servers before 1.30 apply it: annotations only, listed in the reason."""
    forbidden = sorted(
        f"{key}={go_quote(str(value))}"
        for key, value in pod.annotations.items()
        if key.startswith(APPARMOR_CONTAINER_PREFIX) and not _allowed_annotation(str(value or ""))
    )
    if not forbidden:
        return None
    return Violation(
        ID,
        pluralize("forbidden AppArmor profile", "forbidden AppArmor profiles", len(forbidden)),
        ", ".join(forbidden),
    )


CHECK = Check(
    ID,
    Level.BASELINE,
    (VersionedCheck(0, app_armor_profile_v1_0),),
    fix='use the AppArmor profile type "RuntimeDefault" or "Localhost", never "Unconfined"',
    fields=(
        'metadata.annotations["container.apparmor.security.beta.kubernetes.io/*"]',
        "spec.securityContext.appArmorProfile.type",
        "spec.{initContainers,containers,ephemeralContainers}[*].securityContext"
        ".appArmorProfile.type",
    ),
)

#: The same check as the Pod Security library of servers before 1.30 has it.
LEGACY_CHECK = Check(
    ID,
    Level.BASELINE,
    (VersionedCheck(0, app_armor_profile_annotations_v1_0),),
    fix=CHECK.fix,
    fields=CHECK.fields[:1],
)
