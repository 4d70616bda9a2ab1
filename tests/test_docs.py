"""The README's checks table is the registry's, up to date."""

from __future__ import annotations

from pathlib import Path

from migrator.cli.docs import checks_table, update_readme
from migrator.pss.checks import ALL_CHECKS

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_table_is_current() -> None:
    text = README.read_text(encoding="utf-8")
    assert update_readme(text) == text, "run `make docs`"


def test_table_lists_every_check() -> None:
    table = checks_table()
    assert all(f"| `{check.id}` |" in table for check in ALL_CHECKS)
    assert "restricted (replaces capabilities_baseline)" in table
