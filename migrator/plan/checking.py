"""Judging Kubernetes objects against one level and version, as `migrator check` does.

Owns `ObjectResult` (an object's identity, where it came from and its violations) and
`check_object`, which extracts the pod template of any pod-bearing kind, applies the API
server's defaulting and runs the engine. Pure: no files, no printing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from migrator.model.workloads import pod_template
from migrator.pss.api import Level, Version
from migrator.pss.defaults import apply_api_defaults
from migrator.pss.engine import verdict_cached
from migrator.pss.registry import Violation


@dataclass(frozen=True, slots=True)
class ObjectResult:
    source: str
    kind: str
    namespace: str
    name: str
    violations: tuple[Violation, ...]

    @property
    def allowed(self) -> bool:
        return not self.violations

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON shape of one result."""
        return {
            "source": self.source,
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
            "allowed": self.allowed,
            "violations": [
                {"check": v.check, "reason": v.reason, "detail": v.detail}
                for v in self.violations
            ],
        }


def check_object(
    obj: dict[str, Any], source: str, level: Level, version: Version
) -> ObjectResult | None:
    """The verdict on `obj`'s pods at `level`/`version`; None for kinds without pods."""
    template = pod_template(obj)
    if template is None:
        return None
    metadata = obj.get("metadata") or {}
    spec = apply_api_defaults(template.spec, template.metadata, pod=obj.get("kind") == "Pod")
    violations = verdict_cached(level, version, template.metadata, spec)
    return ObjectResult(
        source=source,
        kind=str(obj.get("kind")),
        namespace=str(metadata.get("namespace") or ""),
        name=str(metadata.get("name") or metadata.get("generateName") or ""),
        violations=tuple(violations),
    )
