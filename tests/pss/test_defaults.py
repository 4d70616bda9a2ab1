"""The API server's defaulting applied before judging manifests."""

from __future__ import annotations

from typing import Any

import pytest

from migrator.plan.checking import check_object
from migrator.pss.api import Level, Version
from migrator.pss.defaults import apply_api_defaults, seccomp_field

RESTRICTED_SC = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def test_host_network_defaults_host_ports() -> None:
    spec = {"hostNetwork": True,
            "containers": [{"name": "a", "ports": [{"containerPort": 9100},
                                                   {"containerPort": 80, "hostPort": 8080}]}],
            "initContainers": [{"name": "i", "ports": [{"containerPort": 53}]}]}
    out = apply_api_defaults(spec)
    assert out is not None
    assert out["containers"][0]["ports"] == [{"containerPort": 9100, "hostPort": 9100},
                                             {"containerPort": 80, "hostPort": 8080}]
    assert out["initContainers"][0]["ports"] == [{"containerPort": 53, "hostPort": 53}]
    assert "hostPort" not in spec["containers"][0]["ports"][0]  # the input is untouched


def test_nothing_to_default_returns_the_same_object() -> None:
    spec = {"containers": [{"name": "a", "ports": [{"containerPort": 80}]}]}
    assert apply_api_defaults(spec) is spec
    assert apply_api_defaults(spec, {"annotations": {"x": "y"}}, pod=True) is spec


@pytest.mark.parametrize("annotation,field", [
    ("runtime/default", {"type": "RuntimeDefault"}),
    ("docker/default", {"type": "RuntimeDefault"}),
    ("unconfined", {"type": "Unconfined"}),
    ("localhost/profiles/audit.json", {"type": "Localhost", "localhostProfile": "profiles/audit.json"}),
    ("bogus", None),
])
def test_seccomp_field_for_annotation(annotation: str, field: dict[str, str] | None) -> None:
    assert seccomp_field(annotation) == field


def _pod(kind: str, annotations: dict[str, str], sc: dict[str, Any] | None = None) -> dict[str, Any]:
    spec = {"securityContext": {"runAsNonRoot": True, **(sc or {})},
            "containers": [{"name": "app", "image": "x", "securityContext": RESTRICTED_SC}]}
    meta = {"name": "p", "annotations": annotations}
    if kind == "Pod":
        return {"kind": "Pod", "metadata": meta, "spec": spec}
    return {"kind": kind, "metadata": {"name": "p"},
            "spec": {"template": {"metadata": {"annotations": annotations}, "spec": spec}}}


def test_seccomp_annotation_counts_for_pods_only() -> None:
    annotations = {"seccomp.security.alpha.kubernetes.io/pod": "runtime/default"}
    pod = check_object(_pod("Pod", annotations), "x#0", Level.RESTRICTED, Version.latest())
    assert pod is not None and pod.allowed
    deployment = check_object(_pod("Deployment", annotations), "x#0", Level.RESTRICTED,
                              Version.latest())
    assert deployment is not None
    assert [v.check for v in deployment.violations] == ["seccompProfile_restricted"]


def test_container_annotation_and_existing_field() -> None:
    annotations = {"container.seccomp.security.alpha.kubernetes.io/app": "unconfined"}
    result = check_object(_pod("Pod", annotations, {"seccompProfile": {"type": "RuntimeDefault"}}),
                          "x#0", Level.RESTRICTED, Version.latest())
    assert result is not None
    assert [(v.check, v.detail) for v in result.violations] == [(
        "seccompProfile_restricted",
        'container "app" must not set securityContext.seccompProfile.type to "Unconfined"')]
    # a field already set wins over the annotation
    annotations = {"seccomp.security.alpha.kubernetes.io/pod": "unconfined"}
    result = check_object(_pod("Pod", annotations, {"seccompProfile": {"type": "RuntimeDefault"}}),
                          "x#0", Level.RESTRICTED, Version.latest())
    assert result is not None and result.allowed
