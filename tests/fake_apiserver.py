"""A loopback kube-apiserver double that answers the way the recorded real servers do.

Owns `FakeApiServer`: an HTTP/1.1 server on 127.0.0.1 (port 0) serving `/version`,
discovery (`/api`, `/apis`, groups, group versions), list endpoints for every resource a
migration reads (all-namespace and per-namespace paths, `limit`/`continue` pagination with
`remainingItemCount` and real-shaped continue tokens, simple `labelSelector`s and
`fieldSelector`s such as `type=helm.sh/release.v1`), single
objects, and the error answers of a real server: `Status` bodies for 404 (unserved group or
missing object), 403 (configured RBAC denials), 401 (wrong token), 410 `Expired` (injected
once mid-list), 400 (malformed continue token), 5xx/429 (injected), and the PSP deprecation
`Warning` header. Every request is recorded (method, path, query, headers, body) so tests
can assert that nothing but GET was sent. Hooks answer anything else, e.g. the namespace
dry-run PATCHes of later features (`on`, `respond`, `serve_recording`);
`serve_namespace_patches` answers namespace label writes for real (JSON merge patch and
server-side apply with field managers, conflicts, `dryRun`, preconditions, 403/404/422).

Presets: `v1_24()` (PSPs and their RBAC loaded from the v1.24 recordings, PSP API served
with its deprecation warning) and `v1_36()` (PSP API answers 404). `write_kubeconfig`
writes a kubeconfig with a token for a server URL.

The recordings are read from `MIGRATOR_APISERVER_RECORDINGS` (default
`tests/data/apiserver`, copied from real kube-apiservers).
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

RECORDINGS = Path(
    os.environ.get("MIGRATOR_APISERVER_RECORDINGS")
    or Path(__file__).resolve().parent / "data" / "apiserver"
)

#: The exact `Warning` header value a 1.21–1.24 server sends on every PSP request
#: (as recorded in v1.24/psp-list-page1.json).
PSP_DEPRECATION_WARNING = (
    '299 - "policy/v1beta1 PodSecurityPolicy is deprecated in v1.21+, unavailable in v1.25+"'
)
DEFAULT_TOKEN = "fake-apiserver-token"
DEFAULT_USER = "system:serviceaccount:tools:reader"
EXPIRED_MESSAGE = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this "
    "response to retrieve the remainder of the results. Continuing with the provided token "
    "results in an inconsistent list - objects that were created, modified, or deleted "
    "between the time the first chunk was returned and now may show up in the list."
)
NOT_FOUND_MESSAGE = "the server could not find the requested resource"

Obj = dict[str, Any]


# ---------------------------------------------------------------------------------------
# Recordings


def load_recording(name: str) -> Obj:
    """A recording by file name relative to the recordings folder (`v1.24/x.json`)."""
    path = RECORDINGS / name
    if not path.is_file():
        raise FileNotFoundError(
            f"recording {path} not found (set MIGRATOR_APISERVER_RECORDINGS to the folder)"
        )
    with open(path, encoding="utf-8") as handle:
        data: Obj = json.load(handle)
    return data


def recorded_items(name: str) -> list[Obj]:
    """The objects of a recorded response: list items (with kind/apiVersion) or the object."""
    body = load_recording(name)["response"]["body"]
    if isinstance(body.get("items"), list):
        kind = str(body["kind"]).removesuffix("List")
        return [{"apiVersion": body["apiVersion"], "kind": kind, **item} for item in body["items"]]
    return [body]


def status_body(code: int, reason: str, message: str, details: Obj | None = None,
                metadata: Obj | None = None) -> Obj:
    """A `Status` body with the key order a real server uses."""
    body: Obj = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": metadata or {},
        "status": "Failure",
        "message": message,
        "reason": reason,
    }
    if details is not None:
        body["details"] = details
    body["code"] = code
    return body


# ---------------------------------------------------------------------------------------
# Resource catalog

_ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True, slots=True)
class ResourceType:
    group: str
    versions: tuple[str, ...]
    plural: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()

    @property
    def qualified(self) -> str:
        """`plural.group` as a real server names it in messages (`plural` for core)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


CATALOG: tuple[ResourceType, ...] = (
    ResourceType("", ("v1",), "namespaces", "Namespace", False, ("ns",)),
    ResourceType("", ("v1",), "pods", "Pod", True, ("po",)),
    ResourceType("", ("v1",), "serviceaccounts", "ServiceAccount", True, ("sa",)),
    ResourceType("", ("v1",), "replicationcontrollers", "ReplicationController", True, ("rc",)),
    ResourceType("", ("v1",), "podtemplates", "PodTemplate", True),
    ResourceType("", ("v1",), "configmaps", "ConfigMap", True, ("cm",)),
    ResourceType("", ("v1",), "secrets", "Secret", True),
    ResourceType("apps", ("v1",), "deployments", "Deployment", True, ("deploy",)),
    ResourceType("apps", ("v1",), "statefulsets", "StatefulSet", True, ("sts",)),
    ResourceType("apps", ("v1",), "daemonsets", "DaemonSet", True, ("ds",)),
    ResourceType("apps", ("v1",), "replicasets", "ReplicaSet", True, ("rs",)),
    ResourceType("batch", ("v1",), "jobs", "Job", True),
    ResourceType("batch", ("v1", "v1beta1"), "cronjobs", "CronJob", True, ("cj",)),
    ResourceType("rbac.authorization.k8s.io", ("v1",), "roles", "Role", True),
    ResourceType("rbac.authorization.k8s.io", ("v1",), "clusterroles", "ClusterRole", False),
    ResourceType("rbac.authorization.k8s.io", ("v1",), "rolebindings", "RoleBinding", True),
    ResourceType(
        "rbac.authorization.k8s.io", ("v1",), "clusterrolebindings", "ClusterRoleBinding", False
    ),
    ResourceType("policy", ("v1", "v1beta1"), "poddisruptionbudgets", "PodDisruptionBudget",
                 True, ("pdb",)),
    ResourceType("policy", ("v1beta1",), "podsecuritypolicies", "PodSecurityPolicy", False,
                 ("psp",)),
    ResourceType("extensions", ("v1beta1",), "podsecuritypolicies", "PodSecurityPolicy", False,
                 ("psp",)),
)
_BY_PLURAL = {(r.group, r.plural): r for r in CATALOG}


def _group_of(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


def _rtype_for(obj: Obj) -> ResourceType:
    group, _version = _group_of(str(obj.get("apiVersion") or ""))
    kind = obj.get("kind")
    for rtype in CATALOG:
        if rtype.kind == kind and rtype.group == group:
            return rtype
    if kind == "PodSecurityPolicy":
        return _BY_PLURAL[("policy", "podsecuritypolicies")]
    raise KeyError(f"fake apiserver does not know {obj.get('apiVersion')} {kind}")


def _served_default(
    psp: str | None, cronjob_versions: Iterable[str], pdb_versions: Iterable[str]
) -> set[tuple[str, str, str]]:
    served: set[tuple[str, str, str]] = set()
    for rtype in CATALOG:
        if rtype.plural == "podsecuritypolicies":
            continue
        versions: Iterable[str] = rtype.versions
        if rtype.plural == "cronjobs":
            versions = cronjob_versions
        elif rtype.plural == "poddisruptionbudgets":
            versions = pdb_versions
        for version in versions:
            served.add((rtype.group, version, rtype.plural))
    if psp:
        served.add((psp, "v1beta1", "podsecuritypolicies"))
    return served


# ---------------------------------------------------------------------------------------
# Item sources


class ItemSource(Protocol):
    """The objects of one resource, served as JSON bytes.

    Items are sorted the way etcd keys sort: by the string `namespace/name` (cluster-scoped
    objects: `name`). `key` gives `(namespace, name)`; `item` the object as a list item
    (no `kind`/`apiVersion`). A source may also offer `labels(index)` for label selectors.
    """

    def __len__(self) -> int: ...

    def key(self, index: int) -> tuple[str, str]: ...

    def item(self, index: int) -> bytes: ...


def sort_key(namespace: str, name: str) -> str:
    """The etcd-style key objects are ordered by (`ns/name`, or `name`)."""
    return f"{namespace}/{name}" if namespace else name


@dataclass
class _Stored:
    namespace: str
    name: str
    labels: dict[str, str]
    data: bytes
    obj: Obj


class StoredItems:
    """Objects added one by one, kept in key order, serialized once."""

    def __init__(self) -> None:
        self._order: list[str] = []
        self._items: list[_Stored] = []

    def __len__(self) -> int:
        return len(self._items)

    def key(self, index: int) -> tuple[str, str]:
        stored = self._items[index]
        return stored.namespace, stored.name

    def item(self, index: int) -> bytes:
        return self._items[index].data

    def labels(self, index: int) -> dict[str, str]:
        return self._items[index].labels

    def obj(self, index: int) -> Obj:
        return self._items[index].obj

    def find(self, namespace: str, name: str) -> int | None:
        order = sort_key(namespace, name)
        pos = bisect.bisect_left(self._order, order)
        return pos if pos < len(self._order) and self._order[pos] == order else None

    def put(self, obj: Obj) -> None:
        metadata = obj.get("metadata") or {}
        namespace, name = str(metadata.get("namespace") or ""), str(metadata.get("name") or "")
        item = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
        stored = _Stored(namespace, name, dict(metadata.get("labels") or {}),
                         json.dumps(item, separators=(",", ":")).encode(), obj)
        found = self.find(namespace, name)
        if found is not None:
            self._items[found] = stored
            return
        order = sort_key(namespace, name)
        pos = bisect.bisect_left(self._order, order)
        self._order.insert(pos, order)
        self._items.insert(pos, stored)

    def remove(self, namespace: str, name: str) -> bool:
        found = self.find(namespace, name)
        if found is None:
            return False
        del self._order[found]
        del self._items[found]
        return True


# ---------------------------------------------------------------------------------------
# Requests and replies


@dataclass(frozen=True)
class Request:
    """One request as received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    raw_query: str = ""

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def header(self, name: str) -> str | None:
        """A request header by name, in any case."""
        lower = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lower:
                return value
        return None


@dataclass
class Reply:
    """An answer: `body` is a JSON-able object, raw bytes or None."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    reason: str | None = None

    @classmethod
    def status_error(cls, code: int, reason: str, message: str,
                     details: Obj | None = None, **kwargs: Any) -> Reply:
        return cls(code, status_body(code, reason, message, details), **kwargs)

    @classmethod
    def from_recording(cls, recording: Obj) -> Reply:
        response = recording["response"]
        headers = {k: v for k, v in response["headers"].items() if k != "Warning"}
        return cls(
            int(response["status"]), response["body"], headers,
            list(response["headers"].get("Warning") or []), response.get("reason"),
        )


Handler = Callable[[Request], "Reply | None"]


@dataclass
class _Hook:
    method: str
    path: str | re.Pattern[str]
    handler: Handler
    times: int | None  # None: for ever

    def matches(self, request: Request) -> bool:
        if self.method not in ("*", request.method):
            return False
        if isinstance(self.path, str):
            return self.path == request.path
        return self.path.fullmatch(request.path) is not None


def encode_continue(start: str, rv: int) -> str:
    """A continue token shaped like a real server's (base64url of meta.k8s.io/v1 JSON)."""
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start + "\x00"},
                     separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()


_B64URL = re.compile(r"[A-Za-z0-9_-]")


def decode_continue(token: str) -> tuple[str, int]:
    """`(start key, resourceVersion)`; ValueError with the message a real server sends."""
    for index, char in enumerate(token):
        if not _B64URL.fullmatch(char):
            raise ValueError(f"continue key is not valid: illegal base64 data at input byte {index}")
    if len(token) % 4 == 1:
        raise ValueError(
            f"continue key is not valid: illegal base64 data at input byte {len(token) - 1}"
        )
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"continue key is not valid: {exc}") from exc
    if not isinstance(data, dict) or data.get("v") != "meta.k8s.io/v1":
        raise ValueError("continue key is not valid: server does not recognize this encoded version")
    rv, start = data.get("rv"), data.get("start")
    if not isinstance(rv, int) or rv == 0:
        raise ValueError("continue key is not valid: incorrect encoded start resourceVersion")
    if not isinstance(start, str) or not start:
        raise ValueError("continue key is not valid: encoded start key empty")
    return start.removesuffix("\x00"), rv


# ---------------------------------------------------------------------------------------
# The server


class FakeApiServer:
    """A configurable kube-apiserver double on 127.0.0.1; use as a context manager."""

    def __init__(
        self,
        git_version: str = "v1.36.2",
        *,
        psp: str | None = None,
        psp_warning: bool = True,
        cronjob_versions: Iterable[str] = ("v1",),
        pdb_versions: Iterable[str] = ("v1",),
        token: str | None = DEFAULT_TOKEN,
        user: str = DEFAULT_USER,
    ) -> None:
        """`psp`: the group serving PodSecurityPolicies (`policy`, `extensions`) or None."""
        major, minor = (re.findall(r"\d+", git_version) + ["1", "0"])[:2]
        self.version_body: Obj = {
            "major": major, "minor": minor, "gitVersion": git_version,
            "gitCommit": "0" * 40, "gitTreeState": "clean", "buildDate": "<buildDate>",
            "goVersion": "go1.22.0", "compiler": "gc", "platform": "linux/amd64",
        }
        self.served = _served_default(psp, cronjob_versions, pdb_versions)
        self.psp_warning = psp_warning and psp == "policy"
        self.token = token
        self.user = user
        self.resource_version = 1000
        self.compacted_rv = 0
        self.requests: list[Request] = []
        self._sources: dict[tuple[str, str], ItemSource] = {}
        self._forbidden: set[tuple[str, str, str]] = set()
        self._hooks: list[_Hook] = []
        self._expire: dict[tuple[str, str], list[Any]] = {}
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self._ns_owners: dict[str, dict[str, set[tuple[str, str]]]] = {}
        self._ns_evaluate: NamespaceEvaluator | None = None
        self._ns_initial_manager = "kubectl-label"

    # -- objects --------------------------------------------------------------------

    def add(self, *objects: Obj) -> FakeApiServer:
        """Store objects (kind and apiVersion required; namespaced kinds need a namespace)."""
        with self._lock:
            for obj in objects:
                rtype = _rtype_for(obj)
                source = self._sources.setdefault((rtype.group, rtype.plural), StoredItems())
                if not isinstance(source, StoredItems):
                    raise TypeError(f"{rtype.plural} is served from a generated source")
                source.put(obj)
                self.resource_version += 1
        return self

    def add_all(self, objects: Iterable[Obj]) -> FakeApiServer:
        return self.add(*objects)

    def remove(self, kind: str, name: str, namespace: str = "", group: str = "") -> bool:
        with self._lock:
            for rtype in CATALOG:
                if rtype.kind == kind and rtype.group == group:
                    source = self._sources.get((rtype.group, rtype.plural))
                    if isinstance(source, StoredItems) and source.remove(namespace, name):
                        self.resource_version += 1
                        return True
        return False

    def set_source(self, group: str, plural: str, source: ItemSource) -> FakeApiServer:
        """Serve `plural` from `source` (e.g. generated pods for a benchmark)."""
        with self._lock:
            self._sources[(group, plural)] = source
            self.resource_version += 1
        return self

    def objects(self, group: str, plural: str) -> list[Obj]:
        """The stored objects of one resource, as added."""
        source = self._sources.get((group, plural))
        if isinstance(source, StoredItems):
            return [source.obj(i) for i in range(len(source))]
        return []

    # -- behaviour ------------------------------------------------------------------

    def forbid(self, plural: str, group: str = "", where: str = "*") -> FakeApiServer:
        """Answer 403 for `plural`: `where` is `*` (everywhere), `cluster` (the
        all-namespaces list and cluster-scoped requests) or a namespace name."""
        self._forbidden.add((group, plural, where))
        return self

    def unserve(self, group: str, version: str, plural: str | None = None) -> FakeApiServer:
        """Stop serving a resource (or, with `plural` None, a whole group version)."""
        self.served = {
            s for s in self.served
            if not (s[0] == group and s[1] == version and (plural is None or s[2] == plural))
        }
        return self

    def expire_once(
        self,
        plural: str,
        group: str = "",
        *,
        after_pages: int = 1,
        then: Callable[[FakeApiServer], None] | None = None,
    ) -> FakeApiServer:
        """Answer 410 Expired to the continue request after `after_pages` pages, once.

        `then` runs at that moment (e.g. to add objects, as a real cluster changes)."""
        self._expire[(group, plural)] = [after_pages, then]
        return self

    def compact(self) -> None:
        """Compact history: continue tokens issued so far answer 410 Expired."""
        with self._lock:
            self.resource_version += 1
            self.compacted_rv = self.resource_version

    def on(self, method: str, path: str | re.Pattern[str], handler: Handler,
           times: int | None = None) -> FakeApiServer:
        """Answer `method path` (exact path or regex; method `*` for any) with `handler`.

        The handler may return None to fall through to the default behaviour."""
        with self._lock:
            self._hooks.append(_Hook(method.upper(), path, handler, times))
        return self

    def respond(self, method: str, path: str | re.Pattern[str], status: int, body: Any = None,
                *, headers: dict[str, str] | None = None, warnings: Iterable[str] = (),
                times: int | None = None) -> FakeApiServer:
        """Answer `method path` with a fixed reply (e.g. a namespace dry-run PATCH)."""
        reply = Reply(status, body, dict(headers or {}), list(warnings))
        return self.on(method, path, lambda _request: reply, times)

    def serve_recording(self, recording: Obj | str, times: int | None = None) -> FakeApiServer:
        """Answer the recorded request's method and path with the recorded response."""
        data = load_recording(recording) if isinstance(recording, str) else recording
        reply = Reply.from_recording(data)
        request = data["request"]
        return self.on(request["method"], request["path"], lambda _r: reply, times)

    def fail(self, path: str | re.Pattern[str], status: int = 503, times: int = 1,
             method: str = "GET", retry_after: int | None = None) -> FakeApiServer:
        """Answer `times` requests with a 5xx (or 429) `Status`, then behave normally."""
        reasons = {429: "TooManyRequests", 500: "InternalError", 502: "InternalError",
                   503: "ServiceUnavailable", 504: "Timeout"}
        messages = {
            429: "the server has received too many requests and has asked us to try again "
                 "later",
            500: "Internal error occurred: etcdserver: request timed out",
            503: "the server is currently unable to handle the request",
            504: "the server was unable to return a response in the time allotted, but may "
                 "still be processing the request",
        }
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        reply = Reply.status_error(status, reasons.get(status, "InternalError"),
                                   messages.get(status, "Internal error occurred"),
                                   headers=headers)
        return self.on(method, path, lambda _r: reply, times)

    def delay(self, path: str | re.Pattern[str], seconds: float,
              method: str = "GET") -> FakeApiServer:
        """Wait `seconds` before answering `path` (interrupted when the server stops)."""
        def wait(_request: Request) -> Reply | None:
            self._stopping.wait(seconds)
            return None
        return self.on(method, path, wait)

    # -- namespace writes -----------------------------------------------------------

    def serve_namespace_patches(
        self,
        evaluate: NamespaceEvaluator | None = None,
        *,
        initial_manager: str = "kubectl-label",
    ) -> FakeApiServer:
        """Answer `PATCH /api/v1/namespaces/NAME` as a real server does, storing the result
        unless `dryRun=All`.

        JSON merge patches (`null` removes a label; an Update by `fieldManager`) and
        server-side apply (`application/apply-patch+yaml`: `fieldManager` required; a label
        another manager owns and the apply changes is a 409 `FieldManagerConflict` unless
        `force=true`; labels the manager applied before and now omits are removed), with
        `metadata.resourceVersion` as a precondition (409), 403 from `forbid("namespaces")`,
        404 for a missing namespace and 422 for an invalid Pod Security label value. Labels
        present before the first write are owned by `initial_manager`; answers carry
        `managedFields`. `evaluate(name, old_labels, new_labels)` returns the `Warning`
        texts (PodSecurity's check of existing pods), sent quoted as a real server does.
        """
        with self._lock:
            source = self._sources.get(("", "namespaces"))
            if isinstance(source, StoredItems):
                for index in range(len(source)):
                    obj = json.loads(json.dumps(source.obj(index)))
                    obj["metadata"].setdefault("resourceVersion", str(self.resource_version))
                    source.put(obj)
        self._ns_evaluate = evaluate
        self._ns_initial_manager = initial_manager
        return self.on("PATCH", _NAMESPACE_PATH, self._patch_namespace)

    def namespace_labels(self, name: str) -> dict[str, str]:
        """The stored labels of namespace `name` ({} when it does not exist)."""
        with self._lock:
            found = self._stored_namespace(name)
        return dict((found or {}).get("metadata", {}).get("labels") or {})

    def _stored_namespace(self, name: str) -> Obj | None:
        source = self._sources.get(("", "namespaces"))
        if not isinstance(source, StoredItems):
            return None
        index = source.find("", name)
        return json.loads(json.dumps(source.obj(index))) if index is not None else None

    def _patch_namespace(self, request: Request) -> Reply:
        match = _NAMESPACE_PATH.fullmatch(request.path)
        assert match is not None  # the hook's path
        name = match.group(1)
        rtype = _BY_PLURAL[("", "namespaces")]
        denied = self._denied(rtype, "", name, "patch")
        if denied is not None:
            return denied
        content_type = (request.header("Content-Type") or "").split(";")[0].strip()
        dry_run = request.query.get("dryRun") == "All"
        manager = request.query.get("fieldManager") or ""
        with self._lock:
            stored = self._stored_namespace(name)
            if stored is None:
                return Reply.status_error(404, "NotFound", f'namespaces "{name}" not found',
                                          {"name": name, "kind": "namespaces"})
            metadata = stored["metadata"]
            old = dict(metadata.get("labels") or {})
            owners = {k: set(v) for k, v in self._ns_owners.get(name, {}).items()}
            for key in old:
                owners.setdefault(key, {(self._ns_initial_manager, "Update")})
            try:
                body = request.json() if content_type != APPLY_PATCH else _load_apply(request)
            except ValueError as exc:
                return Reply.status_error(400, "BadRequest", f"error decoding patch: {exc}")
            if not isinstance(body, dict):
                return Reply.status_error(400, "BadRequest", "the patch is not an object")
            patch_meta = body.get("metadata") or {}
            wanted_rv = patch_meta.get("resourceVersion")
            if wanted_rv and metadata.get("resourceVersion") and \
                    wanted_rv != metadata["resourceVersion"]:
                return Reply.status_error(
                    409, "Conflict",
                    f'Operation cannot be fulfilled on namespaces "{name}": the object has been '
                    "modified; please apply your changes to the latest version and try again",
                    {"name": name, "kind": "namespaces"})
            new = dict(old)
            if content_type == MERGE_PATCH:
                updater = (manager or "unknown", "Update")
                for key, value in (patch_meta.get("labels") or {}).items():
                    if value is None:
                        new.pop(key, None)
                        owners.pop(key, None)
                    elif old.get(key) != value:
                        new[key] = str(value)
                        owners[key] = {updater}
            elif content_type == APPLY_PATCH:
                if not manager:
                    return Reply.status_error(
                        400, "BadRequest",
                        f"PATCH {request.path}: fieldManager is required for apply requests")
                if body.get("apiVersion") != "v1" or body.get("kind") != "Namespace" or \
                        patch_meta.get("name") != name:
                    return Reply.status_error(
                        400, "BadRequest", "the applied object is not this Namespace")
                applier = (manager, "Apply")
                applied = {k: str(v) for k, v in (patch_meta.get("labels") or {}).items()}
                conflicts = [
                    (key, other) for key, value in sorted(applied.items())
                    if key in old and old[key] != value
                    for other in sorted(owners.get(key, set()) - {applier})
                ]
                if conflicts and request.query.get("force") != "true":
                    causes = [{"reason": "FieldManagerConflict",
                               "message": f'conflict with "{m}"'
                               + (" using v1" if op == "Update" else ""),
                               "field": f".metadata.labels.{key}"}
                              for key, (m, op) in conflicts]
                    lines = "\n".join(f"- {c['message']}: {c['field']}" for c in causes)
                    return Reply.status_error(
                        409, "Conflict",
                        f"Apply failed with {len(causes)} conflict"
                        f"{'s' if len(causes) != 1 else ''}: {lines}",
                        {"causes": causes})
                for key, value in applied.items():
                    if old.get(key) != value:
                        new[key] = value
                        owners[key] = {applier}
                    else:
                        owners.setdefault(key, set()).add(applier)
                for key in sorted(owners):
                    if applier in owners[key] and key not in applied:
                        owners[key].discard(applier)
                        if not owners[key]:
                            del owners[key]
                            new.pop(key, None)
            else:
                return Reply.status_error(
                    415, "UnsupportedMediaType",
                    f"the body of the request was in an unknown format - accepted media types "
                    f"include: {MERGE_PATCH}, {APPLY_PATCH}")
            for key, value in sorted(new.items()):
                problem = _pod_security_label_problem(key, value) if old.get(key) != value \
                    else None
                if problem:
                    return Reply.status_error(
                        422, "Invalid",
                        f'Namespace "{name}" is invalid: metadata.labels[{key}]: Invalid value: '
                        f'"{value}": {problem}',
                        {"name": name, "kind": "Namespace", "causes": [
                            {"reason": "FieldValueInvalid",
                             "message": f'Invalid value: "{value}": {problem}',
                             "field": f"metadata.labels[{key}]"}]})
            metadata["labels"] = new
            metadata["managedFields"] = _managed_fields(owners)
            if not dry_run and new != old:
                self.resource_version += 1
                metadata["resourceVersion"] = str(self.resource_version)
                self._ns_owners[name] = owners
                self.add(stored)
            elif not dry_run:
                self._ns_owners[name] = owners
        texts = self._ns_evaluate(name, old, new) if self._ns_evaluate else []
        return Reply(200, stored, warnings=[_quote_warning(t) for t in texts])

    # -- recorded requests ----------------------------------------------------------

    def non_get_requests(self) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.method != "GET"]

    def requests_to(self, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    # -- lifetime -------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("server not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def address(self) -> str:
        return self.url.removeprefix("http://")

    def start(self) -> FakeApiServer:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _Server(("127.0.0.1", 0), _Handler, self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
            name="fake-apiserver", daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()  # joins the handler threads
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> FakeApiServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- answering ------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            hooks = [h for h in self._hooks if h.matches(request)]
        if self.token is not None:
            auth = request.header("Authorization")
            if auth != f"Bearer {self.token}":
                return Reply.status_error(401, "Unauthorized", "Unauthorized")
        for hook in hooks:
            with self._lock:
                if hook.times is not None:
                    if hook.times <= 0:
                        continue
                    hook.times -= 1
            reply = hook.handler(request)
            if reply is not None:
                return reply
        if request.method == "GET":
            return self._get(request)
        return self._other(request)

    def _not_found(self) -> Reply:
        return Reply.status_error(404, "NotFound", NOT_FOUND_MESSAGE, {})

    def _get(self, request: Request) -> Reply:
        path = request.path.rstrip("/") or "/"
        if path == "/version":
            return Reply(200, self.version_body)
        if path == "/api":
            return Reply(200, {
                "kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [
                    {"clientCIDR": "0.0.0.0/0", "serverAddress": self.address}
                ],
            })
        if path == "/apis":
            return Reply(200, {"kind": "APIGroupList", "apiVersion": "v1",
                               "groups": [self._group(g) for g in self._groups()]})
        parts = path.strip("/").split("/")
        if parts[0] == "apis" and len(parts) == 2:
            return Reply(200, self._group(parts[1])) if parts[1] in self._groups() \
                else self._not_found()
        located = self._locate(parts)
        if located is None:
            return self._not_found()
        group, version, rest = located
        if not rest:
            return self._discovery(group, version)
        target = self._target(group, version, rest)
        if target is None:
            return self._not_found()
        rtype, namespace, name = target
        denied = self._denied(rtype, namespace, name, "get" if name else "list")
        if denied is not None:
            return denied
        reply = (self._get_one(rtype, version, namespace, name) if name
                 else self._list(rtype, version, namespace, request))
        if self.psp_warning and rtype.plural == "podsecuritypolicies" and group == "policy":
            reply.warnings.append(PSP_DEPRECATION_WARNING)
        return reply

    def _other(self, request: Request) -> Reply:
        parts = request.path.strip("/").split("/")
        located = self._locate(parts)
        target = self._target(*located) if located and located[2] else None
        if target is None:
            return self._not_found()
        rtype, namespace, name = target
        verb = {"POST": "create", "PUT": "update", "PATCH": "patch",
                "DELETE": "delete"}.get(request.method, request.method.lower())
        denied = self._denied(rtype, namespace, name, verb)
        if denied is not None:
            return denied
        return Reply.status_error(
            405, "MethodNotAllowed",
            f"the fake apiserver has no answer for {request.method} {request.path}; "
            f"configure one with on()/respond()", {},
        )

    def _groups(self) -> list[str]:
        return sorted({g for g, _v, _p in self.served if g})

    def _group(self, group: str) -> Obj:
        versions = sorted({v for g, v, _p in self.served if g == group},
                          key=lambda v: (not v.startswith("v1") or "beta" in v, v))
        entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": entries,
                "preferredVersion": entries[0] if entries else {}}

    def _locate(self, parts: list[str]) -> tuple[str, str, list[str]] | None:
        if len(parts) >= 2 and parts[0] == "api" and parts[1] == "v1":
            group, version, rest = "", "v1", parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return None
        if not any(g == group and v == version for g, v, _p in self.served):
            return None
        return group, version, rest

    def _target(self, group: str, version: str,
                rest: list[str]) -> tuple[ResourceType, str, str] | None:
        namespace = ""
        if len(rest) >= 3 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        if len(rest) not in (1, 2):
            return None
        plural, name = rest[0], rest[1] if len(rest) == 2 else ""
        rtype = _BY_PLURAL.get((group, plural))
        if rtype is None or (group, version, plural) not in self.served:
            return None
        if namespace and not rtype.namespaced:
            return None
        return rtype, namespace, name

    def _discovery(self, group: str, version: str) -> Reply:
        resources = []
        for g, v, plural in sorted(self.served):
            if g == group and v == version:
                rtype = _BY_PLURAL[(g, plural)]
                entry: Obj = {"name": plural, "singularName": "", "namespaced": rtype.namespaced,
                              "kind": rtype.kind, "verbs": list(_ALL_VERBS)}
                if rtype.short_names:
                    entry["shortNames"] = list(rtype.short_names)
                resources.append(entry)
        group_version = f"{group}/{version}" if group else version
        return Reply(200, {"kind": "APIResourceList", "apiVersion": "v1",
                           "groupVersion": group_version, "resources": resources})

    def _denied(self, rtype: ResourceType, namespace: str, name: str, verb: str) -> Reply | None:
        rules = {w for g, p, w in self._forbidden if g == rtype.group and p == rtype.plural}
        if not rules:
            return None
        cluster_scope = not namespace and not (rtype.plural == "namespaces" and name)
        if not ("*" in rules or (cluster_scope and "cluster" in rules) or namespace in rules):
            return None
        subject = f'{rtype.qualified} "{name}"' if name else rtype.qualified
        if rtype.plural == "namespaces" and name:
            scope = f'in the namespace "{name}"'
        elif namespace:
            scope = f'in the namespace "{namespace}"'
        else:
            scope = "at the cluster scope"
        message = (f'{subject} is forbidden: User "{self.user}" cannot {verb} resource '
                   f'"{rtype.plural}" in API group "{rtype.group}" {scope}')
        details: Obj = {}
        if name:
            details["name"] = name
        if rtype.group:
            details["group"] = rtype.group
        details["kind"] = rtype.plural
        return Reply.status_error(403, "Forbidden", message, details)

    def _get_one(self, rtype: ResourceType, version: str, namespace: str, name: str) -> Reply:
        with self._lock:
            source = self._sources.get((rtype.group, rtype.plural))
            data: bytes | None = None
            if source is not None:
                pos = bisect.bisect_left(range(len(source)), sort_key(namespace, name),
                                         key=lambda i: sort_key(*source.key(i)))
                if pos < len(source) and source.key(pos) == (namespace, name):
                    data = source.item(pos)
        if data is not None:
            api_version = f"{rtype.group}/{version}" if rtype.group else version
            head = json.dumps({"kind": rtype.kind, "apiVersion": api_version},
                              separators=(",", ":")).encode()
            return Reply(200, head[:-1] + (b"," + data[1:] if data != b"{}" else b"}"))
        details: Obj = {"name": name}
        if rtype.group:
            details["group"] = rtype.group
        details["kind"] = rtype.plural
        return Reply.status_error(404, "NotFound", f'{rtype.qualified} "{name}" not found',
                                  details)

    def _list(self, rtype: ResourceType, version: str, namespace: str,
              request: Request) -> Reply:
        query = request.query
        selector = _parse_selector(query.get("labelSelector", ""))
        fields = _parse_selector(query.get("fieldSelector", ""))
        token = query.get("continue", "")
        try:
            limit = int(query.get("limit") or 0)
        except ValueError:
            return Reply.status_error(400, "BadRequest", "invalid limit", None)
        with self._lock:
            source = self._sources.get((rtype.group, rtype.plural))
            rv = self.resource_version
            view: list[int] | range
            count = len(source) if source is not None else 0
            labels_of = getattr(source, "labels", None)
            if source is None:
                view = []
            elif not namespace and not selector and not fields:
                view = range(count)
            else:
                view = [
                    i for i in range(count)
                    if (not namespace or source.key(i)[0] == namespace)
                    and (not selector or _matches(selector, labels_of(i) if labels_of else {}))
                    and (not fields or _fields_match(fields, source, i))
                ]

            def view_key(i: int) -> str:
                assert source is not None
                ns, nm = source.key(i)
                return nm if namespace else sort_key(ns, nm)

            start = 0
            if token:
                try:
                    start_key, token_rv = decode_continue(token)
                except ValueError as exc:
                    return Reply.status_error(400, "BadRequest", f"invalid continue token: {exc}")
                expire = self._expire.get((rtype.group, rtype.plural))
                if expire is not None:
                    expire[0] -= 1
                    if expire[0] <= 0:
                        del self._expire[(rtype.group, rtype.plural)]
                        if expire[1] is not None:
                            expire[1](self)
                        self.compact()
                if token_rv < self.compacted_rv:
                    return Reply(410, status_body(
                        410, "Expired", EXPIRED_MESSAGE,
                        metadata={"continue": encode_continue(start_key, -1)},
                    ))
                start = bisect.bisect_left(view, start_key + "\x00", key=view_key)
            end = len(view) if limit <= 0 else min(len(view), start + limit)
            items = [source.item(view[i]) for i in range(start, end)] if source else []
            metadata: Obj = {"resourceVersion": str(rv)}
            if end < len(view):
                metadata["continue"] = encode_continue(view_key(view[end - 1]), rv)
                if not selector and not fields:
                    metadata["remainingItemCount"] = len(view) - end
        api_version = f"{rtype.group}/{version}" if rtype.group else version
        head = json.dumps({"kind": f"{rtype.kind}List", "apiVersion": api_version,
                           "metadata": metadata}, separators=(",", ":")).encode()
        body = head[:-1] + b',"items":[' + b",".join(items) + b"]}"
        return Reply(200, body)


MERGE_PATCH = "application/merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
_NAMESPACE_PATH = re.compile(r"/api/v1/namespaces/([^/]+)")
_PSA_LEVELS = ("privileged", "baseline", "restricted")
_PSA_VERSION = re.compile(r"^(latest|v1\.(0|[1-9][0-9]*))$")

#: `evaluate(name, old_labels, new_labels)` → Warning texts of a namespace write.
NamespaceEvaluator = Callable[[str, dict[str, str], dict[str, str]], list[str]]


def _load_apply(request: Request) -> Any:
    """An apply body: JSON, or YAML (JSON is YAML)."""
    text = request.body.decode("utf-8")
    try:
        return json.loads(text)
    except ValueError:
        import yaml

        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValueError(str(exc)) from None


def _pod_security_label_problem(key: str, value: str) -> str | None:
    """Why PodSecurity admission rejects a `pod-security.kubernetes.io/*` value, or None."""
    if not key.startswith("pod-security.kubernetes.io/"):
        return None
    if key.endswith("-version"):
        return None if _PSA_VERSION.match(value) else \
            "must be 'latest' or 'v1.x'"
    return None if value in _PSA_LEVELS else "must be one of " + ", ".join(_PSA_LEVELS)


def _managed_fields(owners: dict[str, set[tuple[str, str]]]) -> list[Obj]:
    """`managedFields` entries for label ownership, one per manager and operation."""
    by_manager: dict[tuple[str, str], list[str]] = {}
    for key, managers in sorted(owners.items()):
        for manager in managers:
            by_manager.setdefault(manager, []).append(key)
    return [
        {"manager": manager, "operation": operation, "apiVersion": "v1", "time": "<time>",
         "fieldsType": "FieldsV1",
         "fieldsV1": {"f:metadata": {"f:labels": {f"f:{k}": {} for k in keys}}}}
        for (manager, operation), keys in sorted(by_manager.items())
    ]


def _quote_warning(text: str) -> str:
    """A `Warning` header value as a real server writes it: `299 - "text"`."""
    return '299 - "' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _parse_selector(text: str) -> list[tuple[str, str, str | None]]:
    """`key=value`, `key==value`, `key!=value`, `key`, `!key` terms (no set syntax)."""
    terms: list[tuple[str, str, str | None]] = []
    for raw in filter(None, (t.strip() for t in text.split(","))):
        if "!=" in raw:
            key, value = raw.split("!=", 1)
            terms.append(("!=", key.strip(), value.strip()))
        elif "=" in raw:
            key, value = raw.replace("==", "=").split("=", 1)
            terms.append(("=", key.strip(), value.strip()))
        elif raw.startswith("!"):
            terms.append(("!", raw[1:].strip(), None))
        else:
            terms.append(("exists", raw, None))
    return terms


def _fields_match(selector: list[tuple[str, str, str | None]], source: ItemSource,
                  index: int) -> bool:
    """Field selectors (`type=helm.sh/release.v1`, `metadata.name!=x`) on stored objects."""
    obj_of = getattr(source, "obj", None)
    if obj_of is None:
        return False
    value: Any = obj_of(index)
    fields: dict[str, str] = {}
    for _op, key, _value in selector:
        found: Any = value
        for part in key.split("."):
            found = found.get(part) if isinstance(found, dict) else None
        if found is not None:
            fields[key] = str(found)
    return _matches(selector, fields)


def _matches(selector: list[tuple[str, str, str | None]], labels: dict[str, str]) -> bool:
    for op, key, value in selector:
        if op == "=" and labels.get(key) != value:
            return False
        if op == "!=" and labels.get(key) == value:
            return False
        if op == "exists" and key not in labels:
            return False
        if op == "!" and key in labels:
            return False
    return True


class _Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler],
                 fake: FakeApiServer) -> None:
        self.fake = fake
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, handler)

    def close_connections(self) -> None:
        with self.connections_lock:
            for conn in list(self.connections):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away (timeouts, closed pools) is no error of the server's.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # As Go's net/http: no Nagle delay between the header and body writes.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.connections_lock:
                self.server.connections.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def _serve(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(
            method=self.command,
            path=split.path,
            query=dict(parse_qsl(split.query, keep_blank_values=True)),
            headers=dict(self.headers.items()),
            body=body,
            raw_query=split.query,
        )
        reply = self.server.fake.handle(request)
        if isinstance(reply.body, bytes):
            data = reply.body
        elif reply.body is None:
            data = b""
        else:
            data = json.dumps(reply.body, separators=(",", ":")).encode()
        try:
            phrase = reply.reason or HTTPStatus(reply.status).phrase
        except ValueError:
            phrase = "Unknown"
        self.send_response_only(reply.status, phrase)
        headers = {
            "Audit-Id": str(uuid.uuid4()),
            "Cache-Control": "no-cache, private",
            "Content-Type": "application/json",
            "X-Kubernetes-Pf-Flowschema-Uid": "00000000-0000-0000-0000-000000000001",
            "X-Kubernetes-Pf-Prioritylevel-Uid": "00000000-0000-0000-0000-000000000002",
            **reply.headers,
        }
        for name, value in headers.items():
            self.send_header(name, value)
        for warning in reply.warnings:
            self.send_header("Warning", warning)
        self.send_header("Date", formatdate(time.time(), usegmt=True))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = _serve
    do_POST = _serve
    do_PUT = _serve
    do_PATCH = _serve
    do_DELETE = _serve
    do_HEAD = _serve
    do_OPTIONS = _serve


# ---------------------------------------------------------------------------------------
# Presets and kubeconfig


def _v124_objects() -> Iterator[Obj]:
    for page in ("v1.24/psp-list-page1.json", "v1.24/psp-list-page2.json"):
        yield from recorded_items(page)
    yield from recorded_items("v1.24/clusterroles-list-psp.json")
    yield from recorded_items("v1.24/rolebindings-list-team-a.json")
    yield from recorded_items("v1.24/crb-psp-privileged-node-agent.json")


def v1_24(**kwargs: Any) -> FakeApiServer:
    """A 1.24-era server serving PodSecurityPolicies, loaded with the recorded PSPs,
    their ClusterRoles, the team-a RoleBindings, the node-agent ClusterRoleBinding, and
    namespaces `default`, `kube-system`, `team-a`, `infra`."""
    kwargs.setdefault("psp", "policy")
    kwargs.setdefault("cronjob_versions", ("v1", "v1beta1"))
    kwargs.setdefault("pdb_versions", ("v1", "v1beta1"))
    server = FakeApiServer("v1.24.0", **kwargs)
    server.version_body = load_recording("v1.24/version.json")["response"]["body"]
    server.serve_recording("v1.24/policy-group.json")
    server.serve_recording("v1.24/psp-group-served.json")
    server.add(*(namespace(n) for n in ("default", "kube-system", "team-a", "infra")))
    server.add_all(_v124_objects())
    return server


def v1_36(**kwargs: Any) -> FakeApiServer:
    """A 1.36 server: no PodSecurityPolicy API (404 as recorded); namespaces `default`
    and `kube-system`."""
    server = FakeApiServer("v1.36.2", **kwargs)
    server.version_body = load_recording("version.json")["response"]["body"]
    server.serve_recording("policy-group.json")
    server.serve_recording("psp-group-missing.json")
    server.add(*(namespace(n) for n in ("default", "kube-system")))
    return server


def namespace(name: str, labels: dict[str, str] | None = None) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name,
                     "labels": {"kubernetes.io/metadata.name": name, **(labels or {})}},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def pod(name: str, ns: str = "default", *, labels: dict[str, str] | None = None,
        annotations: dict[str, str] | None = None, spec: Obj | None = None) -> Obj:
    """A pod shaped like a stored one (status, defaults, service account token volume)."""
    metadata: Obj = {"name": name, "namespace": ns, "uid": f"uid-{ns}-{name}",
                     "resourceVersion": "1", "creationTimestamp": "2024-05-01T10:00:00Z",
                     "labels": labels or {"app": name}}
    if annotations:
        metadata["annotations"] = annotations
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": spec or {
            "volumes": [{"name": "kube-api-access", "projected": {"sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}],
                "defaultMode": 420}}],
            "containers": [{
                "name": "app", "image": "registry.example/app:1.0", "resources": {},
                "env": [{"name": "MODE", "value": "prod"}],
                "volumeMounts": [{"name": "kube-api-access", "readOnly": True,
                                  "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}],
                "imagePullPolicy": "IfNotPresent",
            }],
            "restartPolicy": "Always",
            "serviceAccountName": "default",
            "serviceAccount": "default",
            "securityContext": {},
        },
        "status": {"phase": "Running", "podIP": "10.0.0.1"},
    }


def write_kubeconfig(tmp_path: Path | str, server_url: str, context: str = "test", *,
                     token: str | None = DEFAULT_TOKEN, insecure: bool = True,
                     filename: str = "kubeconfig", current: bool = True) -> Path:
    """Write a kubeconfig for `server_url` with one context/cluster/user named `context`."""
    cluster: Obj = {"server": server_url}
    if insecure:
        cluster["insecure-skip-tls-verify"] = True
    user: Obj = {"token": token} if token else {}
    config: Obj = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": cluster}],
        "users": [{"name": context, "user": user}],
        "contexts": [{"name": context,
                      "context": {"cluster": context, "user": context, "namespace": "default"}}],
        "preferences": {},
    }
    if current:
        config["current-context"] = context
    path = Path(tmp_path) / filename
    path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    return path


def closed_port_url() -> str:
    """An http URL on 127.0.0.1 where nothing listens."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
