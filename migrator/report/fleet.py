"""Fleets: one plan and report per kubeconfig context, planned concurrently, and their index.

Owns `plan_clusters` (each context connected, read, planned, optionally its Helm history read, and
its report built, in a ThreadPoolExecutor: a cluster that fails becomes an outcome with an
error and never stops the others), `cluster_dirs` (a safe, unique folder name per context)
and `fleet_view` (pure: the fleet page's view model, sorted by context).

Talks to clusters only through `migrator.sources.cluster`; writes nothing (the caller writes
the files).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

from migrator.admission import AdmissionConfig
from migrator.errors import MigratorError
from migrator.pss.api import Version
from migrator.report.helm import read_helm_history
from migrator.report.model import BLOCKED, READY, WARNINGS, build_report

FAILED = "failed"
FLEET_SCHEMA = "migrator.fleet/v1"
#: Clusters planned at once: each holds one inventory in memory while it is planned.
MAX_WORKERS = 4


@dataclass(frozen=True, slots=True)
class ClusterOptions:
    """How every cluster of a fleet is planned."""

    pin: str | None = None
    #: None: the version of the server after the upgrade (the newest modelled)
    target: Version | None = None
    config: AdmissionConfig = field(default_factory=AdmissionConfig.default)
    psp_from: tuple[str, ...] = ()
    helm_history: bool = False
    generated_at: str | None = None


@dataclass
class ClusterOutcome:
    """One context's result: its plan and report, or the one-line reason it failed."""

    context: str
    directory: str
    plan: dict[str, Any] | None = None
    report: dict[str, Any] | None = None
    error: str | None = None


def cluster_dirs(contexts: Sequence[str]) -> dict[str, str]:
    """A folder name per context: safe characters only, unique, stable for the same list."""
    taken: set[str] = set()
    out: dict[str, str] = {}
    for context in sorted(contexts):
        base = re.sub(r"[^A-Za-z0-9._-]+", "_", context).strip("._") or "cluster"
        name, n = base, 2
        while name.lower() in taken:
            name, n = f"{base}-{n}", n + 1
        taken.add(name.lower())
        out[context] = name
    return out


def plan_cluster(context: str, directory: str, kubeconfig: str | None,
                 options: ClusterOptions) -> ClusterOutcome:
    """Connect to one context, read and plan it, and build its report."""
    from migrator.plan import build_plan, pin_version
    from migrator.sources.cluster import connect, read_inventory

    outcome = ClusterOutcome(context, directory)
    try:
        with connect(kubeconfig, context) as client:
            inventory = read_inventory(client, psp_from=list(options.psp_from) or None)
            helm = read_helm_history(client).to_dict() if options.helm_history else None
        pin = pin_version(inventory.server_version, options.pin)
        plan = build_plan(inventory, pin=pin, target=options.target, config=options.config,
                          source=context)
        outcome.report = build_report(plan, inventory=inventory, helm=helm,
                                      generated_at=options.generated_at, cluster_name=context)
        outcome.plan = plan
    except MigratorError as exc:
        outcome.error = str(exc)
    except Exception as exc:  # one cluster's surprise must not stop the fleet
        outcome.error = f"internal error: {type(exc).__name__}: {exc}"
    return outcome


def plan_clusters(
    contexts: Iterable[str],
    kubeconfig: str | None,
    options: ClusterOptions,
    *,
    max_workers: int = MAX_WORKERS,
    done: Callable[[ClusterOutcome], None] | None = None,
) -> list[ClusterOutcome]:
    """Every context planned concurrently; outcomes sorted by context. `done` sees each
    outcome as it completes (for progress lines)."""
    dirs = cluster_dirs(list(contexts))
    outcomes: list[ClusterOutcome] = []
    with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(dirs))),
                            thread_name_prefix="migrator-cluster") as pool:
        futures = [pool.submit(plan_cluster, ctx, dirs[ctx], kubeconfig, options)
                   for ctx in sorted(dirs)]
        for future in as_completed(futures):
            outcome = future.result()
            outcomes.append(outcome)
            if done is not None:
                done(outcome)
    return sorted(outcomes, key=lambda o: o.context)


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def fleet_view(outcomes: Sequence[ClusterOutcome],
               generated_at: str | None = None) -> dict[str, Any]:
    """The fleet page's data: each cluster's status, headline and link, or its failure."""
    clusters = []
    for o in sorted(outcomes, key=lambda o: o.context):
        report: Mapping[str, Any] = o.report or {}
        counts: Mapping[str, Any] = report.get("counts") or {}
        cluster: Mapping[str, Any] = report.get("cluster") or {}
        clusters.append({
            "context": o.context,
            "directory": o.directory,
            "link": f"{o.directory}/report.html" if o.report else None,
            "status": str(report["status"]) if o.report else FAILED,
            "headline": str(report["headline"]) if o.report else "",
            "server_version": cluster.get("server_version"),
            "namespaces": counts.get("namespaces", 0),
            "blockers": counts.get("blockers", 0),
            "warnings": counts.get("warnings", 0),
            "error": o.error,
        })
    tally = {s: sum(1 for c in clusters if c["status"] == s)
             for s in (BLOCKED, WARNINGS, READY, FAILED)}
    parts = [f"{tally[READY] + tally[WARNINGS]} ready"
             + (f" ({tally[WARNINGS]} with warnings)" if tally[WARNINGS] else ""),
             f"{tally[BLOCKED]} blocked"]
    if tally[FAILED]:
        parts.append(f"{tally[FAILED]} could not be planned")
    status = (FAILED if tally[FAILED] else BLOCKED if tally[BLOCKED]
              else WARNINGS if tally[WARNINGS] else READY)
    return {
        "schema": FLEET_SCHEMA,
        "generated_at": generated_at,
        "status": status,
        "headline": f"{_plural(len(clusters), 'cluster')}: {', '.join(parts)}.",
        "counts": {"clusters": len(clusters), **tally},
        "clusters": clusters,
    }
