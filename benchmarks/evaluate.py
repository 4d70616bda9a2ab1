"""Pod evaluations per second at restricted/latest, without and with the verdict cache.

Run: python benchmarks/evaluate.py [--pods N]
A mix of realistic pods (compliant, root, privileged DaemonSet, sidecars, init containers,
mutated-by-PSP) is evaluated N times over; the uncached rate runs the full engine on every
pod, the cached rate answers identical replicas from the security-key cache.
"""

from __future__ import annotations

import argparse
import copy
import time
from typing import Any

from migrator.pss.api import Level, Version
from migrator.pss.engine import EVALUATOR, evaluate, security_key, verdict_cached
from migrator.pss.pod import PodView
from migrator.pss.registry import run


def _container(name: str, sc: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": name,
        "image": f"registry.example.com/{name}:1.2.3",
        "env": [{"name": f"VAR_{i}", "value": str(i)} for i in range(8)],
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
        "volumeMounts": [{"name": "config", "mountPath": "/etc/config"}],
        "ports": [{"containerPort": 8080, "protocol": "TCP"}],
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
    }
    if sc is not None:
        out["securityContext"] = sc
    out.update(extra)
    return out


RESTRICTED_SC = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def pod_mix() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    volumes = [{"name": "config", "configMap": {"name": "cfg"}},
               {"name": "token", "projected": {"sources": []}}]
    compliant = {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [_container("app", RESTRICTED_SC)],
        "volumes": volumes,
    }
    sidecar = {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "initContainers": [_container("init", RESTRICTED_SC)],
        "containers": [_container("app", RESTRICTED_SC), _container("proxy", RESTRICTED_SC)],
        "volumes": volumes,
    }
    plain = {"containers": [_container("web")], "volumes": volumes}
    root = {"securityContext": {"runAsUser": 0}, "containers": [_container("api")],
            "volumes": volumes + [{"name": "nfs", "nfs": {"server": "s", "path": "/"}}]}
    daemon = {
        "hostNetwork": True, "hostPID": True,
        "containers": [_container("agent", {"privileged": True})],
        "volumes": [{"name": "proc", "hostPath": {"path": "/proc"}}],
    }
    annotations = {"kubernetes.io/psp": "restricted", "seccomp.security.alpha.kubernetes.io/pod":
                   "runtime/default"}
    mix = [({}, compliant)] * 5 + [({}, sidecar)] * 2 + [({}, plain)] * 1 + [({}, root)] + [
        ({"annotations": annotations}, daemon)]
    return [(copy.deepcopy(m), copy.deepcopy(s)) for m, s in mix]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pods", type=int, default=200_000)
    args = parser.parse_args()
    level, version = Level.RESTRICTED, Version.latest()
    mix = pod_mix()
    pods = [mix[i % len(mix)] for i in range(args.pods)]

    denied = 0
    start = time.perf_counter()
    for metadata, spec in pods:
        if evaluate(level, version, metadata, spec):
            denied += 1
    uncached = time.perf_counter() - start

    table = EVALUATOR.table(level, version)
    start = time.perf_counter()
    for metadata, spec in pods:
        run(table, PodView(metadata, spec))
    engine_only = time.perf_counter() - start

    start = time.perf_counter()
    denied_cached = sum(
        1 for metadata, spec in pods if verdict_cached(level, version, metadata, spec)
    )
    cached = time.perf_counter() - start
    assert denied == denied_cached

    # A plan judges each pod at two levels and two versions: one key serves all four.
    combos = [(lv, vv) for lv in (Level.RESTRICTED, Level.BASELINE)
              for vv in (Version.of(25), Version.latest())]
    start = time.perf_counter()
    for metadata, spec in pods:
        key = security_key(metadata, spec)
        for lv, vv in combos:
            verdict_cached(lv, vv, metadata, spec, key)
    cached4 = time.perf_counter() - start
    start = time.perf_counter()
    for metadata, spec in pods:
        for lv, vv in combos:
            evaluate(lv, vv, metadata, spec)
    uncached4 = time.perf_counter() - start

    n = len(pods)
    print(f"pods evaluated:            {n}")
    print(f"denied at {level}:{version}: {denied}")
    print(f"uncached (full engine):    {n / uncached:,.0f} pods/s")
    print(f"uncached (table reused):   {n / engine_only:,.0f} pods/s")
    print(f"cached by security key:    {n / cached:,.0f} pods/s")
    print(f"4 verdicts/pod uncached:   {4 * n / uncached4:,.0f} verdicts/s")
    print(f"4 verdicts/pod, one key:   {4 * n / cached4:,.0f} verdicts/s")


if __name__ == "__main__":
    main()
