"""Evidence before enforcement: Pod Security's verdicts in audit events, per namespace.

Owns turning audit events (dicts, as `audit.k8s.io/v1` writes them) into the decision
phase 2 needs: `Collector.add` takes one event at a time and keeps only counters and one
entry per (namespace, object, user), so memory does not grow with the log; `Collector.result`
returns the JSON-ready evidence (`schemas/audit.schema.json`).

- Which requests count: `ResponseComplete` events of pod creates (the pod creations) and of
  workload writes (Deployment, CronJob, ... templates), that Pod Security evaluated (an
  `enforce-policy`, `audit-violations` or `exempt` annotation). Dry runs (`dryRun=All`)
  and exempt requests are counted apart; failed requests created nothing and are skipped.
- Who: the effective user (`impersonatedUser` when set, else `user`).
- What: the top of the pod's owner chain (a ReplicaSet's Deployment, a Job's CronJob), from
  the pod's `ownerReferences` and the ReplicaSet/Job requests of the same log (resolved
  when the result is made, so line order does not matter), the controllers' naming
  conventions (`pod-template-hash`; `<cronjob>-<minute>`) among the workloads the plan holds
  or the log names, or the plan's owner index by pod name when only Metadata was logged.
- Judged how: the `audit-violations` text names the level it was judged at and the failed
  checks by their reasons; `recorded_checks` maps them back to the engine's check IDs, so a
  violation recorded at restricted is re-judged for baseline (ambiguous reasons are settled
  with the requestObject, else counted as violating). A pod with no violation recorded is
  clean at the strictest level the server is known to have judged it at (the namespace's
  audit level, from its labels in the log or the plan, or its enforce-policy); below the
  planned level it is judged by the engine from its requestObject; without one it is
  "unjudged", unless the window's recorded violations show the namespace audited at least
  at the planned level. A namespace with unjudged creations has no evidence.

The gate per planned namespace: `blocked` when a real pod creation (or workload write)
violated the planned enforce level in the window, `no-evidence` when there was no pod
creation (or some could not be judged), else `ready`. Nothing here reads, writes or prints.
"""

from __future__ import annotations

import functools
import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from migrator.model.workloads import pod_template
from migrator.pss.api import LABEL_PREFIX, Level, LevelVersion, Version, policy_from_labels
from migrator.pss.checks.capabilities_baseline import ALLOWED as BASELINE_CAPABILITIES
from migrator.pss.engine import EVALUATOR
from migrator.pss.server import Origin, ServerVersion, verdict

AUDIT_SCHEMA = "migrator.audit/v1"
VIOLATIONS = LABEL_PREFIX + "audit-violations"
LEGACY_VIOLATIONS = LABEL_PREFIX + "audit"  # the 1.22 alpha key
ENFORCE_POLICY = LABEL_PREFIX + "enforce-policy"
EXEMPT = LABEL_PREFIX + "exempt"
EVALUATION_ERROR = LABEL_PREFIX + "error"

#: Workload resources whose pod template Pod Security evaluates, and their kinds.
WORKLOAD_KINDS = {
    "deployments": "Deployment", "replicasets": "ReplicaSet", "statefulsets": "StatefulSet",
    "daemonsets": "DaemonSet", "jobs": "Job", "cronjobs": "CronJob",
    "replicationcontrollers": "ReplicationController", "podtemplates": "PodTemplate",
}
_WRITES = ("create", "update", "patch")

#: Each reason the API server writes, and the engine checks that write it.
REASON_CHECKS: dict[str, tuple[str, ...]] = {
    "allowPrivilegeEscalation != false": ("allowPrivilegeEscalation",),
    "forbidden AppArmor profile": ("appArmorProfile",),
    "forbidden AppArmor profiles": ("appArmorProfile",),
    "non-default capabilities": ("capabilities_baseline",),
    "unrestricted capabilities": ("capabilities_restricted",),
    "host namespaces": ("hostNamespaces",),
    "hostPath volumes": ("hostPathVolumes",),
    "hostPort": ("hostPorts",),
    "probe or lifecycle host": ("hostProbesAndHostLifecycle",),
    "privileged": ("privileged",),
    "procMount": ("procMount", "procMount_restricted"),
    "restricted volume types": ("restrictedVolumes",),
    "runAsNonRoot != true": ("runAsNonRoot",),
    "runAsUser=0": ("runAsUser",),
    "seLinuxOptions": ("seLinuxOptions",),
    "seccompProfile": ("seccompProfile_baseline", "seccompProfile_restricted"),
    "forbidden sysctls": ("sysctls",),
    "hostProcess": ("windowsHostProcess",),
}
UNKNOWN_CHECK = "unknown"

#: Distinct (object, user) entries kept per namespace before the rest are folded together.
MAX_VIOLATORS = 10_000
#: How many auditIDs of judged requests are remembered to skip repeated events.
RECENT_IDS = 200_000
_HASH_SUFFIX = re.compile(r"[a-z0-9]{4,10}")
_MINUTE_SUFFIX = re.compile(r"[0-9]{6,}")
_POLICY_RE = re.compile(r'^would violate PodSecurity "(?P<level>[a-z]+):(?P<version>[^"]+)": ')
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


# -- the annotation text ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Recorded:
    """One failed check as an audit annotation names it: reason and detail."""

    reason: str
    detail: str


def _split_top(text: str) -> list[str]:
    """`text` split at the `, ` that are outside parentheses and quotes."""
    parts: list[str] = []
    depth, quoted, escaped, start = 0, False, False, 0
    for i, ch in enumerate(text):
        if quoted:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif ch == "," and depth == 0 and text.startswith(", ", i):
            parts.append(text[start:i])
            start = i + 2
    parts.append(text[start:])
    return [p for p in (part.strip() for part in parts) if p]


@functools.lru_cache(maxsize=4096)
def parse_violations(text: str) -> tuple[LevelVersion, tuple[Recorded, ...]] | None:
    """The level:version and failed checks of an `audit-violations` value; None if unreadable.

    Cached: the replicas of a workload repeat the same text in every event."""
    match = _POLICY_RE.match(text)
    if not match:
        return None
    try:
        policy = LevelVersion(Level.parse(match["level"]), Version.parse(match["version"]))
    except ValueError:
        return None
    found = []
    for part in _split_top(text[match.end():]):
        reason, sep, rest = part.partition(" (")
        detail = rest[:-1] if sep and rest.endswith(")") else ""
        found.append(Recorded(reason if sep else part, detail))
    return policy, tuple(found)


def bare_violations(text: str) -> tuple[LevelVersion, tuple[Recorded, ...]]:
    """A violations text without the `would violate PodSecurity "level:version": ` head.

    Its level is restricted when a reason only restricted writes is listed, else baseline,
    so each failure counts against baseline unless it cannot (the safe reading); text that
    names no known reason is one unknown failure at baseline."""
    found = []
    for part in _split_top(text):
        reason, sep, rest = part.partition(" (")
        found.append(Recorded(reason if sep else part,
                              rest[:-1] if sep and rest.endswith(")") else ""))
    if not found or any(f.reason not in REASON_CHECKS for f in found):
        return LevelVersion(Level.BASELINE, Version.latest()), (Recorded(text, ""),)
    restricted_only = any(all(EVALUATOR.checks[c].level == Level.RESTRICTED
                              for c in REASON_CHECKS[f.reason]) for f in found)
    level = Level.RESTRICTED if restricted_only else Level.BASELINE
    return LevelVersion(level, Version.latest()), tuple(found)


def parse_policy(text: Any) -> LevelVersion | None:
    """`baseline:v1.24` as a LevelVersion; None when absent or malformed."""
    if not isinstance(text, str) or not text:
        return None
    level, _, version = text.partition(":")
    try:
        return LevelVersion(Level.parse(level), Version.parse(version or "latest"))
    except ValueError:
        return None


def _quoted(detail: str) -> list[str]:
    return [m.group(1) for m in _QUOTED.finditer(detail)]


def recorded_checks(recorded: Recorded, level: Level) -> tuple[str, ...]:
    """The engine check IDs one recorded failure stands for at the `level` it was judged at."""
    candidates = REASON_CHECKS.get(recorded.reason)
    if candidates is None:
        return (UNKNOWN_CHECK,)
    if len(candidates) == 1:
        return candidates
    by_level = tuple(c for c in candidates if EVALUATOR.checks[c].level == level)
    return by_level or candidates[:1]


@dataclass(frozen=True, slots=True)
class Baseline:
    """Whether a failure recorded at restricted also fails baseline: yes, no, or unknown."""

    fails: bool | None
    checks: tuple[str, ...]


def baseline_part(recorded: Recorded, version: Version) -> Baseline:
    """What of a failure recorded at restricted baseline also rejects, from its text alone."""
    checks = REASON_CHECKS.get(recorded.reason)
    if checks is None:
        return Baseline(True, (UNKNOWN_CHECK,))
    baseline = tuple(c for c in checks if EVALUATOR.checks[c].level == Level.BASELINE)
    reason = recorded.reason
    if reason == "unrestricted capabilities":
        added = recorded.detail.partition("must not include ")[2]
        extra = [c for c in _quoted(added) if c not in BASELINE_CAPABILITIES]
        return Baseline(bool(extra), ("capabilities_baseline",) if extra else ())
    if reason == "restricted volume types":
        kinds = _quoted(recorded.detail.rpartition(" type")[2])
        return Baseline("hostPath" in kinds, ("hostPathVolumes",) if "hostPath" in kinds else ())
    if reason == "seccompProfile":
        if recorded.detail.startswith("forbidden annotation"):
            return Baseline(True, ("seccompProfile_baseline",))
        if "must not set" in recorded.detail:
            values = _quoted(recorded.detail.partition(" to ")[2])
            bad = "Unconfined" in values
            return Baseline(bad, ("seccompProfile_baseline",) if bad else ())
        return Baseline(False, ())
    if reason == "procMount":
        if version.effective_minor() < 35:
            return Baseline(True, ("procMount",))
        return Baseline(None, ("procMount",))  # a user-namespaced pod passes baseline
    return Baseline(bool(baseline), baseline)


# -- judging one request at the planned level ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class Verdict:
    """A request judged at the planned level: violates (True/False) or not judged (None)."""

    violates: bool | None
    checks: tuple[str, ...] = ()
    how: str = ""


def engine_verdict(obj: Mapping[str, Any], target: LevelVersion,
                   server: ServerVersion | None = None) -> tuple[str, ...] | None:
    """The checks `obj` (a Pod or workload, as its request sent it) fails at `target` when
    `server` (default: the newest modelled) creates it; None: no pod."""
    template = pod_template(dict(obj))
    if template is None:
        return None
    server = server or ServerVersion.newest()
    found = verdict(target.level, target.version, template.metadata, template.spec,
                    server, Origin.CREATED)
    if found.invalid:
        # a create the server refuses never reaches Pod Security: judge what was sent
        found = verdict(target.level, target.version, template.metadata, template.spec,
                        server, Origin.STORED)
    return tuple(dict.fromkeys(v.check for v in found.violations))


def judge(
    recorded: tuple[LevelVersion, tuple[Recorded, ...]] | None,
    judged_clean_at: LevelVersion | None,
    obj: Mapping[str, Any] | None,
    target: LevelVersion,
) -> Verdict:
    """One request at `target`, from what the server recorded and, where needed, the engine.

    `recorded`: the audit-violations policy and failures (None: no violation recorded);
    `judged_clean_at`: the policy the server found it clean at, when known (its audit or
    enforce level); `obj`: the full object from requestObject, if logged.
    """
    if target.level == Level.PRIVILEGED:
        return Verdict(False, (), "privileged admits every pod")
    if recorded is not None:
        policy, failures = recorded
        if policy.level.rank <= target.level.rank:
            checks = [c for f in failures for c in recorded_checks(f, policy.level)]
            if policy.level != target.level and obj is not None:
                checks.extend(engine_verdict(obj, target) or ())  # what the stricter adds
            return Verdict(True, tuple(dict.fromkeys(checks)), f"recorded at {policy}")
        # recorded at restricted, planned baseline: only baseline's part counts
        parts = [baseline_part(f, policy.version) for f in failures]
        sure = tuple(dict.fromkeys(c for p in parts if p.fails for c in p.checks))
        if sure:
            return Verdict(True, sure, f"recorded at {policy}")
        if any(p.fails is None for p in parts):
            engine = engine_verdict(obj, target) if obj is not None else None
            if engine is not None:
                return Verdict(bool(engine), engine, f"recorded at {policy}, re-judged from "
                               "the request")
            return Verdict(True, tuple(c for p in parts if p.fails is None for c in p.checks),
                           f"recorded at {policy}; cannot tell it passes {target.level}")
        return Verdict(False, (), f"recorded at {policy}: restricted-only failures")
    if judged_clean_at is not None and judged_clean_at.level.rank >= target.level.rank:
        return Verdict(False, (), f"clean at {judged_clean_at}")
    if obj is not None:
        engine = engine_verdict(obj, target)
        if engine is not None:
            return Verdict(bool(engine), engine, "judged from the request")
    return Verdict(None, (), "not judged at the planned level")


# -- reading one event ----------------------------------------------------------------------


def effective_user(event: Mapping[str, Any]) -> str:
    """The user a request acted as: the impersonated user when there is one."""
    for key in ("impersonatedUser", "user"):
        info = event.get(key)
        if isinstance(info, dict) and info.get("username"):
            return str(info["username"])
    return "(unknown)"


def parse_time(text: Any) -> datetime | None:
    """An RFC 3339 timestamp (`2026-12-01T20:41:04.485694Z`) in UTC; None if unreadable."""
    if not isinstance(text, str) or not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def format_time(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") + (
        f".{value.microsecond:06d}Z" if value.microsecond else "Z")


def is_dry_run(event: Mapping[str, Any]) -> bool:
    """True for `dryRun=All` requests: the only marker is the query string."""
    uri = str(event.get("requestURI") or "")
    query = uri.partition("?")[2]
    return any(part.startswith("dryRun=") and part != "dryRun=" for part in query.split("&"))


def _controller(metadata: Mapping[str, Any]) -> tuple[str, str] | None:
    refs = metadata.get("ownerReferences")
    for ref in refs if isinstance(refs, list) else ():
        if isinstance(ref, dict) and ref.get("controller") and ref.get("kind"):
            return str(ref["kind"]), str(ref.get("name") or "")
    return None


def _metadata(obj: Any) -> Mapping[str, Any]:
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    return meta if isinstance(meta, dict) else {}


# -- the plan's side --------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedNamespace:
    """What the gate compares with: the planned enforce policy, and what the plan knows."""

    name: str
    enforce: LevelVersion
    audit: LevelVersion | None
    exempt: bool
    #: pod name -> "Kind/name" of its top workload, from the plan's subjects
    pod_owners: Mapping[str, str]
    #: "Kind/name" of the workloads the plan holds (the tops of their chains)
    workloads: frozenset[str]


def planned_namespaces(plan: Mapping[str, Any]) -> dict[str, PlannedNamespace]:
    """The plan's namespaces as the gate needs them (raises ValueError on bad labels)."""
    config = plan.get("admission_config") or {}
    defaults = config.get("defaults") or {}
    out: dict[str, PlannedNamespace] = {}
    for ns in plan.get("namespaces") or ():
        name = str(ns["name"])
        rec = ns["recommended"]
        enforce = LevelVersion(Level.parse(str(rec["enforce"])),
                               Version.parse(str(rec.get("enforce_version") or "latest")))
        current = ns.get("current_policy") or {}
        audit = parse_policy(current.get("audit")) or parse_policy(defaults.get("audit"))
        owners: dict[str, str] = {}
        workloads: set[str] = set()
        for subject in ns.get("subjects") or ():
            ref = f"{subject.get('kind')}/{subject.get('name')}"
            if subject.get("template"):
                workloads.add(ref)
            elif subject.get("owner"):
                owners[str(subject.get("name"))] = str(subject["owner"])
        out[name] = PlannedNamespace(name, enforce, audit, bool(ns.get("exempt")), owners,
                                     frozenset(workloads))
    return out


# -- collecting ---------------------------------------------------------------------------------


@dataclass
class _Violator:
    count: int = 0
    first: datetime | None = None
    last: datetime | None = None
    checks: set[str] = field(default_factory=set)
    recorded_at: set[str] = field(default_factory=set)

    def add(self, when: datetime | None, checks: Iterable[str], recorded_at: str | None) -> None:
        self.count += 1
        if when is not None:
            self.first = when if self.first is None or when < self.first else self.first
            self.last = when if self.last is None or when > self.last else self.last
        self.checks.update(checks)
        if recorded_at:
            self.recorded_at.add(recorded_at)


@dataclass
class _Namespace:
    pod_creations: int = 0
    violating_pod_creations: int = 0
    unjudged: int = 0
    #: the audit policies violations in the window were recorded at
    audit_levels: set[LevelVersion] = field(default_factory=set)
    #: the namespace's audit label changed in the window
    relabelled: bool = False
    exempt: int = 0
    exempt_by: dict[str, int] = field(default_factory=dict)
    dry_runs: int = 0
    dry_run_violations: int = 0
    workload_writes: int = 0
    violating_workload_writes: int = 0
    recorded_violations: int = 0
    evaluation_errors: int = 0
    #: (immediate object, user, via) -> what it did
    violators: dict[tuple[str, str, str], _Violator] = field(default_factory=dict)

    def violator(self, subject: str, user: str, via: str) -> _Violator:
        """The entry of (subject, user, via); past MAX_VIOLATORS distinct ones, new subjects
        are folded into one `<Kind>/(others)` entry per user, so memory stays bounded."""
        key = (subject, user, via)
        found = self.violators.get(key)
        if found is None:
            if len(self.violators) >= MAX_VIOLATORS:
                key = (subject.partition("/")[0] + "/(others)", user, via)
            found = self.violators.setdefault(key, _Violator())
        return found


@dataclass
class Window:
    """The time window events are counted in (either end open)."""

    start: datetime | None = None
    end: datetime | None = None

    def holds(self, when: datetime | None) -> bool:
        if when is None:
            return self.start is None and self.end is None
        return (self.start is None or when >= self.start) and (
            self.end is None or when <= self.end)


class Collector:
    """Takes audit events one at a time; `result()` is the evidence."""

    def __init__(self, plan: Mapping[str, Any] | None = None,
                 window: Window | None = None) -> None:
        self.plan = planned_namespaces(plan) if plan is not None else {}
        self.has_plan = plan is not None
        self.window = window or Window()
        defaults = ((plan or {}).get("admission_config") or {}).get("defaults") or {}
        self._default_audit = parse_policy(defaults.get("audit"))
        self.namespaces: dict[str, _Namespace] = {}
        #: (namespace, Kind/name) -> Kind/name of its controller, as requests showed
        self.owners: dict[tuple[str, str], str] = {}
        #: "ns" -> its audit policy as the log last showed it (labels or a recorded verdict)
        self.audit_seen: dict[str, LevelVersion] = {}
        #: namespace -> "Kind/name" of the Deployments and CronJobs requests named
        self.known: dict[str, set[str]] = {}
        self._recent: OrderedDict[str, None] = OrderedDict()
        self.duplicates = 0
        self.first_seen: datetime | None = None
        self.last_seen: datetime | None = None

    # -- helpers

    def _ns(self, name: str) -> _Namespace:
        found = self.namespaces.get(name)
        if found is None:
            found = self.namespaces[name] = _Namespace()
        return found

    def _target(self, namespace: str) -> LevelVersion | None:
        planned = self.plan.get(namespace)
        return planned.enforce if planned else None

    def _clean_at(self, namespace: str, annotations: Mapping[str, Any],
                  admitted: bool) -> LevelVersion | None:
        """The strictest policy the server is known to have found this request clean at."""
        known: list[LevelVersion] = []
        audit = self.audit_seen.get(namespace)
        if audit is None and namespace in self.plan:
            audit = self.plan[namespace].audit
        if audit is None and not self.has_plan:
            audit = self._default_audit
        if audit is not None:
            known.append(audit)
        enforce = parse_policy(annotations.get(ENFORCE_POLICY))
        if enforce is not None and admitted:
            known.append(enforce)
        return max(known, key=lambda p: p.level.rank) if known else None

    def _note_time(self, when: datetime | None) -> None:
        if when is None:
            return
        if self.first_seen is None or when < self.first_seen:
            self.first_seen = when
        if self.last_seen is None or when > self.last_seen:
            self.last_seen = when

    # -- namespaces and owners (counted whatever the window: they describe state)

    def _namespace_event(self, event: Mapping[str, Any], ref: Mapping[str, Any]) -> None:
        verb = event.get("verb")
        obj = event.get("requestObject")
        name = str(ref.get("name") or _metadata(obj).get("name") or "")
        if not name or verb not in _WRITES or not isinstance(obj, dict) or is_dry_run(event):
            return
        labels = _metadata(obj).get("labels")
        if not isinstance(labels, dict):
            return
        key = LABEL_PREFIX + "audit"
        if verb == "patch" and key not in labels and key + "-version" not in labels:
            return
        previous = self.audit_seen.get(name)
        if verb == "patch" and previous is not None:
            level = labels.get(key, str(previous.level))
            version = labels.get(key + "-version", str(previous.version))
            merged = {key: level, key + "-version": version}
            labels = {k: v for k, v in merged.items() if isinstance(v, str)}
        defaults = self._defaults()
        if defaults is None:
            return
        parsed = policy_from_labels({str(k): str(v) for k, v in labels.items()
                                     if isinstance(v, str)}, defaults)
        self.audit_seen[name] = parsed.policy.audit
        when = parse_time(event.get("requestReceivedTimestamp") or event.get("stageTimestamp"))
        if verb != "create" and self.window.holds(when):
            self._ns(name).relabelled = True

    def _defaults(self) -> Any:
        from migrator.pss.api import Policy

        default = self._default_audit or LevelVersion(Level.PRIVILEGED, Version.latest())
        everything = LevelVersion(Level.PRIVILEGED, Version.latest())
        return Policy(everything, default, everything)

    def _owner_of(self, namespace: str, kind: str, obj: Any) -> None:
        meta = _metadata(obj)
        name = meta.get("name")
        owner = _controller(meta)
        if name and owner:
            self.owners.setdefault((namespace, f"{kind}/{name}"), f"{owner[0]}/{owner[1]}")
        if name:
            self._know(namespace, kind, str(name))

    def _know(self, namespace: str, kind: str, name: str) -> None:
        if kind in ("CronJob", "Deployment") and name:
            self.known.setdefault(namespace, set()).add(f"{kind}/{name}")

    # -- one event

    def add(self, event: Mapping[str, Any]) -> None:
        """Count one audit event (anything that is not a judged request is passed over)."""
        if event.get("stage") not in (None, "ResponseComplete"):
            return  # watches log ResponseStarted too; a request counts once, when complete
        ref = event.get("objectRef")
        if not isinstance(ref, dict):
            return
        resource = ref.get("resource")
        if ref.get("subresource"):
            return
        if resource == "namespaces":
            self._namespace_event(event, ref)
            return
        namespace = str(ref.get("namespace") or "")
        if not namespace:
            return
        annotations = event.get("annotations")
        annotations = annotations if isinstance(annotations, dict) else {}
        status = event.get("responseStatus")
        code = status.get("code") if isinstance(status, dict) else None
        admitted = not isinstance(code, int) or code < 400
        obj = event.get("requestObject")
        obj = obj if isinstance(obj, dict) else None
        verb = event.get("verb")
        kind = WORKLOAD_KINDS.get(str(resource))
        if kind is not None and admitted and verb in ("create", "update") and obj is not None \
                and not is_dry_run(event):
            self._owner_of(namespace, kind, obj)
        violations = annotations.get(VIOLATIONS) or annotations.get(LEGACY_VIOLATIONS)
        evaluated = (violations is not None or ENFORCE_POLICY in annotations
                     or EXEMPT in annotations or EVALUATION_ERROR in annotations)
        if not evaluated or not admitted or self._repeated(event.get("auditID")):
            return
        if resource == "pods" and verb == "create":
            self._pod(event, namespace, ref, annotations, obj, violations)
        elif kind is not None and verb in _WRITES:
            self._workload(event, namespace, ref, kind, annotations, obj, violations)

    def _repeated(self, audit_id: Any) -> bool:
        """True for an auditID counted already (overlapping copies of a log, or the log and
        the webhook's batches both given); the last RECENT_IDS are remembered."""
        if not isinstance(audit_id, str) or not audit_id:
            return False
        if audit_id in self._recent:
            self.duplicates += 1
            return True
        self._recent[audit_id] = None
        if len(self._recent) > RECENT_IDS:
            self._recent.popitem(last=False)
        return False

    def _recorded(self, namespace: str, text: Any
                  ) -> tuple[LevelVersion, tuple[Recorded, ...]] | None:
        if not isinstance(text, str):
            return None
        parsed = parse_violations(text)
        if parsed is None:
            return bare_violations(text)
        self.audit_seen[namespace] = parsed[0]
        return parsed

    def _enter(self, event: Mapping[str, Any], namespace: str, violations: Any
               ) -> tuple[_Namespace, tuple[LevelVersion, tuple[Recorded, ...]] | None,
                          Any] | None:
        """The namespace's tally, the recorded violations and the time of an event in the
        window (None outside it); a recorded verdict that is not a dry run tells the audit
        level."""
        when = parse_time(event.get("requestReceivedTimestamp") or event.get("stageTimestamp"))
        recorded = self._recorded(namespace, violations)
        if not self.window.holds(when):
            return None
        self._note_time(when)
        entry = self._ns(namespace)
        if recorded is not None and not is_dry_run(event):
            entry.audit_levels.add(recorded[0])
        return entry, recorded, when

    def _pod(self, event: Mapping[str, Any], namespace: str, ref: Mapping[str, Any],
             annotations: Mapping[str, Any], obj: dict[str, Any] | None,
             violations: Any) -> None:
        entered = self._enter(event, namespace, violations)
        if entered is None:
            return
        entry, recorded, when = entered
        if EVALUATION_ERROR in annotations:
            entry.evaluation_errors += 1
        target = self._target(namespace)
        if is_dry_run(event):
            entry.dry_runs += 1
            if recorded is not None:
                entry.dry_run_violations += 1
            return
        if recorded is not None:
            entry.recorded_violations += 1
        exempt = annotations.get(EXEMPT)
        if exempt is not None:
            entry.exempt += 1
            kind = str(exempt) or "unknown"
            entry.exempt_by[kind] = entry.exempt_by.get(kind, 0) + 1
            return
        entry.pod_creations += 1
        user = effective_user(event)
        if obj is not None and obj.get("kind") is None:
            obj = {**obj, "kind": "Pod"}
        meta = _metadata(obj)
        owner = _controller(meta)
        name = str(ref.get("name") or meta.get("name")
                   or _metadata(event.get("responseObject")).get("name") or "")
        if owner is not None:
            self._deployment_by_hash(namespace, owner, meta)
            subject = f"{owner[0]}/{owner[1]}"
        elif obj is None and name and namespace in self.plan \
                and name in self.plan[namespace].pod_owners:
            subject = self.plan[namespace].pod_owners[name]
        elif name:
            subject = f"Pod/{name}"
        else:
            generate = meta.get("generateName")
            subject = f"Pod/{generate}" if generate else "Pod/(unnamed)"
        if target is None:
            if recorded is not None:
                policy, failures = recorded
                checks = [c for f in failures for c in recorded_checks(f, policy.level)]
                entry.violator(subject, user, "pod").add(
                    when, checks, str(policy))
            return
        verdict = judge(recorded, self._clean_at(namespace, annotations, True), obj, target)
        if verdict.violates is None:
            entry.unjudged += 1
        elif verdict.violates:
            entry.violating_pod_creations += 1
            entry.violator(subject, user, "pod").add(
                when, verdict.checks, str(recorded[0]) if recorded else None)

    def _deployment_by_hash(self, namespace: str, owner: tuple[str, str],
                            meta: Mapping[str, Any]) -> None:
        """A Deployment's ReplicaSet is `<deployment>-<pod-template-hash>`."""
        kind, name = owner
        if kind != "ReplicaSet":
            return
        labels = meta.get("labels")
        digest = labels.get("pod-template-hash") if isinstance(labels, dict) else None
        if isinstance(digest, str) and digest and name.endswith("-" + digest):
            self.owners.setdefault((namespace, f"ReplicaSet/{name}"),
                                   f"Deployment/{name[:-len(digest) - 1]}")

    def _workload(self, event: Mapping[str, Any], namespace: str, ref: Mapping[str, Any],
                  kind: str, annotations: Mapping[str, Any], obj: dict[str, Any] | None,
                  violations: Any) -> None:
        entered = self._enter(event, namespace, violations)
        if entered is None:
            return
        entry, recorded, when = entered
        if is_dry_run(event):
            entry.dry_runs += 1
            if recorded is not None:
                entry.dry_run_violations += 1
            return
        if EXEMPT in annotations:
            return
        entry.workload_writes += 1
        if recorded is None:
            return  # a clean workload write says nothing about the pods' level
        entry.recorded_violations += 1
        name = str(ref.get("name") or _metadata(obj).get("name") or "")
        subject = f"{kind}/{name}"
        self._know(namespace, kind, name)
        user = effective_user(event)
        target = self._target(namespace)
        full = obj if obj is not None and event.get("verb") != "patch" else None
        if full is not None and full.get("kind") is None:
            full = {**full, "kind": kind}
        if target is None:
            policy, failures = recorded
            checks = [c for f in failures for c in recorded_checks(f, policy.level)]
            entry.violator(subject, user, "workload").add(
                when, checks, str(policy))
            return
        verdict = judge(recorded, None, full, target)
        if verdict.violates:
            entry.violating_workload_writes += 1
            entry.violator(subject, user, "workload").add(
                when, verdict.checks, str(recorded[0]))

    # -- the result

    def top(self, namespace: str, subject: str) -> str:
        """The top of `subject`'s owner chain, as far as the log and the plan tell."""
        seen = {subject}
        current = subject
        planned = self.plan.get(namespace)
        while True:
            if planned is not None and current in planned.workloads:
                return current
            parent = self.owners.get((namespace, current))
            if parent is None:
                parent = self._named_parent(namespace, current)
            if parent is None or parent in seen:
                return current
            seen.add(parent)
            current = parent

    def _named_parent(self, namespace: str, subject: str) -> str | None:
        """The owner a controller's naming convention gives, among the workloads known.

        A Deployment's ReplicaSets are `<deployment>-<pod-template-hash>`, a CronJob's Jobs
        `<cronjob>-<scheduled minute>`; only Deployments and CronJobs that the plan holds
        or a request named are candidates (the longest name wins)."""
        kind, _, name = subject.partition("/")
        parent_kind, pattern = {"ReplicaSet": ("Deployment", _HASH_SUFFIX),
                                "Job": ("CronJob", _MINUTE_SUFFIX)}.get(kind, ("", None))
        if pattern is None:
            return None
        known = set(self.known.get(namespace, ()))
        planned = self.plan.get(namespace)
        if planned is not None:
            known.update(planned.workloads)
        prefix = parent_kind + "/"
        matches = [w[len(prefix):] for w in known if w.startswith(prefix)
                   and name.startswith(w[len(prefix):] + "-")
                   and pattern.fullmatch(name[len(w) - len(prefix) + 1:])]
        return f"{prefix}{max(matches, key=len)}" if matches else None

    def result(self, malformed_lines: int = 0) -> dict[str, Any]:
        """The evidence, JSON-ready, every list sorted."""
        window = {"from": format_time(self.window.start or self.first_seen),
                  "until": format_time(self.window.end or self.last_seen)}
        names = sorted(set(self.namespaces) | set(self.plan))
        namespaces = [self._namespace_result(n) for n in names]
        return {
            "schema": AUDIT_SCHEMA,
            "window": window,
            "malformed_lines": malformed_lines,
            "duplicate_events": self.duplicates,
            "planned": self.has_plan,
            "namespaces": namespaces,
            "exemption_candidates": self._candidates(namespaces),
        }

    def _settle_unjudged(self, entry: _Namespace, planned: PlannedNamespace | None) -> None:
        """Pods logged without the pod and without a violation were clean at the namespace's
        audit level: when the window's recorded violations show one audit level at least as
        strict as the plan, and the audit label did not change, they count as clean."""
        if not entry.unjudged or planned is None or entry.relabelled or not entry.audit_levels:
            return
        if min(p.level.rank for p in entry.audit_levels) >= planned.enforce.level.rank:
            entry.unjudged = 0

    def _namespace_result(self, name: str) -> dict[str, Any]:
        entry = self.namespaces.get(name) or _Namespace()
        planned = self.plan.get(name)
        self._settle_unjudged(entry, planned)
        merged: dict[tuple[str, str, str], _Violator] = {}
        for (subject, user, via), item in entry.violators.items():
            top = self.top(name, subject)
            into = merged.setdefault((top, user, via), _Violator())
            into.count += item.count
            into.checks |= item.checks
            into.recorded_at |= item.recorded_at
            for when in (item.first, item.last):
                if when is not None:
                    into.first = when if into.first is None or when < into.first else into.first
                    into.last = when if into.last is None or when > into.last else into.last
        violators = [
            {"object": obj, "user": user, "count": v.count, "via": via,
             "first": format_time(v.first), "last": format_time(v.last),
             "checks": sorted(v.checks), "recorded_at": sorted(v.recorded_at)}
            for (obj, user, via), v in sorted(merged.items(),
                                              key=lambda i: (i[0][2] != "pod", i[0][0], i[0][1]))
        ]
        gate, why = self._gate(planned, entry)
        return {
            "name": name,
            "enforce": str(planned.enforce.level) if planned else None,
            "enforce_version": str(planned.enforce.version) if planned else None,
            "gate": gate,
            "why": why,
            "pod_creations": entry.pod_creations,
            "violating_pod_creations": entry.violating_pod_creations,
            "unjudged_pod_creations": entry.unjudged,
            "exempt": entry.exempt,
            "exempt_by": dict(sorted(entry.exempt_by.items())),
            "dry_runs": entry.dry_runs,
            "dry_run_violations": entry.dry_run_violations,
            "workload_writes": entry.workload_writes,
            "violating_workload_writes": entry.violating_workload_writes,
            "recorded_violations": entry.recorded_violations,
            "evaluation_errors": entry.evaluation_errors,
            "violators": violators,
        }

    def _gate(self, planned: PlannedNamespace | None, entry: _Namespace
              ) -> tuple[str | None, str]:
        if planned is None:
            return None, ("not in the plan" if self.has_plan else
                          "no plan given: violations as recorded, no gate")
        level = planned.enforce
        if entry.violating_pod_creations or entry.violating_workload_writes:
            parts = []
            if entry.violating_pod_creations:
                parts.append(f"{_count(entry.violating_pod_creations, 'pod creation')} of "
                             f"{entry.pod_creations:,}")
            if entry.violating_workload_writes:
                parts.append(_count(entry.violating_workload_writes, "workload write"))
            return "blocked", f"{' and '.join(parts)} violate {level}"
        if entry.pod_creations == 0:
            extra = []
            if entry.exempt:
                extra.append(f"{entry.exempt:,} exempt")
            if entry.dry_runs:
                extra.append(f"{entry.dry_runs:,} dry-run")
            tail = f" ({', '.join(extra)} only)" if extra else ""
            return "no-evidence", f"no pod creation in the window{tail}"
        if entry.unjudged:
            return "no-evidence", (
                f"{entry.unjudged:,} of {_count(entry.pod_creations, 'pod creation')} could "
                f"not be judged at {level} (audited at a looser level and logged without "
                "the pod)")
        return "ready", (f"0 violations of {level}, "
                         f"{_count(entry.pod_creations, 'pod creation')} seen")

    def _candidates(self, namespaces: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Users whose violating pods are only ones they create themselves (exemption
        candidates), and controllers whose pods violate (never to be exempted)."""
        users: dict[str, dict[str, Any]] = {}
        for ns in namespaces:
            for v in ns["violators"]:
                if v["via"] != "pod":
                    continue
                item = users.setdefault(v["user"], {"direct": 0, "owned": 0, "namespaces": set(),
                                                    "objects": set()})
                direct = str(v["object"]).startswith("Pod/")
                item["direct" if direct else "owned"] += v["count"]
                item["namespaces"].add(ns["name"])
                item["objects"].add(v["object"])
        out = []
        for user, item in sorted(users.items()):
            controller = item["owned"] > 0 or controller_like(user)
            out.append({
                "username": user,
                "namespaces": sorted(item["namespaces"]),
                "violating_pod_creations": item["direct"] + item["owned"],
                "objects": sorted(item["objects"]),
                "controller": controller,
                "suggest": not controller,
            })
        return out


#: Usernames of the controllers that create pods for everyone (exempting one exempts all).
CONTROLLER_HINTS = ("system:serviceaccount:kube-system:", "system:kube-controller-manager",
                    "controller")


def controller_like(username: str) -> bool:
    """True for usernames that look like a controller acting for others."""
    return any(hint in username for hint in CONTROLLER_HINTS)


def count_of(n: int, noun: str) -> str:
    """`1 pod creation`, `1,204 pod creations`."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


_count = count_of


def span_of(window: Mapping[str, Any]) -> str:
    """`in 7 days`: how long the evidence window is, in words."""
    start, end = parse_time(window.get("from")), parse_time(window.get("until"))
    if start is None or end is None:
        return "in the logs read"
    seconds = max(0.0, (end - start).total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = round(seconds / size)
            return f"in {n} {unit}{'s' if n != 1 else ''}"
    return f"in {round(seconds)} second{'s' if round(seconds) != 1 else ''}"


def gate_line(ns: Mapping[str, Any], window: Mapping[str, Any]) -> str:
    """`team-a: ready for enforce baseline: 0 violations in 7 days, 1,204 pod creations seen`."""
    name, gate, level = ns["name"], ns["gate"], ns["enforce"]
    if gate == "ready":
        return (f"{name}: ready for enforce {level}: 0 violations {span_of(window)}, "
                f"{count_of(ns['pod_creations'], 'pod creation')} seen")
    if gate == "blocked":
        return f"{name}: blocked for enforce {level}: {ns['why']} {span_of(window)}"
    if gate == "no-evidence":
        return f"{name}: no evidence for enforce {level}: {ns['why']}"
    return (f"{name}: {ns['why']}: {count_of(ns['pod_creations'], 'pod creation')}, "
            f"{count_of(ns['recorded_violations'], 'recorded violation')}")


def violator_line(v: Mapping[str, Any]) -> str:
    """`Deployment/web by deployer: 3 pod creations (privileged), first …, last …`."""
    what = count_of(v["count"], "pod creation" if v.get("via") == "pod" else "template write")
    return (f"{v['object']} by {v['user']}: {what} ({', '.join(v.get('checks') or ())}), "
            f"first {v.get('first') or '?'}, last {v.get('last') or '?'}")


# -- the gate, for `apply --phase enforce --evidence` -------------------------------------------


def evidence_refusals(plan: Mapping[str, Any], evidence: Mapping[str, Any],
                      namespaces: Iterable[str]) -> dict[str, str]:
    """Namespace -> why the evidence does not clear enforcing its planned level.

    Cleared: a planned enforce of privileged (it rejects nothing), a namespace the plan's
    admission configuration exempts (its pods are not checked), or a `ready` gate judged at
    the plan's enforce level and version. Anything else is refused: a blocked gate (its
    violators named), no evidence, a namespace the evidence lacks, or evidence judged at
    another level than this plan enforces.
    """
    planned = {str(ns["name"]): ns for ns in plan.get("namespaces") or ()}
    judged = {str(ns.get("name")): ns for ns in evidence.get("namespaces") or ()
              if isinstance(ns, dict)}
    refused: dict[str, str] = {}
    for name in sorted(namespaces):
        rec = planned[name]["recommended"]
        level, version = str(rec["enforce"]), str(rec.get("enforce_version") or "latest")
        if level == str(Level.PRIVILEGED) or planned[name].get("exempt"):
            continue  # rejects nothing / its pods are not checked at admission
        entry = judged.get(name)
        if entry is None:
            refused[name] = "not in the evidence (no pod creation of it in the audit logs read)"
            continue
        at = (entry.get("enforce"), entry.get("enforce_version") or version)
        if at != (level, version):
            refused[name] = (f"the evidence judged it at {at[0]}:{at[1]}, the plan enforces "
                             f"{level}:{version}; run `migrator audit --plan` with this plan")
            continue
        gate = entry.get("gate")
        if gate == "ready":
            continue
        if gate == "blocked":
            who = ", ".join(f"{v.get('object')} by {v.get('user')} ({v.get('count')})"
                            for v in (entry.get("violators") or ())[:5])
            more = len(entry.get("violators") or ()) - 5
            refused[name] = (f"blocked: {entry.get('why')}: {who}"
                             + (f" and {more} more" if more > 0 else ""))
        else:
            refused[name] = f"no evidence: {entry.get('why') or 'no pod creation seen'}"
    return refused
