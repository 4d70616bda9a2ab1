"""The default evaluator over every upstream check, and the verdict of one pod.

`evaluate(level, version, metadata, spec)` is the engine's one entry point for the rest
of the tool. `verdict_cached` adds a cache keyed by the security-relevant part of a pod,
so that identical replicas cost a dictionary lookup.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from migrator.pss.api import Level, Version
from migrator.pss.checks import ALL_CHECKS
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


_IGNORED_SPEC = frozenset({
    "nodeName", "nodeSelector", "affinity", "tolerations", "priority", "priorityClassName",
    "schedulerName", "dnsPolicy", "dnsConfig", "restartPolicy", "serviceAccountName",
    "serviceAccount", "terminationGracePeriodSeconds", "topologySpreadConstraints",
    "imagePullSecrets", "hostname", "subdomain", "readinessGates", "resourceClaims",
    "enableServiceLinks", "preemptionPolicy", "overhead", "activeDeadlineSeconds",
    "automountServiceAccountToken", "setHostnameAsFQDN", "shareProcessNamespace",
    "schedulingGates", "resources", "runtimeClassName",
})
_IGNORED_CONTAINER = frozenset({
    "image", "command", "args", "env", "envFrom", "resources", "volumeMounts",
    "volumeDevices", "workingDir", "imagePullPolicy", "terminationMessagePath",
    "terminationMessagePolicy", "stdin", "stdinOnce", "tty", "resizePolicy",
    "restartPolicy", "targetContainerName",
})


def security_key(metadata: Mapping[str, Any] | None, spec: Mapping[str, Any] | None) -> str:
    """A string equal for two pods that every check treats alike.

    Keeps container names and every field a check reads (annotations for AppArmor and
    seccomp, security contexts, ports, probes, volumes, host namespaces, sysctls, os),
    drops what none reads (images, env, resources, scheduling).
    """
    metadata = metadata or {}
    spec = spec or {}
    reduced: dict[str, Any] = {}
    for key, value in spec.items():
        if key in _IGNORED_SPEC:
            continue
        if key in ("containers", "initContainers", "ephemeralContainers") and value:
            value = [
                {k: v for k, v in c.items() if k not in _IGNORED_CONTAINER}
                if isinstance(c, dict) else c
                for c in value
            ]
        reduced[key] = value
    annotations = metadata.get("annotations") or {}
    security_annotations = {
        k: v for k, v in annotations.items() if "seccomp" in k or "apparmor" in k
    }
    return json.dumps([security_annotations, reduced], sort_keys=True, default=str)


@lru_cache(maxsize=65536)
def _cached(level: Level, version: Version, key: str) -> tuple[Violation, ...]:
    metadata, spec = json.loads(key)
    return tuple(evaluate(level, version, {"annotations": metadata}, spec))


def verdict_cached(
    level: Level,
    version: Version,
    metadata: Mapping[str, Any] | None,
    spec: Mapping[str, Any] | None,
) -> tuple[Violation, ...]:
    """Like `evaluate`, answered from a cache for pods with the same security key."""
    pinned = Version.of(version.effective_minor())
    return _cached(level, pinned, security_key(metadata, spec))
