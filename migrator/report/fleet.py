"""Fleets, pure: one outcome per kubeconfig context, and the fleet page's view model.

Owns `ClusterOutcome` (one context's plan and report, or why it failed), `cluster_dirs` (a
safe, unique folder name per context) and `fleet_view` (the fleet page's data, sorted by
context). Planning the clusters is `migrator.app.fleet`'s job.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from migrator.model.plan import Plan
from migrator.model.words import count
from migrator.report.model import BLOCKED, READY, WARNINGS

FAILED = "failed"
FLEET_SCHEMA = "migrator.fleet/v1"


@dataclass
class ClusterOutcome:
    """One context's result: its plan and report, or the one-line reason it failed."""

    context: str
    directory: str
    plan: Plan | None = None
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
        "headline": f"{count(len(clusters), 'cluster')}: {', '.join(parts)}.",
        "counts": {"clusters": len(clusters), **tally},
        "clusters": clusters,
    }
