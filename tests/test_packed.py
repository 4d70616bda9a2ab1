"""plan.json's stored form: each repeated violation and fix text once, read back unchanged."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from demo import demo_plan

from migrator.errors import ManifestError
from migrator.files.planfile import load_plan
from migrator.model.packed import UNPACKED_SCHEMA, pack_plan, unpack_plan
from migrator.model.serialise import plan_json


def _violations(plan: dict) -> list[dict]:
    return [v for ns in plan["namespaces"] for s in ns["subjects"]
            for key in ("verdicts", "verdicts_after_upgrade")
            for found in s.get(key, {}).values() for v in found]


def test_round_trip_is_the_plan_and_leaves_it_alone() -> None:
    plan = demo_plan()
    before = copy.deepcopy(plan)
    packed = pack_plan(plan)
    assert plan == before  # packing builds a new object
    assert unpack_plan(packed) == before
    assert unpack_plan(json.loads(plan_json(plan))) == before


def test_each_violation_and_fix_is_written_once_and_sorted() -> None:
    plan = demo_plan()
    packed = pack_plan(plan)
    table = packed["violations"]
    texts = [json.dumps(v, sort_keys=True, separators=(",", ":")) for v in table]
    assert texts == sorted(set(texts))
    assert len(table) < len(_violations(plan))  # the demo repeats violations
    assert {json.dumps(v, sort_keys=True) for v in _violations(plan)} == {
        json.dumps(v, sort_keys=True) for v in table}
    first = next(s for ns in packed["namespaces"] for s in ns["subjects"]
                 if any(s["verdicts"].values()))
    assert all(isinstance(i, int) for found in first["verdicts"].values() for i in found)
    fixes = packed["fixes"]
    assert fixes == sorted(set(fixes)) and fixes
    blockers = [b for ns in packed["namespaces"] for b in ns["blockers"]]
    assert blockers and all(isinstance(b["fix"], int) for b in blockers)
    originals = [b["fix"] for ns in plan["namespaces"] for b in ns["blockers"]]
    assert [fixes[b["fix"]] for b in blockers] == originals


def test_a_plan_written_before_the_tables_is_read_as_it_is(tmp_path: Path) -> None:
    plan = demo_plan()
    plan["schema"] = UNPACKED_SCHEMA
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    assert load_plan(str(path)) == plan


@pytest.mark.parametrize("damage", ["index", "table"])
def test_a_damaged_table_is_one_clear_error(tmp_path: Path, damage: str) -> None:
    packed = pack_plan(demo_plan())
    if damage == "index":
        subject = next(s for ns in packed["namespaces"] for s in ns["subjects"]
                       if any(s["verdicts"].values()))
        level = next(k for k, v in subject["verdicts"].items() if v)
        subject["verdicts"][level][0] = len(packed["violations"])
        expected = "is not an index into `violations`"
    else:
        packed["fixes"] = "nope"
        expected = "`violations` and `fixes` must be lists"
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(packed))
    with pytest.raises(ManifestError, match="damaged plan") as caught:
        load_plan(str(path))
    assert expected in str(caught.value) and str(path) in str(caught.value)


def test_a_blocker_leaves_out_what_its_subject_holds() -> None:
    plan = demo_plan()
    ns = next(n for n in plan["namespaces"] if n["blockers"])
    ns["blockers"][0] = {**ns["blockers"][0], "origin": "elsewhere.yaml#3"}
    packed = pack_plan(plan)
    pns = next(n for n in packed["namespaces"] if n["name"] == ns["name"])
    first, *rest = pns["blockers"]
    assert first["origin"] == "elsewhere.yaml#3"  # not its subject's: kept
    assert rest and all("origin" not in b and "template" not in b and "active" not in b
                        for b in rest)
    unpacked = unpack_plan(packed)
    assert unpacked == plan
    restored = next(n for n in unpacked["namespaces"] if n["name"] == ns["name"])
    assert list(restored["blockers"][1])[:4] == ["object", "origin", "template", "active"]
