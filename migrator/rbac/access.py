"""Who may `use` which PodSecurityPolicy, and who may relabel namespaces.

Owns the local evaluation of RBAC objects from an `Inventory`: PolicyRule matching (verbs,
API groups, resources, resourceNames and their wildcards), aggregated ClusterRoles (label
selectors, cycles guarded), bindings resolved by `roleRef.kind`, and subjects expanded into
the service accounts whose pods a grant covers (`resolve_psp_access`, the per-namespace "RBAC
ceiling"), the users and groups who may create pods directly with a PSP, and the subjects who
may patch or update namespaces (`namespace_editors`: since Pod Security Admission is driven
by namespace labels, they can lower a namespace's level). It also reads which PSP admitted
each running pod (`pod_psp_annotation`, `admitted_by`).

Pure functions over the plain camelCase dictionaries the API server serves: no I/O, no
printing, no API calls (no SubjectAccessReviews), output sorted so reports are stable.
An object without a namespace (a manifest file that leaves it to `kubectl -n`) is taken to
be in `default`.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from migrator.model.inventory import Inventory, name_of, namespace_of
from migrator.model.workloads import pod_template

Obj = dict[str, Any]
Rule = Mapping[str, Any]

PSP_ANNOTATION = "kubernetes.io/psp"
DEFAULT_NAMESPACE = "default"
DEFAULT_SERVICE_ACCOUNT = "default"

#: API groups that served PodSecurityPolicy (extensions until 1.16, policy until 1.25).
PSP_API_GROUPS = frozenset({"policy", "extensions"})
PSP_RESOURCE = "podsecuritypolicies"
USE_VERBS = frozenset({"use"})
NAMESPACE_EDIT_VERBS = frozenset({"patch", "update"})

ALL_SERVICE_ACCOUNTS = "system:serviceaccounts"
SERVICE_ACCOUNTS_OF = "system:serviceaccounts:"
SERVICE_ACCOUNT_USER = "system:serviceaccount:"
AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
CONTROLLERS_NAMESPACE = "kube-system"

GrantsByPSP = dict[str, list["Grant"]]


# --- public results -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Grant:
    """One path through RBAC by which a subject may `use` one PodSecurityPolicy.

    `binding_namespace` is None for a ClusterRoleBinding; `scope` says in words whom the grant
    covers and where. `psp_exists` is False when the PSP named by the rule is not in the
    inventory; `all_authenticated` is True for grants to `system:authenticated`.
    """

    psp: str
    binding_kind: str
    binding_namespace: str | None
    binding_name: str
    role_kind: str
    role_name: str
    subject_kind: str
    subject_name: str
    subject_namespace: str | None
    scope: str
    psp_exists: bool = True
    all_authenticated: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class NamespaceAccess:
    """The PSPs that pods in one namespace may be admitted with through their service account.

    `usable`: PSPs some service account of the namespace may use (the namespace's RBAC
    ceiling). `by_service_account`: the same per service account (ServiceAccount objects,
    `default`, those named by pods and pod templates, and those named by bindings).
    `cluster_wide`: the part of `usable` granted through ClusterRoleBindings to every service
    account or every authenticated user, identical in every namespace.
    """

    namespace: str
    usable: GrantsByPSP
    by_service_account: dict[str, GrantsByPSP]
    cluster_wide: GrantsByPSP

    def to_dict(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "usable": _grants_dict(self.usable),
            "by_service_account": {
                sa: _grants_dict(grants) for sa, grants in self.by_service_account.items()
            },
            "cluster_wide": _grants_dict(self.cluster_wide),
        }


@dataclass(frozen=True, slots=True)
class PSPAccess:
    """Everything RBAC says about PSP `use` in one inventory.

    `cluster_wide`: PSPs every service account in every namespace may use (ClusterRoleBindings
    to `system:serviceaccounts` or `system:authenticated`). `user_grants`: grants to requesters
    rather than to pods' service accounts: Users and Groups (including `system:authenticated`
    and `system:unauthenticated`), and service accounts allowed to use a PSP outside their own
    namespace (a pod they create there is admitted with it, whatever its service account).
    `dangling`: bindings to missing roles, grants of PSPs missing from the inventory, and
    subjects that cannot be resolved.
    """

    by_namespace: dict[str, NamespaceAccess]
    cluster_wide: GrantsByPSP
    user_grants: list[Grant]
    dangling: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "by_namespace": {ns: access.to_dict() for ns, access in self.by_namespace.items()},
            "cluster_wide": _grants_dict(self.cluster_wide),
            "user_grants": [grant.to_dict() for grant in self.user_grants],
            "dangling": list(self.dangling),
        }


@dataclass(frozen=True, slots=True)
class Editor:
    """A subject who may patch or update Namespace objects, and so change their PSA labels.

    `all_namespaces` is True when the grant covers every namespace; otherwise `namespaces`
    lists the ones it covers. `verbs` are the matching verbs as the roles write them
    (`patch`, `update` or `*`). `system` marks built-in subjects (names starting `system:`).
    """

    subject_kind: str
    subject_name: str
    subject_namespace: str | None
    verbs: tuple[str, ...]
    binding_kind: str
    binding_namespace: str | None
    binding_name: str
    role_kind: str
    role_name: str
    all_namespaces: bool
    namespaces: tuple[str, ...]
    system: bool

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["verbs"] = list(self.verbs)
        out["namespaces"] = list(self.namespaces)
        return out


def _grants_dict(grants: GrantsByPSP) -> dict[str, list[dict[str, Any]]]:
    return {psp: [grant.to_dict() for grant in items] for psp, items in grants.items()}


# --- rule matching ------------------------------------------------------------------------


def _strings(value: Any) -> list[str]:
    """A list of strings from a rule field; anything else counts as empty."""
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, str)]


def _covers(values: list[str], wanted: Iterable[str]) -> bool:
    return "*" in values or any(item in values for item in wanted)


def _is_resource_rule(rule: Rule) -> bool:
    return not _strings(rule.get("nonResourceURLs"))


def _rule_matches(rule: Rule, verbs: Iterable[str], groups: Iterable[str], resource: str) -> bool:
    """Verbs, API groups and resource match (resource `*` or exact; no subresources)."""
    return (
        _is_resource_rule(rule)
        and _covers(_strings(rule.get("verbs")), verbs)
        and _covers(_strings(rule.get("apiGroups")), groups)
        and _covers(_strings(rule.get("resources")), (resource,))
    )


def _names_match(rule: Rule, name: str) -> bool:
    """Empty resourceNames match every name; otherwise the name must be listed (`*` is literal,
    as in Kubernetes)."""
    names = _strings(rule.get("resourceNames"))
    return not names or name in names


def rule_allows_use(rule: Rule, psp: str) -> bool:
    """True when `rule` grants `use` of the PodSecurityPolicy named `psp`."""
    return _rule_matches(rule, USE_VERBS, PSP_API_GROUPS, PSP_RESOURCE) and _names_match(rule, psp)


def rule_allows_namespace_edit(rule: Rule, namespace: str) -> bool:
    """True when `rule` allows `patch` or `update` of the Namespace named `namespace`."""
    return _rule_matches(rule, NAMESPACE_EDIT_VERBS, ("",), "namespaces") and _names_match(
        rule, namespace
    )


def psps_granted(rules: Iterable[Rule], psp_names: Iterable[str]) -> set[str]:
    """PSP names `rules` grant `use` of: the listed resourceNames (existing or not), and every
    PSP of `psp_names` for rules without resourceNames."""
    known = set(psp_names)
    granted: set[str] = set()
    for rule in rules:
        if not _rule_matches(rule, USE_VERBS, PSP_API_GROUPS, PSP_RESOURCE):
            continue
        names = _strings(rule.get("resourceNames"))
        granted.update(names if names else known)
    return granted


# --- label selectors and aggregated ClusterRoles ------------------------------------------


def _labels(obj: Obj) -> dict[str, str]:
    labels = (obj.get("metadata") or {}).get("labels")
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}


def _expression_matches(expression: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key = expression.get("key")
    operator = expression.get("operator")
    values = _strings(expression.get("values"))
    if not isinstance(key, str):
        return False
    if operator == "In":
        return key in labels and labels[key] in values
    if operator == "NotIn":
        return key not in labels or labels[key] not in values
    if operator == "Exists":
        return key in labels
    if operator == "DoesNotExist":
        return key not in labels
    return False  # an unknown operator makes the selector invalid: it selects nothing


def selector_matches(selector: Any, labels: Mapping[str, str]) -> bool:
    """Label selector semantics: all matchLabels and all matchExpressions; `{}` matches all."""
    if not isinstance(selector, dict):
        return False
    match_labels = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    if not isinstance(match_labels, dict) or not isinstance(expressions, list):
        return False
    if any(labels.get(str(k)) != str(v) for k, v in match_labels.items()):
        return False
    return all(isinstance(e, dict) and _expression_matches(e, labels) for e in expressions)


def _stored_rules(role: Obj) -> list[Rule]:
    rules = role.get("rules")
    return [rule for rule in rules if isinstance(rule, dict)] if isinstance(rules, list) else []


def _selectors(role: Obj) -> list[Any]:
    aggregation = role.get("aggregationRule")
    if not isinstance(aggregation, dict):
        return []
    selectors = aggregation.get("clusterRoleSelectors")
    return selectors if isinstance(selectors, list) else []


def _aggregated_rules(
    name: str, cluster_roles: Mapping[str, Obj], visiting: frozenset[str]
) -> list[Rule]:
    role = cluster_roles[name]
    rules = list(_stored_rules(role))
    selectors = _selectors(role)
    if not selectors:
        return rules
    for other, candidate in sorted(cluster_roles.items()):
        if other == name or other in visiting:
            continue
        labels = _labels(candidate)
        if any(selector_matches(selector, labels) for selector in selectors):
            rules.extend(_aggregated_rules(other, cluster_roles, visiting | {name}))
    return rules


def effective_cluster_role_rules(cluster_roles: Iterable[Obj]) -> dict[str, list[Rule]]:
    """Each ClusterRole's rules: its stored rules, plus for an aggregated ClusterRole the rules
    of every other ClusterRole its selectors match, transitively (cycles are cut)."""
    by_name = {name_of(role): role for role in cluster_roles if name_of(role)}
    return {name: _aggregated_rules(name, by_name, frozenset()) for name in sorted(by_name)}


# --- bindings -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Binding:
    """A binding with its role's effective rules (None when the role is missing)."""

    kind: str
    namespace: str | None
    name: str
    role_kind: str
    role_name: str
    subjects: tuple[Obj, ...]
    rules: tuple[Rule, ...] | None

    @property
    def label(self) -> str:
        where = f"{self.namespace}/" if self.namespace is not None else ""
        return f"{self.kind} {where}{self.name}"


def _namespace(obj: Obj) -> str:
    return namespace_of(obj) or DEFAULT_NAMESPACE


def _subjects(binding: Obj) -> tuple[Obj, ...]:
    subjects = binding.get("subjects")
    if not isinstance(subjects, list):
        return ()
    return tuple(s for s in subjects if isinstance(s, dict))


def _resolve_binding(
    binding: Obj,
    kind: str,
    roles: Mapping[tuple[str, str], Obj],
    cluster_rules: Mapping[str, list[Rule]],
) -> _Binding:
    namespace = _namespace(binding) if kind == "RoleBinding" else None
    ref = binding.get("roleRef")
    ref = ref if isinstance(ref, dict) else {}
    role_kind = str(ref.get("kind") or "")
    role_name = str(ref.get("name") or "")
    rules: list[Rule] | None = None
    if role_kind == "ClusterRole":
        rules = cluster_rules.get(role_name)
    elif role_kind == "Role" and namespace is not None:
        role = roles.get((namespace, role_name))
        rules = _stored_rules(role) if role is not None else None
    return _Binding(
        kind=kind,
        namespace=namespace,
        name=name_of(binding),
        role_kind=role_kind,
        role_name=role_name,
        subjects=_subjects(binding),
        rules=tuple(rules) if rules is not None else None,
    )


def _bindings(inventory: Inventory) -> list[_Binding]:
    roles = {(_namespace(role), name_of(role)): role for role in inventory.roles}
    cluster_rules = effective_cluster_role_rules(inventory.cluster_roles)
    resolved = [
        _resolve_binding(b, "RoleBinding", roles, cluster_rules) for b in inventory.role_bindings
    ]
    resolved += [
        _resolve_binding(b, "ClusterRoleBinding", roles, cluster_rules)
        for b in inventory.cluster_role_bindings
    ]
    return sorted(resolved, key=lambda b: (b.kind, b.namespace or "", b.name))


def _missing_role(binding: _Binding) -> str:
    where = f" in namespace {binding.namespace}" if binding.role_kind == "Role" else ""
    if binding.role_kind not in ("Role", "ClusterRole") or (
        binding.kind == "ClusterRoleBinding" and binding.role_kind == "Role"
    ):
        return (
            f"{binding.label}: roleRef kind {binding.role_kind or '(none)'!r} cannot be "
            f"resolved; it grants nothing"
        )
    return (
        f"{binding.label}: {binding.role_kind} {binding.role_name}{where} not found; "
        f"it grants nothing"
    )


# --- subjects -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Subject:
    kind: str
    name: str
    namespace: str | None


@dataclass(frozen=True, slots=True)
class _Reach:
    """Which pods a grant covers: a namespace (None: all) and a service account (None: all)."""

    namespace: str | None
    service_account: str | None
    scope: str


def _subject(binding: _Binding, raw: Obj) -> _Subject | None:
    """The subject with its namespace defaulted; a User named like a service account is one."""
    kind = str(raw.get("kind") or "")
    name = str(raw.get("name") or "")
    namespace = raw.get("namespace")
    if kind == "User" and name.startswith(SERVICE_ACCOUNT_USER):
        parts = name[len(SERVICE_ACCOUNT_USER) :].split(":")
        if len(parts) == 2 and all(parts):
            return _Subject("ServiceAccount", parts[1], parts[0])
    if kind == "ServiceAccount":
        namespace = namespace or binding.namespace
        if not namespace or not name:
            return None
        return _Subject(kind, name, str(namespace))
    if kind in ("User", "Group") and name:
        return _Subject(kind, name, None)
    return None


def _where(binding: _Binding) -> str:
    if binding.namespace is None:
        return "in every namespace"
    return f"in namespace {binding.namespace}"


def _applies_in(binding: _Binding, namespace: str) -> bool:
    return binding.namespace is None or binding.namespace == namespace


def _controllers_note(namespace: str) -> str:
    if namespace != CONTROLLERS_NAMESPACE:
        return ""
    return " (includes the controllers that create pods for Deployments, Jobs and others)"


def _pod_reach(binding: _Binding, subject: _Subject) -> _Reach | None:
    """The pods (by namespace and service account) a grant to `subject` covers."""
    if subject.kind == "ServiceAccount" and subject.namespace is not None:
        if not _applies_in(binding, subject.namespace):
            return None
        scope = f"service account {subject.namespace}/{subject.name}"
        return _Reach(subject.namespace, subject.name, scope)
    if subject.kind != "Group":
        return None
    if subject.name == ALL_SERVICE_ACCOUNTS:
        return _Reach(binding.namespace, None, f"all service accounts {_where(binding)}")
    if subject.name.startswith(SERVICE_ACCOUNTS_OF):
        namespace = subject.name[len(SERVICE_ACCOUNTS_OF) :]
        if not namespace or not _applies_in(binding, namespace):
            return None
        return _Reach(namespace, None, f"all service accounts in namespace {namespace}")
    if subject.name == AUTHENTICATED:
        return _Reach(binding.namespace, None, f"all authenticated users {_where(binding)}")
    return None


def _requester_scope(binding: _Binding, subject: _Subject) -> str | None:
    """How a grant lets `subject` create pods directly with the PSP beyond its service
    accounts' own pods; None when it adds nothing to the pod grant."""
    creating = f"creating pods {_where(binding)}"
    if subject.kind == "ServiceAccount" and subject.namespace is not None:
        if binding.namespace == subject.namespace:
            return None
        note = _controllers_note(subject.namespace)
        return f"service account {subject.namespace}/{subject.name} {creating}{note}"
    if subject.kind == "User":
        return f"user {subject.name} {creating}"
    if subject.name == ALL_SERVICE_ACCOUNTS:
        return None
    if subject.name.startswith(SERVICE_ACCOUNTS_OF):
        namespace = subject.name[len(SERVICE_ACCOUNTS_OF) :]
        if binding.namespace == namespace:
            return None
        note = _controllers_note(namespace)
        return f"service accounts of namespace {namespace} {creating}{note}"
    if subject.name == AUTHENTICATED:
        return f"all authenticated users {creating}"
    if subject.name == UNAUTHENTICATED:
        return f"unauthenticated requests {creating} (no effect on service accounts' pods)"
    return f"group {subject.name} {creating}"


def _grant(binding: _Binding, subject: _Subject, psp: str, exists: bool, scope: str) -> Grant:
    return Grant(
        psp=psp,
        binding_kind=binding.kind,
        binding_namespace=binding.namespace,
        binding_name=binding.name,
        role_kind=binding.role_kind,
        role_name=binding.role_name,
        subject_kind=subject.kind,
        subject_name=subject.name,
        subject_namespace=subject.namespace,
        scope=scope,
        psp_exists=exists,
        all_authenticated=subject.kind == "Group" and subject.name == AUTHENTICATED,
    )


def _grant_key(grant: Grant) -> tuple[str, ...]:
    return (
        grant.psp,
        grant.binding_kind,
        grant.binding_namespace or "",
        grant.binding_name,
        grant.role_kind,
        grant.role_name,
        grant.subject_kind,
        grant.subject_namespace or "",
        grant.subject_name,
        grant.scope,
    )


def _sorted_grants(grants: Iterable[Grant]) -> list[Grant]:
    return sorted(set(grants), key=_grant_key)


def _by_psp(grants: Iterable[Grant]) -> GrantsByPSP:
    out: dict[str, list[Grant]] = {}
    for grant in _sorted_grants(grants):
        out.setdefault(grant.psp, []).append(grant)
    return dict(sorted(out.items()))


# --- PSP access ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Collected:
    pod_grants: list[tuple[_Reach, Grant]]
    user_grants: list[Grant]
    dangling: list[str]


def _collect(inventory: Inventory, bindings: list[_Binding]) -> _Collected:
    psp_names = {name_of(psp) for psp in inventory.psps if name_of(psp)}
    pod_grants: list[tuple[_Reach, Grant]] = []
    user_grants: list[Grant] = []
    dangling: set[str] = set()
    for binding in bindings:
        if binding.rules is None:
            dangling.add(_missing_role(binding))
            continue
        granted = sorted(psps_granted(binding.rules, psp_names))
        for psp in granted:
            if psp not in psp_names:
                dangling.add(
                    f"{binding.label}: {binding.role_kind} {binding.role_name} grants use of "
                    f"PodSecurityPolicy {psp!r}, which is not in the inventory"
                )
        for raw in binding.subjects:
            subject = _subject(binding, raw)
            if subject is None:
                if granted:
                    dangling.add(f"{binding.label}: subject {_describe(raw)} cannot be resolved")
                continue
            reach = _pod_reach(binding, subject)
            requester = _requester_scope(binding, subject)
            for psp in granted:
                exists = psp in psp_names
                if reach is not None:
                    pod_grants.append((reach, _grant(binding, subject, psp, exists, reach.scope)))
                if requester is not None:
                    user_grants.append(_grant(binding, subject, psp, exists, requester))
    return _Collected(pod_grants, _sorted_grants(user_grants), sorted(dangling))


def _describe(raw: Obj) -> str:
    kind = raw.get("kind") or "(no kind)"
    namespace = raw.get("namespace")
    name = raw.get("name") or "(no name)"
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


def _template_service_accounts(inventory: Inventory) -> Iterator[tuple[str, str]]:
    """(namespace, service account) of every pod and pod template."""
    for obj in [*inventory.pods, *inventory.workloads]:
        template = pod_template(obj)
        if template is None:
            continue
        spec = template.spec
        name = spec.get("serviceAccountName") or spec.get("serviceAccount")
        yield _namespace(obj), str(name or DEFAULT_SERVICE_ACCOUNT)


def _subject_service_accounts(bindings: Iterable[_Binding]) -> Iterator[tuple[str, str]]:
    """(namespace, service account) of every ServiceAccount subject of any binding."""
    for binding in bindings:
        for raw in binding.subjects:
            subject = _subject(binding, raw)
            if subject is not None and subject.kind == "ServiceAccount" and subject.namespace:
                yield subject.namespace, subject.name


def _service_accounts(
    inventory: Inventory, namespaces: Iterable[str], bindings: Iterable[_Binding]
) -> dict[str, set[str]]:
    """Per namespace: `default`, ServiceAccount objects, and the service accounts named by
    pods, pod templates and binding subjects."""
    out: dict[str, set[str]] = {ns: {DEFAULT_SERVICE_ACCOUNT} for ns in namespaces}
    named = [(_namespace(sa), name_of(sa)) for sa in inventory.service_accounts if name_of(sa)]
    named += _template_service_accounts(inventory)
    named += _subject_service_accounts(bindings)
    for namespace, name in named:
        out.setdefault(namespace, {DEFAULT_SERVICE_ACCOUNT}).add(name)
    return out


def _covers_pod(reach: _Reach, namespace: str, service_account: str | None) -> bool:
    if reach.namespace is not None and reach.namespace != namespace:
        return False
    return service_account is None or reach.service_account in (None, service_account)


def _namespace_access(
    namespace: str, service_accounts: Iterable[str], here: list[tuple[_Reach, Grant]]
) -> NamespaceAccess:
    """What the pods of `namespace` may use; `here` holds the grants that reach it."""
    return NamespaceAccess(
        namespace=namespace,
        usable=_by_psp(g for _, g in here),
        by_service_account={
            sa: _by_psp(g for r, g in here if _covers_pod(r, namespace, sa))
            for sa in sorted(service_accounts)
        },
        cluster_wide=_by_psp(
            g for r, g in here if r.namespace is None and r.service_account is None
        ),
    )


def resolve_psp_access(inventory: Inventory) -> PSPAccess:
    """Which PSPs the pods of every namespace and service account may use, and through what.

    Covers every namespace of the inventory, of its bindings and of the subjects they name.
    """
    bindings = _bindings(inventory)
    collected = _collect(inventory, bindings)
    reaches = [reach for reach, _ in collected.pod_grants]
    namespaces = set(inventory.namespace_names())
    namespaces.update(b.namespace for b in bindings if b.namespace is not None)
    namespaces.update(r.namespace for r in reaches if r.namespace is not None)
    accounts = _service_accounts(inventory, namespaces, bindings)
    # Grants indexed by the namespace they are limited to, so that each namespace looks at
    # its own and the cluster-wide ones (in their order), not at every namespace's.
    everywhere = [(i, rg) for i, rg in enumerate(collected.pod_grants) if rg[0].namespace is None]
    limited: dict[str, list[tuple[int, tuple[_Reach, Grant]]]] = {}
    for i, (reach, grant) in enumerate(collected.pod_grants):
        if reach.namespace is not None:
            limited.setdefault(reach.namespace, []).append((i, (reach, grant)))
    by_namespace = {
        ns: _namespace_access(ns, accounts[ns], [
            rg for _, rg in heapq.merge(everywhere, limited.get(ns, []), key=lambda x: x[0])])
        for ns in sorted(accounts)
    }
    cluster_wide = _by_psp(
        g for r, g in collected.pod_grants if r.namespace is None and r.service_account is None
    )
    return PSPAccess(
        by_namespace=by_namespace,
        cluster_wide=cluster_wide,
        user_grants=collected.user_grants,
        dangling=collected.dangling,
    )


#: The controller service account (in kube-system) that creates the pods of each kind,
#: when kube-controller-manager runs with --use-service-account-credentials.
POD_CREATORS = {
    "CronJob": "job-controller",
    "DaemonSet": "daemon-set-controller",
    "Deployment": "replicaset-controller",
    "Job": "job-controller",
    "ReplicaSet": "replicaset-controller",
    "ReplicationController": "replication-controller",
    "StatefulSet": "statefulset-controller",
}
#: The user kube-controller-manager acts as without service-account credentials.
CONTROLLER_MANAGER_USER = "system:kube-controller-manager"


def _creates_as(grant: Grant, account: str) -> bool:
    """True when `grant` is to the controller `account` (or a group or user it acts as)."""
    if grant.subject_kind == "ServiceAccount":
        return grant.subject_namespace == CONTROLLERS_NAMESPACE and grant.subject_name == account
    if grant.subject_kind == "User":
        return grant.subject_name == CONTROLLER_MANAGER_USER
    return grant.subject_name in (ALL_SERVICE_ACCOUNTS, AUTHENTICATED,
                                  SERVICE_ACCOUNTS_OF + CONTROLLERS_NAMESPACE)


def creator_psps(access: PSPAccess, namespace: str, kind: str,
                 service_account: str | None) -> dict[str, str]:
    """The PSPs the pods of a `kind` object in `namespace` may be admitted with, each with
    the identity that may use it: the pods' service account, and for controllers the
    controller that creates the pods (its service account or kube-controller-manager)."""
    account = service_account or DEFAULT_SERVICE_ACCOUNT
    ns_access = access.by_namespace.get(namespace)
    found: dict[str, str] = {}
    pod_grants = (ns_access.by_service_account.get(account) if ns_access else None)
    for psp in pod_grants if pod_grants is not None else access.cluster_wide:
        found.setdefault(psp, f"service account {namespace}/{account}")
    controller = POD_CREATORS.get(kind)
    if controller is None:
        return dict(sorted(found.items()))
    who = f"controller {CONTROLLERS_NAMESPACE}/{controller}"
    for grant in access.user_grants:
        if grant.binding_namespace in (None, namespace) and _creates_as(grant, controller):
            found.setdefault(grant.psp, who)
    if namespace == CONTROLLERS_NAMESPACE and ns_access is not None:
        for psp in ns_access.by_service_account.get(controller) or ():
            found.setdefault(psp, who)
    return dict(sorted(found.items()))


# --- namespace editors --------------------------------------------------------------------


def _edit_verbs(rules: Iterable[Rule]) -> tuple[str, ...]:
    verbs: set[str] = set()
    for rule in rules:
        for verb in _strings(rule.get("verbs")):
            if verb == "*" or verb in NAMESPACE_EDIT_VERBS:
                verbs.add(verb)
    return tuple(sorted(verbs))


def _edit_reach(binding: _Binding) -> tuple[bool, tuple[str, ...], tuple[Rule, ...]]:
    """(all namespaces?, the namespaces named, the rules that allow the edit)."""
    rules = binding.rules or ()
    edit_rules = tuple(
        rule for rule in rules if _rule_matches(rule, NAMESPACE_EDIT_VERBS, ("",), "namespaces")
    )
    if binding.namespace is not None:
        # A namespaced binding reaches only its own Namespace object.
        matching = tuple(r for r in edit_rules if _names_match(r, binding.namespace))
        return False, ((binding.namespace,) if matching else ()), matching
    if any(not _strings(rule.get("resourceNames")) for rule in edit_rules):
        return True, (), edit_rules
    names = {name for rule in edit_rules for name in _strings(rule.get("resourceNames"))}
    return False, tuple(sorted(names)), edit_rules


def _editor(
    binding: _Binding,
    subject: _Subject,
    verbs: tuple[str, ...],
    every: bool,
    names: tuple[str, ...],
) -> Editor:
    return Editor(
        subject_kind=subject.kind,
        subject_name=subject.name,
        subject_namespace=subject.namespace,
        verbs=verbs,
        binding_kind=binding.kind,
        binding_namespace=binding.namespace,
        binding_name=binding.name,
        role_kind=binding.role_kind,
        role_name=binding.role_name,
        all_namespaces=every,
        namespaces=names,
        system=subject.name.startswith("system:"),
    )


def _editor_key(editor: Editor) -> tuple[Any, ...]:
    return (
        editor.system,
        editor.subject_kind,
        editor.subject_namespace or "",
        editor.subject_name,
        editor.binding_kind,
        editor.binding_namespace or "",
        editor.binding_name,
    )


def namespace_editors(inventory: Inventory) -> list[Editor]:
    """Every subject who may patch or update Namespaces (and so their Pod Security labels),
    cluster-wide through ClusterRoleBindings or for one namespace through a RoleBinding.

    Nothing is left out; built-in subjects are marked `system=True` and sorted last.
    """
    editors: set[Editor] = set()
    for binding in _bindings(inventory):
        every, names, rules = _edit_reach(binding)
        if not every and not names:
            continue
        verbs = _edit_verbs(rules)
        for raw in binding.subjects:
            subject = _subject(binding, raw)
            if subject is not None:
                editors.add(_editor(binding, subject, verbs, every, names))
    return sorted(editors, key=_editor_key)


# --- which PSP admitted running pods ------------------------------------------------------


def pod_psp_annotation(pod: Obj) -> str | None:
    """The PSP that admitted `pod`, from its `kubernetes.io/psp` annotation."""
    annotations = (pod.get("metadata") or {}).get("annotations")
    if not isinstance(annotations, dict):
        return None
    value = annotations.get(PSP_ANNOTATION)
    return value if isinstance(value, str) else None


def admitted_by(inventory: Inventory) -> dict[str, Counter[str]]:
    """Per namespace, how many pods each PSP admitted (pods without the annotation under "").

    Every namespace of the inventory is present, with an empty Counter when it has no pods.
    """
    out: dict[str, Counter[str]] = {ns: Counter() for ns in inventory.namespace_names()}
    for pod in inventory.pods:
        out.setdefault(_namespace(pod), Counter())[pod_psp_annotation(pod) or ""] += 1
    return dict(sorted(out.items()))
