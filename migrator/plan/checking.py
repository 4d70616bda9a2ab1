"""Judging Kubernetes objects against one level and version, as `migrator check` does.

Owns `ObjectResult` (an object's identity, where it came from, its verdict on the chosen
server and whether that verdict depends on the server version) and `check_object`, which
extracts the pod template of any pod-bearing kind and judges the pods it makes as the
chosen API server will see them (`migrator.pss.server`). Pure: no files, no printing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import msgspec

from migrator.model.workloads import TEMPLATE_PATHS, template_at, template_path
from migrator.pss.api import Level, Version
from migrator.pss.registry import Violation
from migrator.pss.server import (
    Origin,
    ServerPod,
    ServerVersion,
    Verdict,
    judge_cached,
    origin_of,
    outcome_of,
    server_ranges,
    verdict,
    verdict_by_server,
)


class ObjectResult(NamedTuple):
    """One object's verdict (a named tuple: one is made per object checked)."""

    source: str
    kind: str
    namespace: str
    name: str
    violations: tuple[Violation, ...]
    #: a kind Kubernetes does not define, judged by the pod template it carries
    custom: bool = False
    #: the 422 field errors when the server refuses the create before judging it
    invalid: tuple[str, ...] = ()
    #: the server version judged
    server: str = ""
    #: (outcome, servers) runs when the verdict differs between server versions, else []
    by_server: Sequence[tuple[str, str]] = ()
    #: the deprecation Warnings the server sends with the create
    warnings: tuple[str, ...] = ()
    #: why the API server would refuse the object's name ("" when it would not)
    name_problem: str = ""

    @property
    def allowed(self) -> bool:
        return not self.violations and not self.invalid

    @property
    def outcome(self) -> str:
        return outcome_of(self.violations, self.invalid)

    @property
    def depends_on_server(self) -> bool:
        return len(self.by_server) > 1

    def server_note(self) -> str:
        """`allowed on v1.23–v1.26, denied on v1.27–v1.36`, or "" when it does not depend."""
        if not self.depends_on_server:
            return ""
        return ", ".join(f"{outcome} on {servers}" for outcome, servers in self.by_server)

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON shape of one result."""
        return {
            "source": self.source,
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
            "custom": self.custom,
            "allowed": self.allowed,
            "outcome": self.outcome,
            "violations": [
                {"check": v.check, "reason": v.reason, "detail": v.detail}
                for v in self.violations
            ],
            "invalid": list(self.invalid),
            "name_problem": self.name_problem,
            "warnings": list(self.warnings),
            "server_version": self.server,
            "depends_on_server_version": self.depends_on_server,
            "by_server_version": [{"outcome": o, "servers": s} for o, s in self.by_server]
            if self.depends_on_server else [],
        }


_ENCODE = msgspec.json.Encoder().encode
#: (level, version, server, origin, template path, pod metadata, pod spec) -> (verdict,
#: verdicts by server), for objects of the same content (a chart in many namespaces).
_JUDGED: dict[Any, tuple[Verdict, list[tuple[str, str]]]] = {}
_JUDGED_LIMIT = 10_000


def check_object(
    obj: dict[str, Any],
    source: str,
    level: Level,
    version: Version,
    server: ServerVersion | None = None,
) -> ObjectResult | None:
    """The verdict on `obj`'s pods at `level`/`version` on `server` (default: the newest
    modelled); None for kinds without pods. A Pod read from a cluster dump (it has a uid or
    a status) is judged as stored; anything else as the pods the server will create."""
    found_path = template_path(obj)
    if found_path is None:
        return None
    template = template_at(obj, found_path)
    server = server or ServerVersion.newest()
    metadata = obj.get("metadata") or {}
    origin = origin_of(obj)
    if origin is Origin.STORED:  # judged as it is, by its security key: nothing to prepare
        return ObjectResult(
            source, "Pod", str(metadata.get("namespace") or ""),
            str(metadata.get("name") or metadata.get("generateName") or ""),
            judge_cached(level, version, ServerPod(template.metadata, template.spec), server),
            server=str(server))
    path = found_path or None
    key: Any = None
    if origin is Origin.CREATED:  # (a stored pod's verdict is cached by its security key)
        try:  # the same pod (template) in many objects is judged once: a pure function of it
            key = (level, version, server, origin, path, _ENCODE(template.metadata),
                   _ENCODE(template.spec))
        except (TypeError, ValueError, OverflowError):
            key = None
    judged = _JUDGED.get(key) if key is not None else None
    if judged is None:
        found = verdict(level, version, template.metadata, template.spec, server, origin,
                        template_path=".".join(path) if path else None)
        ranges = server_ranges(verdict_by_server(
            level, version, template.metadata, template.spec, origin
        )) if origin is Origin.CREATED else []
        judged = (found, ranges)
        if key is not None:
            if len(_JUDGED) >= _JUDGED_LIMIT:
                _JUDGED.clear()
            _JUDGED[key] = judged
    found, ranges = judged
    return ObjectResult(
        source=source,
        kind=str(obj.get("kind")),
        namespace=str(metadata.get("namespace") or ""),
        name=str(metadata.get("name") or metadata.get("generateName") or ""),
        violations=found.violations,
        custom=obj.get("kind") not in TEMPLATE_PATHS,  # it carries a template: custom
        invalid=found.invalid,
        server=str(server),
        by_server=ranges if len(ranges) > 1 else [],
        warnings=found.warnings,
    )
