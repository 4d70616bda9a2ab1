"""Benchmark: read N pods from the loopback API server double with `read_inventory`.

Owns the pod generator for large fake clusters (realistic pods of about 4 KB of JSON each:
env vars, resources, probes, volumes, managedFields, status) and the measurement. The server
runs in a child process, so the figures are those of the reading side only: elapsed seconds,
pods/s, peak RSS (`ru_maxrss`) and, with `--tracemalloc`, the Python heap peak and what the
inventory keeps.

    .venv/bin/python benchmarks/read_pods.py [--pods 100000] [--namespaces 2000]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import fake_apiserver as fa  # noqa: E402

from migrator.cluster.client import connect, read_inventory  # noqa: E402


def _pod_template() -> str:
    """One realistic stored pod as JSON (list-item form), with __PLACEHOLDERS__."""
    env: list[dict[str, Any]] = [
        {"name": f"SETTING_{i}", "value": f"value-{i}-__IDX__"} for i in range(4)
    ]
    env.append({"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1",
                                                                "fieldPath": "metadata.name"}}})
    container = {
        "name": "app",
        "image": "registry.example/shop/app:1.27.3",
        "command": ["/app/server"],
        "args": ["--port=8080", "--log-level=info"],
        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
        "env": env,
        "resources": {"limits": {"cpu": "500m", "memory": "512Mi"},
                      "requests": {"cpu": "100m", "memory": "128Mi"}},
        "volumeMounts": [
            {"name": "config", "mountPath": "/etc/app"},
            {"name": "cache", "mountPath": "/var/cache/app"},
            {"name": "kube-api-access-__SUFFIX__", "readOnly": True,
             "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"},
        ],
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"},
                          "initialDelaySeconds": 10, "timeoutSeconds": 1, "periodSeconds": 10,
                          "successThreshold": 1, "failureThreshold": 3},
        "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080, "scheme": "HTTP"},
                           "timeoutSeconds": 1, "periodSeconds": 5, "successThreshold": 1,
                           "failureThreshold": 3},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "imagePullPolicy": "IfNotPresent",
        "securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True,
                            "capabilities": {"drop": ["ALL"]}},
    }
    sidecar = {
        "name": "proxy", "image": "registry.example/mesh/proxy:1.20.1",
        "resources": {"limits": {"cpu": "200m", "memory": "128Mi"},
                      "requests": {"cpu": "10m", "memory": "40Mi"}},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent",
    }
    pod: dict[str, Any] = {
        "metadata": {
            "name": "__NAME__",
            "generateName": "shop-app-7d9f8c6b5d-",
            "namespace": "__NS__",
            "uid": "__UID__",
            "resourceVersion": "__IDX__",
            "creationTimestamp": "2024-05-01T10:00:00Z",
            "labels": {"app": "shop", "pod-template-hash": "7d9f8c6b5d", "tier": "web"},
            "annotations": {"kubernetes.io/psp": "restricted",
                            "seccomp.security.alpha.kubernetes.io/pod": "runtime/default"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                 "name": "shop-app-7d9f8c6b5d", "uid": "rs-__NS__",
                                 "controller": True, "blockOwnerDeletion": True}],
            "managedFields": [{
                "manager": "kube-controller-manager", "operation": "Update",
                "apiVersion": "v1", "time": "2024-05-01T10:00:00Z", "fieldsType": "FieldsV1",
                "fieldsV1": {"f:metadata": {"f:generateName": {}, "f:labels": {
                    ".": {}, "f:app": {}, "f:pod-template-hash": {}, "f:tier": {}}},
                    "f:spec": {"f:containers": {'k:{"name":"app"}': {
                        ".": {}, "f:env": {}, "f:image": {}, "f:name": {}, "f:ports": {},
                        "f:resources": {}}}}},
            }],
        },
        "spec": {
            "volumes": [
                {"name": "config", "configMap": {"name": "shop-config", "defaultMode": 420}},
                {"name": "cache", "emptyDir": {"sizeLimit": "1Gi"}},
                {"name": "kube-api-access-__SUFFIX__", "projected": {"sources": [
                    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                    {"configMap": {"name": "kube-root-ca.crt",
                                   "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                    {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
                        "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
                ], "defaultMode": 420}},
            ],
            "containers": [container, sidecar],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "serviceAccountName": "shop",
            "serviceAccount": "shop",
            "nodeName": "node-__NODE__",
            "securityContext": {"runAsUser": 1000, "fsGroup": 2000,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "schedulerName": "default-scheduler",
            "tolerations": [
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                 "effect": "NoExecute", "tolerationSeconds": 300},
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                 "effect": "NoExecute", "tolerationSeconds": 300},
            ],
            "priority": 0,
            "enableServiceLinks": True,
            "preemptionPolicy": "PreemptLowerPriority",
        },
        "status": {
            "phase": "Running",
            "conditions": [{"type": t, "status": "True", "lastProbeTime": None,
                            "lastTransitionTime": "2024-05-01T10:00:05Z"}
                           for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")],
            "hostIP": "10.0.1.__NODE__",
            "podIP": "10.244.__NODE__.17",
            "startTime": "2024-05-01T10:00:00Z",
            "containerStatuses": [{
                "name": n, "state": {"running": {"startedAt": "2024-05-01T10:00:04Z"}},
                "lastState": {}, "ready": True, "restartCount": 0,
                "image": f"registry.example/{n}:1", "imageID": f"registry.example/{n}@sha256:"
                + "ab" * 32, "containerID": "containerd://" + "cd" * 32, "started": True,
            } for n in ("app",)],
            "qosClass": "Burstable",
        },
    }
    return json.dumps(pod, separators=(",", ":"))


class GeneratedPods:
    """`count` pods spread over `namespaces` namespaces, generated when served."""

    def __init__(self, count: int, namespaces: int) -> None:
        self.count = count
        self.per_namespace = max(1, -(-count // max(1, namespaces)))
        self.template = _pod_template()

    def __len__(self) -> int:
        return self.count

    def key(self, index: int) -> tuple[str, str]:
        return f"ns-{index // self.per_namespace:05d}", f"pod-{index:07d}"

    def item(self, index: int) -> bytes:
        ns, name = self.key(index)
        text = (self.template.replace("__NAME__", name).replace("__NS__", ns)
                .replace("__UID__", f"00000000-0000-4000-8000-{index:012d}")
                .replace("__IDX__", str(index)).replace("__SUFFIX__", f"{index % 99999:05d}")
                .replace("__NODE__", str(index % 250)))
        return text.encode()


def _serve(count: int, namespaces: int, conn: Any) -> None:
    server = fa.v1_36()
    server.set_source("", "pods", GeneratedPods(count, namespaces))
    with server:
        conn.send(server.url)
        conn.recv()  # until the reader is done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=100_000)
    parser.add_argument("--namespaces", type=int, default=2_000)
    parser.add_argument("--tracemalloc", action="store_true",
                        help="also measure the Python heap peak (slows the read down)")
    args = parser.parse_args()

    pod_bytes = len(GeneratedPods(1, 1).item(0))
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.Process(target=_serve, args=(args.pods, args.namespaces, child),
                                     daemon=True)
    server.start()
    url = parent.recv()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            kubeconfig = fa.write_kubeconfig(tmp, url)
            with connect(str(kubeconfig)) as client:
                rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                if args.tracemalloc:
                    tracemalloc.start()
                started = time.perf_counter()
                inventory = read_inventory(client)
                elapsed = time.perf_counter() - started
                if args.tracemalloc:
                    current, peak = tracemalloc.get_traced_memory()
                    tracemalloc.stop()
                rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    finally:
        parent.send("done")
        server.join(10)

    pods = len(inventory.pods)
    print(f"pods read:              {pods}")
    print(f"namespaces:             {args.namespaces}")
    print(f"pod JSON size (served): {pod_bytes} bytes")
    print(f"JSON received (pods):   {pods * pod_bytes / 1e6:.0f} MB")
    print(f"elapsed:                {elapsed:.2f} s")
    print(f"pods/s:                 {pods / elapsed:.0f}")
    print(f"peak RSS before read:   {rss_before / 1024:.0f} MB")
    print(f"peak RSS after read:    {rss_after / 1024:.0f} MB")
    if args.tracemalloc:
        print(f"tracemalloc peak:       {peak / 1e6:.0f} MB")
        print(f"tracemalloc retained:   {current / 1e6:.0f} MB (the inventory)")
    if pods != args.pods:
        raise SystemExit(f"expected {args.pods} pods, read {pods}")


if __name__ == "__main__":
    main()
