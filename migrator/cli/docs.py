"""The table of Pod Security checks in the README, generated from the registry.

Owns `checks_table()` (Markdown: check ID, level, policy versions with a revision, fields,
one-line fix) and `update_readme(text)`, which replaces what stands between the README's
`<!-- checks:begin -->` and `<!-- checks:end -->` markers. `make docs` runs it; a test fails
when the README's table is stale.
"""

from __future__ import annotations

from migrator.pss.checks import ALL_CHECKS

BEGIN, END = "<!-- checks:begin -->", "<!-- checks:end -->"


def checks_table() -> str:
    rows = ["| check | level | revisions | fields | fix |", "|---|---|---|---|---|"]
    for check in sorted(ALL_CHECKS, key=lambda c: (c.level.rank, c.id)):
        versions = ", ".join(f"v1.{v.minimum}" for v in check.versions)
        overrides = sorted({o for v in check.versions for o in v.overrides})
        level = str(check.level) + (f" (replaces {', '.join(overrides)})" if overrides else "")
        fields = "<br>".join(f"`{f}`" for f in check.fields)
        rows.append(f"| `{check.id}` | {level} | {versions} | {fields} | {check.fix} |")
    return "\n".join(rows)


def update_readme(text: str) -> str:
    """`text` with the checks table between the markers regenerated."""
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    return text[:start] + "\n" + checks_table() + "\n" + text[end:]


if __name__ == "__main__":
    from pathlib import Path

    readme = Path(__file__).resolve().parents[1] / "README.md"
    readme.write_text(update_readme(readme.read_text(encoding="utf-8")), encoding="utf-8")
