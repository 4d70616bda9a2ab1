"""Reading Kubernetes objects from YAML and JSON files, directories and stdin.

Owns the file side of every command: expanding paths (directories recursively, `.yaml`,
`.yml` and `.json`), streaming multi-document YAML one document at a time, unwrapping
`kind: List` (what `kubectl get -o yaml` writes), and turning every parse failure into a
`ManifestError` that names the file and line, without stopping the other files. A mapping
that holds one key twice is such a failure (the API server rejects it; read silently, the
second value would win), and so is nesting deeper than the parsers allow.

JSON is decoded with msgspec, a `kind: List` one item at a time (so a large dump never
exists as one parsed tree), with the garbage collector paused while the tree is built:
nothing parsed from JSON or YAML holds a reference cycle, so its scans would find nothing.
YAML is read by rapidyaml (through its JSON emitter, each List item or document alone)
when a screen of the text shows that every scalar reads as PyYAML (YAML 1.1) reads it;
anything else, and every error, goes through PyYAML, which names the line.

Objects stay plain camelCase dictionaries, exactly as the API server serves them; YAML
timestamps stay strings, so an object read from a file equals the same object read live.
"""

from __future__ import annotations

import gc
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypedDict

import msgspec
import ryml  # rapidyaml
import yaml

from migrator.errors import ManifestError
from migrator.model.names import invalid_name, unsafe_name

SUFFIXES = (".yaml", ".yml", ".json")
STDIN = "-"

_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _DuplicateKey(Exception):
    def __init__(self, key: str, line: int | None) -> None:
        super().__init__(key)
        self.key, self.line = key, line


class _Loader(_BaseLoader):  # type: ignore[misc]
    """SafeLoader that keeps timestamps as strings, as JSON would, and refuses a mapping
    that names one key twice."""

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        _refuse_duplicates(node)
        return super().construct_mapping(node, deep=deep)


def _refuse_duplicates(node: Any) -> None:
    """Raise _DuplicateKey for the second occurrence of a scalar key in a mapping node
    (merge keys `<<` are YAML's own way of combining mappings and are left alone)."""
    seen: set[tuple[str, str]] = set()
    for key_node, _value in node.value:
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = (key_node.tag, key_node.value)
        if key in seen:
            raise _DuplicateKey(key_node.value, key_node.start_mark.line + 1)
        seen.add(key)


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
    #: why the API server would refuse the object's name (it is judged all the same)
    name_problem: str | None = None

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
    """Why `obj` cannot be a Kubernetes object, or None.

    A document without `kind` (a Helm values file, a config of another tool) is not a
    Kubernetes object at all: it is passed over, not judged. A name that would break a path,
    a terminal or a Markdown line makes the object invalid; one the API server would only
    refuse is judged with a warning (`migrator.model.names`).
    """
    reason = _shape_problem(obj)
    return reason or (unsafe_name(obj, invalid_name(obj)) if "kind" in obj else None)


def _shape_problem(obj: dict[str, Any]) -> str | None:
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
    yield from _items(items, path, index, line, problems)


def _items(
    items: list[tuple[str, Any]], path: str, index: int, line: int | None,
    problems: list[ManifestError] | None,
) -> Iterator[Document]:
    for where, item in items:
        document = _document(item, where, path, index, line, problems)
        if document is not None:
            yield document


def _document(item: Any, where: str, path: str, index: int, line: int | None,
              problems: list[ManifestError] | None) -> Document | None:
    """`item` as a Document, or None when it is not a valid object (reported in `problems`,
    raised when `problems` is None; `where` names it in the message)."""
    reason = _shape_problem(item) if isinstance(item, dict) else "not a mapping"
    name_problem = invalid_name(item) if reason is None and "kind" in item else None
    reason = reason or unsafe_name(item, name_problem)
    if reason is None:
        return Document(path, index, item, name_problem)
    error = ManifestError(path, f"{where} is not a valid object: {reason}", line)
    if problems is None:
        raise error
    problems.append(error)
    return None


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


def _read_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise ManifestError(path, exc.strerror or str(exc)) from exc


@contextmanager
def paused_gc() -> Iterator[None]:
    """The cyclic garbage collector off while parsed trees are built: they hold no
    reference cycles, and each collection would rescan every object parsed so far."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# -- JSON ----------------------------------------------------------------------------------

_TOP = msgspec.json.Decoder(dict[str, msgspec.Raw])
_ITEMS = msgspec.json.Decoder(list[msgspec.Raw])
_ANY = msgspec.json.Decoder()
_ENCODE = msgspec.json.Encoder().encode
#: A colon written as an escape would upset the duplicate-key count below.
_ESCAPED_COLON_BYTES = re.compile(rb"\\u003[aA]")
_AT_BYTE = re.compile(r"\(byte (\d+)\)")


def _colons(raw: msgspec.Raw) -> int:
    return bytes(raw).count(b":")


def _decode_checked(raw: msgspec.Raw) -> Any:
    """One JSON value, refusing a mapping that holds a key twice.

    Every colon of JSON text either ends a key or sits inside a string, and encoding the
    decoded value writes each kept pair's colon and each string's colons once more: the
    counts differ exactly when a repeated key was dropped by the decoder.
    """
    value = _ANY.decode(raw)
    if _colons(raw) != _ENCODE(value).count(b":"):
        raise _DuplicateKey("", None)
    return value


def _line_at(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, max(0, offset)) + 1


def _duplicate_in(text: str) -> _DuplicateKey | None:
    """The first key repeated in one mapping of `text` (JSON is YAML), with its line."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        stack = [node] if node is not None else []
        while stack:
            node = stack.pop()
            if isinstance(node, yaml.MappingNode):
                _refuse_duplicates(node)
                stack.extend(value for pair in reversed(node.value) for value in pair)
            elif isinstance(node, yaml.SequenceNode):
                stack.extend(reversed(node.value))
    except _DuplicateKey as exc:
        return exc
    except (yaml.YAMLError, RecursionError):
        return None
    finally:
        loader.dispose()
    return None


def _duplicate_error(path: str, text: str, first_line: int = 1) -> ManifestError:
    """The error for a repeated key in the JSON `text`, which starts on `first_line` of
    the file."""
    found = _duplicate_in(text)
    key = ""
    if found is None:
        def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
            nonlocal key
            out: dict[str, Any] = {}
            for k, v in items:
                if k in out and not key:
                    key = k
                out[k] = v
            return out
        try:
            json.loads(text, object_pairs_hook=pairs)
        except (ValueError, RecursionError):
            pass
    else:
        key = found.key
    line = first_line if found is None or found.line is None else first_line + found.line - 1
    what = f'the key "{key}"' if key else "a key"
    return ManifestError(path, f"{what} is given twice in one mapping (the API server "
                         "rejects such input)", line)


def _json_error(path: str, data: bytes, exc: Exception, base: int = 0) -> ManifestError:
    if isinstance(exc, RecursionError):
        return ManifestError(path, "invalid JSON: nested deeper than the parser allows",
                             _line_at(data, base))
    message = str(exc)
    found = _AT_BYTE.search(message)
    line = _line_at(data, base + int(found.group(1))) if found else None
    message = _AT_BYTE.sub("", message).strip().removeprefix("JSON is malformed: ")
    return ManifestError(path, f"invalid JSON: {message}", line)


def _load_json_exact(text: str, path: str) -> Any:
    """The stdlib decoder, for the rare text the fast path cannot vouch for."""
    duplicate = False

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal duplicate
        out = dict(items)
        duplicate = duplicate or len(out) != len(items)
        return out

    try:
        value = json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        raise ManifestError(path, f"invalid JSON: {exc.msg}", exc.lineno) from exc
    except RecursionError as exc:
        raise ManifestError(path, "invalid JSON: nested deeper than the parser allows") from exc
    if duplicate:
        raise _duplicate_error(path, text)
    return value


def _load_json(
    data: bytes, path: str, problems: list[ManifestError] | None
) -> Iterator[Document]:
    """The objects of one JSON text (UTF-8 bytes); a `kind: List` is decoded one item at a
    time. The text itself is decoded only to name an error."""
    # (a backslash is found by memchr: most dumps hold none, and escapes are rare)
    if data.find(b"\\") != -1 and _ESCAPED_COLON_BYTES.search(data):
        exact = _utf8(data, path)
        yield from _unwrap(_load_json_exact(exact, path), path, 0, None, problems)
        return
    text = _LazyText(data)
    fast = _list_top(data)
    if fast is not None:
        raws, colons = fast
        yield from _json_items(data, path, problems, raws, colons, text, fast=True)
        return
    try:
        if not data.lstrip().startswith(b"{"):
            whole = msgspec.Raw(data)
            yield from _unwrap(_decode_checked(whole), path, 0, None, problems)
            return
        top = _TOP.decode(data)
    except _DuplicateKey:
        raise _duplicate_error(path, str(text)) from None
    except (msgspec.DecodeError, RecursionError) as exc:
        raise _json_error(path, data, exc) from exc
    items = top.get("items")
    kind: Any = None
    rest: dict[str, Any] = {}
    try:
        for key, raw in top.items():
            if key != "items":
                rest[key] = _decode_checked(raw)
        kind = rest.get("kind")
        is_list = (isinstance(kind, str) and kind.endswith("List") and items is not None
                   and memoryview(items)[:1].tobytes() == b"[")
        if not is_list:
            if items is not None:
                rest["items"] = _decode_checked(items)
            if data.count(b":") != _ENCODE(rest).count(b":"):
                raise _DuplicateKey("", None)
            yield from _unwrap(rest, path, 0, None, problems)
            return
        assert items is not None
        colons = _top_colons(top)
        raws = _ITEMS.decode(items)
    except _DuplicateKey:
        raise _duplicate_error(path, str(text)) from None
    except (msgspec.DecodeError, RecursionError) as exc:
        raise _json_error(path, data, exc) from exc
    yield from _json_items(data, path, problems, raws, colons, text, fast=False)


class _ListTop(TypedDict, total=False):
    """The top of a `kind: List` as the fast path reads it, its items left undecoded."""

    apiVersion: Any
    kind: Any
    metadata: Any
    items: list[msgspec.Raw]


_LIST_TOP = msgspec.json.Decoder(_ListTop)


def _list_top(data: bytes) -> tuple[list[msgspec.Raw], int] | None:
    """The items of a JSON `kind: List` and the colons of its top level (one per key and
    those in its other values), in one pass over the text; None for any other text (or
    one the fast path cannot read), which the careful path then reads."""
    if not data.lstrip().startswith(b"{"):
        return None
    try:
        top = _LIST_TOP.decode(data)
    except (msgspec.DecodeError, RecursionError):
        return None
    kind, items = top.get("kind"), top.get("items")
    if not (isinstance(kind, str) and kind.endswith("List") and isinstance(items, list)):
        return None
    try:
        return items, len(top) + sum(_ENCODE(value).count(b":")
                                     for key, value in top.items() if key != "items")
    except (TypeError, ValueError, OverflowError):
        return None


def _top_colons(top: dict[str, msgspec.Raw]) -> int:
    """The colons of a List's top level but its items: one per key, and those in its keys
    and other values."""
    return len(top) + sum(k.count(":") + (_colons(v) if k != "items" else 0)
                          for k, v in top.items())


def _json_items(
    data: bytes, path: str, problems: list[ManifestError] | None, raws: list[msgspec.Raw],
    top_colons: int, text: _LazyText, *, fast: bool,
) -> Iterator[Document]:
    """The items of a List, each decoded and checked alone. `top_colons` counts the top
    level's colons; the sum over the whole text tells a key given twice. The fast path
    does not see top-level keys it does not read: when the sum differs, the careful count
    decides."""
    colons = 0
    for i, raw in enumerate(raws):
        try:
            item = _ANY.decode(raw)
            count = bytes(raw).count(b":")
            if count != _ENCODE(item).count(b":"):  # see `_decode_checked`
                raise _DuplicateKey("", None)
        except (_DuplicateKey, msgspec.DecodeError, RecursionError) as exc:
            item_bytes = bytes(raw)
            offset = data.find(item_bytes)
            if isinstance(exc, _DuplicateKey):
                raise _duplicate_error(path, item_bytes.decode(errors="replace"),
                                       _line_at(data, offset)) from None
            raise _json_error(path, data, exc, offset) from exc
        colons += count
        document = _document(item, f"document 0 item {i}", path, 0, None, problems)
        if document is not None:
            yield document
    total = data.count(b":")
    if top_colons + colons != total and fast:
        try:  # the top level counted as the careful path does
            top = _TOP.decode(data)
            for key, raw in top.items():
                if key != "items":
                    _decode_checked(raw)
            top_colons = _top_colons(top)
        except (_DuplicateKey, msgspec.DecodeError, RecursionError):
            pass
    if top_colons + colons != total:
        raise _duplicate_error(path, str(text))


class _LazyText:
    """The decoded text of JSON bytes, made only when an error needs it."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __str__(self) -> str:
        return self.data.decode("utf-8", errors="replace")


def _utf8(data: bytes, path: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestError(path, f"not UTF-8 text ({exc.reason})") from exc


# -- YAML: the fast path -------------------------------------------------------------------

#: What the fast path does not read as PyYAML would, so that a file holding it takes
#: PyYAML's path: anchors, aliases and tags, merge keys, directives, tabs, what PyYAML
#: refuses as unprintable, plain words YAML 1.1 reads as booleans or null (`yes`, `off`,
#: `~`), keys that are not strings, and plain numbers the two read differently (`0755`,
#: `1e3`, `12:30`). One pass of one expression: the words and the "numberish" plain scalars
#: it finds (each distinct one resolved once) decide. A match inside a quoted string only
#: costs the fast path; it changes no result.
_YAML_SCREEN = re.compile(
    r"[\n ,\[{](?=[-+.0-9yYnNtTfFoO~=&*!])(?:"
    r"(?P<word>(?:yes|Yes|YES|no|No|NO|True|TRUE|False|FALSE|on|On|ON|off|Off|OFF|~|Null"
    r"|NULL|=)[ ]*(?:$|#|[,\]}]|:[ ]|:$)|(?:true|false|null)[ ]*:(?:[ ]|$))"
    r"|(?P<mark>[&*!]\S)"
    r"|(?P<num>[-+.0-9][^\s,\[\]{}#:]*(?::[^\s,\[\]{}#:]+)*)"
    r"(?:(?P<key>:(?=[ ]|$))|[ ]*(?=$|#|[,\]}])))",
    re.M,
)
_UNPRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
_YAML_RESOLVE = _Loader("")


def _plain_tag(token: str) -> str:
    return str(_YAML_RESOLVE.resolve(yaml.ScalarNode, token, (True, False)))


def _same_scalar(token: str) -> bool:
    """Whether the plain scalar `token` comes out of the JSON emitter as PyYAML reads it."""
    tag = _plain_tag(token)
    if not _JSON_NUMBER.fullmatch(token):
        return tag == "tag:yaml.org,2002:str"  # the emitter writes it as a string
    if tag == "tag:yaml.org,2002:int":
        return "." not in token and "e" not in token.lower()
    if tag == "tag:yaml.org,2002:float":
        value: float = _YAML_RESOLVE.construct_yaml_float(yaml.ScalarNode(tag, token))
        return float(token) == value
    return False


def _fast_yaml_safe(text: str) -> bool:
    """Whether every scalar of `text` reads the same through rapidyaml's JSON emitter as
    through PyYAML (YAML 1.1, timestamps kept as strings)."""
    if "\t" in text or "<<" in text or text.startswith(("%", "&", "*", "!")) or "\n%" in text:
        return False
    if not text.isascii() and _UNPRINTABLE.search(text):
        return False
    if text.isascii() and re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", text):
        return False
    values: set[str] = set()
    for match in _YAML_SCREEN.finditer("\n" + text):
        if match.group("word") or match.group("mark"):
            return False
        token = match.group("num")
        if match.group("key"):
            if _plain_tag(token) != "tag:yaml.org,2002:str":
                return False
        else:
            values.add(token)
    return all(_same_scalar(t) for t in values)


class _NotFast(Exception):
    """The fast path cannot vouch for this text: PyYAML reads it."""


@contextmanager
def _quiet_stderr() -> Iterator[None]:
    """rapidyaml reports a parse error on stderr as well as raising it; PyYAML, which
    reads such a file again, names the error itself."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no stderr to quieten
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _ryml_json(tree: Any, node: int) -> Any:
    """One node of a rapidyaml tree as plain data, refusing a key given twice."""
    return _decode_checked(msgspec.Raw(ryml.emit_json_malloc(tree, node).encode()))


def _list_items(text: str) -> tuple[str, list[str]] | None:
    """A `kind: List` as kubectl writes it, split into its top level (with `items: []`)
    and the text of each item, so that each item is parsed alone; None for other shapes."""
    start = re.search(r"^items:[ ]*\n", text, re.M)
    if start is None:
        return None
    end = re.search(r"^(?![- ]|$)", text[start.end():], re.M)
    stop = start.end() + (end.start() if end else len(text) - start.end())
    body = text[start.end():stop]
    bounds = [m.start() for m in re.finditer(r"^-(?: |$)", body, re.M)]
    if not bounds or bounds[0] != 0:
        return None
    items = [body[a:b] for a, b in zip(bounds, [*bounds[1:], len(body)], strict=True)]
    return text[:start.start()] + "items: []\n" + text[stop:], items


_MARKER = re.compile(r"^---[ ]*(?:#[^\n]*)?$\n?", re.M)


def _documents(text: str) -> Iterator[tuple[str, bool]]:
    """The documents of a YAML stream, each with whether a `---` line opened it, so that
    each is parsed alone. A `---` at the start of a line always ends a document (no scalar
    may hold one); a stream whose markers carry content (`--- |`), or that ends documents
    with `...`, is parsed whole."""
    if re.search(r"^(?:---[ ]*[^ #\n]|\.\.\.)", text, re.M):
        yield text, False
        return
    start, marked = 0, False
    for match in _MARKER.finditer(text):
        chunk = text[start:match.start()]
        if marked or chunk.strip():
            yield chunk, marked
        start, marked = match.end(), True
    chunk = text[start:]
    if marked or chunk.strip():
        yield chunk, marked


def _load_yaml_fast(
    text: str, path: str, problems: list[ManifestError] | None, done: list[int]
) -> Iterator[Document]:
    """The objects of a YAML text read with rapidyaml (many times faster than PyYAML), a
    kubectl `kind: List` one item at a time. Raises _NotFast at the first thing it cannot
    vouch for; `done` counts the documents yielded before."""
    if not _fast_yaml_safe(text):
        raise _NotFast
    with _quiet_stderr():
        try:
            one_list = (re.search(r"^kind:[ ]*List[ ]*$", text, re.M)
                        and not re.search(r"^(?:---|\.\.\.)", text, re.M))
            split = _list_items(text) if one_list else None
            if split is not None:
                head_tree = ryml.parse_in_arena(split[0].encode())
                head = _ryml_json(head_tree, head_tree.root_id())
                if not (isinstance(head, dict) and head.get("items") == []
                        and str(head.get("kind", "")).endswith("List")):
                    raise _NotFast
                for item_text in split[1]:
                    tree = ryml.parse_in_arena(item_text.encode())
                    root = tree.root_id()
                    if not tree.is_seq(root) or tree.num_children(root) != 1:
                        raise _NotFast
                    item = _ryml_json(tree, tree.first_child(root))
                    if not isinstance(item, dict) or malformed(item) is not None:
                        raise _NotFast
                    done[0] += 1
                    yield Document(path, 0, item)
                return
            index = 0
            for chunk, marked in _documents(text):
                tree = ryml.parse_in_arena(chunk.encode())
                root = tree.root_id()
                nodes = []
                if tree.is_stream(root):
                    child = tree.first_child(root)
                    while child != ryml.NONE:
                        nodes.append(child)
                        child = tree.next_sibling(child)
                elif tree.num_children(root) or tree.has_val(root):
                    nodes.append(root)
                if marked and not nodes:
                    nodes.append(-1)  # `---` and nothing: an empty document
                for node in nodes:
                    obj = _ryml_json(tree, node) if node != -1 else None
                    if obj is not None:
                        if not isinstance(obj, dict):
                            raise _NotFast
                        for doc in _unwrap(obj, path, index, None, None):
                            done[0] += 1
                            yield doc
                    index += 1
        except _NotFast:
            raise
        except Exception as exc:  # noqa: BLE001 - any doubt at all: PyYAML decides
            raise _NotFast from exc


# -- YAML and both ---------------------------------------------------------------------------


def _load_yaml(
    text: str, path: str, problems: list[ManifestError] | None
) -> Iterator[Document]:
    loader = _Loader(text)
    index = 0
    try:
        while loader.check_node():
            node = loader.get_node()
            line = node.start_mark.line + 1 if node is not None else None
            obj = loader.construct_document(node) if node is not None else None
            yield from _unwrap(obj, path, index, line, problems)
            index += 1
    except _DuplicateKey as exc:
        raise ManifestError(path, f'the key "{exc.key}" is given twice in one mapping (the '
                            "API server rejects such input)", exc.line) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "malformed YAML"
        raise ManifestError(path, f"invalid YAML: {problem}", line) from exc
    except yaml.YAMLError as exc:
        raise ManifestError(path, f"invalid YAML: {exc}") from exc
    except RecursionError as exc:
        raise ManifestError(path, "invalid YAML: nested deeper than the parser allows") from exc
    except ValueError as exc:  # a scalar beyond a converter's limit (e.g. a huge integer)
        raise ManifestError(path, f"invalid YAML: {exc}") from exc
    finally:
        loader.dispose()


def load_file(
    path: str, stdin: IO[str] | None = None, problems: list[ManifestError] | None = None
) -> Iterator[Document]:
    """Every object in one file (or `-` for stdin), streamed document by document.

    Documents before a syntax error are yielded; the error is then raised as a
    ManifestError naming the line (1-based). A document that parses but cannot be a
    Kubernetes object is appended to `problems` and skipped, so the rest of the file is
    still read (without `problems`, it is raised like a syntax error).
    """
    if path != STDIN and path.lower().endswith(".json"):
        with paused_gc():
            yield from _load_json(_read_bytes(path), path, problems)
        return
    text = _read_text(path, stdin)
    with paused_gc():
        if path == STDIN and text.lstrip().startswith(("{", "[")):
            yield from _load_json(text.encode(), path, problems)
        else:
            done = [0]
            try:
                yield from _load_yaml_fast(text, path, problems, done)
                return
            except _NotFast:
                pass
            for skipped, doc in enumerate(_load_yaml(text, path, problems)):
                if skipped >= done[0]:
                    yield doc


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
