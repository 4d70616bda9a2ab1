"""Inline SVG charts for the HTML report, drawn in Python: no script, no network, no fonts.

Owns the three charts of a readiness report, each a function from the report's chart data
(`build_report(...)["charts"]`) to one `<svg>` element as a string: a donut of namespaces by
recommended level, horizontal bars of templates and pods passing each level at each policy
version, and stacked bars of PodSecurityPolicies by mapped level, mutating or not.

Every text placed in a chart is XML-escaped here, so templates can insert the SVG as is.
Coordinates are rounded to two decimals, so the same data always gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from xml.sax.saxutils import escape, quoteattr

#: Status colours of the report: restricted is the goal, privileged the risk.
LEVEL_COLOURS = {"restricted": "#2e7d32", "baseline": "#ef8f00", "privileged": "#c62828"}
TEMPLATE_COLOUR = "#37474f"
POD_COLOUR = "#90a4ae"
MUTATING_COLOUR = "#6a1b9a"
NON_MUTATING_COLOUR = "#b0bec5"
EMPTY_COLOUR = "#e0e0e0"
TEXT_COLOUR = "#263238"
MUTED_COLOUR = "#607d8b"


def _n(value: float) -> str:
    """A coordinate: at most two decimals, no trailing zeros."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _text(x: float, y: float, content: str, *, size: int = 12, anchor: str = "start",
          weight: str = "normal", fill: str = TEXT_COLOUR) -> str:
    return (f'<text x="{_n(x)}" y="{_n(y)}" font-size="{size}" text-anchor="{anchor}" '
            f'font-weight="{weight}" fill="{fill}">{escape(content)}</text>')


def _rect(x: float, y: float, w: float, h: float, fill: str, title: str | None = None) -> str:
    inner = f"<title>{escape(title)}</title>" if title else ""
    return (f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(max(w, 0))}" height="{_n(h)}" '
            f'rx="2" fill="{fill}">{inner}</rect>')


def _svg(width: int, height: int, label: str, body: Sequence[str], css_class: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {css_class}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f"aria-label={quoteattr(label)}><title>{escape(label)}</title>"
        + "".join(body) + "</svg>"
    )


def text_width(content: str, size: int, *, bold: bool = False) -> float:
    """A generous estimate of how wide `content` renders at `size` px in a sans-serif font
    (digits and lower case run about 0.6 em, bold a little wider), so every label has room,
    five-digit counts included."""
    return len(content) * size * (0.66 if bold else 0.62)


def _level_colour(level: str) -> str:
    return LEVEL_COLOURS.get(level, MUTED_COLOUR)


def namespaces_donut(rows: Sequence[Mapping[str, Any]]) -> str:
    """A donut of namespaces by recommended enforce level, with its legend."""
    total = sum(int(r["count"]) for r in rows)
    cx, cy, radius, stroke = 80.0, 80.0, 58.0, 24.0
    body = [f'<circle cx="{_n(cx)}" cy="{_n(cy)}" r="{_n(radius)}" fill="none" '
            f'stroke="{EMPTY_COLOUR}" stroke-width="{_n(stroke)}"/>']
    offset = 0.0
    for row in rows:
        count = int(row["count"])
        if not count or not total:
            continue
        share = 100.0 * count / total
        body.append(
            f'<circle cx="{_n(cx)}" cy="{_n(cy)}" r="{_n(radius)}" fill="none" '
            f'stroke="{_level_colour(str(row["level"]))}" stroke-width="{_n(stroke)}" '
            f'pathLength="100" stroke-dasharray="{_n(share)} {_n(100 - share)}" '
            f'stroke-dashoffset="{_n(-offset)}" transform="rotate(-90 {_n(cx)} {_n(cy)})">'
            f"<title>{escape(str(row['level']))}: {count}</title></circle>")
        offset += share
    body.append(_text(cx, cy + 6, str(total), size=26, anchor="middle", weight="bold"))
    body.append(_text(cx, cy + 22, "namespaces", size=11, anchor="middle", fill=MUTED_COLOUR))
    names = max((text_width(str(r["level"]), 13) for r in rows), default=0.0)
    counts = max((text_width(str(r["count"]), 13, bold=True) for r in rows), default=0.0)
    right = 192 + names + 12 + counts
    for i, row in enumerate(reversed(rows)):
        y = 52 + i * 26
        body.append(_rect(170, y - 11, 14, 14, _level_colour(str(row["level"]))))
        body.append(_text(192, y, str(row["level"]), size=13))
        body.append(_text(right, y, str(row["count"]), size=13, anchor="end", weight="bold"))
    label = "Namespaces by recommended level: " + ", ".join(
        f"{r['level']} {r['count']}" for r in reversed(rows))
    return _svg(max(310, int(right + 8)), 160, label, body, "chart-donut")


def passing_bars(passing: Mapping[str, Any]) -> str:
    """Templates and pods passing each level, at each policy version judged."""
    rows = list(passing["rows"])
    totals = {"templates": int(passing["templates"]), "pods": int(passing["pods"])}
    left, bar_w, bar_h, gap = 138.0, 190.0, 9.0, 2.0
    row_h = 2 * bar_h + gap + 12
    top = 28.0
    height = int(top + row_h * len(rows) + 4)
    body = [
        _rect(left, 6, 10, 10, TEMPLATE_COLOUR), _text(left + 14, 15, "templates", size=11),
        _rect(left + 90, 6, 10, 10, POD_COLOUR), _text(left + 104, 15, "pods", size=11),
    ]
    for i, row in enumerate(rows):
        y = top + i * row_h
        level, version = str(row["level"]), str(row["version"])
        body.append(f'<circle cx="8" cy="{_n(y + bar_h + 1)}" r="5" '
                    f'fill="{_level_colour(level)}"/>')
        body.append(_text(18, y + bar_h + 5, f"{level} · {version}", size=12))
        for j, what in enumerate(("templates", "pods")):
            count, total = int(row[what]), totals[what]
            share = count / total if total else 0.0
            by = y + j * (bar_h + gap)
            colour = TEMPLATE_COLOUR if what == "templates" else POD_COLOUR
            body.append(_rect(left, by, bar_w, bar_h, EMPTY_COLOUR))
            body.append(_rect(left, by, bar_w * share, bar_h, colour,
                              f"{what} passing {level} at {version}: {count} of {total}"))
            body.append(_text(left + bar_w + 6, by + bar_h - 1, f"{count}/{total}", size=10,
                              fill=MUTED_COLOUR))
    widest = max((text_width(f"{r[w]}/{totals[w]}", 10) for r in rows
                  for w in ("templates", "pods")), default=0.0)
    label = "Templates and pods passing each level: " + "; ".join(
        f"{r['level']} at {r['version']}: {r['templates']}/{totals['templates']} templates, "
        f"{r['pods']}/{totals['pods']} pods" for r in rows)
    return _svg(max(380, int(left + bar_w + 6 + widest + 6)), height, label, body,
                "chart-passing")


def psp_bars(rows: Sequence[Mapping[str, Any]]) -> str:
    """PodSecurityPolicies by mapped (strict) level, split into mutating and not."""
    most = max([int(r["mutating"]) + int(r["non_mutating"]) for r in rows] + [1])
    left, bar_w, bar_h, row_h, top = 100.0, 170.0, 18.0, 32.0, 30.0
    body = [
        _rect(left, 6, 10, 10, MUTATING_COLOUR), _text(left + 14, 15, "mutating", size=11),
        _rect(left + 86, 6, 10, 10, NON_MUTATING_COLOUR),
        _text(left + 100, 15, "not mutating", size=11),
    ]
    for i, row in enumerate(reversed(rows)):
        y = top + i * row_h
        level = str(row["level"])
        mutating, other = int(row["mutating"]), int(row["non_mutating"])
        body.append(f'<circle cx="8" cy="{_n(y + bar_h / 2)}" r="5" '
                    f'fill="{_level_colour(level)}"/>')
        body.append(_text(18, y + bar_h / 2 + 4, level, size=12))
        body.append(_rect(left, y, bar_w, bar_h, EMPTY_COLOUR))
        w_mut = bar_w * mutating / most
        w_other = bar_w * other / most
        if mutating:
            body.append(_rect(left, y, w_mut, bar_h, MUTATING_COLOUR,
                              f"{level}: {mutating} mutating"))
        if other:
            body.append(_rect(left + w_mut, y, w_other, bar_h, NON_MUTATING_COLOUR,
                              f"{level}: {other} not mutating"))
        body.append(_text(left + bar_w + 8, y + bar_h / 2 + 4, str(mutating + other), size=12,
                          weight="bold"))
    widest = max((text_width(str(int(r["mutating"]) + int(r["non_mutating"])), 12, bold=True)
                  for r in rows), default=0.0)
    label = "PodSecurityPolicies by mapped level: " + ", ".join(
        f"{r['level']} {r['mutating']} mutating and {r['non_mutating']} not"
        for r in reversed(rows))
    return _svg(max(300, int(left + bar_w + 8 + widest + 6)), int(top + row_h * len(rows)),
                label, body, "chart-psps")


def all_charts(charts: Mapping[str, Any]) -> dict[str, str]:
    """The three charts of a report, by name."""
    return {
        "namespaces": namespaces_donut(charts["namespaces_by_level"]),
        "passing": passing_bars(charts["passing"]),
        "psps": psp_bars(charts["psps_by_level"]),
    }
