"""Reading a live cluster: the only module of the project that talks to a kube-apiserver.

Owns finding and loading credentials (`--kubeconfig`, `--context`, `KUBECONFIG`,
`~/.kube/config`, in-cluster service account), `ClusterClient` with raw requests that keep
bodies exactly as served (camelCase, `PodSecurityPolicy` included, which the typed client
no longer models) and every `Warning` header (which typed clients drop), and
`read_inventory`, a read-only, paginated, memory-bounded read of everything a migration
needs into an `Inventory`.

The read path sends GET requests only. What the caller may not read (403) or what the
server keeps failing on (5xx) becomes an `Unreadable` entry saying what that leaves
unknown; what makes any read meaningless (unreachable server, rejected credentials, broken
kubeconfig) raises `SourceError` with one line naming the file, context or server.
"""

from __future__ import annotations

import contextlib
import gc
import ipaddress
import json
import os
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import urllib3
import yaml
from kubernetes import client as _client  # type: ignore[import-untyped, unused-ignore]
from kubernetes import config as _config  # type: ignore[import-untyped, unused-ignore]

from migrator.errors import SourceError
from migrator.model.identity import ClusterIdentity
from migrator.model.inventory import Inventory, Obj, Unreadable
from migrator.model.workloads import share_parts, slim_pod

#: Items per list page, as kubectl uses.
PAGE_SIZE = 500
#: How often a list is restarted from its first page after a 410 Gone.
MAX_EXPIRED_RESTARTS = 3
#: Pauses before the retries of a request the server answered 429 or 5xx.
RETRY_DELAYS = (0.25, 1.0)
#: Seconds each request may take (`--request-timeout` sets it for the whole run).
DEFAULT_TIMEOUT = 30.0
#: Longest `Retry-After` honoured before a retry, in seconds.
MAX_RETRY_AFTER = 5.0

# The Kubernetes client is untyped: use it through `Any`.
k8s_client: Any = _client
k8s_config: Any = _config

_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_JSON_TYPE = re.compile(r"^application/(?:[\w.+-]+\+)?json\s*(?:;.*)?$", re.IGNORECASE)

ProgressCallback = Callable[[str, int], None]


# ---------------------------------------------------------------------------------------
# Raw responses


@dataclass(frozen=True, slots=True)
class RawResponse:
    """One HTTP answer as the server sent it.

    `headers` maps lower-case header names to every value received, in order, so all
    `Warning` headers survive (`warnings` lists them; `warning_texts` decodes them).
    """

    status: int
    reason: str
    headers: Mapping[str, list[str]]
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status <= 299

    def header(self, name: str) -> str | None:
        """The first value of header `name` (any case), or None."""
        values = self.headers.get(name.lower())
        return values[0] if values else None

    @property
    def warnings(self) -> list[str]:
        """Every `Warning` header value, raw (`299 - "text"`), in the order received."""
        return list(self.headers.get("warning", []))

    def warning_texts(self) -> list[str]:
        """The text of every warning, unquoted (RFC 7234 `warn-text`)."""
        texts: list[str] = []
        for value in self.warnings:
            texts.extend(text for _code, _agent, text in parse_warning_header(value))
        return texts

    def json(self) -> Any:
        """The body parsed as JSON; ValueError when it is not JSON."""
        return json.loads(self.body)

    def status_message(self) -> str:
        """The `message` of a `Status` body, else the HTTP reason phrase."""
        try:
            body = self.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"]:
            return _one_line(body["message"])
        text = self.body[:200].decode("utf-8", "replace").strip()
        return _one_line(text) if text and not text.startswith("{") else self.reason

    def status_reason(self) -> str:
        """The `reason` of a `Status` body (`Expired`, `Forbidden`, …), else ''."""
        try:
            body = self.json()
        except ValueError:
            return ""
        reason = body.get("reason") if isinstance(body, dict) else None
        return reason if isinstance(reason, str) else ""


_WARNING_VALUE = re.compile(r'\s*(\d{3})\s+(\S+)\s+"((?:[^"\\]|\\.)*)"(?:\s+"[^"]*")?\s*(?:,|$)')


def parse_warning_header(value: str) -> list[tuple[int, str, str]]:
    """`(code, agent, text)` of each warning in one `Warning` header value.

    Values that do not follow RFC 7234 come back whole as `(299, "-", value)`.
    """
    out: list[tuple[int, str, str]] = []
    pos = 0
    while pos < len(value):
        match = _WARNING_VALUE.match(value, pos)
        if match is None or match.end() == pos:
            return [(299, "-", value.strip())] if not out else out
        text = re.sub(r"\\(.)", r"\1", match.group(3))
        out.append((int(match.group(1)), match.group(2), text))
        pos = match.end()
    return out


# ---------------------------------------------------------------------------------------
# Connecting


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _transport_reason(exc: BaseException) -> str:
    """A short, one-line cause of a failed connection or read."""
    seen: set[int] = set()
    current: BaseException | None = exc
    last = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        last = current
        if isinstance(current, urllib3.exceptions.NameResolutionError):
            return "cannot resolve the server's host name"
        if isinstance(current, ConnectionRefusedError):
            return "connection refused"
        if isinstance(current, ConnectionResetError):
            return "connection reset by the server"
        if isinstance(current, (ssl.SSLError, urllib3.exceptions.SSLError)):
            return f"TLS error: {_one_line(str(current))}"
        if isinstance(current, urllib3.exceptions.MaxRetryError) and current.reason is not None:
            current = current.reason
            continue
        if isinstance(current, urllib3.exceptions.NewConnectionError):
            # A subclass of ConnectTimeoutError for history's sake: look at its cause first.
            cause = current.__cause__ or current.__context__
            if cause is not None and id(cause) not in seen:
                current = cause
                continue
            text = str(current)
            marker = "Failed to establish a new connection: "
            return _one_line(text.split(marker, 1)[1] if marker in text else text)
        if isinstance(current, (urllib3.exceptions.TimeoutError, socket.timeout, TimeoutError)):
            return "timed out"
        if isinstance(current, OSError) and current.errno is not None:
            return _one_line(current.strerror or os.strerror(current.errno))
        current = current.__cause__ or current.__context__
    text = _one_line(str(last))
    return text or type(last).__name__


@dataclass(frozen=True, slots=True)
class _Credentials:
    """Where a configuration came from, for messages and origins."""

    source: str  # kubeconfig path(s) or "in-cluster"
    context: str | None


def _kubeconfig_paths(value: str) -> list[str]:
    return [os.path.expanduser(p) for p in value.split(os.pathsep) if p]


def _read_kubeconfig(path_value: str) -> dict[str, Any]:
    """The first readable kubeconfig mapping, to check contexts before loading."""
    for path in _kubeconfig_paths(path_value):
        if not os.path.exists(path):
            continue
        try:
            with open(path, encoding="utf-8") as handle:
                data = yaml.safe_load(handle)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or "malformed YAML"
            raise SourceError(f"kubeconfig {path}:{where} invalid YAML: {problem}") from exc
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise SourceError(f"kubeconfig {path}: cannot read: {_one_line(reason)}") from exc
        if not isinstance(data, dict):
            raise SourceError(f"kubeconfig {path}: not a kubeconfig (no clusters/contexts/users)")
        return data
    return {}


def _contexts_of(path_value: str) -> tuple[list[str], str | None]:
    """Context names across every file in `path_value` and the effective current context."""
    names: list[str] = []
    current: str | None = None
    for path in _kubeconfig_paths(path_value):
        if not os.path.exists(path):
            continue
        data = _read_kubeconfig(path)
        contexts = data.get("contexts")
        contexts = [] if contexts is None else contexts
        if not isinstance(contexts, list):
            raise SourceError(f"kubeconfig {path}: `contexts` is not a list")
        for entry in contexts:
            if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                if entry["name"] not in names:
                    names.append(entry["name"])
        if current is None and isinstance(data.get("current-context"), str):
            current = data["current-context"] or None
    return names, current


def _load_kubeconfig(path_value: str, context: str | None, shown: str) -> tuple[Any, str]:
    names, current = _contexts_of(path_value)
    chosen = context or current
    if chosen is None:
        available = ", ".join(names) if names else "none"
        raise SourceError(
            f"kubeconfig {shown}: no current context; pass --context (available: {available})"
        )
    if chosen not in names:
        available = ", ".join(names) if names else "none"
        raise SourceError(
            f"kubeconfig {shown}: no context named {chosen!r} (available: {available})"
        )
    configuration = k8s_client.Configuration()
    try:
        k8s_config.load_kube_config(
            config_file=path_value,
            context=chosen,
            client_configuration=configuration,
            persist_config=False,
        )
    except SourceError:
        raise
    except Exception as exc:  # the loader raises many types for one bad file
        message = _one_line(str(exc)) or type(exc).__name__
        message = message.replace("Invalid kube-config file. ", "")
        raise SourceError(f"kubeconfig {shown}, context {chosen!r}: {message}") from exc
    if not getattr(configuration, "host", None):
        raise SourceError(f"kubeconfig {shown}, context {chosen!r}: the cluster has no server")
    return configuration, chosen


def _load_in_cluster() -> Any:
    configuration = k8s_client.Configuration()
    try:
        k8s_config.load_incluster_config(client_configuration=configuration)
    except Exception as exc:
        raise SourceError(f"in-cluster configuration: {_one_line(str(exc))}") from exc
    return configuration


def _resolve_configuration(
    kubeconfig: str | None, context: str | None
) -> tuple[Any, _Credentials]:
    if kubeconfig is not None:
        path = os.path.expanduser(kubeconfig)
        if not os.path.isfile(path):
            what = "is a directory" if os.path.isdir(path) else "no such file"
            raise SourceError(f"kubeconfig {kubeconfig}: {what}")
        configuration, chosen = _load_kubeconfig(path, context, kubeconfig)
        return configuration, _Credentials(kubeconfig, chosen)
    env = os.environ.get("KUBECONFIG", "")
    if env.strip(os.pathsep):
        existing = [p for p in _kubeconfig_paths(env) if os.path.isfile(p)]
        if not existing:
            raise SourceError(f"KUBECONFIG={env}: no such file")
        configuration, chosen = _load_kubeconfig(env, context, env)
        return configuration, _Credentials(env, chosen)
    default = os.path.expanduser(os.path.join("~", ".kube", "config"))
    if os.path.isfile(default):
        configuration, chosen = _load_kubeconfig(default, context, default)
        return configuration, _Credentials(default, chosen)
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        if context:
            raise SourceError(f"no kubeconfig found for context {context!r} (running in-cluster)")
        return _load_in_cluster(), _Credentials("in-cluster", None)
    raise SourceError(
        f"no kubeconfig: pass --kubeconfig, set KUBECONFIG or create {default}"
    )


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def connect(
    kubeconfig: str | None = None,
    context: str | None = None,
    timeout: float | None = None,
    *,
    probe: bool = True,
) -> ClusterClient:
    """A client for the cluster named by `kubeconfig`/`context` (see module docstring).

    Looks at `kubeconfig`, then `KUBECONFIG`, then `~/.kube/config`, then the in-cluster
    service account. With `probe` (the default) the server is asked for `/version` at once,
    so an unreachable server or rejected credentials fail here, as a `SourceError`.
    """
    configuration, credentials = _resolve_configuration(kubeconfig, context)
    # Connection failures are retried here a little; HTTP statuses are handled by callers.
    configuration.retries = urllib3.util.Retry(
        total=2, connect=2, read=0, status=0, other=0, redirect=3, backoff_factor=0.2
    )
    if (configuration.proxy and getattr(configuration, "_proxy_from_env", False)
            and _is_loopback(str(configuration.host))):
        # As kubectl does: a proxy from the environment never applies to loopback servers.
        configuration.proxy = None
    if not configuration.verify_ssl:
        # The kubeconfig asked for insecure-skip-tls-verify: honour it quietly, as kubectl does.
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    api_client = k8s_client.ApiClient(configuration=configuration)
    api_client.user_agent = "migrator (kubernetes-python)"
    cluster = ClusterClient(
        api_client,
        server=str(configuration.host),
        context=credentials.context,
        kubeconfig=credentials.source,
        timeout=DEFAULT_TIMEOUT if timeout is None else timeout,
    )
    if probe:
        try:
            cluster.server_version()
        except BaseException:
            cluster.close()
            raise
    return cluster


class ClusterClient:
    """One cluster's API server, spoken to with raw HTTP through the Kubernetes client.

    `request` returns whatever status the server answered; only transport failures
    (refused, reset, timed out, TLS) raise, as `SourceError`.
    """

    def __init__(
        self,
        api_client: Any,
        *,
        server: str,
        context: str | None = None,
        kubeconfig: str | None = None,
        timeout: float = 30,
        page_size: int = PAGE_SIZE,
        retry_delays: Sequence[float] = RETRY_DELAYS,
    ) -> None:
        self.api_client = api_client
        self.server = server.rstrip("/")
        self.context = context
        self.kubeconfig = kubeconfig
        self.timeout = timeout
        self.page_size = page_size
        self.retry_delays = tuple(retry_delays)
        #: Distinct warning texts the server sent, in the order first seen.
        self.warnings_seen: list[str] = []
        self._version: str | None = None
        self._identity: ClusterIdentity | None = None

    # -- identity ---------------------------------------------------------------------

    @property
    def origin(self) -> str:
        """The origin recorded for every object read live: `cluster[:<context>]`."""
        return f"cluster:{self.context}" if self.context else "cluster"

    def describe(self) -> str:
        """`<server> (context <name>)`, for messages."""
        return f"{self.server} (context {self.context})" if self.context else self.server

    # -- lifetime ---------------------------------------------------------------------

    def close(self) -> None:
        self.api_client.close()

    def __enter__(self) -> ClusterClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- requests ---------------------------------------------------------------------

    def _headers(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        headers: dict[str, str] = dict(self.api_client.default_headers)
        for setting in self.api_client.configuration.auth_settings().values():
            if setting.get("in") == "header" and setting.get("value"):
                headers[str(setting["key"])] = str(setting["value"])
        headers["Accept"] = "application/json"
        if extra:
            headers.update(extra)
        return headers

    def request(
        self,
        method: str,
        path: str,
        query: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> RawResponse:
        """Send one request; `body` is JSON-serialised for JSON content types.

        A `str`/`bytes` body with a JSON content type is sent as that JSON; with another
        content type (`application/apply-patch+yaml`) it is sent as is.
        """
        method = method.upper()
        pairs = list(query.items()) if isinstance(query, Mapping) else list(query or [])
        url = self.server + path + (f"?{urlencode(pairs)}" if pairs else "")
        all_headers = self._headers(headers)
        payload: Any = None
        if body is not None:
            content_type = all_headers.setdefault("Content-Type", "application/json")
            if _JSON_TYPE.match(content_type):
                payload = json.loads(body) if isinstance(body, (str, bytes)) else body
            else:
                payload = body.encode("utf-8") if isinstance(body, str) else body
        try:
            response = self.api_client.rest_client.request(
                method,
                url,
                headers=all_headers,
                body=payload,
                _request_timeout=(self.timeout, self.timeout),
            )
            data = response.read()
        except k8s_client.ApiException as exc:  # TLS failures come back this way
            raise SourceError(
                f"cannot reach the API server {self.describe()}: {_one_line(str(exc.reason))}"
            ) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            reason = _transport_reason(exc)
            if reason == "timed out":
                raise SourceError(
                    f"the API server {self.describe()} did not answer within "
                    f"{self.timeout:g}s ({method} {path})"
                ) from exc
            raise SourceError(f"cannot reach the API server {self.describe()}: {reason}") from exc
        raw_headers = response.response.headers
        collected: dict[str, list[str]] = {}
        for name in raw_headers:
            collected.setdefault(name.lower(), []).extend(raw_headers.getlist(name))
        raw = RawResponse(int(response.status), str(response.reason or ""), collected, data or b"")
        for text in raw.warning_texts():
            if text not in self.warnings_seen:
                self.warnings_seen.append(text)
        return raw

    def send(
        self,
        method: str,
        path: str,
        query: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> RawResponse:
        """`request` with retries, the one retry loop for reads and writes alike.

        429 and 5xx answers are retried after `retry_delays` (or the server's `Retry-After`,
        up to MAX_RETRY_AFTER seconds); every request migrator sends is idempotent (GETs,
        dry runs, server-side apply and merge patches carrying a resourceVersion).
        """
        attempt = 0
        while True:
            response = self.request(method, path, query, body, headers)
            if response.status not in _RETRY_STATUSES or attempt >= len(self.retry_delays):
                return response
            delay = self.retry_delays[attempt]
            retry_after = response.header("Retry-After")
            if retry_after and retry_after.isdigit():
                delay = max(delay, min(float(retry_after), MAX_RETRY_AFTER))
            time.sleep(delay)
            attempt += 1

    def identity(self, namespaces: Sequence[Obj] = ()) -> ClusterIdentity:
        """This cluster's identity: server, context and the kube-system namespace UID (from
        `namespaces` when they hold it, else read once; unknown when it cannot be read)."""
        if self._identity is not None:
            return self._identity
        uid = next((str((ns.get("metadata") or {}).get("uid") or "") for ns in namespaces
                    if (ns.get("metadata") or {}).get("name") == "kube-system"), "")
        if not uid:
            response = self.get("/api/v1/namespaces/kube-system")
            if response.ok:
                try:
                    body = response.json()
                except ValueError:
                    body = None
                if isinstance(body, dict):
                    uid = str((body.get("metadata") or {}).get("uid") or "")
        self._identity = ClusterIdentity(self.server, self.context, uid or None)
        return self._identity

    def get(
        self, path: str, query: Mapping[str, str] | Sequence[tuple[str, str]] | None = None
    ) -> RawResponse:
        """GET with retries (see `send`); 401 raises."""
        response = self.send("GET", path, query)
        if response.status == 401:
            raise SourceError(
                f"the API server {self.describe()} rejected the credentials"
                f"{' of ' + repr(self.kubeconfig) if self.kubeconfig else ''}: "
                f"401 {response.status_message()}"
            )
        return response

    def server_version(self) -> str:
        """`gitVersion` of `/version` (cached); '' when the server does not say."""
        if self._version is None:
            response = self.get("/version")
            version = ""
            if response.ok:
                try:
                    body = response.json()
                except ValueError:
                    body = None
                if isinstance(body, dict) and isinstance(body.get("gitVersion"), str):
                    version = body["gitVersion"]
            self._version = version
        return self._version

    # -- lists ------------------------------------------------------------------------

    def list_pages(
        self, path: str, query: Mapping[str, str] | None = None
    ) -> Iterator[tuple[RawResponse, dict[str, Any] | None]]:
        """Each page of one list as `(response, parsed body)`; stops after a non-200 page.

        Pagination only: restarting after 410 or 400 is the caller's decision.
        """
        token: str | None = None
        while True:
            params: list[tuple[str, str]] = list((query or {}).items())
            params.append(("limit", str(self.page_size)))
            if token:
                params.append(("continue", token))
            response = self.get(path, params)
            if response.status != 200:
                yield response, None
                return
            try:
                body = response.json()
            except ValueError:
                body = None
            if not isinstance(body, dict):
                yield response, None
                return
            yield response, body
            metadata = body.get("metadata") or {}
            token = metadata.get("continue") if isinstance(metadata, dict) else None
            if not token:
                return


# ---------------------------------------------------------------------------------------
# What is read, and what missing it means


@dataclass(frozen=True, slots=True)
class _Resource:
    name: str  # plural, as in the API path
    paths: tuple[str, ...]  # tried in order while the server answers 404
    namespaced: bool
    consequence: str

    @property
    def what(self) -> str:
        return f"{self.name} in all namespaces" if self.namespaced else self.name


def _workload(group_version: str, name: str, kind: str, extra: str = "") -> _Resource:
    prefix = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
    return _Resource(
        name, (f"{prefix}/{name}",), True, f"{kind} pod templates are not evaluated{extra}"
    )


_CRDS = _Resource(
    "customresourcedefinitions",
    ("/apis/apiextensions.k8s.io/v1/customresourcedefinitions",),
    False,
    "custom workloads (Argo Rollouts, OpenKruise CloneSets, Knative Services, ...) are not "
    "evaluated, only the pods they created",
)

#: Custom kinds known to stamp pods from `spec.template`, whose CRDs often leave the
#: template unvalidated (x-kubernetes-preserve-unknown-fields), so no schema shows it.
KNOWN_CUSTOM_WORKLOADS = frozenset({
    ("argoproj.io", "Rollout"),
    ("apps.kruise.io", "CloneSet"),
    ("apps.kruise.io", "StatefulSet"),
    ("apps.kruise.io", "DaemonSet"),
    ("apps.kruise.io", "BroadcastJob"),
    ("apps.kruise.io", "AdvancedCronJob"),
    ("serving.knative.dev", "Service"),
    ("serving.knative.dev", "Configuration"),
})


def _schema_has_template(schema: Any) -> bool:
    """True when a CRD's openAPIV3Schema declares a pod template (spec.template.spec with
    containers, or spec.jobTemplate.spec.template.spec with containers)."""
    def walk(node: Any, *keys: str) -> Any:
        for key in keys:
            node = ((node or {}).get("properties") or {}).get(key) if isinstance(node, dict) \
                else None
        return node

    return any(isinstance(walk(schema, *path, "spec", "containers"), dict)
               for path in (("spec", "template"), ("spec", "jobTemplate", "spec", "template")))


def custom_workload_resources(crds: Sequence[Obj]) -> list[_Resource]:
    """The custom resources to list: each CRD whose schema declares a pod template, or
    whose kind is a known pod-stamping workload, at its storage (else first served)
    version."""
    found = []
    for crd in crds:
        raw_spec = crd.get("spec")
        spec: Obj = raw_spec if isinstance(raw_spec, dict) else {}
        raw_names = spec.get("names")
        names: Obj = raw_names if isinstance(raw_names, dict) else {}
        group, kind, plural = spec.get("group"), names.get("kind"), names.get("plural")
        versions = [v for v in spec.get("versions") or () if isinstance(v, dict)
                    and v.get("served", True)]
        if not (isinstance(group, str) and isinstance(kind, str) and isinstance(plural, str)
                and versions):
            continue
        version = next((v for v in versions if v.get("storage")), versions[0])
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        if (group, kind) not in KNOWN_CUSTOM_WORKLOADS and not _schema_has_template(schema):
            continue
        found.append(_workload(f"{group}/{version.get('name')}", plural, kind,
                               " (a custom workload: only the pods it created are)"))
    return sorted(found, key=lambda r: r.paths)


_NAMESPACES = _Resource(
    "namespaces",
    ("/api/v1/namespaces",),
    False,
    "namespace labels (current Pod Security levels) are unknown; namespaces are known only "
    "from the objects in them",
)
_PODS = _Resource(
    "pods",
    ("/api/v1/pods",),
    True,
    "running pods are not evaluated; mutated pods cannot be detected",
)
_SERVICE_ACCOUNTS = _Resource(
    "serviceaccounts",
    ("/api/v1/serviceaccounts",),
    True,
    "service accounts are unknown; PSP grants cannot be matched to the accounts pods run as",
)
_WORKLOADS = (
    _workload("apps/v1", "deployments", "Deployment"),
    _workload("apps/v1", "statefulsets", "StatefulSet"),
    _workload("apps/v1", "daemonsets", "DaemonSet"),
    _workload(
        "apps/v1", "replicasets", "ReplicaSet",
        "; pods of Deployments cannot be compared with their templates",
    ),
    _workload("v1", "replicationcontrollers", "ReplicationController"),
    _workload("v1", "podtemplates", "PodTemplate"),
    _workload("batch/v1", "jobs", "Job"),
    _Resource(
        "cronjobs",
        ("/apis/batch/v1/cronjobs", "/apis/batch/v1beta1/cronjobs"),
        True,
        "CronJob pod templates are not evaluated (workloads that only run on a schedule "
        "stay unseen)",
    ),
)
_RBAC = "/apis/rbac.authorization.k8s.io/v1"
_RBAC_RESOURCES = (
    _Resource(
        "roles",
        (f"{_RBAC}/roles",),
        True,
        "PSP `use` grants made by Roles are unknown; the PSPs open to each namespace may be "
        "understated",
    ),
    _Resource(
        "clusterroles",
        (f"{_RBAC}/clusterroles",),
        False,
        "PSP `use` grants made by ClusterRoles are unknown; no PSP can be attributed to "
        "a namespace through them",
    ),
    _Resource(
        "rolebindings",
        (f"{_RBAC}/rolebindings",),
        True,
        "who may use which PSP in each namespace (RoleBindings) is unknown",
    ),
    _Resource(
        "clusterrolebindings",
        (f"{_RBAC}/clusterrolebindings",),
        False,
        "who may use which PSP cluster-wide (ClusterRoleBindings) is unknown",
    ),
)
_PSP_PATHS = (
    "/apis/policy/v1beta1/podsecuritypolicies",
    "/apis/extensions/v1beta1/podsecuritypolicies",
)
_PSPS = _Resource(
    "podsecuritypolicies",
    _PSP_PATHS,
    False,
    "the PodSecurityPolicies are unknown: no level can be derived from them "
    "(pass them as files with --psp-from)",
)
_RBAC_KINDS = frozenset({"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"})
_FILE_KINDS = _RBAC_KINDS | {"PodSecurityPolicy"}


@dataclass
class _ListResult:
    items: list[Obj] = field(default_factory=list)
    unreadable: Unreadable | None = None
    not_found: bool = False
    forbidden: bool = False


class _Compactor:
    """Rebuilds objects with one shared copy of each repeated string, during one read.

    A large cluster repeats the same keys, images, label values and field values in every
    pod; JSON parsing gives each its own copy. Dictionaries and lists are rebuilt (never
    shared between objects), so callers may still change one object without touching
    another.
    """

    def __init__(self) -> None:
        self._strings: dict[str, str] = {}

    def __call__(self, value: Any) -> Any:
        strings = self._strings
        if isinstance(value, dict):
            return {
                strings.setdefault(k, k): (
                    strings.setdefault(v, v) if isinstance(v, str)
                    else self(v) if isinstance(v, (dict, list)) else v
                )
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [
                strings.setdefault(v, v) if isinstance(v, str)
                else self(v) if isinstance(v, (dict, list)) else v
                for v in value
            ]
        if isinstance(value, str):
            return strings.setdefault(value, value)
        return value


def _fill_identity(item: Obj, api_version: str, kind: str) -> Obj:
    """`item` with `apiVersion` and `kind` first, as a single GET would serve it."""
    if item.get("apiVersion") and item.get("kind"):
        return item
    return {"apiVersion": api_version, "kind": kind, **item}


def _read_list(
    client: ClusterClient,
    resource: _Resource,
    path: str,
    transform: Callable[[Obj], Obj] | None,
    progress: ProgressCallback | None,
    compact: _Compactor,
) -> _ListResult:
    expired_restarts = 0
    bad_token_restarts = 0
    while True:
        result = _ListResult()
        restart = False
        continued = False
        for response, body in client.list_pages(path):
            if body is None:
                status = response.status
                message = response.status_message()
                if status == 404:
                    return _ListResult(not_found=True)
                if status == 403:
                    return _ListResult(
                        unreadable=Unreadable(
                            resource.what, f"forbidden: {message}", resource.consequence
                        ),
                        forbidden=True,
                    )
                if status == 410 and expired_restarts < MAX_EXPIRED_RESTARTS:
                    expired_restarts += 1
                    restart = True
                    break
                if status == 400 and continued and bad_token_restarts < 1:
                    bad_token_restarts += 1
                    restart = True
                    break
                if status == 410:
                    reason = (
                        f"expired: the list kept changing while it was read "
                        f"(restarted {MAX_EXPIRED_RESTARTS} times): {message}"
                    )
                elif status in _RETRY_STATUSES:
                    reason = (
                        f"server error {status} {response.reason} after "
                        f"{len(client.retry_delays) + 1} attempts: {message}"
                    )
                elif status == 200:
                    reason = "the server sent a list that is not JSON"
                else:
                    reason = f"{status} {response.reason}: {message}"
                return _ListResult(
                    unreadable=Unreadable(resource.what, reason, resource.consequence)
                )
            continued = True
            list_kind = str(body.get("kind") or "")
            api_version = str(body.get("apiVersion") or "")
            item_kind = list_kind[: -len("List")] if list_kind.endswith("List") else list_kind
            items = body.get("items") or []
            for item in items:
                if isinstance(item, dict):
                    obj = _fill_identity(item, api_version, item_kind)
                    result.items.append(compact(transform(obj) if transform else obj))
            del body, items
            if progress is not None:
                progress(resource.name, len(result.items))
        if not restart:
            return result


def _read_resource(
    client: ClusterClient,
    resource: _Resource,
    progress: ProgressCallback | None,
    compact: _Compactor,
    transform: Callable[[Obj], Obj] | None = None,
) -> _ListResult:
    """Read `resource` from the first of its paths the server serves."""
    for path in resource.paths:
        result = _read_list(client, resource, path, transform, progress, compact)
        if not result.not_found:
            return result
    return _ListResult(not_found=True)


def _served_resources(client: ClusterClient, group_version_path: str) -> set[str] | None:
    """Resource names a discovery document lists; None when unknown, empty when 404."""
    response = client.get(group_version_path)
    if response.status == 404:
        return set()
    if not response.ok:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    resources = body.get("resources") if isinstance(body, dict) else None
    if not isinstance(resources, list):
        return None
    return {str(r.get("name")) for r in resources if isinstance(r, dict)}


def probe_psp_api(client: ClusterClient) -> bool | None:
    """Whether the server serves PodSecurityPolicies, by discovery only (no list).

    True when `policy/v1beta1` (or, on very old servers, `extensions/v1beta1`) lists
    `podsecuritypolicies`, False when neither does, None when discovery failed.
    """
    unknown = False
    for group_version in ("/apis/policy/v1beta1", "/apis/extensions/v1beta1"):
        served = _served_resources(client, group_version)
        if served is None:
            unknown = True
        elif "podsecuritypolicies" in served:
            return True
    return None if unknown else False


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a read builds millions of objects.

    JSON objects hold no cycles, yet every collection of the oldest generation walks the
    whole growing inventory: for 100,000 pods that is more than half of the read time.
    Reference counting still frees every page as soon as it has been slimmed.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def read_inventory(
    client: ClusterClient,
    *,
    skip_psps: bool = False,
    progress: ProgressCallback | None = None,
    on_gap: Callable[[Unreadable], None] | None = None,
) -> Inventory:
    """Everything a migration needs from the cluster behind `client`, with GET only.

    Lists are paginated (`limit`/`continue`); pods are slimmed as each page arrives. With
    `skip_psps` (the PSPs come from files, `--psp-from`) the live PSP list is not read;
    discovery still says whether the API is served. Merging the files' objects is
    `migrator.app.pipeline`'s job. `on_gap` hears each list that could not be read, when
    it happens.
    """
    with _gc_paused():
        return _read_inventory(client, skip_psps, progress, on_gap)


def _read_inventory(
    client: ClusterClient,
    from_files: bool,
    progress: ProgressCallback | None,
    on_gap: Callable[[Unreadable], None] | None = None,
) -> Inventory:

    inventory = Inventory(server_version=client.server_version() or None)
    origin = client.origin
    compact = _Compactor()

    def collect(
        resource: _Resource, transform: Callable[[Obj], Obj] | None = None
    ) -> _ListResult:
        result = _read_resource(client, resource, progress, compact, transform)
        gap = result.unreadable
        if gap is None and result.not_found and resource is not _PSPS:
            gap = Unreadable(resource.what,
                             "not served: " + ", ".join(resource.paths) + " answered 404",
                             resource.consequence)
        if gap is not None:
            inventory.unreadable.append(gap)
            if on_gap is not None:
                on_gap(gap)
        for obj in result.items:
            inventory.add(obj, origin)
        result.items = []
        return result

    collect(_NAMESPACES)
    inventory.identity = client.identity(inventory.namespaces)
    seen: dict[bytes, Any] = {}  # the replicas' identical parts, kept once
    collect(_PODS, lambda pod: share_parts(slim_pod(pod), seen))
    collect(_SERVICE_ACCOUNTS)
    for workload in _WORKLOADS:
        collect(workload)
    crds = _read_resource(client, _CRDS, progress, compact, None)
    if crds.unreadable is not None:
        inventory.unreadable.append(crds.unreadable)
        if on_gap is not None:
            on_gap(crds.unreadable)
    for custom in custom_workload_resources(crds.items):
        collect(custom)
    for rbac in _RBAC_RESOURCES:
        collect(rbac)

    if from_files:
        inventory.psp_api = probe_psp_api(client)
    else:
        psps = collect(_PSPS)
        if psps.not_found:
            inventory.psp_api = False
        elif psps.forbidden:
            inventory.psp_api = probe_psp_api(client)
        elif psps.unreadable is not None:
            inventory.psp_api = None
        else:
            inventory.psp_api = True
    return inventory


def kubeconfig_contexts(kubeconfig: str | None = None) -> list[str]:
    """Every context name in `kubeconfig` (default: what `connect` would read), sorted."""
    value = os.path.expanduser(kubeconfig) if kubeconfig else default_kubeconfig()
    if not any(os.path.isfile(p) for p in _kubeconfig_paths(value)):
        raise SourceError(f"kubeconfig {value}: no such file")
    names, _current = _contexts_of(value)
    if not names:
        raise SourceError(f"kubeconfig {value}: no contexts")
    return sorted(names)


def default_kubeconfig() -> str:
    """The kubeconfig path(s) `connect` would read without `--kubeconfig`."""
    env = os.environ.get("KUBECONFIG", "")
    return env if env.strip(os.pathsep) else str(Path("~/.kube/config").expanduser())


__all__ = [
    "kubeconfig_contexts",
    "ClusterClient",
    "RawResponse",
    "connect",
    "default_kubeconfig",
    "parse_warning_header",
    "probe_psp_api",
    "read_inventory",
]
