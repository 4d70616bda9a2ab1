"""The migration plan: for every namespace, the level it can enforce, why, and what is in the way.

Owns `build_plan`, which combines the simulation (the workload floor: the strictest level
every template and pod passes), the RBAC ceiling (the loosest level, strict and practical,
among the PSPs usable in the namespace), the pods that pass only because a PSP mutated
them, the admission configuration's defaults and exemptions, and turns them into the
recommended labels, the blockers with their fixes, the level reachable after the generated
patches, and the reasoning in words. The result is plain JSON-ready data (see
`schemas/plan.schema.json`); nothing here reads, writes or prints.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from migrator import __version__
from migrator.model.admission import AdmissionConfig
from migrator.model.inventory import Inventory, Obj, name_of, namespace_of
from migrator.model.owners import OwnerIndex
from migrator.plan.simulate import NamespaceSimulation, Subject, simulate
from migrator.plan.survey import analyze_psps
from migrator.psp import PSPAnalysis, explains
from migrator.pss.api import LABEL_PREFIX, Level, LevelVersion, Version, policy_from_labels
from migrator.pss.engine import EVALUATOR
from migrator.pss.registry import Violation
from migrator.rbac.access import resolve_psp_access
from migrator.rbac.cleanup import psp_rbac_cleanup

PLAN_SCHEMA = "migrator.plan/v1"
SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})
LEVELS_BY_RANK = (Level.PRIVILEGED, Level.BASELINE, Level.RESTRICTED)


def pin_version(server_version: str | None, override: str | None) -> Version:
    """The policy version to pin: `override`, else the server's minor, else latest."""
    if override:
        return Version.parse(override)
    if server_version:
        parts = server_version.lstrip("v").split(".")
        if len(parts) >= 2 and parts[0] == "1" and parts[1].isdigit():
            return Version.of(int(parts[1]))
    return Version.latest()


# -- what a generated patch can fix --------------------------------------------------------


def patchable(violation: Violation) -> bool:
    """True when the generated securityContext patch fixes the violation (its check says)."""
    check = EVALUATOR.checks.get(violation.check)
    return check is not None and check.patchable(violation)


def _strictest_after_patches(subject: Subject, version: Version) -> Level:
    for level in (Level.RESTRICTED, Level.BASELINE):
        if all(patchable(v) for v in subject.verdicts[LevelVersion(level, version)]):
            return level
    return Level.PRIVILEGED


def _loosest(levels: Iterable[Level]) -> Level | None:
    found = list(levels)
    return min(found, key=lambda lv: lv.rank) if found else None


def _strictest(levels: Iterable[Level]) -> Level:
    found = list(levels)
    return min(found, key=lambda lv: lv.rank) if found else Level.RESTRICTED


# -- mutation ------------------------------------------------------------------------------


def _mutations(
    sim: NamespaceSimulation,
    pods: dict[str, Obj],
    index: OwnerIndex,
    defaults_of: dict[str, list[Any]],
    pin: Version,
) -> list[dict[str, Any]]:
    """Workloads whose pods differ from their template in security fields, and why.

    Pods of one shape (the same PSP and the same security-relevant fields) are one
    subject, explained once.
    """
    templates = {s.ref: s for s in sim.templates()}
    grouped: dict[str, list[Subject]] = defaultdict(list)
    for subject in sim.pods():
        if subject.owner and subject.owner in templates:
            grouped[subject.owner].append(subject)
    findings = []
    for owner, subjects in sorted(grouped.items()):
        template_subject = templates[owner]
        kind, name = owner.split("/", 1)
        template_obj = index.by_name.get((sim.namespace, kind, name))
        if template_obj is None:
            continue
        for subject in subjects:
            pod = pods[subject.name]
            metadata = pod.get("metadata") or {}
            psp = (metadata.get("annotations") or {}).get("kubernetes.io/psp")
            attribution = explains(defaults_of.get(psp or "", []), template_obj, pod)
            relevant = [d for d in attribution.differences if d.cause in ("psp", "other")]
            if not relevant:
                continue
            pod_level = subject.strictest(pin)
            template_level = template_subject.strictest(pin)
            by_psp = [d for d in relevant if d.cause == "psp"]
            findings.append({
                "workload": owner,
                "pod": subject.name,
                "psp": psp,
                "attributed_to": "psp" if by_psp and len(by_psp) == len(relevant)
                else ("psp and another mutating admission" if by_psp
                      else "another mutating admission"),
                "changes": [d.to_dict() for d in relevant],
                "pod_level": str(pod_level),
                "template_level": str(template_level),
                "passes_only_because_of_mutation": pod_level.rank > template_level.rank,
            })
            break  # one pod per workload tells the story; the rest are replicas
    return findings


# -- one namespace -------------------------------------------------------------------------


def _violation_dict(v: Violation) -> dict[str, str]:
    return {"check": v.check, "reason": v.reason, "detail": v.detail}


def _subject_dict(subject: Subject, config: AdmissionConfig) -> dict[str, Any]:
    shape = {"count": subject.count, "examples": list(subject.examples)} if (
        subject.count > 1) else {}
    return {
        "kind": subject.kind,
        "name": subject.name,
        "origin": subject.origin,
        "template": subject.is_template,
        "active": subject.active,
        "owner": subject.owner,
        "runtime_class": subject.runtime_class,
        "exempt": config.exempt_runtime_class(subject.runtime_class),
        "verdicts": {str(lv): [_violation_dict(v) for v in found]
                     for lv, found in sorted(subject.verdicts.items(), key=lambda i: str(i[0]))},
        **shape,
    }


def _fix(check: str) -> str:
    found = EVALUATOR.checks.get(check)
    return found.fix if found else ""


def _blockers(subjects: list[Subject], level: Level, version: Version) -> list[dict[str, Any]]:
    """What stops `level` at `version`: one entry per subject and failed check (for a pod
    shape held more than once, with the `count` of its pods)."""
    out = []
    for subject in subjects:
        for v in subject.verdicts[LevelVersion(level, version)]:
            out.append({
                "object": subject.ref,
                "template": subject.is_template,
                "active": subject.active,
                "level": str(level),
                "version": str(version),
                **_violation_dict(v),
                "fix": _fix(v.check),
                "patchable": patchable(v),
                **({"count": subject.count} if subject.count > 1 else {}),
            })
    return out


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _next_stricter(level: Level) -> Level:
    return LEVELS_BY_RANK[min(level.rank + 1, 2)]


def plan_namespace(
    ns: str,
    labels: dict[str, str],
    sim: NamespaceSimulation,
    pin: Version,
    target: Version,
    ceiling_psps: dict[str, PSPAnalysis | None],
    psp_api: bool | None,
    mutations: list[dict[str, Any]],
    config: AdmissionConfig,
    psps_read: bool = True,
) -> dict[str, Any]:
    """The recommendation for one namespace, with its reasoning."""
    reasoning: list[str] = []
    known = {n: a for n, a in ceiling_psps.items() if a is not None}
    ceiling_strict = _loosest(a.strict_level for a in known.values())
    ceiling_practical = _loosest(a.practical_level for a in known.values())
    # A template that fails even the loosest usable PSP's strict level cannot create pods
    # under PSP today; it is reported, but it does not pull the namespace below what PSP
    # already enforced. Existing pods always count.
    rejected_today = [
        s for s in sim.templates()
        if ceiling_strict is not None and s.strictest(pin).rank < ceiling_strict.rank
        and not config.exempt_runtime_class(s.runtime_class)
    ]
    exempt_rc = [s for s in sim.subjects if config.exempt_runtime_class(s.runtime_class)]
    counted = [s for s in sim.subjects if s not in rejected_today and s not in exempt_rc]
    floor = _strictest(s.strictest(pin) for s in counted)
    floor_target = _strictest(s.strictest(target) for s in counted)
    after = _strictest(_strictest_after_patches(s, pin) for s in counted)
    system = ns in SYSTEM_NAMESPACES
    exempt = config.exempt_namespace(ns)
    current = policy_from_labels(labels, config.defaults)
    n_templates, n_pods = len(sim.templates()), sim.pod_count()
    inactive = [s.ref for s in counted if s.is_template and not s.active]

    judged_at = f"{pin}" if pin == target else f"{pin} and {target}"
    reasoning.append(
        f"{_count(n_templates, 'workload template')} and {_count(n_pods, 'pod')} judged at "
        f"{judged_at}; all that can run pass {floor} at {pin}."
        if sim.subjects else "No workloads or pods: any level can be enforced."
    )
    for subject in rejected_today:
        reasoning.append(
            f"{subject.ref} needs {subject.strictest(pin)}, which no usable PSP admits: its "
            "pods are already rejected today, so it does not lower the level. Fix it or "
            "grant it an exemption before it runs."
        )
    if inactive:
        reasoning.append(f"Counted although no pods run now: {', '.join(inactive)}.")
    if exempt_rc:
        classes = ", ".join(sorted({str(s.runtime_class) for s in exempt_rc}))
        reasoning.append(
            f"Not counted: {', '.join(s.ref for s in exempt_rc)} run with the runtimeClass "
            f"{classes}, exempt in the admission configuration.")
    if config.usernames:
        reasoning.append(
            "The admission configuration exempts users "
            f"({', '.join(sorted(config.usernames))}); pods they create directly are not "
            "checked, but every pod here is still counted, since who created a pod is not "
            "recorded in it.")
    if floor_target.rank < floor.rank:
        reasoning.append(f"At {target} the floor drops to {floor_target}: newer checks "
                         "would reject what passes at the pinned version.")
    if ceiling_practical is None:
        if psp_api is False:
            reasoning.append("The server has no PodSecurityPolicy API: the level rests on the "
                             "workloads alone.")
        elif not psps_read:
            reasoning.append("No PodSecurityPolicies were read: the level rests on the "
                             "workloads alone.")
        elif not ceiling_psps:
            reasoning.append("No PodSecurityPolicy is usable here: under PSP admission no pod "
                             "could be created, so the workloads alone decide.")
    else:
        names = ", ".join(sorted(known))
        reasoning.append(f"Usable PSPs ({names}) allowed at most {ceiling_strict} strictly, "
                         f"{ceiling_practical} in practice (unused loopholes closed).")
    missing = sorted(n for n, a in ceiling_psps.items() if a is None)
    if missing:
        reasoning.append(f"Granted but missing PSPs: {', '.join(missing)}.")

    enforce = floor
    loud: list[str] = []
    if ceiling_practical is not None and enforce.rank < ceiling_practical.rank:
        loud.append(
            f"LOOSER THAN PSP: enforcing {enforce} here is looser than the {ceiling_practical} "
            "the PSPs allowed in practice; apply the generated patches and move to "
            f"{_strictest([after, ceiling_practical])} soon."
        )
    passes_by_mutation = [m for m in mutations if m["passes_only_because_of_mutation"]]
    for m in passes_by_mutation:
        reasoning.append(
            f"{m['workload']}: its pods pass {m['pod_level']} only because PSP "
            f"{m['psp']} injected fields its template lacks; the template passes "
            f"{m['template_level']}."
        )
    suggestion = None
    if system and floor == Level.PRIVILEGED:
        suggestion = ("System namespace running node agents: keep it privileged (enforce "
                      "privileged, audit and warn baseline), or exempt it in the admission "
                      "configuration.")
        reasoning.append(suggestion)
    if exempt:
        reasoning.append("Exempt in the admission configuration: labels are informational; "
                         "its pods are not checked at admission.")
    audit = warn = _next_stricter(enforce) if enforce != Level.RESTRICTED else Level.RESTRICTED
    if enforce == Level.PRIVILEGED and not system:
        audit = warn = Level.BASELINE
    if after.rank > enforce.rank:
        reasoning.append(f"After the generated securityContext patches: {after}.")
    blocker_level = _next_stricter(enforce) if enforce != Level.RESTRICTED else None
    blockers = _blockers(counted, blocker_level, pin) if blocker_level else []
    rejected = [b for s in rejected_today for b in _blockers([s], ceiling_strict or enforce, pin)]
    if system and floor == Level.PRIVILEGED:
        blockers = []  # a suggestion instead of a flood
    recommended = {
        "enforce": str(enforce), "enforce_version": str(pin),
        "audit": str(audit), "audit_version": "latest",
        "warn": str(warn), "warn_version": "latest",
    }
    return {
        "name": ns,
        "system": system,
        "exempt": exempt,
        "current_labels": {k: v for k, v in sorted(labels.items()) if k.startswith(LABEL_PREFIX)},
        "current_policy": {"enforce": str(current.policy.enforce),
                           "audit": str(current.policy.audit), "warn": str(current.policy.warn)},
        "label_problems": [{"label": p.label, "value": p.value, "message": p.message}
                           for p in current.problems],
        "floor": {str(pin): str(floor), str(target): str(floor_target)},
        "ceiling": {
            "strict": str(ceiling_strict) if ceiling_strict else None,
            "practical": str(ceiling_practical) if ceiling_practical else None,
            "psps": [{"psp": n, "strict": str(a.strict_level) if a else None,
                      "practical": str(a.practical_level) if a else None}
                     for n, a in sorted(ceiling_psps.items())],
        },
        "recommended": recommended,
        "labels": {
            LABEL_PREFIX + "enforce": recommended["enforce"],
            LABEL_PREFIX + "enforce-version": recommended["enforce_version"],
            LABEL_PREFIX + "audit": recommended["audit"],
            LABEL_PREFIX + "audit-version": recommended["audit_version"],
            LABEL_PREFIX + "warn": recommended["warn"],
            LABEL_PREFIX + "warn-version": recommended["warn_version"],
        },
        "after_patches": str(after),
        "looser_than_psp": bool(loud),
        "warnings": loud,
        "suggestion": suggestion,
        "reasoning": reasoning,
        "blockers": blockers,
        "rejected_today": rejected,
        "mutation": mutations,
        "subjects": [_subject_dict(s, config) for s in sim.subjects],
    }


def build_plan(
    inventory: Inventory,
    *,
    pin: Version,
    target: Version | None = None,
    config: AdmissionConfig | None = None,
    source: str = "files",
) -> dict[str, Any]:
    """The whole plan for `inventory`, as JSON-ready data."""
    target = target or Version.latest()
    config = config or AdmissionConfig.default()
    versions = (pin,) if pin == target else (pin, target)
    index = OwnerIndex.build(inventory.workloads)
    sims = simulate(inventory, versions, index)
    access = resolve_psp_access(inventory)
    analyses = analyze_psps(inventory, access, index)
    labels_of: dict[str, dict[str, str]] = {
        name_of(ns): dict((ns.get("metadata") or {}).get("labels") or {})
        for ns in inventory.namespaces
    }
    defaults_of = {name: list(analysis.defaults) for name, analysis in analyses.items()}
    pods_by_ns: dict[str, dict[str, Obj]] = defaultdict(dict)
    for pod in inventory.pods:
        pods_by_ns[namespace_of(pod)][name_of(pod)] = pod
    namespaces = []
    for ns, sim in sims.items():
        ns_access = access.by_namespace.get(ns)
        usable = set(ns_access.usable) if ns_access else set(access.cluster_wide)
        ceiling = {name: analyses.get(name) for name in sorted(usable)}
        mutations = _mutations(sim, pods_by_ns[ns], index, defaults_of, pin)
        namespaces.append(plan_namespace(
            ns, labels_of.get(ns, {}), sim, pin, target, ceiling, inventory.psp_api,
            mutations, config, psps_read=bool(inventory.psps)))
    by_level: dict[str, int] = {str(lv): 0 for lv in LEVELS_BY_RANK}
    for item in namespaces:
        by_level[item["recommended"]["enforce"]] += 1
    return {
        "schema": PLAN_SCHEMA,
        "generated_by": f"migrator {__version__}",
        "cluster": {"source": source, "server_version": inventory.server_version,
                    "psp_api": inventory.psp_api},
        "pin_version": str(pin),
        "target_version": str(target),
        "admission_config": {
            "defaults": {m: str(getattr(config.defaults, m)) for m in ("enforce", "audit", "warn")},
            "exempt_namespaces": sorted(config.namespaces),
            "exempt_runtime_classes": sorted(config.runtime_classes),
            "exempt_usernames": sorted(config.usernames),
        },
        "unreadable": [{"what": u.what, "reason": u.reason, "consequence": u.consequence}
                       for u in inventory.unreadable],
        "duplicates": [d.describe() for d in inventory.duplicates],
        "summary": {
            "namespaces": len(namespaces),
            "by_recommended_level": by_level,
            "looser_than_psp": sorted(n["name"] for n in namespaces if n["looser_than_psp"]),
            "blockers": sum(b.get("count", 1) for n in namespaces for b in n["blockers"]),
            "passing_only_by_mutation": sorted(
                f"{n['name']}/{m['workload']}"
                for n in namespaces for m in n["mutation"]
                if m["passes_only_because_of_mutation"]),
        },
        "psps": [a.to_dict() for a in analyses.values()],
        "rbac_cleanup": psp_rbac_cleanup(inventory),
        "namespaces": namespaces,
    }

