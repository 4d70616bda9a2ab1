"""The dependency floors CI installs: one `name==floor` per direct dependency, and the CI
script installs them into a second environment and runs the same suite."""

from __future__ import annotations

import importlib.util
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _floors_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("floors", ROOT / ".ci" / "floors.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_direct_dependency_has_a_tested_floor(tmp_path: Path) -> None:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = _floors_module().floors(ROOT / "pyproject.toml")
    assert len(pins) == len(deps)
    assert all("==" in pin and ">=" not in pin for pin in pins)
    assert "typer==0.26" in pins and "kubernetes==37" in pins and "PyYAML==6.0.4" in pins


def test_a_dependency_without_a_floor_is_refused(tmp_path: Path) -> None:
    import pytest

    (tmp_path / "pyproject.toml").write_text('[project]\ndependencies = ["typer"]\n')
    with pytest.raises(SystemExit, match="has no >= floor"):
        _floors_module().floors(tmp_path / "pyproject.toml")


def test_ci_runs_the_suite_on_the_floors_too() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    assert "python3 .ci/floors.py > .venv-floors/floors.txt" in script
    assert "--constraint .venv-floors/floors.txt" in script
    assert script.rstrip().endswith(".venv-floors/bin/python -m pytest")
