"""Helm release history: stored releases decoded, PSPs found, nothing else kept.

Synthetic releases (encoded as Helm 3 stores them) are served by the loopback API server;
only Secrets of type helm.sh/release.v1 are listed, and a 403 is reported, not raised.
"""

from __future__ import annotations

import base64
import gzip
import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import fake_apiserver as fa  # noqa: E402

from migrator.cluster.client import connect  # noqa: E402
from migrator.cluster.helm import (  # noqa: E402
    HELM_SECRET_TYPE,
    HelmHistory,
    ReleaseDecodeError,
    decode_release,
    psp_documents,
    read_helm_history,
    revision_of_secret,
)

VALUES_SECRET = "s3cr3t-value-never-printed"
OTHER_MANIFEST_MARKER = "other-manifest-marker"

PSP_DOC = """---
# Source: mychart/templates/psp.yaml
apiVersion: policy/v1beta1
kind: PodSecurityPolicy
metadata:
  name: {name}
spec:
  privileged: false
"""
OTHER_DOC = """---
# Source: mychart/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  note: "{marker}"
"""


def manifest(*psp_names: str) -> str:
    docs = [OTHER_DOC.format(marker=OTHER_MANIFEST_MARKER)]
    docs += [PSP_DOC.format(name=name) for name in psp_names]
    return "".join(docs)


def encode_release(release: dict[str, Any], *, compress: bool = True) -> str:
    """`data.release` as served: base64 (Secret data) of base64 (Helm) of gzip of JSON."""
    raw = json.dumps(release).encode()
    if compress:
        raw = gzip.compress(raw, mtime=0)
    return base64.b64encode(base64.b64encode(raw)).decode()


def helm_secret(name: str, namespace: str, revision: int, status: str, body: str, *,
                chart: tuple[str, str] = ("mychart", "1.2.3")) -> dict[str, Any]:
    release = {
        "name": name, "namespace": namespace, "version": revision,
        "info": {"status": status, "description": "Upgrade complete"},
        "chart": {"metadata": {"name": chart[0], "version": chart[1]},
                  "values": {"password": VALUES_SECRET}},
        "config": {"password": VALUES_SECRET},
        "manifest": body,
    }
    return {
        "apiVersion": "v1", "kind": "Secret", "type": HELM_SECRET_TYPE,
        "metadata": {"name": f"sh.helm.release.v1.{name}.v{revision}", "namespace": namespace,
                     "labels": {"owner": "helm", "name": name, "version": str(revision),
                                "status": status}},
        "data": {"release": encode_release(release)},
    }


def opaque_secret(name: str, namespace: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": name, "namespace": namespace},
            "data": {"password": base64.b64encode(VALUES_SECRET.encode()).decode()}}


def release_secrets() -> list[dict[str, Any]]:
    """monitoring/prom: r1, r2 hold a PSP, r3 (deployed) does not; ingress/nginx: r1 holds
    one and is deployed; apps/web never had one."""
    return [
        helm_secret("prom", "monitoring", 1, "superseded", manifest("prom-psp")),
        helm_secret("prom", "monitoring", 2, "superseded", manifest("prom-psp")),
        helm_secret("prom", "monitoring", 3, "deployed", manifest()),
        helm_secret("nginx", "ingress", 1, "deployed", manifest("nginx-psp", "nginx-admission")),
        helm_secret("web", "apps", 4, "deployed", manifest()),
    ]


# -- decoding --------------------------------------------------------------------------------


def test_decode_gzip_and_plain_releases() -> None:
    release = {"name": "x", "version": 1}
    assert decode_release(encode_release(release)) == release
    assert decode_release(encode_release(release, compress=False)) == release


@pytest.mark.parametrize("data, message", [
    pytest.param("***", "not base64", id="not-base64"),
    pytest.param(base64.b64encode(b"%%%").decode(), "not base64", id="inner-not-base64"),
    pytest.param(base64.b64encode(base64.b64encode(b"\x1f\x8b\x08garbage")).decode(),
                 "not valid gzip", id="bad-gzip"),
    pytest.param(base64.b64encode(base64.b64encode(b"{nope")).decode(), "not JSON",
                 id="not-json"),
    pytest.param(base64.b64encode(base64.b64encode(b"[1]")).decode(), "not a release object",
                 id="not-object"),
])
def test_decode_errors(data: str, message: str) -> None:
    with pytest.raises(ReleaseDecodeError, match=message):
        decode_release(data)


def test_psp_documents_in_a_manifest() -> None:
    found = psp_documents(manifest("a", "b"))
    assert [(p.name, p.api_version, p.source) for p in found] == [
        ("a", "policy/v1beta1", "mychart/templates/psp.yaml"),
        ("b", "policy/v1beta1", "mychart/templates/psp.yaml"),
    ]
    assert psp_documents(manifest()) == []
    assert psp_documents("") == []


def test_psp_documents_in_a_list_and_in_broken_yaml() -> None:
    listed = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: extensions/v1beta1\n" \
             "  kind: PodSecurityPolicy\n  metadata: {name: old}\n"
    assert [p.name for p in psp_documents(listed)] == ["old"]
    broken = "apiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata:\n  name: bad\n" \
             "spec: [unclosed\n"
    assert [(p.name, p.api_version) for p in psp_documents(broken)] == [
        ("bad", "policy/v1beta1")]


def test_revision_of_secret_keeps_only_the_summary() -> None:
    revision = revision_of_secret(helm_secret("nginx", "ingress", 7, "deployed",
                                              manifest("nginx-psp")))
    assert (revision.namespace, revision.name, revision.revision, revision.chart,
            revision.chart_version, revision.status) == (
        "ingress", "nginx", 7, "mychart", "1.2.3", "deployed")
    assert [p.name for p in revision.psps] == ["nginx-psp"]


def test_history_marks_current_and_older_revisions() -> None:
    history = HelmHistory()
    for secret in release_secrets() + [opaque_secret("db", "apps")]:
        history.add_secret(secret)
    broken = helm_secret("bad", "apps", 1, "deployed", "")
    broken["data"]["release"] = "@@@"
    history.add_secret(broken)
    data = history.to_dict()
    assert data["secrets"] == 6  # the Opaque one is not a release
    assert data["releases"] == 3
    assert data["undecodable"] == ["apps/sh.helm.release.v1.bad.v1: not base64"]
    rows = [(r["namespace"], r["name"], r["revision"], r["current"]) for r in data["revisions"]]
    assert rows == [("ingress", "nginx", 1, True), ("monitoring", "prom", 1, False),
                    ("monitoring", "prom", 2, False)]
    assert data["revisions"][0]["psps"] == [
        {"name": "nginx-admission", "api_version": "policy/v1beta1",
         "source": "mychart/templates/psp.yaml"},
        {"name": "nginx-psp", "api_version": "policy/v1beta1",
         "source": "mychart/templates/psp.yaml"},
    ]
    text = json.dumps(data)
    assert VALUES_SECRET not in text and OTHER_MANIFEST_MARKER not in text


# -- reading from the (fake) API server ----------------------------------------------------------


def test_read_lists_only_release_secrets_paginated(tmp_path: Path) -> None:
    with fa.FakeApiServer("v1.24.17", psp="policy") as server:
        server.add(*release_secrets(), opaque_secret("db", "apps"),
                   opaque_secret("token", "monitoring"))
        kubeconfig = fa.write_kubeconfig(tmp_path, server.url)
        with connect(str(kubeconfig)) as client:
            client.page_size = 2
            history = read_helm_history(client)
        requests = server.requests_to("/api/v1/secrets")
        assert server.non_get_requests() == []
    assert history.unreadable is None
    assert history.secrets == 5
    assert len(requests) == 3  # 5 release Secrets, 2 a page
    assert all(r.query.get("fieldSelector") == "type=helm.sh/release.v1" for r in requests)
    assert "continue" in requests[1].query
    assert {(r.namespace, r.name, r.revision) for r in history.with_psp} == {
        ("ingress", "nginx", 1), ("monitoring", "prom", 1), ("monitoring", "prom", 2)}


def test_forbidden_secrets_are_reported_not_raised(tmp_path: Path) -> None:
    with fa.FakeApiServer("v1.24.17", psp="policy") as server:
        server.add(*release_secrets())
        server.forbid("secrets")
        kubeconfig = fa.write_kubeconfig(tmp_path, server.url)
        with connect(str(kubeconfig)) as client:
            history = read_helm_history(client)
    assert history.unreadable is not None
    assert history.unreadable.startswith("forbidden: ")
    assert 'cannot list resource "secrets"' in history.unreadable
    assert history.to_dict()["revisions"] == []
