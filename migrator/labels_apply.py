"""Writing the plan's Pod Security labels to namespaces, asking the server first, and undoing it.

Owns the cluster side of labelling, through `ClusterClient.request` only:

- `server_dry_run` / `run_server_dry_runs`: a JSON merge patch of the proposed enforce label
  and its version with `dryRun=All` (never persisted), whose warnings are the server's own
  verdict on the existing pods, compared with the plan's (`migrator.dryrun`).
- `apply_labels`: the labels of one phase (`audit`: audit and warn with their versions;
  `enforce`: all six), diffed against each live Namespace (nothing to do when already set),
  shown with a server-side-apply dry run, or, with `yes`, written by server-side apply after a
  rollback file recording the previous value of exactly each label about to change.
- `rollback`: a JSON merge patch restoring those values (`null` removes a label).

Server-side apply uses `fieldManager=migrator` and sends, besides the phase's labels, every
Pod Security label migrator already owns (from `managedFields`), so an `audit` run after an
`enforce` run never drops the enforce labels. The applied object carries the
`resourceVersion` read, so a namespace changed between read and write fails (409) instead of
being written over a state the rollback file does not describe. A field-manager conflict
(another manager, e.g. `kubectl label`, set the label to another value) is retried once with
`force=true`, as the user asked for exactly these values; the managers overridden are
reported. Nothing here prints.

`run_server_dry_runs` returns `{"summary": {...}, "namespaces": {name: {...}}}`;
`attach_to_plan` stores the summary as plan.json's top-level `server_dry_run` and each entry
as `namespaces[i].server_dry_run`. Their shapes are `SERVER_DRY_RUN_SCHEMA["summary"]` and
`SERVER_DRY_RUN_SCHEMA["namespace"]`:

    summary: {server, context, namespaces, checked, evaluated, agreeing, disagreements,
              with_disagreements: [ns], not_evaluated: [ns],
              incomplete_coverage: [{namespace, checked, total, note}],
              errors: [{namespace, message}]}
    namespace: {level, labels, evaluated, not_evaluated_because, server (ServerVerdict or
                null), offline: {pods, violating_pods, groups}, coverage: {complete,
                checked, total, offline_pods, note}, disagreements: [Disagreement],
                agrees (bool or null), error (string or null)}
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote

from migrator.dryrun import (
    Disagreement,
    ServerVerdict,
    compare,
    enforce_labels,
    offline_groups,
    parse_level_version,
    parse_namespace_warnings,
    server_skip_reason,
)
from migrator.errors import ManifestError, MigratorError, SourceError, UsageError
from migrator.planfile import read_json
from migrator.pss.api import LABEL_PREFIX, Level, LevelVersion, Policy, Version
from migrator.sources.cluster import ClusterClient, RawResponse

#: The field manager of every write.
MANAGER = "migrator"
ROLLBACK_SCHEMA = "migrator.rollback/v1"
MERGE_PATCH = "application/merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

Phase = Literal["audit", "enforce"]
PHASES: tuple[Phase, ...] = ("audit", "enforce")
_PHASE_MODES: dict[str, tuple[str, ...]] = {
    "audit": ("audit", "warn"),
    "enforce": ("enforce", "audit", "warn"),
}
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


# ---------------------------------------------------------------------------------------
# Requests


class NamespaceError(SourceError):
    """One namespace request the server refused; `status` is the HTTP status."""

    def __init__(self, namespace: str, status: int, message: str) -> None:
        self.namespace = namespace
        self.status = status
        super().__init__(message)


def namespace_path(name: str) -> str:
    return f"/api/v1/namespaces/{quote(name, safe='')}"


def _send(
    client: ClusterClient,
    method: str,
    path: str,
    query: Sequence[tuple[str, str]] = (),
    body: Any = None,
    content_type: str | None = None,
) -> RawResponse:
    """One request, retried after 429/5xx (every request sent here is idempotent)."""
    headers = {"Content-Type": content_type} if content_type else None
    attempt = 0
    while True:
        response = client.request(method, path, list(query), body, headers)
        if response.status not in _RETRY_STATUSES or attempt >= len(client.retry_delays):
            return response
        time.sleep(client.retry_delays[attempt])
        attempt += 1


def _failure(client: ClusterClient, namespace: str, response: RawResponse,
             action: str) -> NamespaceError:
    """A one-line error for a refused namespace request; `action` like `patch`."""
    status, message = response.status, response.status_message()
    if status == 401:
        text = f"the API server {client.describe()} rejected the credentials: {message}"
    elif status == 403:
        text = f"no permission to {action} namespace {namespace}: {message}"
    elif status == 404:
        text = f"namespace {namespace} not found in the cluster"
    elif status == 422:
        text = f"the server rejected the labels of namespace {namespace}: {message}"
    elif status == 409:
        text = (f"namespace {namespace} changed while migrator worked on it; nothing was "
                f"changed in it, run again: {message}")
    else:
        text = f"{action} namespace {namespace}: {status} {response.reason}: {message}"
    return NamespaceError(namespace, status, text)


@dataclass(frozen=True, slots=True)
class LiveNamespace:
    """What is read of a Namespace: labels, resourceVersion, labels migrator applied."""

    name: str
    labels: dict[str, str]
    resource_version: str | None
    owned: frozenset[str]


def _owned_labels(metadata: Mapping[str, Any]) -> frozenset[str]:
    """Labels in the `managedFields` entry of migrator's server-side applies."""
    owned: set[str] = set()
    for entry in metadata.get("managedFields") or ():
        if not isinstance(entry, dict):
            continue
        if entry.get("manager") != MANAGER or entry.get("operation") != "Apply":
            continue
        fields = ((entry.get("fieldsV1") or {}).get("f:metadata") or {}).get("f:labels") or {}
        if isinstance(fields, dict):
            owned.update(k[2:] for k in fields if isinstance(k, str) and k.startswith("f:"))
    return frozenset(owned)


def read_namespace(client: ClusterClient, name: str) -> LiveNamespace | None:
    """The live Namespace `name`; None when it does not exist; NamespaceError otherwise."""
    response = client.get(namespace_path(name))
    if response.status == 404:
        return None
    if not response.ok:
        raise _failure(client, name, response, "read")
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise NamespaceError(name, response.status,
                             f"namespace {name}: the server sent something that is not JSON")
    metadata = body.get("metadata") or {}
    labels = metadata.get("labels") or {}
    version = metadata.get("resourceVersion")
    return LiveNamespace(
        name,
        {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {},
        str(version) if version else None,
        _owned_labels(metadata),
    )


# ---------------------------------------------------------------------------------------
# Server dry-run of the proposed enforce level


def server_dry_run(
    client: ClusterClient,
    namespace: str,
    labels: Mapping[str, str] | None = None,
    *,
    level_version: LevelVersion,
) -> ServerVerdict:
    """The server's verdict on setting `labels` (default: enforce = `level_version`).

    A JSON merge patch with `dryRun=All`: nothing is persisted. Raises NamespaceError
    (403: no permission, 404: no such namespace, 422: invalid label, with the server's
    message) and SourceError when the server cannot be reached.
    """
    patch = dict(labels) if labels is not None else enforce_labels(level_version)
    response = _send(client, "PATCH", namespace_path(namespace), [("dryRun", "All")],
                     {"metadata": {"labels": patch}}, MERGE_PATCH)
    if response.status == 403:
        raise NamespaceError(
            namespace, 403,
            f"no permission to patch namespaces: server dry-run skipped for {namespace} "
            f"({response.status_message()})")
    if not response.ok:
        raise _failure(client, namespace, response, "dry-run patch")
    return parse_namespace_warnings(response.warning_texts())


def _plan_defaults(plan: Mapping[str, Any]) -> Policy | None:
    defaults = (plan.get("admission_config") or {}).get("defaults")
    if not isinstance(defaults, dict):
        return None
    try:
        return Policy(*(parse_level_version(str(defaults[m]))
                        for m in ("enforce", "audit", "warn")))
    except (KeyError, ValueError):
        return None


def offline_pods(entry: Mapping[str, Any], level_version: LevelVersion) -> dict[str, str]:
    """Every existing pod of a plan namespace → its reasons at `level_version` (`, `-joined).

    Raises UsageError when the plan holds no verdict at that level and version.
    """
    key = str(level_version)
    pods: dict[str, str] = {}
    for subject in entry.get("subjects") or ():
        if subject.get("template", True) or subject.get("exempt"):
            continue  # the server skips pods whose runtimeClass is exempt
        name = str(subject.get("name"))
        if level_version.level is Level.PRIVILEGED:
            pods[name] = ""
            continue
        verdicts = (subject.get("verdicts") or {}).get(key)
        if verdicts is None:
            raise UsageError(f"the plan holds no verdict at {key} for pod {name}")
        pods[name] = ", ".join(str(v.get("reason")) for v in verdicts)
    return pods


def _dry_run_namespace(
    client: ClusterClient, entry: Mapping[str, Any], defaults: Policy | None
) -> dict[str, Any]:
    name = str(entry.get("name"))
    recommended = entry.get("recommended") or {}
    result: dict[str, Any] = {
        "level": None, "labels": {}, "evaluated": False, "not_evaluated_because": None,
        "server": None, "offline": None, "coverage": None, "disagreements": [],
        "agrees": None, "error": None,
    }
    try:
        proposed = LevelVersion(Level.parse(str(recommended.get("enforce"))),
                                Version.parse(str(recommended.get("enforce_version"))))
        patch = enforce_labels(proposed)
        result["level"], result["labels"] = str(proposed), patch
        ours = offline_pods(entry, proposed)
        result["offline"] = {
            "pods": len(ours),
            "violating_pods": sum(1 for r in ours.values() if r),
            "groups": [g.to_dict() for g in offline_groups(ours)],
        }
        try:
            live = read_namespace(client, name)
        except NamespaceError as exc:
            if exc.status != 403:
                raise
            live = LiveNamespace(name, dict(entry.get("current_labels") or {}), None,
                                 frozenset())
        if live is None:
            raise NamespaceError(name, 404, f"namespace {name} not found in the cluster")
        exempt = bool(entry.get("exempt"))
        skip = server_skip_reason(live.labels, patch, defaults=defaults, exempt=exempt)
        verdict = server_dry_run(client, name, patch, level_version=proposed)
    except (MigratorError, ValueError) as exc:
        result["error"] = str(exc)
        return result

    result["server"] = verdict.to_dict()
    found: list[Disagreement] = []
    if verdict.exemption is not None and not exempt:
        skip = "the server says the namespace is exempt from Pod Security"
        found.append(Disagreement(
            "exemption", "the server exempts this namespace; the plan's admission "
                         "configuration does not (pass the server's with --admission-config)"))
    if exempt and (verdict.groups or verdict.level is not None):
        found.append(Disagreement(
            "exemption", "the plan's admission configuration exempts this namespace; the "
                         "server checked its pods"))
    evaluated = skip is None or bool(verdict.groups) or verdict.truncated
    result["evaluated"] = evaluated
    result["not_evaluated_because"] = None if evaluated else skip
    note = None
    if verdict.pods_unlisted:
        note = "the server could not list the pods"
    elif verdict.truncated:
        note = f"server checked {verdict.checked} of {verdict.total} pods"
    result["coverage"] = {
        "complete": evaluated and verdict.complete,
        "checked": verdict.checked,
        "total": verdict.total,
        "offline_pods": len(ours),
        "note": note,
    }
    if evaluated:
        found.extend(compare(ours, verdict, level=str(proposed)))
    result["disagreements"] = [d.to_dict() for d in found]
    result["agrees"] = (not found) if evaluated else (False if found else None)
    return result


def run_server_dry_runs(
    client: ClusterClient, plan: Mapping[str, Any], *, concurrency: int = 4
) -> dict[str, Any]:
    """Server dry-run of every plan namespace's proposed enforce level, compared with ours.

    At most `concurrency` requests at a time. Per-namespace failures (403, 404, 422, an
    unreachable server) are recorded in that namespace's `error`; nothing is persisted.
    """
    defaults = _plan_defaults(plan)
    entries = [e for e in plan.get("namespaces") or () if isinstance(e, dict)]
    with ThreadPoolExecutor(max_workers=max(1, concurrency),
                            thread_name_prefix="migrator-dry-run") as pool:
        results = list(pool.map(lambda e: _dry_run_namespace(client, e, defaults), entries))
    by_name = {str(e.get("name")): r for e, r in zip(entries, results, strict=True)}
    names = sorted(by_name)
    answered = [n for n in names if by_name[n]["error"] is None]
    evaluated = [n for n in answered if by_name[n]["evaluated"]]
    incomplete = [
        {"namespace": n, "checked": by_name[n]["coverage"]["checked"],
         "total": by_name[n]["coverage"]["total"], "note": by_name[n]["coverage"]["note"]}
        for n in evaluated if not by_name[n]["coverage"]["complete"]
    ]
    summary = {
        "server": client.server,
        "context": client.context,
        "namespaces": len(names),
        "checked": len(answered),
        "evaluated": len(evaluated),
        "agreeing": sum(1 for n in evaluated if by_name[n]["agrees"]),
        "disagreements": sum(len(by_name[n]["disagreements"]) for n in answered),
        "with_disagreements": [n for n in answered if by_name[n]["disagreements"]],
        "not_evaluated": [n for n in answered if not by_name[n]["evaluated"]],
        "incomplete_coverage": incomplete,
        "errors": [{"namespace": n, "message": by_name[n]["error"]}
                   for n in names if by_name[n]["error"] is not None],
    }
    return {"summary": summary, "namespaces": {n: by_name[n] for n in names}}


def attach_to_plan(plan: dict[str, Any], results: Mapping[str, Any]) -> None:
    """Store `run_server_dry_runs` results in `plan` (top level and per namespace)."""
    plan["server_dry_run"] = results["summary"]
    per_namespace = results["namespaces"]
    for entry in plan.get("namespaces") or ():
        if isinstance(entry, dict):
            entry["server_dry_run"] = per_namespace.get(str(entry.get("name")))


# ---------------------------------------------------------------------------------------
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
    response = _send(client, "PATCH", namespace_path(live.name), query, body, APPLY_PATCH)
    if response.status == 409:
        conflicts = _conflicts(response)
        if conflicts is not None:
            response = _send(client, "PATCH", namespace_path(live.name),
                             [*query, ("force", "true")], body, APPLY_PATCH)
            verb = "would take" if dry_run else "took"
            result.notes.append(f"{verb} over from another field manager: "
                                + "; ".join(conflicts))
    if not response.ok:
        result.error = str(_failure(client, live.name, response, "patch"))
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
            response = _send(client, "PATCH", namespace_path(name), query,
                             {"metadata": metadata}, MERGE_PATCH)
        except SourceError as exc:
            result.status, result.error = "failed", str(exc)
            results.append(result)
            continue
        if response.ok:
            result.warnings.extend(response.warning_texts())
        else:
            result.status = "failed"
            result.error = str(_failure(client, name, response, "patch"))
        results.append(result)
    return results


# ---------------------------------------------------------------------------------------
# The sub-schema of plan.json's `server_dry_run` entries

_STR_LIST: dict[str, Any] = {"type": "array", "items": {"type": "string"}}
_GROUP: dict[str, Any] = {
    "type": "object",
    "required": ["pod", "count", "reasons"],
    "additionalProperties": False,
    "properties": {"pod": {"type": "string"}, "count": {"type": "integer", "minimum": 1},
                   "reasons": _STR_LIST},
}
_NULLABLE_INT: dict[str, Any] = {"type": ["integer", "null"], "minimum": 0}

SERVER_DRY_RUN_SCHEMA: dict[str, Any] = {
    "summary": {
        "type": "object",
        "description": "The server dry-run of every namespace's proposed enforce level.",
        "required": ["server", "context", "namespaces", "checked", "evaluated", "agreeing",
                     "disagreements", "with_disagreements", "not_evaluated",
                     "incomplete_coverage", "errors"],
        "additionalProperties": False,
        "properties": {
            "server": {"type": "string"},
            "context": {"type": ["string", "null"]},
            "namespaces": {"type": "integer", "minimum": 0},
            "checked": {"type": "integer", "minimum": 0},
            "evaluated": {"type": "integer", "minimum": 0},
            "agreeing": {"type": "integer", "minimum": 0},
            "disagreements": {"type": "integer", "minimum": 0},
            "with_disagreements": _STR_LIST,
            "not_evaluated": _STR_LIST,
            "incomplete_coverage": {"type": "array", "items": {
                "type": "object",
                "required": ["namespace", "checked", "total", "note"],
                "additionalProperties": False,
                "properties": {"namespace": {"type": "string"}, "checked": _NULLABLE_INT,
                               "total": _NULLABLE_INT, "note": {"type": ["string", "null"]}},
            }},
            "errors": {"type": "array", "items": {
                "type": "object",
                "required": ["namespace", "message"],
                "additionalProperties": False,
                "properties": {"namespace": {"type": "string"}, "message": {"type": "string"}},
            }},
        },
    },
    "namespace": {
        "type": "object",
        "description": "The server's verdict on this namespace's proposed enforce level "
                       "(dryRun=All) and how it compares with the plan's.",
        "required": ["level", "labels", "evaluated", "not_evaluated_because", "server",
                     "offline", "coverage", "disagreements", "agrees", "error"],
        "additionalProperties": False,
        "properties": {
            "level": {"type": ["string", "null"]},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "evaluated": {"type": "boolean"},
            "not_evaluated_because": {"type": ["string", "null"]},
            "server": {"oneOf": [{"type": "null"}, {
                "type": "object",
                "required": ["namespace", "level", "groups", "violating_pods", "checked",
                             "total", "exemption", "pods_unlisted", "other", "warnings"],
                "additionalProperties": False,
                "properties": {
                    "namespace": {"type": ["string", "null"]},
                    "level": {"type": ["string", "null"]},
                    "groups": {"type": "array", "items": _GROUP},
                    "violating_pods": {"type": "integer", "minimum": 0},
                    "checked": _NULLABLE_INT,
                    "total": _NULLABLE_INT,
                    "exemption": {"type": ["string", "null"]},
                    "pods_unlisted": {"type": "boolean"},
                    "other": _STR_LIST,
                    "warnings": _STR_LIST,
                },
            }]},
            "offline": {"oneOf": [{"type": "null"}, {
                "type": "object",
                "required": ["pods", "violating_pods", "groups"],
                "additionalProperties": False,
                "properties": {"pods": {"type": "integer", "minimum": 0},
                               "violating_pods": {"type": "integer", "minimum": 0},
                               "groups": {"type": "array", "items": _GROUP}},
            }]},
            "coverage": {"oneOf": [{"type": "null"}, {
                "type": "object",
                "required": ["complete", "checked", "total", "offline_pods", "note"],
                "additionalProperties": False,
                "properties": {"complete": {"type": "boolean"}, "checked": _NULLABLE_INT,
                               "total": _NULLABLE_INT,
                               "offline_pods": {"type": "integer", "minimum": 0},
                               "note": {"type": ["string", "null"]}},
            }]},
            "disagreements": {"type": "array", "items": {
                "type": "object",
                "required": ["kind", "pod", "server_reasons", "offline_reasons",
                             "server_count", "offline_count", "server_only", "offline_only",
                             "message"],
                "additionalProperties": False,
                "properties": {
                    "kind": {"enum": ["level", "reasons", "server_only", "offline_only",
                                      "count", "pod", "exemption"]},
                    "pod": {"type": ["string", "null"]},
                    "server_reasons": {"type": "string"},
                    "offline_reasons": {"type": "string"},
                    "server_count": {"type": "integer", "minimum": 0},
                    "offline_count": {"type": "integer", "minimum": 0},
                    "server_only": _STR_LIST,
                    "offline_only": _STR_LIST,
                    "message": {"type": "string"},
                },
            }},
            "agrees": {"type": ["boolean", "null"]},
            "error": {"type": ["string", "null"]},
        },
    },
}


__all__ = [
    "MANAGER",
    "PHASES",
    "ROLLBACK_SCHEMA",
    "SERVER_DRY_RUN_SCHEMA",
    "ApplyResult",
    "LabelChange",
    "LiveNamespace",
    "NamespaceError",
    "NamespaceResult",
    "RollbackFile",
    "apply_labels",
    "attach_to_plan",
    "diff_labels",
    "namespace_path",
    "offline_pods",
    "phase_labels",
    "read_namespace",
    "read_rollback_file",
    "rollback",
    "rollback_document",
    "run_server_dry_runs",
    "server_dry_run",
    "write_new_file",
]
