"""The API server in front of Pod Security: what a pod looks like when it is judged, per server.

Pod Security judges a pod as the API server hands it over, and the server rewrites a new pod
before admission: it applies defaults, drops fields it does not serve, copies the seccomp and
AppArmor annotations into fields (and back) depending on its version, and refuses (422) a pod
whose annotation and field disagree. The server's own Pod Security library then decides the
newest policy version it knows and the wording of some messages. This module owns that
model, keyed by server version:

- `ServerVersion`: `v1.N` or a server's `gitVersion` (`v1.24.0-alpha.1+abc`, `v1.30.2-eks-1`);
  an alpha build of 1.N has the features of 1.(N-1); newer than `NEWEST_SERVER_MINOR` is
  modelled as the newest, with a note.
- `Origin`: *created* (a manifest, a workload template, the pods a controller creates from it)
  or *stored* (a pod read from a cluster or a dump, judged exactly as stored).
- `prepare(metadata, spec, server, origin)`: the pod Pod Security sees, or the 422 message.
- `judge(...)` / `judge_cached(...)`: the violations, with the server's library.
- `verdict_by_server(...)`: the verdict on every modelled server, to tell when it depends on one.
- `ServerPod.warnings`, `template_warnings(...)`: the annotation Warnings the server sends when
  it creates a pod or a workload.

Pure: no I/O. Upstream: `pkg/registry/core/pod/strategy.go` (PrepareForCreate),
`pkg/api/pod/util.go` (dropDisabledFields), `pkg/apis/core/validation`, `pkg/api/pod/warnings.go`.
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import total_ordering
from typing import Any, NamedTuple

from migrator.pss.api import (
    APPARMOR_CONTAINER_PREFIX,
    SECCOMP_CONTAINER_PREFIX,
    SECCOMP_POD_ANNOTATION,
    Level,
    Version,
)
from migrator.pss.checks import ALL_CHECKS, app_armor_profile
from migrator.pss.engine import EVALUATOR, security_key
from migrator.pss.helpers import go_quote
from migrator.pss.registry import Evaluator, Violation

#: The newest server version whose behaviour is modelled here.
NEWEST_SERVER_MINOR = 36
#: Pod Security admission is served (beta, on by default) from 1.23; alpha in 1.22.
FIRST_PSA_MINOR = 23

_SERVER_RE = re.compile(r"^v?1\.(0|[1-9][0-9]*)(?:\.([0-9]+))?(?:-(alpha|beta|rc)\.?[0-9]*)?")


@total_ordering
@dataclass(frozen=True, slots=True, eq=False)
class ServerVersion:
    """A kube-apiserver version, as far as its behaviour towards pods goes: two versions are
    equal when they behave alike (`v1.24.17` and `v1.24`; not `v1.24.0-alpha.1`)."""

    #: the minor version as reported (1.`minor`)
    minor: int
    #: the text given (`v1.24`, or the server's gitVersion)
    text: str
    #: the pre-release stage of the build (alpha, beta, rc), if any
    prerelease: str = ""

    @classmethod
    def of(cls, minor: int) -> ServerVersion:
        return cls(minor, f"v1.{minor}")

    @classmethod
    def newest(cls) -> ServerVersion:
        return cls.of(NEWEST_SERVER_MINOR)

    @classmethod
    def parse(cls, text: str) -> ServerVersion:
        """Parse `v1.N`, `1.N` or a gitVersion; raises ValueError on anything else."""
        match = _SERVER_RE.match(text.strip())
        if not match:
            raise ValueError(
                f"invalid server version {text!r}: must be v1.<minor> (e.g. v1.24) or a "
                "server's gitVersion (e.g. v1.24.17)")
        patch = match.group(2)
        stage = match.group(3) or ""
        # a pre-release of a patch release (v1.24.3-rc.0) already has the minor's features
        prerelease = stage if (patch in (None, "0")) else ""
        return cls(int(match.group(1)), text.strip(), prerelease)

    @property
    def modelled_minor(self) -> int:
        """The minor whose behaviour applies: newer than modelled counts as the newest, and an
        alpha build of 1.N (cut before 1.N's features landed) as 1.(N-1)."""
        minor = min(self.minor, NEWEST_SERVER_MINOR)
        if self.prerelease == "alpha" and self.minor <= NEWEST_SERVER_MINOR:
            minor -= 1
        return max(minor, 0)

    @property
    def note(self) -> str | None:
        """Why the modelled behaviour is not the named version's own, if it is not."""
        if self.minor > NEWEST_SERVER_MINOR:
            return (f"server {self.text} is newer than the newest modelled "
                    f"(v1.{NEWEST_SERVER_MINOR}): judged as v1.{NEWEST_SERVER_MINOR}")
        if self.prerelease == "alpha":
            return (f"server {self.text} is an alpha build of 1.{self.minor}: judged with the "
                    f"behaviour of v1.{self.modelled_minor}")
        if self.minor < FIRST_PSA_MINOR:
            return (f"server {self.text} has no Pod Security admission on by default "
                    f"(beta from v1.{FIRST_PSA_MINOR}): labels set there are not enforced")
        return None

    def __str__(self) -> str:
        return f"v1.{self.minor}"

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, ServerVersion):
            return NotImplemented
        return self.modelled_minor < other.modelled_minor

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ServerVersion):
            return NotImplemented
        return self.modelled_minor == other.modelled_minor

    def __hash__(self) -> int:
        return hash(self.modelled_minor)


class Origin(enum.StrEnum):
    """How a pod reaches Pod Security."""

    #: a pod to be created: a manifest, a workload template, or the pods it will create
    CREATED = "created"
    #: a pod already stored (read from a cluster or a dump): judged exactly as stored
    STORED = "stored"


class ServerPod(NamedTuple):
    """A pod as Pod Security sees it on one server, or why the server refuses it first (a
    named tuple, made for every pod judged)."""

    metadata: Mapping[str, Any]
    spec: Mapping[str, Any]
    #: the field errors of a 422 (the create is invalid, the pod is never judged)
    invalid: tuple[str, ...] = ()
    #: the deprecation Warnings the server sends with the create (also with a 422: those it
    #: adds while it prepares the pod, before validating it)
    warnings: tuple[str, ...] = ()

    def invalid_message(self, name: str) -> str:
        """The 422 message, as the server words it."""
        errors = self.invalid[0] if len(self.invalid) == 1 else f"[{', '.join(self.invalid)}]"
        return f'Pod "{name}" is invalid: {errors}'


# -- annotations and fields -------------------------------------------------------------------


def seccomp_field(annotation: str) -> dict[str, str] | None:
    """The seccompProfile field the server derives from an annotation value (or None)."""
    if annotation in ("runtime/default", "docker/default"):
        return {"type": "RuntimeDefault"}
    if annotation == "unconfined":
        return {"type": "Unconfined"}
    if annotation.startswith("localhost/") and len(annotation) > len("localhost/"):
        return {"type": "Localhost", "localhostProfile": annotation[len("localhost/"):]}
    return None


def apparmor_field(annotation: str) -> dict[str, str] | None:
    """The appArmorProfile field the server derives from an annotation value (or None):
    the seccomp conversion, without its `docker/default` alias."""
    return None if annotation == "docker/default" else seccomp_field(annotation)


def _annotation_for(field: Any) -> str:
    """The annotation value the server writes for a profile field ("" for none)."""
    if not isinstance(field, Mapping):
        return ""
    kind = field.get("type")
    if kind == "Unconfined":
        return "unconfined"
    if kind == "RuntimeDefault":
        return "runtime/default"
    if kind == "Localhost" and field.get("localhostProfile"):
        return f"localhost/{field['localhostProfile']}"
    return ""


_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


class _Pod:
    """A private, shallowly copied pod that the steps below may rewrite."""

    def __init__(self, metadata: Mapping[str, Any], spec: Mapping[str, Any]) -> None:
        self.metadata = dict(metadata)
        annotations = metadata.get("annotations")
        self.annotations: dict[str, Any] = (
            {str(k): v for k, v in annotations.items()} if isinstance(annotations, Mapping)
            else {})
        self.spec = dict(spec)
        context = spec.get("securityContext")
        self.context: dict[str, Any] = dict(context) if isinstance(context, Mapping) else {}
        #: wrongly typed security contexts, put back as they were for the checks to report
        self._malformed: list[tuple[dict[str, Any], Any]] = []
        if context is not None and not isinstance(context, Mapping):
            self._malformed.append((self.spec, context))
        self.warnings: list[str] = []
        self.containers: list[tuple[str, int, dict[str, Any]]] = []
        for key in _CONTAINER_LISTS:
            listed = spec.get(key)
            if not isinstance(listed, list):
                continue
            copies: list[Any] = []
            for i, c in enumerate(listed):
                if isinstance(c, Mapping):
                    c = dict(c)
                    sc = c.get("securityContext")
                    c["securityContext"] = dict(sc) if isinstance(sc, Mapping) else {}
                    if sc is not None and not isinstance(sc, Mapping):
                        self._malformed.append((c, sc))
                    self.containers.append((key, i, c))
                copies.append(c)
            self.spec[key] = copies

    def windows(self) -> bool:
        os_ = self.spec.get("os")
        return isinstance(os_, Mapping) and os_.get("name") == "windows"

    def finish(self, original_spec: Mapping[str, Any], invalid: list[str]) -> ServerPod:
        if self.context or isinstance(original_spec.get("securityContext"), Mapping):
            self.spec["securityContext"] = self.context
        for _key, _i, c in self.containers:
            if not c["securityContext"]:
                del c["securityContext"]
        for holder, value in self._malformed:
            holder["securityContext"] = value
        if self.annotations:
            self.metadata["annotations"] = self.annotations
        else:
            self.metadata.pop("annotations", None)
        return ServerPod(self.metadata, self.spec, tuple(invalid), tuple(self.warnings))


def _default(pod: _Pod) -> None:
    """Defaults applied when any pod spec is decoded (all versions)."""
    volumes = pod.spec.get("volumes")
    if isinstance(volumes, list):
        pod.spec["volumes"] = [
            {**v, "emptyDir": {}} if isinstance(v, Mapping) and set(v) <= {"name"} else v
            for v in volumes
        ]
    if pod.spec.get("hostNetwork") is True:
        for _key, _i, c in pod.containers:
            ports = c.get("ports")
            if isinstance(ports, list):
                c["ports"] = [
                    {**p, "hostPort": p["containerPort"]}
                    if isinstance(p, Mapping) and not p.get("hostPort") and p.get("containerPort")
                    else p
                    for p in ports
                ]


def _drop_unserved(pod: _Pod, minor: int) -> None:
    """Fields the server does not serve (not yet, or behind a gate off by default) are dropped."""
    contexts = [pod.context] + [c["securityContext"] for _k, _i, c in pod.containers]
    if minor < 19:
        for sc in contexts:
            sc.pop("seccompProfile", None)
    if minor < 30:
        for sc in contexts:
            sc.pop("appArmorProfile", None)
    if minor < 24:
        pod.spec.pop("os", None)  # IdentifyPodOS: beta (on) from 1.24
    if minor < 33:
        pod.spec.pop("hostUsers", None)  # user namespaces: on by default from 1.33
        for _k, _i, c in pod.containers:
            if c["securityContext"].get("procMount") is not None:
                c["securityContext"]["procMount"] = "Default"  # ProcMountType off


def _sync_seccomp(pod: _Pod, minor: int) -> None:
    """1.19–1.26: annotation → field where the field is unset; to 1.24 also field → annotation."""
    both_ways = minor <= 24
    pairs: list[tuple[str, dict[str, Any]]] = [(SECCOMP_POD_ANNOTATION, pod.context)]
    pairs += [(SECCOMP_CONTAINER_PREFIX + str(c.get("name", "")), c["securityContext"])
              for _k, _i, c in pod.containers]
    for key, context in pairs:
        field = context.get("seccompProfile")
        if key in pod.annotations and field is None:
            derived = seccomp_field(str(pod.annotations[key]))
            if derived is not None:
                context["seccompProfile"] = derived
        elif key not in pod.annotations and field is not None and both_ways:
            value = _annotation_for(field)
            if value:
                pod.annotations[key] = value


def _sync_apparmor(pod: _Pod, minor: int) -> None:
    """From 1.30: a container's annotation → its field (unless it equals the pod's profile);
    1.30–1.33 also a field (the container's, else the pod's) → the annotation. Not for Windows."""
    if pod.windows():
        return
    pod_profile = pod.context.get("appArmorProfile")
    for _k, _i, c in pod.containers:
        key = APPARMOR_CONTAINER_PREFIX + str(c.get("name", ""))
        profile = c["securityContext"].get("appArmorProfile")
        if key not in pod.annotations:
            if minor <= 33:
                value = _annotation_for(profile if profile is not None else pod_profile)
                if value:
                    pod.annotations[key] = value
        elif profile is None:
            derived = apparmor_field(str(pod.annotations[key]))
            if derived is None or derived != pod_profile:
                # warned while preparing the pod: an annotation it copies or cannot read
                pod.warnings.append(f"metadata.annotations[{key}]: {_APPARMOR_DEPRECATED}")
            if derived is not None and derived != pod_profile:
                c["securityContext"]["appArmorProfile"] = derived


def _match(kind: str, annotation: str, field: Mapping[str, Any], path: str) -> str | None:
    """The 422 error when a profile annotation and field of the same pod or container disagree."""
    runtime_default = ("runtime/default", "docker/default") if kind == "seccomp" else (
        "runtime/default",)
    profile_word = "localhost profile" if kind == "seccomp" else "apparmor profile"
    match field.get("type"):
        case "Unconfined" if annotation != "unconfined":
            return f"{path}.type: Forbidden: {kind} type in annotation and field must match"
        case "RuntimeDefault" if annotation not in runtime_default:
            return f"{path}.type: Forbidden: {kind} type in annotation and field must match"
        case "Localhost":
            if not annotation.startswith("localhost/"):
                return f"{path}.type: Forbidden: {kind} type in annotation and field must match"
            if annotation[len("localhost/"):] != field.get("localhostProfile"):
                return (f"{path}.localhostProfile: Forbidden: {profile_word} in annotation and "
                        "field must match")
    return None


def _annotation_errors(pod: _Pod, minor: int) -> list[str]:
    """ValidatePodSpecificAnnotations: the seccomp and AppArmor annotation values, and an
    AppArmor annotation naming no container of the pod."""
    errors: list[str] = []
    names = {str(c.get("name", "")) for _k, _i, c in pod.containers}
    seccomp = [k for k in sorted(pod.annotations) if k == SECCOMP_POD_ANNOTATION
               or k.startswith(SECCOMP_CONTAINER_PREFIX)]
    if SECCOMP_POD_ANNOTATION in seccomp:  # the pod annotation is validated first
        seccomp.remove(SECCOMP_POD_ANNOTATION)
        seccomp.insert(0, SECCOMP_POD_ANNOTATION)
    for key in seccomp if minor >= 19 else ():
        value = str(pod.annotations[key])
        if value in ("runtime/default", "docker/default", "unconfined"):
            continue
        if value.startswith("localhost/"):
            local = value[len("localhost/"):]
            if local.startswith("/"):
                errors.append(f"metadata.annotations.{key}: Invalid value: {go_quote(local)}: "
                              "must be a relative path")
            if ".." in local.split("/"):
                errors.append(f"metadata.annotations.{key}: Invalid value: {go_quote(local)}: "
                              "must not contain '..'")
            continue
        errors.append(f"metadata.annotations.{key}: Invalid value: {go_quote(value)}: must be "
                      "a valid seccomp profile")
    for key in sorted(pod.annotations):
        if not key.startswith(APPARMOR_CONTAINER_PREFIX):
            continue
        value = str(pod.annotations[key])
        container = key[len(APPARMOR_CONTAINER_PREFIX):]
        if container not in names:
            errors.append(f"metadata.annotations[{key}]: Invalid value: {go_quote(container)}: "
                          "container not found")
        if value not in ("", "runtime/default", "unconfined") and not value.startswith(
                "localhost/"):
            errors.append(f"metadata.annotations[{key}]: Invalid value: {go_quote(value)}: "
                          f"invalid AppArmor profile name: {go_quote(value)}")
    return errors


_PROFILE_TYPES = ("Localhost", "RuntimeDefault", "Unconfined")


def _profile_errors(profile: Any, path: str, kind: str) -> list[str]:
    """The field validation of a seccompProfile or appArmorProfile."""
    if not isinstance(profile, Mapping):
        return []
    kind_ = profile.get("type")
    local = profile.get("localhostProfile")
    if kind_ not in _PROFILE_TYPES:
        return [f"{path}.type: Unsupported value: {go_quote(str(kind_ or ''))}: supported "
                'values: "Localhost", "RuntimeDefault", "Unconfined"']
    if kind_ == "Localhost" and not local:
        return [f"{path}.localhostProfile: Required value: must be set when {kind} type is "
                "Localhost"]
    if kind_ != "Localhost" and local is not None:
        return [f"{path}.localhostProfile: Invalid value: {go_quote(str(local))}: can only be "
                f"set when {kind} type is Localhost"]
    return []


_WINDOWS_POD_FIELDS = ("appArmorProfile", "seLinuxOptions", "seccompProfile", "fsGroup",
                       "fsGroupChangePolicy", "sysctls", "runAsUser", "runAsGroup",
                       "supplementalGroups", "supplementalGroupsPolicy")
_WINDOWS_CONTAINER_FIELDS = ("appArmorProfile", "seLinuxOptions", "seccompProfile",
                             "capabilities", "readOnlyRootFilesystem", "privileged",
                             "allowPrivilegeEscalation", "procMount", "runAsUser", "runAsGroup")


def _windows_errors(pod: _Pod) -> list[str]:
    """A pod with `os.name: windows` may not set the Linux-only security fields."""
    errors = [f"spec.securityContext.{f}: Forbidden: cannot be set for a windows pod"
              for f in _WINDOWS_POD_FIELDS if pod.context.get(f) not in (None, [], {})]
    for key, i, c in pod.containers:
        errors += [f"spec.{key}[{i}].securityContext.{f}: Forbidden: cannot be set for a "
                   "windows pod" for f in _WINDOWS_CONTAINER_FIELDS
                   if c["securityContext"].get(f) is not None]
    return errors


def _spec_errors(pod: _Pod, minor: int) -> list[str]:
    """ValidatePodSpec, as far as it concerns the fields the checks read."""
    errors: list[str] = []
    contexts = [("spec.securityContext", pod.context)] + [
        (f"spec.{key}[{i}].securityContext", c["securityContext"])
        for key, i, c in pod.containers]
    if minor >= 19:
        for path, context in contexts:
            errors += _profile_errors(context.get("seccompProfile"), f"{path}.seccompProfile",
                                      "seccomp")
    if minor >= 30:
        for path, context in contexts:
            errors += _profile_errors(context.get("appArmorProfile"),
                                      f"{path}.appArmorProfile", "AppArmor")
    if minor >= 33:
        for key, i, c in pod.containers:
            if c["securityContext"].get("procMount") == "Unmasked" and (
                    pod.spec.get("hostUsers") is not False):
                errors.append(f'spec.{key}[{i}].securityContext.procMount: Invalid value: '
                              '"Unmasked": `hostUsers` must be false to use `Unmasked`')
    if minor >= 24 and pod.windows():
        errors += _windows_errors(pod)
    if pod.spec.get("ephemeralContainers"):
        errors.append("spec.ephemeralContainers: Forbidden: cannot be set on create")
    return errors


def _validate(pod: _Pod, minor: int) -> list[str]:
    """The 422 errors of a create, in the server's order: annotations, spec, then the
    annotation/field agreement."""
    errors = _annotation_errors(pod, minor) + _spec_errors(pod, minor)
    if minor >= 19:
        field = pod.context.get("seccompProfile")
        if SECCOMP_POD_ANNOTATION in pod.annotations and isinstance(field, Mapping):
            found = _match("seccomp", str(pod.annotations[SECCOMP_POD_ANNOTATION]), field,
                           "spec.securityContext.seccompProfile")
            if found:
                errors.append(found)
        for key, i, c in pod.containers:
            annotation = pod.annotations.get(SECCOMP_CONTAINER_PREFIX + str(c.get("name", "")))
            field = c["securityContext"].get("seccompProfile")
            if annotation is not None and isinstance(field, Mapping):
                found = _match("seccomp", str(annotation), field,
                               f"spec.{key}[{i}].securityContext.seccompProfile")
                if found:
                    errors.append(found)
    if minor >= 30 and not pod.windows():
        pod_profile = pod.context.get("appArmorProfile")
        for key, i, c in pod.containers:
            profile = c["securityContext"].get("appArmorProfile") or pod_profile
            annotation = pod.annotations.get(APPARMOR_CONTAINER_PREFIX + str(c.get("name", "")))
            if annotation is not None and isinstance(profile, Mapping):
                found = _match("apparmor", str(annotation), profile,
                               f"spec.{key}[{i}].securityContext.appArmorProfile")
                if found:
                    errors.append(found)
    return errors


def prepare(
    metadata: Mapping[str, Any] | None,
    spec: Mapping[str, Any] | None,
    server: ServerVersion,
    origin: Origin,
) -> ServerPod:
    """The pod Pod Security sees on `server`, or the 422 errors that stop it before.

    A stored pod is returned as stored. A pod to be created goes through the server's
    defaulting, the dropping of fields it does not serve, its annotation/field syncing and
    the validation of the two. The caller's objects are never modified.
    """
    metadata = metadata if isinstance(metadata, Mapping) else {}
    spec = spec if isinstance(spec, Mapping) else {}
    if origin is Origin.STORED:
        return ServerPod(metadata, spec)
    minor = server.modelled_minor
    try:
        pod = _Pod(metadata, spec)
        _default(pod)
        _drop_unserved(pod, minor)
        if 19 <= minor <= 26:
            _sync_seccomp(pod, minor)
        if minor >= 30:
            _sync_apparmor(pod, minor)
        errors = _validate(pod, minor)
        if not errors:  # WarningsOnCreate runs on the prepared pod, after validation
            pod.warnings += _seccomp_warnings(pod.annotations, pod.context,
                                              [c for _k, _i, c in pod.containers],
                                              minor, "metadata")
        return pod.finish(spec, errors)
    except (AttributeError, TypeError, KeyError, ValueError):
        # A field of the wrong type: judged as given, so the engine names what it cannot read.
        return ServerPod(metadata, spec)


# -- judging with the server's Pod Security library ------------------------------------------

_LEGACY_CHECKS = tuple(
    app_armor_profile.LEGACY_CHECK if c.id == app_armor_profile.ID else c for c in ALL_CHECKS)
#: the libraries by era: before 1.24 (no overrides), 1.24–1.29, from 1.30 (AppArmor fields)
_EVALUATORS: dict[str, Evaluator] = {}


def _era(minor: int) -> str:
    return "1.23" if minor < 24 else ("1.24" if minor < 30 else "1.30")


def _evaluator(era: str) -> Evaluator:
    found = _EVALUATORS.get(era)
    if found is None:
        found = EVALUATOR if era == "1.30" else Evaluator(_LEGACY_CHECKS,
                                                            overrides=era != "1.23")
        _EVALUATORS[era] = found
    return found


@functools.lru_cache(maxsize=1024)
def policy_on(version: Version, server: ServerVersion) -> Version:
    """The policy version `server` applies for `version`: one newer than it knows (and
    `latest`) is judged with its own newest rules."""
    return Version.of(min(version.effective_minor(), server.modelled_minor))


def judge(
    level: Level, version: Version, pod: ServerPod, server: ServerVersion
) -> tuple[Violation, ...]:
    """The violations of a prepared pod at `level`/`version` on `server`; () = allowed."""
    minor = server.modelled_minor
    return tuple(_evaluator(_era(minor)).evaluate(
        level, policy_on(version, server), pod.metadata, pod.spec))


_CACHE: dict[tuple[Level, int, str, str], tuple[Violation, ...]] = {}
_CACHE_LIMIT = 100_000


def judge_cached(
    level: Level, version: Version, pod: ServerPod, server: ServerVersion, key: str | None = None
) -> tuple[Violation, ...]:
    """Like `judge`, answered from a cache keyed by the prepared pod's security key.

    Pass `key` (from `security_key` of the prepared pod) when judging it several times.
    """
    minor = server.modelled_minor
    policy = policy_on(version, server)
    cache_key = (level, policy.effective_minor(), _era(minor),
                 key or security_key(pod.metadata, pod.spec))
    found = _CACHE.get(cache_key)
    if found is None:
        found = tuple(_evaluator(_era(minor)).evaluate(level, policy, pod.metadata, pod.spec))
        if len(_CACHE) >= _CACHE_LIMIT:
            _CACHE.clear()
        _CACHE[cache_key] = found
    return found


def clear_cache() -> None:
    """Forget every cached verdict (for measurements that must start cold)."""
    _CACHE.clear()
    policy_on.cache_clear()


class Verdict(NamedTuple):
    """A pod's verdict on one server: allowed, denied (with violations) or invalid (422) (a
    named tuple, made for every pod judged)."""

    server: ServerVersion
    violations: tuple[Violation, ...]
    invalid: tuple[str, ...] = ()
    #: the deprecation Warnings the server sends with an accepted create
    warnings: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        return not self.violations and not self.invalid

    @property
    def outcome(self) -> str:
        return outcome_of(self.violations, self.invalid)


def outcome_of(violations: Sequence[Violation], invalid: Sequence[str]) -> str:
    """`invalid` (a 422 before Pod Security), `denied` (violations) or `allowed`."""
    return "invalid" if invalid else ("denied" if violations else "allowed")


def verdict(
    level: Level,
    version: Version,
    metadata: Mapping[str, Any] | None,
    spec: Mapping[str, Any] | None,
    server: ServerVersion,
    origin: Origin,
    *,
    template_path: str | None = None,
) -> Verdict:
    """Prepare and judge one pod on `server`. `template_path` (e.g. `spec.template`) says the
    pod comes from a workload's template: the Warnings are those of creating the workload."""
    pod = prepare(metadata, spec, server, origin)
    if template_path is not None and origin is Origin.CREATED:
        warnings = () if pod.invalid else tuple(
            template_warnings(metadata, spec, server, template_path))
    else:
        warnings = pod.warnings
    if pod.invalid:
        return Verdict(server, (), pod.invalid, warnings)
    return Verdict(server, judge_cached(level, version, pod, server), (), warnings)


#: the server versions whose verdicts are compared to tell whether a verdict depends on one
MODELLED_SERVERS = tuple(ServerVersion.of(m) for m in range(FIRST_PSA_MINOR,
                                                           NEWEST_SERVER_MINOR + 1))


def verdict_by_server(
    level: Level,
    version: Version,
    metadata: Mapping[str, Any] | None,
    spec: Mapping[str, Any] | None,
    origin: Origin,
) -> list[Verdict]:
    """The verdict on every modelled server (1.23 to the newest), oldest first."""
    return [verdict(level, version, metadata, spec, s, origin) for s in MODELLED_SERVERS]


def server_ranges(verdicts: list[Verdict]) -> list[tuple[str, str]]:
    """(outcome, `v1.A–v1.B`) runs of equal outcome, oldest first: `[("allowed", "v1.23–v1.26"),
    ("denied", "v1.27–v1.36")]`. One entry when the verdict does not depend on the server."""
    runs: list[tuple[str, int, int]] = []
    for v in verdicts:
        minor = v.server.modelled_minor
        if runs and runs[-1][0] == v.outcome:
            runs[-1] = (v.outcome, runs[-1][1], minor)
        else:
            runs.append((v.outcome, minor, minor))
    return [(o, f"v1.{a}" if a == b else f"v1.{a}–v1.{b}") for o, a, b in runs]


# -- warnings on create -----------------------------------------------------------------------


_APPARMOR_DEPRECATED = 'deprecated since v1.30; use the "appArmorProfile" field instead'


def _seccomp_message(minor: int) -> str:
    if minor <= 24:
        return ('deprecated since v1.19, non-functional in v1.25+; use the "seccompProfile" '
                "field instead")
    return 'non-functional in v1.27+; use the "seccompProfile" field instead'


def _seccomp_warnings(annotations: Mapping[str, Any], context: Mapping[str, Any],
                      containers: list[dict[str, Any]], minor: int, prefix: str,
                      apparmor: bool = False) -> list[str]:
    """WarningsOnCreate's annotation warnings: a seccomp annotation without the field beside
    it (the pod's, then each container's in order), and for templates from 1.30 an AppArmor
    container annotation without any AppArmor field."""
    if minor < 19:
        return []
    message = _seccomp_message(minor)
    out: list[str] = []
    if context.get("seccompProfile") is None and SECCOMP_POD_ANNOTATION in annotations:
        out.append(f"{prefix}.annotations[{SECCOMP_POD_ANNOTATION}]: {message}")
    pod_apparmor = context.get("appArmorProfile") is not None
    for c in containers:
        sc = c.get("securityContext")
        sc = sc if isinstance(sc, Mapping) else {}
        name = str(c.get("name", ""))
        key = SECCOMP_CONTAINER_PREFIX + name
        if sc.get("seccompProfile") is None and key in annotations:
            out.append(f"{prefix}.annotations[{key}]: {message}")
        key = APPARMOR_CONTAINER_PREFIX + name
        if apparmor and minor >= 30 and not pod_apparmor and sc.get("appArmorProfile") is None \
                and key in annotations:
            out.append(f"{prefix}.annotations[{key}]: {_APPARMOR_DEPRECATED}")
    return out


def template_warnings(
    metadata: Mapping[str, Any] | None,
    spec: Mapping[str, Any] | None,
    server: ServerVersion,
    path: str = "spec.template",
) -> list[str]:
    """The deprecation Warnings on creating a workload whose pod template is at `path`
    (`spec.template`, a CronJob's `spec.jobTemplate.spec.template`): the template is stored
    as sent, so an annotation without its field is warned about on every version."""
    found = metadata.get("annotations") if isinstance(metadata, Mapping) else None
    annotations = ({str(k): v for k, v in found.items()} if isinstance(found, Mapping) else {})
    spec = spec if isinstance(spec, Mapping) else {}
    context = spec.get("securityContext")
    containers: list[dict[str, Any]] = []
    for key in _CONTAINER_LISTS:
        listed = spec.get(key)
        if isinstance(listed, list):
            containers += [c for c in listed if isinstance(c, dict)]
    return _seccomp_warnings(annotations, context if isinstance(context, Mapping) else {},
                             containers, server.modelled_minor, f"{path}.metadata",
                             apparmor=True)


def origin_of(obj: Mapping[str, Any]) -> Origin:
    """STORED for a Pod the server already holds (read back: it has a uid, a
    creationTimestamp or a status), else CREATED (a manifest, a workload's template)."""
    if obj.get("kind") != "Pod":
        return Origin.CREATED
    metadata = obj.get("metadata")
    if isinstance(metadata, Mapping) and (metadata.get("uid") or
                                          metadata.get("creationTimestamp")):
        return Origin.STORED
    return Origin.STORED if obj.get("status") else Origin.CREATED
