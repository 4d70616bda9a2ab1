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

import copy
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from migrator import __version__
from migrator.model import plan as plan_types
from migrator.model.admission import AdmissionConfig
from migrator.model.inventory import Inventory, Obj, name_of, namespace_of
from migrator.model.owners import OwnerIndex
from migrator.model.plan import PLAN_SCHEMA
from migrator.model.words import count
from migrator.model.workloads import pod_template
from migrator.plan.residual import residual_plan
from migrator.plan.simulate import NamespaceSimulation, Subject, simulate
from migrator.plan.survey import analyze_psps
from migrator.plan.today import Today, admission_key, admission_today, psp_admission_seen
from migrator.psp import PSPAnalysis, explains
from migrator.psp.admission import Denial
from migrator.psp.rules import range_notes
from migrator.psp.spec import read_psp
from migrator.pss.api import LABEL_PREFIX, Level, LevelVersion, Version, policy_from_labels
from migrator.pss.engine import EVALUATOR
from migrator.pss.registry import Violation
from migrator.pss.server import Origin, ServerVersion, verdict
from migrator.rbac.access import resolve_psp_access
from migrator.rbac.cleanup import psp_rbac_cleanup

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


def current_server(inventory: Inventory, override: str | None = None) -> tuple[ServerVersion, str]:
    """Today's API server and how it is known: `override` (--server-version), else the
    version the cluster or snapshot reported, else assumed from the objects read.

    Raises ValueError on an unparsable `override`."""
    if override:
        given = ServerVersion.parse(override)
        reported = inventory.server_version
        if reported and reported != override:
            return given, f"given by --server-version (the cluster reported {reported})"
        return given, "given by --server-version"
    if inventory.server_version:
        try:
            return ServerVersion.parse(inventory.server_version), "reported by the cluster"
        except ValueError:
            pass
    if any(p.get("apiVersion") == "policy/v1beta1" for p in inventory.psps):
        return ServerVersion.of(24), (
            "assumed: the input holds policy/v1beta1 PodSecurityPolicies, which servers serve "
            "up to 1.24 only; pass --server-version to say which")
    newest = ServerVersion.newest()
    return newest, (f"assumed: no server version was read, so the newest modelled ({newest}); "
                    "pass --server-version to say which")


def check_pin(pin: Version, server: ServerVersion) -> str | None:
    """Why `pin` cannot be pinned on `server` (None when it can): a server treats a policy
    version newer than itself as its own latest, so the label would not mean what it says."""
    if pin.minor is not None and pin.minor > server.minor:
        return (f"--pin-version {pin} is newer than the server ({server}): it would treat it "
                f"as its own latest ({server}); pin {server} or older, or latest")
    return None


# -- what a generated patch can fix --------------------------------------------------------


def patchable(violation: Violation) -> bool:
    """True when the generated securityContext patch fixes the violation (its check says)."""
    check = EVALUATOR.checks.get(violation.check)
    return check is not None and check.patchable(violation)


def _strictest_after_patches(subject: Subject, version: Version) -> Level:
    for level in (Level.RESTRICTED, Level.BASELINE):
        if all(patchable(v) for v in _both(subject, level, version)):
            return level
    return Level.PRIVILEGED


def _both(subject: Subject, level: Level, version: Version) -> list[Violation]:
    """The violations at `level`/`version` today and after the upgrade, each once."""
    key = LevelVersion(level, version)
    found = list(subject.verdicts[key])
    found += [v for v in (subject.after or subject.verdicts)[key] if v not in found]
    return found


def _loosest(levels: Iterable[Level]) -> Level | None:
    """The loosest of `levels` (None for none): a PSP ceiling, the loosest usable PSP."""
    found = list(levels)
    return min(found, key=lambda lv: lv.rank) if found else None


def _floor(levels: Iterable[Level]) -> Level:
    """The strictest level that all of the subjects passing `levels` pass: the loosest of
    them (restricted when there is none)."""
    return _loosest(levels) or Level.RESTRICTED


def _strictest(levels: Iterable[Level]) -> Level:
    """The strictest of `levels` (privileged for none)."""
    found = list(levels)
    return max(found, key=lambda lv: lv.rank) if found else Level.PRIVILEGED


# -- mutation ------------------------------------------------------------------------------

#: The defaults of a PSP that is not held (one object, so that explanations of it share
#: their memo entries).
NO_DEFAULTS: list[Any] = []


def _pod_level(pod: Mapping[str, Any], pin: Version, server: ServerVersion) -> Level:
    """The strictest level a pod to be created ({"metadata", "spec"}) passes at `pin` on
    `server` (a pod the server refuses to create passes none)."""
    for level in (Level.RESTRICTED, Level.BASELINE):
        if verdict(level, pin, pod.get("metadata") or {}, pod.get("spec") or {}, server,
                   Origin.CREATED).allowed:
            return level
    return Level.PRIVILEGED


def _annotated(change: dict[str, Any], ranges: Mapping[str, str]) -> dict[str, Any]:
    note = ranges.get(str(change.get("source")))
    return dict(sorted({**change, "note": note}.items())) if note else change


def _predicted(
    sim: NamespaceSimulation, index: OwnerIndex, today: Mapping[str, Today],
    defaults_of: dict[str, list[Any]], ranges: Mapping[str, Mapping[str, str]], pin: Version,
    observed: set[str],
    cache: dict[tuple[str, str], tuple[list[dict[str, Any]], Level]] | None = None,
    server: ServerVersion | None = None,
) -> list[plan_types.Mutation]:
    """Templates with no running pod whose pods the PSP that would admit them mutates.

    `cache` keeps the changes and pod level per PSP and template shape (`admission_key`),
    so the many workloads of one shape are explained once."""
    cache = {} if cache is None else cache
    findings: list[plan_types.Mutation] = []
    for subject in sim.templates():
        outcome = today.get(subject.ref)
        if subject.ref in observed or outcome is None or outcome.choice.chosen is None \
                or not outcome.choice.chosen.mutated:
            continue
        template_obj = index.by_name.get((sim.namespace, subject.kind, subject.name))
        if template_obj is None:
            continue
        chosen = outcome.choice.chosen
        template = pod_template(template_obj)
        shape = admission_key({"metadata": template.metadata, "spec": template.spec}
                              if template else {})
        if (chosen.psp, shape) not in cache:
            attribution = explains(defaults_of.get(chosen.psp, []), template_obj, chosen.pod)
            cache[(chosen.psp, shape)] = (
                [_annotated(d.to_dict(), ranges.get(chosen.psp, {}))
                 for d in attribution.differences if d.cause == "psp"],
                _pod_level(chosen.pod, pin, server or ServerVersion.newest()))
        relevant, pod_level = cache[(chosen.psp, shape)]
        if not relevant:
            continue
        template_level = subject.strictest(pin)
        findings.append({
            "workload": subject.ref,
            "pod": "(predicted: no pod runs now)",
            "psp": chosen.psp,
            "attributed_to": "psp",
            "predicted": True,
            "changes": copy.deepcopy(relevant),
            "pod_level": str(pod_level),
            "template_level": str(template_level),
            "passes_only_because_of_mutation": pod_level.rank > template_level.rank,
        })
    return findings


def _mutations(
    sim: NamespaceSimulation,
    pods: dict[str, Obj],
    index: OwnerIndex,
    defaults_of: dict[str, list[Any]],
    pin: Version,
    today: Mapping[str, Today] | None = None,
    ranges: Mapping[str, Mapping[str, str]] | None = None,
    cache: dict[tuple[str, str], tuple[list[dict[str, Any]], Level]] | None = None,
    server: ServerVersion | None = None,
    memo: dict[Any, Any] | None = None,
) -> list[plan_types.Mutation]:
    """Workloads whose pods differ from their template in security fields, and why.

    Pods of one shape (the same PSP and the same security-relevant fields) are one
    subject, explained once; `memo` carries explanations across namespaces.
    A template with no running pod gets the changes the PSP that would admit it
    (`today`) injects, marked `predicted`. A value that is only the bottom of the PSP's
    allowed range carries a `note` saying so (`ranges`: PSP -> its field -> note).
    """
    ranges = ranges or {}
    templates = {s.ref: s for s in sim.templates()}
    grouped: dict[str, list[Subject]] = defaultdict(list)
    for subject in sim.pods():
        if subject.owner and subject.owner in templates:
            grouped[subject.owner].append(subject)
    findings: list[plan_types.Mutation] = []
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
            attribution = explains(defaults_of.get(psp or "", NO_DEFAULTS), template_obj, pod,
                                   memo)
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
                "changes": [_annotated(d.to_dict(), ranges.get(psp or "", {}))
                            for d in relevant],
                "pod_level": str(pod_level),
                "template_level": str(template_level),
                "passes_only_because_of_mutation": pod_level.rank > template_level.rank,
            })
            break  # one pod per workload tells the story; the rest are replicas
    findings.extend(_predicted(sim, index, today or {}, defaults_of, ranges, pin,
                               set(grouped), cache, server))
    return sorted(findings, key=lambda f: str(f["workload"]))


# -- one namespace -------------------------------------------------------------------------


def _violation_dict(v: Violation) -> plan_types.Violation:
    return {"check": v.check, "reason": v.reason, "detail": v.detail}


def _subject_dict(subject: Subject, config: AdmissionConfig) -> plan_types.Subject:
    entry: plan_types.Subject = {
        "kind": subject.kind,
        "custom": subject.custom,
        "name": subject.name,
        "origin": subject.origin,
        "template": subject.is_template,
        "active": subject.active,
        "owner": subject.owner,
        "runtime_class": subject.runtime_class,
        "exempt": config.exempt_runtime_class(subject.runtime_class),
        "verdicts": {str(lv): [_violation_dict(v) for v in found]
                     for lv, found in sorted(subject.verdicts.items(), key=lambda i: str(i[0]))},
        "invalid": {which: list(errors) for which, errors in sorted(subject.invalid.items())},
    }
    if subject.after and subject.after != subject.verdicts:
        entry["verdicts_after_upgrade"] = {
            str(lv): [_violation_dict(v) for v in found]
            for lv, found in sorted(subject.after.items(), key=lambda i: str(i[0]))}
    if subject.count > 1:
        entry["count"] = subject.count
        entry["examples"] = list(subject.examples)
    return entry


def _fix(check: str) -> str:
    found = EVALUATOR.checks.get(check)
    return found.fix if found else ""


def _blockers(subjects: list[Subject], level: Level, version: Version) -> list[plan_types.Blocker]:
    """What stops `level` at `version`: one entry per subject and failed check (for a pod
    shape held more than once, with the `count` of its pods)."""
    out: list[plan_types.Blocker] = []
    for subject in subjects:
        for v in _both(subject, level, version):
            blocker: plan_types.Blocker = {
                "object": subject.ref,
                "origin": subject.origin,
                "template": subject.is_template,
                "active": subject.active,
                "level": str(level),
                "version": str(version),
                "check": v.check,
                "reason": v.reason,
                "detail": v.detail,
                "fix": _fix(v.check),
                "patchable": patchable(v),
            }
            if subject.count > 1:
                blocker["count"] = subject.count
            out.append(blocker)
    return out


_ANNOTATION_CAUSES = {
    "seccompProfile_restricted": "the seccomp annotation",
    "seccompProfile_baseline": "the seccomp annotation",
    "appArmorProfile": "the AppArmor annotation",
}


def _flip(subject: Subject, pin: Version, servers: tuple[ServerVersion, ServerVersion]
          ) -> plan_types.Flip:
    """A template whose strictest level changes across the upgrade, and why, in words."""
    now, after = subject.strictest(pin), subject.strictest_after(pin)
    stricter = now if now.rank > after.rank else after
    before_ids = {v.check for v in subject.verdicts[LevelVersion(stricter, pin)]}
    after_ids = {v.check for v in (subject.after or subject.verdicts)[LevelVersion(stricter, pin)]}
    changed = sorted(before_ids ^ after_ids)
    causes = sorted({_ANNOTATION_CAUSES[c] for c in changed if c in _ANNOTATION_CAUSES})
    old, new = servers
    if now.rank > after.rank:
        text = (f"{subject.ref} passes {now} on {old}, fails it after the upgrade to {new} "
                f"(passes {after} there)")
        if causes:
            text += (f": its pods rely on {' and '.join(causes)}, which {new} no longer turns "
                     "into a field; the generated patch sets the field")
    else:
        text = (f"{subject.ref} fails {after} on {old} (passes {now}), passes it after the "
                f"upgrade to {new}")
        if causes:
            text += f": {' and '.join(causes)} counts on {old} only"
    return {"object": subject.ref, "template": subject.is_template, "active": subject.active,
            "before": str(now), "after": str(after), "server_before": str(old),
            "server_after": str(new), "checks": changed, "text": text}


def _next_stricter(level: Level) -> Level:
    return LEVELS_BY_RANK[min(level.rank + 1, 2)]


#: How many objects a warning names before it only counts them.
NAMED_LIMIT = 5
REJECTED_FIX = ("change the workload to meet the PSP rule, or let the identity that creates "
                "its pods use a PSP that admits it")


def _rejections(subject: Subject, today: Today, pin: Version) -> list[plan_types.Blocker]:
    """One entry per PSP rule that rejects `subject`'s pods today (one if none is usable)."""
    def entry(check: str, psp: str | None, reason: str, detail: str) -> plan_types.Blocker:
        return {"object": subject.ref, "origin": subject.origin,
                "template": subject.is_template, "active": subject.active,
                "level": str(subject.strictest(pin)), "version": str(pin), "check": check,
                "reason": reason, "detail": detail, "fix": REJECTED_FIX, "patchable": False,
                "psp": psp}

    denials = today.choice.denials
    if not denials:
        return [entry("psp:none-usable", None,
                      "no PodSecurityPolicy is usable by the identities that create its pods",
                      "no PSP usable by " + (", ".join(sorted(set(today.usable.values())))
                                             or "its service account or controller"))]
    return [entry(f"psp:{d.rule}", d.psp, f"PSP {d.psp} denies it", f"{d.path}: {d.message}")
            for d in denials]


def _rejected_reason(subject: Subject, today: Today, pin: Version) -> str:
    usable = ", ".join(today.usable) or "none"
    first: dict[str, Denial] = {}
    for d in today.choice.denials:
        first.setdefault(d.psp, d)
    why = "; ".join(f"{d.psp} denies {d.path} ({d.message})" for d in first.values()) \
        or "no PSP is usable by its service account or controller"
    return (f"{subject.ref} needs {subject.strictest(pin)} and is rejected today by every "
            f"PSP its creators may use ({usable}): {why}. Its pods cannot be created now, "
            "so it does not lower the level; fix it or grant it an exemption before it runs.")


def _looser_warning(enforce: Level, practical: Level, after: Level,
                    blockers: list[plan_types.Blocker]) -> str:
    """LOOSER THAN PSP, naming what keeps the level down and what the patches fix."""
    by_object: dict[str, list[plan_types.Blocker]] = defaultdict(list)
    for b in blockers:
        by_object[str(b["object"])].append(b)
    fixed = sorted(o for o, items in by_object.items() if all(b["patchable"] for b in items))
    by_hand = sorted(o for o in by_object if o not in fixed)

    def named(objects: list[str]) -> str:
        parts = [f"{o} ({', '.join(sorted({str(b['check']) for b in by_object[o]}))})"
                 for o in objects[:NAMED_LIMIT]]
        more = len(objects) - NAMED_LIMIT
        return ", ".join(parts) + (f" and {more} more" if more > 0 else "")

    text = (f"LOOSER THAN PSP: enforcing {enforce} here is looser than the {practical} the "
            "PSPs allowed in practice")
    if not by_object:
        return text + "."
    text += f", because of {named(sorted(by_object))}."
    if not by_hand and after.rank >= practical.rank:
        return text + f" The generated patches fix all of them: apply them and move to {practical}."
    if fixed:
        text += f" The generated patches fix {named(fixed)};"
    else:
        text += " No generated patch fixes them;"
    text += f" {named(by_hand)} need a change by hand (or an exemption) before {practical}"
    if after.rank > enforce.rank:
        text += f"; after the patches {after} can be enforced"
    return text + "."


@dataclass(frozen=True)
class Decision:
    """What the plan decides for one namespace, before it is put into words or JSON."""

    namespace: str
    pin: Version
    target: Version
    #: today's API server and the one after the upgrade
    servers: tuple[ServerVersion, ServerVersion]
    system: bool
    exempt: bool
    #: the usable PSPs that exist, and those granted but missing.
    known_psps: dict[str, PSPAnalysis]
    missing_psps: list[str]
    ceiling_strict: Level | None
    ceiling_practical: Level | None
    #: templates (and bare pods not yet running) that no PSP usable by the identities
    #: creating their pods admits today: reported with the rules, not counted.
    rejected_today: list[Subject]
    #: what PSP admission does today with each template's pods, by subject ref.
    today: Mapping[str, Today]
    #: subjects whose runtimeClass the admission configuration exempts: not counted.
    exempt_runtime_class: list[Subject]
    counted: list[Subject]
    floor: Level
    floor_target: Level
    after_patches: Level
    enforce: Level
    audit: Level
    warn: Level
    #: the next stricter level, whose blockers are listed (None at restricted).
    blocker_level: Level | None
    #: the warnings: LOOSER THAN PSP (with its blockers), STRICTER TODAY.
    looser_than_psp: list[str]
    suggestion: str | None
    #: what fails the level the PSPs allowed in practice, when the recommendation is looser.
    looser_blockers: list[plan_types.Blocker]
    #: the stricter level the namespace enforces today, when the recommendation lowers it.
    lowers_existing: Level | None
    #: templates whose strictest level at the pin differs between the two servers
    flips: list[plan_types.Flip]
    #: subjects a server refuses to create (422), by server
    invalid: list[plan_types.InvalidCreate]


def decide_namespace(
    ns: str,
    sim: NamespaceSimulation,
    pin: Version,
    target: Version,
    ceiling_psps: dict[str, PSPAnalysis | None],
    config: AdmissionConfig,
    servers: tuple[ServerVersion, ServerVersion] | None = None,
    *,
    today: Mapping[str, Today] | None = None,
    psp_api: bool | None = None,
    labels: Mapping[str, str] | None = None,
) -> Decision:
    """The levels for one namespace: floor, ceiling, recommendation, what is not counted.

    The level must hold on today's server and after the upgrade (labels are set before it
    and stay after it), so every subject counts with its weaker verdict of the two.
    `today` holds, by subject ref, what PSP admission does now with the pods of each
    template (and of each bare pod not yet running), see `migrator.plan.today`; `labels`
    are the namespace's current labels.
    """
    servers = servers or (ServerVersion.newest(), ServerVersion.newest())
    today = today or {}
    known = {n: a for n, a in ceiling_psps.items() if a is not None}
    ceiling_strict = _loosest(a.strict_level for a in known.values())
    ceiling_practical = _loosest(a.practical_level for a in known.values())
    # A template whose pods no PSP usable by their creators admits (after that PSP's
    # mutations) cannot create pods today; it is reported with the rules that reject it,
    # but it does not pull the namespace below what PSP already enforced. Pods seen
    # running always count.
    rejected_today = [
        s for s in sim.subjects
        if known and psp_api is not False and s.ref in today and not today[s.ref].admitted
        and not config.exempt_runtime_class(s.runtime_class)
    ]
    exempt_rc = [s for s in sim.subjects if config.exempt_runtime_class(s.runtime_class)]
    counted = [s for s in sim.subjects if s not in rejected_today and s not in exempt_rc]
    floor = _floor(s.strictest_both(pin) for s in counted)
    floor_target = _floor(s.strictest_after(target) for s in counted)
    flips = [_flip(s, pin, servers) for s in counted if s.is_template and s.flips(pin)]
    invalid: list[plan_types.InvalidCreate] = [
        {"object": s.ref, "server": str(servers[0] if which == "now" else servers[1]),
         "errors": list(errors)}
        for s in sim.subjects for which, errors in sorted(s.invalid.items())
        if which == "now" or servers[1] != servers[0]]
    after = _floor(_strictest_after_patches(s, pin) for s in counted)
    system = ns in SYSTEM_NAMESPACES
    enforce = floor
    loud: list[str] = []
    looser_blockers: list[plan_types.Blocker] = []
    if ceiling_practical is not None and enforce.rank < ceiling_practical.rank:
        looser_blockers = _blockers(counted, ceiling_practical, pin)
        loud.append(_looser_warning(enforce, ceiling_practical, after, looser_blockers))
    existing = policy_from_labels(dict(labels or {}), config.defaults).policy.enforce.level
    lowers = existing if existing.rank > enforce.rank and not config.exempt_namespace(ns) \
        else None
    if lowers is not None:
        loud.append(
            f"STRICTER TODAY: the namespace already enforces {lowers}; the recommended "
            f"{enforce} would lower it. `migrator apply` keeps {lowers} unless "
            "--allow-lower is given; fix the workloads that need the lower level instead.")
    suggestion = None
    if system and floor == Level.PRIVILEGED:
        suggestion = ("System namespace running node agents: keep it privileged (enforce "
                      "privileged, audit and warn baseline), or exempt it in the admission "
                      "configuration.")
    audit = warn = _next_stricter(enforce) if enforce != Level.RESTRICTED else Level.RESTRICTED
    if enforce == Level.PRIVILEGED and not system:
        audit = warn = Level.BASELINE
    return Decision(
        namespace=ns, pin=pin, target=target, servers=servers, system=system,
        exempt=config.exempt_namespace(ns), known_psps=known,
        missing_psps=sorted(n for n, a in ceiling_psps.items() if a is None),
        ceiling_strict=ceiling_strict, ceiling_practical=ceiling_practical,
        rejected_today=rejected_today, today=today, exempt_runtime_class=exempt_rc,
        counted=counted,
        floor=floor, floor_target=floor_target, after_patches=after, enforce=enforce,
        audit=audit, warn=warn,
        blocker_level=_next_stricter(enforce) if enforce != Level.RESTRICTED else None,
        looser_than_psp=loud, suggestion=suggestion, looser_blockers=looser_blockers,
        lowers_existing=lowers, flips=flips, invalid=invalid)


def reasoning_of(
    decision: Decision,
    sim: NamespaceSimulation,
    ceiling_psps: dict[str, PSPAnalysis | None],
    psp_api: bool | None,
    mutations: list[plan_types.Mutation],
    config: AdmissionConfig,
    psps_read: bool = True,
) -> list[str]:
    """The decision in words, one sentence per reason, in the order a reader needs them."""
    d = decision
    pin, target = d.pin, d.target
    reasoning: list[str] = []
    n_templates, n_pods = len(sim.templates()), sim.pod_count()
    inactive = [s.ref for s in d.counted if s.is_template and not s.active]
    judged_at = f"{pin}" if pin == target else f"{pin} and {target}"
    on = (f", on the {d.servers[0]} server today and after the upgrade to {d.servers[1]}"
          if d.servers[0] != d.servers[1] else "")
    reasoning.append(
        f"{count(n_templates, 'workload template')} and {count(n_pods, 'pod')} judged at "
        f"{judged_at}; all that can run pass {d.floor} at {pin}{on}."
        if sim.subjects else "No workloads or pods: any level can be enforced."
    )
    for subject in d.rejected_today:
        reasoning.append(_rejected_reason(subject, d.today[subject.ref], pin))
    if inactive:
        reasoning.append(f"Counted although no pods run now: {', '.join(inactive)}.")
    if d.exempt_runtime_class:
        classes = ", ".join(sorted({str(s.runtime_class) for s in d.exempt_runtime_class}))
        reasoning.append(
            f"Not counted: {', '.join(s.ref for s in d.exempt_runtime_class)} run with the "
            f"runtimeClass {classes}, exempt in the admission configuration.")
    if config.usernames:
        reasoning.append(
            "The admission configuration exempts users "
            f"({', '.join(sorted(config.usernames))}); pods they create directly are not "
            "checked, but every pod here is still counted, since who created a pod is not "
            "recorded in it.")
    for flip in d.flips:
        reasoning.append(flip["text"] + ".")
    for item in d.invalid:
        reasoning.append(f"{item['object']}: a {item['server']} server refuses to create its "
                         f"pods (invalid: {'; '.join(item['errors'])}); fix it, whatever the "
                         "level.")
    if d.floor_target.rank < d.floor.rank:
        reasoning.append(f"At {target} the floor drops to {d.floor_target}: newer checks "
                         "would reject what passes at the pinned version.")
    if d.ceiling_practical is None:
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
        names = ", ".join(sorted(d.known_psps))
        reasoning.append(f"Usable PSPs ({names}) allowed at most {d.ceiling_strict} strictly, "
                         f"{d.ceiling_practical} in practice (unused loopholes closed).")
    if d.missing_psps:
        reasoning.append(f"Granted but missing PSPs: {', '.join(d.missing_psps)}.")
    for m in mutations:
        if m["passes_only_because_of_mutation"] and m.get("predicted"):
            reasoning.append(
                f"{m['workload']} (no pod runs now): its pods would pass {m['pod_level']} "
                f"only because PSP {m['psp']}, which would admit them, injects fields its "
                f"template lacks; the template passes {m['template_level']}."
            )
        elif m["passes_only_because_of_mutation"]:
            reasoning.append(
                f"{m['workload']}: its pods pass {m['pod_level']} only because PSP "
                f"{m['psp']} injected fields its template lacks; the template passes "
                f"{m['template_level']}."
            )
    if d.suggestion:
        reasoning.append(d.suggestion)
    if d.exempt:
        reasoning.append("Exempt in the admission configuration: labels are informational; "
                         "its pods are not checked at admission.")
    if d.after_patches.rank > d.enforce.rank:
        reasoning.append(f"After the generated securityContext patches: {d.after_patches}.")
    return reasoning


def lost_defaults(decision: Decision, sim: NamespaceSimulation,
                  mutations: list[plan_types.Mutation]) -> list[plan_types.LostDefaults]:
    """The workloads whose pods get values from a PSP that their templates lack (lost once
    PSP is gone), and whether the generated patches make them explicit (they patch every
    template that fails the level reachable after patches, when it is stricter)."""
    d = decision
    key = LevelVersion(d.after_patches, d.pin)
    patched = {s.ref for s in sim.templates()
               if d.after_patches.stricter_than(d.enforce) and s.verdicts.get(key)}
    out: list[plan_types.LostDefaults] = []
    for m in mutations:
        fields = sorted(str(c["path"]) for c in m["changes"] if c.get("cause") == "psp")
        if fields:
            out.append({"workload": m["workload"], "psp": m["psp"],
                        "predicted": bool(m.get("predicted")), "fields": fields,
                        "patched": m["workload"] in patched})
    return out


def namespace_entry(
    decision: Decision,
    labels: dict[str, str],
    sim: NamespaceSimulation,
    ceiling_psps: dict[str, PSPAnalysis | None],
    mutations: list[plan_types.Mutation],
    config: AdmissionConfig,
    reasoning: list[str],
) -> plan_types.PlanNamespace:
    """The decision as plan.json's namespace entry."""
    d = decision
    pin, target = d.pin, d.target
    current = policy_from_labels(labels, config.defaults)
    blockers = _blockers(d.counted, d.blocker_level, pin) if d.blocker_level else []
    rejected = [r for s in d.rejected_today for r in _rejections(s, d.today[s.ref], pin)]
    if d.suggestion is not None:
        blockers = []  # a suggestion instead of a flood
    recommended: plan_types.Recommended = {
        "enforce": str(d.enforce), "enforce_version": str(pin),
        "audit": str(d.audit), "audit_version": "latest",
        "warn": str(d.warn), "warn_version": "latest",
    }
    return {
        "name": d.namespace,
        "system": d.system,
        "exempt": d.exempt,
        "current_labels": {k: v for k, v in sorted(labels.items()) if k.startswith(LABEL_PREFIX)},
        "current_policy": {"enforce": str(current.policy.enforce),
                           "audit": str(current.policy.audit), "warn": str(current.policy.warn)},
        "label_problems": [{"label": p.label, "value": p.value, "message": p.message}
                           for p in current.problems],
        "floor": {str(pin): str(d.floor), str(target): str(d.floor_target)},
        "ceiling": {
            "strict": str(d.ceiling_strict) if d.ceiling_strict else None,
            "practical": str(d.ceiling_practical) if d.ceiling_practical else None,
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
        "after_patches": str(d.after_patches),
        "looser_than_psp": d.ceiling_practical is not None
        and d.enforce.rank < d.ceiling_practical.rank,
        "looser_blockers": d.looser_blockers,
        "lowers_existing": {"current": str(d.lowers_existing), "recommended": str(d.enforce)}
        if d.lowers_existing is not None else None,
        "warnings": d.looser_than_psp,
        "suggestion": d.suggestion,
        "reasoning": reasoning,
        "blockers": blockers,
        "rejected_today": rejected,
        "flips_across_upgrade": d.flips,
        "invalid": d.invalid,
        "mutation": mutations,
        "lost_psp_defaults": lost_defaults(d, sim, mutations),
        "subjects": [_subject_dict(s, config) for s in sim.subjects],
    }


def plan_namespace(
    ns: str,
    labels: dict[str, str],
    sim: NamespaceSimulation,
    pin: Version,
    target: Version,
    ceiling_psps: dict[str, PSPAnalysis | None],
    psp_api: bool | None,
    mutations: list[plan_types.Mutation],
    config: AdmissionConfig,
    psps_read: bool = True,
    servers: tuple[ServerVersion, ServerVersion] | None = None,
    today: Mapping[str, Today] | None = None,
) -> plan_types.PlanNamespace:
    """The recommendation for one namespace, with its reasoning: decide, explain, serialise."""
    decision = decide_namespace(ns, sim, pin, target, ceiling_psps, config, servers,
                                today=today, psp_api=psp_api, labels=labels)
    reasoning = reasoning_of(decision, sim, ceiling_psps, psp_api, mutations, config, psps_read)
    return namespace_entry(decision, labels, sim, ceiling_psps, mutations, config, reasoning)


def build_plan(
    inventory: Inventory,
    *,
    pin: Version,
    target: Version | None = None,
    config: AdmissionConfig | None = None,
    source: str = "files",
    server: ServerVersion | None = None,
    upgrade_to: ServerVersion | None = None,
    server_basis: str | None = None,
) -> plan_types.Plan:
    """The whole plan for `inventory`, as JSON-ready data.

    `server` is today's API server (default: as `current_server` finds it), `upgrade_to` the
    one after the upgrade (default: the newest modelled); `target` defaults to its version.
    """
    if server is None:
        server, server_basis = current_server(inventory)
    upgrade_to = upgrade_to or max(server, ServerVersion.newest())
    servers = (server, upgrade_to)
    target = target or Version.of(upgrade_to.minor)
    config = config or AdmissionConfig.default()
    versions = (pin,) if pin == target else (pin, target)
    index = OwnerIndex.build(inventory.workloads)
    raw_keys: dict[int, str] = {}
    sims = simulate(inventory, versions, index, servers, raw_keys)
    access = resolve_psp_access(inventory)
    today = admission_today(inventory, access, index)
    analyses = analyze_psps(inventory, access, index, today, raw_keys)
    labels_of: dict[str, dict[str, str]] = {
        name_of(ns): dict((ns.get("metadata") or {}).get("labels") or {})
        for ns in inventory.namespaces
    }
    defaults_of = {name: list(analysis.defaults) for name, analysis in analyses.items()}
    memo: dict[Any, Any] = {}  # explanations, alive as long as defaults_of
    ranges = {name_of(psp): range_notes(read_psp(psp)) for psp in inventory.psps}
    pods_by_ns: dict[str, dict[str, Obj]] = defaultdict(dict)
    for pod in inventory.pods:
        pods_by_ns[namespace_of(pod)][name_of(pod)] = pod
    predicted: dict[tuple[str, str], tuple[list[dict[str, Any]], Level]] = {}
    today_by_ns: dict[str, dict[str, Today]] = defaultdict(dict)
    for (ns_name, kind, name), outcome in today.items():
        today_by_ns[ns_name][f"{kind}/{name}"] = outcome
    namespaces = []
    for ns, sim in sims.items():
        ns_access = access.by_namespace.get(ns)
        usable = set(ns_access.usable) if ns_access else set(access.cluster_wide)
        # the PSPs the controllers creating this namespace's pods may use count too
        usable.update(name for t in today_by_ns[ns].values() for name in t.usable)
        ceiling = {name: analyses.get(name) for name in sorted(usable)}
        mutations = _mutations(sim, pods_by_ns[ns], index, defaults_of, pin,
                               today_by_ns[ns], ranges, predicted, server, memo)
        namespaces.append(plan_namespace(
            ns, labels_of.get(ns, {}), sim, pin, target, ceiling, inventory.psp_api,
            mutations, config, psps_read=bool(inventory.psps), servers=servers,
            today=today_by_ns[ns]))
    if inventory.psps and psp_admission_seen(inventory) is False:
        for item in namespaces:
            item["reasoning"].append(
                "No running pod carries the kubernetes.io/psp annotation PSP admission "
                "writes: the PodSecurityPolicy admission plugin does not seem to run, so no "
                "workload is taken as rejected today.")
    residual = residual_plan(inventory, access, index, {
        item["name"]: (Level(item["recommended"]["enforce"]),
                       Version.parse(item["recommended"]["enforce_version"]))
        for item in namespaces}, upgrade_to)
    by_level: dict[str, int] = {str(lv): 0 for lv in LEVELS_BY_RANK}
    for item in namespaces:
        by_level[item["recommended"]["enforce"]] += 1
    return {
        "schema": PLAN_SCHEMA,
        "generated_by": f"migrator {__version__}",
        "cluster": {"source": source, "server_version": inventory.server_version,
                    "psp_api": inventory.psp_api,
                    "identity": inventory.identity.to_dict() if inventory.identity else None},
        "servers": {
            "current": str(server),
            "current_reported": server.text,
            "current_basis": server_basis or "given",
            "upgrade_to": str(upgrade_to),
            "notes": [n for n in (server.note, upgrade_to.note) if n],
        },
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
            "lowers_existing": sorted(n["name"] for n in namespaces if n["lowers_existing"]),
            "rejected_today": sum(len({r["object"] for r in n["rejected_today"]})
                                  for n in namespaces),
            "blockers": sum(b.get("count", 1) for n in namespaces for b in n["blockers"]),
            "flips_across_upgrade": sorted(
                f"{n['name']}/{f['object']}" for n in namespaces
                for f in n["flips_across_upgrade"]),
            "invalid": sorted(f"{n['name']}/{i['object']}" for n in namespaces
                              for i in n["invalid"]),
            "passing_only_by_mutation": sorted(
                f"{n['name']}/{m['workload']}"
                for n in namespaces for m in n["mutation"]
                if m["passes_only_because_of_mutation"]),
        },
        "psps": [a.to_dict() for a in analyses.values()],
        "rbac_cleanup": psp_rbac_cleanup(inventory),
        "namespaces": namespaces,
        "residual": residual,
    }

