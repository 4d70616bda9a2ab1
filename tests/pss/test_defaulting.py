"""Create-time defaulting through `check_object`: ports, volumes, annotations, per server."""

from __future__ import annotations

from typing import Any

import pytest

from migrator.plan.checking import check_object
from migrator.pss.api import Level, Version
from migrator.pss.server import Origin, ServerVersion, origin_of, prepare, seccomp_field

RESTRICTED_SC = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
V124, V136 = ServerVersion.of(24), ServerVersion.of(36)


def test_host_network_defaults_host_ports() -> None:
    spec = {"hostNetwork": True,
            "containers": [{"name": "a", "ports": [{"containerPort": 9100},
                                                   {"containerPort": 80, "hostPort": 8080}]}],
            "initContainers": [{"name": "i", "ports": [{"containerPort": 53}]}]}
    out = prepare({}, spec, V136, Origin.CREATED).spec
    assert out["containers"][0]["ports"] == [{"containerPort": 9100, "hostPort": 9100},
                                             {"containerPort": 80, "hostPort": 8080}]
    assert out["initContainers"][0]["ports"] == [{"containerPort": 53, "hostPort": 53}]
    assert "hostPort" not in spec["containers"][0]["ports"][0]  # the input is untouched


@pytest.mark.parametrize("annotation,field", [
    ("runtime/default", {"type": "RuntimeDefault"}),
    ("docker/default", {"type": "RuntimeDefault"}),
    ("unconfined", {"type": "Unconfined"}),
    ("localhost/profiles/audit.json", {"type": "Localhost", "localhostProfile": "profiles/audit.json"}),
    ("localhost/", None),
    ("bogus", None),
])
def test_seccomp_field_for_annotation(annotation: str, field: dict[str, str] | None) -> None:
    assert seccomp_field(annotation) == field


def _obj(kind: str, annotations: dict[str, str], sc: dict[str, Any] | None = None) -> dict[str, Any]:
    spec = {"securityContext": {"runAsNonRoot": True, **(sc or {})},
            "containers": [{"name": "app", "image": "x", "securityContext": RESTRICTED_SC}]}
    meta = {"name": "p", "annotations": annotations}
    if kind == "Pod":
        return {"kind": "Pod", "metadata": meta, "spec": spec}
    return {"kind": kind, "metadata": {"name": "p"},
            "spec": {"template": {"metadata": {"annotations": annotations}, "spec": spec}}}


@pytest.mark.parametrize("kind", ["Pod", "Deployment", "StatefulSet"])
def test_seccomp_annotation_counts_up_to_1_26_for_pods_and_templates(kind: str) -> None:
    annotations = {"seccomp.security.alpha.kubernetes.io/pod": "runtime/default"}
    for minor, allowed in ((24, True), (26, True), (27, False), (36, False)):
        result = check_object(_obj(kind, annotations), "x#0", Level.RESTRICTED, Version.latest(),
                              ServerVersion.of(minor))
        assert result is not None and result.allowed is allowed, minor
        assert result.depends_on_server


def test_an_annotation_and_a_field_that_disagree_are_refused() -> None:
    annotations = {"container.seccomp.security.alpha.kubernetes.io/app": "unconfined"}
    result = check_object(_obj("Pod", annotations), "x#0", Level.RESTRICTED, Version.latest())
    assert result is not None and result.outcome == "denied"  # no container field: no clash
    obj = _obj("Pod", {"seccomp.security.alpha.kubernetes.io/pod": "unconfined"},
               {"seccompProfile": {"type": "RuntimeDefault"}})
    for server in (V124, V136):
        result = check_object(obj, "x#0", Level.PRIVILEGED, Version.latest(), server)
        assert result is not None and result.outcome == "invalid"
        assert result.invalid == ("spec.securityContext.seccompProfile.type: Forbidden: seccomp "
                                  "type in annotation and field must match",)


def test_a_dumped_pod_is_judged_as_stored() -> None:
    pod = _obj("Pod", {"seccomp.security.alpha.kubernetes.io/pod": "runtime/default"})
    assert origin_of(pod) is Origin.CREATED
    pod["metadata"]["uid"] = "0000"
    assert origin_of(pod) is Origin.STORED
    result = check_object(pod, "x#0", Level.RESTRICTED, Version.latest(), V124)
    assert result is not None and [v.check for v in result.violations] == [
        "seccompProfile_restricted"]
    assert not result.depends_on_server
    assert origin_of({"kind": "Deployment", "metadata": {"uid": "1"}}) is Origin.CREATED


@pytest.mark.parametrize("spec,metadata", [
    ({"containers": 1}, {"name": "p"}),
    ({"containers": [{"name": "c", "securityContext": [1]}], "hostNetwork": True,
      "volumes": ["x", {"name": "v"}]}, {"name": "p", "annotations": {1: 2}}),
    ({"securityContext": "x", "containers": [{"name": "c", "ports": [1, {"containerPort": []}]}]},
     {"name": "p", "annotations": {"container.apparmor.security.beta.kubernetes.io/c": 5}}),
])
def test_malformed_pods_are_reported_not_raised(spec: Any, metadata: Any) -> None:
    for minor in (23, 24, 27, 31, 36):
        result = check_object({"kind": "Pod", "metadata": metadata, "spec": spec}, "x#0",
                              Level.RESTRICTED, Version.latest(), ServerVersion.of(minor))
        assert result is not None and not result.allowed
        assert result.invalid or any(v.reason == "malformed pod spec" for v in result.violations) \
            or result.violations
