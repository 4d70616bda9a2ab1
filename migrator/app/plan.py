"""`migrator plan` and `migrator inventory` as use cases: read, plan or survey, write.

Owns what `plan` does between parsing its options and rendering its summary: reading the
source through `migrator.app.pipeline`, the optional server dry-run, and writing plan.json
with the readiness reports (every file written whole, through `migrator.app.report`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO

from migrator.app.pipeline import (
    Progress,
    Source,
    load_admission_config,
    plan_source,
    read_source,
    require_objects,
)
from migrator.app.report import REPORT_FILES, write_report
from migrator.errors import (
    EXIT_ERROR,
    EXIT_INCOMPLETE,
    EXIT_OK,
    ManifestError,
    SourceError,
    UsageError,
)
from migrator.files.manifests import paused_gc
from migrator.files.writing import check_output
from migrator.model.plan import PLAN_FILE, Plan
from migrator.plan.gaps import plan_gaps
from migrator.pss.api import Version

Echo = Callable[[str], None]


@dataclass
class PlanRun:
    """What `plan` produced: the plan, where it was written, and the exit code."""

    plan: Plan
    plan_path: str
    errors: list[ManifestError] = field(default_factory=list)
    #: what the plan could not know (`migrator.plan.gaps`): the answer is incomplete.
    gaps: list[str] = field(default_factory=list)
    #: the one-line verdict the report opens with ("Not ready to upgrade, 2 blockers: …")
    headline: str = ""

    @property
    def code(self) -> int:
        if self.errors:
            return EXIT_ERROR
        return EXIT_INCOMPLETE if self.gaps else EXIT_OK


def run_plan(
    paths: Sequence[str] | None,
    *,
    out: str,
    target: Version | None = None,
    pin: str | None = None,
    server: str | None = None,
    upgrade_to: str | None = None,
    kubeconfig: str | None = None,
    context: str | None = None,
    psp_from: Sequence[str] | None = None,
    admission_config: str | None = None,
    server_dry_run: bool = False,
    force: bool = False,
    echo: Echo,
    err: Echo,
    stdin: IO[str] | None = None,
    announce: Echo | None = None,
    progress: Progress | None = None,
    namespaces: Sequence[str] | None = None,
    generated_at: str | None = None,
) -> PlanRun:
    """Plan PATHS (or the live cluster) and write plan.json and the reports into `out`.

    Before reading anything: `out` must be writable and hold none of the artefacts
    (plan.json, report.*) unless `force`. Raises NoObjectsFound when nothing was found to
    plan (nothing is written then); each gap is told to `err` as it is found.
    """
    plan_path = os.path.join(out, PLAN_FILE)
    if server_dry_run and paths:
        raise UsageError("--server-dry-run needs a live cluster (no PATHS)")
    check_output(out, [PLAN_FILE, *REPORT_FILES], force=force)
    errors: list[ManifestError] = []
    config = load_admission_config(admission_config)
    source: Source = read_source(paths, errors=errors, kubeconfig=kubeconfig, context=context,
                                 psp_from=psp_from, stdin=stdin, announce=announce,
                                 progress=progress, gap=err, namespaces=namespaces)
    require_objects(source, paths, errors, namespaces)
    # What planning builds lives until the reports are written: collections meanwhile
    # would only rescan it (a tenth of a large plan's time). Any garbage cycle it leaves
    # is collected once the collector is back.
    with paused_gc():
        result = plan_source(source, pin=pin, target=target, config=config, server=server,
                             upgrade_to=upgrade_to)
    if server_dry_run:
        from migrator.app.apply import attach_server_dry_run

        attach_server_dry_run(result, kubeconfig, context, echo, err)
        summary = result.get("server_dry_run") or {}
        if summary.get("namespaces") and not summary.get("checked"):
            raise SourceError(f"server dry-run: none of the {summary['namespaces']} "
                              "namespaces answered; nothing was compared, no plan written")
    with paused_gc():
        report, _written = write_report(out, result, inventory=source.inventory,
                                        generated_at=generated_at,
                                        cluster_name=source.name if paths else (context or None))
    return PlanRun(result, plan_path, errors, plan_gaps(result), str(report["headline"]))
