"""What PSP admission does today with each workload's pods: which policy admits them, or why none.

Owns `admission_today`: for every template source (and every bare pod not yet seen
running), the PSPs its creators may use (the pods' service account and, for controllers,
the controller that creates the pods, see `migrator.rbac.creator_psps`), and the outcome of
PSP admission among them (`migrator.psp.admission.choose`) on the pod as the API server
receives it: the template with the service-account token volume the ServiceAccount
admission adds first. A pod seen running (it has a uid, a status or a `kubernetes.io/psp`
annotation) was admitted, whatever the policies say now, and is left to its annotation.

Pure: inventory and RBAC resolution in, outcomes keyed by (namespace, kind, name) out.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from migrator.model.inventory import Inventory, Obj, name_of, namespace_of
from migrator.model.owners import OwnerIndex, template_sources
from migrator.model.workloads import pod_template
from migrator.psp.admission import Choice, choose
from migrator.psp.spec import PSPSpec, read_psp
from migrator.rbac.access import PSP_ANNOTATION, PSPAccess, creator_psps

ObjectKey = tuple[str, str, str]
TOKEN_VOLUME = "kube-api-access-migrator"
TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
#: What the ServiceAccount admission puts in the token volume (1.22+).
TOKEN_SOURCES = {"sources": [
    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
    {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
    {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
        "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
]}


@dataclass(frozen=True, slots=True)
class Today:
    """PSP admission of one workload's pods: the usable PSPs (with the identity that may
    use each) and the choice among them (`choice.chosen` None: rejected today).

    Workloads PSP admission treats alike (same usable PSPs, same `admission_key`) share
    one choice: its stored pod is that of the first of them, identical in every field
    a PSP reads or writes."""

    usable: Mapping[str, str]
    choice: Choice

    @property
    def admitted(self) -> bool:
        return self.choice.admitted

    @property
    def psp(self) -> str | None:
        return self.choice.chosen.psp if self.choice.chosen is not None else None


def observed_running(pod: Obj) -> bool:
    """True for a pod the API server stored (so PSP admission, if any, admitted it)."""
    metadata = pod.get("metadata") or {}
    return bool(metadata.get("uid") or pod.get("status")
                or (metadata.get("annotations") or {}).get(PSP_ANNOTATION))


def psp_admission_seen(inventory: Inventory) -> bool | None:
    """Whether PSP admission ran on this cluster's pods: True when a pod carries the
    `kubernetes.io/psp` annotation it writes, False when pods the API server stored run
    and none does (the admission plugin is off), None when no stored pod tells."""
    stored = [p for p in inventory.pods
              if (p.get("metadata") or {}).get("uid") or p.get("status")]
    if any(((p.get("metadata") or {}).get("annotations") or {}).get(PSP_ANNOTATION)
           for p in inventory.pods):
        return True
    return False if stored else None


def _service_account(spec: Mapping[str, Any]) -> str:
    return str(spec.get("serviceAccountName") or spec.get("serviceAccount") or "default")


def _automounts(spec: Mapping[str, Any], namespace: str, accounts: Mapping[ObjectKey, Obj]) \
        -> bool:
    if spec.get("automountServiceAccountToken") is not None:
        return spec.get("automountServiceAccountToken") is not False
    account = accounts.get((namespace, "ServiceAccount", _service_account(spec)))
    return not (account is not None and account.get("automountServiceAccountToken") is False)


def as_received(obj: Obj, accounts: Mapping[ObjectKey, Obj] | None = None) -> dict[str, Any]:
    """The pod PSP admission receives for `obj`'s template: its metadata and spec, with the
    hostPort defaulting of a pod on the host network, plus the projected token volume (and
    its mounts) the ServiceAccount admission adds before it."""
    template = pod_template(obj)
    metadata = dict(template.metadata) if template else {}
    spec = dict(template.spec) if template else {}
    if spec.get("hostNetwork") is True:
        for key in ("initContainers", "containers"):
            items = spec.get(key)
            if isinstance(items, list):
                spec[key] = [_host_ports(c) for c in items]
    if _automounts(spec, namespace_of(obj), accounts or {}):
        raw = spec.get("volumes")
        volumes: list[Any] = raw if isinstance(raw, list) else []
        if not any(isinstance(v, dict) and "projected" in v and
                   str(v.get("name", "")).startswith("kube-api-access-") for v in volumes):
            spec["volumes"] = [*volumes, {"name": TOKEN_VOLUME,
                                          "projected": copy.deepcopy(TOKEN_SOURCES)}]
            mount = {"name": TOKEN_VOLUME, "mountPath": TOKEN_PATH, "readOnly": True}
            for key in ("initContainers", "containers"):
                items = spec.get(key)
                if isinstance(items, list):
                    spec[key] = [_mounted(c, mount) for c in items]
    return {"metadata": metadata, "spec": spec}


def _host_ports(container: Any) -> Any:
    """A copy of `container` whose ports have the hostPort a pod on the host network gets
    by default (its containerPort), as the API server sets it before admission."""
    if not isinstance(container, dict) or not isinstance(container.get("ports"), list):
        return container
    ports = [{**p, "hostPort": p.get("containerPort")}
             if isinstance(p, dict) and not p.get("hostPort") and p.get("containerPort")
             else p for p in container["ports"]]
    return {**container, "ports": ports}


def _mounted(container: Any, mount: Mapping[str, Any]) -> Any:
    """A copy of `container` with `mount` added to its volumeMounts (the input unchanged)."""
    if not isinstance(container, dict):
        return container
    mounts = container.get("volumeMounts")
    return {**container, "volumeMounts": [*(mounts if isinstance(mounts, list) else []),
                                          dict(mount)]}


_CONTAINER_KEYS = ("name", "securityContext", "ports", "volumeMounts")


def admission_key(pod: Mapping[str, Any]) -> str:
    """A string equal for two pods ({"metadata", "spec"}) that PSP admission treats alike:
    their annotations and every pod field a PSP rule or default reads, containers without
    their images, commands, environment and resources."""
    metadata = pod.get("metadata") or {}
    spec = dict(pod.get("spec") or {})
    for key in ("initContainers", "containers", "ephemeralContainers"):
        if isinstance(spec.get(key), list):
            spec[key] = [{k: c.get(k) for k in _CONTAINER_KEYS} if isinstance(c, dict) else c
                         for c in spec[key]]
    kept = {k: spec.get(k) for k in ("hostNetwork", "hostPID", "hostIPC", "securityContext",
                                     "runtimeClassName", "volumes", "initContainers",
                                     "containers", "ephemeralContainers")}
    try:
        return orjson.dumps([metadata.get("annotations"), kept], default=str,
                            option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:  # an integer beyond 64 bits
        return json.dumps([metadata.get("annotations"), kept], sort_keys=True, default=str)


def admission_today(inventory: Inventory, access: PSPAccess,
                    index: OwnerIndex) -> dict[ObjectKey, Today]:
    """PSP admission of every template source and not-yet-running bare pod, by
    (namespace, kind, name). Empty when no PSP was read, or when the cluster's stored pods
    show that PSP admission does not run (`psp_admission_seen` False)."""
    if not inventory.psps or psp_admission_seen(inventory) is False:
        return {}
    specs: dict[str, PSPSpec] = {name_of(p): read_psp(p) for p in inventory.psps}
    accounts: dict[ObjectKey, Obj] = {
        (namespace_of(sa), "ServiceAccount", name_of(sa)): sa for sa in inventory.service_accounts
    }
    candidates = [*template_sources(inventory, index),
                  *(p for p in inventory.pods if not observed_running(p)
                    and index.parent(p) is None)]
    out: dict[ObjectKey, Today] = {}
    decided: dict[tuple[tuple[str, ...], str], Choice] = {}
    for obj in candidates:
        template = pod_template(obj)
        if template is None:
            continue
        namespace, kind = namespace_of(obj), str(obj.get("kind"))
        usable = creator_psps(access, namespace, kind, _service_account(template.spec))
        known = [specs[name] for name in usable if name in specs]
        received = as_received(obj, accounts)
        key = (tuple(p.name for p in known), admission_key(received))
        if key not in decided:
            decided[key] = choose(known, received)
        out[(namespace, kind, name_of(obj))] = Today(usable, decided[key])
    return out
