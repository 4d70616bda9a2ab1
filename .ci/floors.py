"""Print the lowest allowed version of each direct dependency, one pip requirement a line.

Reads `[project].dependencies` of pyproject.toml: every `name>=X` becomes `name==X`, so CI can
install the floors into a second environment and run the suite against them (a floor that
is not tested is a guess). A dependency without a `>=` floor is an error.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path


def floors(pyproject: Path) -> list[str]:
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    out = []
    for requirement in data["project"]["dependencies"]:
        match = re.fullmatch(r"\s*([A-Za-z0-9_.\-\[\]]+)\s*>=\s*([^,;\s]+).*", requirement)
        if match is None:
            raise SystemExit(f"{pyproject}: {requirement!r} has no >= floor")
        out.append(f"{match.group(1)}=={match.group(2)}")
    return out


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1]
    print("\n".join(floors(root / "pyproject.toml")))
