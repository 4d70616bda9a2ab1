"""The API server's defaulting that changes what the checks see.

A manifest in git is not yet what the API server stores: before admission, the server
defaults fields. Two defaults change Pod Security verdicts and are applied here, to pods
and templates alike, without touching the caller's objects:

- a volume that names no source becomes an emptyDir (so restricted allows it);
- with `hostNetwork: true`, every container port without a hostPort gets
  `hostPort = containerPort` (so baseline's hostPorts check sees it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


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


def apply_api_defaults(spec: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """`spec` as the API server would store it, as far as the checks can tell.

    Returns the same object when no default applies (the common case), else a shallow
    copy with only the defaulted parts replaced.
    """
    if not spec or spec.get("hostNetwork") is not True:
        return spec
    changed: dict[str, Any] | None = None
    for key in ("containers", "initContainers"):
        if _ports_need_default(spec.get(key)):
            changed = changed if changed is not None else dict(spec)
            changed[key] = _default_ports(spec[key])
    return changed if changed is not None else spec
