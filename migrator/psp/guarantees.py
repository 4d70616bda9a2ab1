"""What Pod Security Admission will no longer enforce once a PodSecurityPolicy is gone.

Owns `LostGuarantee` and the list of PSP restrictions that no Pod Security level carries:
host path, flexVolume, CSI driver and runtime class allow-lists, user and group ranges,
read-only root filesystems, forbidden sysctls, pinned SELinux options, profile, capability
and volume allow-lists narrower than Pod Security's own, and so on. Each is reported
with the PSP's value and one line on what Pod Security does instead, so the migration
can hand it to another policy engine or accept the loss knowingly.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from migrator.model.serialise import sorted_json
from migrator.psp.podview import BASELINE_CAPABILITIES, RESTRICTED_VOLUMES, SAFE_SYSCTLS
from migrator.psp.rules import APPARMOR_FIELD, SECCOMP_FIELD, format_ranges
from migrator.psp.spec import MAY_RUN_AS, MUST_RUN_AS, IDStrategy, PSPSpec


@dataclass(frozen=True, slots=True)
class LostGuarantee:
    """A restriction of the PSP that no Pod Security level enforces."""

    field: str
    value: Any
    explanation: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "explanation": self.explanation,
            "field": self.field,
            "value": sorted_json(self.value),
        }


def _ranges_value(strategy: IDStrategy) -> dict[str, Any]:
    return {
        "rule": strategy.rule,
        "ranges": [{"min": lo, "max": hi} for lo, hi in strategy.ranges],
    }


def _admits(psp: PSPSpec, volume: str) -> bool:
    return "*" in psp.volumes or volume in psp.volumes


def _volume_lists(psp: PSPSpec) -> Iterator[LostGuarantee]:
    if psp.allowed_host_paths and _admits(psp, "hostPath"):
        yield LostGuarantee(
            "spec.allowedHostPaths",
            [
                {"pathPrefix": h.path_prefix, "readOnly": h.read_only}
                for h in psp.allowed_host_paths
            ],
            "Pod Security has no host path allow-list or read-only rule: baseline forbids "
            "hostPath volumes, privileged admits any path read-write",
        )
    if psp.allowed_flex_volumes and _admits(psp, "flexVolume"):
        yield LostGuarantee(
            "spec.allowedFlexVolumes",
            sorted(psp.allowed_flex_volumes),
            "Pod Security has no flexVolume driver allow-list: baseline admits any driver",
        )
    if psp.allowed_csi_drivers and _admits(psp, "csi"):
        yield LostGuarantee(
            "spec.allowedCSIDrivers",
            sorted(psp.allowed_csi_drivers),
            "Pod Security has no CSI driver allow-list: restricted admits inline csi "
            "volumes of any driver",
        )
    if "*" not in psp.volumes:
        newly = sorted(RESTRICTED_VOLUMES - set(psp.volumes))
        if newly:
            yield LostGuarantee(
                "spec.volumes",
                sorted(psp.volumes),
                f"restricted also admits {', '.join(newly)} volumes",
            )


def _id_ranges(psp: PSPSpec) -> Iterator[LostGuarantee]:
    if psp.run_as_user.rule == MUST_RUN_AS:
        yield LostGuarantee(
            "spec.runAsUser",
            _ranges_value(psp.run_as_user),
            f"UIDs were limited to {format_ranges(psp.run_as_user.ranges)}; Pod Security only "
            "forbids UID 0 (restricted)",
        )
    named = (
        ("runAsGroup", psp.run_as_group),
        ("supplementalGroups", psp.supplemental_groups),
        ("fsGroup", psp.fs_group),
    )
    for name, strategy in named:
        if strategy is not None and strategy.rule in (MUST_RUN_AS, MAY_RUN_AS):
            yield LostGuarantee(
                f"spec.{name}",
                _ranges_value(strategy),
                f"{name} was limited to {format_ranges(strategy.ranges)}; Pod Security does "
                "not restrict group IDs",
            )


def _sysctls_and_ports(psp: PSPSpec) -> Iterator[LostGuarantee]:
    if psp.forbidden_sysctls:
        yield LostGuarantee(
            "spec.forbiddenSysctls",
            sorted(psp.forbidden_sysctls),
            "Pod Security forbids only unsafe sysctls; baseline admits every safe sysctl",
        )
    unsafe = [s for s in psp.allowed_unsafe_sysctls if s not in SAFE_SYSCTLS]
    if unsafe and "*" not in unsafe:
        yield LostGuarantee(
            "spec.allowedUnsafeSysctls",
            sorted(psp.allowed_unsafe_sysctls),
            "only these unsafe sysctls were admitted; privileged admits any sysctl",
        )
    ports = [r for r in psp.host_ports if r != (0, 0)]
    if ports and all(hi - lo < 65535 for lo, hi in ports):
        yield LostGuarantee(
            "spec.hostPorts",
            [{"min": lo, "max": hi} for lo, hi in psp.host_ports],
            f"only host ports {format_ranges(tuple(ports))} were admitted; baseline forbids "
            "host ports, privileged admits any",
        )


def _container_settings(psp: PSPSpec) -> Iterator[LostGuarantee]:
    if psp.read_only_root_filesystem:
        yield LostGuarantee(
            "spec.readOnlyRootFilesystem",
            True,
            "Pod Security does not require a read-only root filesystem",
        )
    if psp.se_linux_rule == MUST_RUN_AS and psp.se_linux_options is not None:
        yield LostGuarantee(
            "spec.seLinux.seLinuxOptions",
            psp.se_linux_options_dict,
            "pods had exactly these seLinuxOptions; Pod Security admits any level and the "
            "container_t, container_init_t, container_kvm_t and container_engine_t types",
        )
    if psp.allowed_runtime_classes is not None and "*" not in psp.allowed_runtime_classes:
        yield LostGuarantee(
            "spec.runtimeClass.allowedRuntimeClassNames",
            sorted(psp.allowed_runtime_classes),
            "Pod Security does not restrict runtimeClassName",
        )


def _capabilities(psp: PSPSpec) -> Iterator[LostGuarantee]:
    allowed = set(psp.allowed_capabilities) | set(psp.default_add_capabilities)
    if "*" not in allowed:
        newly = sorted(BASELINE_CAPABILITIES - allowed)
        if newly:
            yield LostGuarantee(
                "spec.allowedCapabilities",
                sorted(allowed),
                f"baseline also lets containers add {', '.join(newly)}",
            )
    drops = sorted(set(psp.required_drop_capabilities))
    if drops and "ALL" not in drops:
        yield LostGuarantee(
            "spec.requiredDropCapabilities",
            drops,
            "baseline requires no capability to be dropped (restricted requires ALL)",
        )


def _profiles(psp: PSPSpec) -> Iterator[LostGuarantee]:
    seccomp = psp.seccomp.allowed
    if seccomp is not None and "*" not in seccomp and "localhost/*" not in seccomp:
        yield LostGuarantee(
            SECCOMP_FIELD,
            sorted(seccomp),
            "Pod Security admits RuntimeDefault and any Localhost seccomp profile",
        )
    apparmor = psp.apparmor.allowed
    if apparmor is not None and "localhost/*" not in apparmor:
        yield LostGuarantee(
            APPARMOR_FIELD,
            sorted(apparmor),
            "baseline admits runtime/default and any localhost/ AppArmor profile",
        )


def lost_guarantees(psp: PSPSpec) -> list[LostGuarantee]:
    """Every PSP restriction Pod Security will not enforce, sorted by field."""
    found = [
        *_volume_lists(psp),
        *_id_ranges(psp),
        *_sysctls_and_ports(psp),
        *_container_settings(psp),
        *_capabilities(psp),
        *_profiles(psp),
    ]
    return sorted(found, key=lambda g: g.field)
