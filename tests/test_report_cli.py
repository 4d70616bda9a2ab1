"""`migrator report` through `migrator.app.report.run_report`: inputs (manifests, plan.json,
a live cluster, a fleet of contexts), files written, Helm history, exit codes of --fail-on,
and one-line errors instead of tracebacks."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import fake_apiserver as fa  # noqa: E402
from edge import edged  # noqa: E402
from test_report_helm import OTHER_MANIFEST_MARKER, VALUES_SECRET, release_secrets  # noqa: E402

from migrator.app.report import run_report  # noqa: E402
from migrator.errors import (  # noqa: E402
    EXIT_ERROR,
    EXIT_FINDINGS,
    EXIT_OK,
    ManifestError,  # noqa: E402
)
from migrator.files.source import read_files  # noqa: E402

run_report = edged(run_report)

DEMO = Path(__file__).resolve().parents[1] / "fixtures" / "demo"
FILES = ("report.html", "report.md", "report-details.md", "report.json", "plan.json")


class Output:
    """Collects what run_report prints."""

    def __init__(self) -> None:
        self.out: list[str] = []
        self.err: list[str] = []
        self.progress: list[str] = []

    def run(self, paths: list[str] | None = None, **kwargs: Any) -> int:
        return run_report(paths, echo=self.out.append, err=self.err.append,
                          progress=self.progress.append, **kwargs)

    @property
    def text(self) -> str:
        return "\n".join(self.out)

    @property
    def errors(self) -> str:
        return "\n".join(self.err)


def demo_objects() -> list[dict[str, Any]]:
    errors: list[ManifestError] = []
    inventory = read_files([str(DEMO)], errors)
    assert errors == []
    return list(inventory.all_objects())


def write_contexts(tmp_path: Path, servers: dict[str, str]) -> Path:
    """A kubeconfig with one context (cluster and user of the same name) per server URL."""
    config = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": n, "cluster": {"server": url, "insecure-skip-tls-verify": True}}
                     for n, url in servers.items()],
        "users": [{"name": n, "user": {"token": fa.DEFAULT_TOKEN}} for n in servers],
        "contexts": [{"name": n, "context": {"cluster": n, "user": n}} for n in servers],
        "current-context": next(iter(servers)),
    }
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


# -- from manifests ---------------------------------------------------------------------------


def test_report_from_manifests_writes_every_file(tmp_path: Path) -> None:
    o = Output()
    assert o.run([str(DEMO)], out=str(tmp_path / "r")) == EXIT_OK
    for name in FILES:
        assert (tmp_path / "r" / name).is_file()
    assert o.out[0].startswith("Not ready to upgrade, 2 blockers:")
    assert o.out[1].startswith("wrote ")


@pytest.mark.parametrize("fail_on, code, count", [
    pytest.param(None, EXIT_OK, 0, id="no-gate"),
    pytest.param("blockers", EXIT_FINDINGS, 2, id="blockers"),
    pytest.param("warnings", EXIT_FINDINGS, 12, id="warnings"),
])
def test_fail_on_exit_codes(tmp_path: Path, fail_on: str | None, code: int, count: int) -> None:
    o = Output()
    assert o.run([str(DEMO)], out=str(tmp_path), fail_on=fail_on, quiet=True) == code
    if count:
        assert o.out[0] == f"--fail-on {fail_on}: {count} findings"
        assert o.out[1].startswith("  rejected-today: batch: CronJob/nightly-reconcile")
        assert len(o.out) == count + 1
    else:
        assert o.out == []


def test_existing_report_needs_force(tmp_path: Path) -> None:
    o = Output()
    assert o.run([str(DEMO)], out=str(tmp_path), quiet=True) == EXIT_OK
    assert o.run([str(DEMO)], out=str(tmp_path), quiet=True) == EXIT_ERROR
    assert o.err == [f"error: {tmp_path}: report.html, report.md, report-details.md, report.json, "
                     "plan.json "
                     "already exist; pass --force to overwrite"]
    assert o.run([str(DEMO)], out=str(tmp_path), quiet=True, force=True) == EXIT_OK


def test_unreadable_manifests_exit_2_after_writing(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "bad.yaml").write_text("kind: [unclosed\n", encoding="utf-8")
    (src / "ns.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n",
                                 encoding="utf-8")
    o = Output()
    assert o.run([str(src)], out=str(tmp_path / "out"), quiet=True) == EXIT_ERROR
    assert "bad.yaml" in o.errors
    assert (tmp_path / "out" / "report.html").is_file()


def test_nothing_but_unreadable_files_is_nothing_to_report(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "bad.yaml").write_text("kind: [unclosed\n", encoding="utf-8")
    o = Output()
    assert o.run([str(src)], out=str(tmp_path / "out"), quiet=True) == EXIT_ERROR
    assert f"no Kubernetes objects found in {src}" in o.errors and "bad.yaml" in o.errors
    assert not (tmp_path / "out").exists()


# -- from plan.json -------------------------------------------------------------------------------


def test_report_from_plan_in_its_own_folder(tmp_path: Path) -> None:
    o = Output()
    assert o.run([str(DEMO)], out=str(tmp_path), quiet=True) == EXIT_OK
    for name in FILES[:4]:
        (tmp_path / name).unlink()
    plan_before = (tmp_path / "plan.json").read_text(encoding="utf-8")
    assert o.run(plan_file=str(tmp_path / "plan.json"), out=str(tmp_path)) == EXIT_OK, o.errors
    assert (tmp_path / "plan.json").read_text(encoding="utf-8") == plan_before
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert report["cleanup"]["rbac_known"] is True  # recorded in plan.json
    assert report["cluster"]["name"] == "manifests"


@pytest.mark.parametrize("content, message", [
    pytest.param("{not json", "not valid JSON", id="not-json"),
    pytest.param('{"schema": "other/v1"}', 'not a migrator plan (schema "other/v1"', id="schema"),
    pytest.param('{"schema": "migrator.plan/v1", "pin_version": "v1.24"}',
                 "plan lacks `target_version`", id="incomplete"),
])
def test_bad_plan_files_are_one_line_errors(tmp_path: Path, content: str, message: str) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(content, encoding="utf-8")
    o = Output()
    assert o.run(plan_file=str(plan), out=str(tmp_path / "out")) == EXIT_ERROR
    assert len(o.err) == 1 and message in o.err[0] and str(plan) in o.err[0]


def test_missing_plan_file(tmp_path: Path) -> None:
    o = Output()
    assert o.run(plan_file=str(tmp_path / "nope.json"), out=str(tmp_path)) == EXIT_ERROR
    assert "nope.json: no such file" in o.errors


@pytest.mark.parametrize("kwargs, message", [
    pytest.param({"paths": ["x"], "plan_file": "p.json"}, "either PATHS or --plan",
                 id="paths-and-plan"),
    pytest.param({"fail_on": "everything"}, "--fail-on must be one of: blockers, warnings",
                 id="fail-on"),
    pytest.param({"paths": ["x"], "contexts": ["a", "b"]}, "leave out PATHS and --plan",
                 id="fleet-with-paths"),
    pytest.param({"contexts": ["a"], "all_contexts": True}, "either --context or",
                 id="both-context-options"),
    pytest.param({"target": "v2.0"}, "--target-version", id="target"),
])
def test_usage_errors(tmp_path: Path, kwargs: dict[str, Any], message: str) -> None:
    o = Output()
    paths = kwargs.pop("paths", None)
    assert o.run(paths, out=str(tmp_path), **kwargs) == EXIT_ERROR
    assert len(o.err) == 1 and message in o.err[0]


# -- live, with Helm history ---------------------------------------------------------------------------


def test_live_report_with_helm_history(tmp_path: Path) -> None:
    with fa.FakeApiServer("v1.24.17", psp="policy") as server:
        server.add_all(demo_objects())
        server.add(*release_secrets())
        url = server.url
        kubeconfig = fa.write_kubeconfig(tmp_path, url, context="prod")
        o = Output()
        code = o.run(kubeconfig=str(kubeconfig), out=str(tmp_path / "out"), helm_history=True,
                     fail_on="blockers")
        assert server.non_get_requests() == []
    assert code == EXIT_FINDINGS
    assert o.err == []
    assert o.progress == [f"reading {url} (context prod)",
                          "reading Helm release history (Secrets of type helm.sh/release.v1)"]
    assert "  helm-psp: Helm ingress/nginx: revision 1 (deployed) of chart mychart 1.2.3 holds " \
           "PodSecurityPolicy nginx-admission, nginx-psp" in o.out
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert report["cluster"]["name"] == "prod"
    assert [(r["name"], r["revision"]) for r in report["helm"]["current"]] == [("nginx", 1)]
    assert [(r["name"], r["revision"]) for r in report["helm"]["older"]] == [
        ("prom", 1), ("prom", 2)]
    assert report["cleanup"]["rbac_known"] is True
    for name in FILES:
        text = (tmp_path / "out" / name).read_text(encoding="utf-8")
        assert VALUES_SECRET not in text and OTHER_MANIFEST_MARKER not in text
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "helm mapkubeapis nginx --namespace ingress" in html


def test_forbidden_helm_history_is_a_warning(tmp_path: Path) -> None:
    with fa.FakeApiServer("v1.24.17", psp="policy") as server:
        server.add_all(demo_objects())
        server.forbid("secrets")
        kubeconfig = fa.write_kubeconfig(tmp_path, server.url)
        o = Output()
        code = o.run(kubeconfig=str(kubeconfig), out=str(tmp_path / "out"), helm_history=True,
                     quiet=True)
    assert code == EXIT_OK
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert report["helm"]["unreadable"].startswith("forbidden: ")
    assert any(f["rule"] == "helm-rollback" and "not read" in f["text"]
               for f in report["findings"]["warnings"])


def test_plan_file_with_helm_history_reads_only_secrets(tmp_path: Path) -> None:
    o = Output()
    assert o.run([str(DEMO)], out=str(tmp_path / "a"), quiet=True) == EXIT_OK
    with fa.FakeApiServer("v1.24.17", psp="policy") as server:
        server.add(*release_secrets())
        kubeconfig = fa.write_kubeconfig(tmp_path, server.url)
        code = o.run(plan_file=str(tmp_path / "a" / "plan.json"), out=str(tmp_path / "b"),
                     kubeconfig=str(kubeconfig), helm_history=True, quiet=True)
        paths = {r.path for r in server.requests}
    assert code == EXIT_OK
    assert paths == {"/version", "/api/v1/secrets"}


def test_unreachable_cluster_is_one_line(tmp_path: Path) -> None:
    kubeconfig = fa.write_kubeconfig(tmp_path, fa.closed_port_url())
    o = Output()
    assert o.run(kubeconfig=str(kubeconfig), out=str(tmp_path / "out"), quiet=True) == EXIT_ERROR
    assert len(o.err) == 1 and "connection refused" in o.err[0]


# -- fleets ------------------------------------------------------------------------------------------


def test_fleet_one_failing_cluster_does_not_stop_the_others(tmp_path: Path) -> None:
    with fa.FakeApiServer("v1.24.17", psp="policy") as old, fa.v1_36() as new:
        old.add_all(demo_objects())
        kubeconfig = write_contexts(tmp_path, {
            "prod/eu": old.url, "staging": new.url, "broken": fa.closed_port_url()})
        o = Output()
        code = o.run(kubeconfig=str(kubeconfig), contexts=["prod/eu", "staging", "broken"],
                     out=str(tmp_path / "fleet"), fail_on="blockers")
    assert code == EXIT_ERROR
    fleet_dir = tmp_path / "fleet"
    for sub in ("prod_eu", "staging"):
        for name in FILES:
            assert (fleet_dir / sub / name).is_file()
    assert not (fleet_dir / "broken").exists()
    fleet = json.loads((fleet_dir / "fleet.json").read_text(encoding="utf-8"))
    rows = [(c["context"], c["status"], c["link"]) for c in fleet["clusters"]]
    assert rows == [("broken", "failed", None), ("prod/eu", "blocked", "prod_eu/report.html"),
                    ("staging", "ready", "staging/report.html")]
    assert "connection refused" in fleet["clusters"][0]["error"]
    assert fleet["headline"] == "3 clusters: 1 ready, 1 blocked, 1 could not be planned."
    index = (fleet_dir / "index.html").read_text(encoding="utf-8")
    assert 'href="prod_eu/report.html"' in index and 'href="staging/report.html"' in index
    assert "Could not be planned" in index
    assert "broken: cannot reach the API server" in o.errors
    assert "prod/eu: --fail-on blockers: 2 findings" in o.out


def test_all_contexts(tmp_path: Path) -> None:
    with fa.v1_36() as one, fa.v1_36() as two:
        kubeconfig = write_contexts(tmp_path, {"one": one.url, "two": two.url})
        o = Output()
        code = o.run(kubeconfig=str(kubeconfig), all_contexts=True, out=str(tmp_path / "f"),
                     fail_on="warnings", quiet=True)
        assert one.non_get_requests() == [] and two.non_get_requests() == []
    assert code == EXIT_OK, o.errors
    fleet = json.loads((tmp_path / "f" / "fleet.json").read_text(encoding="utf-8"))
    assert [c["context"] for c in fleet["clusters"]] == ["one", "two"]
    assert (tmp_path / "f" / "one" / "report.html").is_file()
    again = Output()
    assert again.run(kubeconfig=str(kubeconfig), all_contexts=True,
                     out=str(tmp_path / "f")) == EXIT_ERROR
    assert "exists; pass --force" in again.errors


def test_fleet_clusters_are_planned_concurrently(tmp_path: Path) -> None:
    import threading

    both_in_flight = threading.Barrier(2)
    waited: list[bool] = []

    def rendezvous(_request: fa.Request) -> None:
        try:
            both_in_flight.wait(timeout=20)
            waited.append(True)
        except threading.BrokenBarrierError:
            waited.append(False)
        return None  # then answer /version as usual

    with fa.v1_36() as one, fa.v1_36() as two:
        one.on("GET", "/version", rendezvous, times=1)
        two.on("GET", "/version", rendezvous, times=1)
        kubeconfig = write_contexts(tmp_path, {"one": one.url, "two": two.url})
        code = Output().run(kubeconfig=str(kubeconfig), contexts=["one", "two"],
                            out=str(tmp_path / "f"), quiet=True)
    assert code == EXIT_OK
    assert waited == [True, True]  # both requests were in flight at the same time
