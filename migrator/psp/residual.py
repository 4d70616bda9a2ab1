"""The PSP rules Pod Security does not enforce, written as CEL over the pod being admitted.

Owns `residual_rules`: for one read PSP and the Pod Security level (and version) a namespace
will enforce, every validation of the PSP that the level does not already imply, each as a
`ResidualRule` whose `violations` is a CEL list naming what in the pod PSP admission
(`../shared/research/psp-semantics.md`, the 1.24 provider) would have refused on that
field (empty: admitted); and `compose`, which turns the PSPs usable in a namespace
(`Alternative`s: every pod, some service accounts, some requesting users or groups) into one
policy's variables and validations, each with a `messageExpression` naming the PSP, the
field, the allowed values and what the pod has instead. `not_expressed` names what is
deliberately not a rule: defaults (the securityContext patches make them explicit) and a
PSP without seccomp annotations forbidding every profile.

Expressions follow PSP exactly: a field the PSP would have defaulted (runAsUser with
MustRunAs, fsGroup, readOnlyRootFilesystem, profiles with a default, ...) passes when
absent, ranges are inclusive, `*` and `prefix*` sysctl patterns are wildcards, profile
names are literal, host paths match by path segment (a path with a `..` segment never
matches, as the cleaned path could lie anywhere), read-only host paths require every mount
of the volume in init and regular containers to be read-only, and container rules cover
init, regular and ephemeral containers (profiles: init and regular, as PSP defaulted them).
Every optional field is guarded with `has()`, so that no expression errors (an error
denies, with failurePolicy Fail). Expressions refer to the policy variables of `VARIABLES`.

Pure: no I/O, no CEL library (the proof lives with the plan).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from migrator.psp.podview import BASELINE_CAPABILITIES, RESTRICTED_CAPABILITY, RESTRICTED_VOLUMES
from migrator.psp.rules import APPARMOR_FIELD, SECCOMP_FIELD, format_ranges
from migrator.psp.spec import MAY_RUN_AS, MUST_RUN_AS, MUST_RUN_AS_NON_ROOT, IDRange, PSPSpec
from migrator.pss.api import Level, Version
from migrator.pss.checks.sysctls import SAFE_V1_0, SAFE_V1_27, SAFE_V1_29, SAFE_V1_32, SAFE_V1_37

#: The policy variables the expressions use, in declaration order (name, CEL).
VARIABLES: tuple[tuple[str, str], ...] = (
    ("containers", "object.spec.containers + (has(object.spec.initContainers) ? "
                   "object.spec.initContainers : [])"),
    ("ephemeralContainers", "has(object.spec.ephemeralContainers) ? "
                            "object.spec.ephemeralContainers : []"),
    ("volumes", "has(object.spec.volumes) ? object.spec.volumes : []"),
    ("serviceAccount", "has(object.spec.serviceAccountName) ? object.spec.serviceAccountName "
                       ': "default"'),
    ("annotations", "has(object.metadata.annotations) ? object.metadata.annotations : {}"),
)

#: Every volume type PSP knows, as the pod spells it (PSP spells cephfs `cephFS`).
VOLUME_TYPES = (
    "awsElasticBlockStore", "azureDisk", "azureFile", "cephfs", "cinder", "configMap", "csi",
    "downwardAPI", "emptyDir", "ephemeral", "fc", "flexVolume", "flocker", "gcePersistentDisk",
    "gitRepo", "glusterfs", "hostPath", "iscsi", "nfs", "persistentVolumeClaim",
    "photonPersistentDisk", "portworxVolume", "projected", "quobyte", "rbd", "scaleIO", "secret",
    "storageos", "vsphereVolume",
)
_PSP_SPELLING = {"cephfs": "cephFS"}

#: The sysctls PSP (1.24) treated as safe, whatever its allow-lists said.
PSP_SAFE_SYSCTLS = SAFE_V1_0

#: A path segment `..`: the path PSP cleaned could lie outside any prefix.
_DOT_DOT = '"(^|/)[.][.](/|$)"'


@dataclass(frozen=True, slots=True)
class ResidualRule:
    """One PSP validation as CEL. `violations` is a CEL list of strings: what in the pod PSP
    would have refused on `field` (empty: admitted), named for the message."""

    psp: str
    field: str
    allowed: str
    violations: str

    def to_dict(self) -> dict[str, Any]:
        return {"allowed": self.allowed, "field": self.field, "violations": self.violations}


@dataclass(frozen=True, slots=True)
class NotExpressed:
    """A PSP field that gets no validation, and why."""

    psp: str
    field: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "psp": self.psp, "reason": self.reason}


def lit(text: str) -> str:
    """A CEL string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def lits(items: Iterable[str]) -> str:
    return "[" + ", ".join(lit(i) for i in sorted(set(items))) + "]"


def _safe_sysctls(version: Version) -> frozenset[str]:
    minor = version.effective_minor()
    for since, names in ((37, SAFE_V1_37), (32, SAFE_V1_32), (29, SAFE_V1_29), (27, SAFE_V1_27)):
        if minor >= since:
            return names
    return SAFE_V1_0


# -- CEL building blocks ---------------------------------------------------------------------


def _sc_has(obj: str, key: str) -> str:
    return f"has({obj}.securityContext) && has({obj}.securityContext.{key})"


def _failing_containers(body: Callable[[str], str], shown: Callable[[str], str]) -> str:
    """CEL: `shown(c)` for every init, regular and ephemeral container failing `body(c)`."""
    return (f"variables.containers.filter(c, !({body('c')})).map(c, {shown('c')}) + "
            f"variables.ephemeralContainers.filter(c, !({body('c')})).map(c, {shown('c')})")


def _in_ranges(value: str, ranges: tuple[IDRange, ...]) -> str:
    parts = [f"{value} == {lo}" if lo == hi else f"({value} >= {lo} && {value} <= {hi})"
             for lo, hi in ranges]
    return "(" + " || ".join(parts) + ")" if parts else "false"


def _effective(c: str, key: str, test: Callable[[str], str]) -> str:
    """`test` on the container's value of `key`, else the pod's, else true (PSP defaults it)."""
    pod = "object.spec"
    return (f"(({_sc_has(c, key)}) ? {test(f'{c}.securityContext.{key}')} : "
            f"(({_sc_has(pod, key)}) ? {test(f'{pod}.securityContext.{key}')} : true))")


def _container_rule(psp: str, field: str, allowed: str, body: Callable[[str], str],
                    shown: Callable[[str], str] = lambda c: f"{c}.name") -> ResidualRule:
    return ResidualRule(psp, field, allowed, _failing_containers(body, shown))


def _windows_only(rule: ResidualRule) -> ResidualRule:
    """The rule for Windows pods only: restricted enforces it on every other pod, but skips
    Windows pods (`spec.os.name: windows`) for capabilities and allowPrivilegeEscalation."""
    windows = 'has(object.spec.os) && object.spec.os.name == "windows"'
    return ResidualRule(rule.psp, rule.field, f"{rule.allowed} (Windows pods)",
                        f"({windows}) ? {rule.violations} : []")


def _volume_rule(psp: str, field: str, allowed: str, ok: str, shown: str) -> ResidualRule:
    return ResidualRule(psp, field, allowed,
                        f"variables.volumes.filter(v, !({ok})).map(v, {shown})")


# -- the rules, field by field ---------------------------------------------------------------


def _flags(psp: PSPSpec, level: Level) -> Iterator[ResidualRule]:
    if level != Level.PRIVILEGED:
        return  # baseline forbids privileged containers, host namespaces and host ports
    name = psp.name
    if not psp.privileged:
        def body(c: str) -> str:
            return f"!({_sc_has(c, 'privileged')} && {c}.securityContext.privileged)"
        yield _container_rule(name, "spec.privileged", "no privileged container", body)
    for key, on in (("hostNetwork", psp.host_network), ("hostPID", psp.host_pid),
                    ("hostIPC", psp.host_ipc)):
        if not on:
            yield ResidualRule(
                name, f"spec.{key}", f"{key}: false",
                f'(has(object.spec.{key}) && object.spec.{key}) ? ["{key}: true"] : []')
    ports = psp.host_ports
    if not any(lo <= 0 and hi >= 65535 for lo, hi in ports):
        allowed = f"host ports {format_ranges(ports)}" if ports else "no host port"

        def port_ok(p: str) -> str:
            value = f"{p}.hostPort"
            allowed = f" || {_in_ranges(value, ports)}" if ports else ""
            return f"(!has({value}) || {value} == 0{allowed})"

        def body(c: str) -> str:
            return f"!has({c}.ports) || {c}.ports.all(p, {port_ok('p')})"

        def shown(c: str) -> str:
            return (f'{c}.name + "=" + {c}.ports.filter(p, !{port_ok("p")})'
                    '.map(p, string(p.hostPort)).join("/")')
        yield _container_rule(name, "spec.hostPorts", allowed, body, shown)
    if "Unmasked" not in psp.allowed_proc_mount_types:
        def proc_ok(c: str) -> str:
            return (f"!({_sc_has(c, 'procMount')}) || "
                    f'{c}.securityContext.procMount == "Default"')
        yield _container_rule(name, "spec.allowedProcMountTypes", "procMount Default", proc_ok,
                              lambda c: f'{c}.name + "=" + {c}.securityContext.procMount')


def _capabilities(psp: PSPSpec, level: Level) -> Iterator[ResidualRule]:
    allowed = set(psp.allowed_capabilities) | set(psp.default_add_capabilities)
    if "*" in allowed:
        return
    if level == Level.BASELINE and BASELINE_CAPABILITIES <= allowed:
        return
    windows_only = level == Level.RESTRICTED and RESTRICTED_CAPABILITY in allowed
    if windows_only and BASELINE_CAPABILITIES <= allowed:
        return  # restricted skips Windows pods, whose baseline check still holds
    names = lits(allowed)

    def adds(c: str) -> str:
        return (f"{_sc_has(c, 'capabilities')} && "
                f"has({c}.securityContext.capabilities.add)")

    def body(c: str) -> str:
        return f"!({adds(c)}) || {c}.securityContext.capabilities.add.all(x, x in {names})"

    def shown(c: str) -> str:
        return (f'{c}.name + "=" + {c}.securityContext.capabilities.add'
                f'.filter(x, !(x in {names})).join("/")')
    text = ", ".join(sorted(allowed)) if allowed else "no added capability"
    rule = _container_rule(psp.name, "spec.allowedCapabilities", text, body, shown)
    yield _windows_only(rule) if windows_only else rule


def _volume_types(psp: PSPSpec, level: Level) -> Iterator[ResidualRule]:
    if "*" in psp.volumes:
        return
    allowed = {v for v in VOLUME_TYPES if _PSP_SPELLING.get(v, v) in psp.volumes}
    level_allows = {
        Level.PRIVILEGED: set(VOLUME_TYPES),
        Level.BASELINE: set(VOLUME_TYPES) - {"hostPath"},
        Level.RESTRICTED: set(RESTRICTED_VOLUMES),
    }[level]
    if level_allows <= allowed:
        return
    kinds = " || ".join(f"has(v.{t})" for t in sorted(allowed)) or "false"
    text = ", ".join(sorted(psp.volumes)) if psp.volumes else "no volume"
    yield _volume_rule(psp.name, "spec.volumes", text, kinds, "v.name")


def _matches_prefix(path: str, prefix: str) -> str:
    clean = prefix.rstrip("/") or "/"
    if clean == "/":
        return f'{path}.startsWith("/")'
    return f"({path} == {lit(clean)} || {path}.startsWith({lit(clean + '/')}))"


def _host_paths(psp: PSPSpec, level: Level) -> Iterator[ResidualRule]:
    if level != Level.PRIVILEGED or not psp.allowed_host_paths:
        return  # baseline forbids hostPath volumes
    if "*" not in psp.volumes and "hostPath" not in psp.volumes:
        return  # the volume-type rule already forbids them
    path = "v.hostPath.path"
    clean = f"!{path}.matches({_DOT_DOT})"
    writable = [h.path_prefix for h in psp.allowed_host_paths if not h.read_only]
    read_only = [h.path_prefix for h in psp.allowed_host_paths if h.read_only]
    rw = " || ".join(_matches_prefix(path, p) for p in writable) or "false"
    ro = " || ".join(_matches_prefix(path, p) for p in read_only) or "false"
    mounts_ro = ("variables.containers.all(c, !has(c.volumeMounts) || c.volumeMounts.all(m, "
                 "m.name != v.name || (has(m.readOnly) && m.readOnly)))")
    ok = f"({clean} && (({rw}) || (({ro}) && {mounts_ro})))"
    text = ", ".join(f"{h.path_prefix}{' (read-only)' if h.read_only else ''}"
                     for h in psp.allowed_host_paths)
    yield _volume_rule(psp.name, "spec.allowedHostPaths", text, f"!has(v.hostPath) || {ok}",
                       'v.name + "=" + v.hostPath.path')


def _drivers(psp: PSPSpec, level: Level) -> Iterator[ResidualRule]:
    lists = (("flexVolume", "spec.allowedFlexVolumes", psp.allowed_flex_volumes),
             ("csi", "spec.allowedCSIDrivers", psp.allowed_csi_drivers))
    for kind, field, drivers in lists:
        if not drivers or ("*" not in psp.volumes and kind not in psp.volumes):
            continue
        if kind == "flexVolume" and level == Level.RESTRICTED:
            continue  # restricted forbids flexVolume volumes
        names = lits(drivers)
        ok = f"(!has(v.{kind}) || v.{kind}.driver in {names})"
        text = ", ".join(sorted(set(drivers)))
        yield _volume_rule(psp.name, field, text, ok, f'v.name + "=" + v.{kind}.driver')


def _container_settings(psp: PSPSpec, level: Level) -> Iterator[ResidualRule]:
    name = psp.name
    if psp.read_only_root_filesystem:
        def rofs(c: str) -> str:
            key = "readOnlyRootFilesystem"
            return f"!({_sc_has(c, key)}) || {c}.securityContext.{key}"
        yield _container_rule(name, "spec.readOnlyRootFilesystem",
                              "readOnlyRootFilesystem: true (unset is defaulted)", rofs)
    if not psp.allow_privilege_escalation:
        def escalation(c: str) -> str:
            key = "allowPrivilegeEscalation"
            return f"!({_sc_has(c, key)}) || !{c}.securityContext.{key}"
        rule = _container_rule(name, "spec.allowPrivilegeEscalation",
                               "allowPrivilegeEscalation: false (unset is defaulted)",
                               escalation)
        yield _windows_only(rule) if level == Level.RESTRICTED else rule
    if psp.allowed_runtime_classes is not None and "*" not in psp.allowed_runtime_classes:
        names = lits(psp.allowed_runtime_classes)
        text = ", ".join(sorted(set(psp.allowed_runtime_classes))) or "no runtime class"
        field = "spec.runtimeClass.allowedRuntimeClassNames"
        rc = "object.spec.runtimeClassName"
        yield ResidualRule(name, field, text, f"(has({rc}) && !({rc} in {names})) ? [{rc}] : []")


def _users(psp: PSPSpec, level: Level) -> Iterator[ResidualRule]:
    name, user = psp.name, psp.run_as_user
    if user.rule == MUST_RUN_AS:
        ranges = user.ranges
        text = f"UIDs {format_ranges(ranges)}"

        def in_range(c: str) -> str:
            return _effective(c, "runAsUser", lambda v: _in_ranges(v, ranges))
        yield _container_rule(name, "spec.runAsUser", text, in_range)
    elif user.rule == MUST_RUN_AS_NON_ROOT and level != Level.RESTRICTED:
        def non_root(c: str) -> str:
            return (_effective(c, "runAsNonRoot", lambda v: v) + " && "
                    + _effective(c, "runAsUser", lambda v: f"{v} != 0"))
        yield _container_rule(name, "spec.runAsUser",
                              "MustRunAsNonRoot: no UID 0, runAsNonRoot not false", non_root)
    group = psp.run_as_group
    if group is not None and group.rule in (MUST_RUN_AS, MAY_RUN_AS):
        granges = group.ranges

        def group_ok(c: str) -> str:
            return _effective(c, "runAsGroup", lambda v: _in_ranges(v, granges))
        yield _container_rule(name, "spec.runAsGroup", f"GIDs {format_ranges(granges)}",
                              group_ok)


def _groups(psp: PSPSpec, level: Level) -> Iterator[ResidualRule]:
    name = psp.name
    fs = psp.fs_group
    if fs.rule in (MUST_RUN_AS, MAY_RUN_AS):
        value = "object.spec.securityContext.fsGroup"
        text = f"fsGroup {format_ranges(fs.ranges)}"
        bad = f"{_sc_has('object.spec', 'fsGroup')} && !{_in_ranges(value, fs.ranges)}"
        yield ResidualRule(name, "spec.fsGroup", text, f"({bad}) ? [string({value})] : []")
    sup = psp.supplemental_groups
    if sup.rule in (MUST_RUN_AS, MAY_RUN_AS):
        groups = "object.spec.securityContext.supplementalGroups"
        text = f"supplementalGroups {format_ranges(sup.ranges)}"
        ok = _in_ranges("g", sup.ranges)
        yield ResidualRule(
            name, "spec.supplementalGroups", text,
            f"({_sc_has('object.spec', 'supplementalGroups')}) ? "
            f"{groups}.filter(g, !{ok}).map(g, string(g)) : []")


_SELINUX_KEYS = ("level", "role", "type", "user")


def _selinux(psp: PSPSpec, level: Level) -> Iterator[ResidualRule]:
    if psp.se_linux_rule != MUST_RUN_AS or psp.se_linux_options is None:
        return
    options = dict(psp.se_linux_options)

    def equal(obj: str) -> str:
        opts = f"{obj}.securityContext.seLinuxOptions"
        parts = []
        for key in _SELINUX_KEYS:
            want = options.get(key, "")
            if want:
                parts.append(f"has({opts}.{key}) && {opts}.{key} == {lit(want)}")
            else:
                parts.append(f'(!has({opts}.{key}) || {opts}.{key} == "")')
        return f"(!({_sc_has(obj, 'seLinuxOptions')}) || ({' && '.join(parts)}))"

    pod = equal("object.spec")
    text = ", ".join(f"{k} {options[k]}" for k in sorted(options)) or "empty seLinuxOptions"
    field = "spec.seLinux.seLinuxOptions"
    containers = _failing_containers(equal, lambda c: f"{c}.name")
    yield ResidualRule(psp.name, field, f"exactly {text}", f'({pod} ? [] : ["pod"]) + {containers}')


def _pattern(name: str, pattern: str) -> str:
    if pattern == "*":
        return "true"
    if pattern.endswith("*"):
        return f"{name}.startsWith({lit(pattern[:-1])})"
    return f"{name} == {lit(pattern)}"


def _sysctl_allows(psp: PSPSpec, sysctl: str) -> bool:
    def match(pattern: str) -> bool:
        return pattern == "*" or (sysctl.startswith(pattern[:-1]) if pattern.endswith("*")
                                  else sysctl == pattern)
    if any(match(p) for p in psp.forbidden_sysctls):
        return False
    return sysctl in PSP_SAFE_SYSCTLS or any(match(p) for p in psp.allowed_unsafe_sysctls)


def _sysctls(psp: PSPSpec, level: Level, version: Version) -> Iterator[ResidualRule]:
    if level == Level.PRIVILEGED:
        if not psp.forbidden_sysctls and "*" in psp.allowed_unsafe_sysctls:
            return
    elif all(_sysctl_allows(psp, s) for s in _safe_sysctls(version)):
        return  # the level admits only sysctls the PSP admitted too
    admitted = [f"s.name in {lits(PSP_SAFE_SYSCTLS)}",
                *(_pattern("s.name", p) for p in psp.allowed_unsafe_sysctls)]
    ok = f"({' || '.join(admitted)})"
    if psp.forbidden_sysctls:
        forbidden = " || ".join(_pattern("s.name", p) for p in psp.forbidden_sysctls)
        ok = f"(!({forbidden}) && {ok})"
    unsafe = sorted(psp.allowed_unsafe_sysctls)
    parts = ["the safe sysctls" + "".join(f", {u}" for u in unsafe)]
    if psp.forbidden_sysctls:
        parts.append(f"none of {', '.join(sorted(psp.forbidden_sysctls))}")
    text = " but ".join(parts)
    field = ("spec.forbiddenSysctls" if psp.forbidden_sysctls and not psp.allowed_unsafe_sysctls
             else "spec.allowedUnsafeSysctls")
    sysctls = "object.spec.securityContext.sysctls"
    yield ResidualRule(
        psp.name, field, text,
        f"({_sc_has('object.spec', 'sysctls')}) ? {sysctls}.filter(s, !{ok}).map(s, s.name) : []")


_SECCOMP_POD = "seccomp.security.alpha.kubernetes.io/pod"
_SECCOMP_CONTAINER = "container.seccomp.security.alpha.kubernetes.io/"
_APPARMOR_CONTAINER = "container.apparmor.security.beta.kubernetes.io/"


def _profile_name(profile: str, unconfined_otherwise: bool) -> str:
    """CEL: the annotation value a seccompProfile or appArmorProfile field stands for."""
    local = f'"localhost/" + (has({profile}.localhostProfile) ? {profile}.localhostProfile : "")'
    last = '"unconfined"' if unconfined_otherwise else \
        f'({profile}.type == "Unconfined" ? "unconfined" : "")'
    return (f'({profile}.type == "RuntimeDefault" ? "runtime/default" : '
            f'({profile}.type == "Localhost" ? {local} : {last}))')


def _annotation_or(key: str, otherwise: str) -> str:
    return f"({key} in variables.annotations ? variables.annotations[{key}] : {otherwise})"


def _field_or(obj: str, field: str, seccomp: bool, otherwise: str) -> str:
    profile = f"{obj}.securityContext.{field}"
    return f"(({_sc_has(obj, field)}) ? {_profile_name(profile, not seccomp)} : {otherwise})"


def _profile_rule(psp: PSPSpec, field: str, allowed: tuple[str, ...], default: str | None,
                  seccomp: bool) -> ResidualRule:
    """Each (init and regular) container's profile, as PSP read it (the annotation, else the
    field, else the pod's for seccomp and AppArmor's pod-level field), must be listed; an
    unset one passes only where the PSP injects a default."""
    names = lits(p for p in allowed if p)
    unset_ok = "true" if default is not None or "" in allowed else "false"
    key_of = _SECCOMP_CONTAINER if seccomp else _APPARMOR_CONTAINER
    pod = '""'
    if seccomp:
        pod = _annotation_or(lit(_SECCOMP_POD),
                             _field_or("object.spec", "seccompProfile", True, '""'))
    else:
        pod = _field_or("object.spec", "appArmorProfile", False, '""')
    key = "seccompProfile" if seccomp else "appArmorProfile"

    def effective(c: str) -> str:
        return _annotation_or(f"{lit(key_of)} + {c}.name", _field_or(c, key, seccomp, pod))

    def allowed_value(value: str) -> str:
        return f'({value} == "" ? {unset_ok} : {value} in {names})'

    text = ", ".join(sorted(p for p in allowed if p)) or "no profile"
    if default is not None:
        text += f" (unset gets {default})"
    def shown(value: str) -> str:
        return f'({value} == "" ? "unset" : {value})'

    violations = (f"variables.containers.filter(c, !{allowed_value(effective('c'))})"
                  f'.map(c, c.name + "=" + {shown(effective("c"))})')
    if seccomp:
        violations = f'(!{allowed_value(pod)} ? ["pod=" + {shown(pod)}] : []) + {violations}'
    return ResidualRule(psp.name, field, text, violations)


def _profiles(psp: PSPSpec, level: Level) -> Iterator[ResidualRule]:
    """Profile allow-lists name profiles literally (`localhost/*` is a name, not a pattern,
    for AppArmor): no level implies them."""
    seccomp = psp.seccomp.allowed
    if seccomp is not None and "*" not in seccomp:
        yield _profile_rule(psp, SECCOMP_FIELD, seccomp, psp.seccomp.default, True)
    apparmor = psp.apparmor.allowed
    if apparmor is not None:
        yield _profile_rule(psp, APPARMOR_FIELD, apparmor, psp.apparmor.default, False)


def residual_rules(psp: PSPSpec, level: Level, version: Version) -> list[ResidualRule]:
    """Every validation of `psp` that enforcing `level` at `version` does not imply."""
    found = [
        *_flags(psp, level), *_capabilities(psp, level), *_volume_types(psp, level),
        *_host_paths(psp, level), *_drivers(psp, level), *_container_settings(psp, level),
        *_users(psp, level), *_groups(psp, level), *_selinux(psp, level),
        *_sysctls(psp, level, version), *_profiles(psp, level),
    ]
    return sorted(found, key=lambda r: r.field)


def not_expressed(psp: PSPSpec) -> list[NotExpressed]:
    """PSP fields that restrict pods but get no validation here, and why."""
    out = []
    if psp.seccomp.allowed is None:
        out.append(NotExpressed(psp.name, SECCOMP_FIELD,
                                "no seccomp annotation: PSP let pods set no profile at all; "
                                "not kept, since Pod Security (and restricted) asks for one"))
    if psp.required_drop_capabilities:
        out.append(NotExpressed(psp.name, "spec.requiredDropCapabilities",
                                "a default PSP merged into every container: the securityContext "
                                "patches make it explicit"))
    return out


# -- one policy from the PSPs usable in a namespace ------------------------------------------


@dataclass(frozen=True, slots=True)
class Alternative:
    """A PSP usable in a namespace, and its residual rules there.

    Usable by every pod (`service_accounts` None), or by the pods of the named service
    accounts and by the pods that the named users and groups create themselves (PSP
    admission let the requester's own grants count as well as the pod's service account's).
    """

    psp: str
    service_accounts: tuple[str, ...] | None
    rules: tuple[ResidualRule, ...]
    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    def condition(self) -> str | None:
        if self.service_accounts is None:
            return None
        parts = []
        if self.service_accounts:
            parts.append(f"variables.serviceAccount in {lits(self.service_accounts)}")
        if self.users:
            parts.append(f"request.userInfo.username in {lits(self.users)}")
        if self.groups:
            parts.append(f"request.userInfo.groups.exists(g, g in {lits(self.groups)})")
        return " || ".join(parts) or "false"


@dataclass(frozen=True, slots=True)
class Validation:
    """One validation of a policy: rule `field` of `psp`, given the other alternatives."""

    psp: str
    field: str
    expression: str
    message_expression: str


@dataclass(frozen=True, slots=True)
class Composed:
    """The variables (name, CEL) and validations of one residual policy."""

    variables: tuple[tuple[str, str], ...]
    validations: tuple[Validation, ...]


def _identifier(words: str, taken: set[str]) -> str:
    """A CEL identifier in lowerCamelCase from `words` (any separators), unique in `taken`."""
    parts = "".join(ch if ch.isalnum() else " " for ch in words).split()
    base = "".join(p[:1].upper() + p[1:] for p in parts)
    base = (base[:1].lower() + base[1:]) or "rule"
    if not base[0].isalpha():
        base = "psp" + base[:1].upper() + base[1:]
    out, n = base, 2
    while out in taken:
        out, n = f"{base}{n}", n + 1
    taken.add(out)
    return out


def short_field(field: str) -> str:
    """`spec.volumes` -> `volumes`; the profile annotations -> `seccomp profiles`, ..."""
    if field == SECCOMP_FIELD:
        return "seccomp profiles"
    if field == APPARMOR_FIELD:
        return "AppArmor profiles"
    return field.removeprefix("spec.")


def _message(rule: ResidualRule, variable: str, others: list[str]) -> str:
    head = lit(f"PodSecurityPolicy {rule.psp}: {rule.field} allows {rule.allowed}, got: ")
    tail = ""
    if others:
        tail = " + " + lit(" (nor does any other PodSecurityPolicy usable here admit the pod: "
                           + ", ".join(others) + ")")
    return f'{head} + variables.{variable}.join(", "){tail}'


def compose(alternatives: Iterable[Alternative]) -> Composed | None:
    """See `_compose`; namespaces sharing their PSPs ask for the same policy, built once."""
    return _compose(tuple(alternatives))


@functools.lru_cache(maxsize=4096)
def _compose(alternatives: tuple[Alternative, ...]) -> Composed | None:
    """The policy that admits a pod when any alternative usable by it would have, as PSP
    admission did; None when some PSP usable by every pod has no residual rule (nothing to
    keep). A pod no alternative applies to passes: PSP admitted nothing, so nothing is kept.

    Each rule's violations become a variable; a validation of rule R of PSP P reads `R has
    no violation || P is not usable || some other usable PSP admits the pod`, so that the
    conjunction of all validations is the disjunction of the alternatives.
    """
    alts = list(alternatives)
    if not alts or any(a.service_accounts is None and not a.rules for a in alts):
        return None
    taken = {name for name, _ in VARIABLES}
    rule_vars = {(a.psp, r.field): _identifier(f"{a.psp} {short_field(r.field)}", taken)
                 for a in alts for r in a.rules}
    extra = [(rule_vars[(a.psp, r.field)], r.violations) for a in alts for r in a.rules]
    admitted: dict[str, str] = {}
    if len(alts) > 1:
        for alt in alts:
            name = _identifier(f"admitted by {alt.psp}", taken)
            admitted[alt.psp] = name
            parts = [f"({c})" for c in (alt.condition(),) if c]
            parts += [f"variables.{rule_vars[(alt.psp, r.field)]}.size() == 0" for r in alt.rules]
            extra.append((name, " && ".join(parts) or "true"))
    validations = []
    for alt in alts:
        others = [a.psp for a in alts if a.psp != alt.psp]
        escape = [f"!({alt.condition()})"] if alt.condition() else []
        escape += [f"variables.{admitted[o]}" for o in others]
        for rule in alt.rules:
            variable = rule_vars[(alt.psp, rule.field)]
            expression = " || ".join([f"variables.{variable}.size() == 0", *escape])
            validations.append(Validation(alt.psp, rule.field, expression,
                                          _message(rule, variable, others)))
    used = " ".join([e for _, e in extra] + [v.expression for v in validations])
    base = tuple((n, e) for n, e in VARIABLES if f"variables.{n}" in used)
    return Composed(base + tuple(extra), tuple(validations))
