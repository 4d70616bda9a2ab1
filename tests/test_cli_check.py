"""`migrator check` end to end: files, directories, stdin, Lists, JSON contract, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from migrator.cli.main import app

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "fixtures" / "demo"

GOOD = """\
apiVersion: v1
kind: Pod
metadata: {name: good, namespace: ns}
spec:
  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: app
    image: x
    securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
"""
BAD = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: bad, namespace: ns}
spec:
  template:
    spec:
      hostPID: true
      containers:
      - {name: app, image: x}
"""


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_allowed_exits_zero(runner: CliRunner, tmp_path: Path) -> None:
    path = write(tmp_path, "good.yaml", GOOD)
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 0, result.output
    assert "1 object checked at restricted:latest on a v1.36 server: 1 allowed, 0 denied" in result.output


def test_denied_exits_one_and_reads_like_a_linter(runner: CliRunner, tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yaml", BAD)
    result = runner.invoke(app, ["check", str(path), "--level", "baseline", "--version", "v1.25"])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == f"{path}#0: Deployment ns/bad: denied at baseline:v1.25 on a v1.36 server"
    assert lines[1] == "  hostNamespaces: host namespaces (hostPID=true)"
    assert lines[2] == "    fix: remove hostNetwork, hostPID and hostIPC (or set them to false)"


def test_json_contract(runner: CliRunner, tmp_path: Path) -> None:
    write(tmp_path, "d/a.yaml", GOOD + "---\n" + BAD)
    result = runner.invoke(app, ["check", str(tmp_path / "d"), "-o", "json",
                                 "--level", "baseline", "--version", "v1.30"])
    assert result.exit_code == 1
    payload = json.loads(result.output)
    same = {"invalid": [], "name_problem": "", "warnings": [], "server_version": "v1.36",
            "depends_on_server_version": False, "by_server_version": []}
    assert payload == {
        "level": "baseline",
        "version": "v1.30",
        "server_version": "v1.36",
        "results": [
            {"source": f"{tmp_path / 'd' / 'a.yaml'}#0", "kind": "Pod", "namespace": "ns",
             "name": "good", "custom": False, "allowed": True, "outcome": "allowed",
             "violations": [], **same},
            {"source": f"{tmp_path / 'd' / 'a.yaml'}#1", "kind": "Deployment", "namespace": "ns",
             "name": "bad", "custom": False, "allowed": False, "outcome": "denied",
             "violations": [{"check": "hostNamespaces", "reason": "host namespaces",
                             "detail": "hostPID=true"}], **same},
        ],
    }


ANNOTATED = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: annotated, namespace: ns}
spec:
  template:
    metadata:
      annotations: {seccomp.security.alpha.kubernetes.io/pod: runtime/default}
    spec:
      securityContext: {runAsNonRoot: true}
      containers:
      - name: app
        image: x
        securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
"""


def test_server_version_decides_annotation_only_seccomp(runner: CliRunner,
                                                        tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", ANNOTATED)
    old = runner.invoke(app, ["check", str(path), "--server-version", "v1.24"])
    assert old.exit_code == 0, old.output
    assert ("allowed at restricted:latest on a v1.24 server; depends on the server version: "
            "allowed on v1.23–v1.26, denied on v1.27–v1.36") in old.output
    new = runner.invoke(app, ["check", str(path), "-o", "json"])
    assert new.exit_code == 1
    result = json.loads(new.output)["results"][0]
    assert result["server_version"] == "v1.36" and result["outcome"] == "denied"
    assert result["depends_on_server_version"] is True
    assert result["by_server_version"] == [{"outcome": "allowed", "servers": "v1.23–v1.26"},
                                           {"outcome": "denied", "servers": "v1.27–v1.36"}]
    assert [v["check"] for v in result["violations"]] == ["seccompProfile_restricted"]
    assert result["warnings"] == [
        "spec.template.metadata.annotations[seccomp.security.alpha.kubernetes.io/pod]: "
        'non-functional in v1.27+; use the "seccompProfile" field instead']


def test_invalid_create_and_bad_server_version(runner: CliRunner, tmp_path: Path) -> None:
    path = write(tmp_path, "j.yaml", GOOD.replace(
        "metadata: {name: good, namespace: ns}",
        "metadata: {name: good, namespace: ns, annotations: "
        "{seccomp.security.alpha.kubernetes.io/pod: unconfined}}"))
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 1
    assert "refused by a v1.36 server before Pod Security judges it (invalid)" in result.output
    assert ("spec.securityContext.seccompProfile.type: Forbidden: seccomp type in annotation "
            "and field must match") in result.output
    bad = runner.invoke(app, ["check", str(path), "--server-version", "latest"])
    assert bad.exit_code == 2
    assert "invalid server version 'latest'" in bad.output
    newer = runner.invoke(app, ["check", str(path), "--server-version", "v1.50"])
    assert "note: server v1.50 is newer than the newest modelled (v1.36)" in newer.output


def test_directories_are_recursive_and_sorted(runner: CliRunner, tmp_path: Path) -> None:
    write(tmp_path, "b/z.yml", GOOD)
    write(tmp_path, "a/y.json", json.dumps({"kind": "Pod", "metadata": {"name": "j"},
                                             "spec": {"containers": [{"name": "c"}]}}))
    write(tmp_path, "a/ignored.txt", "not yaml: [")
    result = runner.invoke(app, ["check", str(tmp_path), "-o", "json", "-l", "baseline"])
    assert result.exit_code == 0, result.output
    sources = [r["source"] for r in json.loads(result.output)["results"]]
    assert sources == [f"{tmp_path}/a/y.json#0", f"{tmp_path}/b/z.yml#0"]


def test_stdin_and_kind_list(runner: CliRunner) -> None:
    listed = {"apiVersion": "v1", "kind": "List", "items": [
        {"kind": "Pod", "metadata": {"name": "a"}, "spec": {"hostNetwork": True, "containers": []}},
        {"kind": "ConfigMap", "metadata": {"name": "cm"}},
        {"kind": "Pod", "metadata": {"name": "b"}, "spec": {"containers": []}},
    ]}
    result = runner.invoke(app, ["check", "-", "-l", "baseline", "-o", "json"],
                           input=json.dumps(listed))
    assert result.exit_code == 1
    results = json.loads(result.output)["results"]
    assert [(r["name"], r["allowed"]) for r in results] == [("a", False), ("b", True)]
    assert all(r["source"] == "-#0" for r in results)


def test_broken_file_is_named_with_its_line_and_others_still_run(
    runner: CliRunner, tmp_path: Path
) -> None:
    write(tmp_path, "a-broken.yaml", GOOD + "---\nkind: Pod\nmetadata: {name: x\n  spec: [\n")
    write(tmp_path, "b-good.yaml", GOOD)
    result = runner.invoke(app, ["check", str(tmp_path), "-o", "json"])
    assert result.exit_code == 2
    stderr = result.stderr
    assert f"error: {tmp_path}/a-broken.yaml:" in stderr
    assert "invalid YAML" in stderr
    assert "Traceback" not in result.output + stderr
    names = [r["name"] for r in json.loads(result.stdout)["results"]]
    assert names == ["good", "good"]


def test_missing_path_and_bad_options(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["check", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "no such file or directory" in result.stderr
    result = runner.invoke(app, ["check", str(DEMO), "--level", "strict"])
    assert result.exit_code == 2
    assert "invalid level 'strict'" in result.output + result.stderr
    result = runner.invoke(app, ["check", str(DEMO), "--version", "1.25"])
    assert result.exit_code == 2


def test_not_utf8_and_scalar_documents(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00kind")
    write(tmp_path, "scalar.yaml", "just a string\n")
    result = runner.invoke(app, ["check", str(tmp_path)])
    assert result.exit_code == 2
    assert "bin.yaml: not UTF-8 text" in result.stderr
    assert "scalar.yaml:1: document 0 is a str, not a Kubernetes object" in result.stderr


def test_demo_cluster(runner: CliRunner) -> None:
    result = runner.invoke(app, ["check", str(DEMO), "-o", "json", "-l", "baseline"])
    assert result.exit_code == 1
    denied = sorted(f'{r["kind"]} {r["namespace"]}/{r["name"]}'
                    for r in json.loads(result.output)["results"] if not r["allowed"])
    assert denied == [
        "CronJob batch/nightly-reconcile",
        "DaemonSet kube-system/calico-node",
        "DaemonSet kube-system/csi-node",
        "DaemonSet monitoring/node-exporter",
        "Deployment legacy/quarterly-report",
        "Pod kube-system/calico-node-7xk2p",
        "Pod kube-system/csi-node-q8w4d",
        "Pod monitoring/node-exporter-5kq8n",
    ]


def test_version_flag(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("migrator ")


def test_malformed_documents_are_named_and_the_rest_still_read(
    runner: CliRunner, tmp_path: Path
) -> None:
    write(tmp_path, "mixed.yaml", "kind: Pod\nmetadata: {name: a}\nspec: oops\n---\n"
          "kind: Pod\nmetadata: nope\n---\n" + GOOD + "---\n"
          "kind: List\nitems: [3, {kind: Pod, metadata: {name: b, labels: [x]}}]\n")
    result = runner.invoke(app, ["check", str(tmp_path), "-o", "json"])
    assert result.exit_code == 2
    assert f"{tmp_path}/mixed.yaml:1: document 0 is not a valid object: spec is a str" in result.stderr
    assert "document 1 is not a valid object: metadata is a str" in result.stderr
    assert "document 3 item 0 is not a valid object: not a mapping" in result.stderr
    assert "document 3 item 1 is not a valid object: metadata.labels is a list" in result.stderr
    assert [r["name"] for r in json.loads(result.stdout)["results"]] == ["good"]


def test_a_wrongly_typed_field_is_reported_once(runner: CliRunner, tmp_path: Path) -> None:
    write(tmp_path, "p.yaml", "kind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
          "  - {name: c, securityContext: [1]}\n")
    result = runner.invoke(app, ["check", str(tmp_path), "-o", "json"])
    violations = json.loads(result.stdout)["results"][0]["violations"]
    assert [v["reason"] for v in violations].count("malformed pod spec") == 1


def test_every_missing_path_is_named_and_a_file_is_read_once(
    runner: CliRunner, tmp_path: Path
) -> None:
    good = write(tmp_path, "d/good.yaml", GOOD)
    result = runner.invoke(app, ["check", str(tmp_path / "a"), str(good), str(tmp_path / "d"),
                                 str(tmp_path / "b"), "-o", "json"])
    assert result.exit_code == 2
    assert f"{tmp_path}/a: no such file" in result.stderr
    assert f"{tmp_path}/b: no such file" in result.stderr
    assert [r["source"] for r in json.loads(result.stdout)["results"]] == [f"{good}#0"]
