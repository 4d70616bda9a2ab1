"""`migrator audit` and `apply --phase enforce --evidence` through the command line.

The plan comes from tests/data/audit/cluster.yaml; the evidence from the audit log recorded
on a real 1.36 server (tests/data/audit/README.md); apply runs against the fake API server.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import jsonschema
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))

import fake_apiserver as fa  # noqa: E402
from test_apply import psa_evaluator  # noqa: E402

from migrator.cli.main import app  # noqa: E402
from migrator.errors import ManifestError  # noqa: E402
from migrator.files.source import read_files  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "audit"
LOG = DATA / "v1.36-audit.jsonl"
SCHEMA = json.loads((ROOT / "schemas" / "audit.schema.json").read_text())
P = "pod-security.kubernetes.io/"


def _plan(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["plan", str(DATA / "cluster.yaml"), "--out", str(out),
                                      "-q"])
    assert result.exit_code == 0, result.output
    return out


def _subset(tmp_path: Path, keep: tuple[int, ...]) -> Path:
    lines = LOG.read_text().splitlines()
    path = tmp_path / "subset.log"
    path.write_text("".join(lines[i - 1] + "\n" for i in keep))
    return path


def test_audit_text_json_and_fail_on(tmp_path: Path) -> None:
    out = _plan(tmp_path)
    runner = CliRunner()
    evidence = tmp_path / "audit.json"
    text = runner.invoke(app, ["audit", str(LOG), "--plan", str(out), "--out", str(evidence)])
    assert text.exit_code == 0, text.output
    assert ("audit-demo: blocked for enforce baseline: 2 pod creations of 6 violate "
            "baseline:v1.36") in text.stdout
    assert "Pod/privileged-deployer by deployer: 1 pod creation (privileged)" in text.stdout
    assert "sandbox: no evidence for enforce restricted" in text.stdout
    data = json.loads(evidence.read_text())
    jsonschema.validate(data, SCHEMA)
    assert {n["name"]: n["gate"] for n in data["namespaces"]} == {
        "audit-demo": "blocked", "audit-pinned": "blocked", "quiet": "no-evidence",
        "sandbox": "no-evidence"}

    again = runner.invoke(app, ["audit", str(LOG), "--plan", str(out), "--out", str(evidence)])
    assert again.exit_code == 2 and "exists; pass --force" in again.stderr

    gated = runner.invoke(app, ["audit", str(LOG), "--plan", str(out), "--fail-on",
                                "violations", "--format", "json"])
    assert gated.exit_code == 1
    assert json.loads(gated.stdout)["namespaces"] == data["namespaces"]
    assert "fail-on violations: audit-demo: 2 pod creations of 6" in gated.stderr

    ready = runner.invoke(app, ["audit", str(_subset(tmp_path, (3, 4, 10, 11))), "--plan",
                                str(out), "--fail-on", "violations"])
    assert ready.exit_code == 0, ready.output
    assert ("audit-demo: ready for enforce baseline: 0 violations in 0 seconds, 4 pod "
            "creations seen") in ready.stdout


def test_audit_window_and_bad_input(tmp_path: Path) -> None:
    runner = CliRunner()
    late = runner.invoke(app, ["audit", str(LOG), "--from", "2026-12-02", "--format", "json"])
    assert late.exit_code == 0
    assert all(n["pod_creations"] == 0 for n in json.loads(late.stdout)["namespaces"])
    since = runner.invoke(app, ["audit", str(LOG), "--since", "1h", "--until",
                                "2026-12-01T21:00:00Z", "--format", "json"])
    assert json.loads(since.stdout)["window"] == {"from": "2026-12-01T20:00:00Z",
                                                  "until": "2026-12-01T21:00:00Z"}
    bad = runner.invoke(app, ["audit", str(LOG), "--since", "a week"])
    assert bad.exit_code == 2 and "expected a duration" in bad.stderr
    missing = runner.invoke(app, ["audit", str(tmp_path / "nope.log")])
    assert missing.exit_code == 2 and "nope.log: no such file or folder" in missing.stderr
    broken = tmp_path / "broken.log"
    broken.write_text(LOG.read_text().splitlines()[3][:-40] + "\n")
    named = runner.invoke(app, ["audit", str(broken)])
    assert named.exit_code == 0
    assert f"warning: malformed line skipped: {broken}:1: not valid JSON" in named.stderr
    truncated = tmp_path / "audit.log.1.gz"
    import gzip

    truncated.write_bytes(gzip.compress(LOG.read_bytes())[:2000])
    incomplete = runner.invoke(app, ["audit", str(truncated)])
    assert incomplete.exit_code == 2 and "the evidence above is incomplete" in incomplete.stderr


def test_apply_enforce_refuses_what_the_evidence_does_not_clear(tmp_path: Path) -> None:
    out = _plan(tmp_path)
    runner = CliRunner()
    blocked = tmp_path / "blocked.json"
    ready = tmp_path / "ready.json"
    assert runner.invoke(app, ["audit", str(LOG), "--plan", str(out), "--out",
                               str(blocked)]).exit_code == 0
    # the compliant and restricted-only requests only: audit-demo is ready for baseline
    assert runner.invoke(app, ["audit", str(_subset(tmp_path, (1, 2, 3, 4, 6, 10, 11, 13))),
                               "--plan", str(out), "--out", str(ready)]).exit_code == 0
    errors: list[ManifestError] = []
    objects = list(read_files([str(DATA / "cluster.yaml")], errors).all_objects())
    with fa.v1_36() as server:
        server.add_all(objects)
        server.serve_namespace_patches(psa_evaluator(server))
        kubeconfig = str(fa.write_kubeconfig(tmp_path, server.url))
        refused = runner.invoke(app, ["apply", "--plan", str(out), "--phase", "enforce",
                                      "--evidence", str(blocked), "--yes",
                                      "--kubeconfig", kubeconfig])
        assert refused.exit_code == 1, refused.output
        assert ("refused: audit-demo: not cleared by" in refused.stderr
                and "blocked: 2 pod creations of 6 violate baseline:v1.36: "
                "Pod/privileged-admin by admin (1)" in refused.stderr)
        assert "refused: quiet: " in refused.stderr and "no evidence" in refused.stderr
        assert "no namespace is cleared" in refused.stderr
        assert server.non_get_requests() == []

        partial = runner.invoke(app, ["apply", "--plan", str(out), "--phase", "enforce",
                                      "--evidence", str(ready), "--yes", "--rollback-file",
                                      str(tmp_path / "rb1.json"), "--kubeconfig", kubeconfig])
        assert partial.exit_code == 1, partial.output
        assert server.namespace_labels("audit-demo")[P + "enforce"] == "baseline"
        assert P + "enforce" not in server.namespace_labels("audit-pinned")
        assert "3 namespaces refused by the evidence: audit-pinned, quiet, sandbox" in \
            partial.stdout

        forced = runner.invoke(app, ["apply", "--plan", str(out), "--phase", "enforce",
                                     "--evidence", str(blocked), "--allow-violations",
                                     "--yes", "--rollback-file", str(tmp_path / "rb2.json"),
                                     "--kubeconfig", kubeconfig])
        assert forced.exit_code == 0, forced.output
        assert "enforcing anyway (--allow-violations)" in forced.stderr
        assert server.namespace_labels("audit-pinned")[P + "enforce"] == "restricted"

    wrong_phase = runner.invoke(app, ["apply", "--plan", str(out), "--phase", "audit",
                                      "--evidence", str(blocked)])
    assert wrong_phase.exit_code == 2 and "--evidence applies to --phase enforce" in \
        wrong_phase.stderr
    unplanned = tmp_path / "unplanned.json"
    assert runner.invoke(app, ["audit", str(LOG), "--out", str(unplanned)]).exit_code == 0
    no_plan = runner.invoke(app, ["apply", "--plan", str(out), "--phase", "enforce",
                                  "--evidence", str(unplanned)])
    assert no_plan.exit_code == 2 and "made without --plan" in no_plan.stderr


def test_report_shows_the_evidence(tmp_path: Path) -> None:
    out = _plan(tmp_path)
    runner = CliRunner()
    evidence = tmp_path / "audit.json"
    assert runner.invoke(app, ["audit", str(LOG), "--plan", str(out), "--out",
                               str(evidence)]).exit_code == 0
    reports = tmp_path / "reports"
    result = runner.invoke(app, ["report", "--plan", str(out), "--evidence", str(evidence),
                                 "--out", str(reports)])
    assert result.exit_code == 0, result.output
    md = (reports / "report.md").read_text()
    section = md.split("## Evidence from audit logs", 1)[1].split("## Namespaces", 1)[0]
    assert "0 ready, 2 blocked, 2 without evidence" in section
    assert "| audit-demo | blocked | baseline | 6 | 2 | 0 | 2 |" in section
    assert "| sandbox | no-evidence | restricted | 0 | 0 | 1 | 0 |" in section
    assert ("- audit-demo: Pod/privileged-deployer by deployer: 1 pod creation (privileged)"
            in section)
    assert ("Audit evidence: audit-pinned: blocked for enforce restricted: 2 pod creations "
            "of 2 violate restricted:v1.36") in md
    html = (reports / "report.html").read_text()
    assert 'id="evidence"' in html and "<code>Pod/privileged-admin</code> by" in html
    data = json.loads((reports / "report.json").read_text())
    assert data["evidence"]["counts"] == {"ready": 0, "blocked": 2, "no-evidence": 2}
    # the violators are upgrade blockers, in the headline and for --fail-on
    assert data["headline"] == ("Not ready to upgrade: resolve 4 violating workloads in the "
                                "audit logs (in audit-demo and audit-pinned) first.")
    assert [f["subject"] for f in data["findings"]["blockers"]
            if f["rule"] == "audit-violations"] == [
        "audit-demo", "audit-demo", "audit-pinned", "audit-pinned"]
    gated = runner.invoke(app, ["report", "--plan", str(out), "--evidence", str(evidence),
                                "--out", str(reports), "--force", "--fail-on", "blockers"])
    assert gated.exit_code == 1
    assert "audit-violations: audit-demo: Pod/privileged-admin by admin" in gated.stdout
    # without --evidence there is no such section
    plain = runner.invoke(app, ["report", "--plan", str(out), "--out", str(tmp_path / "p")])
    assert plain.exit_code == 0
    plain_md = (tmp_path / "p" / "report.md").read_text()
    assert "Evidence from audit logs" not in plain_md and "Ready to upgrade" in plain_md


def test_generate_suggests_username_exemptions_from_the_evidence(tmp_path: Path) -> None:
    import yaml

    out = _plan(tmp_path)
    runner = CliRunner()
    evidence = tmp_path / "audit.json"
    assert runner.invoke(app, ["audit", str(LOG), "--plan", str(out), "--out",
                               str(evidence)]).exit_code == 0
    # a controller's pods violate too: it must be warned about, never exempted
    data = json.loads(evidence.read_text())
    data["exemption_candidates"].append({
        "username": "system:serviceaccount:kube-system:daemon-set-controller",
        "namespaces": ["audit-demo"], "violating_pod_creations": 3,
        "objects": ["DaemonSet/node-agent"], "controller": True, "suggest": False})
    evidence.write_text(json.dumps(data))
    generated = tmp_path / "gen"
    result = runner.invoke(app, ["generate", "--plan", str(out), "--out", str(generated),
                                 "--evidence", str(evidence)])
    assert result.exit_code == 0, result.output
    assert "note: admission configuration: username exemption admin: suggested" in result.stderr
    assert ("warning: admission configuration: not exempted: "
            "system:serviceaccount:kube-system:daemon-set-controller") in result.stderr
    text = (generated / "admission-config.yaml").read_text()
    body = yaml.safe_load(text)
    assert body["exemptions"]["usernames"] == ["admin", "deployer"]
    assert ("#   usernames deployer: suggested by the audit evidence: its own 2 pod creations "
            "violate the planned level in audit-demo, audit-pinned") in text
    assert ("# WARNING: not exempted: system:serviceaccount:kube-system:daemon-set-controller "
            "creates the violating pods of DaemonSet/node-agent in audit-demo") in text
    wrapped = yaml.safe_load((generated / "admission-configuration.yaml").read_text())
    assert wrapped["plugins"][0]["configuration"]["exemptions"]["usernames"] == [
        "admin", "deployer"]
    # without the evidence, no username is exempted
    plain = tmp_path / "plain"
    assert runner.invoke(app, ["generate", "--plan", str(out), "--out",
                               str(plain)]).exit_code == 0
    assert yaml.safe_load((plain / "admission-config.yaml").read_text())[
        "exemptions"]["usernames"] == []


def _evidence_outputs(tmp_path: Path, server: str, pin: str) -> tuple[str, str]:
    from demo import cwd

    runner = CliRunner()
    plan = tmp_path / f"plan-{pin}"
    with cwd(ROOT):
        assert runner.invoke(app, ["plan", "tests/data/audit/cluster.yaml", "--out", str(plan),
                                   "--pin-version", pin, "-q"]).exit_code == 0
        logs = [f"tests/data/audit/{server}-audit.jsonl",
                f"tests/data/audit/{server}-audit-metadata-level.jsonl"]
        text = runner.invoke(app, ["audit", *logs, "--plan", str(plan)])
        data = runner.invoke(app, ["audit", *logs, "--plan", str(plan), "--format", "json"])
    assert text.exit_code == 0 and data.exit_code == 0
    return text.stdout, data.stdout


def test_golden_evidence(tmp_path: Path) -> None:
    """The recorded logs' evidence, text and JSON, as the command prints them."""
    from golden import assert_golden

    text, data = _evidence_outputs(tmp_path, "v1.36", "latest")
    assert_golden("audit/v1.36.txt", text)
    assert_golden("audit/v1.36.json", data)
    text, data = _evidence_outputs(tmp_path, "v1.24", "v1.24")
    assert_golden("audit/v1.24.txt", text)
    assert_golden("audit/v1.24.json", data)


def test_audit_reads_stdin(tmp_path: Path) -> None:
    import gzip

    out = _plan(tmp_path)
    result = CliRunner().invoke(app, ["audit", "-", "--plan", str(out), "--format", "json"],
                                input=gzip.compress(LOG.read_bytes()))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["read"]["files"] == ["stdin"]
    assert {n["name"]: n["gate"] for n in data["namespaces"]}["audit-demo"] == "blocked"


def test_a_damaged_evidence_file_is_named(tmp_path: Path) -> None:
    out = _plan(tmp_path)
    runner = CliRunner()
    evidence = tmp_path / "audit.json"
    assert runner.invoke(app, ["audit", str(LOG), "--plan", str(out), "--out",
                               str(evidence)]).exit_code == 0
    data = json.loads(evidence.read_text())
    del data["namespaces"][0]["pod_creations"]
    data["namespaces"][1]["violators"] = [{"object": "Pod/x"}]
    evidence.write_text(json.dumps(data))
    for command in (["report", "--plan", str(out), "--out", str(tmp_path / "r")],
                    ["generate", "--plan", str(out), "--out", str(tmp_path / "g")],
                    ["apply", "--plan", str(out), "--phase", "enforce"]):
        result = runner.invoke(app, [*command, "--evidence", str(evidence)])
        assert result.exit_code == 2, result.output
        assert f"{evidence}: namespace audit-demo: missing or malformed pod_creations" in \
            result.stderr
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    result = runner.invoke(app, ["report", "--plan", str(out), "--out", str(tmp_path / "r2"),
                                 "--evidence", str(garbage)])
    assert result.exit_code == 2 and "not valid JSON" in result.stderr
