"""The three messages the API server builds from check results, word for word.

- the enforce denial of a pod: `pods "x" is forbidden: violates PodSecurity "restricted:latest": …`
- the warning on a pod or workload: `would violate PodSecurity "restricted:latest": …`
- the namespace dry-run warnings, one per distinct reason list, folding pods that share
  it into `first (and N other pods): reasons`, with the truncation notice first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from migrator.pss.api import LevelVersion
from migrator.pss.registry import Violation


def forbidden_detail(violations: Sequence[Violation]) -> str:
    """`reason (detail), reason, …`: each failed check, detail in parentheses when any."""
    return ", ".join(v.text() for v in violations)


def forbidden_reason(violations: Sequence[Violation]) -> str:
    """`reason, reason, …`: the reasons only, as in namespace dry-run warnings."""
    return ", ".join(v.reason for v in violations)


def denial(resource: str, name: str, policy: LevelVersion, violations: Sequence[Violation]) -> str:
    """The enforce error text, e.g. for resource `pods` and name `priv`."""
    return (
        f'{resource} "{name}" is forbidden: violates PodSecurity "{policy}": '
        f"{forbidden_detail(violations)}"
    )


def warning(policy: LevelVersion, violations: Sequence[Violation]) -> str:
    """The warn-mode text, also sent for workloads whose template violates enforce."""
    return f'would violate PodSecurity "{policy}": {forbidden_detail(violations)}'


@dataclass(frozen=True, slots=True)
class PodVerdict:
    """One existing pod's name and violations, for a namespace dry-run."""

    name: str
    violations: Sequence[Violation]


def namespace_warnings(
    namespace: str,
    policy: LevelVersion,
    pods: Iterable[PodVerdict],
    checked: int | None = None,
    total: int | None = None,
) -> list[str]:
    """The warnings of a namespace dry-run that sets enforce to `policy`.

    Pods with the same reason list are folded under the lexically first of their names, and
    the folded lines are sorted, as the API server does. `checked`/`total` add the
    truncation notice when fewer pods were checked.
    """
    groups: dict[str, list[str]] = {}
    for pod in pods:
        if not pod.violations:
            continue
        groups.setdefault(forbidden_reason(pod.violations), []).append(pod.name)
    warnings: list[str] = []
    if checked is not None and total is not None and checked < total:
        warnings.append(
            "new PodSecurity enforce level only checked against the first "
            f"{checked} of {total} existing pods"
        )
    if groups:
        warnings.append(
            f'existing pods in namespace "{namespace}" violate the new PodSecurity enforce '
            f'level "{policy}"'
        )
    lines = []
    for reason, names in groups.items():
        first = min(names)
        if len(names) == 1:
            lines.append(f"{first}: {reason}")
        elif len(names) == 2:
            lines.append(f"{first} (and 1 other pod): {reason}")
        else:
            lines.append(f"{first} (and {len(names) - 1} other pods): {reason}")
    return warnings + sorted(lines)
