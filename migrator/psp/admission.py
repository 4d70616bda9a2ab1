"""PSP admission: whether a PodSecurityPolicy admits a pod, and which policy a pod gets.

Owns the validation half of PodSecurityPolicy admission as a 1.24 API server ran it
(`../shared/research/psp-semantics.md`, `../shared/apiserver/v1.24/`): a pod is first
mutated with the policy's defaults (`apply_defaults`), then every pod-level and
container-level field rule of the policy is checked on the result, each failure becoming a
`Denial` that names the PSP field and says why, worded like the API server's message.
`choose` then picks the policy PSP admission would: among the usable ones, sorted by
name, the first that admits the pod without changing it, else the first that admits it
after its mutations; none when every one denies it.

Pure functions over {"metadata", "spec"} pod dictionaries (camelCase).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from migrator.psp.mutation import apply_defaults, defaults_of, seccomp_annotation
from migrator.psp.spec import MAY_RUN_AS, MUST_RUN_AS, MUST_RUN_AS_NON_ROOT, IDRange, PSPSpec
from migrator.pss.api import (
    APPARMOR_CONTAINER_PREFIX,
    SECCOMP_CONTAINER_PREFIX,
    SECCOMP_POD_ANNOTATION,
)

#: Sysctls a 1.24 kubelet (and so PSP) treated as safe.
SAFE_SYSCTLS_1_24 = frozenset({
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start",
})

#: Pod volume keys whose PSP volume type is spelled differently.
_VOLUME_SPELLING = {"cephfs": "cephFS"}
_CONTAINER_LISTS = ("initContainers", "containers")


@dataclass(frozen=True, slots=True)
class Denial:
    """One rule of PSP `psp` that the (mutated) pod breaks: the PSP field, the pod field
    and the reason, as the API server words it."""

    psp: str
    rule: str
    path: str
    message: str

    def text(self) -> str:
        return f"{self.path}: {self.message} (PSP {self.psp}: {self.rule})"

    def to_dict(self) -> dict[str, str]:
        return {"message": self.message, "path": self.path, "psp": self.psp, "rule": self.rule}


@dataclass(frozen=True, slots=True)
class Admission:
    """What one PSP does with one pod: the pod it would store, whether that differs from
    the pod sent, and the rules the stored pod breaks (none: admitted)."""

    psp: str
    pod: Mapping[str, Any]
    mutated: bool
    denials: tuple[Denial, ...]

    @property
    def admitted(self) -> bool:
        return not self.denials


@dataclass(frozen=True, slots=True)
class Choice:
    """The PSP admission outcome for a pod among several usable PSPs.

    `chosen` is None when no usable PSP admits the pod; `tried` holds every PSP's verdict
    (sorted by name), so the denials explain a rejection.
    """

    chosen: Admission | None
    tried: tuple[Admission, ...] = field(default=())

    @property
    def admitted(self) -> bool:
        return self.chosen is not None

    @property
    def denials(self) -> tuple[Denial, ...]:
        return tuple(d for a in self.tried for d in a.denials)


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _in_ranges(value: Any, ranges: Sequence[IDRange]) -> bool:
    return isinstance(value, int) and any(lo <= value <= hi for lo, hi in ranges)


def _ranges(ranges: Sequence[IDRange]) -> str:
    return ", ".join(f"{lo}-{hi}" for lo, hi in ranges)


def _containers(spec: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for key in _CONTAINER_LISTS:
        for index, item in enumerate(_list(spec.get(key))):
            if isinstance(item, Mapping):
                yield f"spec.{key}[{index}]", item


class _Check:
    """Collects the denials of one PSP on one mutated pod."""

    def __init__(self, psp: PSPSpec, pod: Mapping[str, Any]) -> None:
        self.psp = psp
        self.meta = _map(pod.get("metadata"))
        self.spec = _map(pod.get("spec"))
        self.pod_sc = _map(self.spec.get("securityContext"))
        self.denials: list[Denial] = []

    def deny(self, rule: str, path: str, message: str) -> None:
        self.denials.append(Denial(self.psp.name, rule, path, message))

    def effective(self, sc: Mapping[str, Any], key: str) -> Any:
        value = sc.get(key)
        return self.pod_sc.get(key) if value is None else value

    # -- pod level ------------------------------------------------------------------------

    def host_namespaces(self) -> None:
        for key, allowed, what in (("hostNetwork", self.psp.host_network, "Host network"),
                                   ("hostPID", self.psp.host_pid, "Host PID"),
                                   ("hostIPC", self.psp.host_ipc, "Host IPC")):
            if self.spec.get(key) is True and not allowed:
                self.deny(f"spec.{key}", f"spec.securityContext.{key}",
                          f"Invalid value: true: {what} is not allowed to be used")

    def groups(self) -> None:
        fs_group = self.pod_sc.get("fsGroup")
        self.id_groups("spec.fsGroup", self.psp.fs_group.rule, self.psp.fs_group.ranges,
                       "spec.securityContext.fsGroup", [] if fs_group is None else [fs_group])
        supplemental = list(_list(self.pod_sc.get("supplementalGroups")))
        self.id_groups("spec.supplementalGroups", self.psp.supplemental_groups.rule,
                       self.psp.supplemental_groups.ranges,
                       "spec.securityContext.supplementalGroups", supplemental)
        group = self.psp.run_as_group
        if group is not None and self.pod_sc.get("runAsGroup") is not None:
            self.id_groups("spec.runAsGroup", group.rule, group.ranges,
                           "spec.securityContext.runAsGroup", [self.pod_sc["runAsGroup"]])

    def id_groups(self, rule_field: str, rule: str, ranges: Sequence[IDRange], path: str,
                  values: list[Any]) -> None:
        if rule not in (MUST_RUN_AS, MAY_RUN_AS) or not ranges:
            return
        if not values:
            if rule == MUST_RUN_AS:
                self.deny(rule_field, path,
                          "Invalid value: []: unable to validate empty groups against "
                          "required ranges")
            return
        for value in values:
            if not _in_ranges(value, ranges):
                self.deny(rule_field, path, f"Invalid value: {value}: must be in the "
                          f"ranges: [{_ranges(ranges)}]")

    def volumes(self) -> None:
        allowed = set(self.psp.volumes)
        star = "*" in allowed
        mounts: dict[str, list[bool]] = {}
        for _path, container in _containers(self.spec):
            for mount in _list(container.get("volumeMounts")):
                mount = _map(mount)
                mounts.setdefault(str(mount.get("name")), []).append(
                    mount.get("readOnly") is True)
        for index, volume in enumerate(_list(self.spec.get("volumes"))):
            volume = _map(volume)
            path = f"spec.volumes[{index}]"
            for key in volume:
                if key == "name":
                    continue
                kind = _VOLUME_SPELLING.get(key, key)
                if kind == "projected" and not star and "projected" not in allowed \
                        and "secret" in allowed and token_sources_only(volume.get(key)):
                    continue  # as 1.21+ did: a bound token volume counts as a secret
                if not star and kind not in allowed:
                    self.deny("spec.volumes", path,
                              f"Invalid value: \"{kind}\": {kind} volumes are not allowed "
                              "to be used")
                    continue
                source = _map(volume.get(key))
                if kind == "hostPath":
                    self.host_path(path, str(source.get("path") or ""),
                                   mounts.get(str(volume.get("name")), []))
                elif kind == "flexVolume" and self.psp.allowed_flex_volumes:
                    driver = str(source.get("driver") or "")
                    if driver not in self.psp.allowed_flex_volumes:
                        self.deny("spec.allowedFlexVolumes", f"{path}.flexVolume.driver",
                                  f"Invalid value: \"{driver}\": Flexvolume driver is not "
                                  "allowed to be used")
                elif kind == "csi" and self.psp.allowed_csi_drivers:
                    driver = str(source.get("driver") or "")
                    if driver not in self.psp.allowed_csi_drivers:
                        self.deny("spec.allowedCSIDrivers", f"{path}.csi.driver",
                                  f"Invalid value: \"{driver}\": Inline CSI driver is not "
                                  "allowed to be used")

    def host_path(self, path: str, host: str, read_only_mounts: list[bool]) -> None:
        entries = self.psp.allowed_host_paths
        if not entries:
            return
        matching = [e for e in entries if _has_prefix(host, e.path_prefix)]
        if not matching:
            self.deny("spec.allowedHostPaths", f"{path}.hostPath.pathPrefix",
                      f"Invalid value: \"{host}\": is not allowed to be used")
            return
        if all(e.read_only for e in matching) and not all(read_only_mounts):
            self.deny("spec.allowedHostPaths", f"{path}.hostPath.pathPrefix",
                      f"Invalid value: \"{host}\": must be read-only")

    def sysctls(self) -> None:
        for index, item in enumerate(_list(self.pod_sc.get("sysctls"))):
            name = str(_map(item).get("name") or "")
            path = f"spec.securityContext.sysctls[{index}].name"
            if any(_glob(p, name) for p in self.psp.forbidden_sysctls):
                self.deny("spec.forbiddenSysctls", path,
                          f"Forbidden: sysctl \"{name}\" is not allowed")
            elif name not in SAFE_SYSCTLS_1_24 and not any(
                    _glob(p, name) for p in self.psp.allowed_unsafe_sysctls):
                self.deny("spec.allowedUnsafeSysctls", path,
                          f"Forbidden: unsafe sysctl \"{name}\" is not allowed")

    def runtime_class(self) -> None:
        allowed = self.psp.allowed_runtime_classes
        name = self.spec.get("runtimeClassName")
        if allowed is None or name is None or "*" in allowed or name in allowed:
            return
        self.deny("spec.runtimeClass.allowedRuntimeClassNames", "spec.runtimeClassName",
                  f"Invalid value: \"{name}\": must be one of [{', '.join(allowed)}]")

    def se_linux_pod(self) -> None:
        options = self.pod_sc.get("seLinuxOptions")
        if options is not None:
            self.se_linux("spec.securityContext.seLinuxOptions", options)

    def se_linux(self, path: str, options: Any) -> None:
        if self.psp.se_linux_rule != MUST_RUN_AS or self.psp.se_linux_options is None:
            return
        if options is None:
            self.deny("spec.seLinux", path, "Required value")
            return
        wanted = dict(self.psp.se_linux_options)
        given = _map(options)
        for key in ("level", "role", "type", "user"):
            if str(given.get(key) or "") != wanted.get(key, ""):
                self.deny("spec.seLinux", f"{path}.{key}",
                          f"Invalid value: \"{given.get(key) or ''}\": must be "
                          f"{wanted.get(key, '')!r}")

    def seccomp_pod(self) -> None:
        profile = _pod_seccomp(self.meta, self.spec)
        self.seccomp(f"metadata.annotations[{SECCOMP_POD_ANNOTATION}]", profile)

    def seccomp(self, path: str, profile: str) -> None:
        allowed = self.psp.seccomp.allowed
        if allowed is None:
            if profile:
                self.deny(_SECCOMP_RULE, path, "Forbidden: seccomp may not be set")
            return
        if "*" in allowed or profile in allowed:
            return
        shown = profile or "<unset>"
        self.deny(_SECCOMP_RULE, path, f"Forbidden: {shown} is not an allowed seccomp "
                  f"profile. Valid values are {','.join(allowed)}")

    # -- container level ------------------------------------------------------------------

    def container(self, path: str, container: Mapping[str, Any]) -> None:
        sc = _map(container.get("securityContext"))
        name = str(container.get("name") or "")
        scpath = f"{path}.securityContext"
        if sc.get("privileged") is True and not self.psp.privileged:
            self.deny("spec.privileged", f"{scpath}.privileged",
                      "Invalid value: true: Privileged containers are not allowed")
        self.capabilities(scpath, _map(sc.get("capabilities")))
        self.run_as_user(scpath, sc)
        group = self.psp.run_as_group
        if group is not None:
            value = self.effective(sc, "runAsGroup")
            self.id_groups("spec.runAsGroup", group.rule, group.ranges, f"{scpath}.runAsGroup",
                           [] if value is None else [value])
        self.se_linux(f"{scpath}.seLinuxOptions", self.effective(sc, "seLinuxOptions"))
        if self.psp.read_only_root_filesystem and sc.get("readOnlyRootFilesystem") is not True:
            self.deny("spec.readOnlyRootFilesystem", f"{scpath}.readOnlyRootFilesystem",
                      "Invalid value: false: ReadOnlyRootFilesystem must be set to true")
        if not self.psp.allow_privilege_escalation and sc.get("allowPrivilegeEscalation") \
                is not False:
            self.deny("spec.allowPrivilegeEscalation", f"{scpath}.allowPrivilegeEscalation",
                      "Invalid value: true: Allowing privilege escalation for containers is "
                      "not allowed")
        proc_mount = sc.get("procMount")
        if proc_mount not in (None, "", "Default") and \
                proc_mount not in self.psp.allowed_proc_mount_types:
            self.deny("spec.allowedProcMountTypes", f"{scpath}.procMount",
                      f"Invalid value: \"{proc_mount}\": ProcMountType is not allowed")
        for index, port in enumerate(_list(container.get("ports"))):
            host_port = _map(port).get("hostPort")
            if host_port in (None, 0):
                continue
            if not _in_ranges(host_port, self.psp.host_ports):
                self.deny("spec.hostPorts", f"{path}.ports[{index}].hostPort",
                          f"Invalid value: {host_port}: Host port {host_port} is not allowed "
                          "to be used. Allowed ports: "
                          f"[{_ranges(self.psp.host_ports)}]")
        own = _container_seccomp(self.meta, container)
        if own is not None:
            self.seccomp(f"metadata.annotations[{SECCOMP_CONTAINER_PREFIX}{name}]", own)
        self.apparmor(name)

    def capabilities(self, scpath: str, caps: Mapping[str, Any]) -> None:
        allowed = set(self.psp.allowed_capabilities) | set(self.psp.default_add_capabilities)
        if "*" not in allowed:
            for cap in _list(caps.get("add")):
                if cap not in allowed:
                    self.deny("spec.allowedCapabilities", f"{scpath}.capabilities.add",
                              f"Invalid value: \"{cap}\": capability may not be added")
        drops = {str(c) for c in _list(caps.get("drop"))}
        for cap in self.psp.required_drop_capabilities:
            if cap not in drops:
                self.deny("spec.requiredDropCapabilities", f"{scpath}.capabilities.drop",
                          f"Required value: {cap} is required to be dropped but was not found")

    def run_as_user(self, scpath: str, sc: Mapping[str, Any]) -> None:
        strategy = self.psp.run_as_user
        user = self.effective(sc, "runAsUser")
        non_root = self.effective(sc, "runAsNonRoot")
        if strategy.rule == MUST_RUN_AS and strategy.ranges:
            if user is None:
                self.deny("spec.runAsUser", f"{scpath}.runAsUser", "Required value")
            elif not _in_ranges(user, strategy.ranges):
                self.deny("spec.runAsUser", f"{scpath}.runAsUser",
                          f"Invalid value: {user}: must be in the ranges: "
                          f"[{_ranges(strategy.ranges)}]")
        elif strategy.rule == MUST_RUN_AS_NON_ROOT:
            if non_root is False:
                self.deny("spec.runAsUser", f"{scpath}.runAsNonRoot",
                          "Invalid value: false: must be true")
            elif user == 0:
                self.deny("spec.runAsUser", f"{scpath}.runAsUser",
                          "Invalid value: 0: running with the root UID is forbidden")
            elif user is None and non_root is not True:
                self.deny("spec.runAsUser", f"{scpath}.runAsNonRoot",
                          "Required value: must be true")

    def apparmor(self, name: str) -> None:
        allowed = self.psp.apparmor.allowed
        if allowed is None:
            return
        key = APPARMOR_CONTAINER_PREFIX + name
        profile = _map(self.meta.get("annotations")).get(key)
        path = f"metadata.annotations[{key}]"
        if not profile:
            if allowed:
                self.deny(_APPARMOR_RULE, path, "Forbidden: AppArmor profile must be set")
            return
        if profile not in allowed:
            self.deny(_APPARMOR_RULE, path, f"Forbidden: {profile} is not an allowed profile. "
                      f"Allowed values: {', '.join(repr(p) for p in allowed)}")


_SECCOMP_RULE = "metadata.annotations[seccomp.security.alpha.kubernetes.io/allowedProfileNames]"
_APPARMOR_RULE = "metadata.annotations[apparmor.security.beta.kubernetes.io/allowedProfileNames]"


def token_sources_only(projected: Any) -> bool:
    """True for a projected volume holding only what a service-account token volume holds
    (the token, the kube-root-ca.crt ConfigMap, the namespace from the downward API)."""
    sources = _list(_map(projected).get("sources"))
    for source in sources:
        source = _map(source)
        if set(source) == {"serviceAccountToken"}:
            continue
        if set(source) == {"configMap"} and \
                _map(source["configMap"]).get("name") == "kube-root-ca.crt":
            continue
        if set(source) == {"downwardAPI"} and all(
                _map(_map(item).get("fieldRef")).get("fieldPath") == "metadata.namespace"
                for item in _list(_map(source["downwardAPI"]).get("items"))):
            continue
        return False
    return bool(sources)


def _has_prefix(path: str, prefix: str) -> bool:
    """PSP's allowedHostPaths match: whole path segments, trailing slashes ignored."""
    prefix = prefix.rstrip("/")
    path = path.rstrip("/")
    if not prefix:
        return True
    return path == prefix or path.startswith(prefix + "/")


def _glob(pattern: str, name: str) -> bool:
    if pattern == "*":
        return True
    if pattern.endswith("*"):
        return name.startswith(pattern[:-1])
    return name == pattern


def _pod_seccomp(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> str:
    """The pod's seccomp profile in annotation form ("" unset); the field counts like it."""
    annotation = _map(meta.get("annotations")).get(SECCOMP_POD_ANNOTATION)
    if isinstance(annotation, str) and annotation:
        return annotation
    profile = _map(_map(spec.get("securityContext")).get("seccompProfile"))
    return seccomp_annotation(profile) or ""


def _container_seccomp(meta: Mapping[str, Any], container: Mapping[str, Any]) -> str | None:
    """A container's own seccomp profile in annotation form (None: it sets none)."""
    name = str(container.get("name") or "")
    annotation = _map(meta.get("annotations")).get(SECCOMP_CONTAINER_PREFIX + name)
    if isinstance(annotation, str) and annotation:
        return annotation
    profile = _map(_map(container.get("securityContext")).get("seccompProfile"))
    return seccomp_annotation(profile) if profile else None


def validate(psp: PSPSpec, pod: Mapping[str, Any]) -> tuple[Denial, ...]:
    """Every rule of `psp` the pod (already mutated by it) breaks."""
    check = _Check(psp, pod)
    check.host_namespaces()
    check.groups()
    check.volumes()
    check.sysctls()
    check.runtime_class()
    check.se_linux_pod()
    check.seccomp_pod()
    for path, container in _containers(check.spec):
        check.container(path, container)
    return tuple(check.denials)


def _pod_shape(pod: Mapping[str, Any]) -> dict[str, Any]:
    return {"metadata": dict(_map(pod.get("metadata"))), "spec": dict(_map(pod.get("spec")))}


def admit(psp: PSPSpec, pod: Mapping[str, Any]) -> Admission:
    """What `psp` does with `pod` ({"metadata", "spec"}): mutate, then validate."""
    sent = _pod_shape(pod)
    stored = apply_defaults(defaults_of(psp), sent)
    mutated = _pod_shape(stored) != sent
    return Admission(psp.name, stored, mutated, validate(psp, stored))


def choose(psps: Iterable[PSPSpec], pod: Mapping[str, Any]) -> Choice:
    """The PSP that admits `pod`, as PSP admission picks it: the first by name that admits
    it unchanged, else the first by name that admits it after its mutations."""
    tried = tuple(admit(p, pod) for p in sorted(psps, key=lambda p: p.name))
    unchanged = next((a for a in tried if a.admitted and not a.mutated), None)
    chosen = unchanged or next((a for a in tried if a.admitted), None)
    return Choice(chosen, tried)
