"""Kustomize overlays in pull-request mode: what each overlay builds from an edited base.

Owns judging the overlays that deploy a workload whose base document `migrator patch`
edits. An overlay may patch the same fields as the base (`allowPrivilegeEscalation: true`
in `overlays/prod`), so the edited base alone says nothing about what is deployed:

- `build_in_process` applies the patches of every kustomization in the chain, innermost
  first, the way kustomize does: strategic-merge patches (containers, init containers,
  volumes and ports merged by key, `null` deleting a key, `$patch: replace|delete`) and
  RFC 6902 JSON patches (through the `jsonpatch` library), each to the resource its target
  or its own kind and name selects;
- `deciding_patch` finds, for a field the built overlay gets wrong, the strategic-merge
  patch document that sets it, and the path of the field inside that document, so the
  file that decides the field is the one edited;
- `Kustomize` runs `kubectl kustomize` (or `kustomize build`) on a copy of the
  repository's YAML files with the edits applied, when one is installed.

Only `Kustomize` does I/O (a temporary folder and a subprocess).
"""

from __future__ import annotations

import copy
import os
import posixpath
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jsonpatch
import yaml

#: List fields strategic merge merges item by item, and the key that identifies an item.
MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name",
    "volumes": "name", "volumeMounts": "mountPath", "env": "name", "ports": "containerPort",
    "imagePullSecrets": "name", "tolerations": None, "hostAliases": "ip",
}
#: Fields whose list strategic merge merges as a set of values.
SET_LISTS = ("finalizers",)


@dataclass(frozen=True, slots=True)
class PatchEntry:
    """One patch of a kustomization: a file (`path`) or inline text, its target if given,
    and the kustomization that lists it."""

    kustomization: str
    path: str | None
    inline: str | None
    target: Mapping[str, Any] | None
    json6902: bool


@dataclass
class Built:
    """The object an overlay chain builds, the patches applied to it (file#doc or
    `<kustomization> inline`) and what could not be applied."""

    obj: dict[str, Any]
    applied: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def patch_entries(path: str, obj: Mapping[str, Any]) -> tuple[PatchEntry, ...]:
    """The patches a kustomization file lists, paths resolved from its folder."""
    folder = posixpath.dirname(path)

    def resolve(rel: str) -> str:
        return posixpath.normpath(posixpath.join(folder, rel))

    out: list[PatchEntry] = []
    for rel in _strings(obj.get("patchesStrategicMerge")):
        if "\n" in rel:
            out.append(PatchEntry(path, None, rel, None, False))
        else:
            out.append(PatchEntry(path, resolve(rel), None, None, False))
    for key in ("patches", "patchesJson6902"):
        for item in obj.get(key) or ():
            if not isinstance(item, Mapping):
                continue
            target = item.get("target") if isinstance(item.get("target"), Mapping) else None
            if isinstance(item.get("path"), str):
                out.append(PatchEntry(path, resolve(item["path"]), None, target,
                                      key == "patchesJson6902"))
            elif isinstance(item.get("patch"), str):
                out.append(PatchEntry(path, None, item["patch"], target,
                                      key == "patchesJson6902"))
    return tuple(out)


def _selects(target: Mapping[str, Any] | None, obj: Mapping[str, Any],
             names: Sequence[str]) -> bool:
    if target is None:
        return False
    if target.get("kind") not in (None, obj.get("kind")):
        return False
    if target.get("name") not in (None, *names):
        return False
    group, _, _version = str(obj.get("apiVersion") or "").rpartition("/")
    if target.get("group") not in (None, group):
        return False
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    for key, where in (("labelSelector", "labels"), ("annotationSelector", "annotations")):
        wanted = target.get(key)
        if isinstance(wanted, str) and not _selector_matches(wanted, meta.get(where)):
            return False
    return True


def _selector_matches(selector: str, values: Any) -> bool:
    """An equality-based selector (`a=b,c!=d,e`) against labels or annotations."""
    present = values if isinstance(values, Mapping) else {}
    for term in (t.strip() for t in selector.split(",") if t.strip()):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if present.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = term.split("==", 1) if "==" in term else term.split("=", 1)
            if present.get(key.strip()) != value.strip():
                return False
        elif term.startswith("!"):
            if term[1:].strip() in present:
                return False
        elif term not in present:
            return False
    return True


def _names_match(doc: Mapping[str, Any], obj: Mapping[str, Any], names: Sequence[str]) -> bool:
    meta = doc.get("metadata")
    name = meta.get("name") if isinstance(meta, Mapping) else None
    return doc.get("kind") == obj.get("kind") and name in names


def strategic_merge(base: Any, patch: Any, key: str | None = None) -> Any:
    """`patch` merged into `base` the way kubectl's strategic merge does for pod specs."""
    if isinstance(patch, Mapping) and isinstance(base, Mapping):
        if patch.get("$patch") == "replace":
            return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
        out = {k: copy.deepcopy(v) for k, v in base.items()}
        for k, v in patch.items():
            if k.startswith("$"):
                continue
            if v is None:
                out.pop(k, None)
            elif k in out:
                out[k] = strategic_merge(out[k], v, k)
            else:
                out[k] = _without_directives(v)
        return out
    if isinstance(patch, list) and isinstance(base, list):
        merge_key = MERGE_KEYS.get(key or "")
        if merge_key is not None and all(isinstance(i, Mapping) for i in base + patch):
            merged = [copy.deepcopy(i) for i in base]
            for item in patch:
                found = next((n for n, b in enumerate(merged)
                              if b.get(merge_key) == item.get(merge_key)), None)
                if item.get("$patch") == "delete":
                    if found is not None:
                        merged.pop(found)
                elif found is None:
                    merged.append(_without_directives(item))
                else:
                    merged[found] = strategic_merge(merged[found], item)
            return merged
        if key in SET_LISTS:
            return list(dict.fromkeys([*base, *patch]))
        return _without_directives(patch)
    return _without_directives(patch)


def _without_directives(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _without_directives(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_without_directives(v) for v in value]
    return copy.deepcopy(value)


def _documents(text: str) -> list[Any]:
    return [d for d in yaml.safe_load_all(text) if d is not None]


def _entry_text(entry: PatchEntry, texts: Mapping[str, str]) -> str | None:
    if entry.inline is not None:
        return entry.inline
    return texts.get(entry.path or "")


def _label(entry: PatchEntry, doc: int | None = None) -> str:
    if entry.path is None:
        return f"{entry.kustomization} (inline patch)"
    return entry.path if doc is None else f"{entry.path}#{doc}"


def build_in_process(base: Mapping[str, Any], chain: Sequence[Sequence[PatchEntry]],
                     texts: Mapping[str, str], names: Sequence[str]) -> Built:
    """`base` with the patches of each kustomization of `chain` (innermost first) applied.

    `names` are the names the resource has along the chain (its own, then with the inner
    prefixes and suffixes), any of which a patch may use.
    """
    built = Built(copy.deepcopy(dict(base)))
    for entries in chain:
        for entry in entries:
            text = _entry_text(entry, texts)
            if text is None:
                built.problems.append(f"{_label(entry)}: not found in the repository")
                continue
            try:
                docs = _documents(text)
            except yaml.YAMLError as exc:
                built.problems.append(f"{_label(entry)}: not readable ({exc})")
                continue
            if len(docs) == 1 and isinstance(docs[0], list):
                if not (_selects(entry.target, built.obj, names)):
                    continue
                try:
                    built.obj = jsonpatch.apply_patch(built.obj, docs[0])
                except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
                    built.problems.append(f"{_label(entry)}: does not apply ({exc})")
                    continue
                built.applied.append(_label(entry))
                continue
            for number, doc in enumerate(docs):
                if not isinstance(doc, Mapping):
                    continue
                if entry.target is not None and not _selects(entry.target, built.obj, names):
                    continue
                if entry.target is None and not _names_match(doc, built.obj, names):
                    continue
                built.obj = strategic_merge(built.obj, doc)
                built.applied.append(_label(entry, number))
    return built


def map_path(patch_doc: Mapping[str, Any], obj: Mapping[str, Any],
             path: Sequence[str | int]) -> tuple[str | int, ...] | None:
    """`path` in `obj` as a path in the strategic-merge patch `patch_doc` (list items
    matched by their merge key); None when the patch does not reach that far."""
    out: list[str | int] = []
    node: Any = patch_doc
    source: Any = obj
    parent_key: str | None = None
    for key in path:
        if isinstance(key, int):
            merge_key = MERGE_KEYS.get(parent_key or "")
            if merge_key is None or not isinstance(node, list) or not isinstance(source, list):
                return None
            wanted = source[key].get(merge_key) if 0 <= key < len(source) else None
            index = next((n for n, item in enumerate(node)
                          if isinstance(item, Mapping) and item.get(merge_key) == wanted), None)
            if index is None:
                return None
            out.append(index)
            node, source = node[index], source[key]
            continue
        if not isinstance(node, Mapping) or key not in node:
            return None
        out.append(key)
        node = node[key]
        source = source.get(key) if isinstance(source, Mapping) else None
        parent_key = key
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Decider:
    """The strategic-merge patch document that decides a field: file, document, the
    field's path inside that document."""

    path: str
    document: int
    field_path: tuple[str | int, ...]


def deciding_patch(base: Mapping[str, Any], chain: Sequence[Sequence[PatchEntry]],
                   texts: Mapping[str, str], names: Sequence[str],
                   path: Sequence[str | int]) -> Decider | None:
    """The last patch file of the chain that sets `path` (a path in the base object)."""
    found: Decider | None = None
    for entries in chain:
        for entry in entries:
            text = _entry_text(entry, texts)
            if text is None or entry.path is None:
                continue
            try:
                docs = list(yaml.safe_load_all(text))
            except yaml.YAMLError:
                continue
            for number, doc in enumerate(docs):
                if not isinstance(doc, Mapping) or not _names_match(doc, base, names):
                    continue
                mapped = map_path(doc, base, path)
                if mapped is not None:
                    found = Decider(entry.path, number, mapped)
    return found


def json_patch_sets(chain: Sequence[Sequence[PatchEntry]], texts: Mapping[str, str],
                    pointer: str) -> str | None:
    """The JSON 6902 patch file of the chain with an operation on `pointer` or a parent."""
    for entries in reversed(chain):
        for entry in entries:
            text = _entry_text(entry, texts)
            try:
                docs = _documents(text or "")
            except yaml.YAMLError:
                continue
            if len(docs) == 1 and isinstance(docs[0], list):
                for op in docs[0]:
                    where = str(op.get("path") if isinstance(op, Mapping) else "")
                    if where and (pointer == where or pointer.startswith(where + "/")):
                        return _label(entry)
    return None


def kustomize_command() -> list[str] | None:
    """`kubectl kustomize` or `kustomize build`, whichever is installed (kubectl first)."""
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    return None


class Kustomize:
    """Runs `command` (`kubectl kustomize` or `kustomize build`) on a private copy of a
    repository's texts, kept in a temporary folder for the life of the object and brought
    up to date before each build (only changed files are rewritten)."""

    def __init__(self, command: Sequence[str]) -> None:
        self.command = list(command)
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self._written: dict[str, str] = {}

    def __enter__(self) -> Kustomize:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None
            self._written = {}

    def _sync(self, texts: Mapping[str, str]) -> str:
        if self._folder is None:
            self._folder = tempfile.TemporaryDirectory(prefix="migrator-kustomize-")
        root = self._folder.name
        for rel, text in texts.items():
            if self._written.get(rel) == text:
                continue
            target = os.path.join(root, *rel.split("/"))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
            self._written[rel] = text
        return root

    def build(self, texts: Mapping[str, str],
              folder: str) -> tuple[list[dict[str, Any]] | None, str]:
        """What kustomize builds from `folder` of the repository made of `texts` (relative
        path -> text): the objects, or None and why not."""
        name = " ".join(self.command)
        try:
            root = self._sync(texts)
        except OSError as exc:
            return None, f"{name}: the repository could not be copied ({exc})"
        try:
            done = subprocess.run([*self.command, os.path.join(root, *folder.split("/"))],
                                  capture_output=True, text=True, timeout=120, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return None, f"{name} could not run ({exc})"
        if done.returncode != 0:
            message = (done.stderr.strip().splitlines() or ["failed"])[-1]
            return None, f"{name} failed: {message.replace(root + '/', '')}"
        try:
            return [d for d in yaml.safe_load_all(done.stdout) if isinstance(d, dict)], ""
        except yaml.YAMLError as exc:
            return None, f"{name} printed unreadable YAML ({exc})"
