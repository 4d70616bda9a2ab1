"""Pull-request mode: find each workload's source in a manifests repository and edit it there.

Owns the repository side of `migrator patch`:

- reading a repository (`read_repository`: every `.yaml`/`.yml` file outside hidden folders
  and Helm chart templates) and indexing it (`index_repository`, pure): documents split at
  their `---` markers, kustomizations resolved so a base without a namespace is found
  through the overlay that sets one (`namespace:`, `namePrefix:`, `nameSuffix:`), patch
  files of overlays kept out of the candidates, unparseable files recorded with their line;
- matching a plan's workload to one document (`locate`);
- editing that document in place (`edit_document`) with ruamel.yaml round-trip, the
  indentation detected per document and proven by a byte-exact round trip before any edit,
  comments that introduce the next key kept above it, and the result read back and compared
  with the intended object; a document that cannot be edited that way is left untouched;
- recognising Helm-rendered objects (`helm_release`) and turning their patch into advice on
  the chart's values instead of an edit;
- the pull-request description (`describe`, rendered from `templates/pr-description.md.j2`)
  with before and after verdicts and a DeepDiff summary of each edited document;
- git, through subprocess and only inside the repository (`Git`).
"""

from __future__ import annotations

import copy
import difflib
import io
import os
import posixpath
import re
import subprocess
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from typing import Any

import yaml
from deepdiff import DeepDiff
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError as RuamelError

from migrator.errors import GitError, NotEditable
from migrator.files.overlays import (
    Kustomize,
    PatchEntry,
    build_in_process,
    deciding_patch,
    json_patch_sets,
    patch_entries,
)
from migrator.generate.patches import (
    Change,
    Refusal,
    Target,
    WorkloadPatch,
    compact,
    compute_patch,
    get_path,
    insert_position,
    select,
    set_path,
    strategic_patch,
    unpatched_rows,
)
from migrator.model.escape import md, md_code
from migrator.model.plan import Plan
from migrator.model.serialise import dump_yaml
from migrator.model.workloads import template_path
from migrator.plan.checking import check_object
from migrator.report.templating import render

SUFFIXES = (".yaml", ".yml")
KUSTOMIZATIONS = ("kustomization.yaml", "kustomization.yml", "Kustomization")
HELM_CHART_LABEL = "helm.sh/chart"
HELM_MANAGED_BY = ("app.kubernetes.io/managed-by", "Helm")
HELM_RELEASE_ANNOTATION = "meta.helm.sh/release-name"

_DOCUMENT_START = re.compile(r"^---(?:[ \t\r\n]|$)")
_BLOCK_KEY = re.compile(r"^(?P<indent> *)(?P<key>[^\s#\-][^#]*?):[ \t]*(?:#.*)?$")



# -- reading and indexing -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Chunk:
    """One document's text as it appears in its file (from its `---` marker, if any)."""

    text: str
    first_line: int


def split_documents(text: str) -> list[Chunk]:
    """`text` cut before every `---` document marker; the pieces join back to `text`.

    A `---` at the start of a line always starts a document in YAML, even after a block
    scalar, so cutting there never splits a document.
    """
    chunks: list[Chunk] = []
    current: list[str] = []
    start = 1
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        if _DOCUMENT_START.match(line) and current:
            chunks.append(Chunk("".join(current), start))
            current, start = [], number
        current.append(line)
    if current or not chunks:
        chunks.append(Chunk("".join(current), start))
    return chunks


def _has_content(text: str) -> bool:
    return any(line.strip() and not line.lstrip().startswith("#") and not
               _DOCUMENT_START.match(line) and not line.startswith("%")
               for line in text.splitlines())


@dataclass(frozen=True, slots=True)
class RepoDocument:
    """One Kubernetes object in the repository: its file, its piece of that file (`chunk`),
    its document index as YAML loaders count (`path#index` everywhere), first line, object."""

    path: str
    chunk: int
    index: int
    line: int
    obj: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind") or "")

    @property
    def name(self) -> str:
        return str((self.obj.get("metadata") or {}).get("name") or "")

    @property
    def namespace(self) -> str | None:
        value = (self.obj.get("metadata") or {}).get("namespace")
        return str(value) if value else None

    @property
    def where(self) -> str:
        return f"{self.path}#{self.index}"


@dataclass(frozen=True, slots=True)
class Unparseable:
    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.message}"


@dataclass(frozen=True, slots=True)
class Context:
    """How a file is deployed: the namespace and name affixes a kustomization chain sets
    (None: the document's own namespace), and that chain, outermost first."""

    namespace: str | None = None
    prefix: str = ""
    suffix: str = ""
    via: tuple[str, ...] = ()


@dataclass
class RepoIndex:
    texts: dict[str, str]
    documents: list[RepoDocument] = field(default_factory=list)
    unparseable: list[Unparseable] = field(default_factory=list)
    contexts: dict[str, list[Context]] = field(default_factory=dict)
    patch_files: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    kustomizations: dict[str, _Kustomization] = field(default_factory=dict)


def read_repository(root: str) -> tuple[dict[str, str], list[str]]:
    """The text of every YAML file below `root` (relative POSIX path -> text), and notes on
    what was skipped: hidden folders, Helm chart templates, links, non-UTF-8 files."""
    texts: dict[str, str] = {}
    notes: list[str] = []
    for folder, dirs, files in os.walk(root):
        rel_folder = os.path.relpath(folder, root)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        if "Chart.yaml" in files and "templates" in dirs:
            dirs.remove("templates")
            chart = posixpath.normpath(rel_folder.replace(os.sep, "/"))
            notes.append(f"{chart}: a Helm chart; its templates are not edited (use its values)")
        for name in sorted(files):
            if not name.endswith(SUFFIXES) and name != "Kustomization":
                continue
            path = os.path.join(folder, name)
            rel = posixpath.normpath(os.path.relpath(path, root).replace(os.sep, "/"))
            if os.path.islink(path):
                notes.append(f"{rel}: a symbolic link; not read")
                continue
            try:
                with open(path, encoding="utf-8", newline="") as handle:
                    texts[rel] = handle.read()
            except UnicodeDecodeError:
                notes.append(f"{rel}: not UTF-8 text; not read")
            except OSError as exc:
                notes.append(f"{rel}: {exc.strerror or exc}; not read")
    _read_patch_files(root, texts, notes)
    return dict(sorted(texts.items())), notes


def _read_patch_files(root: str, texts: dict[str, str], notes: list[str]) -> None:
    """Add the patch files kustomizations name that are not YAML (a JSON 6902 `.json`)."""
    for rel in [r for r in texts if posixpath.basename(r) in KUSTOMIZATIONS]:
        try:
            obj = yaml.safe_load(texts[rel])
        except yaml.YAMLError:
            continue
        if not isinstance(obj, Mapping):
            continue
        for entry in patch_entries(rel, obj):
            path = entry.path
            if path is None or path in texts or path.startswith("../"):
                continue
            full = os.path.join(root, *path.split("/"))
            if os.path.islink(full) or not os.path.isfile(full):
                continue
            try:
                with open(full, encoding="utf-8", newline="") as handle:
                    texts[path] = handle.read()
            except (OSError, UnicodeDecodeError):
                notes.append(f"{path}: a kustomize patch that could not be read")


def _parse_chunk(text: str) -> Any:
    return yaml.safe_load(text)


def _error_line(exc: yaml.YAMLError, first_line: int) -> int | None:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return first_line + mark.line if mark is not None else None


def _parse_file(path: str, text: str) -> tuple[list[tuple[int, int, int, Any]],
                                               Unparseable | None]:
    """[(chunk, document index, first line, object)] of a file, or why it cannot be read.

    Documents are counted as a YAML loader counts them (an explicit `---` starts one, even
    an empty one), so `path#index` names the same document as everywhere else.
    """
    out = []
    index = -1
    for number, chunk in enumerate(split_documents(text)):
        content = _has_content(chunk.text)
        if not content and not _DOCUMENT_START.match(chunk.text):
            continue
        index += 1
        if not content:
            continue
        try:
            obj = _parse_chunk(chunk.text)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            return [], Unparseable(path, _error_line(exc, chunk.first_line),
                                   f"invalid YAML: {problem}")
        out.append((number, index, chunk.first_line, obj))
    return out, None


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


@dataclass(frozen=True, slots=True)
class _Kustomization:
    path: str
    folder: str
    namespace: str | None
    prefix: str
    suffix: str
    resources: tuple[str, ...]
    patches: tuple[str, ...]
    entries: tuple[PatchEntry, ...] = ()


def _kustomization(path: str, obj: Mapping[str, Any]) -> _Kustomization:
    folder = posixpath.dirname(path)
    resources = [*_strings(obj.get("resources")), *_strings(obj.get("bases")),
                 *_strings(obj.get("components"))]
    patches = [*_strings(obj.get("patchesStrategicMerge"))]
    for key in ("patches", "patchesJson6902"):
        for item in obj.get(key) or ():
            if isinstance(item, Mapping) and isinstance(item.get("path"), str):
                patches.append(item["path"])
    ns = obj.get("namespace")
    return _Kustomization(
        path, folder, str(ns) if ns else None, str(obj.get("namePrefix") or ""),
        str(obj.get("nameSuffix") or ""),
        tuple(posixpath.normpath(posixpath.join(folder, r)) for r in resources),
        tuple(posixpath.normpath(posixpath.join(folder, p)) for p in patches
              if "\n" not in p),
        patch_entries(path, obj))


def _kustomization_in(folder: str, kustomizations: Mapping[str, _Kustomization]) \
        -> _Kustomization | None:
    for name in KUSTOMIZATIONS:
        found = kustomizations.get(posixpath.normpath(posixpath.join(folder, name)))
        if found is not None:
            return found
    return None


def _reach(k: _Kustomization, kustomizations: Mapping[str, _Kustomization],
           texts: Mapping[str, str], seen: frozenset[str]) -> Iterator[tuple[str, Context]]:
    """Every resource file `k` deploys, with the context its chain gives it."""
    for resource in k.resources:
        if resource in texts:
            yield resource, Context(k.namespace, k.prefix, k.suffix, (k.path,))
            continue
        child = _kustomization_in(resource, kustomizations)
        if child is None or child.path in seen:
            continue
        for path, ctx in _reach(child, kustomizations, texts, seen | {child.path}):
            yield path, Context(k.namespace or ctx.namespace, k.prefix + ctx.prefix,
                                ctx.suffix + k.suffix, (k.path, *ctx.via))


def index_repository(texts: Mapping[str, str], notes: Iterable[str] = ()) -> RepoIndex:
    """Documents, kustomize contexts and unparseable files of a repository's texts."""
    index = RepoIndex(dict(texts), notes=list(notes))
    parsed: dict[str, list[tuple[int, int, int, Any]]] = {}
    for path, text in sorted(texts.items()):
        docs, problem = _parse_file(path, text)
        if problem is not None:
            index.unparseable.append(problem)
        else:
            parsed[path] = docs
    kustomizations: dict[str, _Kustomization] = {}
    for path, docs in parsed.items():
        if posixpath.basename(path) in KUSTOMIZATIONS and docs and isinstance(docs[0][3], dict):
            kustomizations[path] = _kustomization(path, docs[0][3])
    index.kustomizations = kustomizations
    contexts: dict[str, list[Context]] = {}
    for k in kustomizations.values():
        index.patch_files.update(k.patches)
        for path, ctx in _reach(k, kustomizations, texts, frozenset({k.path})):
            if ctx not in contexts.setdefault(path, []):
                contexts[path].append(ctx)
    for path, docs in parsed.items():
        if path in kustomizations or path in index.patch_files:
            continue
        index.contexts[path] = sorted(contexts.get(path) or [Context()],
                                      key=lambda c: (c.via, c.namespace or ""))
        for chunk, number, line, obj in docs:
            if isinstance(obj, dict) and obj.get("kind"):
                index.documents.append(RepoDocument(path, chunk, number, line, obj))
    return index


# -- locating -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Match:
    document: RepoDocument
    context: Context
    exact: bool

    def describe(self) -> str:
        via = f" (deployed through {' -> '.join(self.context.via)})" if self.context.via else ""
        loose = "" if self.exact else " (no namespace in the file; matched by kind and name)"
        return f"{self.document.where} (line {self.document.line}){via}{loose}"


def locate(index: RepoIndex, kind: str, namespace: str, name: str) -> list[Match]:
    """The documents that deploy `kind` `namespace`/`name`: exact matches (namespace from
    the document or its kustomizations), else those no document or kustomization gives
    any namespace (applied with `kubectl -n`)."""
    exact: dict[tuple[str, int], Match] = {}
    loose: dict[tuple[str, int], Match] = {}
    for doc in index.documents:
        if doc.kind != kind:
            continue
        contexts = index.contexts.get(doc.path, [Context()])
        # a base some overlay puts in a namespace is not deployed without one
        namespaced = any(ctx.namespace or doc.namespace for ctx in contexts)
        for ctx in contexts:
            if ctx.prefix + doc.name + ctx.suffix != name:
                continue
            effective = ctx.namespace or doc.namespace
            key = (doc.path, doc.chunk)
            if effective == namespace:
                exact.setdefault(key, Match(doc, ctx, True))
            elif not namespaced:
                loose.setdefault(key, Match(doc, ctx, False))
    return list(exact.values()) if exact else list(loose.values())


# -- Helm -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HelmRelease:
    chart: str
    version: str
    release: str


def helm_release(obj: Mapping[str, Any]) -> HelmRelease | None:
    """The chart and release an object was rendered from, if its labels say Helm made it."""
    metadata = obj.get("metadata") or {}
    labels = metadata.get("labels") or {}
    annotations = metadata.get("annotations") or {}
    managed = labels.get(HELM_MANAGED_BY[0]) == HELM_MANAGED_BY[1]
    chart_label = str(labels.get(HELM_CHART_LABEL) or "")
    release = str(annotations.get(HELM_RELEASE_ANNOTATION)
                  or labels.get("app.kubernetes.io/instance") or "")
    if not (managed or chart_label or annotations.get(HELM_RELEASE_ANNOTATION)):
        return None
    chart, version = chart_label, ""
    match = re.match(r"^(?P<chart>.+?)-(?P<version>v?\d[\w.+-]*)$", chart_label)
    if match:
        chart, version = match.group("chart"), match.group("version")
    return HelmRelease(chart or "(unknown chart)", version, release or "(unknown release)")


def values_advice(patch: WorkloadPatch) -> list[dict[str, Any]]:
    """The pod-template fields a chart's values must produce: [{scope, field, value}]."""
    base = template_path(dict(patch.original)) or ()
    advice = []
    for change in patch.changes:
        rel = change.path[len(base):]
        if rel[:2] == ("metadata", "annotations"):
            advice.append({"scope": "pod annotations", "field": str(rel[2]),
                           "value": compact(change.after)})
        elif len(rel) > 3 and rel[0] == "spec" and isinstance(rel[2], int):
            name = _container_name(patch, change.path)
            advice.append({"scope": f"{rel[1]} {name}",
                           "field": ".".join(str(k) for k in rel[3:]),
                           "value": compact(change.after)})
        else:
            advice.append({"scope": "pod", "field": ".".join(str(k) for k in rel[1:]),
                           "value": compact(change.after)})
    return advice


def _container_name(patch: WorkloadPatch, path: Sequence[str | int]) -> str:
    node: Any = patch.original
    for key in path:
        node = node[key]
        if isinstance(key, int):
            return str(node.get("name"))
    return "?"


# -- editing in place -----------------------------------------------------------------------


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def guess_indentation(text: str) -> tuple[int, int, int]:
    """(mapping, sequence, offset) as ruamel.yaml counts them, from the block keys in
    `text`: how far nested keys and `- ` items sit from their parent key."""
    lines = [line for line in text.splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    maps: Counter[int] = Counter()
    offsets: Counter[int] = Counter()
    for prev, cur in zip(lines, lines[1:], strict=False):
        match = _BLOCK_KEY.match(prev)
        if match is None or ": " in match.group("key"):
            continue
        delta = _indent(cur) - len(match.group("indent"))
        if cur.lstrip().startswith("- ") or cur.strip() == "-":
            if delta >= 0:
                offsets[delta] += 1
        elif delta > 0:
            maps[delta] += 1
    mapping = maps.most_common(1)[0][0] if maps else 2
    offset = offsets.most_common(1)[0][0] if offsets else 0
    return mapping, offset + 2, offset


def _candidates(text: str) -> Iterator[tuple[int, int, int]]:
    guessed = guess_indentation(text)
    yield guessed
    for option in ((2, 2, 0), (2, 4, 2), (4, 4, 2), (4, 6, 4), (4, 4, 0), (4, 2, 0)):
        if option != guessed:
            yield option


def _yaml(indentation: tuple[int, int, int], text: str) -> YAML:
    rt = YAML(typ="rt")
    rt.preserve_quotes = True
    rt.width = 4096
    mapping, sequence, offset = indentation
    rt.indent(mapping=mapping, sequence=sequence, offset=offset)
    rt.explicit_start = bool(_DOCUMENT_START.match(text))
    rt.explicit_end = any(line.rstrip() == "..." for line in text.splitlines())
    return rt


def _dump(rt: YAML, doc: Any) -> str:
    buffer = io.StringIO()
    rt.dump(doc, buffer)
    return buffer.getvalue()


def round_trip(text: str) -> tuple[YAML, Any]:
    """A ruamel.yaml loader/dumper and the document of `text`, proven to reproduce `text`
    byte for byte; NotEditable when no indentation setting does."""
    for indentation in _candidates(text):
        rt = _yaml(indentation, text)
        try:
            doc = rt.load(text)
            if _dump(rt, doc) == text:
                return rt, doc
        except RuamelError as exc:
            raise NotEditable(f"ruamel.yaml cannot read it: {exc}") from exc
    raise NotEditable("ruamel.yaml cannot write it back unchanged (mixed indentation or "
                      "spacing); edit it by hand")


def _to_rt(value: Any) -> Any:
    if isinstance(value, Mapping):
        out = CommentedMap()
        for k, v in value.items():
            out[k] = _to_rt(v)
        return out
    if isinstance(value, list):
        return CommentedSeq(_to_rt(v) for v in value)
    return value


def _put(node: CommentedMap, key: str, value: Any) -> None:
    if key in node:
        node[key] = value
    else:
        node.insert(insert_position(list(node.keys()), key), key, value)


def _apply_rt(doc: Any, change: Change) -> None:
    node = doc
    for key in change.path[:-1]:
        if isinstance(key, int):
            node = node[key]
            continue
        child = node.get(key)
        if not isinstance(child, Mapping | list):
            child = CommentedMap()
            _put(node, key, child)
        node = child
    leaf = change.path[-1]
    assert isinstance(leaf, str)
    existing = node.get(leaf)
    after = change.after
    if isinstance(existing, list) and isinstance(after, list) \
            and list(after[:len(existing)]) == list(existing):
        for item in after[len(existing):]:
            existing.append(_to_rt(item))
    else:
        _put(node, leaf, _to_rt(after))


def _hoppable(line: str, block_indent: int, next_indent: int) -> bool:
    stripped = line.strip()
    if not stripped:
        return True
    if not stripped.startswith("#"):
        return False
    return _indent(line) == next_indent or _indent(line) < block_indent


def keep_comments_with_their_key(original: str, edited: str) -> str:
    """`edited`, with each inserted block moved above the comment lines that introduced
    the key now following it (ruamel.yaml attaches them to the preceding value)."""
    before = original.splitlines(keepends=True)
    after = edited.splitlines(keepends=True)
    out: list[str] = []
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    for tag, i1, _i2, j1, j2 in matcher.get_opcodes():
        block = after[j1:j2]
        if tag != "insert":
            out.extend(block)
            continue
        next_indent = _indent(before[i1]) if i1 < len(before) else -1
        k = len(out)
        while k > 0 and _hoppable(out[k - 1], _indent(block[0]), next_indent):
            k -= 1
        while k < len(out) and not out[k].strip():
            k += 1  # blank lines stay above the block; only comments move below it
        out[k:k] = block
    return "".join(out)


def _plain(text: str) -> Any:
    return yaml.safe_load(text)


def edit_chunk(text: str, changes: Sequence[Change]) -> str:
    """One document's text with `changes` applied and every other byte kept."""
    if any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(text)):
        raise NotEditable("it uses YAML aliases: an edit would change every place that "
                          "shares the anchored value")
    rt, doc = round_trip(text)
    expected = copy.deepcopy(_plain(text))
    try:
        for change in changes:
            _apply_rt(doc, change)
            set_path(expected, change.path, change.after)
    except (AttributeError, IndexError, KeyError, TypeError) as exc:
        raise NotEditable(f"ruamel.yaml reads its structure differently ({exc!r})") from exc
    dumped = _dump(rt, doc)
    for candidate in (keep_comments_with_their_key(text, dumped), dumped):
        try:
            if _plain(candidate) == expected:
                return candidate
        except yaml.YAMLError:
            continue
    raise NotEditable("the edited document does not read back as intended")


def edit_document(text: str, chunk: int, changes: Sequence[Change]) -> str:
    """The file `text` with document `chunk` edited; the other documents are kept verbatim."""
    chunks = split_documents(text)
    edited = edit_chunk(chunks[chunk].text, changes)
    return "".join(edited if i == chunk else c.text for i, c in enumerate(chunks))


# -- the change summary ---------------------------------------------------------------------


def _leaves(value: Any) -> int:
    if isinstance(value, Mapping):
        return sum(_leaves(v) for v in value.values()) or 1
    if isinstance(value, list):
        return sum(_leaves(v) for v in value) or 1
    return 1


def change_summary(before: Any, after: Any) -> dict[str, Any]:
    """DeepDiff of a document before and after, as counts of added, changed and removed
    fields (leaves), with the DeepDiff paths."""
    diff = DeepDiff(before, after, view="tree", ignore_order=False)
    added = changed = removed = 0
    paths: list[str] = []
    for kind, items in diff.items():
        for item in items:
            paths.append(f"{kind}: {item.path()}")
            if kind in ("dictionary_item_added", "iterable_item_added"):
                added += _leaves(item.t2)
            elif kind in ("dictionary_item_removed", "iterable_item_removed"):
                removed += _leaves(item.t1)
            else:
                changed += 1
    return {"added": added, "changed": changed, "removed": removed, "paths": sorted(paths)}


# -- the pull request -----------------------------------------------------------------------


@dataclass
class Entry:
    """What happened to one workload of the plan in the repository."""

    target: Target
    status: str
    locations: list[str] = field(default_factory=list)
    patch: WorkloadPatch | None = None
    reasons: list[str] = field(default_factory=list)
    helm: HelmRelease | None = None
    summary: dict[str, Any] | None = None
    #: the overlays that deploy it, each with how it was built and its verdict
    overlays: list[str] = field(default_factory=list)


#: status -> heading in the description, in the order they are listed.
STATUSES = {
    "edited": "Edited in this pull request",
    "helm": "Rendered by Helm: set through the chart's values",
    "not-found": "Not found in the repository: apply by hand",
    "ambiguous": "Found more than once: apply by hand",
    "not-editable": "Found but not editable without reformatting: apply by hand",
    "overlay-overrides": "Edited, but an overlay overrides the fix: finish by hand",
    "refused": "Cannot be patched",
    "passes": "Already passing in the repository",
}


@dataclass
class PullRequest:
    entries: list[Entry]
    edits: dict[str, str]
    unparseable: list[Unparseable]
    notes: list[str]

    @property
    def edited_files(self) -> list[str]:
        return sorted(self.edits)


def _for_hand(entry: Entry, obj: Mapping[str, Any] | None, reason: str) -> None:
    """Give `entry` the patch to apply by hand, computed from the cluster's object."""
    entry.reasons.append(reason)
    if obj is None:
        entry.reasons.append("the cluster's object is not available either (pass the "
                             "manifests or snapshot the plan was made from)")
        return
    outcome = compute_patch(obj, entry.target)
    if isinstance(outcome, WorkloadPatch):
        entry.patch = outcome
        entry.helm = entry.helm or helm_release(obj)
    elif isinstance(outcome, Refusal):
        entry.status = "refused"
        entry.reasons.extend(outcome.reasons)


def prepare(targets: Sequence[Target], index: RepoIndex,
            objects: Mapping[tuple[str, str, str], Mapping[str, Any]],
            kustomize: Sequence[str] | None = None) -> PullRequest:
    """Every target located, patched and (where possible) edited in memory; each overlay
    that deploys an edited base judged as it builds (with the `kustomize` command, e.g.
    `kubectl kustomize`, too, when given)."""
    with Kustomize(kustomize) if kustomize else nullcontext() as runner:
        return _prepare(targets, index, objects, runner)


def _prepare(targets: Sequence[Target], index: RepoIndex,
             objects: Mapping[tuple[str, str, str], Mapping[str, Any]],
             runner: Kustomize | None) -> PullRequest:
    texts = dict(index.texts)
    edits: dict[str, str] = {}
    entries: list[Entry] = []
    for target in targets:
        entry = Entry(target, "not-found")
        entries.append(entry)
        cluster_obj = objects.get((target.kind, target.namespace, target.name))
        matches = locate(index, target.kind, target.namespace, target.name)
        entry.locations = [m.describe() for m in matches]
        if not matches:
            _for_hand(entry, cluster_obj, "no document in the repository deploys it")
            continue
        if len(matches) > 1:
            entry.status = "ambiguous"
            _for_hand(entry, cluster_obj, "several documents could deploy it")
            continue
        doc = matches[0].document
        located = replace(target, origin=doc.where)
        entry.target = located
        outcome = compute_patch(doc.obj, located)
        if outcome is None:
            entry.status = "passes"
            entry.reasons.append(f"the repository's version already passes "
                                 f"{located.level}:{located.version}; left untouched")
            continue
        if isinstance(outcome, Refusal):
            entry.status = "refused"
            entry.reasons.extend(outcome.reasons)
            continue
        entry.patch = outcome
        entry.helm = helm_release(doc.obj)
        if entry.helm is not None:
            entry.status = "helm"
            continue
        try:
            new_text = edit_document(texts[doc.path], doc.chunk, outcome.changes)
        except NotEditable as exc:
            entry.status = "not-editable"
            entry.reasons.append(str(exc))
            continue
        texts[doc.path] = new_text
        edits[doc.path] = new_text
        entry.status = "edited"
        entry.summary = change_summary(doc.obj, outcome.patched)
        if matches[0].context.via:
            _verify_overlay(entry, matches[0], outcome, index, texts, edits, runner)
    return PullRequest(entries, dict(sorted(edits.items())), list(index.unparseable),
                       list(index.notes))


def _chain(index: RepoIndex, ctx: Context) -> list[tuple[PatchEntry, ...]]:
    """The patches of each kustomization of the chain, innermost first."""
    return [index.kustomizations[k].entries for k in reversed(ctx.via)
            if k in index.kustomizations]


def _names(index: RepoIndex, ctx: Context, name: str) -> list[str]:
    """The names the resource has along the chain (a patch may use any of them)."""
    names = [name]
    for k in reversed(ctx.via):
        found = index.kustomizations.get(k)
        if found is not None:
            names.append(found.prefix + names[-1] + found.suffix)
    return list(dict.fromkeys(names))


def _failures(obj: Mapping[str, Any], target: Target) -> list[str]:
    """The checks `obj` fails at the target's level and version (empty: it passes)."""
    result = check_object(dict(obj), target.origin, target.level, target.version)
    return [] if result is None else [f"{v.check}: {v.text()}" for v in result.violations]


def _chunk_of(text: str, document: int) -> int | None:
    docs, _problem = _parse_file("", text)
    return next((chunk for chunk, number, _line, _obj in docs if number == document), None)


def _fix_in_overlay(entry: Entry, patch: WorkloadPatch, built: Mapping[str, Any],
                    index: RepoIndex, ctx: Context, names: list[str],
                    texts: dict[str, str], edits: dict[str, str]) -> list[str]:
    """Edit the overlay patches that undo the patch's fields; what could not be edited."""
    left: list[str] = []
    chain = _chain(index, ctx)
    for change in patch.changes:
        if get_path(built, change.path) == change.after:
            continue
        decider = deciding_patch(patch.patched, chain, texts, names, change.path)
        if decider is None:
            pointer = "".join("/" + str(k).replace("~", "~0").replace("/", "~1")
                              for k in change.path)
            where = json_patch_sets(chain, texts, pointer)
            left.append(f"{change.field} is set by {where or 'an overlay patch'}; change it "
                        "there by hand")
            continue
        chunk = _chunk_of(texts[decider.path], decider.document)
        if chunk is None:
            left.append(f"{change.field} is set by {decider.path}; change it there by hand")
            continue
        fix = Change(decider.field_path, change.field, get_path(built, change.path),
                     change.after, change.reasons)
        try:
            new_text = edit_document(texts[decider.path], chunk, [fix])
        except NotEditable as exc:
            left.append(f"{change.field} is set by {decider.path}, which cannot be edited "
                        f"there: {exc}")
            continue
        texts[decider.path] = new_text
        edits[decider.path] = new_text
        entry.overlays.append(f"{decider.path}#{decider.document} set {change.field} to "
                              f"{compact(get_path(built, change.path))}; edited to "
                              f"{compact(change.after)} there, since that file decides it")
    return left


def _verify_overlay(entry: Entry, match: Match, patch: WorkloadPatch, index: RepoIndex,
                    texts: dict[str, str], edits: dict[str, str],
                    runner: Kustomize | None) -> None:
    """Judge what the overlay deploying `entry`'s workload builds from the edited base;
    edit the overlay patch that decides a field the build gets wrong; say what was
    verified, and how."""
    ctx = match.context
    overlay = posixpath.dirname(ctx.via[0])
    names = _names(index, ctx, match.document.name)
    policy = f"{entry.target.level}:{entry.target.version}"
    built = build_in_process(patch.patched, _chain(index, ctx), texts, names)
    for problem in built.problems:
        entry.overlays.append(f"{overlay}: {problem}")
    left: list[str] = []
    if _failures(built.obj, entry.target):
        left = _fix_in_overlay(entry, patch, built.obj, index, ctx, names, texts, edits)
        built = build_in_process(patch.patched, _chain(index, ctx), texts, names)
    failing = _failures(built.obj, entry.target)
    applied = f"{len(built.applied)} patch{'es' if len(built.applied) != 1 else ''}"
    entry.overlays.append(f"{overlay}: built in process ({applied} applied): "
                          + (f"passes {policy}" if not failing
                             else f"still fails {policy}: {'; '.join(failing)}"))
    if runner is not None:
        command = runner.command
        objects, why = runner.build(texts, overlay)
        if objects is None:
            entry.overlays.append(f"{overlay}: {why}; the in-process build stands")
        else:
            wanted = names[-1]
            found = [o for o in objects if o.get("kind") == entry.target.kind
                     and (o.get("metadata") or {}).get("name") == wanted]
            if len(found) != 1:
                entry.overlays.append(f"{overlay}: {' '.join(command)} built "
                                      f"{len(found)} {entry.target.kind}/{wanted}")
            else:
                failing = _failures(found[0], entry.target)
                entry.overlays.append(
                    f"{overlay}: verified with {' '.join(command)}: "
                    + (f"passes {policy}" if not failing
                       else f"fails {policy}: {'; '.join(failing)}"))
    else:
        entry.overlays.append(f"{overlay}: verified by the in-process build only (no "
                              "kubectl or kustomize to run)")
    if failing or left:
        entry.status = "overlay-overrides"
        entry.reasons.extend(left or [f"{overlay} still fails {policy}"])


def _violations(patch: WorkloadPatch) -> list[str]:
    return [f"{v.check}: {v.text()}" for v in patch.before]


def describe(plan: Plan, pr: PullRequest, *, branch: str | None,
             residual: Mapping[str, Any] | None = None) -> str:
    """The Markdown pull-request description; `residual` (the view of the residual
    policies `migrator generate` writes) adds what they keep and what they do not."""
    groups = []
    for status, title in STATUSES.items():
        items = []
        for entry in pr.entries:
            if entry.status != status:
                continue
            patch = entry.patch
            items.append({
                "label": entry.target.label,
                "policy": f"{entry.target.level}:{entry.target.version}",
                "locations": entry.locations,
                "reasons": entry.reasons,
                "satisfies": list(patch.satisfies) if patch else [],
                "psp": entry.target.psp,
                "psp_defaults": list(patch.psp_defaults) if patch else [],
                "changes": [{"field": c.field,
                             "before": "unset" if c.before is None else compact(c.before),
                             "after": compact(c.after), "why": "; ".join(c.reasons)}
                            for c in patch.changes] if patch else [],
                "warnings": list(patch.warnings) if patch else [],
                "before": _violations(patch) if patch else [],
                "summary": entry.summary,
                "overlays": entry.overlays,
                "helm": entry.helm,
                "advice": values_advice(patch) if patch and entry.helm else [],
                "hand_patch": dump_yaml(strategic_patch(patch)).rstrip("\n")
                if patch and status in ("not-found", "ambiguous", "not-editable") else "",
            })
        if items:
            groups.append({"status": status, "title": title, "items": items})
    counts = Counter(e.status for e in pr.entries)
    return render(
        "pr-description.md.j2",
        md=md,
        code=md_code,
        pin=plan.get("pin_version"),
        branch=branch,
        groups=groups,
        counts={s: counts.get(s, 0) for s in STATUSES},
        files=pr.edited_files,
        unparseable=[str(u) for u in pr.unparseable],
        notes=pr.notes,
        unpatched_defaults=unpatched_rows(select(plan)),
        residual=residual,
    )


# -- git ------------------------------------------------------------------------------------


class Git:
    """git, run in one repository only, never prompting."""

    def __init__(self, root: str) -> None:
        self.root = root

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
        try:
            result = subprocess.run(["git", "-C", self.root, *args], capture_output=True,
                                    text=True, env=env, check=False)
        except OSError as exc:
            raise GitError(f"cannot run git: {exc.strerror or exc}") from exc
        if check and result.returncode != 0:
            message = (result.stderr or result.stdout).strip().splitlines()
            raise GitError(f"git {' '.join(args)} failed in {self.root}: "
                           + (message[-1] if message else f"exit {result.returncode}"))
        return result

    def is_repository(self) -> bool:
        try:
            return self.run("rev-parse", "--is-inside-work-tree", check=False).stdout.strip() \
                == "true"
        except GitError:
            return False

    def dirty(self, paths: Sequence[str] = ()) -> list[str]:
        """Changed or untracked paths (all, or among `paths`), as `git status` lists them."""
        args = ["status", "--porcelain=v1", "--untracked-files=normal"]
        if paths:
            args += ["--", *paths]
        return [line[3:] for line in self.run(*args).stdout.splitlines() if line.strip()]

    def branch_exists(self, branch: str) -> bool:
        return self.run("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}",
                        check=False).returncode == 0

    def create_branch(self, branch: str, *, force: bool) -> None:
        self.run("checkout", "-B" if force else "-b", branch)

    def commit(self, paths: Sequence[str], subject: str, body: str) -> str:
        self.run("add", "--", *paths)
        self.run("commit", "-m", subject, "-m", body)
        return self.run("rev-parse", "HEAD").stdout.strip()


def branch_name(pin: str) -> str:
    return f"migrator/pod-security-{pin}"


def commit_message(plan: Plan, pr: PullRequest) -> tuple[str, str]:
    edited = [e for e in pr.entries if e.status == "edited"]
    subject = f"Pod Security: explicit securityContext for {len(edited)} " \
        f"workload{'s' if len(edited) != 1 else ''} ({plan.get('pin_version')})"
    lines = [f"- {e.target.label}: {e.target.level}:{e.target.version}; satisfies "
             + ", ".join(e.patch.satisfies if e.patch else ()) for e in edited]
    body = "\n".join([*lines, "", "Generated by migrator patch; see the pull-request "
                      "description for the reasons and the verdicts."])
    return subject, body
