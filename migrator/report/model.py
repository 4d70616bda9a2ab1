"""The readiness report's view model: a plan turned into what a platform team decides on.

Owns `build_report`, a pure function from a plan (the dict `migrator plan` writes, see
`schemas/plan.schema.json`), and optionally the Inventory the plan was built from and the
Helm release history, to one JSON-ready dict that every format renders: the headline
("can we upgrade, and if not, what is left"), chart data, the upgrade blockers and warnings
(each a finding with its rule), the per-namespace drill-down with every violation and its
fix, the PodSecurityPolicies, the rollout steps with their exact commands, the objects to
delete afterwards, and the Helm releases still holding a PodSecurityPolicy.

Also owns the CI gate: `FAIL_ON_RULES` states the rules in words and `gate` applies them.
Nothing here reads, writes or prints; every list is sorted so the output is deterministic.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from migrator.generate.residual import residual_files, residual_view
from migrator.model.inventory import Inventory
from migrator.model.plan import PLAN_FILE, Plan, PlanNamespace
from migrator.model.words import count, join
from migrator.plan.decide import patchable
from migrator.plan.evidence import gate_line, span_of, violator_line
from migrator.pss.engine import EVALUATOR
from migrator.pss.registry import Violation
from migrator.rbac.cleanup import psp_rbac_cleanup
from migrator.report.rules import BLOCKER, BLOCKER_RULES, FAIL_ON, RULES, fail_on_rules

Json = dict[str, Any]

REPORT_SCHEMA = "migrator.report/v1"
LEVELS = ("privileged", "baseline", "restricted")
BLOCKED, WARNINGS, READY = "blocked", "warnings", "ready"

#: What each `--fail-on` value fails on, in words (the README and `--help` quote these).
FAIL_ON_RULES: dict[str, tuple[str, ...]] = fail_on_rules()


# -- small helpers ------------------------------------------------------------------------


def anchor_of(namespace: str) -> str:
    """The HTML id of a namespace's section: `ns-<name>`; other characters are hashed."""
    if re.fullmatch(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?", namespace):
        return f"ns-{namespace}"
    safe = re.sub(r"[^A-Za-z0-9_-]+", "-", namespace).strip("-")[:40]
    digest = hashlib.sha256(namespace.encode("utf-8")).hexdigest()[:8]
    return f"ns-{safe}-{digest}" if safe else f"ns-{digest}"


def _rank(level: str | None) -> int:
    return LEVELS.index(level) if level in LEVELS else -1


def _fix(check: str) -> str:
    found = EVALUATOR.checks.get(check)
    return found.fix if found else ""


def _value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _ref(subject: Mapping[str, Any]) -> str:
    return f"{subject['kind']}/{subject['name']}"


def _versions(plan: Plan) -> list[str]:
    pin, target = str(plan["pin_version"]), str(plan["target_version"])
    return [pin] if pin == target else [pin, target]


def _cluster_name(source: Any) -> str:
    """What a plan's `cluster.source` calls the cluster: a context, `cluster`, or `files`."""
    return "manifests" if source in (None, "", "files") else str(source)


def _sh(*words: str) -> str:
    return " ".join(shlex.quote(w) for w in words)


def plan_context(plan: Plan) -> str | None:
    """The kubeconfig context the plan was made from (its recorded identity, else its
    `cluster.source` when that names one), so printed commands target that cluster."""
    cluster = plan.get("cluster") or {}
    identity = cluster.get("identity")
    if identity and identity.get("context"):
        return str(identity["context"])
    source = cluster.get("source")
    return None if source in (None, "", "files", "cluster") else str(source)


def _kubectl(plan: Plan, *words: str) -> str:
    context = plan_context(plan)
    return _sh("kubectl", *(["--context", context] if context else []), *words)


def _apply_lines(plan: Plan, phase: str, *extra: str) -> list[str]:
    """The dry run, then the same line with --yes: runnable as printed. A plan made from
    manifests records no cluster, so apply needs --allow-other-cluster to use it (the step
    says to check the current context first)."""
    context = plan_context(plan)
    unbound = not (plan.get("cluster") or {}).get("identity")
    line = _sh("migrator", "apply", "--plan", PLAN_FILE, "--phase", phase,
               *extra, *(["--context", context] if context else []),
               *(["--allow-other-cluster"] if unbound else []))
    return [line, f"{line} --yes"]


def _unbound_note(plan: Plan) -> str:
    if (plan.get("cluster") or {}).get("identity"):
        return ""
    return (" This plan was made from files that do not say which cluster they describe, "
            "hence --allow-other-cluster: check that the current kubectl context is the "
            "cluster to label (a plan made live, or from a snapshot, is checked for you).")


# -- violations grouped by object -----------------------------------------------------------

#: How many pod names an object of the report lists (the rest are counted).
POD_EXAMPLES = 5


def _pods_in(subject: Mapping[str, Any]) -> int:
    """How many pods a plan subject stands for (a pod shape held more than once: `count`)."""
    count = subject.get("count")
    return count if isinstance(count, int) and count > 0 else 1



def _violation(v: Mapping[str, Any]) -> Json:
    check = str(v["check"])
    return {
        "check": check,
        "reason": str(v.get("reason", "")),
        "detail": str(v.get("detail", "")),
        "fix": str(v.get("fix") or _fix(check)),
        "patchable": bool(v["patchable"]) if "patchable" in v else patchable(
            Violation(check, str(v.get("reason", "")), str(v.get("detail", "")))),
    }


def _grouped(entries: Iterable[tuple[Mapping[str, Any], list[Mapping[str, Any]]]],
             owners: Mapping[str, str | None]) -> list[Json]:
    """One entry per object with its violations; pods of a listed template fold into it."""
    by_object: dict[str, Json] = {}
    for subject, violations in entries:
        ref = str(subject["ref"])
        origin = subject.get("origin") or next(
            (v.get("origin") for v in violations if v.get("origin")), None)
        item = by_object.setdefault(ref, {
            "object": ref, "origin": origin, "template": bool(subject["template"]),
            "custom": bool(subject.get("custom")),
            "active": bool(subject["active"]), "pods": [], "pod_count": 0,
            "count": int(subject.get("count") or 1),
            "examples": [str(n) for n in subject.get("examples") or ()],
            "violations": []})
        seen = {(x["check"], x["detail"]) for x in item["violations"]}
        for v in violations:
            if (v["check"], v.get("detail", "")) not in seen:
                item["violations"].append(_violation(v))
    for ref in sorted(by_object):
        owner = owners.get(ref)
        if owner and owner in by_object and by_object[owner]["template"]:
            pod = by_object[ref]
            by_object[owner]["pods"].extend(pod["examples"] or [ref.split("/", 1)[1]])
            by_object[owner]["pod_count"] += pod["count"]
            by_object[owner]["active"] = True
            del by_object[ref]
    out = []
    for ref in sorted(by_object):
        item = by_object[ref]
        item["violations"].sort(key=lambda x: (x["check"], x["detail"]))
        item["pods"].sort()
        del item["pods"][POD_EXAMPLES:]
        # A pod shape's own names, and counts that the names listed already tell, are
        # left out of the view.
        del item["examples"]
        if item["pod_count"] == len(item["pods"]):
            del item["pod_count"]
        if item["count"] == 1:
            del item["count"]
        item["all_patchable"] = all(v["patchable"] for v in item["violations"])
        out.append(item)
    return out


def _subject_rows(ns: PlanNamespace) -> list[Json]:
    return [{**s, "ref": _ref(s)} for s in ns["subjects"]]


def _verdicts_at(row: Mapping[str, Any], key: str, after_only: bool) -> list[Any]:
    """A subject's violations at `key`: on the server after the upgrade (`after_only`), or on
    either server (today's first), each once."""
    after = (row.get("verdicts_after_upgrade") or {}).get(key)
    today = row["verdicts"].get(key) or []
    if after_only:
        return list(after if after is not None else today)
    return list(today) + [v for v in after or () if v not in today]


def _rejections(ns: PlanNamespace, level: str, version: str,
                skip: set[str], after_only: bool = False) -> list[Json]:
    """Objects of `ns` that `level` at `version` rejects (nothing for exempt namespaces), on
    today's server or after the upgrade (`after_only`: after it only)."""
    if ns["exempt"] or _rank(level) <= 0:
        return []
    key = f"{level}:{version}"
    rows = _subject_rows(ns)
    owners = {r["ref"]: r["owner"] for r in rows}
    found = [(r, _verdicts_at(r, key, after_only)) for r in rows if r["ref"] not in skip]
    return _grouped(((r, v) for r, v in found if v), owners)


def _from_blockers(ns: PlanNamespace, blockers: list[Mapping[str, Any]]) -> list[Json]:
    rows = {r["ref"]: r for r in _subject_rows(ns)}
    owners = {ref: r["owner"] for ref, r in rows.items()}
    by_ref: dict[str, list[Mapping[str, Any]]] = {}
    for b in blockers:
        by_ref.setdefault(str(b["object"]), []).append(b)
    entries = [(rows.get(ref) or {"ref": ref, "template": items[0]["template"],
                                  "active": items[0]["active"]}, items)
               for ref, items in by_ref.items()]
    return _grouped(entries, owners)


# -- server dry-run ---------------------------------------------------------------------------


def _describe_disagreement(item: Any) -> str:
    if not isinstance(item, dict):
        return _value(item)
    if item.get("message") and "kind" in item:  # migrator.plan.dryrun.Disagreement
        return f"{item['pod']}: {item['message']}" if item.get("pod") else str(item["message"])
    parts = []
    for key in ("object", "pod", "level", "version"):
        if item.get(key) not in (None, ""):
            parts.append(f"{key} {_value(item[key])}")
    for ours in ("offline", "ours", "expected"):
        if ours in item:
            parts.append(f"offline: {_value(item[ours])}")
            break
    for theirs in ("server", "actual"):
        if theirs in item:
            parts.append(f"server: {_value(item[theirs])}")
            break
    for key in ("message", "reason", "detail"):
        if item.get(key):
            parts.append(_value(item[key]))
            break
    if not parts:
        parts = [f"{k}: {_value(v)}" for k, v in sorted(item.items()) if k != "namespace"]
    return "; ".join(parts)


def _coverage(value: Any) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, dict) and "checked" in value and "total" in value:
        if value.get("complete"):
            return "complete"
        note = value.get("note")
        return str(note) if note else f"server checked {value['checked']} of {value['total']} pods"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_value(v)}" for k, v in sorted(value.items()))
    return _value(value)


def _disagreement_rows(items: Any, namespace: str | None) -> list[Json]:
    rows = []
    for item in items if isinstance(items, list) else []:
        ns = item.get("namespace") if isinstance(item, dict) else None
        rows.append({"namespace": str(ns or namespace or ""),
                     "text": _describe_disagreement(item),
                     "key": json.dumps(item, sort_keys=True)})
    return sorted(rows, key=lambda r: (r["namespace"], r["text"], r["key"]))


def _dry_run_namespace(section: Any, namespace: str) -> Json | None:
    """A namespace's `server_dry_run` (see migrator.cluster.dryrun), for the drill-down."""
    if not isinstance(section, dict):
        return None
    coverage = section.get("coverage")
    return {
        "level": section.get("level"),
        "evaluated": bool(section.get("evaluated", True)),
        "not_evaluated_because": section.get("not_evaluated_because"),
        "agrees": section.get("agrees"),
        "error": section.get("error"),
        "coverage": _coverage(coverage),
        "incomplete": isinstance(coverage, dict) and coverage.get("complete") is False,
        "disagreements": _disagreement_rows(section.get("disagreements"), namespace),
    }


def _dry_run_summary(section: Any) -> Json | None:
    """The plan's top-level `server_dry_run` summary, in words."""
    if not isinstance(section, dict):
        return None
    found = section.get("disagreements")
    listed = _disagreement_rows(found, None)
    n = found if isinstance(found, int) else len(listed)
    if isinstance(section.get("evaluated"), int) and isinstance(section.get("namespaces"), int):
        text = (f"The API server judged {section['evaluated']} of {section['namespaces']} "
                f"namespaces (dryRun=All): {section.get('agreeing', 0)} agree with the plan, "
                f"{count(n, 'disagreement')}.")
    else:
        text = f"The API server's dry run: {count(n, 'disagreement')}."
    incomplete = [{"namespace": str(i.get("namespace")),
                   "note": str(i.get("note") or _coverage(i))}
                  for i in section.get("incomplete_coverage") or [] if isinstance(i, dict)]
    errors = [{"namespace": str(e.get("namespace")), "message": str(e.get("message"))}
              for e in section.get("errors") or [] if isinstance(e, dict)]
    return {
        "text": text,
        "coverage": _coverage(section.get("coverage")),
        "count": n,
        "with_disagreements": sorted(str(x) for x in section.get("with_disagreements") or []),
        "not_evaluated": sorted(str(x) for x in section.get("not_evaluated") or []),
        "incomplete": sorted(incomplete, key=lambda i: i["namespace"]),
        "errors": sorted(errors, key=lambda e: (e["namespace"], e["message"])),
        "disagreements": listed,
    }


# -- namespaces -------------------------------------------------------------------------------


def _namespace(ns: PlanNamespace, pin: str, target: str) -> Json:
    rec = ns["recommended"]
    enforce, version = str(rec["enforce"]), str(rec["enforce_version"])
    rejected_today = _from_blockers(ns, list(ns["rejected_today"]))
    today_refs = {str(b["object"]) for b in ns["rejected_today"]}
    at_pin = _rejections(ns, enforce, version, today_refs)
    at_target = [] if target == version else _rejections(ns, enforce, target, today_refs,
                                                         after_only=True)
    pin_refs = {r["object"] for r in at_pin}
    next_level = LEVELS[_rank(enforce) + 1] if 0 <= _rank(enforce) < 2 else None
    hardening = _from_blockers(ns, list(ns["blockers"]))
    subjects = ns["subjects"]
    mutation = [{
        "workload": m["workload"], "pod": m["pod"], "psp": m["psp"],
        "attributed_to": m["attributed_to"], "pod_level": m["pod_level"],
        "template_level": m["template_level"],
        "passes_only_because_of_mutation": bool(m["passes_only_because_of_mutation"]),
        "predicted": bool(m.get("predicted")),
        "fields": sorted(str(c["path"]) for c in m["changes"]),
    } for m in sorted(ns["mutation"], key=lambda m: str(m["workload"]))]
    dry = _dry_run_namespace(ns.get("server_dry_run"), str(ns["name"]))
    return {
        "name": ns["name"],
        "anchor": anchor_of(str(ns["name"])),
        "system": bool(ns["system"]),
        "exempt": bool(ns["exempt"]),
        "recommended": dict(rec),
        "labels": dict(sorted(ns["labels"].items())),
        "current_enforce": ns["current_policy"]["enforce"],
        "current_labels": dict(sorted(ns["current_labels"].items())),
        "label_problems": list(ns["label_problems"]),
        "floor": {"pin": ns["floor"].get(pin), "target": ns["floor"].get(target)},
        "ceiling": {"strict": ns["ceiling"]["strict"], "practical": ns["ceiling"]["practical"],
                    "psps": sorted(str(p["psp"]) for p in ns["ceiling"]["psps"])},
        "after_patches": ns["after_patches"],
        "templates": sum(1 for s in subjects if s["template"]),
        "pods": sum(_pods_in(s) for s in subjects if not s["template"]),
        "rejected_at_pin": [r for r in at_pin if r["active"]],
        "rejected_at_pin_inactive": [r for r in at_pin if not r["active"]],
        "rejected_at_target": [r for r in at_target if r["object"] not in pin_refs],
        "rejected_today": rejected_today,
        "next_level": next_level,
        "to_next_level": hardening,
        "mutation": mutation,
        "looser_than_psp": bool(ns["looser_than_psp"]),
        "lowers_existing": ns.get("lowers_existing"),
        "lost_psp_defaults": list(ns.get("lost_psp_defaults") or []),
        "warnings": list(ns["warnings"]),
        "suggestion": ns["suggestion"],
        "reasoning": list(ns["reasoning"]),
        "server_dry_run": dry,
    }


# -- PodSecurityPolicies and what to delete ---------------------------------------------------


def _psps(plan: Plan) -> list[Json]:
    usable: dict[str, set[str]] = {}
    for ns in plan["namespaces"]:
        for p in ns["ceiling"]["psps"]:
            usable.setdefault(str(p["psp"]), set()).add(str(ns["name"]))
    out = []
    for psp in sorted(plan["psps"], key=lambda p: str(p["name"])):
        out.append({
            "name": psp["name"],
            "strict_level": psp["strict_level"],
            "practical_level": psp["practical_level"],
            "mutating": bool(psp["mutating"]),
            "namespaces": [{"name": n, "anchor": anchor_of(n)}
                           for n in sorted(usable.get(str(psp["name"]), ()))],
            "strict_reasons": [str(r["message"]) for r in psp.get("strict_reasons") or []],
            "loopholes": [str(r["message"]) for r in psp.get("loopholes") or []],
            "lost_guarantees": [
                {"field": str(g["field"]), "value": _value(g.get("value")),
                 "explanation": str(g.get("explanation", ""))}
                for g in sorted(psp.get("lost_guarantees") or [], key=lambda g: str(g["field"]))
            ],
            "problems": [_value(p) for p in psp.get("problems") or []],
        })
    return out




def _by_namespace(items: Iterable[Mapping[str, Any]]) -> list[tuple[str, list[str]]]:
    """The names of namespaced objects, grouped by namespace (sorted), in their order."""
    grouped: dict[str, list[str]] = {}
    for item in items:
        grouped.setdefault(str(item["namespace"]), []).append(str(item["name"]))
    return sorted(grouped.items())


def rbac_cleanup(plan: Plan, inventory: Inventory | None) -> Json:
    """The objects to delete once Pod Security Admission enforces and PSP admission is off,
    with the commands that delete them.

    The plan's `rbac_cleanup` (computed when it was made, from the RBAC objects read); for a
    plan written before it was recorded, computed from `inventory` when one is given, else
    only the PSPs can be named.
    """
    recorded = plan.get("rbac_cleanup")
    if isinstance(recorded, Mapping):
        result: Json = {**recorded}
    else:
        result = psp_rbac_cleanup(inventory) if inventory is not None else {
            "rbac_known": False, "psps": [], "cluster_roles": [], "roles": [],
            "cluster_role_bindings": [], "role_bindings": [], "edit": []}
    psps = sorted({str(p["name"]) for p in plan["psps"]} | set(result.pop("psps")))
    result = {"psps": psps, **result}
    commands = []
    if result["cluster_role_bindings"]:
        commands.append(_kubectl(plan, "delete", "clusterrolebinding",
                                 *result["cluster_role_bindings"]))
    for ns, names in _by_namespace(result["role_bindings"]):
        commands.append(_kubectl(plan, "delete", "rolebinding", "-n", ns, *names))
    if result["cluster_roles"]:
        commands.append(_kubectl(plan, "delete", "clusterrole", *result["cluster_roles"]))
    for ns, names in _by_namespace(result["roles"]):
        commands.append(_kubectl(plan, "delete", "role", "-n", ns, *names))
    if psps:
        commands.append(_kubectl(plan, "delete", "podsecuritypolicy", *psps))
    result["commands"] = commands
    return result


# -- Helm -------------------------------------------------------------------------------------


def _helm(helm: Mapping[str, Any] | None) -> Json:
    if helm is None:
        return {"checked": False, "unreadable": None, "secrets": 0, "releases": 0,
                "undecodable": [], "current": [], "older": [], "commands": []}
    current: list[Json] = []
    older: list[Json] = []
    for r in helm["revisions"]:
        row = {**r, "psp_names": sorted(str(p["name"]) for p in r["psps"])}
        if r["current"]:
            row["commands"] = [_sh("helm", "mapkubeapis", str(r["name"]),
                                   "--namespace", str(r["namespace"]))]
            current.append(row)
        else:
            row["commands"] = []
            older.append(row)
    commands = sorted({c for row in current for c in row["commands"]})
    return {"checked": True, "unreadable": helm["unreadable"], "secrets": helm["secrets"],
            "releases": helm["releases"], "undecodable": list(helm["undecodable"]),
            "current": current, "older": older, "commands": commands}


HELM_FIX = (
    "Before upgrading to 1.25, upgrade each release to a chart version or values that no "
    "longer render a PodSecurityPolicy (often a value such as podSecurityPolicy.enabled=false "
    "or psp.create=false; see the chart), so its newest revision holds none. Already on 1.25 "
    "or later: rewrite the stored release with the helm-mapkubeapis plugin, then upgrade. "
    "Older revisions holding one cannot be rolled back to after 1.25."
)


# -- findings, headline and gate -------------------------------------------------------------


def _finding(rule: str, namespace: str | None, text: str, subject: str | None = None) -> Json:
    """One blocker or warning: where it is (a namespace, else `subject`) and what it is."""
    return {"rule": rule, "title": RULES[rule].title, "namespace": namespace,
            "anchor": anchor_of(namespace) if namespace else None,
            "subject": subject or namespace or "cluster", "text": text}


def _servers(plan: Mapping[str, Any]) -> Json | None:
    """Today's server and the upgraded one, as the plan judged them (None for an old plan)."""
    servers = plan.get("servers")
    if not isinstance(servers, Mapping):
        return None
    return {"current": servers.get("current"), "upgrade_to": servers.get("upgrade_to"),
            "basis": servers.get("current_basis"),
            "spans_upgrade": servers.get("current") != servers.get("upgrade_to"),
            "notes": list(servers.get("notes") or ())}


def plan_flips(plan: Mapping[str, Any]) -> list[Json]:
    """The templates whose verdict flips across the upgrade, namespace by namespace (none
    in a plan made before they were recorded)."""
    return [{"namespace": str(ns["name"]), "anchor": anchor_of(str(ns["name"])), **flip}
            for ns in plan["namespaces"] for flip in ns.get("flips_across_upgrade") or ()]


def _checks(item: Mapping[str, Any]) -> str:
    return ", ".join(sorted({v["check"] for v in item["violations"]}))


def _kept_by(residual: Json) -> dict[tuple[str, str], str]:
    """(PSP, field) -> the residual policies that keep it, with their namespaces."""
    found: dict[tuple[str, str], list[str]] = {}
    if not residual.get("api_version"):
        return {}
    for policy in residual["policies"]:
        for alt in policy["alternatives"]:
            for rule in alt["rules"]:
                found.setdefault((alt["psp"], rule["field"]), []).append(
                    f"{policy['name']} ({', '.join(policy['namespaces'])})")
    return {key: ", ".join(names) for key, names in found.items()}


def _findings(plan: Plan, namespaces: list[Json], psps: list[Json],
              helm: Json, dry_run: Json | None, residual: Json
              ) -> tuple[list[Json], list[Json]]:
    blockers: list[Json] = []
    warnings: list[Json] = []
    for ns in namespaces:
        name, rec = str(ns["name"]), ns["recommended"]
        level = f"{rec['enforce']} at {rec['enforce_version']}"
        for item in ns["rejected_at_pin"]:
            blockers.append(_finding("enforce-rejects", name,
                                     f"{item['object']} fails {level} ({_checks(item)})"))
        for item in ns["rejected_today"]:
            blockers.append(_finding(
                "rejected-today", name,
                f"{item['object']} is already rejected by every usable PodSecurityPolicy "
                f"({_checks(item)}): fix it or exempt it"))
        if ns["looser_than_psp"]:
            for text in ns["warnings"]:
                if not text.startswith("STRICTER TODAY"):
                    warnings.append(_finding("looser-than-psp", name, text))
        if ns["lowers_existing"]:
            lowered = ns["lowers_existing"]
            warnings.append(_finding(
                "lowers-existing", name,
                f"already enforces {lowered['current']}; the recommended "
                f"{lowered['recommended']} would lower it (`apply` keeps it unless "
                "--allow-lower)"))
        for m in ns["mutation"]:
            if m["passes_only_because_of_mutation"]:
                warnings.append(_finding(
                    "mutation-only", name,
                    f"{m['workload']} passes {m['pod_level']} only because PSP {m['psp']} "
                    f"set {count(len(m['fields']), 'field')} its template lacks; the "
                    f"template passes {m['template_level']}"
                    + (" (predicted: no pod runs now)" if m["predicted"] else "")))
        for item in ns["rejected_at_pin_inactive"]:
            warnings.append(_finding(
                "target-rejects", name,
                f"{item['object']} (no pods now) fails {level} ({_checks(item)})"))
        for item in ns["rejected_at_target"]:
            warnings.append(_finding(
                "target-rejects", name,
                f"{item['object']} fails {rec['enforce']} at {plan['target_version']} "
                f"({_checks(item)}): keep enforce-version at {rec['enforce_version']} "
                "until it is fixed"))
    for flip in plan_flips(plan):
        warnings.append(_finding("flips-on-upgrade", flip["namespace"], flip["text"]))
    for ns_plan in plan["namespaces"]:
        for item in ns_plan.get("invalid") or ():
            blockers.append(_finding(
                "server-refuses", str(ns_plan["name"]),
                f"{item['object']}: a {item['server']} server refuses to create its pods "
                f"({'; '.join(item['errors'])})"))
    _dry_run_findings(namespaces, dry_run, blockers, warnings)
    kept = _kept_by(residual)
    for psp in psps:
        for g in psp["lost_guarantees"]:
            where = kept.get((str(psp["name"]), str(g["field"])))
            note = ""
            if where:
                noun = "policies" if "), " in where else "policy"
                note = f"; kept by the residual ValidatingAdmission{noun.capitalize()} {where}"
            warnings.append(_finding(
                "lost-guarantee", None,
                f"{g['field']} = {g['value']}: {g['explanation']}{note}",
                f"PSP {psp['name']}"))
    for r in helm["current"]:
        blockers.append(_finding(
            "helm-psp", None,
            f"revision {r['revision']} ({r['status']}) of chart {r['chart']} "
            f"{r['chart_version']} holds PodSecurityPolicy {', '.join(r['psp_names'])}",
            f"Helm {r['namespace']}/{r['name']}"))
    for r in helm["older"]:
        warnings.append(_finding(
            "helm-rollback", None,
            f"revision {r['revision']} ({r['status']}) holds PodSecurityPolicy "
            f"{', '.join(r['psp_names'])}: a rollback to it fails after 1.25",
            f"Helm {r['namespace']}/{r['name']}"))
    if helm["unreadable"]:
        warnings.append(_finding("helm-rollback", None,
                                 f"release history not read: {helm['unreadable']}", "Helm"))
    for text in helm["undecodable"]:
        warnings.append(_finding("helm-rollback", None, f"release not decoded: {text}", "Helm"))
    for u in plan["unreadable"]:
        warnings.append(_finding("unreadable", None, f"{u['reason']}: {u['consequence']}",
                                 str(u["what"])))
    # Each finding blocks or warns as its rule says, wherever it was produced.
    found = blockers + warnings
    return ([f for f in found if RULES[f["rule"]].severity == BLOCKER],
            [f for f in found if RULES[f["rule"]].severity != BLOCKER])


def _dry_run_findings(namespaces: list[Json], summary: Json | None, blockers: list[Json],
                      warnings: list[Json]) -> None:
    """Disagreements block; incomplete coverage and failed dry runs warn."""
    detailed: set[str] = set()
    incomplete: dict[str, str] = {}
    failed: dict[str, str] = {}
    for ns in namespaces:
        dry = ns["server_dry_run"]
        if dry is None:
            continue
        name = str(ns["name"])
        for d in dry["disagreements"]:
            blockers.append(_finding("server-disagreement", name, d["text"]))
            detailed.add(name)
        if dry["incomplete"]:
            incomplete[name] = dry["coverage"]
        if dry["error"]:
            failed[name] = str(dry["error"])
    if summary is not None:
        for d in summary["disagreements"]:
            if d["namespace"] not in detailed:
                blockers.append(_finding("server-disagreement", d["namespace"] or None,
                                         d["text"], "server dry run"))
        for name in summary["with_disagreements"]:
            if name not in detailed and not any(d["namespace"] == name
                                                for d in summary["disagreements"]):
                blockers.append(_finding("server-disagreement", name,
                                         "the API server's verdict differs from the plan's"))
        for item in summary["incomplete"]:
            incomplete.setdefault(item["namespace"], item["note"])
        for item in summary["errors"]:
            failed.setdefault(item["namespace"], item["message"])
    for name, note in sorted(incomplete.items()):
        warnings.append(_finding("server-incomplete", name,
                                 f"{note}: pods beyond those were not compared"))
    for name, message in sorted(failed.items()):
        warnings.append(_finding("server-incomplete", name, f"server dry run failed: {message}"))


def _blocked_phrase(rule: str, items: list[Json]) -> str:
    spaces = sorted({str(f["namespace"]) for f in items if f["namespace"]})
    where = f" (in {join(spaces)})" if spaces else ""
    noun, rest = RULES[rule].headline
    return f"{count(len(items), noun)} {rest}{where}"


def _headline(blockers: list[Json], warnings: list[Json]) -> tuple[str, str]:
    if blockers:
        rules = list(dict.fromkeys(f["rule"] for f in blockers))
        parts = [_blocked_phrase(r, [f for f in blockers if f["rule"] == r]) for r in rules]
        return BLOCKED, (f"Not ready to upgrade, {count(len(blockers), 'blocker')}: resolve "
                         f"{join(parts)} first.")
    if warnings:
        kinds = list(dict.fromkeys(f["title"].lower() for f in warnings))
        return WARNINGS, (
            "Ready to upgrade: every namespace can enforce its recommended level without "
            f"rejecting a running workload; review {count(len(warnings), 'warning')} first "
            f"({join(kinds)}).")
    return READY, ("Ready to upgrade: every namespace can enforce its recommended level "
                   "without rejecting a running workload.")


def _findings_per_namespace(findings: list[Json], rule_set: Iterable[str]) -> Counter[str]:
    """How many of `findings` (of the rules in `rule_set`) each namespace has: one pass over
    the findings, not one per namespace."""
    rule_set = set(rule_set)
    return Counter(str(f["namespace"]) for f in findings if f["rule"] in rule_set)


# -- charts data and rollout -------------------------------------------------------------------


def _passing(plan: Plan) -> Json:
    subjects = [s for ns in plan["namespaces"] for s in ns["subjects"]]
    templates = [s for s in subjects if s["template"]]
    pods = [s for s in subjects if not s["template"]]
    rows = []
    pin = str(plan["pin_version"])
    for version in _versions(plan):
        for level in LEVELS:
            def passes(s: Mapping[str, Any], level: str = level, version: str = version) -> bool:
                return level == "privileged" or not _verdicts_at(
                    s, f"{level}:{version}", after_only=version != pin)
            rows.append({"level": level, "version": version,
                         "templates": sum(1 for s in templates if passes(s)),
                         "pods": sum(_pods_in(s) for s in pods if passes(s))})
    return {"templates": len(templates), "pods": sum(_pods_in(s) for s in pods), "rows": rows}


def _charts(plan: Plan, namespaces: list[Json], psps: list[Json]) -> Json:
    by_level = dict.fromkeys(LEVELS, 0)
    for ns in namespaces:
        by_level[str(ns["recommended"]["enforce"])] += 1
    psp_rows = [{"level": lv,
                 "mutating": sum(1 for p in psps if p["strict_level"] == lv and p["mutating"]),
                 "non_mutating": sum(1 for p in psps
                                     if p["strict_level"] == lv and not p["mutating"])}
                for lv in LEVELS]
    return {"namespaces_by_level": [{"level": lv, "count": n} for lv, n in by_level.items()],
            "passing": _passing(plan), "psps_by_level": psp_rows}


def _rollout(plan: Plan, namespaces: list[Json], cleanup: Json,
             blocked: bool) -> list[Json]:
    steps: list[Json] = []
    if blocked:
        steps.append({"id": "fix", "title": "Clear the blockers", "commands": [], "text": (
            "Fix or exempt every blocker listed above, then run the plan again: the rollout "
            "below assumes none is left.")})
    steps.append({"id": "audit", "title": "Phase 1: audit and warn",
                  "commands": _apply_lines(plan, "audit"), "text": (
        "Label every namespace with its audit and warn levels (enforce unchanged): the first "
        "line shows the changes, the second (--yes) makes them. Nothing is rejected; "
        "violations show up as warnings to whoever deploys and as audit annotations."
        + _unbound_note(plan))})
    checks = [
        _kubectl(plan, "label", "--dry-run=server", "--overwrite", "namespace", str(ns["name"]),
            f"pod-security.kubernetes.io/enforce={ns['recommended']['enforce']}",
            f"pod-security.kubernetes.io/enforce-version={ns['recommended']['enforce_version']}")
        for ns in namespaces if not ns["exempt"] and ns["recommended"]["enforce"] != "privileged"
    ]
    steps.append({"id": "watch", "title": "Watch audit and warnings", "commands": [
        _sh("migrator", "audit", "/var/log/kubernetes/audit/", "--plan", PLAN_FILE, "--since",
            "7d", "--out", "audit.json"),
        _kubectl(plan, "get", "--raw", "/metrics") + " | grep pod_security_evaluations_total",
        *checks], "text": (
        "Run a full release cycle (CronJobs included), then read the API server's audit logs "
        "with migrator audit: per namespace, the pod creations Pod Security judged, which "
        "violate the planned enforce level, by which workload and user. Also watch the "
        "warnings kubectl and CI print on deploys and the pod_security_evaluations_total "
        "metric. A server-side dry run of each enforce label lists the running pods it "
        "would reject.")})
    steps.append({"id": "enforce", "title": "Phase 2: enforce",
                  "commands": _apply_lines(plan, "enforce", "--evidence", "audit.json"),
                  "text": (
        "Set the enforce labels, pinned to the policy version of the plan "
        f"({plan['pin_version']}): the first line shows the changes, the second (--yes) "
        "makes them. With --evidence, namespaces whose audit evidence is not ready "
        "(violations, or no pod creation seen) are refused; with --yes it also stops if the "
        "server says running pods would be rejected.")})
    psp_api = plan["cluster"].get("psp_api")
    steps.append({"id": "disable-psp", "title": "Turn PodSecurityPolicy admission off",
                  "commands": [], "text": (
        "The server no longer serves PodSecurityPolicy: nothing to turn off."
        if psp_api is False else
        "Remove PodSecurityPolicy from the API server's --enable-admission-plugins (or "
        "upgrade to 1.25, which removes it) before deleting any PSP: while the admission "
        "plugin is on, deleting the PSPs stops every pod from being created.")})
    if cleanup["rbac_known"]:
        n_psps, n_edit = len(cleanup["psps"]), len(cleanup["edit"])
        n_roles = len(cleanup["cluster_roles"]) + len(cleanup["roles"])
        n_bindings = len(cleanup["cluster_role_bindings"]) + len(cleanup["role_bindings"])
        listed = (f"{count(n_psps, 'PodSecurityPolicy', 'PodSecurityPolicies')}, "
                  f"{count(n_roles, 'role')} that only grant PSP rights and "
                  f"{count(n_bindings, 'binding')} to them")
        text = f"Delete {listed}, in this order (bindings, roles, PSPs)."
        if cleanup["edit"]:
            text += (f" {count(n_edit, 'role')} also "
                     f"{'grants' if n_edit == 1 else 'grant'} other rights: remove only "
                     "their podsecuritypolicies rules.")
    else:
        text = ("Delete the PodSecurityPolicies below. This report was made from plan.json "
                "alone, which holds no RBAC objects: the ClusterRoles, Roles and bindings that "
                "grant `use` on them are not listed here; run `migrator report` on the "
                "manifests or the cluster to list them.")
    steps.append({"id": "cleanup", "title": "Remove the PSPs and their RBAC",
                  "commands": list(cleanup["commands"]), "text": text})
    return steps


# -- the report ---------------------------------------------------------------------------------


def build_report(
    plan: Plan,
    *,
    inventory: Inventory | None = None,
    helm: Mapping[str, Any] | None = None,
    generated_at: str | None = None,
    cluster_name: str | None = None,
    evidence: Mapping[str, Any] | None = None,
) -> Json:
    """The report of one cluster. `helm` is `HelmHistory.to_dict()` when it was read;
    `evidence` the audit evidence of `migrator audit --plan` (adds its section).

    Raises KeyError or TypeError when `plan` is not shaped as the schema says; callers turn
    that into a `migrator.errors.MigratorError`.
    """
    pin, target = str(plan["pin_version"]), str(plan["target_version"])
    namespaces = [_namespace(ns, pin, target)
                  for ns in sorted(plan["namespaces"], key=lambda n: str(n["name"]))]
    psps = _psps(plan)
    helm_view = _helm(helm)
    dry_run = _dry_run_summary(plan.get("server_dry_run"))
    residual = residual_view(plan, residual_files(plan, documents=False))
    blockers, warnings = _findings(plan, namespaces, psps, helm_view, dry_run, residual)
    evidence_view = _evidence(evidence) if evidence is not None else None
    if evidence_view is not None:
        blockers.extend(_evidence_findings(evidence_view))
    status, headline = _headline(blockers, warnings)
    blocking = _findings_per_namespace(blockers, BLOCKER_RULES)
    warning = _findings_per_namespace(warnings, RULES)
    for ns in namespaces:
        n_block, n_warn = blocking[str(ns["name"])], warning[str(ns["name"])]
        ns["blockers"], ns["warning_count"] = n_block, n_warn
        ns["status"] = BLOCKED if n_block else (WARNINGS if n_warn else READY)
    cleanup = rbac_cleanup(plan, inventory)
    cluster = plan["cluster"]
    levels = {lv: sum(1 for ns in namespaces if ns["recommended"]["enforce"] == lv)
              for lv in reversed(LEVELS)}
    passing = _passing(plan)
    versions = _versions(plan)
    subline = (
        f"{count(len(namespaces), 'namespace')}: "
        + ", ".join(f"{n} {lv}" for lv, n in levels.items())
        + f" · {count(passing['templates'], 'workload template')} and "
        + f"{count(passing['pods'], 'pod')} checked at {join(versions)}"
    )
    report: Json = {
        "schema": REPORT_SCHEMA,
        "generated_by": plan["generated_by"],
        "generated_at": generated_at,
        "cluster": {"name": cluster_name or _cluster_name(cluster.get("source")),
                    "source": cluster.get("source"),
                    "server_version": cluster.get("server_version"),
                    "psp_api": cluster.get("psp_api")},
        "pin_version": pin,
        "target_version": target,
        "versions": versions,
        "status": status,
        "headline": headline,
        "subline": subline,
        "counts": {
            "namespaces": len(namespaces),
            "blockers": len(blockers),
            "warnings": len(warnings),
            "psps": len(psps),
            "mutating_psps": sum(1 for p in psps if p["mutating"]),
            "templates": passing["templates"],
            "pods": passing["pods"],
        },
        "findings": {"blockers": blockers, "warnings": warnings},
        "lost_psp_defaults": _lost_defaults(namespaces),
        "servers": _servers(plan),
        "flips": plan_flips(plan),
        "charts": _charts(plan, namespaces, psps),
        "namespaces": namespaces,
        "psps": psps,
        "server_dry_run": dry_run,
        "helm": helm_view,
        "helm_fix": HELM_FIX,
        "cleanup": cleanup,
        "residual": residual,
        "rollout": _rollout(plan, namespaces, cleanup, status == BLOCKED),
        "unreadable": [dict(u) for u in plan["unreadable"]],
        "fail_on_rules": {k: list(v) for k, v in FAIL_ON_RULES.items()},
    }
    if evidence_view is not None:
        view = evidence_view
        report["evidence"] = view
        by_name = {row["name"]: row for row in view["namespaces"]}
        for ns in namespaces:
            ns["evidence"] = by_name.get(ns["name"])
    return report


def _evidence_findings(view: Json) -> list[Json]:
    """One blocker per workload (and user) still violating a planned level in the logs."""
    found = []
    for row in view["namespaces"]:
        if row["gate"] != "blocked":
            continue
        for v in row["violators"]:
            what = count(v["count"], "pod creation" if v.get("via") == "pod"
                         else "template write")
            found.append(_finding(
                "audit-violations", row["name"],
                f"{v['object']} by {v['user']}: {what} violating enforce {row['enforce']} "
                f"({', '.join(v.get('checks') or ())}), last {v.get('last') or '?'}"))
    return found


def _evidence(evidence: Mapping[str, Any]) -> Json:
    """The audit evidence (`migrator audit --plan --out`), for its section of the report."""
    window = evidence["window"]
    rows = []
    for ns in sorted(evidence["namespaces"], key=lambda n: str(n["name"])):
        if ns.get("gate") is None:
            continue  # not in the plan
        rows.append({
            "name": ns["name"], "anchor": anchor_of(str(ns["name"])),
            "enforce": ns["enforce"], "gate": ns["gate"], "text": gate_line(ns, window),
            "pod_creations": ns["pod_creations"],
            "violating_pod_creations": ns["violating_pod_creations"],
            "exempt": ns["exempt"], "dry_runs": ns["dry_runs"],
            "violators": [dict(v, text=violator_line(v)) for v in ns["violators"]],
        })
    counts = {gate: sum(1 for r in rows if r["gate"] == gate)
              for gate in ("ready", "blocked", "no-evidence")}
    candidates = [dict(c) for c in evidence.get("exemption_candidates") or ()]
    return {
        "window": dict(window),
        "span": span_of(window),
        "text": (f"Audit logs from {window.get('from') or '?'} to {window.get('until') or '?'}: "
                 f"{counts['ready']} ready, {counts['blocked']} blocked, "
                 f"{counts['no-evidence']} without evidence for their planned enforce level"
                 + (f"; {evidence['malformed_lines']:,} malformed lines skipped"
                    if evidence.get("malformed_lines") else "") + "."),
        "counts": counts,
        "namespaces": rows,
        "candidates": candidates,
        "commands": [_sh("migrator", "apply", "--plan", PLAN_FILE, "--phase", "enforce",
                         "--evidence", "audit.json")],
    }


def _lost_defaults(namespaces: list[Json]) -> list[Json]:
    """The workloads that will silently lose a PSP default: their pods get values from a
    PSP that their templates lack, and no generated patch makes them explicit."""
    return [{"namespace": ns["name"], "workload": lost["workload"], "psp": lost["psp"],
             "fields": list(lost["fields"]), "predicted": bool(lost["predicted"])}
            for ns in namespaces for lost in ns["lost_psp_defaults"] if not lost["patched"]]


def gate(report: Mapping[str, Any], fail_on: str | None) -> list[Json]:
    """The findings that fail `--fail-on fail_on` (empty: the gate passes)."""
    if fail_on is None:
        return []
    if fail_on not in FAIL_ON:
        raise ValueError(f"fail_on must be one of {', '.join(FAIL_ON)}")
    found = list(report["findings"]["blockers"])
    if fail_on == "warnings":
        found += report["findings"]["warnings"]
    return found
