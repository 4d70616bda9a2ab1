"""Reading Kubernetes objects from YAML and JSON files, directories and stdin.

Owns the file side of every command: expanding paths (directories recursively, `.yaml`,
`.yml` and `.json`), streaming multi-document YAML one document at a time, unwrapping
`kind: List` (what `kubectl get -o yaml` writes), and turning every parse failure into a
`ManifestError` that names the file and line, without stopping the other files.

Objects stay plain camelCase dictionaries, exactly as the API server serves them; YAML
timestamps stay strings, so an object read from a file equals the same object read live.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import yaml

from migrator.errors import ManifestError

SUFFIXES = (".yaml", ".yml", ".json")
STDIN = "-"

_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[misc]
    """SafeLoader that keeps timestamps as strings, as JSON would."""


_Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True, slots=True)
class Document:
    """One Kubernetes object and where it came from."""

    path: str
    index: int
    obj: dict[str, Any]

    @property
    def source(self) -> str:
        """`<path>#<document index>`, the object's address in every report."""
        return f"{self.path}#{self.index}"


def expand_paths(paths: Iterable[str]) -> Iterator[str]:
    """Files named directly, then every manifest below each directory, sorted.

    Raises ManifestError for a path that does not exist.
    """
    for raw in paths:
        if raw == STDIN:
            yield raw
            continue
        path = Path(raw)
        if path.is_dir():
            found = sorted(
                str(p)
                for p in path.rglob("*")
                if p.suffix.lower() in SUFFIXES and p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            yield from found
        elif path.exists():
            yield raw
        else:
            raise ManifestError(raw, "no such file or directory")


def malformed(obj: dict[str, Any]) -> str | None:
    """Why `obj` cannot be a Kubernetes object (the API server would refuse it), or None.

    A document without `kind` (a Helm values file, a config of another tool) is not a
    Kubernetes object at all: it is passed over, not judged.
    """
    if "kind" not in obj:
        return None
    if not isinstance(obj["kind"], str):
        return "kind is not a string"
    for key in ("metadata", "spec"):
        if obj.get(key) is not None and not isinstance(obj[key], dict):
            return f"{key} is a {type(obj[key]).__name__}, not a mapping"
    metadata = obj.get("metadata") or {}
    for key in ("labels", "annotations"):
        if metadata.get(key) is not None and not isinstance(metadata[key], dict):
            return f"metadata.{key} is a {type(metadata[key]).__name__}, not a mapping"
    return None


def _unwrap(
    obj: Any, path: str, index: int, line: int | None, problems: list[ManifestError] | None
) -> Iterator[Document]:
    """The objects of one document; a malformed one is reported in `problems` and skipped
    (raised when `problems` is None)."""
    if obj is None:
        return
    if not isinstance(obj, dict):
        error = ManifestError(
            path, f"document {index} is a {type(obj).__name__}, not a Kubernetes object", line
        )
        if problems is None:
            raise error
        problems.append(error)
        return
    kind = obj.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(obj.get("items"), list):
        items = [(f"document {index} item {i}", item) for i, item in enumerate(obj["items"])]
    else:
        items = [(f"document {index}", obj)]
    for where, item in items:
        reason = malformed(item) if isinstance(item, dict) else "not a mapping"
        if reason is None:
            yield Document(path, index, item)
            continue
        error = ManifestError(path, f"{where} is not a valid object: {reason}", line)
        if problems is None:
            raise error
        problems.append(error)


def _read_text(path: str, stdin: IO[str] | None) -> str:
    if path == STDIN:
        return (stdin or sys.stdin).read()
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except UnicodeDecodeError as exc:
        raise ManifestError(path, f"not UTF-8 text ({exc.reason})") from exc
    except OSError as exc:
        raise ManifestError(path, exc.strerror or str(exc)) from exc


def load_file(
    path: str, stdin: IO[str] | None = None, problems: list[ManifestError] | None = None
) -> Iterator[Document]:
    """Every object in one file (or `-` for stdin), streamed document by document.

    Documents before a syntax error are yielded; the error is then raised as a
    ManifestError naming the line (1-based). A document that parses but cannot be a
    Kubernetes object is appended to `problems` and skipped, so the rest of the file is
    still read (without `problems`, it is raised like a syntax error).
    """
    text = _read_text(path, stdin)
    if path.lower().endswith(".json") or (path == STDIN and text.lstrip().startswith(("{", "["))):
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ManifestError(path, f"invalid JSON: {exc.msg}", exc.lineno) from exc
        yield from _unwrap(obj, path, 0, None, problems)
        return
    loader = _Loader(text)
    index = 0
    try:
        while loader.check_node():
            node = loader.get_node()
            line = node.start_mark.line + 1 if node is not None else None
            obj = loader.construct_document(node) if node is not None else None
            yield from _unwrap(obj, path, index, line, problems)
            index += 1
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "malformed YAML"
        raise ManifestError(path, f"invalid YAML: {problem}", line) from exc
    except yaml.YAMLError as exc:
        raise ManifestError(path, f"invalid YAML: {exc}") from exc
    finally:
        loader.dispose()


def load_documents(
    paths: Iterable[str],
    errors: list[ManifestError],
    stdin: IO[str] | None = None,
) -> Iterator[Document]:
    """Every object under `paths`; each broken file is appended to `errors` and skipped.

    A broken file stops only itself: the documents read before its error are kept, and
    the other files are still read. A missing path is reported and the others read; a file
    reached twice (named directly and inside a directory) is read once.
    """
    seen: set[str] = set()
    for raw in paths:
        try:
            files = list(expand_paths([raw]))
        except ManifestError as exc:
            errors.append(exc)
            continue
        for path in files:
            real = path if path == STDIN else os.path.realpath(path)
            if real in seen:
                continue
            seen.add(real)
            try:
                yield from load_file(path, stdin, errors)
            except ManifestError as exc:
                errors.append(exc)
