"""The residual of each namespace's PSPs: what Pod Security drops, proved against the inventory.

Owns `residual_plan`: for every planned namespace, the PSPs its pods may use (every pod, the
pods of some service accounts, or the pods some users, groups or controllers create), each
with the rules its recommended Pod Security level does not already enforce
(`migrator.psp.residual`), composed into one policy that admits a pod when any usable PSP
would have. The policy is then proved with a CEL engine (`migrator.plan.cel`) against every
pod and template of the namespace, as the policy will see them: running pods as stored,
templates as the pods their controller creates on the server after the upgrade (its
defaulting and annotation/field syncing, `migrator.pss.server.prepare`, and the
controller's request). A rule that would reject a pod running today is reported instead of
kept (and the policy proved again without it); the templates and pods the kept rules still
reject are listed. Replicas are judged once. The result is JSON-ready plan data, read by
`migrator generate` to write the policies.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import orjson

from migrator.model.inventory import Inventory, Obj, name_of, namespace_of
from migrator.model.owners import OwnerIndex, template_sources
from migrator.model.workloads import SHARED_PARTS, pod_template
from migrator.plan.cel import CelError, CompiledPolicy, Failure
from migrator.psp.residual import (
    Alternative,
    Composed,
    compose,
    not_expressed,
    residual_rules,
)
from migrator.psp.spec import PSPSpec, read_psp
from migrator.pss.api import Level, Version
from migrator.pss.server import Origin, ServerVersion, prepare
from migrator.rbac.access import (
    CONTROLLERS_NAMESPACE,
    POD_CREATORS,
    Grant,
    NamespaceAccess,
    PSPAccess,
)

#: How many rejected objects the plan names per namespace before it only counts them.
REJECTED_LIMIT = 20
#: Who created a pod is not recorded in it: the proof grants no requester anything, so a
#: rule that only a requester's own PSP would waive is reported rather than trusted.
UNKNOWN_REQUESTER: dict[str, Any] = {"request": {"userInfo": {"username": "", "groups": []}}}


@lru_cache(maxsize=256)
def compiled(policy: Composed) -> CompiledPolicy:
    """The CEL programs of a composed policy."""
    return CompiledPolicy(
        policy.variables,
        [(v.expression, v.message_expression, f"{v.psp}: {v.field}") for v in policy.validations],
    )


@dataclass(frozen=True, slots=True)
class _Subject:
    """A pod or template as the policies see it, with `shape`: its annotations and spec as
    every residual rule reads them (`shape_key`), so that replicas are judged once; the pods
    of one namespace with one shape are one subject."""

    #: the references of every pod of this namespace with this shape, sorted (a running
    #: pod stands for its replicas), or the template's own
    members: tuple[str, ...]
    running: bool
    obj: Obj
    shape: str

    @property
    def ref(self) -> str:
        """The first member's reference: the one judged, and named in what is reported."""
        return self.members[0]


#: What `_pod_shape` keys apart from the shared parts: the node is no part of a shape, and
#: the volumes are keyed without their names.
_UNSHARED_SKIP = frozenset({*SHARED_PARTS, "volumes", "nodeName"})


def _pod_shape(metadata: Mapping[str, Any], spec: Mapping[str, Any],
               memo: dict[Any, Any]) -> str:
    """`shape_key` of a running pod, computed once for the pods whose parts are the very
    same objects (the readers share the identical container lists, security context and
    annotations of replicas: `share_parts`; the inventory keeps them alive, so an `id`
    names one object here) and whose containers mount no volume (the mounts' names would follow the
    volumes' renaming)."""
    annotations = metadata.get("annotations") or {}
    get = spec.get
    parts = tuple(get(key) for key in SHARED_PARTS)
    ids = tuple(id(part) for part in parts)
    mounts = memo.get(ids)
    if mounts is None:
        mounts = memo[ids] = any(
            not isinstance(c, dict) or "volumeMounts" in c
            for part in parts[:3] if part is not None
            for c in (part if isinstance(part, list) else [part]))
    volumes = get("volumes") or []
    if mounts or not isinstance(volumes, list) or not all(isinstance(v, dict) for v in volumes):
        return _annotations_key(annotations) + shape_key(spec)
    unnamed = [[(k, x) for k, x in volume.items() if k != "name"] for volume in volumes]
    rest = {k: v for k, v in spec.items() if k not in _UNSHARED_SKIP}
    ident = (id(annotations), ids, _dumps([unnamed, rest]))
    found: str | None = memo.get(ident)
    if found is None:
        found = memo[ident] = _annotations_key(annotations) + shape_key(spec)
    return found


#: Keys sorted; a key that is not a string (YAML allows them) written as one.
_KEY_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


def _dumps(value: Any) -> str:
    """`value` as JSON with sorted keys, for keys (what orjson cannot write, an integer
    beyond 64 bits, by the stdlib)."""
    try:
        return orjson.dumps(value, option=_KEY_OPTIONS, default=str).decode()
    except TypeError:
        return json.dumps(value, sort_keys=True, default=str)


def _annotations_key(annotations: Any) -> str:
    return _dumps(annotations)


def _subjects(inventory: Inventory, index: OwnerIndex, server: ServerVersion
              ) -> dict[str, list[_Subject]]:
    """Per namespace, every subject the policies judge, sorted by reference.

    A running pod as stored (what a policy sees when it is updated); a workload template as
    the pod it creates on `server`, the one the policies will run on (its defaulting and
    annotation/field syncing); a template that server would refuse (422) is left out, as it
    never reaches admission.
    """
    out: dict[str, list[_Subject]] = {}
    memo: dict[Any, str] = {}
    shapes: dict[tuple[str, str], list[tuple[str, Obj]]] = {}
    for pod in inventory.pods:
        metadata = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        key = (namespace_of(pod), _pod_shape(metadata, spec, memo))
        shapes.setdefault(key, []).append((f"Pod/{name_of(pod)}", pod))
    for (ns, shape), members in shapes.items():
        members.sort(key=lambda member: member[0])
        first = members[0][1]  # judged for all: the first of them, as the proof meets them
        out.setdefault(ns, []).append(_Subject(
            tuple(ref for ref, _pod in members), True,
            {"metadata": first.get("metadata") or {}, "spec": dict(first.get("spec") or {})},
            shape))
    for obj in template_sources(inventory, index):
        template = pod_template(obj)
        if template is None:
            continue
        created = prepare(template.metadata, template.spec, server, Origin.CREATED)
        if created.invalid:
            continue
        out.setdefault(namespace_of(obj), []).append(_Subject(
            (f"{obj.get('kind')}/{name_of(obj)}",), False,
            {"metadata": dict(created.metadata), "spec": dict(created.spec),
             CREATOR: controller_request(str(obj.get("kind")))},
            _annotations_key(created.metadata.get("annotations") or {})
            + shape_key(created.spec)))
    return {ns: sorted(items, key=lambda i: i.ref) for ns, items in out.items()}


#: Where a template subject keeps the request its pods are created with (not a pod field).
CREATOR = "_creator"


def controller_request(kind: str) -> dict[str, Any]:
    """The request the controller of a `kind` object creates its pods with: its service
    account in kube-system (kube-controller-manager's per-controller credentials), or an
    unknown requester for a kind no controller creates pods of."""
    controller = POD_CREATORS.get(kind)
    if controller is None:
        return UNKNOWN_REQUESTER
    return {"request": {"userInfo": {
        "username": f"system:serviceaccount:{CONTROLLERS_NAMESPACE}:{controller}",
        "groups": ["system:serviceaccounts", f"system:serviceaccounts:{CONTROLLERS_NAMESPACE}",
                   "system:authenticated"]}}}


def _requesters(namespace: str, grants: Iterable[Grant]) -> dict[str, tuple[set[str], set[str]]]:
    """Per PSP: the users and groups that may create pods in `namespace` with it themselves
    (grants to every authenticated user are already usable by every pod)."""
    out: dict[str, tuple[set[str], set[str]]] = {}
    for grant in grants:
        if grant.all_authenticated or grant.binding_namespace not in (None, namespace):
            continue
        users, groups = out.setdefault(grant.psp, (set(), set()))
        if grant.subject_kind == "User":
            users.add(grant.subject_name)
        elif grant.subject_kind == "ServiceAccount":
            users.add(f"system:serviceaccount:{grant.subject_namespace}:{grant.subject_name}")
        elif grant.subject_kind == "Group" and grant.subject_name != "system:unauthenticated":
            groups.add(grant.subject_name)
    return out


def _alternatives(namespace: str, access: NamespaceAccess | None, user_grants: Iterable[Grant],
                  specs: Mapping[str, PSPSpec], level: Level, version: Version
                  ) -> list[Alternative]:
    usable = dict(access.usable) if access is not None else {}
    by_account = access.by_service_account if access is not None else {}
    requesters = _requesters(namespace, user_grants)
    out = []
    for psp in sorted(set(usable) | set(requesters)):
        spec = specs.get(psp)
        if spec is None:
            continue  # a missing PSP admits nothing
        everyone = any(g.subject_kind != "ServiceAccount" for g in usable.get(psp, ()))
        accounts = None if everyone else tuple(sorted(
            sa for sa, psps in by_account.items() if psp in psps))
        users, groups = requesters.get(psp, (set(), set()))
        out.append(Alternative(psp, accounts, _rules(psp, spec, level, version),
                               tuple(sorted(users)), tuple(sorted(groups))))
    return out


@lru_cache(maxsize=1024)
def _rules(psp: str, spec: PSPSpec, level: Level, version: Version) -> tuple[Any, ...]:
    """`residual_rules` of one PSP (a frozen value), once per level and version: the
    namespaces share their PSPs."""
    return tuple(residual_rules(spec, level, version))


def _without(alternatives: Iterable[Alternative],
             dropped: set[tuple[str, str]]) -> list[Alternative]:
    return [replace(a, rules=tuple(r for r in a.rules if (a.psp, r.field) not in dropped))
            for a in alternatives]


def shape_key(spec: Mapping[str, Any]) -> str:
    """The pod spec with volumes renamed by position (mounts following them) and the node
    left out: replicas of one workload, which differ only there (the token volume has a
    random suffix per pod), get the same verdict from every residual rule (with the same
    annotations and requester, which the caller adds to the key)."""
    volumes = spec.get("volumes")
    names: dict[str, str] = {}
    renamed: list[Any] = []
    for index, volume in enumerate(volumes if isinstance(volumes, list) else ()):
        if isinstance(volume, Mapping) and isinstance(volume.get("name"), str):
            names[str(volume["name"])] = f"v{index}"
            volume = {**volume, "name": f"v{index}"}
        renamed.append(volume)
    out: dict[str, Any] = {k: v for k, v in spec.items() if k not in ("nodeName", "volumes")}
    out["volumes"] = renamed
    for key in ("initContainers", "containers", "ephemeralContainers"):
        items = spec.get(key)
        if not isinstance(items, list):
            continue
        fixed = []
        for item in items:
            mounts = item.get("volumeMounts") if isinstance(item, Mapping) else None
            if isinstance(mounts, list):
                item = {**item, "volumeMounts": [
                    {**m, "name": names.get(str(m.get("name")), m.get("name"))}
                    if isinstance(m, Mapping) else m for m in mounts]}
            fixed.append(item)
        out[key] = fixed
    return _dumps(out)


Verdicts = dict[tuple[int, str], list[Failure]]


def _requester_of(obj: Obj, alternatives: Iterable[Alternative]) -> dict[str, Any]:
    """The request a subject is judged with: a template's, its controller's; a running
    pod's, as one of the users or groups that may use the PSP that admitted it (its
    `kubernetes.io/psp` annotation) when only requesters could; else an unknown one."""
    if CREATOR in obj:
        return dict(obj[CREATOR])
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    admitted_by = annotations.get("kubernetes.io/psp")
    for alt in alternatives:
        if alt.psp == admitted_by and (alt.users or alt.groups):
            user = alt.users[0] if alt.users else ""
            return {"request": {"userInfo": {"username": user, "groups": list(alt.groups)}}}
    return UNKNOWN_REQUESTER


def _prove(alternatives: list[Alternative], subjects: list[_Subject],
           verdicts: Verdicts, policy_ids: dict[Composed, int]
           ) -> tuple[list[Alternative], list[dict[str, Any]], list[dict[str, Any]]]:
    """The alternatives with every rule that rejects a running pod removed, those rules
    (reported), and what the remaining policy rejects."""
    reported: list[dict[str, Any]] = []
    dropped: set[tuple[str, str]] = set()
    while True:
        current = _without(alternatives, dropped)
        policy = compose(current)
        if policy is None:
            return current, reported, []
        try:
            program = compiled(policy)
        except CelError as exc:  # a generator bug must never reach a cluster
            for v in policy.validations:
                dropped.add((v.psp, v.field))
                reported.append({"psp": v.psp, "field": v.field,
                                 "reason": f"does not compile: {exc}"})
            continue
        rejected: list[dict[str, Any]] = []
        newly: set[tuple[str, str]] = set()
        policy_id = policy_ids.setdefault(policy, len(policy_ids))
        for subject in subjects:
            ref, running, obj = subject.ref, subject.running, subject.obj
            request = _requester_of(obj, current)
            key = (policy_id, orjson.dumps(request, option=orjson.OPT_SORT_KEYS).decode()
                   + subject.shape)
            if key not in verdicts:
                verdicts[key] = program.evaluate(obj, request)
            for failure in verdicts[key]:
                validation = policy.validations[failure.index]
                if running:
                    rule = (validation.psp, validation.field)
                    if rule not in newly:
                        newly.add(rule)
                        reported.append({"psp": validation.psp, "field": validation.field,
                                         "reason": f"would reject running {ref}: "
                                                   f"{failure.message}"})
                rejected.extend({"object": member, "running": running,
                                 "psp": validation.psp, "field": validation.field,
                                 "message": failure.message} for member in subject.members)
        if not newly:
            # in the order of the objects, each one's rejections in the policy's order
            rejected.sort(key=lambda r: str(r["object"]))
            return current, reported, rejected
        dropped |= newly


def _namespace(name: str, level: Level, version: Version, access: PSPAccess,
               specs: Mapping[str, PSPSpec], subjects: list[_Subject],
               verdicts: Verdicts, policy_ids: dict[Composed, int]) -> dict[str, Any]:
    alternatives = _alternatives(name, access.by_namespace.get(name), access.user_grants,
                                 specs, level, version)
    kept, reported, rejected = _prove(alternatives, subjects, verdicts, policy_ids)
    return {
        "namespace": name,
        "level": str(level),
        "version": str(version),
        "alternatives": [{
            "psp": a.psp,
            "service_accounts": list(a.service_accounts) if a.service_accounts is not None
            else None,
            "users": list(a.users),
            "groups": list(a.groups),
            "rules": [r.to_dict() for r in a.rules],
        } for a in kept],
        "reported": sorted(reported, key=lambda r: (r["psp"], r["field"])),
        "rejects": rejected[:REJECTED_LIMIT],
        "rejects_count": len(rejected),
        "checked": sum(len(s.members) for s in subjects),
    }


def residual_plan(inventory: Inventory, access: PSPAccess, index: OwnerIndex,
                  levels: Mapping[str, tuple[Level, Version]],
                  server: ServerVersion | None = None) -> dict[str, Any]:
    """The residual section of the plan: per namespace (with its enforce level and version
    in `levels`), the kept, reported and rejecting rules, and what no rule expresses."""
    specs = {name_of(p): read_psp(p) for p in inventory.psps}
    subjects = _subjects(inventory, index, server or ServerVersion.newest())
    verdicts: Verdicts = {}  # namespaces with the same policy share the pods' verdicts
    policy_ids: dict[Composed, int] = {}
    namespaces = [
        _namespace(ns, level, version, access, specs, subjects.get(ns, []), verdicts,
                   policy_ids)
        for ns, (level, version) in sorted(levels.items())
    ]
    expressions = _intern_expressions(namespaces)
    return {
        "namespaces": namespaces,
        "alternatives": _intern_alternatives(namespaces),
        "expressions": expressions,
        "not_expressed": [n.to_dict() for s in sorted(specs) for n in not_expressed(specs[s])],
    }


def _intern_alternatives(namespaces: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Each distinct list of alternatives once: namespaces name theirs by key (`a1`, ...,
    numbered in namespace order), as many namespaces share the same PSPs and grants."""
    keys: dict[str, str] = {}
    table: dict[str, list[dict[str, Any]]] = {}
    for ns in namespaces:
        alternatives = ns.pop("alternatives")
        text = json.dumps(alternatives, sort_keys=True)
        if text not in keys:
            keys[text] = f"a{len(keys) + 1}"
            table[keys[text]] = alternatives
        ns["alternatives_key"] = keys[text]
    return table


def entry_alternatives(section: Mapping[str, Any], entry: Mapping[str, Any]
                       ) -> list[dict[str, Any]]:
    """A namespace entry's alternatives, from the section's `alternatives` table."""
    found = (section.get("alternatives") or {}).get(entry.get("alternatives_key"))
    return list(found) if isinstance(found, list) else []


def _intern_expressions(namespaces: list[dict[str, Any]]) -> dict[str, str]:
    """Each distinct CEL expression once: the rules name theirs by key (`e1`, `e2`, ...,
    numbered in sorted order of the expressions, so the same plan gives the same keys).

    Namespaces that share a PSP share its rules' expressions, which are long: stored per
    namespace they made plan.json grow with namespaces times rules."""
    rules = [r for ns in namespaces for a in ns["alternatives"] for r in a["rules"]]
    keys = {cel: f"e{i}" for i, cel in enumerate(sorted({r["violations"] for r in rules}), 1)}
    for rule in rules:
        rule["expression"] = keys[rule.pop("violations")]
    return {key: cel for cel, key in keys.items()}
