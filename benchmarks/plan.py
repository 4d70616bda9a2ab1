"""Time and memory of `build_plan` on the demo and on a synthetic cluster.

Run: python benchmarks/plan.py [--namespaces 2000] [--pods-per-namespace 50]
The synthetic cluster has, per namespace, a Deployment with a ReplicaSet and its pods
(a realistic mix: compliant, root, privileged agents, sidecars), a CronJob with no pods, a
RoleBinding granting a PSP, plus cluster-wide PSPs and bindings. Prints seconds (the plan on
one server as the baseline, then across the upgrade) and the peak resident memory.
"""

from __future__ import annotations

import argparse
import copy
import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from evaluate import pod_mix  # noqa: E402

from migrator.errors import ManifestError  # noqa: E402
from migrator.files.source import read_files  # noqa: E402
from migrator.model.inventory import Inventory  # noqa: E402
from migrator.model.owners import OwnerIndex  # noqa: E402
from migrator.model.workloads import share_parts, slim_pod  # noqa: E402
from migrator.plan.decide import build_plan  # noqa: E402
from migrator.plan.residual import compiled, residual_plan  # noqa: E402
from migrator.pss.api import Level, Version  # noqa: E402
from migrator.pss.server import NEWEST_SERVER_MINOR, ServerVersion, clear_cache  # noqa: E402
from migrator.rbac.access import resolve_psp_access  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def synthetic(namespaces: int, per_namespace: int) -> Inventory:
    demo_errors: list[ManifestError] = []
    demo = read_files([str(ROOT / "fixtures" / "demo")], demo_errors)
    inventory = Inventory(server_version="v1.24.17", psp_api=True)
    seen: dict[bytes, Any] = {}  # as the readers do: replicas share identical parts
    for obj in demo.psps + demo.cluster_roles + demo.cluster_role_bindings:
        inventory.add(obj, "demo")
    mix = pod_mix()
    for n in range(namespaces):
        ns = f"team-{n:04d}"
        meta, spec = mix[n % len(mix)]
        inventory.add({"apiVersion": "v1", "kind": "Namespace",
                       "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}}},
                      "synthetic")
        template = {"metadata": {"labels": {"app": "app"}, **meta}, "spec": spec}
        dep_uid, rs_uid = f"d-{n}", f"r-{n}"
        inventory.add({"apiVersion": "apps/v1", "kind": "Deployment",
                       "metadata": {"name": "app", "namespace": ns, "uid": dep_uid},
                       "spec": {"replicas": per_namespace, "template": template}}, "synthetic")
        inventory.add({"apiVersion": "apps/v1", "kind": "ReplicaSet",
                       "metadata": {"name": "app-1", "namespace": ns, "uid": rs_uid,
                                    "ownerReferences": [{"kind": "Deployment", "name": "app",
                                                         "uid": dep_uid, "controller": True}]},
                       "spec": {"template": template}}, "synthetic")
        inventory.add({"apiVersion": "batch/v1", "kind": "CronJob",
                       "metadata": {"name": "nightly", "namespace": ns},
                       "spec": {"jobTemplate": {"spec": {"template": copy.deepcopy(template)}}}},
                      "synthetic")
        inventory.add({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                       "metadata": {"name": "psp", "namespace": ns},
                       "roleRef": {"kind": "ClusterRole", "name": "psp:restricted"},
                       "subjects": [{"kind": "Group", "name": f"system:serviceaccounts:{ns}"}]},
                      "synthetic")
        for i in range(per_namespace):
            pod: dict[str, Any] = {
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": f"app-1-{i:05d}", "namespace": ns,
                             "annotations": {"kubernetes.io/psp": "baseline", **(
                                 meta.get("annotations") or {})},
                             "ownerReferences": [{"kind": "ReplicaSet", "name": "app-1",
                                                  "uid": rs_uid, "controller": True}]},
                "spec": {**spec, "nodeName": f"node-{i % 100}",
                         "volumes": list(spec.get("volumes") or ()) + [
                             {"name": f"kube-api-access-{n}-{i}", "projected": {"sources": []}}]},
                "status": {"phase": "Running"},
            }
            inventory.add(share_parts(slim_pod(pod), seen), "synthetic")
    return inventory


def timed(label: str, inventory: Inventory, upgrade_to: ServerVersion | None = None) -> float:
    """Seconds to plan `inventory` on a 1.24 server, upgrading to `upgrade_to` (default: the
    newest modelled; `ServerVersion.of(24)` plans without an upgrade, one server)."""
    clear_cache()  # each plan starts cold
    compiled.cache_clear()
    start = time.perf_counter()
    plan = build_plan(inventory, pin=Version.of(24), server=ServerVersion.of(24),
                      upgrade_to=upgrade_to)
    elapsed = time.perf_counter() - start
    print(f"{label}: {len(inventory.pods)} pods, {len(plan['namespaces'])} namespaces, "
          f"plan built in {elapsed:.2f} s")
    residual_share(inventory, plan)
    return elapsed


def residual_share(inventory: Inventory, plan: Any) -> None:
    """The residual step alone (policies and their CEL proof), from a cold compile cache."""
    levels = {ns["name"]: (Level(ns["recommended"]["enforce"]),
                           Version.parse(ns["recommended"]["enforce_version"]))
              for ns in plan["namespaces"]}
    compiled.cache_clear()  # measure it as the plan pays it, compiling every policy
    start = time.perf_counter()
    residual = residual_plan(inventory, resolve_psp_access(inventory),
                             OwnerIndex.build(inventory.workloads), levels)
    checked = sum(e["checked"] for e in residual["namespaces"])
    print(f"  of which the residual policies and their CEL proof ({checked} pods and "
          f"templates): {time.perf_counter() - start:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--namespaces", type=int, default=2000)
    parser.add_argument("--pods-per-namespace", type=int, default=50)
    args = parser.parse_args()
    errors: list[ManifestError] = []
    timed("demo", read_files([str(ROOT / "fixtures" / "demo")], errors))
    start = time.perf_counter()
    inventory = synthetic(args.namespaces, args.pods_per_namespace)
    print(f"synthetic inventory built in {time.perf_counter() - start:.2f} s")
    # baseline: the same inventory judged on one server (no upgrade), in the same run
    one = timed("synthetic, v1.24 only (baseline)", inventory, ServerVersion.of(24))
    two = timed(f"synthetic, v1.24 and v1.{NEWEST_SERVER_MINOR} (across the upgrade)", inventory)
    print(f"judging on both servers: {two / one:.2f}x the baseline")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory: {peak:.0f} MB")


if __name__ == "__main__":
    main()
