"""Golden files are all in use: a file no test compares is stale and fails the suite."""

from __future__ import annotations

import re
from pathlib import Path

from golden import GOLDEN

TESTS = Path(__file__).resolve().parent
#: Folders compared whole, file by file, by their tests (extra and missing files fail there).
TREES = ("generate/demo",)


def referenced() -> set[str]:
    names: set[str] = set()
    for source in TESTS.rglob("test_*.py"):
        names.update(re.findall(r'assert_golden\(\s*"([^"]+)"', source.read_text()))
    return names


def test_every_golden_file_is_compared_by_a_test() -> None:
    on_disk = {
        str(p.relative_to(GOLDEN)) for p in GOLDEN.rglob("*") if p.is_file()
        and not any(str(p.relative_to(GOLDEN)).startswith(tree + "/") for tree in TREES)
    }
    names = referenced()
    assert names, "no assert_golden call found: the scan itself is broken"
    stale = sorted(on_disk - names)
    assert not stale, f"stale golden files (no test compares them): {stale}"
    missing = sorted(names - on_disk)
    assert not missing, f"golden files named by tests but absent: {missing}"
