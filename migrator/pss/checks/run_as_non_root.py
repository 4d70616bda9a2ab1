"""runAsNonRoot (restricted, from v1.0): containers must run as non-root users.

Restricted fields:
    spec.securityContext.runAsNonRoot
    spec.{initContainers,containers,ephemeralContainers}[*].securityContext.runAsNonRoot
Allowed values: true; undefined at container level when the pod level is true.
From v1.35, pods in their own user namespace (spec.hostUsers: false) are not checked.
"""

from __future__ import annotations

from migrator.pss.api import Level
from migrator.pss.helpers import containers_phrase, user_namespaced
from migrator.pss.pod import PodView
from migrator.pss.registry import Check, VersionedCheck, Violation

ID = "runAsNonRoot"
REASON = "runAsNonRoot != true"


def run_as_non_root_v1_0(pod: PodView) -> Violation | None:
    setters: list[str] = []
    pod_value = pod.pod_security_context.get("runAsNonRoot")
    if pod_value is False:
        setters.append("pod")
    pod_true = pod_value is True
    explicit: list[str] = []
    implicit: list[str] = []
    for c in pod.containers:
        value = (c.get("securityContext") or {}).get("runAsNonRoot")
        if value is None:
            if not pod_true:
                implicit.append(c.get("name", ""))
        elif value is False:
            explicit.append(c.get("name", ""))
    if explicit:
        setters.append(containers_phrase(explicit))
    if setters:
        return Violation(
            ID, REASON, f"{' and '.join(setters)} must not set securityContext.runAsNonRoot=false"
        )
    if implicit:
        return Violation(
            ID,
            REASON,
            f"pod or {containers_phrase(implicit)} must set securityContext.runAsNonRoot=true",
        )
    return None


def run_as_non_root_v1_35(pod: PodView) -> Violation | None:
    if user_namespaced(pod.spec):
        return None
    return run_as_non_root_v1_0(pod)


def _patchable(violation: Violation) -> bool:
    """An unset field is set at pod level; an explicit false is the user's to change."""
    return "must not set" not in violation.detail


CHECK = Check(
    ID,
    Level.RESTRICTED,
    (VersionedCheck(0, run_as_non_root_v1_0), VersionedCheck(35, run_as_non_root_v1_35)),
    fix="set securityContext.runAsNonRoot: true at pod level (and run the image as a "
    "non-zero UID)",
    fields=(
        "spec.securityContext.runAsNonRoot",
        "spec.{initContainers,containers,ephemeralContainers}[*].securityContext"
        ".runAsNonRoot",
    ),
    patch="runAsNonRoot: true at pod level",
    additive=_patchable,
)
