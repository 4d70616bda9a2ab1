"""A plan in the form plan.json stores it, for schema validation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from migrator.model.packed import TABLES, pack_plan, unpack_plan


def stored(plan: Any) -> Any:
    """`plan` packed as plan.json holds it (a plan read from a file already is)."""
    return plan if any(key in plan for key in TABLES) else pack_plan(plan)


def read_plan(path: Any) -> Any:
    """The plan in the plan.json at `path`, unpacked as the program reads it."""
    return unpack_plan(json.loads(Path(path).read_text(encoding="utf-8")))
