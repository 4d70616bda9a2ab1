"""seLinuxOptions (baseline, from v1.0): custom SELinux users, roles and types are forbidden.

Restricted fields:
    spec.securityContext.seLinuxOptions.{type,user,role}
    spec.{initContainers,containers,ephemeralContainers}[*].securityContext.seLinuxOptions
Allowed values: type undefined, "", container_t, container_init_t, container_kvm_t
(and container_engine_t from v1.31); user and role undefined or "".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from migrator.pss.api import Level
from migrator.pss.helpers import containers_phrase, join_quote, pluralize
from migrator.pss.pod import PodView
from migrator.pss.registry import Check, VersionedCheck, Violation

ID = "seLinuxOptions"
TYPES_V1_0 = frozenset({"", "container_t", "container_init_t", "container_kvm_t"})
TYPES_V1_31 = TYPES_V1_0 | {"container_engine_t"}


def _evaluate(pod: PodView, allowed: frozenset[str]) -> Violation | None:
    setters: list[str] = []
    bad_types: set[str] = set()
    user = role = False

    def invalid(context: Mapping[str, Any] | None) -> bool:
        nonlocal user, role
        if not context:
            return False
        options = context.get("seLinuxOptions")
        if options is None:
            return False
        bad = False
        kind = str(options.get("type") or "")
        if kind not in allowed:
            bad = True
            bad_types.add(kind)
        if options.get("user"):
            bad = user = True
        if options.get("role"):
            bad = role = True
        return bad

    if invalid(pod.spec.get("securityContext")):
        setters.append("pod")
    containers = [c.get("name", "") for c in pod.containers if invalid(c.get("securityContext"))]
    if containers:
        setters.append(containers_phrase(containers))
    if not setters:
        return None
    data = []
    if bad_types:
        data.append(
            f"{pluralize('type', 'types', len(bad_types))} {join_quote(sorted(bad_types))}"
        )
    if user:
        data.append("user may not be set")
    if role:
        data.append("role may not be set")
    return Violation(
        ID,
        "seLinuxOptions",
        f"{' and '.join(setters)} set forbidden securityContext.seLinuxOptions: "
        f"{'; '.join(data)}",
    )


def se_linux_options_v1_0(pod: PodView) -> Violation | None:
    return _evaluate(pod, TYPES_V1_0)


def se_linux_options_v1_31(pod: PodView) -> Violation | None:
    return _evaluate(pod, TYPES_V1_31)


CHECK = Check(
    ID,
    Level.BASELINE,
    (VersionedCheck(0, se_linux_options_v1_0), VersionedCheck(31, se_linux_options_v1_31)),
    fix="remove seLinuxOptions user and role, and use a container_* type or none",
    fields=(
        "spec.securityContext.seLinuxOptions",
        "spec.{initContainers,containers,ephemeralContainers}[*].securityContext"
        ".seLinuxOptions",
    ),
)
