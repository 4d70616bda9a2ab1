"""Table tests for `migrator.rbac.access`: PSP `use` resolution, namespace editors, admitting PSPs."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from migrator.model.inventory import Inventory
from migrator.rbac.access import (
    Grant,
    admitted_by,
    creator_psps,
    effective_cluster_role_rules,
    namespace_editors,
    pod_psp_annotation,
    resolve_psp_access,
    rule_allows_namespace_edit,
    rule_allows_use,
    selector_matches,
)

Obj = dict[str, Any]

RECORDINGS = Path(__file__).resolve().parent / "data" / "apiserver" / "v1.24"

# --- object builders ------------------------------------------------------------------------


def meta(name: str, namespace: str | None = None, labels: dict[str, str] | None = None) -> Obj:
    out: Obj = {"name": name}
    if namespace is not None:
        out["namespace"] = namespace
    if labels:
        out["labels"] = labels
    return out


def psp(name: str) -> Obj:
    return {"apiVersion": "policy/v1beta1", "kind": "PodSecurityPolicy", "metadata": meta(name)}


def namespace(name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta(name)}


def service_account(ns: str, name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(name, ns)}


def use_rule(**overrides: Any) -> Obj:
    rule: Obj = {
        "apiGroups": ["policy"],
        "resources": ["podsecuritypolicies"],
        "verbs": ["use"],
        "resourceNames": ["restricted"],
    }
    rule.update(overrides)
    return {k: v for k, v in rule.items() if v is not None}


def edit_rule(**overrides: Any) -> Obj:
    rule: Obj = {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["patch"]}
    rule.update(overrides)
    return {k: v for k, v in rule.items() if v is not None}


def cluster_role(
    name: str,
    rules: list[Obj] | None = None,
    labels: dict[str, str] | None = None,
    selectors: list[Obj] | None = None,
) -> Obj:
    obj: Obj = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": meta(name, labels=labels),
    }
    if rules is not None:
        obj["rules"] = rules
    if selectors is not None:
        obj["aggregationRule"] = {"clusterRoleSelectors": selectors}
    return obj


def role(ns: str, name: str, rules: list[Obj]) -> Obj:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": meta(name, ns),
        "rules": rules,
    }


def role_ref(kind: str, name: str) -> Obj:
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name}


def role_binding(ns: str, name: str, kind: str, role_name: str, subjects: list[Obj]) -> Obj:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": meta(name, ns),
        "roleRef": role_ref(kind, role_name),
        "subjects": subjects,
    }


def cluster_role_binding(
    name: str, role_name: str, subjects: list[Obj], kind: str = "ClusterRole"
) -> Obj:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": meta(name),
        "roleRef": role_ref(kind, role_name),
        "subjects": subjects,
    }


def sa_subject(name: str, ns: str | None = None) -> Obj:
    out: Obj = {"kind": "ServiceAccount", "name": name}
    if ns is not None:
        out["namespace"] = ns
    return out


def group(name: str) -> Obj:
    return {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": name}


def user(name: str) -> Obj:
    return {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": name}


def pod(ns: str, name: str, sa: str | None = None, admitted: str | None = None) -> Obj:
    metadata = meta(name, ns)
    if admitted is not None:
        metadata["annotations"] = {"kubernetes.io/psp": admitted}
    spec: Obj = {"containers": [{"name": "app", "image": "app"}]}
    if sa is not None:
        spec["serviceAccountName"] = sa
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def inventory(*objects: Obj) -> Inventory:
    inv = Inventory()
    for obj in objects:
        assert inv.add(obj, "test"), obj
    return inv


BASE = (
    namespace("team-a"),
    namespace("team-b"),
    service_account("team-a", "builder"),
    service_account("team-b", "runner"),
    psp("restricted"),
    psp("privileged"),
)
PROBES = ("team-a/builder", "team-a/default", "team-b/runner", "team-b/default")


def usable_by_probe(*objects: Obj) -> dict[str, set[str]]:
    """PSPs usable by each probe service account; probes with none are left out."""
    access = resolve_psp_access(inventory(*BASE, *objects))
    out: dict[str, set[str]] = {}
    for probe in PROBES:
        ns, sa = probe.split("/")
        psps = set(access.by_namespace[ns].by_service_account[sa])
        if psps:
            out[probe] = psps
    return out


# --- rule matching --------------------------------------------------------------------------

RULE_CASES = [
    ("verb-use", use_rule(), True),
    ("verb-star", use_rule(verbs=["*"]), True),
    ("verb-get", use_rule(verbs=["get", "list"]), False),
    ("resource-psp", use_rule(resources=["podsecuritypolicies"]), True),
    ("resource-star", use_rule(resources=["*"]), True),
    ("resource-pods", use_rule(resources=["pods"]), False),
    ("resource-star-slash-star", use_rule(resources=["*/*"]), False),
    ("resource-subresource", use_rule(resources=["podsecuritypolicies/status"]), False),
    ("resource-capitalised", use_rule(resources=["PodSecurityPolicies"]), False),
    ("names-absent", use_rule(resourceNames=None), True),
    ("names-empty", use_rule(resourceNames=[]), True),
    ("names-present", use_rule(resourceNames=["privileged", "restricted"]), True),
    ("names-not-matching", use_rule(resourceNames=["privileged"]), False),
    ("names-star-is-literal", use_rule(resourceNames=["*"]), False),
    ("group-policy", use_rule(apiGroups=["policy"]), True),
    ("group-extensions", use_rule(apiGroups=["extensions"]), True),
    ("group-star", use_rule(apiGroups=["*"]), True),
    ("group-apps", use_rule(apiGroups=["apps"]), False),
    ("group-core", use_rule(apiGroups=[""]), False),
    ("all-stars", {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}, True),
    ("non-resource-url", {"nonResourceURLs": ["*"], "verbs": ["*"]}, False),
    ("empty-rule", {}, False),
]


@pytest.mark.parametrize(
    ("rule", "expected"), [c[1:] for c in RULE_CASES], ids=[c[0] for c in RULE_CASES]
)
def test_rule_allows_use(rule: Obj, expected: bool) -> None:
    assert rule_allows_use(rule, "restricted") is expected


# --- PSP use through bindings, roles and subjects -------------------------------------------

PSP_ROLE = cluster_role("psp:restricted", [use_rule()])
RA = "system:serviceaccounts:team-a"

ACCESS_CASES: list[tuple[str, list[Obj], dict[str, set[str]]]] = [
    (
        "rolebinding-to-role",
        [
            role("team-a", "psp-user", [use_rule()]),
            role_binding("team-a", "b", "Role", "psp-user", [sa_subject("builder", "team-a")]),
        ],
        {"team-a/builder": {"restricted"}},
    ),
    (
        "rolebinding-to-clusterrole",
        [PSP_ROLE, role_binding("team-a", "b", "ClusterRole", "psp:restricted", [group(RA)])],
        {"team-a/builder": {"restricted"}, "team-a/default": {"restricted"}},
    ),
    (
        "clusterrolebinding-to-clusterrole",
        [PSP_ROLE, cluster_role_binding("b", "psp:restricted", [sa_subject("runner", "team-b")])],
        {"team-b/runner": {"restricted"}},
    ),
    (
        "rolebinding-to-missing-role",
        [role_binding("team-a", "b", "Role", "nope", [group(RA)])],
        {},
    ),
    (
        "rolebinding-to-missing-clusterrole",
        [role_binding("team-a", "b", "ClusterRole", "nope", [group(RA)])],
        {},
    ),
    (
        "clusterrolebinding-to-role-kind",
        [
            role("team-a", "psp-user", [use_rule()]),
            cluster_role_binding("b", "psp-user", [group(RA)], kind="Role"),
        ],
        {},
    ),
    (
        "role-in-other-namespace-does-not-grant",
        [
            role("team-a", "psp-user", [use_rule()]),
            role_binding("team-b", "b", "Role", "psp-user", [group("system:serviceaccounts")]),
        ],
        {},
    ),
    (
        "aggregated-match-labels",
        [
            cluster_role("psp-all", [], selectors=[{"matchLabels": {"psp": "true"}}]),
            cluster_role("psp:priv", [use_rule(resourceNames=["privileged"])], {"psp": "true"}),
            cluster_role("psp:other", [use_rule()], {"psp": "false"}),
            cluster_role_binding("b", "psp-all", [sa_subject("builder", "team-a")]),
        ],
        {"team-a/builder": {"privileged"}},
    ),
    (
        "aggregated-match-expressions-in",
        [
            cluster_role(
                "psp-all",
                selectors=[
                    {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["x"]}]}
                ],
            ),
            cluster_role("psp:priv", [use_rule(resourceNames=["privileged"])], {"tier": "x"}),
            cluster_role("psp:other", [use_rule()], {"tier": "y"}),
            cluster_role_binding("b", "psp-all", [sa_subject("builder", "team-a")]),
        ],
        {"team-a/builder": {"privileged"}},
    ),
    (
        "aggregated-match-expressions-exists-and-notin",
        [
            cluster_role(
                "psp-all",
                selectors=[
                    {
                        "matchExpressions": [
                            {"key": "tier", "operator": "Exists"},
                            {"key": "tier", "operator": "NotIn", "values": ["y"]},
                        ]
                    }
                ],
            ),
            cluster_role("psp:priv", [use_rule(resourceNames=["privileged"])], {"tier": "x"}),
            cluster_role("psp:other", [use_rule()], {"tier": "y"}),
            cluster_role("psp:unlabelled", [use_rule(resourceNames=["zzz"])]),
            cluster_role_binding("b", "psp-all", [sa_subject("builder", "team-a")]),
        ],
        {"team-a/builder": {"privileged"}},
    ),
    (
        "aggregated-keeps-stored-rules",
        [
            cluster_role("psp-all", [use_rule()], selectors=[{"matchLabels": {"psp": "true"}}]),
            cluster_role("psp:priv", [use_rule(resourceNames=["privileged"])], {"psp": "true"}),
            cluster_role_binding("b", "psp-all", [sa_subject("builder", "team-a")]),
        ],
        {"team-a/builder": {"privileged", "restricted"}},
    ),
    (
        "verb-star",
        [
            cluster_role("r", [use_rule(verbs=["*"])]),
            cluster_role_binding("b", "r", [sa_subject("builder", "team-a")]),
        ],
        {"team-a/builder": {"restricted"}},
    ),
    (
        "verb-get-grants-nothing",
        [
            cluster_role("r", [use_rule(verbs=["get"])]),
            cluster_role_binding("b", "r", [sa_subject("builder", "team-a")]),
        ],
        {},
    ),
    (
        "resource-star",
        [
            cluster_role("r", [use_rule(resources=["*"])]),
            cluster_role_binding("b", "r", [sa_subject("builder", "team-a")]),
        ],
        {"team-a/builder": {"restricted"}},
    ),
    (
        "resource-pods-grants-nothing",
        [
            cluster_role("r", [use_rule(resources=["pods"])]),
            cluster_role_binding("b", "r", [sa_subject("builder", "team-a")]),
        ],
        {},
    ),
    (
        "resource-names-absent-grants-every-psp",
        [
            cluster_role("r", [use_rule(resourceNames=None)]),
            cluster_role_binding("b", "r", [sa_subject("builder", "team-a")]),
        ],
        {"team-a/builder": {"privileged", "restricted"}},
    ),
    (
        "resource-names-present",
        [
            cluster_role("r", [use_rule(resourceNames=["privileged"])]),
            cluster_role_binding("b", "r", [sa_subject("builder", "team-a")]),
        ],
        {"team-a/builder": {"privileged"}},
    ),
    (
        "resource-names-not-matching-an-existing-psp",
        [
            cluster_role("r", [use_rule(resourceNames=["gone"])]),
            cluster_role_binding("b", "r", [sa_subject("builder", "team-a")]),
        ],
        {"team-a/builder": {"gone"}},
    ),
    (
        "group-extensions",
        [
            cluster_role("r", [use_rule(apiGroups=["extensions"])]),
            cluster_role_binding("b", "r", [sa_subject("builder", "team-a")]),
        ],
        {"team-a/builder": {"restricted"}},
    ),
    (
        "group-star",
        [
            cluster_role("r", [use_rule(apiGroups=["*"])]),
            cluster_role_binding("b", "r", [sa_subject("builder", "team-a")]),
        ],
        {"team-a/builder": {"restricted"}},
    ),
    (
        "group-apps-grants-nothing",
        [
            cluster_role("r", [use_rule(apiGroups=["apps"])]),
            cluster_role_binding("b", "r", [sa_subject("builder", "team-a")]),
        ],
        {},
    ),
    (
        "subject-sa-with-namespace",
        [
            PSP_ROLE,
            role_binding(
                "team-a", "b", "ClusterRole", "psp:restricted", [sa_subject("builder", "team-a")]
            ),
        ],
        {"team-a/builder": {"restricted"}},
    ),
    (
        "subject-sa-without-namespace-means-binding-namespace",
        [
            PSP_ROLE,
            role_binding("team-b", "b", "ClusterRole", "psp:restricted", [sa_subject("runner")]),
        ],
        {"team-b/runner": {"restricted"}},
    ),
    (
        "subject-sa-of-other-namespace-in-rolebinding-covers-no-pod",
        [
            PSP_ROLE,
            role_binding(
                "team-b", "b", "ClusterRole", "psp:restricted", [sa_subject("builder", "team-a")]
            ),
        ],
        {},
    ),
    (
        "subject-user-named-like-a-service-account",
        [
            PSP_ROLE,
            cluster_role_binding(
                "b", "psp:restricted", [user("system:serviceaccount:team-b:runner")]
            ),
        ],
        {"team-b/runner": {"restricted"}},
    ),
    (
        "group-all-service-accounts-via-clusterrolebinding",
        [PSP_ROLE, cluster_role_binding("b", "psp:restricted", [group("system:serviceaccounts")])],
        {probe: {"restricted"} for probe in PROBES},
    ),
    (
        "group-all-service-accounts-via-rolebinding-stays-in-namespace",
        [
            PSP_ROLE,
            role_binding(
                "team-b", "b", "ClusterRole", "psp:restricted", [group("system:serviceaccounts")]
            ),
        ],
        {"team-b/runner": {"restricted"}, "team-b/default": {"restricted"}},
    ),
    (
        "group-service-accounts-of-one-namespace-only",
        [
            PSP_ROLE,
            cluster_role_binding("b", "psp:restricted", [group("system:serviceaccounts:team-b")]),
        ],
        {"team-b/runner": {"restricted"}, "team-b/default": {"restricted"}},
    ),
    (
        "group-service-accounts-of-other-namespace-in-rolebinding-covers-no-pod",
        [PSP_ROLE, role_binding("team-b", "b", "ClusterRole", "psp:restricted", [group(RA)])],
        {},
    ),
    (
        "group-authenticated-every-namespace",
        [PSP_ROLE, cluster_role_binding("b", "psp:restricted", [group("system:authenticated")])],
        {probe: {"restricted"} for probe in PROBES},
    ),
    (
        "group-unauthenticated-covers-no-pod",
        [PSP_ROLE, cluster_role_binding("b", "psp:restricted", [group("system:unauthenticated")])],
        {},
    ),
    (
        "user-covers-no-pod",
        [PSP_ROLE, cluster_role_binding("b", "psp:restricted", [user("alice")])],
        {},
    ),
    (
        "other-group-covers-no-pod",
        [PSP_ROLE, cluster_role_binding("b", "psp:restricted", [group("devs")])],
        {},
    ),
]


@pytest.mark.parametrize(
    ("objects", "expected"), [c[1:] for c in ACCESS_CASES], ids=[c[0] for c in ACCESS_CASES]
)
def test_psp_use_by_service_account(objects: list[Obj], expected: dict[str, set[str]]) -> None:
    assert usable_by_probe(*objects) == expected


@pytest.mark.parametrize(
    ("objects", "expected"), [c[1:] for c in ACCESS_CASES], ids=[c[0] for c in ACCESS_CASES]
)
def test_usable_is_union_of_service_accounts(
    objects: list[Obj], expected: dict[str, set[str]]
) -> None:
    access = resolve_psp_access(inventory(*BASE, *objects))
    for ns_access in access.by_namespace.values():
        union = {p for grants in ns_access.by_service_account.values() for p in grants}
        assert set(ns_access.usable) == union
        for psp_name, grants in ns_access.usable.items():
            assert grants and all(g.psp == psp_name for g in grants)


# --- grant details: scope, flags, cluster-wide ----------------------------------------------

SCOPE_CASES = [
    (
        "sa",
        cluster_role_binding("b", "psp:restricted", [sa_subject("builder", "team-a")]),
        "team-a",
        "service account team-a/builder",
        False,
    ),
    (
        "ns-group",
        role_binding("team-a", "b", "ClusterRole", "psp:restricted", [group(RA)]),
        "team-a",
        "all service accounts in namespace team-a",
        False,
    ),
    (
        "all-sa-rolebinding",
        role_binding(
            "team-a", "b", "ClusterRole", "psp:restricted", [group("system:serviceaccounts")]
        ),
        "team-a",
        "all service accounts in namespace team-a",
        False,
    ),
    (
        "all-sa",
        cluster_role_binding("b", "psp:restricted", [group("system:serviceaccounts")]),
        "team-b",
        "all service accounts in every namespace",
        False,
    ),
    (
        "authenticated",
        cluster_role_binding("b", "psp:restricted", [group("system:authenticated")]),
        "team-b",
        "all authenticated users in every namespace",
        True,
    ),
    (
        "authenticated-rolebinding",
        role_binding(
            "team-b", "b", "ClusterRole", "psp:restricted", [group("system:authenticated")]
        ),
        "team-b",
        "all authenticated users in namespace team-b",
        True,
    ),
]


@pytest.mark.parametrize(
    ("binding", "ns", "scope", "all_authenticated"),
    [c[1:] for c in SCOPE_CASES],
    ids=[c[0] for c in SCOPE_CASES],
)
def test_grant_scope(binding: Obj, ns: str, scope: str, all_authenticated: bool) -> None:
    access = resolve_psp_access(inventory(*BASE, PSP_ROLE, binding))
    (grant,) = access.by_namespace[ns].usable["restricted"]
    assert grant.scope == scope
    assert grant.all_authenticated is all_authenticated
    assert grant.psp_exists
    assert grant.role_kind == "ClusterRole" and grant.role_name == "psp:restricted"


CLUSTER_WIDE_CASES = [
    ("authenticated", group("system:authenticated"), True),
    ("all-service-accounts", group("system:serviceaccounts"), True),
    ("one-namespace", group(RA), False),
    ("one-service-account", sa_subject("builder", "team-a"), False),
]


@pytest.mark.parametrize(
    ("subject", "cluster_wide"),
    [c[1:] for c in CLUSTER_WIDE_CASES],
    ids=[c[0] for c in CLUSTER_WIDE_CASES],
)
def test_cluster_wide(subject: Obj, cluster_wide: bool) -> None:
    access = resolve_psp_access(
        inventory(*BASE, PSP_ROLE, cluster_role_binding("b", "psp:restricted", [subject]))
    )
    assert ("restricted" in access.cluster_wide) is cluster_wide
    for ns_access in access.by_namespace.values():
        assert ("restricted" in ns_access.cluster_wide) is cluster_wide
        if cluster_wide:
            assert "restricted" in ns_access.usable


def test_cluster_wide_reaches_namespaces_known_only_from_pods() -> None:
    access = resolve_psp_access(
        inventory(
            PSP_ROLE,
            psp("restricted"),
            cluster_role_binding("b", "psp:restricted", [group("system:authenticated")]),
            pod("lonely", "p", sa="worker"),
        )
    )
    assert set(access.by_namespace["lonely"].by_service_account) == {"default", "worker"}
    assert set(access.by_namespace["lonely"].by_service_account["worker"]) == {"restricted"}


# --- users and groups who may create pods directly ------------------------------------------

USER_CASES = [
    (
        "user",
        cluster_role_binding("b", "psp:restricted", [user("alice")]),
        ("User", "alice", "user alice creating pods in every namespace", False),
    ),
    (
        "group",
        role_binding("team-a", "b", "ClusterRole", "psp:restricted", [group("devs")]),
        ("Group", "devs", "group devs creating pods in namespace team-a", False),
    ),
    (
        "authenticated",
        cluster_role_binding("b", "psp:restricted", [group("system:authenticated")]),
        (
            "Group",
            "system:authenticated",
            "all authenticated users creating pods in every namespace",
            True,
        ),
    ),
    (
        "unauthenticated",
        cluster_role_binding("b", "psp:restricted", [group("system:unauthenticated")]),
        (
            "Group",
            "system:unauthenticated",
            "unauthenticated requests creating pods in every namespace "
            "(no effect on service accounts' pods)",
            False,
        ),
    ),
    (
        "sa-cluster-wide",
        cluster_role_binding("b", "psp:restricted", [sa_subject("builder", "team-a")]),
        (
            "ServiceAccount",
            "builder",
            "service account team-a/builder creating pods in every namespace",
            False,
        ),
    ),
    (
        "sa-other-namespace",
        role_binding(
            "team-b", "b", "ClusterRole", "psp:restricted", [sa_subject("builder", "team-a")]
        ),
        (
            "ServiceAccount",
            "builder",
            "service account team-a/builder creating pods in namespace team-b",
            False,
        ),
    ),
    (
        "controllers",
        cluster_role_binding("b", "psp:restricted", [group("system:serviceaccounts:kube-system")]),
        (
            "Group",
            "system:serviceaccounts:kube-system",
            "service accounts of namespace kube-system creating pods in every namespace "
            "(includes the controllers that create pods for Deployments, Jobs and others)",
            False,
        ),
    ),
]


@pytest.mark.parametrize(
    ("binding", "expected"), [c[1:] for c in USER_CASES], ids=[c[0] for c in USER_CASES]
)
def test_user_grants(binding: Obj, expected: tuple[str, str, str, bool]) -> None:
    access = resolve_psp_access(inventory(*BASE, PSP_ROLE, binding))
    assert [
        (g.subject_kind, g.subject_name, g.scope, g.all_authenticated) for g in access.user_grants
    ] == [expected]
    assert all(g.psp == "restricted" for g in access.user_grants)


NO_USER_GRANT_CASES = [
    (
        "sa-own-namespace",
        role_binding("team-a", "b", "ClusterRole", "psp:restricted", [sa_subject("builder")]),
    ),
    (
        "ns-group-own-namespace",
        role_binding("team-a", "b", "ClusterRole", "psp:restricted", [group(RA)]),
    ),
    (
        "all-service-accounts",
        cluster_role_binding("b", "psp:restricted", [group("system:serviceaccounts")]),
    ),
]


@pytest.mark.parametrize(
    "binding", [c[1] for c in NO_USER_GRANT_CASES], ids=[c[0] for c in NO_USER_GRANT_CASES]
)
def test_no_user_grants(binding: Obj) -> None:
    assert resolve_psp_access(inventory(*BASE, PSP_ROLE, binding)).user_grants == []


# --- dangling bindings ----------------------------------------------------------------------

DANGLING_CASES = [
    (
        "missing-role",
        role_binding("team-a", "b", "Role", "nope", [group(RA)]),
        "RoleBinding team-a/b: Role nope in namespace team-a not found; it grants nothing",
    ),
    (
        "missing-clusterrole",
        cluster_role_binding("b", "nope", [group(RA)]),
        "ClusterRoleBinding b: ClusterRole nope not found; it grants nothing",
    ),
    (
        "clusterrolebinding-to-role",
        cluster_role_binding("b", "psp:restricted", [group(RA)], kind="Role"),
        "ClusterRoleBinding b: roleRef kind 'Role' cannot be resolved; it grants nothing",
    ),
    (
        "missing-psp",
        cluster_role_binding("b", "gone", [group(RA)]),
        "ClusterRoleBinding b: ClusterRole gone grants use of PodSecurityPolicy 'gone', "
        "which is not in the inventory",
    ),
    (
        "sa-without-namespace-in-clusterrolebinding",
        cluster_role_binding("b", "psp:restricted", [sa_subject("builder")]),
        "ClusterRoleBinding b: subject ServiceAccount builder cannot be resolved",
    ),
]


@pytest.mark.parametrize(
    ("binding", "message"), [c[1:] for c in DANGLING_CASES], ids=[c[0] for c in DANGLING_CASES]
)
def test_dangling(binding: Obj, message: str) -> None:
    gone = cluster_role("gone", [use_rule(resourceNames=["gone"])])
    access = resolve_psp_access(inventory(*BASE, PSP_ROLE, gone, binding))
    assert access.dangling == [message]


def test_missing_psp_grant_is_listed_and_marked() -> None:
    access = resolve_psp_access(
        inventory(
            *BASE,
            cluster_role("gone", [use_rule(resourceNames=["gone"])]),
            cluster_role_binding("b", "gone", [group(RA)]),
        )
    )
    (grant,) = access.by_namespace["team-a"].usable["gone"]
    assert grant.psp_exists is False


def test_wildcard_names_grant_only_inventory_psps() -> None:
    access = resolve_psp_access(
        inventory(
            namespace("team-a"),
            cluster_role("r", [use_rule(resourceNames=None)]),
            cluster_role_binding("b", "r", [group(RA)]),
        )
    )
    assert access.by_namespace["team-a"].usable == {}
    assert access.dangling == []


# --- service accounts listed per namespace --------------------------------------------------


def test_service_accounts_per_namespace() -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta("web", "team-a"),
        "spec": {"template": {"spec": {"serviceAccountName": "web-sa", "containers": []}}},
    }
    cronjob = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": meta("nightly", "team-a"),
        "spec": {"jobTemplate": {"spec": {"template": {"spec": {"serviceAccount": "old-sa"}}}}},
    }
    access = resolve_psp_access(
        inventory(
            *BASE,
            deployment,
            cronjob,
            pod("team-a", "p1", sa="pod-sa"),
            pod("team-a", "p2"),
            PSP_ROLE,
            role_binding(
                "team-a", "b", "ClusterRole", "psp:restricted", [sa_subject("bound-only")]
            ),
        )
    )
    assert list(access.by_namespace["team-a"].by_service_account) == [
        "bound-only",
        "builder",
        "default",
        "old-sa",
        "pod-sa",
        "web-sa",
    ]
    assert list(access.by_namespace["team-b"].by_service_account) == ["default", "runner"]


def test_namespaces_of_bindings_and_subjects_are_covered() -> None:
    access = resolve_psp_access(
        inventory(
            PSP_ROLE,
            role_binding("only-binding", "b", "ClusterRole", "psp:restricted", [group("x")]),
            cluster_role_binding("c", "psp:restricted", [sa_subject("agent", "infra")]),
        )
    )
    assert list(access.by_namespace) == ["infra", "only-binding"]
    assert set(access.by_namespace["infra"].by_service_account["agent"]) == {"restricted"}


# --- aggregation ----------------------------------------------------------------------------


def test_aggregation_cycle_terminates_and_unions() -> None:
    rules = effective_cluster_role_rules(
        [
            cluster_role(
                "a", [use_rule(resourceNames=["a"])], {"agg": "a"}, [{"matchLabels": {"agg": "b"}}]
            ),
            cluster_role(
                "b", [use_rule(resourceNames=["b"])], {"agg": "b"}, [{"matchLabels": {"agg": "a"}}]
            ),
        ]
    )
    assert [r["resourceNames"] for r in rules["a"]] == [["a"], ["b"]]
    assert [r["resourceNames"] for r in rules["b"]] == [["b"], ["a"]]


def test_aggregation_is_transitive() -> None:
    rules = effective_cluster_role_rules(
        [
            cluster_role("top", selectors=[{"matchLabels": {"level": "mid"}}]),
            cluster_role("mid", [], {"level": "mid"}, [{"matchLabels": {"level": "leaf"}}]),
            cluster_role("leaf", [use_rule()], {"level": "leaf"}),
        ]
    )
    assert rules["top"] == [use_rule()]


SELECTOR_CASES = [
    ("match-labels", {"matchLabels": {"a": "1"}}, {"a": "1", "b": "2"}, True),
    ("match-labels-wrong-value", {"matchLabels": {"a": "1"}}, {"a": "2"}, False),
    (
        "in",
        {"matchExpressions": [{"key": "a", "operator": "In", "values": ["1", "2"]}]},
        {"a": "2"},
        True,
    ),
    (
        "in-absent",
        {"matchExpressions": [{"key": "a", "operator": "In", "values": ["1"]}]},
        {},
        False,
    ),
    (
        "notin",
        {"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]},
        {"a": "2"},
        True,
    ),
    (
        "notin-absent",
        {"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]},
        {},
        True,
    ),
    (
        "notin-listed",
        {"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]},
        {"a": "1"},
        False,
    ),
    ("exists", {"matchExpressions": [{"key": "a", "operator": "Exists"}]}, {"a": ""}, True),
    ("exists-absent", {"matchExpressions": [{"key": "a", "operator": "Exists"}]}, {}, False),
    ("does-not-exist", {"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}, {}, True),
    (
        "does-not-exist-present",
        {"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]},
        {"a": "1"},
        False,
    ),
    ("unknown-operator", {"matchExpressions": [{"key": "a", "operator": "Gt"}]}, {"a": "1"}, False),
    (
        "labels-and-expressions-both-needed",
        {"matchLabels": {"a": "1"}, "matchExpressions": [{"key": "b", "operator": "Exists"}]},
        {"a": "1"},
        False,
    ),
    ("empty-selects-all", {}, {"a": "1"}, True),
    ("null-selects-nothing", None, {"a": "1"}, False),
]


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [c[1:] for c in SELECTOR_CASES],
    ids=[c[0] for c in SELECTOR_CASES],
)
def test_selector_matches(selector: Any, labels: dict[str, str], expected: bool) -> None:
    assert selector_matches(selector, labels) is expected


# --- namespace editors ----------------------------------------------------------------------

EDIT_RULE_CASES = [
    ("patch", edit_rule(), "team-a", True),
    ("update", edit_rule(verbs=["update"]), "team-a", True),
    ("verb-star", edit_rule(verbs=["*"]), "team-a", True),
    ("get", edit_rule(verbs=["get", "list", "watch"]), "team-a", False),
    ("resource-star", edit_rule(resources=["*"]), "team-a", True),
    ("status-subresource", edit_rule(resources=["namespaces/status"]), "team-a", False),
    ("group-star", edit_rule(apiGroups=["*"]), "team-a", True),
    ("group-apps", edit_rule(apiGroups=["apps"]), "team-a", False),
    ("names-matching", edit_rule(resourceNames=["team-a"]), "team-a", True),
    ("names-other", edit_rule(resourceNames=["team-b"]), "team-a", False),
]


@pytest.mark.parametrize(
    ("rule", "ns", "expected"),
    [c[1:] for c in EDIT_RULE_CASES],
    ids=[c[0] for c in EDIT_RULE_CASES],
)
def test_rule_allows_namespace_edit(rule: Obj, ns: str, expected: bool) -> None:
    assert rule_allows_namespace_edit(rule, ns) is expected


EditorView = tuple[str, str, tuple[str, ...], bool, tuple[str, ...], bool]

EDITOR_CASES: list[tuple[str, list[Obj], list[EditorView]]] = [
    (
        "clusterrolebinding-patch",
        [
            cluster_role("ns-edit", [edit_rule()]),
            cluster_role_binding("b", "ns-edit", [user("alice")]),
        ],
        [("User", "alice", ("patch",), True, (), False)],
    ),
    (
        "clusterrolebinding-update",
        [
            cluster_role("ns-edit", [edit_rule(verbs=["get", "update"])]),
            cluster_role_binding("b", "ns-edit", [group("ops")]),
        ],
        [("Group", "ops", ("update",), True, (), False)],
    ),
    (
        "clusterrolebinding-star-system-masters",
        [
            cluster_role(
                "cluster-admin", [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]
            ),
            cluster_role_binding("cluster-admin", "cluster-admin", [group("system:masters")]),
        ],
        [("Group", "system:masters", ("*",), True, (), True)],
    ),
    (
        "clusterrolebinding-with-resource-names",
        [
            cluster_role("ns-edit", [edit_rule(resourceNames=["team-b", "team-a"])]),
            cluster_role_binding("b", "ns-edit", [user("alice")]),
        ],
        [("User", "alice", ("patch",), False, ("team-a", "team-b"), False)],
    ),
    (
        "clusterrolebinding-get-only",
        [
            cluster_role("ns-view", [edit_rule(verbs=["get"])]),
            cluster_role_binding("b", "ns-view", [user("alice")]),
        ],
        [],
    ),
    (
        "rolebinding-with-resource-names-own-namespace",
        [
            cluster_role("ns-edit", [edit_rule(resourceNames=["team-a"])]),
            role_binding("team-a", "b", "ClusterRole", "ns-edit", [sa_subject("builder")]),
        ],
        [("ServiceAccount", "builder", ("patch",), False, ("team-a",), False)],
    ),
    (
        "rolebinding-with-resource-names-other-namespace",
        [
            cluster_role("ns-edit", [edit_rule(resourceNames=["team-b"])]),
            role_binding("team-a", "b", "ClusterRole", "ns-edit", [sa_subject("builder")]),
        ],
        [],
    ),
    (
        "rolebinding-to-role-without-names",
        [
            role("team-b", "ns-edit", [edit_rule(verbs=["update", "patch"])]),
            role_binding("team-b", "b", "Role", "ns-edit", [user("bob")]),
        ],
        [("User", "bob", ("patch", "update"), False, ("team-b",), False)],
    ),
    (
        "system-subject-sorted-last",
        [
            cluster_role("ns-edit", [edit_rule()]),
            cluster_role_binding(
                "b", "ns-edit", [user("system:kube-controller-manager"), user("zed")]
            ),
        ],
        [
            ("User", "zed", ("patch",), True, (), False),
            ("User", "system:kube-controller-manager", ("patch",), True, (), True),
        ],
    ),
]


@pytest.mark.parametrize(
    ("objects", "expected"), [c[1:] for c in EDITOR_CASES], ids=[c[0] for c in EDITOR_CASES]
)
def test_namespace_editors(objects: list[Obj], expected: list[EditorView]) -> None:
    editors = namespace_editors(inventory(*BASE, *objects))
    assert [
        (e.subject_kind, e.subject_name, e.verbs, e.all_namespaces, e.namespaces, e.system)
        for e in editors
    ] == expected


def test_editor_records_binding_and_role() -> None:
    (editor,) = namespace_editors(
        inventory(
            cluster_role("ns-edit", [edit_rule()]),
            role_binding(
                "team-a", "edit-own-ns", "ClusterRole", "ns-edit", [sa_subject("builder")]
            ),
        )
    )
    assert editor.to_dict() == {
        "subject_kind": "ServiceAccount",
        "subject_name": "builder",
        "subject_namespace": "team-a",
        "verbs": ["patch"],
        "binding_kind": "RoleBinding",
        "binding_namespace": "team-a",
        "binding_name": "edit-own-ns",
        "role_kind": "ClusterRole",
        "role_name": "ns-edit",
        "all_namespaces": False,
        "namespaces": ["team-a"],
        "system": False,
    }


# --- admitting PSP of running pods ----------------------------------------------------------

ANNOTATION_CASES = [
    ("annotated", pod("a", "p", admitted="restricted"), "restricted"),
    ("not-annotated", pod("a", "p"), None),
    ("no-metadata", {"kind": "Pod"}, None),
    ("other-annotations", {"kind": "Pod", "metadata": {"annotations": {"x": "y"}}}, None),
]


@pytest.mark.parametrize(
    ("obj", "expected"), [c[1:] for c in ANNOTATION_CASES], ids=[c[0] for c in ANNOTATION_CASES]
)
def test_pod_psp_annotation(obj: Obj, expected: str | None) -> None:
    assert pod_psp_annotation(obj) == expected


def test_admitted_by() -> None:
    counts = admitted_by(
        inventory(
            namespace("empty"),
            pod("a", "p1", admitted="restricted"),
            pod("a", "p2", admitted="restricted"),
            pod("a", "p3", admitted="privileged"),
            pod("a", "p4"),
            pod("b", "p5", admitted="privileged"),
        )
    )
    assert counts == {
        "a": Counter({"restricted": 2, "privileged": 1, "": 1}),
        "b": Counter({"privileged": 1}),
        "empty": Counter(),
    }


# --- JSON output ----------------------------------------------------------------------------


def test_to_dict_is_json_and_deterministic() -> None:
    objects = [
        PSP_ROLE,
        cluster_role_binding("z", "psp:restricted", [group("system:authenticated")]),
        role_binding("team-a", "a", "ClusterRole", "psp:restricted", [group(RA), user("u")]),
        cluster_role_binding("m", "missing", [user("u")]),
    ]
    first = json.dumps(resolve_psp_access(inventory(*BASE, *objects)).to_dict())
    second = json.dumps(resolve_psp_access(inventory(*BASE, *reversed(objects))).to_dict())
    assert first == second
    data = json.loads(first)
    assert list(data) == ["by_namespace", "cluster_wide", "user_grants", "dangling"]
    grants = data["by_namespace"]["team-a"]["usable"]["restricted"]
    assert [(g["binding_kind"], g["binding_name"]) for g in grants] == [
        ("ClusterRoleBinding", "z"),
        ("RoleBinding", "a"),
    ]
    assert set(grants[0]) == set(Grant.__dataclass_fields__)


# --- real API server recordings -------------------------------------------------------------


def _recorded_objects() -> list[Obj]:
    objects: list[Obj] = []
    for path in sorted(RECORDINGS.glob("*.json")):
        body = json.loads(path.read_text())["response"]["body"]
        if not isinstance(body, dict):
            continue
        kind = str(body.get("kind", ""))
        if kind.endswith("List") and isinstance(body.get("items"), list):
            # List items come without kind and apiVersion, as the API server serves them.
            objects += [{"kind": kind[: -len("List")], **item} for item in body["items"]]
        else:
            objects.append(body)
    return objects


@pytest.mark.skipif(not RECORDINGS.is_dir(), reason="no API server recordings")
def test_real_recordings() -> None:
    inv = Inventory()
    for obj in _recorded_objects():
        inv.add(obj, "recording")
    access = resolve_psp_access(inv)

    team_a = access.by_namespace["team-a"]
    assert set(team_a.usable) == {"restricted-mutating"}
    (grant,) = team_a.usable["restricted-mutating"]
    assert (grant.binding_kind, grant.binding_namespace, grant.binding_name) == (
        "RoleBinding",
        "team-a",
        "psp-restricted",
    )
    assert (grant.role_kind, grant.role_name) == ("ClusterRole", "psp:restricted")
    assert grant.scope == "all service accounts in namespace team-a"
    assert grant.psp_exists
    for sa in ("default", "deployer"):
        assert set(team_a.by_service_account[sa]) == {"restricted-mutating"}

    (agent,) = access.by_namespace["infra"].by_service_account["node-agent"]["privileged"]
    assert (agent.binding_kind, agent.binding_name) == (
        "ClusterRoleBinding",
        "psp-privileged-node-agent",
    )
    assert agent.psp_exists
    assert set(access.by_namespace["infra"].by_service_account["default"]) == set()
    assert access.cluster_wide == {}
    assert access.dangling == [
        "RoleBinding team-a/deployer-pod-creator: Role pod-creator in namespace team-a "
        "not found; it grants nothing"
    ]
    assert admitted_by(inv)["team-a"] == Counter(
        {"privileged": 1, "baseline-ish": 1, "restricted-mutating": 1}
    )


# --- the identities that create a workload's pods ----------------------------------------------


def _creator_inventory(*bindings: Obj) -> Inventory:
    roles = [cluster_role(f"use-{n}", [use_rule(resourceNames=[n])])
             for n in ("restricted", "privileged", "agents", "legacy")]
    return inventory(namespace("app"), namespace("kube-system"),
                     *(psp(n) for n in ("restricted", "privileged", "agents", "legacy")),
                     *roles, *bindings)


CREATOR_BINDINGS = (
    role_binding("app", "pods", "ClusterRole", "use-restricted", [sa_subject("default")]),
    cluster_role_binding("rs-controller", "use-privileged",
                         [sa_subject("replicaset-controller", "kube-system")]),
    role_binding("app", "agents", "ClusterRole", "use-agents",
                 [group("system:serviceaccounts:kube-system")]),
    cluster_role_binding("kcm", "use-legacy", [user("system:kube-controller-manager")]),
)


@pytest.mark.parametrize(("kind", "expected"), [
    ("Pod", {"restricted"}),
    ("Deployment", {"restricted", "privileged", "agents", "legacy"}),
    ("ReplicaSet", {"restricted", "privileged", "agents", "legacy"}),
    ("DaemonSet", {"restricted", "agents", "legacy"}),
    ("CronJob", {"restricted", "agents", "legacy"}),
])
def test_creator_psps_add_the_controller_that_creates_the_pods(
        kind: str, expected: set[str]) -> None:
    access = resolve_psp_access(_creator_inventory(*CREATOR_BINDINGS))
    found = creator_psps(access, "app", kind, "default")
    assert set(found) == expected
    assert found["restricted"] == "service account app/default"
    if kind == "Deployment":
        assert found["privileged"] == "controller kube-system/replicaset-controller"


def test_creator_psps_of_another_service_account_and_namespace() -> None:
    access = resolve_psp_access(_creator_inventory(*CREATOR_BINDINGS))
    # the pods' own grant is to app/default only; the agents grant is a RoleBinding in app
    assert set(creator_psps(access, "app", "Deployment", "builder")) == {
        "privileged", "agents", "legacy"}
    assert set(creator_psps(access, "other", "Deployment", "default")) == {
        "privileged", "legacy"}
