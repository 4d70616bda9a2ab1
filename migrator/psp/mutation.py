"""What a PodSecurityPolicy injects into the pods it admits, and which pod changes it explains.

Owns the PSP's defaults as observed on a 1.24 API server (see
`../shared/apiserver/v1.24/pod-create-sa-mutated.json`): each is a `Default` naming the
pod field, the value and when it applies. `apply_defaults` replays them on a pod or pod
template exactly as PSP admission did (templates are never mutated by PSP; running pods
are). `explains` compares a workload's template with one of its running pods and says
which security-relevant differences the PSP's defaults account for, which the API server
itself made (seccomp/AppArmor annotation and field syncing, the service-account token
volume), and which came from some other mutating admission.

In paths, `spec.containers[*]` stands for every init and regular container, and
`<container>` in an annotation key for each container's name.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from migrator.model.serialise import sorted_json
from migrator.model.workloads import PodTemplate, pod_template
from migrator.psp.spec import (
    MUST_RUN_AS,
    MUST_RUN_AS_NON_ROOT,
    PSPSpec,
    read_psp,
)
from migrator.pss.api import (
    APPARMOR_CONTAINER_PREFIX,
    SECCOMP_CONTAINER_PREFIX,
    SECCOMP_POD_ANNOTATION,
)
from migrator.pss.server import seccomp_field

CONTAINERS = "spec.containers[*].securityContext."
APPARMOR_ANNOTATION = f"metadata.annotations[{APPARMOR_CONTAINER_PREFIX}<container>]"
SECCOMP_ANNOTATION = f"metadata.annotations[{SECCOMP_POD_ANNOTATION}]"

#: How each kind of default decides whether to apply.
MODES = {
    "pod": "set on the pod when the pod leaves it unset",
    "container": "set on each container that leaves it unset",
    "effective": "set on each container when neither the container nor the pod sets it",
    "no-user": "set on each container when neither it nor the pod sets runAsNonRoot or runAsUser",
    "union": "merged into each container's list",
    "add": "added to each container's list unless the container drops it",
    "no-profile": "set when the pod sets no pod-level seccomp profile (annotation or field)",
    "annotation": "set for each container that has no such annotation",
}

_MUTATED_LISTS = ("initContainers", "containers")


@dataclass(frozen=True, slots=True)
class Default:
    """One value a PSP injects: pod field `path`, `value`, and when (`condition`, `mode`)."""

    path: str
    value: Any
    condition: str
    source: str
    mode: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "condition": self.condition,
            "mode": self.mode,
            "path": self.path,
            "source": self.source,
            "value": sorted_json(self.value),
        }


def seccomp_annotation(profile: Mapping[str, Any]) -> str | None:
    """The annotation value a `seccompProfile` field stands for (None if unknown)."""
    kind = profile.get("type")
    if kind == "RuntimeDefault":
        return "runtime/default"
    if kind == "Unconfined":
        return "unconfined"
    if kind == "Localhost" and isinstance(profile.get("localhostProfile"), str):
        return f"localhost/{profile['localhostProfile']}"
    return None


def _capability_defaults(spec: PSPSpec) -> Iterator[Default]:
    if spec.required_drop_capabilities:
        yield Default(
            CONTAINERS + "capabilities.drop",
            sorted(set(spec.required_drop_capabilities)),
            "merged into every container's capabilities.drop",
            "spec.requiredDropCapabilities",
            "union",
        )
    if spec.default_add_capabilities:
        yield Default(
            CONTAINERS + "capabilities.add",
            sorted(set(spec.default_add_capabilities)),
            "added to every container's capabilities.add unless the container drops it",
            "spec.defaultAddCapabilities",
            "add",
        )


def _escalation_default(spec: PSPSpec) -> Iterator[Default]:
    if spec.default_allow_privilege_escalation is not None:
        value, source = spec.default_allow_privilege_escalation, "defaultAllowPrivilegeEscalation"
    elif not spec.allow_privilege_escalation:
        value, source = False, "allowPrivilegeEscalation"
    else:
        return
    yield Default(
        CONTAINERS + "allowPrivilegeEscalation",
        value,
        "on every container that leaves allowPrivilegeEscalation unset",
        f"spec.{source}",
        "container",
    )


def _id_defaults(spec: PSPSpec) -> Iterator[Default]:
    user = spec.run_as_user
    if user.rule == MUST_RUN_AS and user.first_min is not None:
        yield Default(
            CONTAINERS + "runAsUser",
            user.first_min,
            "on every container when neither it nor the pod sets runAsUser",
            "spec.runAsUser",
            "effective",
        )
    if user.rule == MUST_RUN_AS_NON_ROOT:
        yield Default(
            CONTAINERS + "runAsNonRoot",
            True,
            "on every container when neither it nor the pod sets runAsNonRoot or runAsUser",
            "spec.runAsUser",
            "no-user",
        )
    group = spec.run_as_group
    if group is not None and group.rule == MUST_RUN_AS and group.first_min is not None:
        yield Default(
            CONTAINERS + "runAsGroup",
            group.first_min,
            "on every container when neither it nor the pod sets runAsGroup",
            "spec.runAsGroup",
            "effective",
        )
    if spec.fs_group.rule == MUST_RUN_AS and spec.fs_group.first_min is not None:
        yield Default(
            "spec.securityContext.fsGroup",
            spec.fs_group.first_min,
            "when the pod sets no fsGroup",
            "spec.fsGroup",
            "pod",
        )
    groups = spec.supplemental_groups
    if groups.rule == MUST_RUN_AS and groups.first_min is not None:
        yield Default(
            "spec.securityContext.supplementalGroups",
            [groups.first_min],
            "when the pod sets no supplementalGroups",
            "spec.supplementalGroups",
            "pod",
        )


def _profile_defaults(spec: PSPSpec) -> Iterator[Default]:
    if spec.se_linux_rule == MUST_RUN_AS and spec.se_linux_options is not None:
        yield Default(
            "spec.securityContext.seLinuxOptions",
            dict(spec.se_linux_options),
            "when the pod sets no seLinuxOptions",
            "spec.seLinux",
            "pod",
        )
    seccomp = spec.seccomp.default
    if seccomp is not None:
        source = "metadata.annotations[seccomp.security.alpha.kubernetes.io/defaultProfileName]"
        condition = "when the pod sets no seccomp profile (annotation or field)"
        yield Default(SECCOMP_ANNOTATION, seccomp, condition, source, "no-profile")
        field = seccomp_field(seccomp)
        if field is not None:
            yield Default(
                "spec.securityContext.seccompProfile", field, condition, source, "no-profile"
            )
    apparmor = spec.apparmor.default
    if apparmor is not None:
        yield Default(
            APPARMOR_ANNOTATION,
            apparmor,
            "for every container without an AppArmor annotation",
            "metadata.annotations[apparmor.security.beta.kubernetes.io/defaultProfileName]",
            "annotation",
        )


def _other_defaults(spec: PSPSpec) -> Iterator[Default]:
    if spec.read_only_root_filesystem:
        yield Default(
            CONTAINERS + "readOnlyRootFilesystem",
            True,
            "on every container that leaves readOnlyRootFilesystem unset",
            "spec.readOnlyRootFilesystem",
            "container",
        )
    if spec.default_runtime_class:
        yield Default(
            "spec.runtimeClassName",
            spec.default_runtime_class,
            "when the pod sets no runtimeClassName",
            "spec.runtimeClass.defaultRuntimeClassName",
            "pod",
        )


def defaults_of(spec: PSPSpec) -> list[Default]:
    """The defaults a read PSP injects, sorted by pod path."""
    found = [
        *_capability_defaults(spec),
        *_escalation_default(spec),
        *_id_defaults(spec),
        *_profile_defaults(spec),
        *_other_defaults(spec),
    ]
    return sorted(found, key=lambda d: (d.path, d.source))


def psp_defaults(psp: Mapping[str, Any]) -> list[Default]:
    """The defaults a PSP object injects into the pods it admits (empty: non-mutating)."""
    return defaults_of(read_psp(psp))


# --- replaying defaults on a pod -------------------------------------------------------------


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _ensure(parent: dict[str, Any], key: str) -> dict[str, Any]:
    child = parent.get(key)
    if not isinstance(child, dict):
        child = {}
        parent[key] = child
    return child


def _unset(value: Any) -> bool:
    return value is None or value == [] or value == {} or value == ""


def _container_pairs(
    original: Mapping[str, Any], mutated: dict[str, Any]
) -> Iterator[tuple[Mapping[str, Any], dict[str, Any]]]:
    for key in _MUTATED_LISTS:
        before, after = original.get(key), mutated.get(key)
        if isinstance(before, list) and isinstance(after, list):
            for old, new in zip(before, after, strict=True):
                if isinstance(old, Mapping) and isinstance(new, dict):
                    yield old, new


def _leaf(path: str) -> str:
    return path.rsplit(".", 1)[-1]


def _apply_pod(default: Default, meta: Mapping[str, Any], spec: Mapping[str, Any],
               out_meta: dict[str, Any], out_spec: dict[str, Any]) -> None:
    if default.path == "spec.runtimeClassName":
        if _unset(spec.get("runtimeClassName")):
            out_spec["runtimeClassName"] = copy.deepcopy(default.value)
        return
    key = _leaf(default.path)
    if _unset(_map(spec.get("securityContext")).get(key)):
        _ensure(out_spec, "securityContext")[key] = copy.deepcopy(default.value)


def _apply_no_profile(default: Default, meta: Mapping[str, Any], spec: Mapping[str, Any],
                      out_meta: dict[str, Any], out_spec: dict[str, Any]) -> None:
    has_annotation = not _unset(_map(meta.get("annotations")).get(SECCOMP_POD_ANNOTATION))
    has_field = not _unset(_map(spec.get("securityContext")).get("seccompProfile"))
    if has_annotation or has_field:
        return
    if default.path == SECCOMP_ANNOTATION:
        _ensure(out_meta, "annotations")[SECCOMP_POD_ANNOTATION] = default.value
    else:
        _ensure(out_spec, "securityContext")["seccompProfile"] = copy.deepcopy(default.value)


def _apply_annotation(default: Default, meta: Mapping[str, Any], spec: Mapping[str, Any],
                      out_meta: dict[str, Any], out_spec: dict[str, Any]) -> None:
    present = _map(meta.get("annotations"))
    for key in _MUTATED_LISTS:
        items = spec.get(key)
        for container in items if isinstance(items, list) else []:
            name = _map(container).get("name")
            if not isinstance(name, str):
                continue
            annotation = APPARMOR_CONTAINER_PREFIX + name
            if _unset(present.get(annotation)):
                _ensure(out_meta, "annotations")[annotation] = default.value


def _container_applies(default: Default, pod_sc: Mapping[str, Any], sc: Mapping[str, Any]) -> bool:
    key = _leaf(default.path)
    if default.mode == "container":
        return _unset(sc.get(key))
    if default.mode == "effective":
        return _unset(sc.get(key)) and _unset(pod_sc.get(key))
    if default.mode == "no-user":
        return all(
            _unset(source.get(k))
            for source in (sc, pod_sc)
            for k in ("runAsNonRoot", "runAsUser")
        )
    return False


def _apply_container(default: Default, meta: Mapping[str, Any], spec: Mapping[str, Any],
                     out_meta: dict[str, Any], out_spec: dict[str, Any]) -> None:
    pod_sc = _map(spec.get("securityContext"))
    for old, new in _container_pairs(spec, out_spec):
        if _container_applies(default, pod_sc, _map(old.get("securityContext"))):
            _ensure(new, "securityContext")[_leaf(default.path)] = copy.deepcopy(default.value)


def _apply_capabilities(defaults: Sequence[Default], spec: Mapping[str, Any],
                        out_spec: dict[str, Any]) -> None:
    add = {c for d in defaults if d.mode == "add" for c in d.value}
    drop = {c for d in defaults if d.mode == "union" for c in d.value}
    if not add and not drop:
        return
    for old, new in _container_pairs(spec, out_spec):
        caps = _map(_map(old.get("securityContext")).get("capabilities"))
        own_add = {c for c in caps.get("add") or [] if isinstance(c, str)}
        own_drop = {c for c in caps.get("drop") or [] if isinstance(c, str)}
        all_add = own_add | (add - own_drop)
        all_drop = own_drop | drop
        if all_add == own_add and all_drop == own_drop:
            continue  # PSP leaves a container it does not change exactly as it was
        result: dict[str, Any] = {}
        if all_add:
            result["add"] = sorted(all_add)
        if all_drop:
            result["drop"] = sorted(all_drop)
        _ensure(new, "securityContext")["capabilities"] = result


_APPLIERS = {
    "pod": _apply_pod,
    "no-profile": _apply_no_profile,
    "annotation": _apply_annotation,
    "container": _apply_container,
    "effective": _apply_container,
    "no-user": _apply_container,
}


def _writable_copy(pod: Mapping[str, Any]) -> dict[str, Any]:
    """`pod` with fresh copies of exactly what a PSP default writes (the annotations, the
    pod's and each container's securityContext, the lists and containers holding them);
    everything else (env, volumes, probes, ...) is shared with `pod`, not copied."""
    out = dict(pod)
    meta, spec = out.get("metadata"), out.get("spec")
    if isinstance(meta, dict):
        out["metadata"] = meta = dict(meta)
        if isinstance(meta.get("annotations"), dict):
            meta["annotations"] = dict(meta["annotations"])
    if isinstance(spec, dict):
        out["spec"] = spec = dict(spec)
        if isinstance(spec.get("securityContext"), dict):
            spec["securityContext"] = copy.deepcopy(spec["securityContext"])
        for key in _MUTATED_LISTS:
            containers = spec.get(key)
            if isinstance(containers, list):
                spec[key] = [_writable_container(c) for c in containers]
    return out


def _writable_container(container: Any) -> Any:
    if not isinstance(container, dict):
        return container
    out = dict(container)
    if isinstance(out.get("securityContext"), dict):
        out["securityContext"] = copy.deepcopy(out["securityContext"])
    return out


def apply_defaults(defaults: Sequence[Default], pod: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `pod` ({"metadata", "spec"}) as PSP admission would store it.

    Every condition is judged on the pod as sent, as PSP admission did; the input is not
    changed. Capabilities come out sorted when the PSP changes them, as they did on 1.24.
    Only the fields a default writes are copied: the result shares the rest with `pod`
    and must not be changed in place.
    """
    meta = _map(pod.get("metadata"))
    spec = _map(pod.get("spec"))
    out = _writable_copy(pod)
    out_meta = _ensure(out, "metadata")
    out_spec = _ensure(out, "spec")
    for default in defaults:
        applier = _APPLIERS.get(default.mode)
        if applier is not None:
            applier(default, meta, spec, out_meta, out_spec)
    _apply_capabilities(defaults, spec, out_spec)
    return out


# --- attributing pod changes -----------------------------------------------------------------

_ENCODE = msgspec.json.Encoder().encode

_POD_FIELDS = ("hostNetwork", "hostPID", "hostIPC", "hostUsers", "runtimeClassName")
_ANNOTATION_PREFIXES = (SECCOMP_POD_ANNOTATION, SECCOMP_CONTAINER_PREFIX, APPARMOR_CONTAINER_PREFIX)
_TOKEN_VOLUME_PREFIX = "kube-api-access-"


@dataclass(frozen=True, slots=True)
class Difference:
    """One security-relevant field that differs between a template and its pod.

    `cause` is "psp" (a default of the given PSP), "apiserver" (the API server's own
    annotation/field syncing or service-account token volume), "controller" (a volume a
    StatefulSet adds from its volumeClaimTemplates) or "other" (another mutating admission,
    or a template changed since the pod was created). `source` names the PSP
    field or what the API server did.
    """

    path: str
    template: Any
    pod: Any
    cause: str
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "cause": self.cause,
            "path": self.path,
            "pod": sorted_json(self.pod),
            "source": self.source,
            "template": sorted_json(self.template),
        }


@dataclass(frozen=True, slots=True)
class Attribution:
    """Every security-relevant difference between a template and a pod, with its cause."""

    differences: tuple[Difference, ...]

    @property
    def by_psp(self) -> tuple[Difference, ...]:
        return tuple(d for d in self.differences if d.cause == "psp")

    @property
    def by_apiserver(self) -> tuple[Difference, ...]:
        return tuple(d for d in self.differences if d.cause == "apiserver")

    @property
    def unexplained(self) -> tuple[Difference, ...]:
        return tuple(d for d in self.differences if d.cause == "other")

    @property
    def fully_explained(self) -> bool:
        return not self.unexplained


def _as_pod(obj: Any) -> dict[str, Any]:
    """{"metadata", "spec"} of a pod, workload, PodTemplate, template or bare pod spec."""
    if isinstance(obj, PodTemplate):
        return {"metadata": obj.metadata, "spec": obj.spec}
    if not isinstance(obj, Mapping):
        return {"metadata": {}, "spec": {}}
    if obj.get("kind") is not None:
        template = pod_template(dict(obj))
        if template is not None:
            return {"metadata": template.metadata, "spec": template.spec}
    if isinstance(obj.get("spec"), Mapping):
        return {"metadata": _map(obj.get("metadata")), "spec": obj["spec"]}
    return {"metadata": {}, "spec": obj}


def _normal(value: Any) -> Any:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return sorted(value)
    return value


def _flatten_container(prefix: str, container: Mapping[str, Any], out: dict[str, Any]) -> None:
    for key, value in sorted(_map(container.get("securityContext")).items()):
        if key == "capabilities":
            for part in ("add", "drop"):
                item = _map(value).get(part)
                if not _unset(item):
                    out[f"{prefix}.securityContext.capabilities.{part}"] = _normal(item)
        elif not _unset(value):
            out[f"{prefix}.securityContext.{key}"] = _normal(value)


def security_fields(pod: Mapping[str, Any]) -> dict[str, Any]:
    """The security-relevant fields of a pod, flattened to `path -> value`."""
    meta, spec = _map(pod.get("metadata")), _map(pod.get("spec"))
    out: dict[str, Any] = {}
    for key, value in _map(meta.get("annotations")).items():
        if str(key).startswith(_ANNOTATION_PREFIXES) and not _unset(value):
            out[f"metadata.annotations[{key}]"] = value
    for key in _POD_FIELDS:
        if not _unset(spec.get(key)):
            out[f"spec.{key}"] = spec[key]
    for key, value in _map(spec.get("securityContext")).items():
        if not _unset(value):
            out[f"spec.securityContext.{key}"] = _normal(value)
    for list_key in ("initContainers", "containers", "ephemeralContainers"):
        items = spec.get(list_key)
        for container in items if isinstance(items, list) else []:
            name = _map(container).get("name")
            prefix = f"spec.{list_key}[{name}]"
            out[prefix] = "present"
            _flatten_container(prefix, _map(container), out)
    volumes = spec.get("volumes")
    for volume in volumes if isinstance(volumes, list) else []:
        volume = _map(volume)
        out[f"spec.volumes[{volume.get('name')}]"] = sorted(k for k in volume if k != "name")
    return out


def _sync_seccomp(fields: dict[str, Any], annotation: str, field: str) -> None:
    if annotation in fields and field not in fields:
        synced = seccomp_field(str(fields[annotation]))
        if synced is not None:
            fields[field] = synced
    elif field in fields and annotation not in fields:
        value = seccomp_annotation(_map(fields[field]))
        if value is not None:
            fields[annotation] = value


def _apparmor_field(value: str) -> dict[str, str] | None:
    if value == "runtime/default":
        return {"type": "RuntimeDefault"}
    if value == "unconfined":
        return {"type": "Unconfined"}
    if value.startswith("localhost/"):
        return {"type": "Localhost", "localhostProfile": value[len("localhost/"):]}
    return None


def apiserver_sync(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Flattened fields after the API server's seccomp and AppArmor annotation/field sync."""
    out = dict(fields)
    _sync_seccomp(out, SECCOMP_ANNOTATION, "spec.securityContext.seccompProfile")
    containers = [p for p in fields if p.startswith("spec.") and fields[p] == "present"]
    for prefix in containers:
        name = prefix[prefix.index("[") + 1:-1]
        _sync_seccomp(
            out,
            f"metadata.annotations[{SECCOMP_CONTAINER_PREFIX}{name}]",
            f"{prefix}.securityContext.seccompProfile",
        )
        annotation = f"metadata.annotations[{APPARMOR_CONTAINER_PREFIX}{name}]"
        field = f"{prefix}.securityContext.appArmorProfile"
        if annotation in out and field not in out:
            synced = _apparmor_field(str(out[annotation]))
            if synced is not None:
                out[field] = synced
    return out


def _psp_sources(defaults: Sequence[Default], pod: Mapping[str, Any]) -> dict[str, str]:
    """Which PSP field changes which flattened path of this pod."""
    before = security_fields(pod)
    sources: dict[str, str] = {}
    for default in defaults:
        after = security_fields(apply_defaults([default], pod))
        for path, value in after.items():
            if before.get(path) != value:
                sources.setdefault(path, default.source)
    return sources


def _claim_volumes(obj: Any) -> frozenset[str]:
    """Volume paths a StatefulSet adds to its pods from its volumeClaimTemplates."""
    if not isinstance(obj, Mapping) or obj.get("kind") != "StatefulSet":
        return frozenset()
    claims = _map(obj.get("spec")).get("volumeClaimTemplates")
    return frozenset(
        f"spec.volumes[{_map(claim.get('metadata')).get('name')}]"
        for claim in (claims if isinstance(claims, list) else ())
        if isinstance(claim, Mapping)
    )


def _cause(path: str, pod_value: Any, expected: Mapping[str, Any],
           synced: Mapping[str, Any], synced_expected: Mapping[str, Any],
           sources: Mapping[str, str], claims: frozenset[str] = frozenset()) -> tuple[str, str]:
    if path in sources and expected.get(path) == pod_value:
        return "psp", sources[path]
    if synced.get(path) == pod_value and pod_value is not None:
        return "apiserver", "annotation/field sync"
    if synced_expected.get(path) == pod_value and pod_value is not None:
        return "psp", "API server sync of a PSP default"
    if path.startswith(f"spec.volumes[{_TOKEN_VOLUME_PREFIX}") and pod_value == ["projected"]:
        return "apiserver", "service-account token volume"
    if path in claims and pod_value == ["persistentVolumeClaim"]:
        return "controller", "StatefulSet volumeClaimTemplate"
    return "other", ""


def explains(defaults: Sequence[Default], template: Any, pod: Any,
             memo: dict[Any, Any] | None = None) -> Attribution:
    """Attribute each security-relevant difference between `template` and `pod`.

    `template` and `pod` may be pod specs, {"metadata", "spec"} dictionaries, PodTemplate
    objects or whole objects (a Deployment, a Pod). A difference is put down to the PSP
    only when replaying its defaults on the template yields exactly the pod's value.
    With `memo` (kept by the caller as long as the `defaults` it passes), the answer for
    the same defaults, the same template content and the same security fields of the pod
    is computed once: the same chart in many namespaces costs one replay.
    """
    template_pod, running = _as_pod(template), _as_pod(pod)
    actual = security_fields(running)
    key: Any = None
    replay_key: Any = None
    if memo is not None:
        try:
            encoded = _ENCODE(template_pod)
            claims = _claim_volumes(template)
            key = (id(defaults), encoded, _ENCODE(sorted_json(actual)), claims)
            replay_key = ("replay", id(defaults), encoded, claims)
        except (TypeError, ValueError, OverflowError):
            key = None
        found = memo.get(key) if key is not None else None
        if isinstance(found, Attribution):
            return found
    replay = memo.get(replay_key) if memo is not None and replay_key is not None else None
    if replay is None:
        replay = _replay(defaults, template, template_pod)
        if memo is not None and replay_key is not None:
            memo[replay_key] = replay
    result = _explains(replay, actual)
    if memo is not None and key is not None:
        memo[key] = result
    return result


def _replay(defaults: Sequence[Default], template: Any, template_pod: Mapping[str, Any]
            ) -> tuple[Any, ...]:
    """What the template's pod would hold: its security fields as written and with the
    defaults replayed, each as the API server syncs it, which default set which field, and
    the volumes a StatefulSet adds (the same for every pod of the template)."""
    base = security_fields(template_pod)
    expected = security_fields(apply_defaults(defaults, template_pod))
    return (base, expected, apiserver_sync(base), apiserver_sync(expected),
            _psp_sources(defaults, template_pod), _claim_volumes(template))


def _explains(replay: tuple[Any, ...], actual: Mapping[str, Any]) -> Attribution:
    base, expected, synced, synced_expected, sources, claims = replay
    differences = []
    for path in sorted(set(base) | set(actual)):
        if base.get(path) == actual.get(path):
            continue
        cause, source = _cause(
            path, actual.get(path), expected, synced, synced_expected, sources, claims
        )
        differences.append(Difference(path, base.get(path), actual.get(path), cause, source))
    return Attribution(tuple(differences))
