"""The default evaluator over every upstream check, and the verdict of one pod.

`evaluate(level, version, metadata, spec)` is the engine's one entry point for the rest
of the tool. `verdict_cached` adds a cache keyed by the security-relevant part of a pod,
so that identical replicas cost a dictionary lookup.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from migrator.pss.api import Level, Version
from migrator.pss.checks import ALL_CHECKS
from migrator.pss.checks.restricted_volumes import ALLOWED as RESTRICTED_ALLOWED
from migrator.pss.registry import Evaluator, Violation

EVALUATOR = Evaluator(ALL_CHECKS)


def evaluate(
    level: Level,
    version: Version,
    metadata: Mapping[str, Any] | None,
    spec: Mapping[str, Any] | None,
) -> list[Violation]:
    """Violations of the pod at `level`/`version`, in upstream order; [] means allowed."""
    return EVALUATOR.evaluate(level, version, metadata, spec)


_POD_FIELDS = ("securityContext", "hostNetwork", "hostPID", "hostIPC", "hostUsers", "os")
_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
_CONTAINER_FIELDS = ("name", "securityContext", "ports", "livenessProbe", "readinessProbe",
                     "startupProbe", "lifecycle")


def _volume_key(volume: Any) -> Any:
    if not isinstance(volume, dict):
        return volume
    kinds = tuple(k for k in volume if k != "name")
    if any(k in RESTRICTED_ALLOWED for k in kinds):
        return kinds  # an allowed volume's name appears in no message
    return (volume.get("name"), kinds, volume.get("hostPath"))


def security_key(metadata: Mapping[str, Any] | None, spec: Mapping[str, Any] | None) -> str:
    """A string equal for two pods that every check treats alike.

    Keeps what a check reads (seccomp and AppArmor annotations, security contexts, ports,
    probes, lifecycle hooks, host namespaces, sysctls, os, volume types and the names of
    volumes that can be reported), drops what none reads (images, env, resources,
    scheduling, names of allowed volumes such as each pod's own token volume), so the
    replicas of one workload share one key.
    """
    metadata = metadata or {}
    spec = spec or {}
    annotations = metadata.get("annotations")
    parts: list[Any] = [
        sorted((str(k), repr(v)) for k, v in annotations.items()
               if "seccomp" in str(k) or "apparmor" in str(k))
        if isinstance(annotations, Mapping) else (repr(annotations) if annotations else [])
    ]
    for key in _POD_FIELDS:
        parts.append(spec.get(key))
    for key in _CONTAINER_LISTS:
        containers = spec.get(key)
        parts.append(
            [tuple(c.get(f) for f in _CONTAINER_FIELDS) if isinstance(c, dict) else c
             for c in containers] if isinstance(containers, list) else containers
        )
    volumes = spec.get("volumes")
    parts.append([_volume_key(v) for v in volumes] if isinstance(volumes, list) else volumes)
    return repr(parts)


_CACHE: dict[tuple[Level, int, str], tuple[Violation, ...]] = {}
_CACHE_LIMIT = 100_000


def verdict_cached(
    level: Level,
    version: Version,
    metadata: Mapping[str, Any] | None,
    spec: Mapping[str, Any] | None,
    key: str | None = None,
) -> tuple[Violation, ...]:
    """Like `evaluate`, answered from a cache for pods with the same security key.

    Pass `key` (from `security_key`) when one pod is judged at several levels or
    versions, so the key is computed once.
    """
    cache_key = (level, version.effective_minor(), key or security_key(metadata, spec))
    found = _CACHE.get(cache_key)
    if found is None:
        found = tuple(evaluate(level, version, metadata, spec))
        if len(_CACHE) >= _CACHE_LIMIT:
            _CACHE.clear()
        _CACHE[cache_key] = found
    return found
