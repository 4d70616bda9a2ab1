"""The `apply`, `rollback` and `plan --server-dry-run` commands as plain functions.

Owns what those commands do between parsing options and exiting: reading plan.json and
rollback files (every problem one clear line), connecting, calling `migrator.cluster.labels`
and `migrator.cluster.dryrun`,
and printing the result through the callables the CLI passes: `echo(line)` for the diff
(`namespace: label: old -> new`) and results, `err(line)` for errors, warnings and the
server's disagreements with the plan (lines arrive unprefixed except for `error:` and
`warning:` added here). Each `cmd_*` returns the exit code: 0 when everything asked was
done (or would be, in a dry run), 1 when the audit evidence (`--evidence`) refused some
namespaces, 2 when anything failed (nothing done, or some namespaces failed). No typer
here, so the CLI wiring stays a few lines per command.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from migrator.cluster.client import connect
from migrator.cluster.dryrun import attach_to_plan, run_server_dry_runs
from migrator.cluster.labels import (
    PHASES,
    ApplyResult,
    NamespaceResult,
    apply_labels,
    phase_labels,
    rollback,
)
from migrator.errors import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK, UsageError
from migrator.files.planfile import load_evidence, load_plan
from migrator.files.rollback import read_rollback_file, save_rollback
from migrator.model.plan import Plan
from migrator.model.words import count
from migrator.plan.evidence import evidence_refusals

Echo = Callable[[str], None]



# ---------------------------------------------------------------------------------------
# Reading plan.json


def default_rollback_path(plan_path: str, phase: str, now: datetime | None = None) -> str:
    """`rollback-<phase>-<UTC time>.json` beside plan.json."""
    folder = plan_path if os.path.isdir(plan_path) else os.path.dirname(plan_path)
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return os.path.join(folder or ".", f"rollback-{phase}-{stamp}.json")


# ---------------------------------------------------------------------------------------
# Printing results


def _print_results(results: Sequence[NamespaceResult], echo: Echo, err: Echo) -> None:
    """Per namespace: its changes (`ns: label: old -> new`), then what the server said."""
    for result in results:
        suffix = " (not done)" if result.status == "failed" else ""
        for change in result.changes:
            echo(change.line() + suffix)
        for warning in result.warnings:
            echo(f"{result.namespace}: server warning: {warning}")
        for line in result.kept:
            err(f"{result.namespace}: {line}")
        for note in result.notes:
            (err if result.status in ("skipped", "refused") else echo)(
                f"{result.namespace}: {note}")
        if result.error:
            err(f"error: {result.error}")


def _tally(results: Sequence[NamespaceResult], unchanged: str = "already set") -> str:
    changing = [r for r in results if r.status in ("would-change", "changed")]
    verb = "changed" if any(r.status == "changed" for r in changing) else "to change"
    parts = [f"{count(sum(len(r.changes) for r in changing), 'label')} {verb} in "
             f"{count(len(changing), 'namespace')}"]
    for status, words in (("unchanged", unchanged), ("skipped", "skipped"),
                          ("failed", "failed")):
        n = sum(1 for r in results if r.status == status)
        if n:
            parts.append(f"{count(n, 'namespace')} {words}")
    kept = sum(1 for r in results if r.kept)
    if kept:
        parts.append(f"{count(kept, 'namespace')} kept a stricter level (not lowered)")
    return "; ".join(parts)


# ---------------------------------------------------------------------------------------
# Commands


def cmd_apply(
    plan_path: str,
    phase: str,
    namespaces: Sequence[str] | None,
    yes: bool,
    kubeconfig: str | None,
    context: str | None,
    rollback_out: str | None,
    echo: Echo,
    err: Echo,
    evidence_path: str | None = None,
    allow_violations: bool = False,
    allow_lower: bool = False,
) -> int:
    """`migrator apply`: show (or, with `yes`, make) the label changes of `phase`.

    With `evidence_path` (phase enforce only), namespaces the audit evidence does not clear
    are refused (not applied, exit 1) unless `allow_violations`. A namespace already
    stricter than the plan is left alone (exit 1) unless `allow_lower`.
    """
    if phase not in PHASES:
        raise UsageError(f"unknown phase {phase!r}: use audit or enforce")
    if evidence_path and phase != "enforce":
        raise UsageError("--evidence applies to --phase enforce")
    if allow_violations and not evidence_path:
        raise UsageError("--allow-violations needs --evidence")
    plan = load_plan(plan_path)
    chosen = sorted(phase_labels(plan, phase, namespaces))  # a bad plan or namespace fails
    refused: dict[str, str] = {}                            # before connecting
    if evidence_path:
        refusals = evidence_refusals(plan, load_evidence(evidence_path), chosen)
        for name, why in refusals.items():
            if allow_violations:
                err(f"warning: {name}: not cleared by {evidence_path}: {why}; enforcing "
                    "anyway (--allow-violations)")
            else:
                err(f"refused: {name}: not cleared by {evidence_path}: {why}")
        if not allow_violations:
            refused = refusals
            chosen = [n for n in chosen if n not in refused]
        if not chosen:
            err(f"error: no namespace is cleared by {evidence_path}; nothing to apply "
                "(--allow-violations enforces regardless)")
            return EXIT_FINDINGS
    rollback_path = rollback_out or default_rollback_path(plan_path, phase)
    if yes and os.path.lexists(rollback_path):
        raise UsageError(f"{rollback_path} exists; choose another --rollback-file")
    with connect(kubeconfig, context) as client:
        mode = "applying" if yes else "dry run, nothing is changed"
        echo(f"phase {phase} on {client.describe()}: {mode}")
        result = apply_labels(client, plan, phase=phase,
                              namespaces=chosen if evidence_path else namespaces, yes=yes,
                              save_rollback=functools.partial(save_rollback, rollback_path),
                              allow_lower=allow_lower)
    _report_apply(result, echo, err)
    if refused:
        echo(f"{count(len(refused), 'namespace')} refused by the evidence: "
             f"{', '.join(sorted(refused))}")
    if result.failed:
        return EXIT_ERROR
    return EXIT_FINDINGS if refused or result.refused else EXIT_OK


def _report_apply(result: ApplyResult, echo: Echo, err: Echo) -> None:
    _print_results(result.namespaces, echo, err)
    echo(_tally(result.namespaces))
    if result.dry_run:
        if result.changes:
            echo("dry run: nothing was changed. Run again with --yes to apply; the previous "
                 "values are saved to a rollback file first.")
        return
    if result.rollback_path:
        echo(f"previous values saved to {result.rollback_path}; undo with: migrator rollback "
             f"{result.rollback_path} --yes")
    else:
        echo("nothing to change")


def cmd_rollback(
    path: str,
    kubeconfig: str | None,
    context: str | None,
    yes: bool,
    echo: Echo,
    err: Echo,
) -> int:
    """`migrator rollback`: show (or, with `yes`, restore) the values a rollback file holds."""
    record = read_rollback_file(path)
    with connect(kubeconfig, context) as client:
        if record.server and record.server != client.server:
            message = (f"{path} was written for {record.server}; the current context "
                       f"points at {client.server}")
            if yes:
                raise UsageError(
                    f"{message}. Use the context of that cluster (or edit `server` in the "
                    "file if this is the same cluster under another address)")
            err(f"warning: {message}")
        mode = "restoring" if yes else "dry run, nothing is changed"
        echo(f"rollback from {path} on {client.describe()}: {mode}")
        results = rollback(client, record, dry_run=not yes)
    _print_results(results, echo, err)
    echo(_tally(results, "already as recorded"))
    if not yes and any(r.changes for r in results):
        echo("dry run: nothing was changed. Run again with --yes to restore these values.")
    return EXIT_ERROR if any(r.status == "failed" for r in results) else EXIT_OK


def attach_server_dry_run(
    plan: Plan,
    kubeconfig: str | None,
    context: str | None,
    echo: Echo,
    err: Echo,
) -> None:
    """Dry-run every namespace's proposed enforce level on the server and store the result.

    Adds `server_dry_run` to `plan` and to each of its namespaces, prints a one-line summary
    (echo) and every disagreement, incomplete coverage and error (err). Raises SourceError
    when the cluster cannot be reached at all.
    """
    with connect(kubeconfig, context) as client:
        results = run_server_dry_runs(client, plan)
    attach_to_plan(plan, results)
    summary = results["summary"]
    echo(f"server dry-run (dryRun=All, nothing persisted) on {summary['server']}: "
         f"{summary['checked']} of {count(summary['namespaces'], 'namespace')} answered, "
         f"{summary['evaluated']} evaluated existing pods, {summary['agreeing']} agree with "
         f"the plan, {count(summary['disagreements'], 'disagreement')}")
    for name, entry in results["namespaces"].items():
        for disagreement in entry["disagreements"]:
            err(f"DISAGREEMENT {name} ({entry['level']}): {disagreement['message']}")
    for item in summary["incomplete_coverage"]:
        err(f"INCOMPLETE {item['namespace']}: {item['note']}; pods beyond those were not "
            "compared")
    for item in summary["errors"]:
        err(f"error: server dry-run of {item['namespace']}: {item['message']}")


__all__ = [
    "EXIT_ERROR",
    "EXIT_OK",
    "attach_server_dry_run",
    "cmd_apply",
    "cmd_rollback",
    "default_rollback_path",
    "load_plan",
]
