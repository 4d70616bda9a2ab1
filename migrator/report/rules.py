"""The report's rules, pure: each kind of finding declared once.

Owns `Rule` (its ID, whether it blocks the upgrade or warns, its title, what it means in
words, and how the headline counts it) and `RULES`, the registry the report model, the
headline, the per-namespace status and the `--fail-on` gate all read. Adding a finding means
adding a rule here and producing it in `migrator.report.model`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["blocker", "warning"]
BLOCKER: Severity = "blocker"
WARNING: Severity = "warning"


@dataclass(frozen=True, slots=True)
class Rule:
    """One kind of finding."""

    id: str
    severity: Severity
    title: str
    #: what the rule fails on, in words (the README and `--help` quote these).
    description: str
    #: for blockers: how the headline counts them, (singular noun, the rest of the phrase).
    headline: tuple[str, str] = ("finding", "")


RULES: dict[str, Rule] = {rule.id: rule for rule in (
    Rule("enforce-rejects", BLOCKER, "Workloads the recommended enforce level would reject",
         "an active workload template or pod, in a namespace not exempt in the admission "
         "configuration, fails the namespace's recommended enforce level at its pinned "
         "enforce-version",
         ("active workload", "the recommended levels would reject")),
    Rule("rejected-today", BLOCKER, "Templates PodSecurityPolicy already rejects",
         "a workload template that no usable PodSecurityPolicy admits today (the plan's "
         "rejected_today)",
         ("workload template", "that PodSecurityPolicy already rejects")),
    Rule("server-disagreement", BLOCKER, "Offline and server verdicts disagree",
         "the API server's dry-run verdict on a namespace's existing pods differs from ours "
         "(only when the plan holds server_dry_run, from `migrator plan --server-dry-run`)",
         ("disagreement", "between offline and server verdicts")),
    Rule("helm-psp", BLOCKER, "Helm releases holding a PodSecurityPolicy",
         "the latest or deployed revision of a Helm release holds a PodSecurityPolicy (only "
         "with --helm-history)",
         ("Helm release", "still holding a PodSecurityPolicy")),
    Rule("audit-violations", BLOCKER, "Violations in the audit logs",
         "the audit evidence shows pod creations or workload writes that violate a "
         "namespace's planned enforce level (only with --evidence, from `migrator audit "
         "--plan`)",
         ("violating workload", "in the audit logs")),
    Rule("looser-than-psp", WARNING, "Looser than PodSecurityPolicy",
         "a namespace's recommended enforce level is looser than what its "
         "PodSecurityPolicies allowed in practice"),
    Rule("lowers-existing", WARNING, "Would lower a stricter label",
         "a namespace already enforces a stricter level than the plan recommends; `apply` "
         "keeps it unless --allow-lower is given"),
    Rule("mutation-only", WARNING, "Passing only thanks to PSP mutation",
         "a workload whose pods pass their level only because a PodSecurityPolicy mutated "
         "them"),
    Rule("lost-guarantee", WARNING, "PSP guarantees that will be lost",
         "a PodSecurityPolicy guarantee with no Pod Security equivalent"),
    Rule("target-rejects", WARNING, "New checks at the target version",
         "a workload that fails the recommended enforce level at the target policy version "
         "(new checks after an upgrade of enforce-version), or an inactive one that fails it "
         "at the pinned version"),
    Rule("flips-on-upgrade", WARNING, "Verdicts that flip across the upgrade",
         "a workload template whose strictest level differs between today's API server and "
         "the one after the upgrade (its pods rely on a seccomp or AppArmor annotation that "
         "only one of them turns into a field)"),
    Rule("server-refuses", BLOCKER, "Pods the API server refuses to create",
         "a workload template or pod that today's server or the upgraded one refuses as "
         "invalid (422) before Pod Security judges it, such as a seccomp or AppArmor "
         "annotation that disagrees with its field",
         ("workload", "whose pods the API server refuses")),
    Rule("helm-rollback", WARNING, "Helm history",
         "an older Helm revision holding a PodSecurityPolicy (a rollback to it fails after "
         "1.25), or Helm history that could not be read completely"),
    Rule("server-incomplete", WARNING, "Server dry run incomplete",
         "the server dry run checked only some of a namespace's pods, or failed for a "
         "namespace"),
    Rule("unreadable", WARNING, "Not read",
         "part of the cluster could not be read, so the plan may be incomplete"),
)}

BLOCKER_RULES = frozenset(r.id for r in RULES.values() if r.severity == BLOCKER)

#: `--fail-on` values, and the rules each fails on.
FAIL_ON = ("blockers", "warnings")


def fail_on_rules() -> dict[str, tuple[str, ...]]:
    """What each `--fail-on` value fails on, in words."""
    blockers = tuple(f"{r.id}: {r.description}" for r in RULES.values() if r.severity == BLOCKER)
    warnings = tuple(f"{r.id}: {r.description}" for r in RULES.values() if r.severity == WARNING)
    return {"blockers": blockers, "warnings": ("every blocker rule, and:", *warnings)}
