"""ValidatingAdmissionPolicies that keep what Pod Security drops from each namespace's PSPs.

Owns the files of `residual-policies/` and the bindings in the two phase folders. From the
plan's `residual` section (the proved rules per namespace, `migrator.plan.residual`), less
the guarantees the user drops (`--drop-guarantee PSP:FIELD`), each namespace's PSPs are
composed into one policy (`migrator.psp.residual.compose`: a pod passes when any PSP usable
by it would have admitted it); namespaces with the same composition share one policy. Each
policy matches pod CREATE and UPDATE (and the ephemeralcontainers subresource), carries one
validation per rule with a `messageExpression` naming the PSP, the field and the allowed
values, and is bound once per phase by a binding of the same name whose namespaceSelector
lists the namespaces by `kubernetes.io/metadata.name`: `[Warn, Audit]` in phase 1, `[Deny]`
in phase 2 (applying phase 2 updates the phase-1 binding in place). The shape is the one a
1.36 API server accepted (`tests/data/vap/`).

The API version follows the plan's target version: `admissionregistration.k8s.io/v1` from
1.30, `v1beta1` on 1.28 and 1.29 (where the feature must be switched on), none before, in
which case no policy is written and the README lists the rules that are lost. The phase
kustomizations include the bindings and `../../residual-policies` only when the planned
cluster already serves that API (a 1.24 cluster applies its phase-1 labels first and the
policies after the upgrade). `residual_view` is what the READMEs, the pull-request
description and the report say about them.

Pure: a plan in, `{relative path: text}` and a summary for the READMEs out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from typing import Any

from migrator.errors import UsageError
from migrator.model.serialise import comment, dump_yaml
from migrator.plan.residual import entry_alternatives
from migrator.psp.residual import Alternative, Composed, ResidualRule, compose
from migrator.psp.rules import APPARMOR_FIELD
from migrator.pss.api import Version

FOLDER = "residual-policies"
NAME_LABEL = "kubernetes.io/metadata.name"
#: Policy and binding names are DNS subdomains (253 characters at most).
MAX_NAME = 253
PHASE_ACTIONS = {"phase1-audit": ["Warn", "Audit"], "phase2-enforce": ["Deny"]}


@dataclass(frozen=True, slots=True)
class Policy:
    """One generated policy: its name, the namespaces bound to it, and what it keeps."""

    name: str
    namespaces: tuple[str, ...]
    alternatives: tuple[Alternative, ...]
    composed: Composed


@dataclass
class Residual:
    """What `residual_files` decided, for the READMEs and the command's summary."""

    api_version: str | None
    policies: list[Policy] = field(default_factory=list)
    dropped: list[dict[str, str]] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    bindings: dict[str, list[str]] = field(default_factory=dict)
    planned: bool = True
    served_now: bool = False


def _minor(server_version: str | None) -> str:
    """`v1.24.17` -> `v1.24`; unknown -> `latest`."""
    parts = (server_version or "").lstrip("v").split(".")
    if len(parts) >= 2 and parts[0] == "1" and parts[1].isdigit():
        return f"v1.{int(parts[1])}"
    return "latest"


def api_version(target: str) -> str | None:
    """The ValidatingAdmissionPolicy API a server of policy version `target` serves."""
    try:
        minor = Version.parse(target).minor
    except ValueError:
        minor = None
    if minor is None or minor >= 30:
        return "admissionregistration.k8s.io/v1"
    if minor >= 28:
        return "admissionregistration.k8s.io/v1beta1"
    return None


def parse_drops(values: Iterable[str]) -> set[tuple[str, str]]:
    """`PSP:FIELD` arguments as (psp, field); FIELD may leave out the leading `spec.`."""
    out = set()
    for value in values:
        psp, sep, name = value.partition(":")
        if not sep or not psp or not name:
            raise UsageError(f"--drop-guarantee {value!r}: expected PSP:FIELD, for example "
                             "restricted:spec.readOnlyRootFilesystem")
        out.add((psp, name if name.startswith(("spec.", "metadata.")) else f"spec.{name}"))
    return out


def _alternatives(entry: Mapping[str, Any], section: Mapping[str, Any]) -> list[Alternative]:
    expressions: Mapping[str, str] = section.get("expressions") or {}
    out = []
    for alt in entry_alternatives(section, entry):
        accounts = alt.get("service_accounts")
        rules = tuple(ResidualRule(str(alt["psp"]), str(r["field"]), str(r["allowed"]),
                                   str(expressions[r["expression"]]))
                      for r in alt.get("rules") or ())
        out.append(Alternative(str(alt["psp"]), None if accounts is None else tuple(accounts),
                               rules, tuple(alt.get("users") or ()),
                               tuple(alt.get("groups") or ())))
    return out


#: Pod fields a rule may read that older servers' schemas lack (a typed CEL expression naming
#: a field the server does not know does not compile, and a policy that does not compile
#: denies every pod): the field, the first minor that has it, the rule that reads it.
NEWER_FIELDS = (("securityContext.appArmorProfile", 30, APPARMOR_FIELD),)


def _drop(alternatives: list[Alternative], drops: AbstractSet[tuple[str, str]],
          namespace: str, dropped: list[dict[str, str]], minor: int | None
          ) -> list[Alternative]:
    too_new = {rule_field: f"reads {name}, which the {minor and f'1.{minor}'} API server does "
                           f"not have (1.{since}+): not generated"
               for name, since, rule_field in NEWER_FIELDS
               if minor is not None and minor < since}
    out = []
    for alt in alternatives:
        kept = []
        for rule in alt.rules:
            if (alt.psp, rule.field) in drops:
                dropped.append({"psp": alt.psp, "field": rule.field, "namespace": namespace,
                                "reason": "dropped with --drop-guarantee"})
            elif rule.field in too_new:
                dropped.append({"psp": alt.psp, "field": rule.field, "namespace": namespace,
                                "reason": too_new[rule.field]})
            else:
                kept.append(rule)
        out.append(replace(alt, rules=tuple(kept)))
    return out


def _key(alternatives: Iterable[Alternative]) -> tuple[Any, ...]:
    return tuple((a.psp, a.service_accounts, a.users, a.groups,
                  tuple((r.field, r.violations) for r in a.rules))
                 for a in alternatives)


def _name(alternatives: Iterable[Alternative], level: str, namespace: str,
          taken: set[str]) -> str:
    """`migrator-residual-<psp>[-or-<psp>…]`, then with the level, then with the first
    namespace, whichever is free first."""
    base = "migrator-residual-" + "-or-".join(a.psp for a in alternatives)
    for name in (base, f"{base}-{level}", f"{base}-{level}-{namespace}"):
        if len(name) > MAX_NAME:  # a DNS subdomain: cut, and keep it unique with a digest
            digest = hashlib.sha256(name.encode()).hexdigest()[:10]
            name = f"{name[:MAX_NAME - 11].rstrip('-.')}-{digest}"
        if name not in taken:
            taken.add(name)
            return name
    raise AssertionError(f"policy name {base} taken three times")  # namespaces are unique


def _policy_doc(policy: Policy, version: str) -> dict[str, Any]:
    return {
        "apiVersion": version,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": policy.name,
                     "labels": {"app.kubernetes.io/managed-by": "migrator"}},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": [{
                "apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
                "resources": ["pods", "pods/ephemeralcontainers"],
            }]},
            "variables": [{"name": n, "expression": e} for n, e in policy.composed.variables],
            "validations": [{
                "expression": v.expression,
                "messageExpression": v.message_expression,
                "message": f"PodSecurityPolicy {v.psp}: {v.field} does not allow this pod",
                "reason": "Forbidden",
            } for v in policy.composed.validations],
        },
    }


def _binding_doc(policy: Policy, version: str, actions: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": version,
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": policy.name,
                     "labels": {"app.kubernetes.io/managed-by": "migrator"}},
        "spec": {
            "policyName": policy.name,
            "validationActions": list(actions),
            "matchResources": {"namespaceSelector": {"matchExpressions": [{
                "key": NAME_LABEL, "operator": "In", "values": list(policy.namespaces),
            }]}},
        },
    }


def _who(alt: Alternative) -> str:
    parts = []
    if alt.service_accounts:
        parts.append("pods of service accounts " + ", ".join(alt.service_accounts))
    if alt.users:
        parts.append("pods created by users " + ", ".join(alt.users))
    if alt.groups:
        parts.append("pods created by groups " + ", ".join(alt.groups))
    return "; ".join(parts) or "no pod"


def _describe(policy: Policy) -> list[str]:
    lines = [f"Keeps what Pod Security does not enforce of the PodSecurityPolicies usable in "
             f"{', '.join(policy.namespaces)}:"]
    for alt in policy.alternatives:
        who = "every pod" if alt.service_accounts is None else _who(alt)
        lines.append(f"- {alt.psp} ({who}):")
        lines.extend(f"    {r.field}: {r.allowed}" for r in alt.rules)
        if not alt.rules:
            lines.append("    nothing beyond Pod Security")
    if len(policy.alternatives) > 1:
        lines.append("A pod passes when any one of these PSPs would have admitted it, as PSP "
                     "admission did.")
    return lines


def residual_files(plan: Mapping[str, Any],
                   drops: AbstractSet[tuple[str, str]] = frozenset(),
                   *, documents: bool = True) -> Residual:
    """The policy and binding files (paths relative to the output folder) and a summary;
    with `documents` False, the summary only (the files' paths, no content)."""
    section = plan.get("residual")
    target = str(plan.get("target_version") or "latest")
    version = api_version(target)
    try:
        target_minor = Version.parse(target).minor
    except ValueError:
        target_minor = None
    server = (plan.get("cluster") or {}).get("server_version")
    result = Residual(version, planned=isinstance(section, Mapping),
                      served_now=bool(server) and version is not None
                      and api_version(_minor(server)) == version)
    if not isinstance(section, Mapping):
        return result
    known = {(str(a["psp"]), str(r["field"])) for e in section.get("namespaces") or ()
             for a in entry_alternatives(section, e) for r in a.get("rules") or ()}
    unknown = sorted(f"{p}:{f}" for p, f in drops - known)
    if unknown:
        raise UsageError(f"--drop-guarantee {', '.join(unknown)}: no such residual rule in the "
                         f"plan (known: {', '.join(sorted(f'{p}:{f}' for p, f in known))})")
    groups: dict[tuple[Any, ...], tuple[list[Alternative], str, list[str]]] = {}
    for entry in sorted(section.get("namespaces") or (), key=lambda e: str(e["namespace"])):
        alternatives = _drop(_alternatives(entry, section), drops,
                             str(entry["namespace"]), result.dropped, target_minor)
        if compose(alternatives) is None:
            continue
        key = (_key(alternatives), entry["level"])
        groups.setdefault(key, (alternatives, str(entry["level"]), []))[2].append(
            str(entry["namespace"]))
    names: set[str] = set()
    for alternatives, level, namespaces in groups.values():
        name = _name(alternatives, level, namespaces[0], names)
        composed = compose(alternatives)
        assert composed is not None
        result.policies.append(Policy(name, tuple(namespaces), tuple(alternatives), composed))
    result.policies.sort(key=lambda p: p.name)
    if version is None:
        return result
    for policy in result.policies:
        if documents:
            result.files[f"{FOLDER}/{policy.name}.yaml"] = \
                comment(_describe(policy)) + dump_yaml(_policy_doc(policy, version))
        for phase, actions in PHASE_ACTIONS.items():
            what = ("warns and audits only" if phase == "phase1-audit"
                    else "denies pods that no usable PSP would have admitted")
            path = f"{policy.name}.binding.yaml"
            if documents:
                result.files[f"namespaces/{phase}/{path}"] = comment([
                    f"{phase}: binds {policy.name} to {', '.join(policy.namespaces)}; it "
                    f"{what}.",
                ]) + dump_yaml(_binding_doc(policy, version, actions))
            result.bindings.setdefault(phase, []).append(path)
    if result.policies and documents:
        result.files[f"{FOLDER}/kustomization.yaml"] = comment([
            "The residual PodSecurityPolicy rules as ValidatingAdmissionPolicies (no binding:",
            "the phase folders bind them, and include this folder).",
        ]) + dump_yaml({"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                        "resources": [f"{p.name}.yaml" for p in result.policies]})
    return result


def residual_view(plan: Mapping[str, Any], residual: Residual) -> dict[str, Any]:
    """What the READMEs and the PR description say about the residual policies."""
    section = plan.get("residual") or {}
    entries = sorted(section.get("namespaces") or (), key=lambda e: str(e["namespace"]))
    return {
        "planned": residual.planned,
        "api_version": residual.api_version,
        "target_version": plan.get("target_version"),
        "served_now": residual.served_now,
        "policies": [{
            "name": p.name, "namespaces": list(p.namespaces),
            "alternatives": [{"psp": a.psp, "service_accounts": a.service_accounts,
                              "who": "every pod" if a.service_accounts is None else _who(a),
                              "rules": [{"field": r.field, "allowed": r.allowed}
                                        for r in a.rules]}
                             for a in p.alternatives],
        } for p in residual.policies],
        "bindings": residual.bindings,
        "dropped": residual.dropped,
        "reported": [{**r, "namespace": e["namespace"]} for e in entries
                     for r in e.get("reported") or ()],
        "rejects": [{**r, "namespace": e["namespace"]} for e in entries
                    for r in e.get("rejects") or ()],
        "rejects_count": sum(int(e.get("rejects_count") or 0) for e in entries),
        "checked": sum(int(e.get("checked") or 0) for e in entries),
        "not_expressed": list(section.get("not_expressed") or ()),
    }
