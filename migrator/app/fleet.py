"""Fleets: one plan and report per kubeconfig context, planned concurrently, and their index.

Owns `plan_clusters` (each context connected, read, planned, optionally its Helm history read, and
its report built, in a ThreadPoolExecutor: a cluster that fails becomes an outcome with an
error and never stops the others), `cluster_dirs` (a safe, unique folder name per context)
and `fleet_view` (pure: the fleet page's view model, sorted by context).

Talks to clusters only through `migrator.cluster.client`; writes nothing (the caller writes
the files).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

from migrator.app.pipeline import plan_source, read_source
from migrator.errors import ManifestError, MigratorError
from migrator.model.admission import AdmissionConfig
from migrator.pss.api import Version
from migrator.report.fleet import ClusterOutcome, cluster_dirs
from migrator.report.model import build_report

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


def plan_cluster(context: str, directory: str, kubeconfig: str | None,
                 options: ClusterOptions) -> ClusterOutcome:
    """Connect to one context, read and plan it, and build its report."""
    outcome = ClusterOutcome(context, directory)
    try:
        errors: list[ManifestError] = []
        source = read_source(None, errors=errors, kubeconfig=kubeconfig, context=context,
                             psp_from=options.psp_from, helm_history=options.helm_history)
        if errors:
            raise errors[0]
        source.name = context
        plan = plan_source(source, pin=options.pin, target=options.target,
                           config=options.config)
        outcome.report = build_report(plan, inventory=source.inventory, helm=source.helm,
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


