"""Rendering text from the Jinja2 templates in `templates/` (installed as `migrator.templates`).

Owns the one Jinja2 environment of the project: StrictUndefined (a missing value is an
error, never an empty string), autoescaping for HTML templates, and the filters templates
use (`to_yaml`, `to_json`) and the Markdown escapes of `migrator.model.escape` as globals (`md`,
`code`, `fence`). `render` returns a string; writing it is the caller's job.
"""

from __future__ import annotations

import itertools
from functools import lru_cache
from importlib import resources
from typing import Any

import jinja2

from migrator.model.escape import md, md_code, md_fence
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


#: Attributes a dict has: `d.items()` in a template still means the method.
_DICT_ATTRIBUTES = frozenset(dir(dict))


class _Environment(jinja2.Environment):
    """Looks a `dict`'s key up first for `value.name`, the common case of a view model made
    of dicts (the stock lookup tries the attribute first and fails). A dict has no
    attribute of such a name, so what a template gets is the same."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = _Environment(
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
    env.globals.update(md=md, code=md_code, fence=md_fence)
    return env


def render(template: str, **context: Any) -> str:
    """Render `template` (a file name in `templates/`) with `context`."""
    return environment().get_template(template).render(**context)


def render_within(template: str, limit: int, **context: Any) -> str | None:
    """`render`, or None as soon as the text passes `limit` characters (the rest is not
    rendered: a caller that will cut the document short need not make it whole first)."""
    chunks = environment().get_template(template).generate(**context)
    parts: list[str] = []
    size = 0
    while batch := "".join(itertools.islice(chunks, 4096)):
        size += len(batch)
        if size > limit:
            return None
        parts.append(batch)
    return "".join(parts)

