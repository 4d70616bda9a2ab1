"""What a namespace dry-run tells us, and where it disagrees with our own verdicts.

Owns reading the `Warning` texts the API server sends back when a namespace's enforce label
is changed (`parse_namespace_warnings` → `ServerVerdict`), the rule that says whether the
server checks existing pods at all for a given label change (`server_skip_reason`), and the
comparison of the server's verdict with the offline verdict of every existing pod
(`compare` → `Disagreement`s). Pure: nothing here talks to a cluster, reads or prints.

The texts PodSecurity admission sends on a namespace update that tightens enforce:

- `new PodSecurity enforce level only checked against the first N of M existing pods`,
  first, when it stopped early: more than 3,000 pods, or its time limit (the same words
  for both: N is then the number checked before time ran out);
- `existing pods in namespace "X" violate the new PodSecurity enforce level "L:V"`;
- one line per distinct reason list, sorted: `POD: reasons`, `POD (and 1 other pod):
  reasons`, `POD (and N other pods): reasons`, where POD is the lexically first pod (of
  those checked) with exactly that reason list and reasons are joined by `, `;
- `failed to list pods while checking new PodSecurity enforce level` when it could not
  list the pods at all;
- for a namespace exempt in the admission configuration, instead of all that:
  `namespace "X" is exempt from Pod Security, and the policy (enforce=…) will be ignored`.

Because the server names only the first pod of each group, verdicts are compared group by
group: reason list → number of pods, with the named pod checked to belong to our group.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from migrator.pss.api import (
    LABEL_PREFIX,
    Level,
    LevelVersion,
    Policy,
    Version,
    policy_from_labels,
)

#: Most pods PodSecurity admission checks when a namespace's enforce level changes.
SERVER_MAX_PODS = 3000

_TRUNCATED = re.compile(
    r"^new PodSecurity enforce level only checked against the first (\d+) of (\d+) "
    r"existing pods$"
)
_SUMMARY = re.compile(
    r'^existing pods in namespace "((?:[^"\\]|\\.)*)" violate the new PodSecurity enforce '
    r'level "((?:[^"\\]|\\.)*)"$'
)
_EXEMPT = re.compile(
    r'^namespace "((?:[^"\\]|\\.)*)" is exempt from Pod Security, and the policy \((.*)\) '
    r"will be ignored$"
)
_LIST_FAILED = "failed to list pods while checking new PodSecurity enforce level"
# A pod name is a DNS subdomain: lower-case alphanumerics, '-' and '.'.
_GROUP = re.compile(
    r"^(?P<pod>[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?)"
    r"(?: \(and (?P<others>[1-9][0-9]*) other (?P<noun>pods?)\))?: (?P<reasons>\S.*)$"
)
_REASON_SEPARATOR = ", "


def _unquote_go(text: str) -> str:
    """The inside of a Go `%q` string (names and levels never need more than `\\"`)."""
    return re.sub(r"\\(.)", r"\1", text)


def split_reasons(text: str) -> tuple[str, ...]:
    """The reasons of a comma-joined reason list (no upstream reason contains `, `)."""
    return tuple(r for r in text.split(_REASON_SEPARATOR) if r) if text else ()


def join_reasons(reasons: Sequence[str]) -> str:
    """Reasons joined as the server joins them."""
    return _REASON_SEPARATOR.join(reasons)


# ---------------------------------------------------------------------------------------
# The server's verdict


@dataclass(frozen=True, slots=True)
class PodGroup:
    """Pods sharing one reason list: the lexically first, how many, and the reasons."""

    pod: str
    count: int
    reasons: tuple[str, ...]

    @property
    def reason_text(self) -> str:
        return join_reasons(self.reasons)

    def line(self) -> str:
        """The warning line the server writes for this group."""
        if self.count <= 1:
            head = self.pod
        elif self.count == 2:
            head = f"{self.pod} (and 1 other pod)"
        else:
            head = f"{self.pod} (and {self.count - 1} other pods)"
        return f"{head}: {self.reason_text}"

    def to_dict(self) -> dict[str, Any]:
        return {"pod": self.pod, "count": self.count, "reasons": list(self.reasons)}


@dataclass(frozen=True, slots=True)
class ServerVerdict:
    """What one namespace dry-run's warnings say.

    `level` is the enforce level the server evaluated (`restricted:latest`), None when it
    reported no violating pod; `checked`/`total` are set when it stopped early; `exemption`
    holds the policy text of an exemption warning; `other` every warning not understood,
    verbatim; `warnings` every text as received.
    """

    namespace: str | None = None
    level: str | None = None
    groups: tuple[PodGroup, ...] = ()
    checked: int | None = None
    total: int | None = None
    exemption: str | None = None
    pods_unlisted: bool = False
    other: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def truncated(self) -> bool:
        return self.checked is not None and self.total is not None and self.checked < self.total

    @property
    def complete(self) -> bool:
        """True when the server checked every existing pod."""
        return not self.truncated and not self.pods_unlisted

    @property
    def violating(self) -> int:
        """How many checked pods the server found violating."""
        return sum(g.count for g in self.groups)

    def to_dict(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "level": self.level,
            "groups": [g.to_dict() for g in self.groups],
            "violating_pods": self.violating,
            "checked": self.checked,
            "total": self.total,
            "exemption": self.exemption,
            "pods_unlisted": self.pods_unlisted,
            "other": list(self.other),
            "warnings": list(self.warnings),
        }


def parse_namespace_warnings(texts: Sequence[str]) -> ServerVerdict:
    """The verdict in the warning texts (already unquoted) of one namespace dry-run.

    Pod lines are recognised only beside the summary line, as the server never sends one
    without the other; anything unrecognised is kept verbatim in `other`.
    """
    has_summary = any(_SUMMARY.match(t.strip()) for t in texts)
    namespace = level = exemption = None
    checked = total = None
    pods_unlisted = False
    groups: list[PodGroup] = []
    other: list[str] = []
    for raw in texts:
        text = raw.strip()
        if (match := _TRUNCATED.match(text)) is not None:
            checked, total = int(match.group(1)), int(match.group(2))
        elif (match := _SUMMARY.match(text)) is not None:
            namespace, level = _unquote_go(match.group(1)), _unquote_go(match.group(2))
        elif (match := _EXEMPT.match(text)) is not None:
            namespace, exemption = _unquote_go(match.group(1)), match.group(2)
        elif text == _LIST_FAILED:
            pods_unlisted = True
        elif has_summary and (match := _GROUP.match(text)) is not None and _noun_fits(match):
            others = int(match.group("others") or 0)
            groups.append(
                PodGroup(match.group("pod"), others + 1, split_reasons(match.group("reasons")))
            )
        else:
            other.append(raw)
    return ServerVerdict(
        namespace=namespace,
        level=level,
        groups=tuple(groups),
        checked=checked,
        total=total,
        exemption=exemption,
        pods_unlisted=pods_unlisted,
        other=tuple(other),
        warnings=tuple(texts),
    )


def _noun_fits(match: re.Match[str]) -> bool:
    """`(and 1 other pod)` is singular, `(and N other pods)` plural, as upstream writes."""
    others, noun = match.group("others"), match.group("noun")
    return others is None or (noun == "pod") == (others == "1")


# ---------------------------------------------------------------------------------------
# Whether the server checks pods at all


def parse_level_version(text: str) -> LevelVersion:
    """`restricted:v1.24` → LevelVersion; ValueError on anything else."""
    level, sep, version = text.partition(":")
    if not sep:
        raise ValueError(f"invalid level:version {text!r}")
    return LevelVersion(Level.parse(level), Version.parse(version))


def enforce_labels(level_version: LevelVersion) -> dict[str, str]:
    """The enforce label and its version, as a namespace dry-run sends them."""
    return {
        LABEL_PREFIX + "enforce": str(level_version.level),
        LABEL_PREFIX + "enforce-version": str(level_version.version),
    }


def server_skip_reason(
    current_labels: Mapping[str, str],
    patch: Mapping[str, str | None],
    *,
    defaults: Policy | None = None,
    exempt: bool = False,
) -> str | None:
    """Why the server will not check existing pods for this label change; None if it will.

    Mirrors PodSecurity admission on a namespace update: existing pods are checked only
    when the effective enforce level/version changes, is not privileged, and is not a
    relaxation at the same version, in a namespace that is not exempt.
    """
    new_labels = dict(current_labels)
    for key, value in patch.items():
        if value is None:
            new_labels.pop(key, None)
        else:
            new_labels[key] = value
    old = policy_from_labels(dict(current_labels), defaults).policy.enforce
    new = policy_from_labels(new_labels, defaults).policy.enforce
    if new == old:
        return (f"enforce is already {new}: the server checks existing pods only when the "
                "enforce level changes")
    if new.level is Level.PRIVILEGED:
        return "enforce privileged: the server checks no pods"
    if new.version == old.version and not new.level.stricter_than(old.level):
        return (f"{new} is not stricter than the current {old}: the server checks no pods "
                "for a relaxation")
    if exempt:
        return "exempt in the admission configuration: the server checks no pods"
    return None


# ---------------------------------------------------------------------------------------
# Comparing


@dataclass(frozen=True, slots=True)
class Disagreement:
    """One way the server's verdict differs from ours.

    `kind`:
    - `level`: the server evaluated another level than the one proposed;
    - `reasons`: the server and the plan put the named pod in groups with different reason
      lists (`server_only`: reasons only the server gave; `offline_only`: only ours);
    - `server_only`: the server reports a group the plan has no counterpart for (the pod
      passes for us, or is unknown to the plan);
    - `offline_only`: the plan expects a group the server did not report (only with
      complete coverage);
    - `count`: both report the reason list, with different numbers of pods;
    - `pod`: the server names a pod that is not (or not first) in our group.
    """

    kind: str
    message: str
    pod: str | None = None
    server_reasons: str = ""
    offline_reasons: str = ""
    server_count: int = 0
    offline_count: int = 0
    server_only: tuple[str, ...] = ()
    offline_only: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "pod": self.pod,
            "server_reasons": self.server_reasons,
            "offline_reasons": self.offline_reasons,
            "server_count": self.server_count,
            "offline_count": self.offline_count,
            "server_only": list(self.server_only),
            "offline_only": list(self.offline_only),
            "message": self.message,
        }


def _reason_text(value: Sequence[str] | str) -> str:
    return value if isinstance(value, str) else join_reasons(value)


def offline_groups(offline_pods: Mapping[str, Sequence[str] | str]) -> list[PodGroup]:
    """Our verdicts folded as the server folds them, in the order it prints them."""
    by_reasons: dict[str, list[str]] = {}
    for pod, value in offline_pods.items():
        text = _reason_text(value)
        if text:
            by_reasons.setdefault(text, []).append(pod)
    groups = [PodGroup(min(pods), len(pods), split_reasons(text))
              for text, pods in by_reasons.items()]
    return sorted(groups, key=lambda g: g.line())


@dataclass
class _Offline:
    reasons_of: dict[str, str]
    pods_by_reasons: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def build(cls, offline_pods: Mapping[str, Sequence[str] | str]) -> _Offline:
        found = cls({pod: _reason_text(v) for pod, v in offline_pods.items()})
        for pod in sorted(found.reasons_of):
            text = found.reasons_of[pod]
            if text:
                found.pods_by_reasons.setdefault(text, []).append(pod)
        return found


def _pods(count: int, first: str | None) -> str:
    noun = "pod" if count == 1 else "pods"
    return f"{count} {noun}" + (f" (first {first})" if first and count else "")


def _minus(left: Sequence[str], right: Sequence[str]) -> tuple[str, ...]:
    return tuple(r for r in left if r not in right)


def compare(
    offline_pods: Mapping[str, Sequence[str] | str],
    server: ServerVerdict,
    *,
    level: str | None = None,
) -> list[Disagreement]:
    """Where the server's verdict differs from ours, group by group, in a stable order.

    `offline_pods` maps every existing pod of the namespace to its reasons at the proposed
    enforce level (a list, or the `, `-joined string; empty when it passes). `level`, when
    given, is the proposed `level:version` the server should report.

    With truncated coverage (the server checked N of M pods) only what the checked pods
    prove is reported: a server group whose reasons we do not give, a named pod that is not
    in our group, or more pods than we count. Groups the server may simply not have reached
    are not disagreements.
    """
    if server.pods_unlisted:
        return []
    ours = _Offline.build(offline_pods)
    complete = server.complete
    found: list[Disagreement] = []
    if level is not None and server.level is not None and server.level != level:
        found.append(Disagreement(
            "level", f"the server evaluated {server.level}, the plan proposes {level}"))

    server_by_reasons: dict[str, PodGroup] = {}
    for group in server.groups:
        previous = server_by_reasons.get(group.reason_text)
        if previous is not None:  # never sent twice; fold defensively
            group = PodGroup(min(previous.pod, group.pod), previous.count + group.count,
                             group.reasons)
        server_by_reasons[group.reason_text] = group
    used_offline: set[str] = set()

    # Reason lists both sides report.
    for text in sorted(server_by_reasons.keys() & ours.pods_by_reasons.keys()):
        group, pods = server_by_reasons[text], ours.pods_by_reasons[text]
        used_offline.add(text)
        if group.count != len(pods) and (complete or group.count > len(pods)):
            found.append(Disagreement(
                "count",
                f'"{text}": the server counts {_pods(group.count, group.pod)}, '
                f"the plan {_pods(len(pods), pods[0])}",
                pod=group.pod, server_reasons=text, offline_reasons=text,
                server_count=group.count, offline_count=len(pods)))
        if group.pod not in pods:
            found.append(_named_pod_elsewhere(group, ours, len(pods)))
        elif complete and group.pod != pods[0]:
            found.append(Disagreement(
                "pod",
                f'"{text}": the server names {group.pod} first, so it did not find '
                f"{pods[0]} with these reasons; the plan does",
                pod=group.pod, server_reasons=text, offline_reasons=text,
                server_count=group.count, offline_count=len(pods)))

    # Reason lists only the server reports: pair with the named pod's group when ours is
    # unreported, else report alone.
    for text in sorted(server_by_reasons.keys() - ours.pods_by_reasons.keys()):
        group = server_by_reasons[text]
        mine = ours.reasons_of.get(group.pod)
        if mine is None:
            found.append(Disagreement(
                "server_only",
                f'{group.line()}: the server reports "{text}" for {_pods(group.count, None)}; '
                f"the plan does not know {group.pod} (created after the plan was made?)",
                pod=group.pod, server_reasons=text, server_count=group.count,
                server_only=group.reasons))
        elif not mine:
            found.append(Disagreement(
                "server_only",
                f'{group.line()}: the server reports "{text}" for {_pods(group.count, None)}; '
                f"the plan has {group.pod} passing",
                pod=group.pod, server_reasons=text, server_count=group.count,
                server_only=group.reasons))
        else:
            mine_reasons = split_reasons(mine)
            pods = ours.pods_by_reasons[mine]
            pairs = mine not in server_by_reasons and mine not in used_offline
            if pairs:
                used_offline.add(mine)
            server_only = _minus(group.reasons, mine_reasons)
            offline_only = _minus(mine_reasons, group.reasons)
            diff = "; ".join(
                part for part in (
                    f"only the server: {join_reasons(server_only)}" if server_only else "",
                    f"only the plan: {join_reasons(offline_only)}" if offline_only else "",
                    "same reasons in another order" if not server_only and not offline_only
                    else "",
                ) if part)
            found.append(Disagreement(
                "reasons" if pairs else "server_only",
                f'{group.pod}: the server reports "{text}" ({_pods(group.count, None)}), '
                f'the plan "{mine}" ({_pods(len(pods), pods[0])}); {diff}',
                pod=group.pod, server_reasons=text, offline_reasons=mine,
                server_count=group.count, offline_count=len(pods) if pairs else 0,
                server_only=server_only, offline_only=offline_only))

    # Reason lists only we report: with complete coverage the server found none of them.
    if complete:
        for text in sorted(ours.pods_by_reasons.keys() - used_offline):
            pods = ours.pods_by_reasons[text]
            found.append(Disagreement(
                "offline_only",
                f'the plan expects "{text}" for {_pods(len(pods), pods[0])}; the server '
                "reported no pod with these reasons",
                pod=pods[0], offline_reasons=text, offline_count=len(pods),
                offline_only=split_reasons(text)))
    return found


def _named_pod_elsewhere(group: PodGroup, ours: _Offline, offline_count: int) -> Disagreement:
    mine = ours.reasons_of.get(group.pod)
    if mine is None:
        where = "the plan does not know it (created after the plan was made?)"
    elif not mine:
        where = "the plan has it passing"
    else:
        where = f'the plan has it with "{mine}"'
    return Disagreement(
        "pod",
        f'"{group.reason_text}": the server names {group.pod}; {where}',
        pod=group.pod, server_reasons=group.reason_text, offline_reasons=mine or "",
        server_count=group.count, offline_count=offline_count,
        server_only=_minus(group.reasons, split_reasons(mine or "")),
        offline_only=_minus(split_reasons(mine or ""), group.reasons))


__all__ = [
    "SERVER_MAX_PODS",
    "Disagreement",
    "PodGroup",
    "ServerVerdict",
    "compare",
    "enforce_labels",
    "join_reasons",
    "offline_groups",
    "parse_level_version",
    "parse_namespace_warnings",
    "server_skip_reason",
    "split_reasons",
]
