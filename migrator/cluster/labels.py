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

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from migrator.cluster.client import ClusterClient, RawResponse
from migrator.cluster.namespaces import (
    APPLY_PATCH,
    MANAGER,
    MERGE_PATCH,
    LiveNamespace,
    failure,
    namespace_path,
    read_namespace,
    send,
)
from migrator.errors import NamespaceError, SourceError, UsageError
from migrator.model.plan import Plan
from migrator.model.rollback import ROLLBACK_SCHEMA, RollbackFile
from migrator.pss.api import LABEL_PREFIX, Level, Version

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


NamespaceStatus = Literal["unchanged", "would-change", "changed", "skipped", "refused", "failed"]


@dataclass
class NamespaceResult:
    """What happened to one namespace: `status`, its changes, the server's warnings."""

    namespace: str
    status: NamespaceStatus
    changes: list[LabelChange] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    #: stricter level labels kept instead of being lowered (one line each)
    kept: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"namespace": self.namespace, "status": self.status,
                "changes": [c.to_dict() for c in self.changes], "warnings": self.warnings,
                "notes": self.notes, "error": self.error, "kept": self.kept}


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

    @property
    def refused(self) -> list[NamespaceResult]:
        """Namespaces where a stricter level label was kept instead of lowered."""
        return [n for n in self.namespaces if n.kept]

    def to_dict(self) -> dict[str, Any]:
        return {"phase": self.phase, "dry_run": self.dry_run,
                "rollback_path": self.rollback_path,
                "namespaces": [n.to_dict() for n in self.namespaces]}


def phase_labels(plan: Plan, phase: str,
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


def lowered_levels(current: Mapping[str, str],
                   wanted: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """(label, current, wanted) for each mode label whose wanted level is looser than the
    level the namespace has now (an unparsable current value is not a level to keep)."""
    out = []
    for key, value in sorted(wanted.items()):
        if key.endswith("-version") or key not in current:
            continue
        try:
            now, new = Level.parse(current[key]), Level.parse(value)
        except ValueError:
            continue
        if now.stricter_than(new):
            out.append((key, current[key], value))
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
    plan: Plan,
    *,
    phase: str,
    namespaces: Sequence[str] | None,
    yes: bool,
    save_rollback: Callable[[dict[str, Any]], str],
    allow_lower: bool = False,
) -> ApplyResult:
    """Set the labels of `phase` on each plan namespace (all, or `namespaces`).

    Without `yes` nothing is persisted: the changes are computed and sent as a
    server-side-apply dry run, for the server's warnings. With `yes` the rollback file is
    written first (refusing an existing file), then each namespace is applied. Namespaces
    missing from the cluster are skipped; per-namespace failures are recorded, not raised.
    A level label stricter now than the plan's is kept, with its version, unless
    `allow_lower` (`kept` says so; status "refused" when nothing else changes).
    UsageError for a bad phase, namespace or plan value, or an unwritable rollback file.
    """
    wanted = phase_labels(plan, phase, namespaces)
    results: dict[str, NamespaceResult] = {}
    live_of: dict[str, LiveNamespace] = {}
    pending: dict[str, list[LabelChange]] = {}
    kept_of: dict[str, list[str]] = {}
    for name, labels in list(wanted.items()):
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
        lowered = [] if allow_lower else lowered_levels(live.labels, labels)
        if lowered:
            # the stricter level stays, with its version; the other labels are applied
            drop = {key for key, _, _ in lowered} | {f"{key}-version" for key, _, _ in lowered}
            labels = wanted[name] = {k: v for k, v in labels.items() if k not in drop}
            kept_of[name] = [
                f"keeps {key}={now}: the plan's {new} would lower it; fix the workloads "
                "that need it, or pass --allow-lower to lower it" for key, now, new in lowered]
        changes = diff_labels(name, live.labels, labels)
        if not changes:
            results[name] = NamespaceResult(name, "refused" if lowered else "unchanged",
                                            kept=kept_of.get(name, []))
            continue
        live_of[name] = live
        pending[name] = changes

    written: str | None = None
    if yes and pending:
        written = save_rollback(rollback_document(client, phase, pending))

    for name in sorted(pending):
        result = NamespaceResult(name, "changed" if yes else "would-change",
                                 changes=pending[name], kept=kept_of.get(name, []))
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


def rollback(
    client: ClusterClient, record: RollbackFile, *, dry_run: bool = False
) -> list[NamespaceResult]:
    """Restore exactly the recorded previous values (null removes the label); idempotent.

    A JSON merge patch per namespace whose labels differ from the record, carrying the
    `resourceVersion` read; with `dry_run` it is sent with `dryRun=All`. Labels changed by
    someone else since the apply are restored too, and noted.
    """
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
