"""Reading manifests: the fast JSON path agrees with the stdlib, a key given twice is an error
naming file and line, and parser limits are one-line errors that stop only their file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from migrator.errors import ManifestError
from migrator.files.manifests import load_documents, load_file
from migrator.files.source import read_files

POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "shop"},
       "spec": {"containers": [{"name": "app", "image": "registry:5000/app:1",
                                "env": [{"name": "URL", "value": "http://x:80/a"}]}]}}


def _read(path: Path) -> tuple[list[dict[str, object]], list[ManifestError]]:
    errors: list[ManifestError] = []
    docs = [d.obj for d in load_documents([str(path)], errors)]
    return docs, errors


@pytest.mark.parametrize("indent", [None, 2, 4])
def test_json_list_read_item_by_item_equals_stdlib(tmp_path: Path, indent: int | None) -> None:
    items = [dict(POD, metadata={"name": f"web-{i}", "namespace": "shop"}) for i in range(3)]
    items.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop",
                                                                       "labels": {"a:b": "c:d"}}})
    text = json.dumps({"apiVersion": "v1", "kind": "List", "items": items,
                       "metadata": {"resourceVersion": ""}}, indent=indent)
    path = tmp_path / "dump.json"
    path.write_text(text)
    docs, errors = _read(path)
    assert errors == []
    assert docs == json.loads(text)["items"]
    assert [d.source for d in load_file(str(path))] == [f"{path}#0"] * 4


PRIVILEGED_THEN_CLEAN = (
    '{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "sneaky"},\n'
    ' "spec": {"containers": [{"name": "c", "image": "x",\n'
    '          "securityContext": {"privileged": true}}]},\n'
    ' "spec": {"containers": [{"name": "c", "image": "x"}]}}\n'
)


def test_duplicate_key_in_json_object_is_an_error_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "pod.json"
    path.write_text(PRIVILEGED_THEN_CLEAN)
    docs, errors = _read(path)
    assert docs == []
    assert [str(e) for e in errors] == [
        f'{path}:4: the key "spec" is given twice in one mapping (the API server rejects '
        "such input)"]


def test_duplicate_key_inside_a_list_item_names_the_file_line(tmp_path: Path) -> None:
    clean = json.dumps(dict(POD, metadata={"name": "first"}))
    text = ('{"apiVersion": "v1", "kind": "List", "items": [\n' + clean + ",\n"
            + PRIVILEGED_THEN_CLEAN.rstrip() + "\n]}\n")
    path = tmp_path / "list.json"
    path.write_text(text)
    docs, errors = _read(path)
    assert [d["metadata"] for d in docs] == [{"name": "first"}]  # read before the error
    assert len(errors) == 1
    assert errors[0].line == 6 and '"spec" is given twice' in str(errors[0])


def test_duplicate_nested_key_and_duplicate_at_the_top_of_a_list(tmp_path: Path) -> None:
    nested = tmp_path / "nested.json"
    nested.write_text('{"kind": "Pod", "metadata": {"name": "a",\n"name": "b"}}')
    top = tmp_path / "top.json"
    top.write_text("{\"kind\": \"List\", \"items\": [],\n\"items\": [" + json.dumps(POD) + "]}")
    assert [(e.line, '"name"' in str(e)) for e in _read(nested)[1]] == [(2, True)]
    assert [(e.line, '"items"' in str(e)) for e in _read(top)[1]] == [(2, True)]


def test_a_list_s_other_top_level_keys_are_no_duplicates(tmp_path: Path) -> None:
    """A List read in one pass (its items left raw) still counts the top-level keys it does
    not read, and a key repeated in its metadata."""
    pods = [dict(POD, metadata={"name": f"web-{i}"}) for i in range(2)]
    path = tmp_path / "list.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": pods,
                                "resourceVersion": "1:2", "x-note": {"a": "b:c"},
                                "metadata": {"resourceVersion": "7"}}))
    docs, errors = _read(path)
    assert errors == [] and [d["metadata"]["name"] for d in docs] == ["web-0", "web-1"]
    path.write_text('{"kind": "List", "metadata": {"a": "1",\n"a": "2"}, "items": ['
                    + json.dumps(pods[0]) + "]}")
    assert [(e.line, '"a" is given twice' in str(e)) for e in _read(path)[1]] == [(2, True)]


def test_escaped_colons_are_not_mistaken_for_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "escaped.json"
    path.write_text('{"kind": "Pod", "metadata": {"name": "a", "annotations": '
                    '{"x": "a\\u003ab"}}}')
    docs, errors = _read(path)
    assert errors == [] and docs[0]["metadata"]["annotations"] == {"x": "a:b"}
    path.write_text('{"kind": "Pod", "metadata": {"name": "a\\u003a", "name": "b"}}')
    assert ['"name" is given twice' in str(e) for e in _read(path)[1]] == [True]


def test_duplicate_key_in_yaml_is_an_error_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "pod.yaml"
    path.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n"
                    "  hostPID: true\nspec: {}\n---\nkind: Namespace\n")
    docs, errors = _read(path)
    assert docs == []
    assert [(e.line, '"spec" is given twice' in str(e)) for e in errors] == [(6, True)]


def test_yaml_merge_keys_are_not_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "merge.yaml"
    path.write_text("base: &b {x: 1}\nkind: Pod\nmetadata:\n  <<: *b\n  name: a\n")
    docs, errors = _read(path)
    assert errors == [] and docs[0]["metadata"] == {"x": 1, "name": "a"}


@pytest.mark.parametrize(("name", "text"), [
    ("deep.json", '{"kind": "Pod", "metadata": ' + "[" * 5000 + "]" * 5000 + "}"),
    ("deep-list.json", '{"kind": "List", "items": [' + "[" * 5000 + "]" * 5000 + "]}"),
    ("deep.yaml", "kind: Pod\nmetadata: " + "[" * 5000 + "]" * 5000 + "\n"),
    ("deep-block.yaml", "".join(" " * i + "a:\n" for i in range(5000))),
])
def test_nesting_beyond_the_parser_is_one_error_and_other_files_are_read(
    tmp_path: Path, name: str, text: str
) -> None:
    (tmp_path / name).write_text(text)
    (tmp_path / "ok.json").write_text(json.dumps(POD))
    errors: list[ManifestError] = []
    inventory = read_files([str(tmp_path)], errors)
    assert [p["metadata"]["name"] for p in inventory.pods] == ["web"]
    assert len(errors) == 1
    message = str(errors[0])
    assert message.startswith(str(tmp_path / name)) and "\n" not in message
    assert "nest" in message


def test_pods_read_from_files_are_slim(tmp_path: Path) -> None:
    path = tmp_path / "pod.yaml"
    path.write_text(yaml.safe_dump(dict(POD, status={"phase": "Running", "podIP": "1.2.3.4"})))
    inventory = read_files([str(path)], [])
    (pod,) = inventory.pods
    assert "env" not in pod["spec"]["containers"][0]
    assert pod["spec"]["containers"][0]["image"] == "registry:5000/app:1"
    assert pod["status"] == {"phase": "Running"}


@pytest.mark.parametrize("value", [
    {"a": 1e20, "b": "x"}, {"a": "1e5", "b": [1, 2, {}], "c": None}, {"a": 0.00001},
    {"é": [{}], "ctl": "\x1b[31m\u2028", "n": 10**30}, {"a": -0.00002, "b": 1e-300, "c": 1.5},
    [], {"k": (1, 2), "t": True},
])
def test_indented_json_is_byte_for_byte_the_stdlib(value: object) -> None:
    from migrator.model.serialise import to_json

    assert to_json(value, indent=2) == json.dumps(value, indent=2, ensure_ascii=False)


YAML_CASES = [
    "a: yes\nb: 'yes'\n", "a: on\n", "a: ~\n", "a: 0755\n", "a: 1e3\n", "a: 1.5e3\n",
    "a: 1.5e+3\n", "a: 12:30\n", "80: x\n", "a: &x {b: 1}\nc: *x\n", "a: !!str 5\n",
    "base: &b {x: 1}\nm:\n  <<: *b\n  y: 2\n", "a: =\n", "a: .inf\n", "a: +1\n", "a: 0x1F\n",
    "a: 1_000\n", "a: 0o17\n", "a: -0\n", "a: 10.244.1.5\n", "a: 1.\n", "a: .5\n",
    "a: True\n", "a: NULL\n", "a:\n", "a: ''\n", "a: 'it''s'\n", 'a: "tab\\there \\u00e9"\n',
    "a: |\n  line one\n  line two\n", "a: >-\n  folded\n  text\n\n", "a: plain\n  continued\n",
    "{a: 1, b: [x, y], 3: z}\n", "a: [1, 2.5, -3, 'q']\n", "a: 2024-05-01T10:00:00Z\n",
    "kind: Pod\nmetadata: {name: x, labels: {on: 'no'}}\n", "---\n---\na: 1\n...\n---\nb: 2\n",
    "- 1\n- two\n", "just text\n", "",
    "# c\n---\na: 1\n---\n# only a comment\n---\nb: 2\n", "a: 1\n---\n\n---\nb: |\n  x\n  ---y\n",
    "--- # first\na: 1\n--- {b: 2}\n", "a: 1\n---\nkind: Pod\nspec: {}\nspec: {}\n",
    "apiVersion: v1\nitems:\n- kind: Pod\n  metadata:\n    name: a\n- kind: Pod\n  metadata:\n"
    "    name: b\n  spec:\n    hostPID: true\nkind: List\nmetadata:\n  resourceVersion: ''\n",
    "apiVersion: v1\nitems:\n- kind: Pod\n  metadata:\n    name: a\n  spec: {}\n  spec:\n"
    "    hostPID: true\nkind: List\n",
]


@pytest.mark.parametrize("text", YAML_CASES)
def test_yaml_reads_exactly_as_pyyaml_does(tmp_path: Path, text: str) -> None:
    from migrator.files import manifests

    path = tmp_path / "case.yaml"
    path.write_text(text, encoding="utf-8")
    expected_errors: list[ManifestError] = []
    expected: list[tuple[int, object]] = []
    try:
        for d in manifests._load_yaml(text, str(path), expected_errors):
            expected.append((d.index, d.obj))
    except ManifestError as exc:
        expected_errors.append(exc)
    errors: list[ManifestError] = []
    got = [(d.index, d.obj) for d in load_documents([str(path)], errors)]
    assert got == expected
    assert [str(e) for e in errors] == [str(e) for e in expected_errors]


def test_the_fast_yaml_path_reads_kubectl_lists_and_refuses_what_it_cannot_vouch_for() -> None:
    from migrator.files import manifests

    listing = YAML_CASES[-2]
    done = [0]
    docs = list(manifests._load_yaml_fast(listing, "x.yaml", None, done))
    assert [d.obj["metadata"]["name"] for d in docs] == ["a", "b"] and done == [2]
    for hazard in ("a: yes\n", "a: 0755\n", "a: 1e3\n", "80: x\n", "a: &x 1\n", "a: ~\n"):
        with pytest.raises(manifests._NotFast):
            list(manifests._load_yaml_fast(hazard, "x.yaml", None, [0]))


def test_replicas_read_from_files_share_their_container_lists(tmp_path: Path) -> None:
    pods = [dict(POD, metadata={"name": f"web-{i}", "namespace": "shop"}) for i in range(3)]
    other = json.loads(json.dumps(POD))
    other["metadata"] = {"name": "other", "namespace": "shop"}
    other["spec"]["containers"][0]["image"] = "other:2"
    path = tmp_path / "pods.json"
    path.write_text(json.dumps({"kind": "List", "items": [*pods, other]}))
    inventory = read_files([str(path)], [])
    lists = [p["spec"]["containers"] for p in inventory.pods]
    assert lists[0] is lists[1] is lists[2] and lists[3] is not lists[0]
    assert lists[3][0]["image"] == "other:2" and lists[0][0]["image"] == "registry:5000/app:1"
