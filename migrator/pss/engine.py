"""The default evaluator over every upstream check, and the verdict of one pod.

`evaluate(level, version, metadata, spec)` is the engine's one entry point for the rest
of the tool. `verdict_cached` adds a cache keyed by the security-relevant part of a pod,
so that identical replicas cost a dictionary lookup.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

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


_CONTAINER_FIELDS = ("name", "securityContext", "ports", "livenessProbe", "readinessProbe",
                     "startupProbe", "lifecycle")
_ENCODE = msgspec.json.Encoder().encode


def _volume_key(volume: Any) -> Any:
    if not isinstance(volume, dict):
        return {"not a mapping": repr(volume)}
    kinds = [k for k in volume if k != "name"]
    for kind in kinds:
        if kind in RESTRICTED_ALLOWED:
            return kinds  # an allowed volume's name appears in no message
    return [volume.get("name"), kinds, volume.get("hostPath")]


def _annotations_part(annotations: Any) -> Any:
    if isinstance(annotations, Mapping):
        kept = [(k, v) for k, v in annotations.items()
                if isinstance(k, str) and ("seccomp" in k or "apparmor" in k)]
        if len(kept) > 1:
            kept.sort()
        return kept
    return {"not a mapping": repr(annotations)} if annotations else []


def _containers_part(containers: Any) -> Any:
    if not isinstance(containers, list):
        return containers
    return [{k: c[k] for k in _CONTAINER_FIELDS if k in c} if isinstance(c, dict)
            else {"not a mapping": repr(c)} for c in containers]


def _volumes_part(volumes: Any) -> Any:
    return [_volume_key(v) for v in volumes] if isinstance(volumes, list) else volumes


def security_key(
    metadata: Mapping[str, Any] | None,
    spec: Mapping[str, Any] | None,
    shared: dict[Any, Any] | None = None,
) -> str:
    """A string equal for two pods that every check treats alike.

    Keeps what a check reads (seccomp and AppArmor annotations, security contexts, ports,
    probes, lifecycle hooks, host namespaces, sysctls, os, volume types and the names of
    volumes that can be reported), drops what none reads (images, env, resources,
    scheduling, names of allowed volumes such as each pod's own token volume), so the
    replicas of one workload share one key. Values compare as their JSON (as the API
    server receives them); a part JSON cannot hold (a key that is not a string) compares
    by its `repr`.

    `shared`, when given, remembers the encoded annotations, pod security context and
    container lists by object, for pods that share those very objects (the readers
    share them between replicas), holding each object it remembers; nothing may change
    those objects while it is in use. The key is the same with or without it.
    """
    metadata = metadata or {}
    spec = spec or {}
    get = spec.get
    annotations = metadata.get("annotations")
    if shared is not None:
        try:
            return _shared_key(annotations, get, shared)
        except (TypeError, ValueError, OverflowError):
            pass  # a flag that cannot key a dict, or a part JSON cannot hold
    try:
        return (_head(annotations, get) + _volumes_piece(get("volumes")) + b"]").decode()
    except (TypeError, ValueError, OverflowError):
        return repr([*_parts(annotations, get), _volumes_part(get("volumes"))])


def _parts(annotations: Any, get: Any) -> list[Any]:
    """The key's parts but the volumes: annotations, pod security context, host-namespace
    flags, os, and the three container lists."""
    return [_annotations_part(annotations), get("securityContext"), get("hostNetwork"),
            get("hostPID"), get("hostIPC"), get("hostUsers"), get("os"),
            _containers_part(get("initContainers")), _containers_part(get("containers")),
            _containers_part(get("ephemeralContainers"))]


def _head(annotations: Any, get: Any) -> bytes:
    """The key's JSON up to its volumes, which are joined on (msgspec writes no spaces)."""
    return _ENCODE(_parts(annotations, get))[:-1] + b","


def _shared_key(annotations: Any, get: Any, shared: dict[Any, Any]) -> str:
    """`security_key` with its head (`_head`) made once per combination of the very same
    annotations, security context and container lists (held by `shared`, so that an `id`
    stays theirs) and the same host-namespace flags and os."""
    context, os_ = get("securityContext"), get("os")
    lists = (get("initContainers"), get("containers"), get("ephemeralContainers"))
    ident = (id(annotations), id(context), id(lists[0]), id(lists[1]), id(lists[2]),
             get("hostNetwork"), get("hostPID"), get("hostIPC"), get("hostUsers"),
             None if os_ is None else _ENCODE(os_))
    found = shared.get(ident)
    if found is None:
        found = shared[ident] = ((annotations, context, lists), _head(annotations, get))
    return (found[1] + _volumes_piece(get("volumes")) + b"]").decode()


#: The encoded key of a volume of an allowed type, by the volume's keys in order (its
#: name is not part of it): most volumes are such, and their keys repeat.
_ALLOWED_PIECES: dict[tuple[Any, ...], bytes] = {}


def _volumes_piece(volumes: Any) -> bytes:
    """`_ENCODE(_volumes_part(volumes))`, without encoding each allowed volume anew."""
    if not isinstance(volumes, list):
        return _ENCODE(_volumes_part(volumes))
    pieces = []
    for volume in volumes:
        keys = tuple(volume) if isinstance(volume, dict) else None
        piece = _ALLOWED_PIECES.get(keys) if keys is not None else None
        if piece is None:
            piece = _ENCODE(_volume_key(volume))
            if keys is not None and len(_ALLOWED_PIECES) < 4096 and any(
                    k != "name" and k in RESTRICTED_ALLOWED for k in keys):
                _ALLOWED_PIECES[keys] = piece  # the same for a volume of any name
        pieces.append(piece)
    return b"[" + b",".join(pieces) + b"]"


def _same(value: Any) -> Any:
    return value


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
