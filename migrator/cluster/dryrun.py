"""Server dry-run of the proposed enforce labels, compared with the plan's own verdicts.

Owns `server_dry_run` (a JSON merge patch of the proposed enforce label and its version with
`dryRun=All`: never persisted; its warnings are the server's verdict on the existing pods),
`run_server_dry_runs` (every namespace of a plan, with bounded concurrency, compared group by
group with the plan's verdicts through `migrator.plan.dryrun`), `attach_to_plan`, and
the shape of what is stored in plan.json (declared in `schemas/plan.schema.json`,
its one source):

    summary: {server, context, namespaces, checked, evaluated, agreeing, disagreements,
              with_disagreements: [ns], not_evaluated: [ns],
              incomplete_coverage: [{namespace, checked, total, note}],
              errors: [{namespace, message}]}
    namespace: {level, labels, evaluated, not_evaluated_because, server (ServerVerdict or
                null), offline: {pods, violating_pods, groups}, coverage: {complete,
                checked, total, offline_pods, note}, disagreements: [Disagreement],
                agrees (bool or null), error (string or null)}

Nothing here prints.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

from migrator.cluster.client import ClusterClient
from migrator.cluster.namespaces import (
    MERGE_PATCH,
    LiveNamespace,
    failure,
    namespace_path,
    read_namespace,
    send,
)
from migrator.errors import MigratorError, NamespaceError, UsageError
from migrator.model.plan import Plan
from migrator.plan.dryrun import (
    Disagreement,
    ServerVerdict,
    compare,
    enforce_labels,
    offline_groups,
    parse_level_version,
    parse_namespace_warnings,
    server_skip_reason,
)
from migrator.pss.api import Level, LevelVersion, Policy, Version
from migrator.pss.server import ServerVersion, policy_on

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
    response = send(client, "PATCH", namespace_path(namespace), [("dryRun", "All")],
                     {"metadata": {"labels": patch}}, MERGE_PATCH)
    if response.status == 403:
        raise NamespaceError(
            namespace, 403,
            f"no permission to patch namespaces: server dry-run skipped for {namespace} "
            f"({response.status_message()})")
    if not response.ok:
        raise failure(client, namespace, response, "dry-run patch")
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


def _equivalent_key(verdicts: Mapping[str, Any], level_version: LevelVersion,
                    server: ServerVersion | None) -> str:
    """The plan's verdict key that `server` judges as `level_version` (`latest` and a policy
    version newer than the server are its own newest rules), else `level_version` itself."""
    key = str(level_version)
    if key in verdicts or server is None:
        return key
    wanted = policy_on(level_version.version, server)
    for candidate in sorted(verdicts):
        level, _, version = candidate.partition(":")
        try:
            same = (level == str(level_version.level)
                    and policy_on(Version.parse(version), server) == wanted)
        except ValueError:
            continue
        if same:
            return candidate
    return key


def plan_server(plan: Mapping[str, Any]) -> ServerVersion | None:
    """Today's server as the plan recorded it (its own `/version` for a live plan)."""
    servers = plan.get("servers")
    if not isinstance(servers, Mapping):
        return None
    try:
        return ServerVersion.parse(str(servers.get("current_reported") or servers.get("current")))
    except ValueError:
        return None


def offline_pods(entry: Mapping[str, Any], level_version: LevelVersion,
                 server: ServerVersion | None = None) -> dict[str, str]:
    """Every existing pod of a plan namespace → its reasons at `level_version` (`, `-joined),
    as the plan judged them with `server`'s own model (its defaulting and Pod Security
    library, so a 1.23 server's double baseline and restricted reasons are expected).

    Raises UsageError when the plan holds no verdict at that level and version.
    """
    key = str(level_version)
    pods: dict[str, str] = {}
    for subject in entry.get("subjects") or ():
        if subject.get("template", True) or subject.get("exempt"):
            continue  # the server skips pods whose runtimeClass is exempt
        name = str(subject.get("name"))
        if level_version.level is Level.PRIVILEGED:
            reasons = ""
        else:
            judged = subject.get("verdicts") or {}
            verdicts = judged.get(_equivalent_key(judged, level_version, server))
            if verdicts is None:
                raise UsageError(f"the plan holds no verdict at {key} for pod {name}")
            reasons = ", ".join(str(v.get("reason")) for v in verdicts)
        for pod in _shape_pods(subject):
            pods[pod] = reasons
    return pods


def _shape_pods(subject: Mapping[str, Any]) -> list[str]:
    """The pod names a plan subject stands for: a shape of `count` pods keeps only its
    first names (sorted); the others are named after the last of them, so they sort
    after it and the first pod of each group of reasons is still a real name."""
    examples = [str(n) for n in subject.get("examples") or ()] or [str(subject.get("name"))]
    count = subject.get("count")
    count = count if isinstance(count, int) and count > len(examples) else len(examples)
    last = examples[-1]
    return examples + [f"{last} (+{i} of the same shape)"
                       for i in range(1, count - len(examples) + 1)]


def _dry_run_namespace(
    client: ClusterClient, entry: Mapping[str, Any], defaults: Policy | None,
    server: ServerVersion | None = None,
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
        ours = offline_pods(entry, proposed, server)
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
    client: ClusterClient, plan: Mapping[str, Any], *, concurrency: int = 4,
    on_result: Callable[[str, Mapping[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Server dry-run of every plan namespace's proposed enforce level, compared with ours.

    At most `concurrency` requests at a time. Per-namespace failures (403, 404, 422, an
    unreachable server) are recorded in that namespace's `error`; nothing is persisted.
    `on_result(namespace, result)` hears each namespace as soon as it is answered.
    """
    defaults = _plan_defaults(plan)
    server = plan_server(plan)
    entries = [e for e in plan.get("namespaces") or () if isinstance(e, dict)]
    pool = ThreadPoolExecutor(max_workers=max(1, concurrency),
                              thread_name_prefix="migrator-dry-run")
    try:
        futures = {pool.submit(_dry_run_namespace, client, e, defaults, server): i
                   for i, e in enumerate(entries)}
        answers: dict[int, dict[str, Any]] = {}
        for future in as_completed(futures):
            index = futures[future]
            answers[index] = future.result()
            if on_result is not None:
                on_result(str(entries[index].get("name")), answers[index])
        results = [answers[i] for i in range(len(entries))]
    except BaseException:  # Ctrl-C: do not wait for the requests in flight
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
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


def attach_to_plan(plan: Plan, results: Mapping[str, Any]) -> None:
    """Store `run_server_dry_runs` results in `plan` (top level and per namespace)."""
    plan["server_dry_run"] = results["summary"]
    per_namespace = results["namespaces"]
    for entry in plan.get("namespaces") or ():
        if isinstance(entry, dict):
            entry["server_dry_run"] = per_namespace.get(str(entry.get("name")))
