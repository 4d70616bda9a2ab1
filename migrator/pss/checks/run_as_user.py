"""runAsUser (restricted, from v1.23): containers must not set runAsUser to 0.

Restricted fields:
    spec.securityContext.runAsUser
    spec.{initContainers,containers,ephemeralContainers}[*].securityContext.runAsUser
Allowed values: any non-zero value, undefined
From v1.35, pods in their own user namespace (spec.hostUsers: false) are not checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from migrator.pss.api import Level
from migrator.pss.helpers import containers_phrase, user_namespaced
from migrator.pss.pod import PodView
from migrator.pss.registry import Check, VersionedCheck, Violation

ID = "runAsUser"


def _root(context: Mapping[str, Any] | None) -> bool:
    if not context:
        return False
    value = context.get("runAsUser")
    return value == 0 and not isinstance(value, bool)


def run_as_user_v1_23(pod: PodView) -> Violation | None:
    setters: list[str] = []
    if _root(pod.spec.get("securityContext")):
        setters.append("pod")
    bad = [c.get("name", "") for c in pod.containers if _root(c.get("securityContext"))]
    if bad:
        setters.append(containers_phrase(bad))
    if not setters:
        return None
    return Violation(ID, "runAsUser=0", f"{' and '.join(setters)} must not set runAsUser=0")


def run_as_user_v1_35(pod: PodView) -> Violation | None:
    if user_namespaced(pod.spec):
        return None
    return run_as_user_v1_23(pod)


CHECK = Check(
    ID,
    Level.RESTRICTED,
    (VersionedCheck(23, run_as_user_v1_23), VersionedCheck(35, run_as_user_v1_35)),
    fix="set runAsUser to a non-zero UID (or leave it unset and rely on the image's user)",
    fields=(
        "spec.securityContext.runAsUser",
        "spec.{initContainers,containers,ephemeralContainers}[*].securityContext.runAsUser",
    ),
)
