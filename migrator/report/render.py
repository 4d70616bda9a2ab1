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

import json
import re
from collections.abc import Mapping
from typing import Any

from migrator.model.escape import md, md_code
from migrator.report.charts import LEVEL_COLOURS, all_charts
from migrator.report.templating import render


def render_html(report: Mapping[str, Any]) -> str:
    """The self-contained HTML page of one cluster's report."""
    return render("report.html.j2", report=report, charts=all_charts(report["charts"]),
                  colours=LEVEL_COLOURS)


def render_markdown(report: Mapping[str, Any]) -> str:
    """The Markdown report (ticket and pull-request bodies)."""
    text = render("report.md.j2", report=report, md=md, code=md_code)
    return re.sub(r"\n{3,}", "\n\n", text)


def render_json(data: Mapping[str, Any]) -> str:
    """The view model as indented JSON, with a final newline."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def render_fleet(fleet: Mapping[str, Any]) -> str:
    """The fleet summary page linking each cluster's report."""
    return render("fleet.html.j2", fleet=fleet, colours=LEVEL_COLOURS)
