"""Escaping text that came from objects (names, reasons, paths) for where it is shown.

Owns the three escapes every output uses: `md` for Markdown prose and table cells,
`md_code` and `md_fence` for inline code and fenced blocks, and `terminal` for lines
printed to a terminal (control characters and escape sequences shown as `\\x1b`, never
interpreted). HTML is escaped by the autoescaping Jinja environment of `migrator.render`.
Pure: strings in, strings out.
"""

from __future__ import annotations

import functools
import re
from typing import Any

# Markdown punctuation to escape; `_` only where it could open or close emphasis.
_MD_SPECIAL = re.compile(r"([\\`*\[\]|~]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])|^#)")
# C0 and C1 control characters, DEL, and the bidirectional overrides that reorder text.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _visible(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _one_line(value: Any) -> str:
    text = "" if value is None else str(value).replace("\r\n", "\n")
    return _CONTROL.sub(lambda m: " " if m.group() in "\n\r\t" else _visible(m.group()), text)


def md(value: Any) -> str:
    """Text safe inside Markdown prose and table cells.

    HTML-significant characters become entities (GitHub and GitLab render raw HTML
    otherwise), Markdown punctuation is backslash-escaped, line breaks become spaces and
    other control characters are shown escaped.
    """
    return _md_text(value) if isinstance(value, str) else _md(value)


@functools.lru_cache(maxsize=65_536)
def _md_text(value: str) -> str:
    """`md` of a string, remembered: a report repeats its names, checks and reasons."""
    return _md(value)


def _md(value: Any) -> str:
    text = _one_line(value)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def md_code(value: Any) -> str:
    """Inline code: backticks enough to hold the text, HTML characters left to the span."""
    text = _one_line(value)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def md_fence(value: Any, info: str = "") -> str:
    """A fenced code block holding `value` verbatim, with a fence longer than any run of
    backticks inside it, so no content can close the block early."""
    text = "" if value is None else str(value).rstrip("\n")
    text = _CONTROL.sub(lambda m: m.group() if m.group() in "\n\t" else _visible(m.group()),
                        text)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text}\n{fence}"


def terminal(value: Any) -> str:
    """One printed line (or several, kept): control characters other than line breaks and
    tabs, and so every terminal escape sequence, are shown as `\\xNN` instead of acting."""
    text = "" if value is None else str(value)
    return _CONTROL.sub(lambda m: m.group() if m.group() in "\n\t" else _visible(m.group()),
                        text)
