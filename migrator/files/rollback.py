"""Rollback files on disk: written once, never over an existing file, and read back.

Owns `save_rollback` (the document written atomically beside the plan, refusing to replace
anything) and `read_rollback_file`. The document's shape is `migrator.model.rollback`'s.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from typing import Any

from migrator.errors import UsageError
from migrator.files.planfile import read_json
from migrator.model.rollback import RollbackFile, parse_rollback


def read_rollback_file(path: str) -> RollbackFile:
    """Parse a rollback file written by `apply`; ManifestError when it is not one."""
    return parse_rollback(read_json(path), path)


def save_rollback(path: str, document: dict[str, Any]) -> str:
    """Write `document` to `path` (never replacing a file); `path`."""
    write_new_file(path, json.dumps(document, indent=2, sort_keys=True) + "\n")
    return path


def write_new_file(path: str, text: str) -> None:
    """Write `text` to `path` atomically, refusing to replace an existing file.

    The text is written and synced to a temporary file beside `path`, then hard-linked to
    `path` (which fails if `path` exists). Where hard links are not supported, `path` is
    created exclusively and written directly.
    """
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.lexists(path):
        raise UsageError(f"{path} exists; choose another rollback file")
    try:
        os.makedirs(directory, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".rollback-", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            try:
                os.link(temporary, path)
            except FileExistsError:
                raise
            except OSError:  # no hard links here
                _write_exclusive(path, text)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
    except FileExistsError:
        raise UsageError(f"{path} exists; choose another rollback file") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot write: {exc.strerror or exc}") from exc


def _write_exclusive(path: str, text: str) -> None:
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
