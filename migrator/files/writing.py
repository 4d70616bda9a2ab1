"""Writing generated files safely: only below the folder given, never over existing output
unless asked, never through a symbolic link, each file replaced atomically.

Owns `check_tree` (every problem with a set of relative paths, before anything is written),
`write_tree` (write them all) and `replace_file` (rewrite one file inside a repository,
keeping its permissions). Paths are relative POSIX paths; `..`, absolute paths and links
that lead out of the folder are refused with a `WriteError`.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import IO

from migrator.errors import OutputExists, WriteError


def _relative(relpath: str) -> PurePosixPath:
    path = PurePosixPath(relpath)
    if not relpath or path.is_absolute() or ".." in path.parts or "\\" in relpath \
            or str(path) != relpath:
        raise WriteError(f"refusing to write {relpath!r}: not a plain relative path")
    return path


def destination(root: str, relpath: str) -> Path:
    """Where `relpath` lands below `root`; WriteError when a part of the way below `root`
    is a symbolic link (it could lead anywhere)."""
    node = Path(root)
    for part in _relative(relpath).parts:
        node = node / part
        if node.is_symlink():
            raise WriteError(f"refusing to write {Path(root) / relpath}: {node} is a "
                             "symbolic link")
    return node


def check_tree(root: str, files: Mapping[str, str], *, force: bool) -> list[str]:
    """The files of `files` that already exist below `root`; raises WriteError for a path
    that is not allowed, and OutputExists for existing files without `force`."""
    if os.path.exists(root) and not os.path.isdir(root):
        raise WriteError(f"{root} exists and is not a folder")
    existing = []
    for relpath in sorted(files):
        target = destination(root, relpath)
        if target.exists() and target.is_dir():
            raise WriteError(f"{target} is a folder")
        if target.exists():
            existing.append(relpath)
    if existing and not force:
        raise OutputExists(root, existing)
    return existing


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], *, mode: int | None = None) -> Iterator[IO[str]]:
    """A text handle whose content replaces `path` whole when the block ends without error.

    The text goes to a temporary file beside `path` (created with its folders), renamed over
    `path` at the end: a reader sees the old file or the new one, never half of one. With
    `mode`, the new file gets those permission bits. On error nothing is replaced.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", newline="", dir=target.parent, prefix=f".{target.name}.",
        suffix=".tmp", delete=False)
    try:
        with handle:
            yield handle
        if mode is not None:
            os.chmod(handle.name, stat.S_IMODE(mode))
        os.replace(handle.name, target)
    finally:
        if os.path.exists(handle.name):
            os.unlink(handle.name)


def write_file(path: str | os.PathLike[str], text: str, *, mode: int | None = None) -> None:
    """Replace `path` with `text` atomically (see `atomic_open`): the one file writer."""
    with atomic_open(path, mode=mode) as handle:
        handle.write(text)


def _write(target: Path, text: str, mode: int | None) -> None:
    write_file(target, text, mode=mode)


def write_tree(root: str, files: Mapping[str, str], *, force: bool) -> list[str]:
    """Write every file of `files` below `root` (created if needed); the written paths.

    Everything is checked before the first byte is written.
    """
    check_tree(root, files, force=force)
    written = []
    try:
        for relpath in sorted(files):
            target = destination(root, relpath)
            _write(target, files[relpath], None)
            written.append(str(target))
    except OSError as exc:
        raise WriteError(f"{root}: {exc.strerror or exc}") from exc
    return written


def replace_file(root: str, relpath: str, text: str) -> None:
    """Rewrite an existing regular file below `root`, keeping its permission bits."""
    target = destination(root, relpath)
    if not target.is_file():
        raise WriteError(f"{target} is not a regular file")
    try:
        _write(target, text, target.stat().st_mode)
    except OSError as exc:
        raise WriteError(f"{target}: {exc.strerror or exc}") from exc
