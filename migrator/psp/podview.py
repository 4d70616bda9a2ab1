"""What a pod actually uses, for deciding whether it exercises a PSP's looseness.

Owns small, pure readers over a pod's metadata and spec (camelCase dictionaries): the
capabilities it adds, the volume types it mounts, its seccomp, AppArmor and SELinux
settings, and whether it would pass the Pod Security check that a PSP field stands in
for. They mirror the Pod Security Standards at the latest version closely enough to tell
"some workload needs this" from "no workload needs this"; they are not the PSS engine.

Seccomp annotations count like the fields they are synced to on pod creation.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from migrator.pss.api import (
    APPARMOR_CONTAINER_PREFIX,
    SECCOMP_CONTAINER_PREFIX,
    SECCOMP_POD_ANNOTATION,
)

CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")

#: Capabilities baseline lets a container add.
BASELINE_CAPABILITIES = frozenset({
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
    "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
})
#: The one capability restricted lets a container add.
RESTRICTED_CAPABILITY = "NET_BIND_SERVICE"

#: Volume types restricted allows (PSP spelling).
RESTRICTED_VOLUMES = frozenset({
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
    "projected", "secret",
})

#: Sysctls Pod Security treats as safe at the latest version.
SAFE_SYSCTLS = frozenset({
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start", "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes",
    "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem", "net.ipv4.tcp_slow_start_after_idle",
    "net.ipv4.tcp_notsent_lowat",
})

#: SELinux types baseline allows ("" is unset).
BASELINE_SELINUX_TYPES = frozenset({
    "", "container_t", "container_init_t", "container_kvm_t", "container_engine_t",
})


#: Pod volume keys whose PSP volume type is spelled differently.
_VOLUME_SPELLING = {"cephfs": "cephFS"}


@dataclass(frozen=True, slots=True)
class PodRef:
    """A pod (or a workload's pod template) under a readable identity."""

    ident: str
    metadata: Mapping[str, Any]
    spec: Mapping[str, Any]


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def containers(spec: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every init, regular and ephemeral container of the spec."""
    for key in CONTAINER_LISTS:
        items = spec.get(key)
        if isinstance(items, list):
            yield from (c for c in items if isinstance(c, Mapping))


def security_context(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return _dict(obj.get("securityContext"))


def annotations_of(metadata: Mapping[str, Any]) -> Mapping[str, Any]:
    return _dict(metadata.get("annotations"))


def is_windows(spec: Mapping[str, Any]) -> bool:
    return _dict(spec.get("os")).get("name") == "windows"


def _string_list(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def added_capabilities(spec: Mapping[str, Any]) -> frozenset[str]:
    """Every capability some container adds."""
    found: set[str] = set()
    for container in containers(spec):
        caps = _dict(security_context(container).get("capabilities"))
        found.update(_string_list(caps.get("add")))
    return frozenset(found)


def misses_drop_all(spec: Mapping[str, Any]) -> bool:
    """True when some container does not drop ALL (restricted's capabilities check)."""
    if is_windows(spec):
        return False
    for container in containers(spec):
        caps = _dict(security_context(container).get("capabilities"))
        if "ALL" not in _string_list(caps.get("drop")):
            return True
    return False


def runs_privileged(spec: Mapping[str, Any]) -> bool:
    return any(security_context(c).get("privileged") is True for c in containers(spec))


def uses_host_ports(spec: Mapping[str, Any]) -> bool:
    for container in containers(spec):
        ports = container.get("ports")
        for port in ports if isinstance(ports, list) else []:
            host_port = _dict(port).get("hostPort")
            if host_port not in (None, 0):
                return True
    return False


def volume_types(spec: Mapping[str, Any]) -> frozenset[str]:
    """The PSP volume type of every volume the spec declares."""
    found: set[str] = set()
    volumes = spec.get("volumes")
    for volume in volumes if isinstance(volumes, list) else []:
        for key in _dict(volume):
            if key != "name":
                found.add(_VOLUME_SPELLING.get(key, key))
    return frozenset(found)


def _selinux_options(spec: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield _dict(security_context(spec).get("seLinuxOptions"))
    for container in containers(spec):
        yield _dict(security_context(container).get("seLinuxOptions"))


def breaks_baseline_selinux(spec: Mapping[str, Any]) -> bool:
    """True when some seLinuxOptions sets a type, user or role that baseline forbids."""
    for options in _selinux_options(spec):
        if options.get("type", "") not in BASELINE_SELINUX_TYPES:
            return True
        if options.get("user") or options.get("role"):
            return True
    return False


def _seccomp_type_from_annotation(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    if value in ("runtime/default", "docker/default"):
        return "RuntimeDefault"
    if value.startswith("localhost/"):
        return "Localhost"
    if value == "unconfined":
        return "Unconfined"
    return "Unknown"


def _seccomp_type(sc: Mapping[str, Any], annotation: Any) -> str | None:
    profile = _dict(sc.get("seccompProfile"))
    kind = profile.get("type")
    if isinstance(kind, str) and kind:
        return kind
    return _seccomp_type_from_annotation(annotation)


def _seccomp_types(
    metadata: Mapping[str, Any], spec: Mapping[str, Any]
) -> tuple[str | None, list[str | None]]:
    notes = annotations_of(metadata)
    pod_type = _seccomp_type(security_context(spec), notes.get(SECCOMP_POD_ANNOTATION))
    container_types = [
        _seccomp_type(
            security_context(c), notes.get(SECCOMP_CONTAINER_PREFIX + str(c.get("name", "")))
        )
        for c in containers(spec)
    ]
    return pod_type, container_types


def uses_unconfined_seccomp(metadata: Mapping[str, Any], spec: Mapping[str, Any]) -> bool:
    pod_type, container_types = _seccomp_types(metadata, spec)
    return "Unconfined" in [pod_type, *container_types]


def misses_restricted_seccomp(metadata: Mapping[str, Any], spec: Mapping[str, Any]) -> bool:
    """True when some container ends up without an explicit RuntimeDefault or Localhost."""
    if is_windows(spec):
        return False
    good = ("RuntimeDefault", "Localhost")
    pod_type, container_types = _seccomp_types(metadata, spec)
    for kind in container_types:
        effective = kind if kind is not None else pod_type
        if effective not in good:
            return True
    return pod_type not in good and not container_types


def _apparmor_ok(value: Any) -> bool:
    return value in (None, "", "runtime/default") or (
        isinstance(value, str) and value.startswith("localhost/")
    )


def breaks_baseline_apparmor(metadata: Mapping[str, Any], spec: Mapping[str, Any]) -> bool:
    """True when some AppArmor annotation or field asks for a profile baseline forbids."""
    for key, value in annotations_of(metadata).items():
        if str(key).startswith(APPARMOR_CONTAINER_PREFIX) and not _apparmor_ok(value):
            return True
    for sc in [security_context(spec), *(security_context(c) for c in containers(spec))]:
        kind = _dict(sc.get("appArmorProfile")).get("type")
        if kind not in (None, "RuntimeDefault", "Localhost"):
            return True
    return False


def misses_run_as_non_root(spec: Mapping[str, Any]) -> bool:
    """True when the pod fails restricted's runAsNonRoot or runAsUser (non-zero) check."""
    if spec.get("hostUsers") is False:
        return False
    pod_sc = security_context(spec)
    if pod_sc.get("runAsNonRoot") is False or pod_sc.get("runAsUser") == 0:
        return True
    pod_non_root = pod_sc.get("runAsNonRoot") is True
    for container in containers(spec):
        sc = security_context(container)
        if sc.get("runAsUser") == 0 or sc.get("runAsNonRoot") is False:
            return True
        if sc.get("runAsNonRoot") is not True and not pod_non_root:
            return True
    return False


def allows_escalation(spec: Mapping[str, Any]) -> bool:
    """True when some container does not set allowPrivilegeEscalation: false."""
    if is_windows(spec):
        return False
    return any(
        security_context(c).get("allowPrivilegeEscalation") is not False
        for c in containers(spec)
    )


def sysctl_names(spec: Mapping[str, Any]) -> frozenset[str]:
    sysctls = security_context(spec).get("sysctls")
    return frozenset(
        str(_dict(item).get("name", "")) for item in sysctls if isinstance(item, Mapping)
    ) if isinstance(sysctls, list) else frozenset()


def uses_unmasked_proc_mount(spec: Mapping[str, Any]) -> bool:
    return any(security_context(c).get("procMount") == "Unmasked" for c in containers(spec))
