"""Pod template extraction for every pod-bearing kind."""

from __future__ import annotations

from typing import Any

import pytest

from migrator.model.workloads import pod_template, slim_pod

SPEC = {"containers": [{"name": "c", "image": "x"}]}
META = {"labels": {"app": "x"}}
TEMPLATE = {"metadata": META, "spec": SPEC}

KINDS: list[tuple[str, dict[str, Any]]] = [
    ("Pod", {"apiVersion": "v1", "kind": "Pod", "metadata": META, "spec": SPEC}),
    ("PodTemplate", {"apiVersion": "v1", "kind": "PodTemplate", "template": TEMPLATE}),
    ("ReplicationController", {"apiVersion": "v1", "kind": "ReplicationController",
                               "spec": {"template": TEMPLATE}}),
    ("ReplicaSet", {"apiVersion": "apps/v1", "kind": "ReplicaSet", "spec": {"template": TEMPLATE}}),
    ("Deployment", {"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": TEMPLATE}}),
    ("StatefulSet", {"apiVersion": "apps/v1", "kind": "StatefulSet", "spec": {"template": TEMPLATE}}),
    ("DaemonSet", {"apiVersion": "apps/v1", "kind": "DaemonSet", "spec": {"template": TEMPLATE}}),
    ("Job", {"apiVersion": "batch/v1", "kind": "Job", "spec": {"template": TEMPLATE}}),
    ("CronJob batch/v1", {"apiVersion": "batch/v1", "kind": "CronJob",
                          "spec": {"jobTemplate": {"spec": {"template": TEMPLATE}}}}),
    ("CronJob batch/v1beta1", {"apiVersion": "batch/v1beta1", "kind": "CronJob",
                               "spec": {"jobTemplate": {"spec": {"template": TEMPLATE}}}}),
]


@pytest.mark.parametrize("obj", [k[1] for k in KINDS], ids=[k[0] for k in KINDS])
def test_every_kind_yields_its_template(obj: dict[str, Any]) -> None:
    template = pod_template(obj)
    assert template is not None
    assert template.metadata == META
    assert template.spec == SPEC


def test_other_kinds_have_none() -> None:
    assert pod_template({"kind": "ConfigMap", "data": {}}) is None


def test_missing_template_reads_as_empty_pod() -> None:
    template = pod_template({"kind": "Deployment", "spec": {"template": "broken"}})
    assert template is not None and template.spec == {} and template.metadata == {}


def test_slim_pod_keeps_what_checks_read() -> None:
    pod = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "namespace": "n", "annotations": {"a": "b"},
                     "managedFields": [{"x": 1}], "ownerReferences": [{"kind": "ReplicaSet"}]},
        "spec": {"hostPID": True, "nodeSelector": {"a": "b"},
                 "containers": [{"name": "c", "image": "i", "env": [{"name": "A"}],
                                 "securityContext": {"privileged": True},
                                 "ports": [{"hostPort": 1}]}],
                 "volumes": [{"name": "v", "configMap": {"name": "big", "items": [1, 2]}},
                             {"name": "h", "hostPath": {"path": "/"}}]},
        "status": {"phase": "Running", "conditions": [1]},
    }
    assert slim_pod(pod) == {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "namespace": "n", "annotations": {"a": "b"},
                     "ownerReferences": [{"kind": "ReplicaSet"}]},
        "spec": {"hostPID": True,
                 "containers": [{"name": "c", "image": "i", "securityContext": {"privileged": True},
                                 "ports": [{"hostPort": 1}]}],
                 "volumes": [{"name": "v", "configMap": {}}, {"name": "h", "hostPath": {"path": "/"}}]},
        "status": {"phase": "Running"},
    }
