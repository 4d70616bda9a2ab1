"""The API server's defaulting that changes what the checks see.

A manifest in git is not yet what the API server stores: before admission, the server
defaults fields. The defaults that change Pod Security verdicts are applied here, without
touching the caller's objects:

- to pods and templates: a volume that names no source becomes an emptyDir (so restricted
  allows it; the check itself treats such a volume so); with `hostNetwork: true`, every
  container port without a hostPort gets `hostPort = containerPort` (so baseline's
  hostPorts check sees it);
- to pods only (the server does it when it prepares a new pod, before validating
  admission): a seccomp annotation with no matching field fills in the field, pod-level
  (`seccomp.security.alpha.kubernetes.io/pod`) and per container
  (`container.seccomp.security.alpha.kubernetes.io/<name>`), so a PSP-era pod that asks for
  `runtime/default` by annotation passes restricted as it does on a real server.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from migrator.pss.api import SECCOMP_CONTAINER_PREFIX, SECCOMP_POD_ANNOTATION


def _ports_need_default(containers: Any) -> bool:
    if not isinstance(containers, list):
        return False
    for c in containers:
        if isinstance(c, dict):
            for port in c.get("ports") or ():
                if isinstance(port, dict) and not port.get("hostPort") and port.get(
                    "containerPort"
                ):
                    return True
    return False


def _default_ports(containers: list[Any]) -> list[Any]:
    out = []
    for c in containers:
        if isinstance(c, dict) and c.get("ports"):
            ports = []
            for port in c["ports"]:
                if isinstance(port, dict) and not port.get("hostPort") and port.get(
                    "containerPort"
                ):
                    port = {**port, "hostPort": port["containerPort"]}
                ports.append(port)
            c = {**c, "ports": ports}
        out.append(c)
    return out




def seccomp_field(annotation: str) -> dict[str, str] | None:
    """The seccompProfile field the server derives from an annotation value."""
    if annotation in ("runtime/default", "docker/default"):
        return {"type": "RuntimeDefault"}
    if annotation == "unconfined":
        return {"type": "Unconfined"}
    if annotation.startswith("localhost/"):
        return {"type": "Localhost", "localhostProfile": annotation[len("localhost/"):]}
    return None


def _sync_seccomp(metadata: Mapping[str, Any], spec: Mapping[str, Any]) -> Mapping[str, Any]:
    annotations = metadata.get("annotations") or {}
    if not any(
        k == SECCOMP_POD_ANNOTATION or k.startswith(SECCOMP_CONTAINER_PREFIX) for k in annotations
    ):
        return spec
    out = dict(spec)
    context = spec.get("securityContext") or {}
    pod_field = seccomp_field(str(annotations.get(SECCOMP_POD_ANNOTATION, "")))
    if pod_field is not None and isinstance(context, dict) and not context.get("seccompProfile"):
        out["securityContext"] = {**context, "seccompProfile": pod_field}
    for key in ("initContainers", "containers", "ephemeralContainers"):
        containers = spec.get(key)
        if not isinstance(containers, list):
            continue
        synced = []
        for c in containers:
            if isinstance(c, dict):
                value = annotations.get(SECCOMP_CONTAINER_PREFIX + str(c.get("name", "")))
                field = seccomp_field(str(value)) if value is not None else None
                c_context = c.get("securityContext") or {}
                if field is not None and isinstance(c_context, dict) and not c_context.get(
                    "seccompProfile"
                ):
                    c = {**c, "securityContext": {**c_context, "seccompProfile": field}}
            synced.append(c)
        out[key] = synced
    return out


def apply_api_defaults(
    spec: Mapping[str, Any] | None,
    metadata: Mapping[str, Any] | None = None,
    *,
    pod: bool = False,
) -> Mapping[str, Any] | None:
    """`spec` as the API server would store it, as far as the checks can tell.

    `pod` is True for a Pod object (not a workload's template): only then are seccomp
    annotations turned into fields. Returns the same object when no default applies (the
    common case), else a shallow copy with only the defaulted parts replaced.
    """
    if spec and pod and metadata:
        spec = _sync_seccomp(metadata, spec)
    if not spec or spec.get("hostNetwork") is not True:
        return spec
    changed: dict[str, Any] | None = None
    for key in ("containers", "initContainers"):
        if _ports_need_default(spec.get(key)):
            changed = changed if changed is not None else dict(spec)
            changed[key] = _default_ports(spec[key])
    return changed if changed is not None else spec
