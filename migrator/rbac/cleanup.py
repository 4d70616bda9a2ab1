"""The RBAC to remove with PodSecurityPolicy, pure: computed when a plan is made.

Owns `psp_rbac_cleanup(inventory)`: every PSP, the ClusterRoles and Roles whose rules only
concern PodSecurityPolicies (to delete), the bindings to them (to delete), and the roles that
grant PSP rights among others (to edit). The plan stores it as `rbac_cleanup`, so a report
made from plan.json alone names the same objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from migrator.model.inventory import Inventory, name_of, namespace_of

_PSP_GROUPS = frozenset({"policy", "extensions"})
_PSP_RESOURCE = "podsecuritypolicies"


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _rules(role: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    rules = role.get("rules")
    return [r for r in rules if isinstance(r, dict)] if isinstance(rules, list) else []


def _psp_only_rule(rule: Mapping[str, Any]) -> bool:
    """The rule is about PodSecurityPolicies and nothing else (no wildcard reaching further)."""
    groups, resources = set(_strings(rule.get("apiGroups"))), set(_strings(rule.get("resources")))
    return (not _strings(rule.get("nonResourceURLs")) and bool(groups) and groups <= _PSP_GROUPS
            and resources == {_PSP_RESOURCE})


def _names_psps(rule: Mapping[str, Any]) -> bool:
    return _PSP_RESOURCE in _strings(rule.get("resources"))


def _role_kind(role: Mapping[str, Any]) -> str:
    """`delete` for a role that only grants PSP rights, `edit` for one that also grants more."""
    rules = _rules(role)
    if not any(_names_psps(r) for r in rules):
        return ""
    if all(_psp_only_rule(r) for r in rules) and not role.get("aggregationRule"):
        return "delete"
    return "edit"


def psp_rbac_cleanup(inventory: Inventory) -> dict[str, Any]:
    """The objects to delete once Pod Security Admission enforces and PSP admission is off.

    Every PodSecurityPolicy, every ClusterRole and Role whose rules only concern
    PodSecurityPolicies, the bindings to them, and the roles that grant PSP rights among
    others (to edit, not delete). All sorted.
    """
    psps = sorted(name_of(p) for p in inventory.psps)
    result: dict[str, Any] = {"rbac_known": True, "psps": psps, "cluster_roles": [],
                              "roles": [], "cluster_role_bindings": [], "role_bindings": [],
                              "edit": []}
    deleted_cr: set[str] = set()
    deleted_r: set[tuple[str, str]] = set()
    for role in inventory.cluster_roles:
        kind = _role_kind(role)
        if kind == "delete":
            deleted_cr.add(name_of(role))
        elif kind == "edit":
            result["edit"].append({"kind": "ClusterRole", "namespace": None,
                                   "name": name_of(role)})
    for role in inventory.roles:
        kind = _role_kind(role)
        where = namespace_of(role) or "default"
        if kind == "delete":
            deleted_r.add((where, name_of(role)))
        elif kind == "edit":
            result["edit"].append({"kind": "Role", "namespace": where,
                                   "name": name_of(role)})
    crb, rb = set(), set()
    for binding in inventory.cluster_role_bindings:
        ref = binding.get("roleRef") or {}
        if ref.get("kind") == "ClusterRole" and ref.get("name") in deleted_cr:
            crb.add(name_of(binding))
    for binding in inventory.role_bindings:
        ref = binding.get("roleRef") or {}
        where = namespace_of(binding) or "default"
        if (ref.get("kind") == "ClusterRole" and ref.get("name") in deleted_cr) or (
                ref.get("kind") == "Role" and (where, ref.get("name")) in deleted_r):
            rb.add((where, name_of(binding)))
    result["cluster_roles"] = sorted(deleted_cr)
    result["roles"] = [{"namespace": n, "name": r} for n, r in sorted(deleted_r)]
    result["cluster_role_bindings"] = sorted(crb)
    result["role_bindings"] = [{"namespace": n, "name": b} for n, b in sorted(rb)]
    result["edit"].sort(key=lambda e: (e["kind"], e["namespace"] or "", e["name"]))
    return result
