"""Per-field rules: how loose each PSP field is, in Pod Security levels.

Owns the mapping from a read PSP to `Tier`s. A tier is one looseness of one PSP field: the
level that field allows at most because of it, a message saying why, and a test of
whether a given (already PSP-mutated) pod actually makes use of it. A field can have two
tiers, loosest first: `allowedCapabilities: [NET_ADMIN, CHOWN]` is privileged because of
NET_ADMIN and, once that is closed, still baseline because of CHOWN.

The rules follow what PSP admission did on a 1.24 API server
(`../shared/research/psp-semantics.md`), judged against the Pod Security Standards at
the latest version. Controls that no PSP field governs are not tiers: Windows hostProcess
(which PSP never admitted) and the host field of probes and lifecycle hooks (baseline from
v1.34) belong to the workload, not to the PSP.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from migrator.psp import podview
from migrator.psp.podview import (
    BASELINE_CAPABILITIES,
    BASELINE_SELINUX_TYPES,
    RESTRICTED_CAPABILITY,
    RESTRICTED_VOLUMES,
    SAFE_SYSCTLS,
)
from migrator.psp.spec import (
    APPARMOR_ALLOWED,
    MUST_RUN_AS,
    MUST_RUN_AS_NON_ROOT,
    RUN_AS_ANY,
    SECCOMP_ALLOWED,
    IDRange,
    PSPSpec,
)
from migrator.pss.api import Level

P = Level.PRIVILEGED
B = Level.BASELINE

SECCOMP_FIELD = f"metadata.annotations[{SECCOMP_ALLOWED}]"
APPARMOR_FIELD = f"metadata.annotations[{APPARMOR_ALLOWED}]"

#: Whether a pod (metadata, spec), after the PSP's mutations, uses a looseness.
Usage = Callable[[Mapping[str, Any], Mapping[str, Any]], bool]


@dataclass(frozen=True, slots=True)
class Tier:
    """One looseness of one PSP field.

    `unused` completes "no workload …"; `closing` says what closing it means, and
    completes "… would keep them all admitted".
    """

    field: str
    level: Level
    message: str
    unused: str
    closing: str
    used: Usage


def _names(values: Any) -> str:
    return ", ".join(sorted(values))


def format_ranges(ranges: tuple[IDRange, ...]) -> str:
    """`0-65535`, `1000`, `7472, 7946`."""
    return ", ".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in ranges)


def range_notes(psp: PSPSpec) -> dict[str, str]:
    """For each PSP field whose MustRunAs default is the bottom of its allowed ranges,
    a note saying so (the injected value is the minimum, not a value the PSP chose)."""
    notes: dict[str, str] = {}
    strategies = {"spec.runAsUser": psp.run_as_user, "spec.runAsGroup": psp.run_as_group,
                  "spec.fsGroup": psp.fs_group, "spec.supplementalGroups": psp.supplemental_groups}
    for field, strategy in strategies.items():
        if strategy is not None and strategy.rule == MUST_RUN_AS and strategy.ranges:
            lo, hi = strategy.ranges[0]
            if lo != hi or len(strategy.ranges) > 1:
                notes[field] = (f"only the bottom of the PSP's allowed range "
                                f"{format_ranges(strategy.ranges)}")
    return notes


def _flag(field: str, on: bool, unused: str, used: Usage) -> Iterator[Tier]:
    if on:
        yield Tier(
            f"spec.{field}", P, f"{field}: true → privileged", unused,
            f"setting {field}: false", used,
        )


def host_tiers(psp: PSPSpec) -> Iterator[Tier]:
    yield from _flag(
        "privileged", psp.privileged, "runs a privileged container",
        lambda m, s: podview.runs_privileged(s),
    )
    yield from _flag(
        "hostNetwork", psp.host_network, "uses hostNetwork",
        lambda m, s: s.get("hostNetwork") is True,
    )
    yield from _flag(
        "hostPID", psp.host_pid, "uses hostPID", lambda m, s: s.get("hostPID") is True
    )
    yield from _flag(
        "hostIPC", psp.host_ipc, "uses hostIPC", lambda m, s: s.get("hostIPC") is True
    )
    ports = tuple(r for r in psp.host_ports if r != (0, 0))
    if ports:
        yield Tier(
            "spec.hostPorts", P, f"hostPorts allows {format_ranges(ports)} → privileged",
            "sets a hostPort", "removing hostPorts", lambda m, s: podview.uses_host_ports(s),
        )


def _capability_tiers(field: str, allowed: tuple[str, ...]) -> Iterator[Tier]:
    star = "*" in allowed
    beyond = {c for c in allowed if c != "*" and c not in BASELINE_CAPABILITIES}
    extra = {c for c in allowed if c in BASELINE_CAPABILITIES and c != RESTRICTED_CAPABILITY}
    path = f"spec.{field}"
    if star or beyond:
        what = "*" if star else _names(beyond)

        def uses_beyond(m: Mapping[str, Any], s: Mapping[str, Any]) -> bool:
            added = podview.added_capabilities(s)
            return bool(added - BASELINE_CAPABILITIES if star else added & beyond)

        yield Tier(
            path, P, f"{field} includes {what} → privileged",
            "adds a capability outside baseline's list" if star else f"adds {what}",
            f"removing {what} from {field}", uses_beyond,
        )
    if star or extra:
        named = extra | ({"*"} if star else set())
        candidates = None if star else extra | beyond

        def uses_extra(m: Mapping[str, Any], s: Mapping[str, Any]) -> bool:
            added = podview.added_capabilities(s) - {RESTRICTED_CAPABILITY}
            return bool(added if candidates is None else added & candidates)

        yield Tier(
            path, B, f"{field} includes {_names(named)} → baseline",
            "adds a capability other than NET_BIND_SERVICE",
            f"limiting {field} to NET_BIND_SERVICE", uses_extra,
        )


def capability_tiers(psp: PSPSpec) -> Iterator[Tier]:
    yield from _capability_tiers("allowedCapabilities", psp.allowed_capabilities)
    yield from _capability_tiers("defaultAddCapabilities", psp.default_add_capabilities)
    if "ALL" not in psp.required_drop_capabilities:
        yield Tier(
            "spec.requiredDropCapabilities", B,
            "requiredDropCapabilities does not include ALL → baseline "
            "(restricted requires dropping ALL)",
            "keeps a container without capabilities.drop: [ALL]",
            "requiring ALL in requiredDropCapabilities",
            lambda m, s: podview.misses_drop_all(s),
        )


def volume_tiers(psp: PSPSpec) -> Iterator[Tier]:
    star = "*" in psp.volumes
    if star or "hostPath" in psp.volumes:
        what = "*" if star else "hostPath"
        yield Tier(
            "spec.volumes", P, f"volumes includes {what} → privileged",
            "mounts a hostPath volume", f"removing {what} from volumes",
            lambda m, s: "hostPath" in podview.volume_types(s),
        )
    others = {v for v in psp.volumes if v not in RESTRICTED_VOLUMES and v not in ("*", "hostPath")}
    if star or others:
        named = others | ({"*"} if star else set())

        def uses_other(m: Mapping[str, Any], s: Mapping[str, Any]) -> bool:
            outside = podview.volume_types(s) - RESTRICTED_VOLUMES - {"hostPath"}
            return bool(outside if star else outside & others)

        yield Tier(
            "spec.volumes", B, f"volumes includes {_names(named)} → baseline",
            "uses a volume type outside restricted's list",
            "limiting volumes to " + _names(RESTRICTED_VOLUMES), uses_other,
        )


def selinux_tiers(psp: PSPSpec) -> Iterator[Tier]:
    def breaks(m: Mapping[str, Any], s: Mapping[str, Any]) -> bool:
        return podview.breaks_baseline_selinux(s)

    if psp.se_linux_rule == RUN_AS_ANY:
        yield Tier(
            "spec.seLinux.rule", P, "seLinux RunAsAny admits any seLinuxOptions → privileged",
            "sets an seLinuxOptions type, user or role that baseline forbids",
            "restricting seLinux to MustRunAs (type container_t, no user or role)", breaks,
        )
        return
    options = psp.se_linux_options_dict or {}
    bad = []
    if options.get("type", "") not in BASELINE_SELINUX_TYPES:
        bad.append(f"type {options['type']}")
    bad.extend(f"{key} {options[key]}" for key in ("user", "role") if options.get(key))
    if bad:
        yield Tier(
            "spec.seLinux.seLinuxOptions", P,
            f"seLinux MustRunAs with {', '.join(bad)} → privileged",
            "runs with the PSP's seLinuxOptions",
            "changing seLinuxOptions to type container_t with no user or role", breaks,
        )


def run_as_user_tiers(psp: PSPSpec) -> Iterator[Tier]:
    user = psp.run_as_user
    if user.rule == MUST_RUN_AS_NON_ROOT:
        message = (
            "runAsUser MustRunAsNonRoot admits a non-zero runAsUser without runAsNonRoot: true "
            "(it injects runAsNonRoot only where no user is set) → baseline"
        )
    elif user.rule == MUST_RUN_AS and all(lo >= 1 for lo, _ in user.ranges):
        message = (
            f"runAsUser MustRunAs {format_ranges(user.ranges)} injects runAsUser but not "
            "runAsNonRoot → baseline"
        )
    elif user.rule == MUST_RUN_AS:
        message = (
            f"runAsUser MustRunAs {format_ranges(user.ranges)} admits UID 0 and "
            "runAsNonRoot unset → baseline"
        )
    else:
        message = "runAsUser RunAsAny admits runAsNonRoot unset → baseline"
    yield Tier(
        "spec.runAsUser.rule", B, message,
        "runs a container as UID 0 or without runAsNonRoot: true",
        "enforcing restricted's runAsNonRoot check",
        lambda m, s: podview.misses_run_as_non_root(s),
    )


def escalation_tiers(psp: PSPSpec) -> Iterator[Tier]:
    if not psp.allow_privilege_escalation:
        return
    given = "allowPrivilegeEscalation" in psp.given
    state = "true" if given else "unset (defaults to true)"
    yield Tier(
        "spec.allowPrivilegeEscalation", B,
        f"allowPrivilegeEscalation {state} → baseline (restricted requires false)",
        "runs a container without allowPrivilegeEscalation: false",
        "setting allowPrivilegeEscalation: false",
        lambda m, s: podview.allows_escalation(s),
    )


def sysctl_tiers(psp: PSPSpec) -> Iterator[Tier]:
    unsafe = {s for s in psp.allowed_unsafe_sysctls if s not in SAFE_SYSCTLS}
    if unsafe:
        yield Tier(
            "spec.allowedUnsafeSysctls", P,
            f"allowedUnsafeSysctls includes {_names(unsafe)} → privileged",
            "sets an unsafe sysctl", "removing allowedUnsafeSysctls",
            lambda m, s: bool(podview.sysctl_names(s) - SAFE_SYSCTLS),
        )


def proc_mount_tiers(psp: PSPSpec) -> Iterator[Tier]:
    if "Unmasked" in psp.allowed_proc_mount_types:
        yield Tier(
            "spec.allowedProcMountTypes", P, "allowedProcMountTypes includes Unmasked → privileged",
            "uses procMount Unmasked", "limiting allowedProcMountTypes to Default",
            lambda m, s: podview.uses_unmasked_proc_mount(s),
        )


_RESTRICTED_SECCOMP = "restricted requires explicit RuntimeDefault or Localhost"


def _seccomp_unset_tier(message: str) -> Tier:
    return Tier(
        SECCOMP_FIELD, B, f"{message} → baseline ({_RESTRICTED_SECCOMP})",
        "runs without an explicit RuntimeDefault or Localhost seccomp profile",
        "allowing runtime/default with defaultProfileName runtime/default",
        podview.misses_restricted_seccomp,
    )


def seccomp_tiers(psp: PSPSpec) -> Iterator[Tier]:
    allowed, default = psp.seccomp.allowed, psp.seccomp.default
    if allowed is None:
        yield _seccomp_unset_tier("seccomp with no allowedProfileNames lets pods set no profile")
        return
    loose = [p for p in ("*", "unconfined") if p in allowed]
    if loose:
        what = " and ".join(loose)
        if default == "unconfined":
            what += " (and injects unconfined by default)"
        yield Tier(
            SECCOMP_FIELD, P, f"seccomp allowedProfileNames includes {what} → privileged",
            "uses an Unconfined seccomp profile",
            f"removing {' and '.join(loose)} from seccomp allowedProfileNames",
            podview.uses_unconfined_seccomp,
        )
    unset_allowed = "*" in allowed or "" in allowed
    if unset_allowed and (default is None or default == "unconfined"):
        why = "*" if "*" in allowed else "an empty entry"
        yield _seccomp_unset_tier(
            f"seccomp allowedProfileNames includes {why} without a restricted "
            "defaultProfileName, so pods may leave seccomp unset"
        )


def _apparmor_ok(profile: str) -> bool:
    return profile in ("", "runtime/default") or profile.startswith("localhost/")


def apparmor_tiers(psp: PSPSpec) -> Iterator[Tier]:
    allowed = psp.apparmor.allowed
    if allowed is None:
        message = "AppArmor with no allowedProfileNames admits any profile, unconfined included"
    else:
        bad = {p for p in allowed if not _apparmor_ok(p)}
        if not bad:
            return
        message = f"AppArmor allowedProfileNames includes {_names(bad)}"
    yield Tier(
        APPARMOR_FIELD, P, f"{message} → privileged",
        "asks for an AppArmor profile other than runtime/default or localhost/*",
        "allowing only runtime/default and localhost/* AppArmor profiles",
        podview.breaks_baseline_apparmor,
    )


_RULES = (
    host_tiers, capability_tiers, volume_tiers, selinux_tiers, run_as_user_tiers,
    escalation_tiers, sysctl_tiers, proc_mount_tiers, seccomp_tiers, apparmor_tiers,
)


def tiers_by_field(psp: PSPSpec) -> dict[str, list[Tier]]:
    """Every looseness of the PSP, grouped by field, loosest tier first."""
    grouped: dict[str, list[Tier]] = {}
    for rule in _RULES:
        for tier in rule(psp):
            grouped.setdefault(tier.field, []).append(tier)
    for tiers in grouped.values():
        tiers.sort(key=lambda t: t.level.rank)
    return dict(sorted(grouped.items()))
