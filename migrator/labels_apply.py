"""Writing the plan's Pod Security labels to namespaces, and undoing it.

Owns `apply_labels`: the labels of one phase (`audit`: audit and warn with their versions;
`enforce`: all six), diffed against each live Namespace (nothing to do when already set),
shown with a server-side-apply dry run, or, with `yes`, written by server-side apply after a
rollback file recording the previous value of exactly each label about to change; and
`rollback`: a JSON merge patch restoring those values (`null` removes a label).

Server-side apply uses `fieldManager=migrator` and sends, besides the phase's labels, every
Pod Security label migrator already owns (from `managedFields`), so an `audit` run after an
`enforce` run never drops the enforce labels. The applied object carries the
`resourceVersion` read, so a namespace changed between read and write fails (409) instead of
being written over a state the rollback file does not describe. A field-manager conflict
(another manager, e.g. `kubectl label`, set the label to another value) is retried once with
`force=true`, as the user asked for exactly these values; the managers overridden are
reported. Nothing here prints.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from migrator.errors import ManifestError, SourceError, UsageError
from migrator.live_namespaces import (
    APPLY_PATCH,
    MANAGER,
    MERGE_PATCH,
    LiveNamespace,
    NamespaceError,
    failure,
    namespace_path,
    read_namespace,
    send,
)
from migrator.planfile import read_json
from migrator.pss.api import LABEL_PREFIX, Level, Version
from migrator.sources.cluster import ClusterClient, RawResponse

ROLLBACK_SCHEMA = "migrator.rollback/v1"

Phase = Literal["audit", "enforce"]
PHASES: tuple[Phase, ...] = ("audit", "enforce")
_PHASE_MODES: dict[str, tuple[str, ...]] = {
    "audit": ("audit", "warn"),
    "enforce": ("enforce", "audit", "warn"),
}


# Applying


@dataclass(frozen=True, slots=True)
class LabelChange:
    """One label of one namespace going from `old` to `new` (None: absent)."""

    namespace: str
    label: str
    old: str | None
    new: str | None

    def line(self) -> str:
        """`namespace: label: old -> new`."""
        old = self.old if self.old is not None else "(unset)"
        new = self.new if self.new is not None else "(unset)"
        return f"{self.namespace}: {self.label}: {old} -> {new}"

    def to_dict(self) -> dict[str, Any]:
        return {"namespace": self.namespace, "label": self.label, "old": self.old,
                "new": self.new}


NamespaceStatus = Literal["unchanged", "would-change", "changed", "skipped", "failed"]


@dataclass
class NamespaceResult:
    """What happened to one namespace: `status`, its changes, the server's warnings."""

    namespace: str
    status: NamespaceStatus
    changes: list[LabelChange] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"namespace": self.namespace, "status": self.status,
                "changes": [c.to_dict() for c in self.changes], "warnings": self.warnings,
                "notes": self.notes, "error": self.error}


@dataclass
class ApplyResult:
    """Every namespace's result, in name order; `rollback_path` when one was written."""

    phase: str
    dry_run: bool
    namespaces: list[NamespaceResult]
    rollback_path: str | None = None

    @property
    def changes(self) -> list[LabelChange]:
        return [c for n in self.namespaces for c in n.changes]

    @property
    def failed(self) -> list[NamespaceResult]:
        return [n for n in self.namespaces if n.status == "failed"]

    def to_dict(self) -> dict[str, Any]:
        return {"phase": self.phase, "dry_run": self.dry_run,
                "rollback_path": self.rollback_path,
                "namespaces": [n.to_dict() for n in self.namespaces]}


def phase_labels(plan: Mapping[str, Any], phase: str,
                 namespaces: Sequence[str] | None = None) -> dict[str, dict[str, str]]:
    """The labels `phase` sets, per plan namespace (all, or `namespaces`), validated.

    Raises UsageError for an unknown phase, a namespace not in the plan, or a label value
    PodSecurity admission would reject.
    """
    if phase not in _PHASE_MODES:
        raise UsageError(f"unknown phase {phase!r}: use audit or enforce")
    keys = [LABEL_PREFIX + m + suffix for m in _PHASE_MODES[phase] for suffix in ("", "-version")]
    entries = {str(e.get("name")): e for e in plan.get("namespaces") or ()
               if isinstance(e, dict)}
    if namespaces:
        unknown = sorted(set(namespaces) - set(entries))
        if unknown:
            raise UsageError(f"not in the plan: {', '.join(unknown)}")
        chosen = sorted(set(namespaces))
    else:
        chosen = sorted(entries)
    out: dict[str, dict[str, str]] = {}
    for name in chosen:
        labels = entries[name].get("labels") or {}
        wanted: dict[str, str] = {}
        for key in keys:
            if key not in labels:
                continue
            value = str(labels[key])
            try:
                (Version.parse if key.endswith("-version") else Level.parse)(value)
            except ValueError as exc:
                raise UsageError(f"plan: namespace {name}: {key}={value}: {exc}") from None
            wanted[key] = value
        out[name] = wanted
    return out


def diff_labels(namespace: str, current: Mapping[str, str],
                wanted: Mapping[str, str | None]) -> list[LabelChange]:
    """The labels of `wanted` whose value differs from `current`, by label name."""
    return [LabelChange(namespace, k, current.get(k), v)
            for k, v in sorted(wanted.items()) if current.get(k) != v]


def _apply_config(live: LiveNamespace, wanted: Mapping[str, str]) -> str:
    """The server-side-apply body: the phase's labels plus those migrator already owns."""
    labels = {k: live.labels[k] for k in sorted(live.owned) if k in live.labels}
    labels.update(wanted)
    metadata: dict[str, Any] = {"name": live.name, "labels": dict(sorted(labels.items()))}
    if live.resource_version:
        metadata["resourceVersion"] = live.resource_version
    return json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": metadata})


def _conflicts(response: RawResponse) -> list[str] | None:
    """The field-manager conflicts of a 409, or None when it is another kind of 409."""
    try:
        body = response.json()
    except ValueError:
        return None
    causes = ((body.get("details") or {}).get("causes") or []) if isinstance(body, dict) else []
    found = [f"{c.get('field', '').lstrip('.')} ({c.get('message', '')})"
             for c in causes
             if isinstance(c, dict) and c.get("reason") == "FieldManagerConflict"]
    return found or None


def _server_side_apply(client: ClusterClient, live: LiveNamespace, wanted: Mapping[str, str],
                       *, dry_run: bool, result: NamespaceResult) -> bool:
    """Apply `wanted` to `live`; fills `result` warnings/notes/error; True when it worked."""
    body = _apply_config(live, wanted)
    query = [("fieldManager", MANAGER)]
    if dry_run:
        query.insert(0, ("dryRun", "All"))
    response = send(client, "PATCH", namespace_path(live.name), query, body, APPLY_PATCH)
    if response.status == 409:
        conflicts = _conflicts(response)
        if conflicts is not None:
            response = send(client, "PATCH", namespace_path(live.name),
                             [*query, ("force", "true")], body, APPLY_PATCH)
            verb = "would take" if dry_run else "took"
            result.notes.append(f"{verb} over from another field manager: "
                                + "; ".join(conflicts))
    if not response.ok:
        result.error = str(failure(client, live.name, response, "patch"))
        return False
    result.warnings.extend(response.warning_texts())
    return True


def _timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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


def rollback_document(
    client: ClusterClient, phase: str, changes: Mapping[str, list[LabelChange]]
) -> dict[str, Any]:
    """The rollback file's content: the previous value of every label about to change."""
    return {
        "schema": ROLLBACK_SCHEMA,
        "created": _timestamp(),
        "server": client.server,
        "context": client.context,
        "phase": phase,
        "namespaces": {
            ns: {"previous": {c.label: c.old for c in items},
                 "applied": {c.label: c.new for c in items}}
            for ns, items in sorted(changes.items()) if items
        },
    }


def apply_labels(
    client: ClusterClient,
    plan: Mapping[str, Any],
    *,
    phase: str,
    namespaces: Sequence[str] | None,
    yes: bool,
    rollback_path: str,
) -> ApplyResult:
    """Set the labels of `phase` on each plan namespace (all, or `namespaces`).

    Without `yes` nothing is persisted: the changes are computed and sent as a
    server-side-apply dry run, for the server's warnings. With `yes` the rollback file is
    written first (refusing an existing file), then each namespace is applied. Namespaces
    missing from the cluster are skipped; per-namespace failures are recorded, not raised.
    UsageError for a bad phase, namespace or plan value, or an unwritable rollback file.
    """
    wanted = phase_labels(plan, phase, namespaces)
    results: dict[str, NamespaceResult] = {}
    live_of: dict[str, LiveNamespace] = {}
    pending: dict[str, list[LabelChange]] = {}
    for name, labels in wanted.items():
        try:
            live = read_namespace(client, name)
        except NamespaceError as exc:
            results[name] = NamespaceResult(name, "failed", error=str(exc))
            continue
        if live is None:
            results[name] = NamespaceResult(
                name, "skipped", notes=[f"namespace {name} is in the plan but not in the "
                                        "cluster: skipped"])
            continue
        changes = diff_labels(name, live.labels, labels)
        if not changes:
            results[name] = NamespaceResult(name, "unchanged")
            continue
        live_of[name] = live
        pending[name] = changes

    written: str | None = None
    if yes and pending:
        document = rollback_document(client, phase, pending)
        write_new_file(rollback_path, json.dumps(document, indent=2, sort_keys=True) + "\n")
        written = rollback_path

    for name in sorted(pending):
        result = NamespaceResult(name, "changed" if yes else "would-change",
                                 changes=pending[name])
        try:
            ok = _server_side_apply(client, live_of[name], wanted[name], dry_run=not yes,
                                    result=result)
        except SourceError as exc:
            result.error, ok = str(exc), False
        if not ok:
            result.status = "failed"
        results[name] = result
    return ApplyResult(phase, not yes, [results[n] for n in sorted(results)], written)


# ---------------------------------------------------------------------------------------
# Rolling back


@dataclass(frozen=True, slots=True)
class RollbackFile:
    """A parsed rollback file: per namespace, each label's previous and applied value."""

    path: str
    server: str | None
    context: str | None
    phase: str | None
    created: str | None
    previous: dict[str, dict[str, str | None]]
    applied: dict[str, dict[str, str | None]]


def _labels_map(value: Any, path: str, where: str) -> dict[str, str | None]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in value.items()
    ):
        raise ManifestError(path, f"{where}: expected label names mapped to strings or null")
    return dict(value)


def read_rollback_file(path: str) -> RollbackFile:
    """Parse a rollback file written by `apply_labels`; ManifestError when it is not one."""
    data = read_json(path)
    if not isinstance(data, dict) or data.get("schema") != ROLLBACK_SCHEMA:
        raise ManifestError(path, f"not a migrator rollback file (schema {ROLLBACK_SCHEMA})")
    namespaces = data.get("namespaces")
    if not isinstance(namespaces, dict):
        raise ManifestError(path, "`namespaces` is not a mapping")
    previous: dict[str, dict[str, str | None]] = {}
    applied: dict[str, dict[str, str | None]] = {}
    for name, entry in namespaces.items():
        if not isinstance(entry, dict):
            raise ManifestError(path, f"namespace {name}: not a mapping")
        previous[str(name)] = _labels_map(entry.get("previous"), path, f"{name}.previous")
        applied[str(name)] = _labels_map(entry.get("applied") or {}, path, f"{name}.applied")
        bad = sorted(k for k in previous[str(name)] if not k.startswith(LABEL_PREFIX))
        if bad:
            raise ManifestError(path, f"namespace {name}: not a Pod Security label: {bad[0]}")

    def text(key: str) -> str | None:
        value = data.get(key)
        return value if isinstance(value, str) else None

    return RollbackFile(path, text("server"), text("context"), text("phase"), text("created"),
                        previous, applied)


def rollback(
    client: ClusterClient, rollback_file: RollbackFile | str, *, dry_run: bool = False
) -> list[NamespaceResult]:
    """Restore exactly the recorded previous values (null removes the label); idempotent.

    A JSON merge patch per namespace whose labels differ from the record, carrying the
    `resourceVersion` read; with `dry_run` it is sent with `dryRun=All`. Labels changed by
    someone else since the apply are restored too, and noted.
    """
    record = (read_rollback_file(rollback_file) if isinstance(rollback_file, str)
              else rollback_file)
    results: list[NamespaceResult] = []
    for name in sorted(record.previous):
        previous = record.previous[name]
        try:
            live = read_namespace(client, name)
        except NamespaceError as exc:
            results.append(NamespaceResult(name, "failed", error=str(exc)))
            continue
        if live is None:
            results.append(NamespaceResult(
                name, "skipped", notes=[f"namespace {name} no longer exists: skipped"]))
            continue
        changes = diff_labels(name, live.labels, previous)
        if not changes:
            results.append(NamespaceResult(name, "unchanged"))
            continue
        result = NamespaceResult(name, "would-change" if dry_run else "changed",
                                 changes=changes)
        applied = record.applied.get(name, {})
        for change in changes:
            if change.label in applied and change.old != applied[change.label]:
                result.notes.append(
                    f"{change.label} was changed after the apply (migrator set "
                    f"{applied[change.label]}, now {change.old or '(unset)'}); restoring "
                    "the recorded value anyway")
        metadata: dict[str, Any] = {"labels": {c.label: c.new for c in changes}}
        if live.resource_version:
            metadata["resourceVersion"] = live.resource_version
        query = [("fieldManager", MANAGER)]
        if dry_run:
            query.insert(0, ("dryRun", "All"))
        try:
            response = send(client, "PATCH", namespace_path(name), query,
                             {"metadata": metadata}, MERGE_PATCH)
        except SourceError as exc:
            result.status, result.error = "failed", str(exc)
            results.append(result)
            continue
        if response.ok:
            result.warnings.extend(response.warning_texts())
        else:
            result.status = "failed"
            result.error = str(failure(client, name, response, "patch"))
        results.append(result)
    return results
