"""Object names as the API server validates them.

Owns `unsafe_name` (a name no object may carry into our outputs: control characters, path
separators, `.`/`..`, a missing or non-string name; such an object is refused) and
`invalid_name`, the reason an object's `metadata.name`, `metadata.generateName` or
`metadata.namespace` would be refused: Namespaces need an RFC 1123 label, RBAC objects a
path segment (no `/` or `%`, not `.` or `..`), every other kind the migration reads (pods,
workloads, custom workloads, ServiceAccounts, PodSecurityPolicies) an RFC 1123 subdomain,
and a CronJob at most 52 characters. A name that is only invalid (capitals, `_`, too long)
is still judged, with a warning: reference fixtures and hand-written manifests use such
names, and their verdict is what the user asked for. Pure: no I/O.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from migrator.model.workloads import carries_pod

_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")

LABEL_RULE = ("a lowercase RFC 1123 label: at most 63 lower case alphanumeric characters or "
              "'-', starting and ending with an alphanumeric character")
SUBDOMAIN_RULE = ("a lowercase RFC 1123 subdomain: at most 253 lower case alphanumeric "
                  "characters, '-' or '.', starting and ending with an alphanumeric character")
SEGMENT_RULE = "a path segment: not '.' or '..', and without '/' or '%'"

#: Kinds whose names are validated as path segments (they may hold ':' and capitals).
PATH_SEGMENT_KINDS = frozenset({"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"})
#: Kinds a migration reads besides those carrying pods: their names are checked too.
READ_KINDS = frozenset({"Namespace", "ServiceAccount", "PodSecurityPolicy"}) | PATH_SEGMENT_KINDS
#: Kinds with a shorter limit than a subdomain's (the controller appends to the name).
MAX_LENGTH = {"CronJob": 52}


def quoted(text: str) -> str:
    """`text` in double quotes with control characters escaped, for messages."""
    return json.dumps(text, ensure_ascii=False)


@functools.lru_cache(maxsize=16_384)
def label_problem(name: str) -> str | None:
    """Why `name` is not an RFC 1123 label, or None."""
    if len(name) <= 63 and _LABEL.fullmatch(name):
        return None
    return f"must be {LABEL_RULE}"


def subdomain_problem(name: str, limit: int = 253) -> str | None:
    """Why `name` is not an RFC 1123 subdomain of at most `limit` characters, or None."""
    if not _SUBDOMAIN.fullmatch(name) or len(name) > 253:
        return f"must be {SUBDOMAIN_RULE}"
    if len(name) > limit:
        return f"must be at most {limit} characters"
    return None


def segment_problem(name: str) -> str | None:
    """Why `name` is not a valid path segment, or None."""
    if name in (".", "..") or "/" in name or "%" in name:
        return f"must be {SEGMENT_RULE}"
    return None


def name_problem(kind: str, name: str) -> str | None:
    """Why the API server would refuse `name` for an object of `kind`, or None."""
    if kind == "Namespace":
        return label_problem(name)
    if kind in PATH_SEGMENT_KINDS:
        return segment_problem(name)
    return subdomain_problem(name, MAX_LENGTH.get(kind, 253))


def invalid_name(obj: dict[str, Any]) -> str | None:
    """Why the API server would refuse `obj`'s name or namespace, or None (always None for
    kinds a migration does not read, such as ConfigMaps).

    An object needs a name or a generateName (whose prefix, with the random suffix the
    server appends, must be valid); a namespace, when given, must be an RFC 1123 label.
    """
    kind = str(obj.get("kind"))
    if kind not in READ_KINDS and not carries_pod(obj):
        return None
    metadata = obj.get("metadata") or {}
    name = metadata.get("name")
    generate = metadata.get("generateName")
    for key, value in (("name", name), ("generateName", generate),
                       ("namespace", metadata.get("namespace"))):
        if value is not None and not isinstance(value, str):
            return f"metadata.{key} is a {type(value).__name__}, not a string"
    if name:
        problem = name_problem(kind, name)
        if problem:
            return f"metadata.name {quoted(name)} {problem}"
    elif generate:
        problem = name_problem(kind, generate + "x")
        if problem:
            return f"metadata.generateName {quoted(generate)} {problem}"
    else:
        return "metadata.name is missing (and no generateName)"
    namespace = metadata.get("namespace")
    if namespace:
        problem = label_problem(namespace)
        if problem:
            return f"metadata.namespace {quoted(namespace)} {problem}"
    return None


_UNSAFE = re.compile(r"[\x00-\x1f\x7f/%\\]")


def unsafe_name(obj: dict[str, Any], problem: str | None) -> str | None:
    """Why `obj`'s name or namespace must not be used at all (it would break a path, a
    terminal or a Markdown line), or None; `problem` is `invalid_name(obj)`."""
    if problem is None:
        return None
    metadata = obj.get("metadata") or {}
    values = [metadata.get(k) for k in ("name", "generateName", "namespace")]
    if not any(isinstance(v, str) and v for v in values[:2]):
        return problem  # no name at all
    if any(v is not None and not isinstance(v, str) for v in values):
        return problem
    if any(isinstance(v, str) and (v in (".", "..") or _UNSAFE.search(v)) for v in values):
        return problem
    return None
