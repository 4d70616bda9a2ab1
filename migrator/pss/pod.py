"""`PodView`: one pod's metadata, spec and containers, prepared once for every check.

Checks visit containers in upstream's order: init containers, then containers, then
ephemeral containers. Building that list once per pod (not once per check) is what keeps
evaluation fast.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from migrator.pss.helpers import EMPTY

_CONTAINER_KEYS = ("initContainers", "containers", "ephemeralContainers")


class PodView:
    """Read-only view of a pod for the checks. Absent parts read as empty."""

    __slots__ = ("metadata", "spec", "containers", "annotations")

    def __init__(self, metadata: Mapping[str, Any] | None, spec: Mapping[str, Any] | None):
        self.metadata: Mapping[str, Any] = metadata or EMPTY
        self.spec: Mapping[str, Any] = spec or EMPTY
        self.annotations: Mapping[str, Any] = self.metadata.get("annotations") or EMPTY
        containers: list[Mapping[str, Any]] = []
        spec_ = self.spec
        for key in _CONTAINER_KEYS:
            listed = spec_.get(key)
            if listed:
                containers.extend(c for c in listed if isinstance(c, dict))
        self.containers = containers

    @property
    def pod_security_context(self) -> Mapping[str, Any]:
        value = self.spec.get("securityContext")
        return value if value else EMPTY
