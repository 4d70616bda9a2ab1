"""The `audit` use case: read audit logs, judge them against the plan, write the evidence.

Owns what `migrator audit` does between parsing options and printing: the time window
(`--since 7d`, `--from`, `--until`), reading the logs through `migrator.files.auditlog`,
collecting with `migrator.plan.evidence`, writing `--out audit.json` (whole, through
`migrator.files.writing`), and what trips `--fail-on violations` (a blocked gate; without a
plan, any recorded violation). Nothing here prints.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import IO, Any

from migrator.errors import UsageError
from migrator.files.auditlog import LogStats, Progress, read_events
from migrator.files.planfile import load_plan
from migrator.files.writing import write_file
from migrator.plan.evidence import Collector, Window, parse_time

FAIL_ON = ("violations",)
_DURATION = re.compile(r"(\d+)([wdhms])")
_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(text: str) -> timedelta:
    """`7d`, `24h`, `1h30m`, `2w`, `90s` as a timedelta; UsageError otherwise."""
    compact = text.strip().replace(" ", "")
    if not compact or _DURATION.sub("", compact):
        raise UsageError(f"--since {text!r}: expected a duration such as 7d, 24h or 1h30m")
    seconds = sum(int(n) * _UNITS[unit] for n, unit in _DURATION.findall(compact))
    return timedelta(seconds=seconds)


def parse_instant(text: str, option: str) -> datetime:
    """An RFC 3339 time or a date (`2026-12-01`, midnight UTC); UsageError otherwise."""
    found = parse_time(text if "T" in text or " " in text else text + "T00:00:00Z")
    if found is None:
        raise UsageError(f"{option} {text!r}: expected an RFC 3339 time such as "
                         "2026-12-01T00:00:00Z, or a date")
    return found


def window_of(since: str | None, start: str | None, until: str | None,
              now: datetime | None = None) -> Window:
    if since and start:
        raise UsageError("pass either --since or --from, not both")
    end = parse_instant(until, "--until") if until else None
    begin = parse_instant(start, "--from") if start else None
    if since:
        begin = (end or now or datetime.now(UTC)) - parse_duration(since)
    if begin and end and begin > end:
        raise UsageError("the window ends before it starts (--from/--since after --until)")
    return Window(begin, end)


def collect(paths: Sequence[str], plan: Mapping[str, Any] | None, window: Window,
            stats: LogStats, *, stdin: IO[bytes] | None = None,
            progress: Progress | None = None) -> dict[str, Any]:
    """The evidence of the logs at `paths` (ManifestError for a path that does not exist)."""
    try:
        collector = Collector(plan, window)
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"the plan cannot be used for the gate: {exc}") from None
    for event in read_events(paths, stats, stdin=stdin, progress=progress):
        collector.add(event)
    result = collector.result(stats.malformed)
    result["read"] = {"files": ["stdin" if f == "-" else f for f in stats.files],
                      "bytes": stats.bytes_read,
                      "events_parsed": stats.events, "unreadable": list(stats.unreadable)}
    return result


def tripped(evidence: dict[str, Any]) -> list[str]:
    """What fails `--fail-on violations`: blocked gates, or (no plan) recorded violations."""
    found = []
    for ns in evidence["namespaces"]:
        if ns["gate"] == "blocked":
            found.append(f"{ns['name']}: {ns['why']}")
        elif ns["gate"] is None and not evidence["planned"] and ns["violators"]:
            found.append(f"{ns['name']}: {ns['recorded_violations']} recorded violations")
    return found


@dataclass
class AuditRun:
    """What `migrator audit` found: the evidence, how the reading went, what trips the gate."""

    evidence: dict[str, Any]
    stats: LogStats
    trips: list[str]
    written: str | None


def run_audit(
    paths: Sequence[str],
    *,
    plan_path: str | None = None,
    since: str | None = None,
    start: str | None = None,
    until: str | None = None,
    out: str | None = None,
    fail_on: str | None = None,
    force: bool = False,
    stdin: IO[bytes] | None = None,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> AuditRun:
    """`migrator audit`: the evidence of the logs at `paths`, written to `out` when given.

    Raises UsageError for bad options, ManifestError for a missing log or a bad plan.
    """
    if fail_on is not None and fail_on not in FAIL_ON:
        raise UsageError(f"--fail-on must be one of: {', '.join(FAIL_ON)}")
    if out and os.path.exists(out) and not force:
        raise UsageError(f"{out} exists; pass --force to overwrite it")
    window = window_of(since, start, until, now)
    plan = load_plan(plan_path) if plan_path else None
    stats = LogStats()
    evidence = collect(paths, plan, window, stats, stdin=stdin, progress=progress)
    if out:
        write_file(out, evidence_json(evidence))
    return AuditRun(evidence, stats, tripped(evidence) if fail_on else [], out)


def evidence_json(evidence: dict[str, Any]) -> str:
    """audit.json as `--out` writes it."""
    return json.dumps(evidence, indent=2, ensure_ascii=False) + "\n"
