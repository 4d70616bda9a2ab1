"""securityContext patches: the smallest change that lets a workload's pods pass a level.

Owns the choice of what to patch (`select`: the template subjects of each namespace whose
plan promises a level after patches stricter than the one it enforces), the patch itself
(`compute_patch`: first the defaults a mutating PSP injected into the workload's pods, so
nothing changes when PSP goes away, then the fields the failing restricted checks ask for,
then a proof by `check_object` at the target level and version), and its three renderings:
a strategic-merge patch with a kustomization, an RFC 6902 JSON patch, and the full patched
manifest. A patch only adds fields or tightens values; a workload that already passes is
never touched; one that cannot pass by adding fields is refused, with the reasons.

Pure: objects and plans in, data and text out. Paths in `Change` run from the object's root.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from migrator.model.plan import Plan, PlanNamespace
from migrator.model.serialise import comment, dump_yaml
from migrator.model.workloads import template_path
from migrator.plan.checking import check_object
from migrator.plan.decide import patchable
from migrator.pss.api import SECCOMP_CONTAINER_PREFIX, SECCOMP_POD_ANNOTATION, Level, Version
from migrator.pss.engine import EVALUATOR
from migrator.pss.registry import Violation
from migrator.pss.server import ServerVersion, seccomp_field

Path = tuple[str | int, ...]

#: The container lists a pod template carries (ephemeral containers exist on pods only).
CONTAINER_LISTS = ("initContainers", "containers")
#: The checks a patch can satisfy by adding fields, and what each one adds.
#: check ID -> what the generated patch sets for it (declared by each check).
FIXES = {check.id: check.patch for check in EVALUATOR.checks.values() if check.patch}
_NOT_PATCHED = ("status",)
_VOLATILE_METADATA = ("creationTimestamp", "generation", "managedFields", "resourceVersion",
                      "selfLink", "uid")
_VOLATILE_ANNOTATIONS = ("deployment.kubernetes.io/revision",
                         "kubectl.kubernetes.io/last-applied-configuration")


# -- what to patch --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    """A workload to patch: where it runs, the level and version it must pass, and the
    defaults its PSP injected (the plan's mutation changes with cause "psp")."""

    namespace: str
    kind: str
    name: str
    origin: str
    level: Level
    version: Version
    psp: str | None = None
    psp_changes: tuple[Mapping[str, Any], ...] = ()
    #: the API servers the patched pods must pass on: today's and the one after the upgrade
    servers: tuple[ServerVersion, ...] = (ServerVersion.newest(),)

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.name}"

    @property
    def label(self) -> str:
        """`<namespace> <Kind>/<name>`, how reports name the workload."""
        return f"{self.namespace} {self.ref}"

    @property
    def stem(self) -> str:
        """The file name (without suffix) of this workload's patches."""
        return f"{self.namespace}.{self.kind.lower()}.{self.name}"


@dataclass(frozen=True, slots=True)
class Untouched:
    """A workload or namespace left alone, and why."""

    subject: str
    reason: str


@dataclass(frozen=True, slots=True)
class UnpatchedDefaults:
    """A workload that needs no patch although a PSP injected defaults into its pods."""

    namespace: str
    workload: str
    psp: str | None
    changes: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True, slots=True)
class Selection:
    """What `select` found in a plan."""

    targets: tuple[Target, ...]
    skipped: tuple[Untouched, ...]
    unpatched_defaults: tuple[UnpatchedDefaults, ...]


def plan_servers(plan: Mapping[str, Any]) -> tuple[ServerVersion, ...]:
    """The servers a plan judged on (today's, then the one after the upgrade), each once;
    the newest modelled for a plan that records none."""
    found: list[ServerVersion] = []
    servers = plan.get("servers")
    if isinstance(servers, Mapping):
        for text in (servers.get("current_reported") or servers.get("current"),
                     servers.get("upgrade_to")):
            try:
                server = ServerVersion.parse(str(text))
            except ValueError:
                continue
            if all(server.modelled_minor != s.modelled_minor for s in found):
                found.append(server)
    return tuple(found) or (ServerVersion.newest(),)


def _psp_mutation(ns: PlanNamespace, ref: str) -> tuple[str | None, tuple[Any, ...]]:
    for entry in ns.get("mutation") or ():
        if entry.get("workload") == ref:
            predicted = bool(entry.get("predicted"))
            changes = tuple({**c, "predicted": True} if predicted else c
                            for c in entry.get("changes") or () if c.get("cause") == "psp")
            return entry.get("psp"), changes
    return None, ()


def unpatched_rows(selection: Selection) -> list[dict[str, Any]]:
    """The workloads that will silently lose a PSP default (not edited), for the README and
    the pull-request description: label, PSP, and each value with where it comes from."""
    return [{"label": f"{u.namespace} {u.workload}", "psp": u.psp,
             "changes": [{"path": c.get("path"), "value": c.get("pod"),
                          "source": c.get("source"), "why": psp_reason(c, u.psp or "?")}
                         for c in u.changes]}
            for u in selection.unpatched_defaults]


def select(plan: Plan) -> Selection:
    """The workloads to patch: template subjects that fail the level `after_patches`
    promises, in namespaces where that level is stricter than the one enforced."""
    targets: list[Target] = []
    skipped: list[Untouched] = []
    informational: list[UnpatchedDefaults] = []
    servers = plan_servers(plan)
    for ns in sorted(plan.get("namespaces") or (), key=lambda n: str(n.get("name"))):
        name = str(ns["name"])
        recommended = ns["recommended"]
        enforce = Level.parse(recommended["enforce"])
        after = Level.parse(ns["after_patches"])
        version = Version.parse(recommended["enforce_version"])
        stricter = after.stricter_than(enforce)
        if not stricter:
            skipped.append(Untouched(name, "already enforces restricted; nothing to patch"
                                     if enforce == Level.RESTRICTED else
                                     f"no securityContext patch raises it above {enforce}; "
                                     "nothing generated"))
        key = f"{after}:{version}"
        for subject in ns.get("subjects") or ():
            ref = f"{subject['kind']}/{subject['name']}"
            psp, changes = _psp_mutation(ns, ref)
            if not subject.get("template"):
                if stricter and subject.get("owner") is None and subject["verdicts"].get(key):
                    skipped.append(Untouched(f"{name} {ref}", "a bare Pod cannot be patched in "
                                             "place; fix the manifest it was created from"))
                continue
            failing = stricter and bool(subject["verdicts"].get(key) or (
                subject.get("verdicts_after_upgrade") or {}).get(key))
            if failing:
                targets.append(Target(name, str(subject["kind"]), str(subject["name"]),
                                      str(subject.get("origin") or ""), after, version, psp,
                                      changes, servers))
            elif changes:
                informational.append(UnpatchedDefaults(name, ref, psp, changes))
    targets.sort(key=lambda t: (t.namespace, t.kind, t.name))
    return Selection(tuple(targets), tuple(skipped), tuple(informational))


# -- the patch ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Change:
    """One field a patch sets: its path from the object's root, a readable name, the value
    before (None: unset) and after, and why (`check <id>` or `PSP <name>: <its field>`)."""

    path: Path
    field: str
    before: Any
    after: Any
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class WorkloadPatch:
    """A verified patch: the changes, what they satisfy, and the object before and after."""

    target: Target
    api_version: str
    changes: tuple[Change, ...]
    satisfies: tuple[str, ...]
    psp_defaults: tuple[str, ...]
    warnings: tuple[str, ...]
    before: tuple[Violation, ...]
    original: Mapping[str, Any]
    patched: Mapping[str, Any]

    @property
    def policy(self) -> str:
        return f"{self.target.level}:{self.target.version}"


@dataclass(frozen=True, slots=True)
class Refusal:
    """A workload that needs a patch but cannot get one, and why."""

    target: Target
    reasons: tuple[str, ...]


def get_path(obj: Any, path: Path) -> Any:
    """The value at `path` (keys and list indexes) in `obj`, or None where it stops."""
    node = obj
    for key in path:
        if isinstance(key, int):
            node = node[key] if isinstance(node, list) and 0 <= key < len(node) else None
        else:
            node = node.get(key) if isinstance(node, Mapping) else None
        if node is None:
            return None
    return node


def set_path(obj: Any, path: Path, value: Any) -> None:
    """Set `value` at `path` in `obj`, creating missing mappings on the way."""
    node = obj
    for key in path[:-1]:
        if isinstance(key, int):
            node = node[key]
            continue
        child = node.get(key)
        if not isinstance(child, dict | list):
            child = {}
            _put(node, key, child)
        node = child
    _put(node, path[-1], copy.deepcopy(value))


#: New keys go before these existing ones (else at the end), as people write them.
PLACE_BEFORE = {"securityContext": ("initContainers", "containers"), "metadata": ("spec",)}


def insert_position(keys: Sequence[Any], key: Any) -> int:
    """Where a new `key` goes among `keys`: a pod's securityContext before its containers,
    a template's metadata before its spec, anything else at the end."""
    before = PLACE_BEFORE.get(key, ())
    for i, existing in enumerate(keys):
        if existing in before:
            return i
    return len(keys)


def _put(node: Any, key: Any, value: Any) -> None:
    if isinstance(node, list) or key in node:
        node[key] = value
        return
    keys = list(node)
    position = insert_position(keys, key)
    node[key] = value
    for moved in keys[position:]:
        node[moved] = node.pop(moved)


def _unset(value: Any) -> bool:
    return value is None or value == [] or value == {} or value == ""


class _Builder:
    """Collects changes on a working copy, one field at a time."""

    def __init__(self, obj: Mapping[str, Any], base: Path) -> None:
        self.work: dict[str, Any] = copy.deepcopy(dict(obj))
        self.base = base
        self.changes: dict[Path, Change] = {}
        self.notes: list[str] = []

    def spec_path(self) -> Path:
        return (*self.base, "spec")

    def containers(self) -> Iterator[tuple[Path, str, Mapping[str, Any]]]:
        """(path, readable name, container) for every init and regular container."""
        for key in CONTAINER_LISTS:
            items = get_path(self.work, (*self.spec_path(), key))
            for index, container in enumerate(items if isinstance(items, list) else ()):
                if isinstance(container, Mapping):
                    yield (*self.spec_path(), key, index), f"{key}[{container.get('name')}]", \
                        container

    def readable(self, path: Path) -> str:
        parts: list[str] = []
        for i, key in enumerate(path):
            if isinstance(key, int):
                name = get_path(self.work, (*path[:i], key, "name"))
                parts[-1] += f"[{name if name is not None else key}]"
            elif "." in key or "/" in key:
                parts[-1] += f"[{key}]"
            else:
                parts.append(key)
        return ".".join(parts)

    def set(self, path: Path, value: Any, reason: str) -> None:
        current = get_path(self.work, path)
        if current == value:
            return
        earlier = self.changes.get(path)
        before = earlier.before if earlier else copy.deepcopy(current)
        reasons = (*earlier.reasons, reason) if earlier else (reason,)
        set_path(self.work, path, value)
        self.changes[path] = Change(path, self.readable(path), before, copy.deepcopy(value),
                                    tuple(dict.fromkeys(reasons)))

    def extend(self, path: Path, items: Iterable[str], reason: str) -> None:
        current = get_path(self.work, path)
        present = list(current) if isinstance(current, list) else []
        missing = [i for i in items if i not in present]
        if missing:
            self.set(path, present + missing, reason)


_ANNOTATION = re.compile(r"^metadata\.annotations\[(?P<key>.+)\]$")
_CONTAINER_FIELD = re.compile(
    r"^spec\.(?P<list>initContainers|containers)\[(?P<name>[^\]]+)\]\.securityContext\."
    r"(?P<field>[A-Za-z.]+)$")
_POD_FIELD = re.compile(r"^spec\.securityContext\.(?P<field>[A-Za-z]+)$")


def _container_path(builder: _Builder, list_key: str, name: str) -> Path | None:
    items = get_path(builder.work, (*builder.spec_path(), list_key))
    for index, container in enumerate(items if isinstance(items, list) else ()):
        if isinstance(container, Mapping) and container.get("name") == name:
            return (*builder.spec_path(), list_key, index)
    return None


def _seccomp_target(builder: _Builder, key: str) -> Path | None:
    """Where the field an old seccomp annotation stands for lives (None: not seccomp)."""
    if key == SECCOMP_POD_ANNOTATION:
        return (*builder.spec_path(), "securityContext", "seccompProfile")
    if key.startswith(SECCOMP_CONTAINER_PREFIX):
        name = key[len(SECCOMP_CONTAINER_PREFIX):]
        for list_key in CONTAINER_LISTS:
            found = _container_path(builder, list_key, name)
            if found is not None:
                return (*found, "securityContext", "seccompProfile")
    return None


def psp_reason(change: Mapping[str, Any], psp: str) -> str:
    """`PSP <name>: <its field>`, saying when the value was predicted (no pod runs) rather
    than observed, and when it is only the bottom of the PSP's allowed range."""
    notes = [n for n in ("predicted: no pod runs now, so the PSP that would admit the "
                         "template decided it" if change.get("predicted") else "",
                         str(change.get("note") or "")) if n]
    return f"PSP {psp}: {change.get('source')}" + (f" ({'; '.join(notes)})" if notes else "")


def _apply_psp_default(builder: _Builder, change: Mapping[str, Any], psp: str) -> None:
    """Make one value a PSP injected explicit, where the template leaves it unset."""
    path, value = str(change.get("path")), change.get("pod")
    reason = psp_reason(change, psp)
    if (match := _ANNOTATION.match(path)) is not None:
        key = match.group("key")
        seccomp = _seccomp_target(builder, key)
        if seccomp is not None:
            # The field is what Kubernetes reads since 1.19; the annotation is deprecated.
            field_value = seccomp_field(str(value))
            if field_value is not None and _unset(get_path(builder.work, seccomp)):
                builder.set(seccomp, field_value, reason)
            return
        target = (*builder.base, "metadata", "annotations", key)
        if _unset(get_path(builder.work, target)):
            builder.set(target, value, reason)
        return
    if (match := _POD_FIELD.match(path)) is not None:
        target = (*builder.spec_path(), "securityContext", match.group("field"))
        if _unset(get_path(builder.work, target)):
            builder.set(target, value, reason)
        return
    if path == "spec.runtimeClassName":
        target = (*builder.spec_path(), "runtimeClassName")
        if _unset(get_path(builder.work, target)):
            builder.set(target, value, reason)
        return
    if (match := _CONTAINER_FIELD.match(path)) is not None:
        container = _container_path(builder, match.group("list"), match.group("name"))
        if container is None:
            builder.notes.append(f"{path}: the template has no such container; not copied")
            return
        target = (*container, "securityContext", *match.group("field").split("."))
        if match.group("field") in ("capabilities.add", "capabilities.drop"):
            builder.extend(target, [str(v) for v in value or ()], reason)
        elif _unset(get_path(builder.work, target)):
            builder.set(target, value, reason)
        return
    builder.notes.append(f"{path}: not a securityContext field; not copied")


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _fix(builder: _Builder, check: str) -> None:
    """Add what the restricted check `check` asks for (only patchable checks reach here)."""
    reason = f"check {check}"
    if check == "allowPrivilegeEscalation":
        for path, _name, container in builder.containers():
            if _map(container.get("securityContext")).get("allowPrivilegeEscalation") \
                    is not False:
                builder.set((*path, "securityContext", "allowPrivilegeEscalation"), False,
                            reason)
    elif check == "capabilities_restricted":
        for path, _name, container in builder.containers():
            caps = _map(_map(container.get("securityContext")).get("capabilities"))
            drop = caps.get("drop")
            if "ALL" not in (drop if isinstance(drop, list) else ()):
                builder.extend((*path, "securityContext", "capabilities", "drop"), ["ALL"],
                               reason)
    elif check == "runAsNonRoot":
        builder.set((*builder.spec_path(), "securityContext", "runAsNonRoot"), True, reason)
    elif check == "seccompProfile_restricted":
        if _seccomp_from_annotations(builder):
            return
        builder.set((*builder.spec_path(), "securityContext", "seccompProfile"),
                    {"type": "RuntimeDefault"}, reason)


def _seccomp_from_annotations(builder: _Builder) -> bool:
    """Set the seccompProfile fields the template's seccomp annotations stand for (a 1.19 to
    1.26 server copies them into its pods; later ones ignore them), where a field is unset
    and the annotation asks for RuntimeDefault or Localhost. True when the pod level is set
    this way (then no other profile is chosen)."""
    annotations = _map(get_path(builder.work, (*builder.base, "metadata", "annotations")))
    pod_level = False
    for key in sorted(annotations):
        target = _seccomp_target(builder, str(key))
        field = seccomp_field(str(annotations[key])) if target is not None else None
        if target is None or field is None or field["type"] == "Unconfined":
            continue
        if _unset(get_path(builder.work, target)):
            builder.set(target, field, f"made explicit from the annotation {key}")
        pod_level = pod_level or key == SECCOMP_POD_ANNOTATION
    return pod_level


def _tightens(change: Change) -> bool:
    """True for a change that only adds or tightens (the only kind a patch may make)."""
    if change.before is None:
        return True
    if isinstance(change.before, list) and isinstance(change.after, list):
        return change.after[:len(change.before)] == change.before
    return change.path[-1] == "allowPrivilegeEscalation" and change.after is False


def _warnings(builder: _Builder, changes: Sequence[Change]) -> list[str]:
    warnings: list[str] = []
    for change in changes:
        if change.path[-1] == "allowPrivilegeEscalation" and change.before is True:
            warnings.append(f"{change.field} was explicitly true and is now false: check "
                            "that the workload does not rely on setuid binaries or file "
                            "capabilities")
    added_non_root = [c for c in changes if c.path[-1] == "runAsNonRoot" and c.after is True]
    if added_non_root:
        pod_user = get_path(builder.work, (*builder.spec_path(), "securityContext", "runAsUser"))
        without_user = [name for _path, name, c in builder.containers()
                        if pod_user is None
                        and _map(c.get("securityContext")).get("runAsUser") is None]
        if without_user:
            by_psp = all(any(r.startswith("PSP ") for r in c.reasons) for c in added_non_root)
            warnings.append(
                "runAsNonRoot: true without a runAsUser for " + ", ".join(without_user)
                + ": the image must run as a non-root numeric user, or the kubelet refuses to "
                "start it; no user ID was invented"
                + (" (the PSP already forced runAsNonRoot on the running pods)" if by_psp
                   else ""))
    return warnings


def _refusal_reason(violation: Violation) -> str:
    return f"{violation.check}: {violation.text()}"


@dataclass(frozen=True, slots=True)
class _Judged:
    """An object's verdict on every server of a target: violations and 422s of any."""

    violations: tuple[Violation, ...]
    invalid: tuple[str, ...]

    @property
    def allowed(self) -> bool:
        return not self.violations and not self.invalid


def _judged(obj: dict[str, Any], target: Target) -> _Judged:
    violations: list[Violation] = []
    invalid: list[str] = []
    for server in target.servers:
        result = check_object(obj, target.origin, target.level, target.version, server)
        assert result is not None
        violations += [v for v in result.violations if v not in violations]
        invalid += [f"{server}: {e}" for e in result.invalid if f"{server}: {e}" not in invalid]
    return _Judged(tuple(violations), tuple(invalid))


def compute_patch(obj: Mapping[str, Any], target: Target) -> WorkloadPatch | Refusal | None:
    """The patch that makes `obj` pass `target`'s level and version; None when it already
    passes (it is then left untouched); a Refusal when adding fields cannot make it pass."""
    kind = str(obj.get("kind"))
    path = template_path(dict(obj))
    if path is None:
        return Refusal(target, (f"{kind} carries no pod template",))
    before = _judged(dict(obj), target)
    if before.allowed:
        return None
    builder = _Builder(obj, path)
    for change in target.psp_changes:
        _apply_psp_default(builder, change, target.psp or "(unnamed)")
    middle = _judged(builder.work, target)
    blocked = [v for v in middle.violations if not patchable(v)]
    if blocked:
        return Refusal(target, tuple(_refusal_reason(v) for v in blocked))
    for violation in middle.violations:
        _fix(builder, violation.check)
    changes = tuple(sorted(builder.changes.values(), key=lambda c: c.field))
    loosening = [c.field for c in changes if not _tightens(c)]
    if loosening:
        return Refusal(target, tuple(f"{f}: the patch would change an existing value"
                                     for f in loosening))
    after = _judged(builder.work, target)
    if not after.allowed:
        return Refusal(target, tuple(
            [f"refused by the server after the patch: {e}" for e in after.invalid]
            + ["still failing after the patch: " + _refusal_reason(v)
               for v in after.violations]))
    psp_defaults = tuple(c.field for c in changes if any(r.startswith("PSP ") for r in c.reasons))
    return WorkloadPatch(
        target=target,
        api_version=str(obj.get("apiVersion") or ""),
        changes=changes,
        satisfies=tuple(sorted({v.check for v in before.violations})),
        psp_defaults=psp_defaults,
        warnings=tuple(_warnings(builder, changes) + builder.notes),
        before=before.violations,
        original=copy.deepcopy(dict(obj)),
        patched=builder.work,
    )


# -- renderings -----------------------------------------------------------------------------


def compact(value: Any) -> str:
    """A value on one line, as JSON (stable key order)."""
    return json.dumps(value, sort_keys=True, separators=(", ", ": "), ensure_ascii=False)


def header(patch: WorkloadPatch, what: str) -> list[str]:
    """The comment lines that open every YAML rendering of `patch` (without `# `)."""
    t = patch.target
    lines = [f"{t.label}: {what} so its pods pass {patch.policy} (migrator generate)",
             f"satisfies: {', '.join(patch.satisfies)}"]
    for change in patch.changes:
        lines.append(f"  {change.field}: {compact(change.after)}  <- {'; '.join(change.reasons)}")
    if patch.psp_defaults:
        lines.append(f"made explicit from PSP {t.psp}: {', '.join(patch.psp_defaults)}")
    lines.extend(f"warning: {w}" for w in patch.warnings)
    return lines


def _nest(path: Path, value: Any, into: dict[str, Any], source: Mapping[str, Any]) -> None:
    """Put `value` at `path` into a strategic-merge patch: lists become name-keyed items."""
    node: Any = into
    src: Any = source
    for i, key in enumerate(path[:-1]):
        nxt = path[i + 1]
        if isinstance(key, int):
            continue
        src_child = src.get(key) if isinstance(src, Mapping) else None
        if isinstance(nxt, int):
            items = node.setdefault(key, [])
            name = src_child[nxt].get("name") if isinstance(src_child, list) else None
            found = next((item for item in items if item.get("name") == name), None)
            if found is None:
                found = {"name": name}
                items.append(found)
            node, src = found, src_child[nxt] if isinstance(src_child, list) else None
        else:
            node = node.setdefault(key, {})
            src = src_child
    node[str(path[-1])] = copy.deepcopy(value)


def _identity(patch: WorkloadPatch) -> dict[str, Any]:
    t = patch.target
    metadata: dict[str, Any] = {"name": t.name}
    if t.namespace:
        metadata["namespace"] = t.namespace
    return {"apiVersion": patch.api_version, "kind": t.kind, "metadata": metadata}


def strategic_patch(patch: WorkloadPatch) -> dict[str, Any]:
    """The strategic-merge patch: identity plus only the changed fields (containers by name)."""
    out = _identity(patch)
    body: dict[str, Any] = {}
    for change in patch.changes:
        _nest(change.path, change.after, body, patch.original)
    for key, value in body.items():
        if key == "metadata":
            out["metadata"].update(value)
        else:
            out[key] = value
    return out


def render_strategic(patch: WorkloadPatch) -> str:
    return comment(header(patch, "strategic-merge patch")) + dump_yaml(strategic_patch(patch))


def _pointer(path: Path) -> str:
    return "".join("/" + str(k).replace("~", "~0").replace("/", "~1") for k in path)


#: Annotations tools add to a live pod template that its manifest does not carry.
_TOOL_ANNOTATIONS = ("kubectl.kubernetes.io/restartedAt",)


def served(obj: Mapping[str, Any]) -> bool:
    """True for an object as the API server returns it (not a manifest as written)."""
    metadata = obj.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    return bool(obj.get("status") is not None or metadata.get("uid")
                or metadata.get("resourceVersion") or metadata.get("creationTimestamp"))


def _prune(value: Any) -> Any:
    """`value` without null, empty mappings and empty lists, recursively."""
    if isinstance(value, Mapping):
        out = {k: _prune(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if not _unset(v)}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def source_shape(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The shape a JSON patch is computed against: a manifest exactly as written; for an
    object the API server returned, the minimal shape its manifest can have (no status, no
    server metadata, no defaulted empty maps or lists, no annotations tools add to the
    template), so that parents are created and single keys added, never a map replaced
    that the manifest may fill."""
    if not served(obj):
        return copy.deepcopy(dict(obj))
    cleaned = clean(obj)
    path = template_path(dict(obj)) or None
    annotations = get_path(cleaned, (*path, "metadata", "annotations")) if path else None
    if isinstance(annotations, dict):
        for key in _TOOL_ANNOTATIONS:
            annotations.pop(key, None)
    shaped: dict[str, Any] = _prune(cleaned)
    return shaped


def json6902(patch: WorkloadPatch) -> list[dict[str, Any]]:
    """RFC 6902 operations against the workload's source (`source_shape`): `test` each
    container's name (order may differ in the cluster), `replace` existing values, `add`
    new keys one by one (`~1` escaped), and `add` a whole object where its parent is
    missing."""
    ops: list[dict[str, Any]] = []
    tested: set[Path] = set()
    grouped: dict[Path, dict[str, Any]] = {}
    shape = source_shape(patch.original)
    for change in patch.changes:
        for i, key in enumerate(change.path):
            if isinstance(key, int) and change.path[:i + 1] not in tested:
                tested.add(change.path[:i + 1])
                name = get_path(shape, (*change.path[:i + 1], "name"))
                ops.append({"op": "test", "path": _pointer((*change.path[:i + 1], "name")),
                            "value": name})
    for change in patch.changes:
        missing = next((i for i in range(1, len(change.path) + 1)
                        if get_path(shape, change.path[:i]) is None), None)
        if missing is None:
            ops.append({"op": "replace", "path": _pointer(change.path), "value": change.after})
        elif missing == len(change.path):
            ops.append({"op": "add", "path": _pointer(change.path), "value": change.after})
        else:
            parent = change.path[:missing]
            value = grouped.setdefault(parent, {})
            set_path(value, change.path[missing:], change.after)
    for parent, value in grouped.items():
        ops.append({"op": "add", "path": _pointer(parent), "value": value})
    tests = [op for op in ops if op["op"] == "test"]
    rest = sorted((op for op in ops if op["op"] != "test"), key=lambda op: op["path"])
    return tests + rest


def render_json6902(patch: WorkloadPatch) -> str:
    return json.dumps(json6902(patch), indent=2, ensure_ascii=False) + "\n"


def clean(obj: Mapping[str, Any]) -> dict[str, Any]:
    """`obj` without status and the metadata the API server owns."""
    out = {k: copy.deepcopy(v) for k, v in obj.items() if k not in _NOT_PATCHED}
    metadata = out.get("metadata")
    if isinstance(metadata, dict):
        for key in _VOLATILE_METADATA:
            metadata.pop(key, None)
        annotations = metadata.get("annotations")
        if isinstance(annotations, dict):
            for key in _VOLATILE_ANNOTATIONS:
                annotations.pop(key, None)
            if not annotations:
                metadata.pop("annotations")
    return out


def render_full(patch: WorkloadPatch) -> str:
    return comment(header(patch, "full manifest with the patch applied")) + dump_yaml(
        clean(patch.patched))


def target_selector(patch: WorkloadPatch) -> dict[str, str]:
    """A kustomize patch target naming exactly this workload."""
    group, _, version = patch.api_version.rpartition("/")
    out = {"group": group, "version": version, "kind": patch.target.kind,
           "name": patch.target.name}
    if patch.target.namespace:
        out["namespace"] = patch.target.namespace
    return out


def kustomization(patches: Sequence[WorkloadPatch], suffix: str, kind: str) -> str:
    """A kustomization listing one `patches:` entry per workload, each with a comment."""
    lines = [
        f"# {kind} patches generated by migrator; each makes one workload pass its level.",
        "# Add your workload manifests under resources:, or copy the patches: entries into",
        "# the overlay that deploys them (paths are relative to this folder).",
        "apiVersion: kustomize.config.k8s.io/v1beta1",
        "kind: Kustomization",
    ]
    if not patches:
        lines.append("patches: []")
        return "\n".join(lines) + "\n"
    lines.append("patches:")
    for patch in patches:
        lines.append(f"# {patch.target.label} -> {patch.policy}; satisfies "
                     + ", ".join(patch.satisfies))
        entry = [{"path": patch.target.stem + suffix, "target": target_selector(patch)}]
        lines.append(dump_yaml(entry).rstrip("\n"))
    return "\n".join(lines) + "\n"


def index_entry(patch: WorkloadPatch, file: str) -> dict[str, Any]:
    """The sidecar record of one JSON patch: what it targets and satisfies, and why."""
    return {
        "file": file,
        "target": target_selector(patch),
        "level": str(patch.target.level),
        "version": str(patch.target.version),
        "satisfies": list(patch.satisfies),
        "psp": patch.target.psp,
        "psp_defaults": list(patch.psp_defaults),
        "changes": [{"field": c.field, "before": c.before, "after": c.after,
                     "reasons": list(c.reasons)} for c in patch.changes],
        "warnings": list(patch.warnings),
        "patch": json6902(patch),
    }


FORMATS = ("strategic", "json6902", "full")


def render_patches(patches: Sequence[WorkloadPatch], formats: Iterable[str]) -> dict[str, str]:
    """Every file of the requested formats, keyed by path below `patches/`."""
    wanted = set(formats)
    files: dict[str, str] = {}
    ordered = sorted(patches, key=lambda p: p.target.stem)
    if "strategic" in wanted:
        for p in ordered:
            files[f"strategic/{p.target.stem}.yaml"] = render_strategic(p)
        files["strategic/kustomization.yaml"] = kustomization(ordered, ".yaml", "Strategic-merge")
    if "json6902" in wanted:
        for p in ordered:
            files[f"json6902/{p.target.stem}.json"] = render_json6902(p)
        files["json6902/kustomization.yaml"] = kustomization(ordered, ".json", "RFC 6902 JSON")
        index = [index_entry(p, f"{p.target.stem}.json") for p in ordered]
        files["json6902/index.json"] = json.dumps(index, indent=2, ensure_ascii=False) + "\n"
    if "full" in wanted:
        for p in ordered:
            files[f"full/{p.target.stem}.yaml"] = render_full(p)
    return dict(sorted(files.items()))


# -- every target ---------------------------------------------------------------------------

ObjectKey = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class Patched:
    """The outcome of `patch_all`: verified patches, refusals, and targets left untouched
    (already passing in their source, or whose object is not available)."""

    patches: tuple[WorkloadPatch, ...]
    refusals: tuple[Refusal, ...]
    untouched: tuple[Untouched, ...]


def patch_all(targets: Sequence[Target],
              objects: Mapping[ObjectKey, Mapping[str, Any]]) -> Patched:
    """`compute_patch` for every target whose object (kind, namespace, name) is known."""
    patches: list[WorkloadPatch] = []
    refusals: list[Refusal] = []
    untouched: list[Untouched] = []
    for target in targets:
        obj = objects.get((target.kind, target.namespace, target.name))
        if obj is None:
            where = target.origin or "no origin recorded"
            untouched.append(Untouched(target.label, f"its manifest ({where}) is not "
                                       "available; pass the files the plan was made from "
                                       "with --from"))
            continue
        outcome = compute_patch(obj, target)
        if outcome is None:
            untouched.append(Untouched(target.label, f"already passes {target.level}:"
                                       f"{target.version} in {target.origin}"))
        elif isinstance(outcome, Refusal):
            refusals.append(outcome)
        else:
            patches.append(outcome)
    return Patched(tuple(patches), tuple(refusals), tuple(untouched))
