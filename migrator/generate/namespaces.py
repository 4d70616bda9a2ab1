"""Namespace manifests that set the Pod Security labels a plan recommends, in two phases.

Owns the Namespace files of `namespaces/`: phase 1 (`phase1-audit/`) sets only the audit
and warn labels with their versions, so violations are logged and shown but nothing is
rejected; phase 2 (`phase2-enforce/`) adds enforce with its pinned version. Each phase has a
kustomization listing its files. The files hold only `metadata.name` and the labels, so
applying them merges the labels onto the existing namespaces and changes nothing else.

Pure: a plan in, `{relative path: text}` out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from migrator.generate.admission import exemptions
from migrator.model.plan import Plan, PlanNamespace
from migrator.model.serialise import comment, dump_yaml
from migrator.pss.api import LABEL_PREFIX

PHASE1 = "phase1-audit"
PHASE2 = "phase2-enforce"
_WATCH = ("audit", "audit-version", "warn", "warn-version")
_ALL = ("audit", "audit-version", "enforce", "enforce-version", "warn", "warn-version")


def _labels(ns: PlanNamespace, keys: Sequence[str]) -> dict[str, str]:
    labels = ns["labels"]
    return {LABEL_PREFIX + k: str(labels[LABEL_PREFIX + k]) for k in keys
            if LABEL_PREFIX + k in labels}


def _manifest(name: str, labels: Mapping[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": dict(labels)}}


def _exempt_lines(ns: PlanNamespace, why: str) -> list[str]:
    return [f"Namespace {ns['name']} is exempt in the generated admission configuration, "
            f"admission-config.yaml: {why}.",
            "Pod Security does not check its pods: these labels are informational, and "
            "audit and warn record nothing."]


def _notes(ns: PlanNamespace, exempt: str | None = None) -> list[str]:
    rec = ns["recommended"]
    notes: list[str] = []
    if exempt is not None:
        return [n for n in ns.get("warnings") or () if not n.startswith("LOOSER")]
    if ns["after_patches"] != rec["enforce"]:
        notes.append(f"After the generated securityContext patches are rolled out, "
                     f"{ns['after_patches']} can be enforced here.")
    notes.extend(ns.get("warnings") or ())
    if ns.get("suggestion"):
        notes.append(str(ns["suggestion"]))
    if ns.get("exempt"):
        notes.append("Exempt in the admission configuration: these labels are informational.")
    return notes


def _watching(rec: Mapping[str, Any]) -> str:
    audit = f"{rec['audit']}:{rec['audit_version']}"
    warn = f"{rec['warn']}:{rec['warn_version']}"
    return audit if audit == warn else f"{audit} (audit) and {warn} (warn)"


def _enforcing(rec: Mapping[str, Any]) -> str:
    if rec["enforce"] == "privileged":
        return "enforce privileged, which rejects nothing"
    return (f"new pods that fail {rec['enforce']}:{rec['enforce_version']} are rejected; "
            "running pods stay")


def phase1(ns: PlanNamespace, exempt: str | None = None) -> str:
    """The watch-only Namespace file of one planned namespace (`exempt`: why the generated
    admission configuration exempts it, if it does)."""
    rec = ns["recommended"]
    if exempt is not None:
        lines = [f"Phase 1 for namespace {ns['name']}.", *_exempt_lines(ns, exempt),
                 *_notes(ns, exempt)]
        return comment(lines) + dump_yaml(_manifest(str(ns["name"]), _labels(ns, _WATCH)))
    lines = [
        f"Phase 1 (watch) for namespace {ns['name']}: audit and warn only; nothing is "
        "rejected yet.",
        f"Watching {_watching(rec)}: failing pods are recorded in the audit log, and "
        "creating one shows a warning.",
        f"Phase 2 enforces {rec['enforce']} at {rec['enforce_version']}.",
        *_notes(ns),
    ]
    return comment(lines) + dump_yaml(_manifest(str(ns["name"]), _labels(ns, _WATCH)))


def phase2(ns: PlanNamespace, exempt: str | None = None) -> str:
    """The enforcing Namespace file of one planned namespace (`exempt` as for `phase1`)."""
    rec = ns["recommended"]
    if exempt is not None:
        lines = [f"Phase 2 for namespace {ns['name']}.", *_exempt_lines(ns, exempt),
                 *_notes(ns, exempt)]
        return comment(lines) + dump_yaml(_manifest(str(ns["name"]), _labels(ns, _ALL)))
    lines = [
        f"Phase 2 (enforce) for namespace {ns['name']}: {_enforcing(rec)}.",
        f"audit and warn keep watching {_watching(rec)}.",
        *_notes(ns),
    ]
    return comment(lines) + dump_yaml(_manifest(str(ns["name"]), _labels(ns, _ALL)))


def _kustomization(phase: str, files: Sequence[str], how: Sequence[str],
                   extra: Sequence[str] = ()) -> str:
    body = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
            "resources": [*files, *extra]}
    lines = [f"{phase}: the Pod Security labels of every planned namespace.", *how]
    if extra:
        lines.append("It also creates the residual ValidatingAdmissionPolicies "
                     "(../../residual-policies) and binds them here.")
    return comment(lines) + dump_yaml(body)


def namespace_files(plan: Plan,
                    bindings: Mapping[str, Sequence[str]] | None = None) -> dict[str, str]:
    """Every file below `namespaces/`, keyed by relative path, sorted. `bindings` names the
    residual policy bindings of each phase folder, which its kustomization lists too."""
    bindings = bindings or {}

    def extra(phase: str) -> list[str]:
        found = list(bindings.get(phase) or ())
        return [*found, "../../residual-policies"] if found else []

    files: dict[str, str] = {}
    names: list[str] = []
    exempt = dict(exemptions(plan)["namespaces"])
    for ns in sorted(plan.get("namespaces") or (), key=lambda n: str(n["name"])):
        name = str(ns["name"])
        names.append(f"{name}.yaml")
        files[f"{PHASE1}/{name}.yaml"] = phase1(ns, exempt.get(name))
        files[f"{PHASE2}/{name}.yaml"] = phase2(ns, exempt.get(name))
    files[f"{PHASE1}/kustomization.yaml"] = _kustomization(PHASE1, names, (
        "Apply: kubectl apply --server-side -k namespaces/phase1-audit",
        "Only labels are set; the namespaces must already exist. Watch the warnings and the",
        "audit log (annotation pod-security.kubernetes.io/audit-violations) before phase 2.",
    ), extra(PHASE1))
    files[f"{PHASE2}/kustomization.yaml"] = _kustomization(PHASE2, names, (
        "Preview: kubectl apply --server-side --dry-run=server -k namespaces/phase2-enforce",
        "(the API server warns about running pods that the new enforce level would reject).",
        "Apply: kubectl apply --server-side -k namespaces/phase2-enforce",
    ), extra(PHASE2))
    return dict(sorted(files.items()))
