"""Names the API server would refuse are invalid objects; text from objects is escaped for
Markdown (reports, pull-request description) and for the terminal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from migrator.cli.main import app
from migrator.model.escape import md, md_code, md_fence, terminal
from migrator.model.names import invalid_name
from migrator.report.templating import render


def pod(name: object, namespace: object = "ns", **meta: object) -> dict[str, object]:
    metadata = {"namespace": namespace, **meta}
    if name is not None:
        metadata["name"] = name
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata,
            "spec": {"containers": [{"name": "c", "image": "x"}]}}


@pytest.mark.parametrize("obj", [
    pod("web"), pod("web-1.example"), pod(None, generateName="web-"),
    {"kind": "ClusterRole", "metadata": {"name": "system:controller:Job"}},
    {"kind": "RoleBinding", "metadata": {"name": "Admin:Edit", "namespace": "ns"}},
    {"kind": "Namespace", "metadata": {"name": "team-a"}},
    {"kind": "CronJob", "metadata": {"name": "a" * 52}},
    {"kind": "ConfigMap", "metadata": {"name": "Not_Read"}},
])
def test_names_the_server_accepts(obj: dict[str, object]) -> None:
    assert invalid_name(obj) is None


@pytest.mark.parametrize(("obj", "message"), [
    (pod("Web"), 'metadata.name "Web" must be a lowercase RFC 1123 subdomain'),
    (pod("a/b"), 'metadata.name "a/b" must be'),
    (pod("../etc"), 'metadata.name "../etc" must be'),
    (pod("x\x1b[31m"), 'metadata.name "x\\u001b[31m" must be'),
    (pod("a" * 254), "must be a lowercase RFC 1123 subdomain"),
    (pod(None), "metadata.name is missing"),
    (pod(None, generateName="Web-"), 'metadata.generateName "Web-" must be'),
    (pod(7), "metadata.name is a int, not a string"),
    (pod("web", namespace="a.b"), 'metadata.namespace "a.b" must be a lowercase RFC 1123 label'),
    ({"kind": "Namespace", "metadata": {"name": "a.b"}}, "RFC 1123 label"),
    ({"kind": "Namespace", "metadata": {"name": "a" * 64}}, "RFC 1123 label"),
    ({"kind": "ClusterRole", "metadata": {"name": "a/b"}}, "must be a path segment"),
    ({"kind": "Role", "metadata": {"name": "..", "namespace": "ns"}}, "must be a path segment"),
    ({"kind": "CronJob", "metadata": {"name": "a" * 53}}, "must be at most 52 characters"),
    ({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": "A"},
      "spec": {"template": {"spec": {"containers": []}}}}, "RFC 1123 subdomain"),
])
def test_names_the_server_refuses(obj: dict[str, object], message: str) -> None:
    problem = invalid_name(obj)
    assert problem is not None and message in problem


def test_check_reports_an_invalid_name_and_judges_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "pods.yaml"
    path.write_text('apiVersion: v1\nkind: Pod\nmetadata: {name: "web/../x", namespace: ns}\n'
                    "spec: {containers: [{name: c, image: x, securityContext: {privileged: true}}]}\n"
                    "---\napiVersion: v1\nkind: Pod\nmetadata: {name: ok, namespace: ns}\n"
                    "spec: {containers: [{name: c, image: x}]}\n")
    result = CliRunner().invoke(app, ["check", str(path), "--level", "baseline"])
    assert result.exit_code == 2
    assert (f'{path}:1: document 0 is not a valid object: metadata.name "web/../x" must be '
            "a lowercase RFC 1123 subdomain") in result.output
    assert "1 object checked at baseline:latest on a v1.36 server: 1 allowed, 0 denied" in \
        result.output


def test_markdown_escapes() -> None:
    assert md("a|b*c_ <x>\nd\x1b[2J") == "a\\|b\\*c\\_ &lt;x&gt; d\\\\x1b\\[2J"
    assert md_code("a`b") == "``a`b``"
    assert md_fence("x: 1\n```\nrm -rf /", "yaml") == "````yaml\nx: 1\n```\nrm -rf /\n````"
    assert terminal("red \x1b[31mtext\x07\n\tnext\u202e") == "red \\x1b[31mtext\\x07\n\tnext\\u202e"


def test_pull_request_description_escapes_what_it_inserts() -> None:
    item = {"label": "ns Deployment/web", "policy": "restricted:v1.30",
            "locations": ["apps/we`b.yaml#0"], "reasons": ["<img src=x onerror=alert(1)> | x"],
            "helm": None, "satisfies": [], "psp_defaults": [], "warnings": ["**bold** [x](y)"],
            "before": [], "summary": None, "changes": [], "hand_patch": "a: 1\n```\n# injected",
            "overlays": [],
            "psp": None, "advice": []}
    text = render("pr-description.md.j2", pin="v1.30", branch=None,
                  groups=[{"status": "manual", "title": "Apply by hand", "items": [item]}],
                  counts={"manual": 1}, files=[], unparseable=[], notes=["a | b"],
                  unpatched_defaults=[], residual=None)
    assert "<img" not in text and "&lt;img src=x onerror=alert(1)&gt; \\| x" in text
    assert "``apps/we`b.yaml#0``" in text
    assert "\\*\\*bold\\*\\* \\[x\\](y)" in text
    assert "````yaml\na: 1\n```\n# injected\n````" in text
    assert "- a \\| b" in text


def test_a_name_only_the_server_refuses_is_judged_with_a_warning(tmp_path: Path) -> None:
    """Reference fixtures are named like `capabilities_baseline0`: their verdict is still
    given, the name's problem is said, and the exit code is the verdict's."""
    path = tmp_path / "capabilities_baseline0.yaml"
    path.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: capabilities_baseline0}\n"
                    "spec: {containers: [{name: c, image: x, securityContext: "
                    "{capabilities: {add: [NET_ADMIN]}}}]}\n")
    result = CliRunner().invoke(app, ["check", str(path), "--level", "baseline", "-o", "json"])
    assert result.exit_code == 1, result.output
    (item,) = json.loads(result.stdout)["results"]
    assert item["outcome"] == "denied"
    assert item["violations"][0]["check"] == "capabilities_baseline"
    assert item["name_problem"].startswith('metadata.name "capabilities_baseline0" must be')
    assert "judged all the same" in result.stderr
