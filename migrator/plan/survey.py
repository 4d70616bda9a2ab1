"""The survey behind `migrator inventory`: PSPs mapped to levels, and who may use them where.

Owns `survey(inventory)`, which combines the PSP analysis (strict and practical level,
reasons, loopholes, injected defaults, lost guarantees) with the RBAC resolution (the PSPs
usable in each namespace and the binding that grants each, PSPs granted to everybody, the
subjects who may relabel namespaces) and the PSP that admitted each pod, into one plain,
sorted, JSON-ready dictionary. Pure: rendering is `render_text`'s job, I/O the CLI's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from migrator.model.inventory import Inventory, Obj, name_of, namespace_of
from migrator.model.owners import OwnerIndex, template_sources
from migrator.model.serialise import inline_value
from migrator.model.workloads import pod_template
from migrator.plan.today import ObjectKey, Today, admission_today
from migrator.psp import PSPAnalysis, analyze_psp
from migrator.pss.engine import security_key
from migrator.rbac.access import (
    Grant,
    PSPAccess,
    admitted_by,
    namespace_editors,
    resolve_psp_access,
)


def _service_account(obj: Obj) -> str:
    template = pod_template(obj)
    spec = template.spec if template else {}
    return str(spec.get("serviceAccountName") or spec.get("serviceAccount") or "default")


def analyze_psps(
    inventory: Inventory,
    access: PSPAccess | None = None,
    index: OwnerIndex | None = None,
    today: Mapping[ObjectKey, Today] | None = None,
    raw_keys: Mapping[int, str] | None = None,
) -> dict[str, PSPAnalysis]:
    """Each PSP analysed against the pods and templates it covers.

    A pod counts for the PSP its `kubernetes.io/psp` annotation names; a template (and a
    pod not yet running) counts for the PSP that PSP admission would pick for it among
    those its creators may use (`today`), and for none when every one rejects it: a
    workload a PSP rejects is no user of its loopholes. A running pod without the
    annotation counts for every PSP its service account may use (the conservative
    choice: a loophole it might use stays open). Objects with identical
    security-relevant fields (a workload's replicas) are analysed once, so `used_by`
    counts distinct pod shapes, not replicas. With no workload at all in the inventory
    there is nothing to judge the loopholes by, and each PSP's practical level is its
    strict level. `raw_keys` holds security keys already computed (by `id` of the
    object), as `simulate` leaves them.
    """
    access = access or resolve_psp_access(inventory)
    index = index or OwnerIndex.build(inventory.workloads)
    if today is None:
        today = admission_today(inventory, access, index)
    covered: dict[str, list[Obj]] = defaultdict(list)

    def usable(obj: Obj) -> set[str]:
        ns_access = access.by_namespace.get(namespace_of(obj))
        if ns_access is None:
            return set(access.cluster_wide)
        by_sa = ns_access.by_service_account.get(_service_account(obj))
        return set(by_sa or ()) | set(ns_access.cluster_wide)

    seen: set[tuple[str, str]] = set()
    keys: dict[int, str] = dict(raw_keys or {})

    def cover(name: str, obj: Obj) -> None:
        key = keys.get(id(obj))
        if key is None:
            template = pod_template(obj)
            key = keys[id(obj)] = (
                security_key(template.metadata, template.spec) if template else "")
        if (name, key) not in seen:
            seen.add((name, key))
            covered[name].append(obj)

    def admitting(obj: Obj) -> list[str]:
        outcome = today.get((namespace_of(obj), str(obj.get("kind")), name_of(obj)))
        if outcome is None:
            return sorted(usable(obj))
        return [outcome.psp] if outcome.psp else []

    sources = list(template_sources(inventory, index))
    for pod in inventory.pods:
        psp = ((pod.get("metadata") or {}).get("annotations") or {}).get("kubernetes.io/psp")
        for name in ([psp] if psp else admitting(pod)):
            cover(name, pod)
    for obj in sources:
        for name in admitting(obj):
            cover(name, obj)
    evidence = bool(inventory.pods or sources)
    return {
        name_of(psp): analyze_psp(psp, covered.get(name_of(psp), ()) if evidence else None)
        for psp in sorted(inventory.psps, key=name_of)
    }


def _grant(grant: Grant) -> dict[str, Any]:
    binding = (f"{grant.binding_kind} {grant.binding_namespace}/{grant.binding_name}"
               if grant.binding_namespace else f"{grant.binding_kind} {grant.binding_name}")
    return {
        "binding": binding,
        "role": f"{grant.role_kind} {grant.role_name}",
        "subject": f"{grant.subject_kind} "
                   + (f"{grant.subject_namespace}/" if grant.subject_namespace else "")
                   + grant.subject_name,
        "scope": grant.scope,
    }


def survey(inventory: Inventory) -> dict[str, Any]:
    """Everything `migrator inventory` reports, as sorted plain data."""
    access = resolve_psp_access(inventory)
    analyses = analyze_psps(inventory, access)
    admitted = admitted_by(inventory)

    def level_of(psp: str) -> dict[str, Any]:
        analysis = analyses.get(psp)
        if analysis is None:
            return {"exists": False}
        return {"exists": True, "strict": str(analysis.strict_level),
                "practical": str(analysis.practical_level), "mutating": analysis.mutating}

    namespaces = []
    for ns in inventory.namespace_names():
        ns_access = access.by_namespace.get(ns)
        usable = ns_access.usable if ns_access else {}
        namespaces.append({
            "name": ns,
            "usable_psps": [
                {"psp": psp, **level_of(psp), "grants": [_grant(g) for g in grants]}
                for psp, grants in sorted(usable.items())
            ],
            "service_accounts": {
                sa: sorted(psps) for sa, psps in sorted(
                    (ns_access.by_service_account if ns_access else {}).items())
            },
            "admitted_by": {psp or "(none)": n for psp, n in sorted(admitted.get(ns, {}).items())},
        })
    editors = namespace_editors(inventory)
    return {
        "server_version": inventory.server_version,
        "psp_api": inventory.psp_api,
        "unreadable": [
            {"what": u.what, "reason": u.reason, "consequence": u.consequence}
            for u in inventory.unreadable
        ],
        "duplicates": [d.describe() for d in inventory.duplicates],
        "counts": {
            "namespaces": len(inventory.namespace_names()),
            "pods": len(inventory.pods),
            "workloads": len(inventory.workloads),
            "pod_security_policies": len(inventory.psps),
        },
        "pod_security_policies": [a.to_dict() for a in analyses.values()],
        "granted_everywhere": [
            {"psp": psp, **level_of(psp), "grants": [_grant(g) for g in grants]}
            for psp, grants in sorted(access.cluster_wide.items())
        ],
        "namespaces": namespaces,
        "user_grants": [{"psp": g.psp, **_grant(g)} for g in access.user_grants],
        "dangling": list(access.dangling),
        "namespace_editors": [e.to_dict() for e in editors],
    }


def render_text(data: dict[str, Any]) -> str:
    """The survey as a terminal report."""
    out: list[str] = []
    api = {True: "served", False: "not served (1.25+)", None: "unknown (read from files)"}
    out.append(f"Server version: {data['server_version'] or 'unknown'}; "
               f"PodSecurityPolicy API: {api[data['psp_api']]}")
    counts = data["counts"]
    out.append(f"{counts['namespaces']} namespaces, {counts['pods']} pods, "
               f"{counts['workloads']} workloads, {counts['pod_security_policies']} PSPs")
    for item in data["unreadable"]:
        out.append(f"! could not read {item['what']}: {item['reason']}. {item['consequence']}")
    for duplicate in data["duplicates"]:
        out.append(f"! {duplicate}")
    out.append("")
    out.append("PodSecurityPolicies")
    for psp in data["pod_security_policies"]:
        out.append(f"  {psp['name']}: strict {psp['strict_level']}, practical "
                   f"{psp['practical_level']}, {'mutating' if psp['mutating'] else 'not mutating'}")
        for reason in psp["strict_reasons"]:
            out.append(f"    - {reason['message']}")
        for hole in psp["loopholes"]:
            out.append(f"    loophole: {hole['message']}")
        for default in psp["defaults"]:
            out.append(f"    injects {default['path']} = {inline_value(default['value'])}")
        for lost in psp["lost_guarantees"]:
            out.append(f"    PSA will not keep {lost['field']}: {lost['explanation']}")
    if data["granted_everywhere"]:
        out.append("")
        out.append("Granted in every namespace")
        for item in data["granted_everywhere"]:
            for grant in item["grants"]:
                out.append(f"  {item['psp']} ({item.get('strict', '?')}) to {grant['scope']} via "
                           f"{grant['binding']} -> {grant['role']}")
    out.append("")
    out.append("Namespaces")
    for ns in data["namespaces"]:
        admitted = ", ".join(f"{k} x{v}" for k, v in ns["admitted_by"].items()) or "no pods"
        out.append(f"  {ns['name']} (pods admitted by: {admitted})")
        if not ns["usable_psps"]:
            out.append("    no PSP usable: pods cannot be created here under PSP admission")
        for item in ns["usable_psps"]:
            level = (f"strict {item['strict']}, practical {item['practical']}"
                     if item["exists"] else "does not exist")
            for grant in item["grants"]:
                out.append(f"    {item['psp']} ({level}) to {grant['scope']} via "
                           f"{grant['binding']} -> {grant['role']}")
    out.append("")
    out.append("May relabel namespaces (and so lower their Pod Security level)")
    editors = data["namespace_editors"]
    for editor in [e for e in editors if not e["system"]]:
        where = "all namespaces" if editor["all_namespaces"] else ", ".join(editor["namespaces"])
        out.append(f"  {editor['subject_kind']} {editor['subject_name']}: "
                   f"{', '.join(editor['verbs'])} on {where} via {editor['binding_kind']} "
                   f"{editor['binding_name']}")
    system = [e for e in editors if e["system"]]
    if system:
        out.append(f"  and {len(system)} system subjects")
    if not editors:
        out.append("  nobody found in the RBAC read")
    return "\n".join(out)
