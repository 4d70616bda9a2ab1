"""Reading a PodSecurityPolicy object into typed settings, and what a malformed field means.

Owns the raw-dictionary side of the package: every PSP field as the API server stores it
(camelCase, with false and empty fields often omitted), the seccomp and AppArmor
annotations, and the defaults an unset field has. Nothing here judges a level.

A malformed field (wrong type, missing where the API server requires it, out of range)
never raises. It is recorded as a `Problem` and read as its *loosest* value, so that no
analysis built on it can overstate what the PSP enforced.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SECCOMP_ALLOWED = "seccomp.security.alpha.kubernetes.io/allowedProfileNames"
SECCOMP_DEFAULT = "seccomp.security.alpha.kubernetes.io/defaultProfileName"
APPARMOR_ALLOWED = "apparmor.security.beta.kubernetes.io/allowedProfileNames"
APPARMOR_DEFAULT = "apparmor.security.beta.kubernetes.io/defaultProfileName"

RUN_AS_ANY = "RunAsAny"
MUST_RUN_AS = "MustRunAs"
MAY_RUN_AS = "MayRunAs"
MUST_RUN_AS_NON_ROOT = "MustRunAsNonRoot"

_USER_RULES = (MUST_RUN_AS, MUST_RUN_AS_NON_ROOT, RUN_AS_ANY)
_GROUP_RULES = (MUST_RUN_AS, MAY_RUN_AS, RUN_AS_ANY)
_SELINUX_RULES = (MUST_RUN_AS, RUN_AS_ANY)

#: Every port a hostPorts range can name.
ALL_PORTS = (0, 65535)

IDRange = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Problem:
    """A field the API server would reject or that has the wrong type, and how it was read."""

    field: str
    message: str


@dataclass(frozen=True, slots=True)
class IDStrategy:
    """A runAsUser/runAsGroup/fsGroup/supplementalGroups rule and its ranges."""

    rule: str
    ranges: tuple[IDRange, ...] = ()

    @property
    def first_min(self) -> int | None:
        """The minimum of the first range: what MustRunAs injects."""
        return self.ranges[0][0] if self.ranges else None


@dataclass(frozen=True, slots=True)
class HostPath:
    """One allowedHostPaths entry."""

    path_prefix: str
    read_only: bool


@dataclass(frozen=True, slots=True)
class ProfilePolicy:
    """The allowed and default profile annotations of seccomp or AppArmor.

    `allowed` is None when the allowedProfileNames annotation is absent; entries are
    stripped, and an empty entry (the trailing-comma form) is kept as "".
    """

    allowed: tuple[str, ...] | None
    default: str | None


@dataclass(frozen=True, slots=True)
class PSPSpec:
    """A PSP read into typed settings, with the problems found while reading it.

    `given` holds the spec keys the object actually sets (unset ones take their defaults).
    """

    name: str
    privileged: bool = False
    host_network: bool = False
    host_pid: bool = False
    host_ipc: bool = False
    host_ports: tuple[IDRange, ...] = ()
    allowed_capabilities: tuple[str, ...] = ()
    default_add_capabilities: tuple[str, ...] = ()
    required_drop_capabilities: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    allowed_host_paths: tuple[HostPath, ...] = ()
    allowed_flex_volumes: tuple[str, ...] = ()
    allowed_csi_drivers: tuple[str, ...] = ()
    read_only_root_filesystem: bool = False
    allow_privilege_escalation: bool = True
    default_allow_privilege_escalation: bool | None = None
    run_as_user: IDStrategy = IDStrategy(RUN_AS_ANY)
    run_as_group: IDStrategy | None = None
    supplemental_groups: IDStrategy = IDStrategy(RUN_AS_ANY)
    fs_group: IDStrategy = IDStrategy(RUN_AS_ANY)
    se_linux_rule: str = RUN_AS_ANY
    se_linux_options: tuple[tuple[str, str], ...] | None = None
    allowed_unsafe_sysctls: tuple[str, ...] = ()
    forbidden_sysctls: tuple[str, ...] = ()
    allowed_proc_mount_types: tuple[str, ...] = ()
    default_runtime_class: str | None = None
    allowed_runtime_classes: tuple[str, ...] | None = None
    seccomp: ProfilePolicy = ProfilePolicy(None, None)
    apparmor: ProfilePolicy = ProfilePolicy(None, None)
    problems: tuple[Problem, ...] = field(default=())
    given: frozenset[str] = frozenset()

    @property
    def se_linux_options_dict(self) -> dict[str, str] | None:
        return None if self.se_linux_options is None else dict(self.se_linux_options)

    def problems_for(self, path: str) -> list[Problem]:
        """Problems on the PSP field `path` belongs to, or on the object holding it."""
        root = field_root(path)
        return [
            p for p in self.problems
            if field_root(p.field) == root or p.field == "" or root.startswith(p.field + ".")
        ]


def field_root(path: str) -> str:
    """The PSP field a path is part of: `spec.runAsUser.ranges[0]` -> `spec.runAsUser`."""
    if path.startswith("metadata.annotations["):
        return path[: path.index("]") + 1] if "]" in path else path
    if path.startswith("spec."):
        return "spec." + re.split(r"[.\[]", path[len("spec."):], maxsplit=1)[0]
    return path


class _Reader:
    """Collects problems while typed values are pulled out of one raw PSP."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def note(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def boolean(self, spec: Mapping[str, Any], key: str, default: bool, loose: bool) -> bool:
        value = spec.get(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        self.note(f"spec.{key}", f"spec.{key} is {value!r}, not a boolean; read as {_js(loose)}")
        return loose

    def strings(
        self, spec: Mapping[str, Any], key: str, loose: tuple[str, ...], prefix: str = "spec"
    ) -> tuple[str, ...]:
        value = spec.get(key)
        path = f"{prefix}.{key}"
        if value is None:
            return ()
        if not isinstance(value, list):
            self.note(path, f"{path} is not a list; read as {list(loose)}")
            return loose
        out: list[str] = []
        for index, item in enumerate(value):
            if isinstance(item, str):
                out.append(item)
            else:
                self.note(f"{path}[{index}]", f"{path}[{index}] is {item!r}, not a string; ignored")
        return tuple(out)

    def mappings(self, spec: Mapping[str, Any], key: str) -> list[tuple[str, Mapping[str, Any]]]:
        value = spec.get(key)
        path = f"spec.{key}"
        if value is None:
            return []
        if not isinstance(value, list):
            self.note(path, f"{path} is not a list; ignored")
            return []
        out: list[tuple[str, Mapping[str, Any]]] = []
        for index, item in enumerate(value):
            if isinstance(item, Mapping):
                out.append((f"{path}[{index}]", item))
            else:
                self.note(f"{path}[{index}]", f"{path}[{index}] is not an object; ignored")
        return out

    def id_range(self, path: str, item: Mapping[str, Any], upper: int | None) -> IDRange | None:
        low, high = item.get("min"), item.get("max")
        if not _is_int(low) or not _is_int(high):
            self.note(path, f"{path} needs integer min and max, got {dict(item)!r}")
            return None
        assert isinstance(low, int) and isinstance(high, int)
        if low < 0 or low > high:
            self.note(path, f"{path} {low}-{high} is not a valid range (the API server rejects it)")
        if upper is not None and high > upper:
            self.note(
                f"{path}.max",
                f"{path}.max {high} exceeds {upper} (the API server rejects it)",
            )
        return (low, high)

    def id_strategy(
        self,
        spec: Mapping[str, Any],
        key: str,
        rules: tuple[str, ...],
        required: bool,
    ) -> IDStrategy | None:
        path = f"spec.{key}"
        value = spec.get(key)
        if value is None:
            if required:
                self.note(
                    path, f"{path} is missing (the API server requires it); read as RunAsAny"
                )
                return IDStrategy(RUN_AS_ANY)
            return None
        if not isinstance(value, Mapping):
            self.note(path, f"{path} is not an object; read as RunAsAny")
            return IDStrategy(RUN_AS_ANY)
        rule = value.get("rule")
        if rule not in rules:
            self.note(
                f"{path}.rule",
                f"{path}.rule is {rule!r}, not one of {', '.join(rules)}; read as RunAsAny",
            )
            return IDStrategy(RUN_AS_ANY)
        assert isinstance(rule, str)
        ranges: list[IDRange] = []
        raw_ranges = value.get("ranges")
        if raw_ranges is not None and not isinstance(raw_ranges, list):
            self.note(f"{path}.ranges", f"{path}.ranges is not a list; ignored")
            raw_ranges = None
        for index, item in enumerate(raw_ranges or []):
            item_path = f"{path}.ranges[{index}]"
            if not isinstance(item, Mapping):
                self.note(item_path, f"{item_path} is not an object; ignored")
                continue
            parsed = self.id_range(item_path, item, None)
            if parsed is not None:
                ranges.append(parsed)
        if rule in (MUST_RUN_AS, MAY_RUN_AS) and not ranges:
            self.note(
                f"{path}.ranges",
                f"{path} {rule} has no valid ranges (the API server requires one); "
                "read as RunAsAny",
            )
            return IDStrategy(RUN_AS_ANY)
        return IDStrategy(rule, tuple(ranges))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _js(value: bool) -> str:
    return "true" if value else "false"


def _profiles(
    reader: _Reader, annotations: Mapping[str, Any], allowed_key: str, default_key: str
) -> ProfilePolicy:
    allowed: tuple[str, ...] | None = None
    raw = annotations.get(allowed_key)
    path = f"metadata.annotations[{allowed_key}]"
    if raw is not None:
        if isinstance(raw, str):
            allowed = tuple(entry.strip() for entry in raw.split(","))
            if "" in allowed:
                reader.note(
                    path,
                    f"{path} has an empty entry (the 1.24 API server rejects it); "
                    "read as allowing no profile",
                )
        else:
            reader.note(path, f"{path} is not a string; read as '*'")
            allowed = ("*",)
    default: str | None = None
    raw_default = annotations.get(default_key)
    if raw_default is not None:
        if isinstance(raw_default, str) and raw_default.strip():
            default = raw_default.strip()
        else:
            reader.note(
                f"metadata.annotations[{default_key}]",
                f"metadata.annotations[{default_key}] is not a profile name; ignored",
            )
    return ProfilePolicy(allowed, default)


def _se_linux(reader: _Reader, spec: Mapping[str, Any]) -> tuple[str, dict[str, str] | None]:
    value = spec.get("seLinux")
    if value is None:
        reader.note(
            "spec.seLinux", "spec.seLinux is missing (the API server requires it); read as RunAsAny"
        )
        return RUN_AS_ANY, None
    if not isinstance(value, Mapping):
        reader.note("spec.seLinux", "spec.seLinux is not an object; read as RunAsAny")
        return RUN_AS_ANY, None
    rule = value.get("rule")
    if rule not in _SELINUX_RULES:
        reader.note(
            "spec.seLinux.rule",
            f"spec.seLinux.rule is {rule!r}, not MustRunAs or RunAsAny; read as RunAsAny",
        )
        return RUN_AS_ANY, None
    if rule == RUN_AS_ANY:
        return RUN_AS_ANY, None
    options = value.get("seLinuxOptions")
    if not isinstance(options, Mapping):
        reader.note(
            "spec.seLinux.seLinuxOptions",
            "spec.seLinux MustRunAs has no seLinuxOptions (the API server requires them); "
            "read as RunAsAny",
        )
        return RUN_AS_ANY, None
    parsed: dict[str, str] = {}
    for key in sorted(options):
        item = options[key]
        if isinstance(item, str):
            if item:
                parsed[str(key)] = item
        else:
            reader.note(
                f"spec.seLinux.seLinuxOptions.{key}",
                f"spec.seLinux.seLinuxOptions.{key} is not a string; read as type spc_t",
            )
            parsed["type"] = "spc_t"
    return MUST_RUN_AS, parsed


def _host_ports(reader: _Reader, spec: Mapping[str, Any]) -> tuple[IDRange, ...]:
    value = spec.get("hostPorts")
    if value is None:
        return ()
    if not isinstance(value, list):
        reader.note("spec.hostPorts", "spec.hostPorts is not a list; read as 0-65535")
        return (ALL_PORTS,)
    ranges: list[IDRange] = []
    for index, item in enumerate(value):
        path = f"spec.hostPorts[{index}]"
        parsed = reader.id_range(path, item, 65535) if isinstance(item, Mapping) else None
        if parsed is None:
            if not isinstance(item, Mapping):
                reader.note(path, f"{path} is not an object; read as 0-65535")
            ranges.append(ALL_PORTS)
        else:
            ranges.append(parsed)
    return tuple(ranges)


def _runtime_class(
    reader: _Reader, spec: Mapping[str, Any]
) -> tuple[str | None, tuple[str, ...] | None]:
    value = spec.get("runtimeClass")
    if value is None:
        return None, None
    if not isinstance(value, Mapping):
        reader.note("spec.runtimeClass", "spec.runtimeClass is not an object; ignored")
        return None, None
    default = value.get("defaultRuntimeClassName")
    if default is not None and not isinstance(default, str):
        reader.note(
            "spec.runtimeClass.defaultRuntimeClassName",
            "spec.runtimeClass.defaultRuntimeClassName is not a string; ignored",
        )
        default = None
    if value.get("allowedRuntimeClassNames") is None:
        return default, None
    allowed = reader.strings(value, "allowedRuntimeClassNames", ("*",), "spec.runtimeClass")
    return default, allowed


def read_psp(psp: Any) -> PSPSpec:
    """Read a PSP dictionary (as served by the API server) into a `PSPSpec`. Never raises."""
    reader = _Reader()
    if not isinstance(psp, Mapping):
        reader.note("", "the PodSecurityPolicy is not an object")
        psp = {}
    kind = psp.get("kind")
    if kind is not None and kind != "PodSecurityPolicy":
        reader.note("kind", f"kind is {kind!r}, not PodSecurityPolicy")
    metadata = psp.get("metadata")
    if not isinstance(metadata, Mapping):
        metadata = {}
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        reader.note("metadata.name", "metadata.name is missing")
        name = ""
    annotations = metadata.get("annotations")
    if annotations is None:
        annotations = {}
    elif not isinstance(annotations, Mapping):
        reader.note(
            "metadata.annotations",
            "metadata.annotations is not an object; read as seccomp '*' and no AppArmor limit",
        )
        annotations = {SECCOMP_ALLOWED: "*"}
    spec = psp.get("spec")
    if spec is None:
        reader.note("spec", "spec is missing; every field is read as its loosest value")
        spec = {}
    elif not isinstance(spec, Mapping):
        reader.note("spec", "spec is not an object; every field is read as its loosest value")
        spec = {}
    se_linux_rule, se_linux_options = _se_linux(reader, spec)
    default_runtime_class, allowed_runtime_classes = _runtime_class(reader, spec)
    dape = spec.get("defaultAllowPrivilegeEscalation")
    if dape is not None and not isinstance(dape, bool):
        reader.note(
            "spec.defaultAllowPrivilegeEscalation",
            "spec.defaultAllowPrivilegeEscalation is not a boolean; ignored",
        )
        dape = None
    return PSPSpec(
        name=name,
        privileged=reader.boolean(spec, "privileged", False, True),
        host_network=reader.boolean(spec, "hostNetwork", False, True),
        host_pid=reader.boolean(spec, "hostPID", False, True),
        host_ipc=reader.boolean(spec, "hostIPC", False, True),
        host_ports=_host_ports(reader, spec),
        allowed_capabilities=reader.strings(spec, "allowedCapabilities", ("*",)),
        default_add_capabilities=reader.strings(spec, "defaultAddCapabilities", ()),
        required_drop_capabilities=reader.strings(spec, "requiredDropCapabilities", ()),
        volumes=reader.strings(spec, "volumes", ("*",)),
        allowed_host_paths=tuple(
            HostPath(str(item.get("pathPrefix", "")), item.get("readOnly") is True)
            for _, item in reader.mappings(spec, "allowedHostPaths")
        ),
        allowed_flex_volumes=tuple(
            str(item.get("driver", "")) for _, item in reader.mappings(spec, "allowedFlexVolumes")
        ),
        allowed_csi_drivers=tuple(
            str(item.get("name", "")) for _, item in reader.mappings(spec, "allowedCSIDrivers")
        ),
        read_only_root_filesystem=reader.boolean(spec, "readOnlyRootFilesystem", False, False),
        allow_privilege_escalation=reader.boolean(spec, "allowPrivilegeEscalation", True, True),
        default_allow_privilege_escalation=dape,
        run_as_user=reader.id_strategy(spec, "runAsUser", _USER_RULES, True)
        or IDStrategy(RUN_AS_ANY),
        run_as_group=reader.id_strategy(spec, "runAsGroup", _GROUP_RULES, False),
        supplemental_groups=reader.id_strategy(spec, "supplementalGroups", _GROUP_RULES, True)
        or IDStrategy(RUN_AS_ANY),
        fs_group=reader.id_strategy(spec, "fsGroup", _GROUP_RULES, True)
        or IDStrategy(RUN_AS_ANY),
        se_linux_rule=se_linux_rule,
        se_linux_options=None if se_linux_options is None else tuple(se_linux_options.items()),
        allowed_unsafe_sysctls=reader.strings(spec, "allowedUnsafeSysctls", ("*",)),
        forbidden_sysctls=reader.strings(spec, "forbiddenSysctls", ()),
        allowed_proc_mount_types=reader.strings(spec, "allowedProcMountTypes", ("Unmasked",)),
        default_runtime_class=default_runtime_class,
        allowed_runtime_classes=allowed_runtime_classes,
        seccomp=_profiles(reader, annotations, SECCOMP_ALLOWED, SECCOMP_DEFAULT),
        apparmor=_profiles(reader, annotations, APPARMOR_ALLOWED, APPARMOR_DEFAULT),
        problems=tuple(sorted(reader.problems, key=lambda p: (p.field, p.message))),
        given=frozenset(str(key) for key, value in spec.items() if value is not None),
    )
