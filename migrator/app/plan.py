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
)
from migrator.app.report import write_report
from migrator.errors import EXIT_ERROR, EXIT_OK, ManifestError, UsageError
from migrator.model.plan import PLAN_FILE, Plan
from migrator.pss.api import Version

Echo = Callable[[str], None]


@dataclass
class PlanRun:
    """What `plan` produced: the plan, where it was written, and the exit code."""

    plan: Plan
    plan_path: str
    errors: list[ManifestError] = field(default_factory=list)

    @property
    def code(self) -> int:
        return EXIT_ERROR if self.errors else EXIT_OK


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
) -> PlanRun:
    """Plan PATHS (or the live cluster) and write plan.json and the reports into `out`."""
    plan_path = os.path.join(out, PLAN_FILE)
    if os.path.exists(plan_path) and not force:
        raise UsageError(f"{plan_path} exists; pass --force to overwrite it")
    if server_dry_run and paths:
        raise UsageError("--server-dry-run needs a live cluster (no PATHS)")
    errors: list[ManifestError] = []
    config = load_admission_config(admission_config)
    source: Source = read_source(paths, errors=errors, kubeconfig=kubeconfig, context=context,
                                 psp_from=psp_from, stdin=stdin, announce=announce,
                                 progress=progress)
    result = plan_source(source, pin=pin, target=target, config=config, server=server,
                         upgrade_to=upgrade_to)
    if server_dry_run:
        from migrator.app.apply import attach_server_dry_run

        attach_server_dry_run(result, kubeconfig, context, echo, err)
    write_report(out, result, inventory=source.inventory,
                 cluster_name=source.name if paths else (context or None))
    return PlanRun(result, plan_path, errors)
