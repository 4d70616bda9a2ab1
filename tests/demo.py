"""The demo cluster as tests use it: its inventory and its plan, made once per session.

Read from the project root with relative paths, as the CLI would, so the origins recorded
in the plan (`fixtures/demo/…#n`) are the same on every machine. `cwd` runs a block from
another folder.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from migrator.errors import ManifestError
from migrator.files.source import read_files
from migrator.model.inventory import Inventory
from migrator.plan.decide import build_plan, pin_version

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def cwd(path: Path) -> Iterator[None]:
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


@lru_cache(maxsize=1)
def _demo() -> tuple[str, Inventory]:
    errors: list[ManifestError] = []
    with cwd(ROOT):
        inventory = read_files(["fixtures/demo"], errors)
    assert errors == []
    plan = build_plan(inventory, pin=pin_version(inventory.server_version, None))
    return json.dumps(plan, indent=2) + "\n", inventory


def demo_inventory() -> Inventory:
    """The demo's inventory (shared: do not change it)."""
    return _demo()[1]


def demo_plan() -> dict[str, Any]:
    """A fresh copy of the demo's plan, as the program reads plan.json (unpacked)."""
    return dict(json.loads(_demo()[0]))


def write_demo_plan(folder: Path) -> Path:
    """The demo's plan.json written into `folder`."""
    path = folder / "plan.json"
    path.write_text(_demo()[0], encoding="utf-8")
    return path
