"""Packaging: every package is installed, templates included, from a built wheel too."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_is_listed() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "migrator").rglob("__init__.py")
    }
    assert found | {"migrator.templates"} == listed


def test_templates_are_package_data() -> None:
    from importlib import resources

    names = {p.name for p in resources.files("migrator.templates").iterdir()}
    rendered = {"report.html.j2", "report.md.j2", "fleet.html.j2", "pr-description.md.j2",
                "generate-readme.md.j2", "residual.md.j2"}
    assert rendered <= names
