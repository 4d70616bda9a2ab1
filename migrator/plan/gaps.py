"""What a plan could not know: the gaps that make its answer incomplete.

Owns `plan_gaps`, one line per thing the plan's source could not read (a 403 on pods, a
list the server does not serve, a snapshot that was itself incomplete) and per namespace the
server dry-run could not answer or checked only in part. A plan with gaps is not a success:
`plan` and `report` exit 3 (`migrator.errors.EXIT_INCOMPLETE`). Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def unreadable_line(what: str, reason: str, consequence: str) -> str:
    """`incomplete: could not read pods (403 forbidden): <what that leaves unknown>`."""
    return f"incomplete: could not read {what} ({reason})" + (
        f": {consequence}" if consequence else "")


def plan_gaps(plan: Mapping[str, Any]) -> list[str]:
    """Every gap of `plan`, in a stable order: unreadable sources, then the server dry-run's
    failed namespaces and incomplete coverage."""
    lines = [unreadable_line(str(u.get("what", "")), str(u.get("reason", "")),
                             str(u.get("consequence", "")))
             for u in plan.get("unreadable") or () if isinstance(u, Mapping)]
    summary = plan.get("server_dry_run")
    if isinstance(summary, Mapping):
        for item in summary.get("errors") or ():
            lines.append(f"incomplete: server dry-run of {item.get('namespace')}: "
                         f"{item.get('message')}")
        for item in summary.get("incomplete_coverage") or ():
            lines.append(f"incomplete: server dry-run of {item.get('namespace')}: "
                         f"{item.get('note')}")
    return lines
