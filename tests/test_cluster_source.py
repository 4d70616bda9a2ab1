"""The live cluster source, against the loopback API server double with the real client.

Every read test also checks that nothing but GET reached the server.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import fake_apiserver as fa  # noqa: E402

from migrator.cluster.client import (  # noqa: E402
    ClusterClient,
    RawResponse,
    connect,
    parse_warning_header,
    read_inventory,
)
from migrator.errors import ManifestError, SourceError  # noqa: E402
from migrator.files.manifests import load_documents  # noqa: E402
from migrator.files.snapshot import (  # noqa: E402
    SNAPSHOT_KIND,
    apply_snapshot_header,
    load_snapshot,
    read_snapshot_header,
    write_snapshot,
)
from migrator.model.inventory import Inventory, key_of  # noqa: E402

# ---------------------------------------------------------------------------------------
# helpers


def only_gets(server: fa.FakeApiServer) -> None:
    assert server.requests, "no request reached the server"
    assert server.non_get_requests() == []


def read(server: fa.FakeApiServer, tmp_path: Path, **kwargs: Any) -> Inventory:
    kubeconfig = fa.write_kubeconfig(tmp_path, server.url)
    with connect(str(kubeconfig)) as client:
        client.retry_delays = (0.0, 0.0)
        return read_inventory(client, **kwargs)


def names(objects: list[dict[str, Any]]) -> list[str]:
    return [o["metadata"]["name"] for o in objects]


def workload(kind: str, api_version: str, name: str, ns: str = "team-a") -> dict[str, Any]:
    template = {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "registry.example/app:1"}]}}
    spec: dict[str, Any] = {"selector": {"matchLabels": {"app": name}}, "template": template}
    if kind == "CronJob":
        spec = {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": template}}}
    elif kind == "PodTemplate":
        return {"apiVersion": api_version, "kind": kind,
                "metadata": {"name": name, "namespace": ns}, "template": template}
    elif kind == "Job":
        spec = {"template": template}
    return {"apiVersion": api_version, "kind": kind,
            "metadata": {"name": name, "namespace": ns}, "spec": spec}


WORKLOADS = [
    ("Deployment", "apps/v1"), ("StatefulSet", "apps/v1"), ("DaemonSet", "apps/v1"),
    ("ReplicaSet", "apps/v1"), ("ReplicationController", "v1"), ("PodTemplate", "v1"),
    ("Job", "batch/v1"), ("CronJob", "batch/v1"),
]


@pytest.fixture
def v124() -> Iterator[fa.FakeApiServer]:
    with fa.v1_24() as server:
        yield server


@pytest.fixture
def v136() -> Iterator[fa.FakeApiServer]:
    with fa.v1_36() as server:
        yield server


# ---------------------------------------------------------------------------------------
# the double answers like the recordings


def assert_answers_like(client: ClusterClient, names: tuple[str, ...]) -> None:
    for name in names:
        recording = fa.load_recording(name)
        request = recording["request"]
        response = client.request("GET", request["path"], request["query"])
        expected = recording["response"]
        assert response.status == expected["status"], name
        assert response.reason == expected["reason"], name
        assert response.header("Content-Type") == "application/json"
        assert response.json() == expected["body"], name
        assert response.warnings == expected["headers"]["Warning"], name


def test_double_answers_like_the_recordings(v136: fa.FakeApiServer, tmp_path: Path) -> None:
    kubeconfig = fa.write_kubeconfig(tmp_path, v136.url)
    with connect(str(kubeconfig)) as client:
        assert_answers_like(client, (
            "psp-list-missing.json", "psp-group-missing.json", "policy-group.json",
            "pods-list-bad-continue.json", "ns-not-found.json", "version.json",
        ))
        v136.forbid("pods", where="cluster")
        v136.forbid("clusterrolebindings", "rbac.authorization.k8s.io")
        assert_answers_like(client, ("pods-list-forbidden.json", "crb-list-forbidden.json"))
    only_gets(v136)


def test_double_serves_psp_pages_with_the_recorded_warning(
    v124: fa.FakeApiServer, tmp_path: Path
) -> None:
    recording = fa.load_recording("v1.24/psp-list-page1.json")
    assert recording["response"]["headers"]["Warning"] == [fa.PSP_DEPRECATION_WARNING]
    with connect(str(fa.write_kubeconfig(tmp_path, v124.url))) as client:
        page1 = client.request("GET", "/apis/policy/v1beta1/podsecuritypolicies", {"limit": "2"})
        token = page1.json()["metadata"]["continue"]
        page2 = client.request("GET", "/apis/policy/v1beta1/podsecuritypolicies",
                               {"limit": "2", "continue": token})
    assert page1.warnings == [fa.PSP_DEPRECATION_WARNING]
    body1, body2 = page1.json(), page2.json()
    recorded1 = recording["response"]["body"]
    recorded2 = fa.load_recording("v1.24/psp-list-page2.json")["response"]["body"]
    assert body1["items"] == recorded1["items"]
    assert body2["items"] == recorded2["items"]
    assert body1["metadata"]["remainingItemCount"] == 1
    assert "continue" not in body2["metadata"]
    assert set(body1) == set(recorded1)
    only_gets(v124)


def test_double_paginates_namespaced_lists_like_the_recording(
    v136: fa.FakeApiServer, tmp_path: Path
) -> None:
    page1 = fa.load_recording("pods-list-page1.json")
    page2 = fa.load_recording("pods-list-page2.json")
    recorded = fa.recorded_items("pods-list-page1.json") + fa.recorded_items(
        "pods-list-page2.json"
    )
    v136.add(*recorded, fa.pod("web-3", "shop"), fa.pod("elsewhere", "default"))
    with connect(str(fa.write_kubeconfig(tmp_path, v136.url))) as client:
        path = page1["request"]["path"]
        first = client.request("GET", path, page1["request"]["query"]).json()
        token = first["metadata"]["continue"]
        second = client.request("GET", path, {"limit": "2", "continue": token}).json()
        selected = client.request("GET", path, {"labelSelector": "app=web-1"}).json()
    for got, recording in ((first, page1), (second, page2)):
        expected = recording["response"]["body"]
        assert got["kind"] == "PodList" and got["apiVersion"] == "v1"
        assert got["items"] == expected["items"]
        assert got["metadata"]["remainingItemCount"] == expected["metadata"]["remainingItemCount"]
        ours = fa.decode_continue(got["metadata"]["continue"])[0]
        theirs = fa.decode_continue(expected["metadata"]["continue"])[0]
        assert ours == theirs  # same start key: the last name served, as etcd keys sort
    assert [i["metadata"]["name"] for i in selected["items"]] == ["web-1"]
    assert "remainingItemCount" not in selected["metadata"]
    only_gets(v136)


# ---------------------------------------------------------------------------------------
# reading


def test_v1_24_reads_psps_and_their_rbac(v124: fa.FakeApiServer, tmp_path: Path) -> None:
    inventory = read(v124, tmp_path)
    assert inventory.server_version == "v1.24.0-alpha.1+ab451280a0ea81"
    assert inventory.psp_api is True
    assert names(inventory.psps) == ["baseline-ish", "privileged", "restricted-mutating"]
    recorded = fa.recorded_items("v1.24/psp-list-page1.json") + fa.recorded_items(
        "v1.24/psp-list-page2.json"
    )
    assert inventory.psps == recorded  # exactly as served, kind and apiVersion filled in
    assert all(p["apiVersion"] == "policy/v1beta1" for p in inventory.psps)
    assert names(inventory.cluster_roles) == ["psp:privileged", "psp:restricted"]
    assert names(inventory.role_bindings) == ["deployer-pod-creator", "psp-restricted"]
    assert names(inventory.cluster_role_bindings) == ["psp-privileged-node-agent"]
    assert inventory.cluster_role_bindings[0]["kind"] == "ClusterRoleBinding"
    assert names(inventory.namespaces) == ["default", "infra", "kube-system", "team-a"]
    assert inventory.unreadable == []
    assert inventory.origins[("PodSecurityPolicy", "", "privileged")] == "cluster:test"
    # the deprecation warning was received on every PSP request and did no harm
    psp_requests = v124.requests_to("/apis/policy/v1beta1/podsecuritypolicies")
    assert len(psp_requests) == 1
    assert v124.requests_to("/apis/extensions/v1beta1/podsecuritypolicies") == []
    only_gets(v124)


def test_v1_36_has_no_psp_api_and_that_is_no_error(
    v136: fa.FakeApiServer, tmp_path: Path
) -> None:
    inventory = read(v136, tmp_path)
    assert inventory.server_version == "v1.36.2"
    assert inventory.psp_api is False
    assert inventory.psps == []
    assert inventory.unreadable == []
    assert len(v136.requests_to("/apis/policy/v1beta1/podsecuritypolicies")) == 1
    assert len(v136.requests_to("/apis/extensions/v1beta1/podsecuritypolicies")) == 1
    only_gets(v136)


def test_very_old_server_serves_psps_under_extensions(tmp_path: Path) -> None:
    psp = {**fa.recorded_items("v1.24/psp-list-page1.json")[1],
           "apiVersion": "extensions/v1beta1"}
    with fa.FakeApiServer("v1.15.12", psp="extensions", cronjob_versions=("v1beta1",)) as server:
        server.add(fa.namespace("default"), psp)
        inventory = read(server, tmp_path)
    assert inventory.psp_api is True
    assert [(p["apiVersion"], p["metadata"]["name"]) for p in inventory.psps] == [
        ("extensions/v1beta1", "privileged")
    ]
    only_gets(server)


def test_every_workload_kind_is_read_with_kind_and_api_version(
    v136: fa.FakeApiServer, tmp_path: Path
) -> None:
    v136.add(*(workload(kind, api, f"w-{kind.lower()}") for kind, api in WORKLOADS))
    v136.add({"apiVersion": "v1", "kind": "ServiceAccount",
              "metadata": {"name": "deployer", "namespace": "team-a"}})
    v136.add({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
              "metadata": {"name": "pod-creator", "namespace": "team-a"}, "rules": []})
    v136.add({"apiVersion": "v1", "kind": "Secret",
              "metadata": {"name": "token", "namespace": "team-a"}, "data": {"k": "dg=="}})
    inventory = read(v136, tmp_path)
    got = sorted((w["kind"], w["apiVersion"], w["metadata"]["name"]) for w in inventory.workloads)
    assert got == sorted((k, a, f"w-{k.lower()}") for k, a in WORKLOADS)
    assert [(s["kind"], s["apiVersion"]) for s in inventory.service_accounts] == [
        ("ServiceAccount", "v1")
    ]
    assert [r["kind"] for r in inventory.roles] == ["Role"]
    assert not any(o.get("kind") == "Secret" for o in inventory.all_objects())
    assert not any(r.path.endswith("/secrets") for r in v136.requests)
    only_gets(v136)


def test_cronjobs_fall_back_to_batch_v1beta1(tmp_path: Path) -> None:
    with fa.FakeApiServer("v1.20.15", psp="policy", cronjob_versions=("v1beta1",)) as server:
        server.add(workload("CronJob", "batch/v1beta1", "nightly"))
        inventory = read(server, tmp_path)
    assert [(w["apiVersion"], w["kind"]) for w in inventory.workloads] == [
        ("batch/v1beta1", "CronJob")
    ]
    assert [r.path for r in server.requests if "cronjobs" in r.path] == [
        "/apis/batch/v1/cronjobs", "/apis/batch/v1beta1/cronjobs"
    ]
    assert inventory.unreadable == []
    only_gets(server)


def test_pagination_reads_every_page(v136: fa.FakeApiServer, tmp_path: Path) -> None:
    v136.add(*(fa.pod(f"pod-{i:04d}", f"ns-{i % 7}") for i in range(1203)))
    seen: list[tuple[str, int]] = []
    inventory = read(v136, tmp_path, progress=lambda what, n: seen.append((what, n)))
    assert len(inventory.pods) == 1203
    assert len({key_of(p) for p in inventory.pods}) == 1203
    pod_requests = v136.requests_to("/api/v1/pods")
    assert len(pod_requests) == 3
    assert [r.query.get("limit") for r in pod_requests] == ["500", "500", "500"]
    assert "continue" not in pod_requests[0].query
    assert all(r.query.get("continue") for r in pod_requests[1:])
    assert [n for what, n in seen if what == "pods"] == [500, 1000, 1203]
    # pods are slimmed as they arrive: env and status details are gone
    first = inventory.pods[0]
    assert first["kind"] == "Pod" and first["apiVersion"] == "v1"
    assert "env" not in first["spec"]["containers"][0]
    assert first["status"] == {"phase": "Running"}
    only_gets(v136)


def test_forbidden_pods_are_recorded_as_unreadable(
    v124: fa.FakeApiServer, tmp_path: Path
) -> None:
    v124.forbid("pods", where="cluster")
    v124.add(fa.pod("web", "team-a"))
    inventory = read(v124, tmp_path)
    assert inventory.pods == []
    [entry] = inventory.unreadable
    assert entry.what == "pods in all namespaces"
    assert entry.reason == (
        'forbidden: pods is forbidden: User "system:serviceaccount:tools:reader" cannot list '
        'resource "pods" in API group "" at the cluster scope'
    )
    assert "running pods are not evaluated" in entry.consequence
    assert "mutated pods cannot be detected" in entry.consequence
    assert len(inventory.psps) == 3  # the rest was read
    only_gets(v124)


def test_forbidden_clusterrolebindings_are_recorded_as_unreadable(
    v124: fa.FakeApiServer, tmp_path: Path
) -> None:
    v124.forbid("clusterrolebindings", "rbac.authorization.k8s.io")
    inventory = read(v124, tmp_path)
    assert inventory.cluster_role_bindings == []
    [entry] = inventory.unreadable
    recorded = fa.load_recording("crb-list-forbidden.json")["response"]["body"]["message"]
    assert entry.what == "clusterrolebindings"
    assert entry.reason == f"forbidden: {recorded}"
    assert "ClusterRoleBindings" in entry.consequence
    assert names(inventory.cluster_roles) == ["psp:privileged", "psp:restricted"]
    only_gets(v124)


def test_forbidden_psps_still_tell_whether_the_api_is_served(
    v124: fa.FakeApiServer, tmp_path: Path
) -> None:
    v124.forbid("podsecuritypolicies", "policy")
    inventory = read(v124, tmp_path)
    assert inventory.psps == []
    assert inventory.psp_api is True  # from discovery of policy/v1beta1
    assert [u.what for u in inventory.unreadable] == ["podsecuritypolicies"]
    assert "--psp-from" in inventory.unreadable[0].consequence
    only_gets(v124)


def test_410_mid_list_restarts_the_list(v136: fa.FakeApiServer, tmp_path: Path) -> None:
    v136.add(*(fa.pod(f"pod-{i:04d}", "shop") for i in range(1203)))
    v136.expire_once("pods", after_pages=1,
                     then=lambda server: server.add(fa.pod("late-arrival", "shop")))
    inventory = read(v136, tmp_path)
    pod_names = names(inventory.pods)
    assert len(pod_names) == 1204
    assert len(set(pod_names)) == 1204
    assert "late-arrival" in pod_names
    pod_requests = v136.requests_to("/api/v1/pods")
    starts = [r for r in pod_requests if "continue" not in r.query]
    assert len(starts) == 2  # the first read, then one restart from the beginning
    assert len(pod_requests) == 2 + 3  # first page, expired page, then three pages
    assert inventory.unreadable == []
    only_gets(v136)


def test_410_forever_gives_up_after_three_restarts(
    v136: fa.FakeApiServer, tmp_path: Path
) -> None:
    v136.add(*(fa.pod(f"pod-{i}", "shop") for i in range(600)))

    def compact_on_continue(request: fa.Request) -> None:
        if "continue" in request.query:
            v136.compact()

    v136.on("GET", "/api/v1/pods", compact_on_continue)
    inventory = read(v136, tmp_path)
    assert inventory.pods == []
    [entry] = inventory.unreadable
    assert entry.what == "pods in all namespaces"
    assert entry.reason.startswith("expired:")
    assert "too old" in entry.reason
    starts = [r for r in v136.requests_to("/api/v1/pods") if "continue" not in r.query]
    assert len(starts) == 4
    only_gets(v136)


def test_bad_continue_token_restarts_the_list_once(
    v136: fa.FakeApiServer, tmp_path: Path
) -> None:
    v136.add(*(fa.pod(f"pod-{i:04d}", "shop") for i in range(700)))
    bad = fa.load_recording("pods-list-bad-continue.json")["request"]["query"]["continue"]

    def first_page_with_a_bad_token(request: fa.Request) -> fa.Reply | None:
        if "continue" in request.query:
            return None
        return fa.Reply(200, {"kind": "PodList", "apiVersion": "v1",
                              "metadata": {"resourceVersion": "5", "continue": bad},
                              "items": []})

    v136.on("GET", "/api/v1/pods", first_page_with_a_bad_token, times=1)
    inventory = read(v136, tmp_path)
    assert len(inventory.pods) == 700
    assert len({key_of(p) for p in inventory.pods}) == 700
    queries = [r.query for r in v136.requests_to("/api/v1/pods")]
    assert queries[1] == {"limit": "500", "continue": bad}
    assert inventory.unreadable == []
    only_gets(v136)


def test_server_errors_are_retried(v136: fa.FakeApiServer, tmp_path: Path) -> None:
    v136.add({"apiVersion": "v1", "kind": "ServiceAccount",
              "metadata": {"name": "builder", "namespace": "ci"}})
    v136.fail("/api/v1/serviceaccounts", 503, times=2)
    inventory = read(v136, tmp_path)
    assert names(inventory.service_accounts) == ["builder"]
    assert len(v136.requests_to("/api/v1/serviceaccounts")) == 3
    assert inventory.unreadable == []
    only_gets(v136)


def test_server_errors_that_persist_become_unreadable(
    v136: fa.FakeApiServer, tmp_path: Path
) -> None:
    v136.fail("/apis/apps/v1/daemonsets", 500, times=10)
    inventory = read(v136, tmp_path)
    [entry] = inventory.unreadable
    assert entry.what == "daemonsets in all namespaces"
    assert entry.reason.startswith("server error 500 Internal Server Error after 3 attempts")
    assert "DaemonSet pod templates are not evaluated" == entry.consequence
    assert len(v136.requests_to("/apis/apps/v1/daemonsets")) == 3
    only_gets(v136)


# ---------------------------------------------------------------------------------------
# connection failures


def test_unreachable_server_is_one_line(tmp_path: Path) -> None:
    url = fa.closed_port_url()
    kubeconfig = fa.write_kubeconfig(tmp_path, url)
    with pytest.raises(SourceError) as caught:
        connect(str(kubeconfig), timeout=5)
    message = str(caught.value)
    assert "\n" not in message
    assert url in message and "context test" in message
    assert "connection refused" in message


def test_slow_server_times_out(v136: fa.FakeApiServer, tmp_path: Path) -> None:
    v136.delay("/version", 5)
    kubeconfig = fa.write_kubeconfig(tmp_path, v136.url)
    with pytest.raises(SourceError, match=r"did not answer within 0\.3s") as caught:
        connect(str(kubeconfig), timeout=0.3)
    assert "\n" not in str(caught.value)


def test_rejected_credentials(v136: fa.FakeApiServer, tmp_path: Path) -> None:
    kubeconfig = fa.write_kubeconfig(tmp_path, v136.url, token="wrong")
    with pytest.raises(SourceError, match="rejected the credentials") as caught:
        connect(str(kubeconfig))
    assert "401" in str(caught.value) and v136.url in str(caught.value)


def test_401_during_a_read(v136: fa.FakeApiServer, tmp_path: Path) -> None:
    kubeconfig = fa.write_kubeconfig(tmp_path, v136.url)
    with connect(str(kubeconfig)) as client:
        v136.token = "rotated"
        with pytest.raises(SourceError, match="401"):
            read_inventory(client)
    only_gets(v136)


def test_missing_kubeconfig_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(SourceError, match=f"kubeconfig {missing}: no such file"):
        connect(str(missing))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("clusters: [\n  - name: x\n  bad", "invalid YAML"),
        ("- just\n- a list\n", "not a kubeconfig"),
        ("apiVersion: v1\nkind: Config\ncontexts: {}\n", "contexts"),
        (
            "apiVersion: v1\nkind: Config\ncurrent-context: a\n"
            "contexts: [{name: a, context: {cluster: gone, user: u}}]\nclusters: []\n",
            "gone",
        ),
    ],
)
def test_broken_kubeconfig_is_named(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "config"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SourceError) as caught:
        connect(str(path))
    message = str(caught.value)
    assert str(path) in message and expected in message
    assert "\n" not in message


def test_unknown_context(v136: fa.FakeApiServer, tmp_path: Path) -> None:
    kubeconfig = fa.write_kubeconfig(tmp_path, v136.url, context="prod")
    with pytest.raises(SourceError) as caught:
        connect(str(kubeconfig), context="staging")
    assert str(caught.value) == (
        f"kubeconfig {kubeconfig}: no context named 'staging' (available: prod)"
    )
    assert v136.requests == []


def test_kubeconfig_env_and_explicit_context(
    v136: fa.FakeApiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = fa.write_kubeconfig(tmp_path, fa.closed_port_url(), context="elsewhere",
                                filename="a")
    second = fa.write_kubeconfig(tmp_path, v136.url, context="fake", filename="b",
                                 current=False)
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(first), str(second)]))
    monkeypatch.setenv("HOME", str(tmp_path))
    with connect(context="fake") as client:
        assert client.origin == "cluster:fake"
        inventory = read_inventory(client)
    assert names(inventory.namespaces) == ["default", "kube-system"]
    assert set(inventory.origins.values()) == {"cluster:fake"}
    only_gets(v136)


def test_no_kubeconfig_anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(SourceError, match="no kubeconfig"):
        connect()


def test_in_cluster_without_service_account(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    with pytest.raises(SourceError, match="in-cluster configuration"):
        connect()


# ---------------------------------------------------------------------------------------
# PSPs from files


PSP_FILE = """\
apiVersion: policy/v1beta1
kind: PodSecurityPolicy
metadata:
  name: legacy-restricted
spec:
  privileged: false
  runAsUser: {rule: MustRunAsNonRoot}
  seLinux: {rule: RunAsAny}
  supplementalGroups: {rule: RunAsAny}
  fsGroup: {rule: RunAsAny}
  volumes: [configMap, secret]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: psp:restricted
  creationTimestamp: 2021-03-04T05:06:07Z
rules:
- apiGroups: [policy]
  resources: [podsecuritypolicies]
  verbs: [use]
  resourceNames: [legacy-restricted]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: ignored, namespace: default}
"""


def test_psp_from_files_with_a_live_cluster(v136: fa.FakeApiServer, tmp_path: Path) -> None:
    live_role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                 "metadata": {"name": "psp:restricted"}, "rules": []}
    other_role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                  "metadata": {"name": "view"}, "rules": []}
    v136.add(live_role, other_role)
    psp_file = tmp_path / "psps.yaml"
    psp_file.write_text(PSP_FILE, encoding="utf-8")
    inventory = read_live_with_policy_files(v136, tmp_path, [str(psp_file)])
    assert names(inventory.psps) == ["legacy-restricted"]
    assert inventory.origins[("PodSecurityPolicy", "", "legacy-restricted")] == f"{psp_file}#0"
    # the file's ClusterRole replaces the live one of the same name; others stay live
    roles = {r["metadata"]["name"]: r for r in inventory.cluster_roles}
    assert set(roles) == {"psp:restricted", "view"}
    assert roles["psp:restricted"]["rules"][0]["resourceNames"] == ["legacy-restricted"]
    assert roles["psp:restricted"]["metadata"]["creationTimestamp"] == "2021-03-04T05:06:07Z"
    assert inventory.origins[("ClusterRole", "", "psp:restricted")] == f"{psp_file}#1"
    assert inventory.origins[("ClusterRole", "", "view")] == "cluster:test"
    assert inventory.skipped["ConfigMap"] == 1
    assert inventory.psp_api is False  # discovery only
    assert v136.requests_to("/apis/policy/v1beta1/podsecuritypolicies") == []
    assert v136.requests_to("/apis/extensions/v1beta1/podsecuritypolicies") == []
    only_gets(v136)


def read_live_with_policy_files(server: fa.FakeApiServer, tmp_path: Path, psp_from: list[str],
                                errors: list[ManifestError] | None = None) -> Inventory:
    """The live read of `server` with `--psp-from` files, through the one pipeline."""
    from migrator.app.pipeline import read_source

    kubeconfig = fa.write_kubeconfig(tmp_path, server.url)
    found: list[ManifestError] = [] if errors is None else errors
    source = read_source(None, errors=found, kubeconfig=str(kubeconfig), psp_from=psp_from)
    assert source.live
    return source.inventory


def test_psp_from_a_broken_file_is_named_and_the_rest_is_read(
    v136: fa.FakeApiServer, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: PodSecurityPolicy\nmetadata: [unclosed\n", encoding="utf-8")
    errors: list[ManifestError] = []
    inventory = read_live_with_policy_files(v136, tmp_path, [str(broken)], errors)
    assert [e.source for e in errors] == [str(broken)]
    assert inventory.psps == []
    only_gets(v136)


def test_psp_from_replaces_file_objects_too(tmp_path: Path) -> None:
    """One precedence for files and live reads: `--psp-from` objects win."""
    from migrator.app.pipeline import read_source

    main = tmp_path / "main.yaml"
    main.write_text(
        "apiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata: {name: legacy-restricted}\n"
        "spec: {privileged: true}\n", encoding="utf-8")
    psp_file = tmp_path / "psps.yaml"
    psp_file.write_text(PSP_FILE, encoding="utf-8")
    errors: list[ManifestError] = []
    source = read_source([str(main)], errors=errors, psp_from=[str(psp_file)])
    assert errors == []
    (psp,) = source.inventory.psps
    assert psp["spec"].get("privileged") is not True
    assert source.inventory.origins[("PodSecurityPolicy", "", "legacy-restricted")] == f"{psp_file}#0"
    assert source.inventory.skipped["ConfigMap"] == 1


# ---------------------------------------------------------------------------------------
# snapshots


def comparable(inventory: Inventory) -> dict[str, list[Any]]:
    attrs = ("namespaces", "pods", "service_accounts", "workloads", "psps", "roles",
             "cluster_roles", "role_bindings", "cluster_role_bindings")
    return {a: sorted(getattr(inventory, a), key=key_of) for a in attrs}


def test_snapshot_round_trip(v124: fa.FakeApiServer, tmp_path: Path) -> None:
    v124.add(*(fa.pod(f"web-{i}", "team-a") for i in range(5)))
    v124.add(*(workload(kind, api, f"w-{kind.lower()}") for kind, api in WORKLOADS))
    v124.add({"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": {"name": "settings", "namespace": "team-a"}, "data": {"on": "yes"}})
    v124.forbid("serviceaccounts")
    live = read(v124, tmp_path)
    path = tmp_path / "snapshot.yaml"
    written = write_snapshot(live, path, source="cluster:test")
    assert written == sum(len(v) for v in comparable(live).values())

    text = path.read_text(encoding="utf-8")
    assert text.startswith("# migrator snapshot of cluster:test\n")
    assert "# server version: v1.24.0-alpha.1+ab451280a0ea81; PodSecurityPolicy API: served" in text
    assert "kind: Secret" not in text and "kind: ConfigMap" not in text

    errors: list[ManifestError] = []
    documents = list(load_documents([str(path)], errors))
    assert errors == []
    keys = [key_of(d.obj) for d in documents[1:]]
    assert keys == sorted(keys)
    back = Inventory.from_documents(documents)
    assert comparable(back) == comparable(live)
    assert back.skipped == {SNAPSHOT_KIND: 1}

    header = read_snapshot_header(documents)
    assert header is not None
    apply_snapshot_header(back, header)
    assert back.server_version == live.server_version
    assert back.psp_api is True
    assert back.unreadable == live.unreadable
    assert not back.skipped

    loaded = load_snapshot(path)
    assert comparable(loaded) == comparable(live)
    assert (loaded.server_version, loaded.psp_api) == (live.server_version, live.psp_api)
    only_gets(v124)


def test_snapshot_of_a_server_without_psps(v136: fa.FakeApiServer, tmp_path: Path) -> None:
    live = read(v136, tmp_path)
    path = tmp_path / "snap.yaml"
    write_snapshot(live, path)
    assert "PodSecurityPolicy API: not served" in path.read_text(encoding="utf-8")
    loaded = load_snapshot(path)
    assert loaded.psp_api is False and loaded.server_version == "v1.36.2"
    assert comparable(loaded) == comparable(live)


# ---------------------------------------------------------------------------------------
# raw requests for later features


def test_raw_patch_keeps_every_warning_header(v136: fa.FakeApiServer, tmp_path: Path) -> None:
    recording = fa.load_recording("ns-dryrun-restricted.json")
    v136.serve_recording(recording)
    request = recording["request"]
    with connect(str(fa.write_kubeconfig(tmp_path, v136.url))) as client:
        response = client.request(request["method"], request["path"], request["query"],
                                  request["body"], request["headers"])
    assert isinstance(response, RawResponse)
    assert response.status == 200
    assert response.warnings == recording["response"]["headers"]["Warning"]
    assert response.warning_texts() == [
        'existing pods in namespace "shop" violate the new PodSecurity enforce level '
        '"restricted:latest"',
        "agent: host namespaces, privileged, allowPrivilegeEscalation != false, unrestricted "
        "capabilities, runAsNonRoot != true, seccompProfile",
        "web-1 (and 2 other pods): allowPrivilegeEscalation != false, unrestricted "
        "capabilities, runAsNonRoot != true, seccompProfile",
    ]
    assert response.json()["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == (
        "restricted"
    )
    [sent] = v136.non_get_requests()
    assert sent.method == "PATCH" and sent.query == {"dryRun": "All"}
    assert sent.header("Content-Type") == "application/merge-patch+json"
    assert sent.json() == request["body"]


def test_raw_apply_patch_sends_yaml_as_is(v136: fa.FakeApiServer, tmp_path: Path) -> None:
    recording = fa.load_recording("ns-dryrun-server-side-apply.json")
    v136.serve_recording(recording)
    request = recording["request"]
    with connect(str(fa.write_kubeconfig(tmp_path, v136.url))) as client:
        response = client.request("PATCH", request["path"], request["query"], request["body"],
                                  request["headers"])
    assert response.status == 200
    assert len(response.warning_texts()) == 2
    [sent] = v136.non_get_requests()
    assert sent.body.decode() == request["body"]
    assert sent.header("Content-Type") == "application/apply-patch+yaml"


def test_unconfigured_patch_is_refused_by_the_double(
    v136: fa.FakeApiServer, tmp_path: Path
) -> None:
    with connect(str(fa.write_kubeconfig(tmp_path, v136.url))) as client:
        response = client.request("PATCH", "/api/v1/namespaces/default", body={"metadata": {}},
                                  headers={"Content-Type": "application/merge-patch+json"})
    assert response.status == 405
    assert response.status_reason() == "MethodNotAllowed"


def test_parse_warning_header() -> None:
    assert parse_warning_header('299 - "a \\"quoted\\" word"') == [(299, "-", 'a "quoted" word')]
    assert parse_warning_header('299 - "one", 299 - "two"') == [(299, "-", "one"),
                                                              (299, "-", "two")]
    assert parse_warning_header("not a warning") == [(299, "-", "not a warning")]


# ---------------------------------------------------------------------------------------
# a real cluster, only when asked for


@pytest.mark.cluster
@pytest.mark.skipif(not os.environ.get("MIGRATOR_TEST_KUBECONFIG"),
                    reason="set MIGRATOR_TEST_KUBECONFIG to read a real cluster")
class TestRealCluster:
    def test_read(self) -> None:
        kubeconfig = os.environ["MIGRATOR_TEST_KUBECONFIG"]
        context = os.environ.get("MIGRATOR_TEST_CONTEXT") or None
        with connect(kubeconfig, context) as client:
            assert isinstance(client, ClusterClient)
            inventory = read_inventory(client)
        assert inventory.server_version and inventory.server_version.startswith("v1.")
        assert inventory.namespaces
        assert "kube-system" in names(inventory.namespaces)
        assert isinstance(inventory.psp_api, bool)
        for obj in inventory.all_objects():
            assert obj.get("kind") and obj.get("apiVersion")
