"""Rendering a readiness report (or a fleet summary) as HTML, Markdown or JSON.

Owns the three output formats of `migrator report`, each a function from the view model of
`migrator.report.model` (or `migrator.app.fleet`) to a string: the HTML page
(`templates/report.html.j2`, autoescaped, with inline CSS and the inline SVG charts of
`migrator.report.charts`: it loads nothing from anywhere), the Markdown report for tickets
and pull requests (`templates/report.md.j2`, every name passed through `md`), the JSON of the
view model, and the fleet page (`templates/fleet.html.j2`). Returns text; writing files is
the caller's job.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from migrator.model.escape import md, md_code
from migrator.model.serialise import to_json
from migrator.report.charts import LEVEL_COLOURS, all_charts
from migrator.report.templating import render, render_within

#: The largest report.html written, in bytes: past it, tables are cut short.
HTML_LIMIT = 5_000_000
_HTML_CAPS = (200, 100, 50, 20, 10, 5, 2, 1)


def _html_context(report: Mapping[str, Any], cap: int | None) -> dict[str, Any]:
    return {"report": report, "charts": all_charts(report["charts"]),
            "colours": LEVEL_COLOURS, "cap": cap}


def render_html(report: Mapping[str, Any]) -> str:
    """The self-contained HTML report: everything when it stays within HTML_LIMIT bytes,
    else tables and namespace sections cut short (the rest counted, "and N more"). The
    whole report is rendered only as far as the limit (a character is at least a byte)."""
    whole = render_within("report.html.j2", HTML_LIMIT, **_html_context(report, None))
    if whole is not None and len(whole.encode()) <= HTML_LIMIT:
        return whole
    for cap in _HTML_CAPS:
        text = render("report.html.j2", **_html_context(report, cap))
        if len(text.encode()) <= HTML_LIMIT:
            break
    return text


#: The longest body a pull request or ticket takes (GitHub's limit), in characters.
MARKDOWN_LIMIT = 65_536
#: How many findings per title, namespaces, commands, ... the summary lists, tried in
#: turn until it fits MARKDOWN_LIMIT.
_CAPS = (100, 50, 20, 10, 5, 2, 0)
DETAILS_FILE = "report-details.md"


def _markdown(report: Mapping[str, Any], cap: int | None) -> str:
    text = render("report.md.j2", report=report, md=md, code=md_code, cap=cap)
    return re.sub(r"\n{3,}", "\n\n", text)


def render_markdown_details(report: Mapping[str, Any]) -> str:
    """The whole Markdown report, every namespace in detail (`report-details.md`)."""
    return _markdown(report, None)


def render_markdown(report: Mapping[str, Any], details: str | None = None) -> str:
    """The Markdown report for ticket and pull-request bodies: the whole report when it
    fits MARKDOWN_LIMIT characters, else a summary that does (lists cut short, pointing
    to report-details.md). `details` is the whole report, when already rendered."""
    text = details if details is not None else _markdown(report, None)
    if len(text) <= MARKDOWN_LIMIT:
        return text
    # The summary grows about linearly with the cap: one probe tells where to start.
    probe = _CAPS[0]
    text = _markdown(report, probe)
    if len(text) <= MARKDOWN_LIMIT:
        return text
    guess = int(probe * MARKDOWN_LIMIT / len(text) * 0.9)
    for cap in sorted({guess, *(c for c in _CAPS if c < guess)}, reverse=True):
        text = _markdown(report, cap)
        if len(text) <= MARKDOWN_LIMIT:
            return text
    note = f"\n\n… cut short to fit {MARKDOWN_LIMIT:,} characters: see {DETAILS_FILE}.\n"
    cut = text.rfind("\n", 0, MARKDOWN_LIMIT - len(note))
    return text[:max(cut, 0)] + note


def render_json(data: Mapping[str, Any]) -> str:
    """The view model as indented JSON, with a final newline."""
    return to_json(data, indent=2) + "\n"


def render_fleet(fleet: Mapping[str, Any]) -> str:
    """The fleet summary page linking each cluster's report."""
    return render("fleet.html.j2", fleet=fleet, colours=LEVEL_COLOURS)
