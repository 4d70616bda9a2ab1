"""Rendering text from the Jinja2 templates in `templates/` (installed as `migrator.templates`).

Owns the one Jinja2 environment of the project: StrictUndefined (a missing value is an
error, never an empty string), autoescaping for HTML templates, and the filters templates
use (`to_yaml`, `to_json`). `render` returns a string; writing it is the caller's job.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

import jinja2

from migrator.model.serialise import to_json, to_yaml


class _PackageLoader(jinja2.BaseLoader):
    """Loads templates from the `migrator.templates` package data."""

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Any]:
        path = resources.files("migrator.templates").joinpath(template)
        if not path.is_file():
            raise jinja2.TemplateNotFound(template)
        return path.read_text(encoding="utf-8"), str(path), lambda: True


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=_PackageLoader(),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "htm", "html.j2"),
                                            default_for_string=False, default=False),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["to_yaml"] = to_yaml
    env.filters["to_json"] = to_json
    return env


def render(template: str, **context: Any) -> str:
    """Render `template` (a file name in `templates/`) with `context`."""
    return environment().get_template(template).render(**context)
