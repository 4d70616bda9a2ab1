"""Reading and writing one Namespace through `ClusterClient.request`, as the label commands do.

Owns the requests both the server dry-run and `apply`/`rollback` send: the namespace path,
`send` (one request, retried on 429 and 5xx), `failure` (a refused request as a
`NamespaceError` naming the namespace and the server's message), and `read_namespace` (the
live labels, resourceVersion and the Pod Security labels migrator's field manager owns).
Nothing here prints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from migrator.cluster.client import ClusterClient, RawResponse
from migrator.errors import NamespaceError

#: The field manager of every write.
MANAGER = "migrator"
MERGE_PATCH = "application/merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"


# ---------------------------------------------------------------------------------------
# Requests



def namespace_path(name: str) -> str:
    return f"/api/v1/namespaces/{quote(name, safe='')}"


def send(
    client: ClusterClient,
    method: str,
    path: str,
    query: Sequence[tuple[str, str]] = (),
    body: Any = None,
    content_type: str | None = None,
) -> RawResponse:
    """One request, retried after 429/5xx by the client's one retry loop."""
    headers = {"Content-Type": content_type} if content_type else None
    return client.send(method, path, list(query), body, headers)


def failure(client: ClusterClient, namespace: str, response: RawResponse,
             action: str) -> NamespaceError:
    """A one-line error for a refused namespace request; `action` like `patch`."""
    status, message = response.status, response.status_message()
    if status == 401:
        text = f"the API server {client.describe()} rejected the credentials: {message}"
    elif status == 403:
        text = f"no permission to {action} namespace {namespace}: {message}"
    elif status == 404:
        text = f"namespace {namespace} not found in the cluster"
    elif status == 422:
        text = f"the server rejected the labels of namespace {namespace}: {message}"
    elif status == 409:
        text = (f"namespace {namespace} changed while migrator worked on it; nothing was "
                f"changed in it, run again: {message}")
    else:
        text = f"{action} namespace {namespace}: {status} {response.reason}: {message}"
    return NamespaceError(namespace, status, text)


@dataclass(frozen=True, slots=True)
class LiveNamespace:
    """What is read of a Namespace: labels, resourceVersion, labels migrator applied."""

    name: str
    labels: dict[str, str]
    resource_version: str | None
    owned: frozenset[str]


def owned_labels(metadata: Mapping[str, Any]) -> frozenset[str]:
    """Labels in the `managedFields` entry of migrator's server-side applies."""
    owned: set[str] = set()
    for entry in metadata.get("managedFields") or ():
        if not isinstance(entry, dict):
            continue
        if entry.get("manager") != MANAGER or entry.get("operation") != "Apply":
            continue
        fields = ((entry.get("fieldsV1") or {}).get("f:metadata") or {}).get("f:labels") or {}
        if isinstance(fields, dict):
            owned.update(k[2:] for k in fields if isinstance(k, str) and k.startswith("f:"))
    return frozenset(owned)


def read_namespace(client: ClusterClient, name: str) -> LiveNamespace | None:
    """The live Namespace `name`; None when it does not exist; NamespaceError otherwise."""
    response = client.get(namespace_path(name))
    if response.status == 404:
        return None
    if not response.ok:
        raise failure(client, name, response, "read")
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise NamespaceError(name, response.status,
                             f"namespace {name}: the server sent something that is not JSON")
    metadata = body.get("metadata") or {}
    labels = metadata.get("labels") or {}
    version = metadata.get("resourceVersion")
    return LiveNamespace(
        name,
        {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {},
        str(version) if version else None,
        owned_labels(metadata),
    )
