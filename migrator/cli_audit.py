"""The `audit` command as a plain function: read audit logs, judge them, write the evidence.

Owns what `migrator audit` does between parsing options and exiting: the time window
(`--since 7d`, `--from`, `--until`), reading the logs through `migrator.sources.auditlog`,
collecting with `migrator.evidence`, writing `--out audit.json`, and printing through the
`echo` and `err` callables it is given. Returns the exit code: 0; 1 when `--fail-on
violations` trips (a gate is blocked, or without a plan any violation was recorded); 2 when
an input could not be read (the evidence printed is then incomplete).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import IO, Any

from migrator.errors import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK, MigratorError, UsageError
from migrator.evidence import Collector, Window, parse_time, render_text
from migrator.planfile import load_plan
from migrator.sources.auditlog import LogStats, Progress, read_events

Echo = Callable[[str], None]
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


def collect(paths: Sequence[str], plan: dict[str, Any] | None, window: Window,
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
                      "bytes": stats.bytes_read, "lines": stats.lines,
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


def run_audit(
    paths: Sequence[str],
    *,
    echo: Echo,
    err: Echo,
    plan_path: str | None = None,
    since: str | None = None,
    start: str | None = None,
    until: str | None = None,
    fmt: str = "text",
    out: str | None = None,
    fail_on: str | None = None,
    force: bool = False,
    stdin: IO[bytes] | None = None,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> int:
    """`migrator audit`: print (and with `out`, write) the evidence; the exit code."""
    stats = LogStats()
    try:
        if fail_on is not None and fail_on not in FAIL_ON:
            raise UsageError(f"--fail-on must be one of: {', '.join(FAIL_ON)}")
        if fmt not in ("text", "json"):
            raise UsageError("--format must be text or json")
        if out and os.path.exists(out) and not force:
            raise UsageError(f"{out} exists; pass --force to overwrite it")
        window = window_of(since, start, until, now)
        plan = load_plan(plan_path) if plan_path else None
        evidence = collect(paths, plan, window, stats, stdin=stdin, progress=progress)
        text = json.dumps(evidence, indent=2, ensure_ascii=False) + "\n"
        if out:
            folder = os.path.dirname(os.path.abspath(out))
            os.makedirs(folder, exist_ok=True)
            partial = os.path.join(folder, f".{os.path.basename(out)}.partial")
            with open(partial, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(partial, out)
    except MigratorError as exc:
        err(f"error: {exc}")
        return EXIT_ERROR
    except OSError as exc:
        err(f"error: {out}: {exc.strerror or exc}")
        return EXIT_ERROR
    if fmt == "json":
        echo(text.rstrip("\n"))
    else:
        for line in render_text(evidence):
            echo(line)
        if out:
            echo(f"wrote {out}")
    for line in stats.malformed_lines:
        err(f"warning: malformed line skipped: {line}")
    if stats.malformed > len(stats.malformed_lines):
        err(f"warning: {stats.malformed - len(stats.malformed_lines)} more malformed lines "
            "skipped")
    for item in stats.unreadable:
        err(f"error: {item}")
    if stats.unreadable:
        err("error: the evidence above is incomplete")
        return EXIT_ERROR
    trips = tripped(evidence) if fail_on else []
    for line in trips:
        err(f"fail-on violations: {line}")
    return EXIT_FINDINGS if trips else EXIT_OK
