"""plan.json as stored: each repeated violation and fix text written once. Pure: no I/O.

A plan names the same few violations over and over: every subject carries its verdicts at
each judged level and version, on today's server and the upgraded one, and every blocker
its fix and its subject's origin. The file keeps each distinct violation once, in a
top-level `violations` list sorted by its JSON, and each distinct fix text once, in
`fixes` (sorted); a subject's verdict lists hold indices into `violations`, a blocker's (or
rejection's) `fix` an index into `fixes`, and a blocker leaves out the `origin`, `template`
and `active` of the subject it names (`object`) when they are the subject's. `pack_plan`
makes that form from a `Plan` without changing it, `unpack_plan` turns it back into the
`Plan` the program reads; a plan written before the tables existed (`migrator.plan/v1`) is
already unpacked. `unpack_plan(pack_plan(p)) == p`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, cast

import msgspec

from migrator.model.plan import PLAN_SCHEMA, Plan

#: The schema of plans written before the tables (nothing packed); still read.
UNPACKED_SCHEMA = "migrator.plan/v1"
#: Every `schema` value `unpack_plan` reads.
READABLE_SCHEMAS = (UNPACKED_SCHEMA, PLAN_SCHEMA)
#: The tables a packed plan holds at its top level, beside a `Plan`'s keys.
TABLES = ("violations", "fixes")
#: A subject's keys whose values map `level:version` to a list of violations.
VERDICT_KEYS = ("verdicts", "verdicts_after_upgrade")
#: A namespace's keys whose values are lists of blockers, each with a `fix` text.
FIX_LISTS = ("blockers", "rejected_today", "looser_blockers")

#: A blocker's keys that repeat its subject's (the subject named by its `object`): a
#: packed blocker leaves out each that equals the subject's, unpacking copies it back.
FROM_SUBJECT = ("origin", "template", "active")

_ENCODE = msgspec.json.Encoder(order="sorted").encode


def _by_ref(subjects: Iterable[Any]) -> dict[str, Mapping[str, Any]]:
    """A namespace's subjects by `Kind/name`, leaving out a reference held twice."""
    found: dict[str, Mapping[str, Any]] = {}
    twice: set[str] = set()
    for entry in subjects:
        if not isinstance(entry, Mapping):
            continue
        ref = f"{entry.get('kind')}/{entry.get('name')}"
        if ref in found:
            twice.add(ref)
        found[ref] = entry
    for ref in twice:
        del found[ref]
    return found


def _verdict_lists(plan: Mapping[str, Any]) -> Iterator[list[Any]]:
    for ns in plan.get("namespaces") or ():
        for subject in ns.get("subjects") or ():
            for key in VERDICT_KEYS:
                yield from (subject.get(key) or {}).values()


def _blockers(plan: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for ns in plan.get("namespaces") or ():
        for key in FIX_LISTS:
            yield from ns.get(key) or ()


def pack_plan(plan: Plan) -> dict[str, Any]:
    """`plan` in its stored form (a new object: `plan` is left as it is)."""
    by_text: dict[bytes, Any] = {}
    for found in _verdict_lists(plan):
        for violation in found:
            by_text.setdefault(_ENCODE(violation), violation)
    texts = sorted(by_text)
    index = {text: i for i, text in enumerate(texts)}
    fixes = sorted({b["fix"] for b in _blockers(plan) if isinstance(b.get("fix"), str)})
    fix_index = {text: i for i, text in enumerate(fixes)}

    def subject(entry: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(entry)
        for key in VERDICT_KEYS:
            if key in out:
                out[key] = {lv: [index[_ENCODE(v)] for v in found]
                            for lv, found in out[key].items()}
        return out

    def blocker(entry: Mapping[str, Any], subjects: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(entry)
        if isinstance(out.get("fix"), str):
            out["fix"] = fix_index[out["fix"]]
        held = subjects.get(str(out.get("object")))
        if held is not None:
            for key in FROM_SUBJECT:
                if key in out and held.get(key) == out[key]:
                    del out[key]
        return out

    def namespace(entry: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(entry)
        out["subjects"] = [subject(s) for s in entry.get("subjects") or ()]
        held = _by_ref(entry.get("subjects") or ())
        for key in FIX_LISTS:
            if key in out:
                out[key] = [blocker(b, held) for b in out[key]]
        return out

    packed: dict[str, Any] = {}
    for key, value in plan.items():
        packed[key] = ([namespace(ns) for ns in cast(list[Any], value)]
                       if key == "namespaces" else value)
    packed["violations"] = [by_text[text] for text in texts]
    packed["fixes"] = fixes
    return packed


class PackError(ValueError):
    """A packed plan whose indices do not match its tables."""


def unpack_plan(data: dict[str, Any]) -> Plan:
    """The `Plan` a stored plan holds (`data` itself when it has no tables; else a new
    object). Raises PackError for an index outside its table."""
    if not any(key in data for key in TABLES):
        return cast(Plan, data)
    violations = data.get("violations")
    fixes = data.get("fixes")
    if not isinstance(violations, list) or not isinstance(fixes, list):
        raise PackError("`violations` and `fixes` must be lists")

    def look(table: list[Any], i: Any, what: str) -> Any:
        if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < len(table):
            raise PackError(f"{what} {msgspec.json.encode(i).decode()} is not an index "
                            f"into `{'violations' if table is violations else 'fixes'}`")
        return table[i]

    def subject(entry: Any) -> Any:
        if not isinstance(entry, dict):
            return entry
        out = dict(entry)
        for key in VERDICT_KEYS:
            found = out.get(key)
            if isinstance(found, dict):
                out[key] = {lv: [dict(look(violations, i, f"{key}[{lv}]")) for i in items]
                            if isinstance(items, list) else items
                            for lv, items in found.items()}
        return out

    def blocker(entry: Any, subjects: Mapping[str, Any]) -> Any:
        if not isinstance(entry, dict):
            return entry
        out = dict(entry)
        if "fix" in out:
            out["fix"] = look(fixes, out["fix"], "fix")
        held = subjects.get(str(out.get("object")))
        if held is None or all(key in out for key in FROM_SUBJECT):
            return out
        restored = {"object": out.pop("object")}
        for key in FROM_SUBJECT:
            restored[key] = out.pop(key) if key in out else held.get(key)
        return {**restored, **out}

    def namespace(entry: Any) -> Any:
        if not isinstance(entry, dict):
            return entry
        out = dict(entry)
        subjects = out.get("subjects")
        held = _by_ref(subjects if isinstance(subjects, list) else ())
        if isinstance(subjects, list):
            out["subjects"] = [subject(s) for s in subjects]
        for key in FIX_LISTS:
            if isinstance(out.get(key), list):
                out[key] = [blocker(b, held) for b in out[key]]
        return out

    plan = {key: value for key, value in data.items() if key not in TABLES}
    if isinstance(plan.get("namespaces"), list):
        plan["namespaces"] = [namespace(ns) for ns in plan["namespaces"]]
    return cast(Plan, plan)
