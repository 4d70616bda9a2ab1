"""PSP defaults: what each mutating field injects, replayed against the 1.24 recordings,
and the attribution of template-to-pod differences."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from migrator.model.workloads import pod_template
from migrator.psp import Default, analyze_psp, apply_defaults, explains, psp_defaults

RECORDINGS = Path(__file__).resolve().parents[1] / "data" / "apiserver" / "v1.24"
needs_recordings = pytest.mark.skipif(
    not RECORDINGS.is_dir(), reason="../shared/apiserver/v1.24 is absent"
)

SECCOMP_ALLOWED = "seccomp.security.alpha.kubernetes.io/allowedProfileNames"
SECCOMP_DEFAULT = "seccomp.security.alpha.kubernetes.io/defaultProfileName"
APPARMOR_DEFAULT = "apparmor.security.beta.kubernetes.io/defaultProfileName"
SECCOMP_SOURCE = f"metadata.annotations[{SECCOMP_DEFAULT}]"
C = "spec.containers[*].securityContext."


def recording(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((RECORDINGS / name).read_text())
    return data


#: A PSP that mutates nothing.
PLAIN: dict[str, Any] = {
    "apiVersion": "policy/v1beta1",
    "kind": "PodSecurityPolicy",
    "metadata": {"name": "plain"},
    "spec": {
        "allowPrivilegeEscalation": True,
        "volumes": ["*"],
        "runAsUser": {"rule": "RunAsAny"},
        "seLinux": {"rule": "RunAsAny"},
        "supplementalGroups": {"rule": "RunAsAny"},
        "fsGroup": {"rule": "RunAsAny"},
    },
}


def psp_with(spec: dict[str, Any] | None = None,
             annotations: dict[str, str] | None = None) -> dict[str, Any]:
    psp = copy.deepcopy(PLAIN)
    psp["spec"].update(spec or {})
    if annotations:
        psp["metadata"]["annotations"] = annotations
    return psp


def bare_pod(*containers: dict[str, Any], **spec: Any) -> dict[str, Any]:
    listed = list(containers) or [{"name": "app", "image": "app:1"}]
    return {"metadata": {"name": "p"}, "spec": {"containers": listed, **spec}}


def test_plain_psp_is_not_mutating() -> None:
    assert psp_defaults(PLAIN) == []
    assert analyze_psp(PLAIN).mutating is False


# --- one default per mutating field ----------------------------------------------------------

DEFAULT_CASES: list[tuple[str, dict[str, Any], list[tuple[str, Any, str, str]]]] = [
    # (id, psp_with kwargs, [(path, value, source, mode)])
    ("requiredDropCapabilities", {"spec": {"requiredDropCapabilities": ["NET_RAW", "ALL"]}},
     [(C + "capabilities.drop", ["ALL", "NET_RAW"], "spec.requiredDropCapabilities", "union")]),
    ("requiredDropCapabilities-empty", {"spec": {"requiredDropCapabilities": []}}, []),
    ("defaultAddCapabilities", {"spec": {"defaultAddCapabilities": ["NET_BIND_SERVICE"]}},
     [(C + "capabilities.add", ["NET_BIND_SERVICE"], "spec.defaultAddCapabilities", "add")]),
    ("defaultAddCapabilities-empty", {"spec": {"defaultAddCapabilities": []}}, []),
    ("defaultAllowPrivilegeEscalation-false", {"spec": {"defaultAllowPrivilegeEscalation": False}},
     [(C + "allowPrivilegeEscalation", False, "spec.defaultAllowPrivilegeEscalation",
       "container")]),
    ("defaultAllowPrivilegeEscalation-true", {"spec": {"defaultAllowPrivilegeEscalation": True}},
     [(C + "allowPrivilegeEscalation", True, "spec.defaultAllowPrivilegeEscalation",
       "container")]),
    ("allowPrivilegeEscalation-false", {"spec": {"allowPrivilegeEscalation": False}},
     [(C + "allowPrivilegeEscalation", False, "spec.allowPrivilegeEscalation", "container")]),
    ("runAsUser-MustRunAs",
     {"spec": {"runAsUser": {"rule": "MustRunAs", "ranges": [{"min": 1000, "max": 2000},
                                                             {"min": 5, "max": 5}]}}},
     [(C + "runAsUser", 1000, "spec.runAsUser", "effective")]),
    ("runAsUser-MustRunAsNonRoot", {"spec": {"runAsUser": {"rule": "MustRunAsNonRoot"}}},
     [(C + "runAsNonRoot", True, "spec.runAsUser", "no-user")]),
    ("runAsGroup-MustRunAs",
     {"spec": {"runAsGroup": {"rule": "MustRunAs", "ranges": [{"min": 3000, "max": 3000}]}}},
     [(C + "runAsGroup", 3000, "spec.runAsGroup", "effective")]),
    ("runAsGroup-MayRunAs",
     {"spec": {"runAsGroup": {"rule": "MayRunAs", "ranges": [{"min": 3000, "max": 3000}]}}}, []),
    ("fsGroup-MustRunAs",
     {"spec": {"fsGroup": {"rule": "MustRunAs", "ranges": [{"min": 1, "max": 65535}]}}},
     [("spec.securityContext.fsGroup", 1, "spec.fsGroup", "pod")]),
    ("fsGroup-MayRunAs",
     {"spec": {"fsGroup": {"rule": "MayRunAs", "ranges": [{"min": 1, "max": 65535}]}}}, []),
    ("supplementalGroups-MustRunAs",
     {"spec": {"supplementalGroups": {"rule": "MustRunAs", "ranges": [{"min": 7, "max": 9}]}}},
     [("spec.securityContext.supplementalGroups", [7], "spec.supplementalGroups", "pod")]),
    ("seLinux-MustRunAs",
     {"spec": {"seLinux": {"rule": "MustRunAs",
                           "seLinuxOptions": {"type": "container_t", "level": "s0:c1,c2"}}}},
     [("spec.securityContext.seLinuxOptions", {"level": "s0:c1,c2", "type": "container_t"},
       "spec.seLinux", "pod")]),
    ("readOnlyRootFilesystem", {"spec": {"readOnlyRootFilesystem": True}},
     [(C + "readOnlyRootFilesystem", True, "spec.readOnlyRootFilesystem", "container")]),
    ("readOnlyRootFilesystem-false", {"spec": {"readOnlyRootFilesystem": False}}, []),
    ("seccomp-runtime-default",
     {"annotations": {SECCOMP_ALLOWED: "runtime/default", SECCOMP_DEFAULT: "runtime/default"}},
     [("metadata.annotations[seccomp.security.alpha.kubernetes.io/pod]", "runtime/default",
       SECCOMP_SOURCE, "no-profile"),
      ("spec.securityContext.seccompProfile", {"type": "RuntimeDefault"}, SECCOMP_SOURCE,
       "no-profile")]),
    ("seccomp-docker-default",
     {"annotations": {SECCOMP_ALLOWED: "docker/default", SECCOMP_DEFAULT: "docker/default"}},
     [("metadata.annotations[seccomp.security.alpha.kubernetes.io/pod]", "docker/default",
       SECCOMP_SOURCE, "no-profile"),
      ("spec.securityContext.seccompProfile", {"type": "RuntimeDefault"}, SECCOMP_SOURCE,
       "no-profile")]),
    ("seccomp-localhost",
     {"annotations": {SECCOMP_ALLOWED: "localhost/*", SECCOMP_DEFAULT: "localhost/audit.json"}},
     [("metadata.annotations[seccomp.security.alpha.kubernetes.io/pod]", "localhost/audit.json",
       SECCOMP_SOURCE, "no-profile"),
      ("spec.securityContext.seccompProfile",
       {"localhostProfile": "audit.json", "type": "Localhost"}, SECCOMP_SOURCE, "no-profile")]),
    ("seccomp-unconfined",
     {"annotations": {SECCOMP_ALLOWED: "*", SECCOMP_DEFAULT: "unconfined"}},
     [("metadata.annotations[seccomp.security.alpha.kubernetes.io/pod]", "unconfined",
       SECCOMP_SOURCE, "no-profile"),
      ("spec.securityContext.seccompProfile", {"type": "Unconfined"}, SECCOMP_SOURCE,
       "no-profile")]),
    ("apparmor-default", {"annotations": {APPARMOR_DEFAULT: "runtime/default"}},
     [("metadata.annotations[container.apparmor.security.beta.kubernetes.io/<container>]",
       "runtime/default", f"metadata.annotations[{APPARMOR_DEFAULT}]", "annotation")]),
    ("runtimeClass-default",
     {"spec": {"runtimeClass": {"defaultRuntimeClassName": "gvisor",
                                "allowedRuntimeClassNames": ["gvisor"]}}},
     [("spec.runtimeClassName", "gvisor", "spec.runtimeClass.defaultRuntimeClassName", "pod")]),
    ("runAsAny-everywhere", {}, []),
]


@pytest.mark.parametrize(
    ("change", "expected"),
    [case[1:] for case in DEFAULT_CASES],
    ids=[case[0] for case in DEFAULT_CASES],
)
def test_default_per_field(change: dict[str, Any], expected: list[tuple[str, Any, str, str]]
                           ) -> None:
    defaults = psp_defaults(psp_with(**change))
    assert [(d.path, d.value, d.source, d.mode) for d in defaults] == expected
    assert analyze_psp(psp_with(**change)).mutating is bool(expected)


def test_default_carries_a_readable_condition() -> None:
    (default,) = psp_defaults(psp_with({"runAsUser": {"rule": "MustRunAsNonRoot"}}))
    assert default.condition == (
        "on every container when neither it nor the pod sets runAsNonRoot or runAsUser"
    )
    assert default.to_dict() == {
        "condition": default.condition, "mode": "no-user",
        "path": "spec.containers[*].securityContext.runAsNonRoot",
        "source": "spec.runAsUser", "value": True,
    }


# --- the 1.24 recordings ---------------------------------------------------------------------


def _security(pod: dict[str, Any]) -> dict[str, Any]:
    annotations = dict(pod["metadata"].get("annotations") or {})
    annotations.pop("kubernetes.io/psp", None)
    return {
        "annotations": annotations,
        "pod": pod["spec"].get("securityContext") or {},
        "containers": [c.get("securityContext") for c in pod["spec"]["containers"]],
    }


@needs_recordings
def test_restricted_mutating_psp_replays_the_recorded_pod_exactly() -> None:
    psp = recording("psp-create-restricted-mutating.json")["response"]["body"]
    exchange = recording("pod-create-sa-mutated.json")
    sent, stored = exchange["request"]["body"], exchange["response"]["body"]
    assert stored["metadata"]["annotations"]["kubernetes.io/psp"] == psp["metadata"]["name"]
    replayed = apply_defaults(psp_defaults(psp), sent)
    assert _security(replayed) == _security(stored)
    assert replayed["spec"]["securityContext"] == {
        "fsGroup": 1, "seccompProfile": {"type": "RuntimeDefault"}, "supplementalGroups": [1],
    }


@needs_recordings
@pytest.mark.parametrize("name", ["psp-create-privileged.json", "psp-create-baseline-ish.json"])
def test_recorded_non_mutating_psps(name: str) -> None:
    psp = recording(name)["response"]["body"]
    assert psp_defaults(psp) == []


@needs_recordings
def test_the_admin_pod_admitted_by_the_privileged_psp_is_stored_unchanged() -> None:
    exchange = recording("pod-create-admin-bare.json")
    psp = recording("psp-create-privileged.json")["response"]["body"]
    sent, stored = exchange["request"]["body"], exchange["response"]["body"]
    assert _security(apply_defaults(psp_defaults(psp), sent)) == _security(stored)


@needs_recordings
def test_recorded_psps_stored_by_the_server_analyse_like_they_were_sent() -> None:
    for name in ("privileged", "baseline-ish", "restricted-mutating"):
        exchange = recording(f"psp-create-{name}.json")
        sent = analyze_psp(exchange["request"]["body"]).to_dict()
        stored = analyze_psp(exchange["response"]["body"]).to_dict()
        assert sent == stored, name


# --- replaying defaults: conditions ----------------------------------------------------------


def _container_sc(pod: dict[str, Any], index: int = 0, key: str = "containers") -> Any:
    return pod["spec"][key][index].get("securityContext")


def test_must_run_as_non_root_skips_containers_that_set_a_user() -> None:
    defaults = psp_defaults(psp_with({"runAsUser": {"rule": "MustRunAsNonRoot"}}))
    pod = bare_pod(
        {"name": "uid", "securityContext": {"runAsUser": 1000}},
        {"name": "plain"},
        {"name": "explicit", "securityContext": {"runAsNonRoot": True}},
    )
    out = apply_defaults(defaults, pod)
    assert [_container_sc(out, i) for i in range(3)] == [
        {"runAsUser": 1000}, {"runAsNonRoot": True}, {"runAsNonRoot": True},
    ]
    pod_level = apply_defaults(defaults, bare_pod(securityContext={"runAsUser": 1000}))
    assert _container_sc(pod_level) is None


def test_must_run_as_user_fills_only_unset_users() -> None:
    defaults = psp_defaults(
        psp_with({"runAsUser": {"rule": "MustRunAs", "ranges": [{"min": 1000, "max": 2000}]}})
    )
    out = apply_defaults(defaults, bare_pod(
        {"name": "a"}, {"name": "b", "securityContext": {"runAsUser": 1500}},
        initContainers=[{"name": "init"}],
    ))
    assert _container_sc(out, 0) == {"runAsUser": 1000}
    assert _container_sc(out, 1) == {"runAsUser": 1500}
    assert _container_sc(out, 0, "initContainers") == {"runAsUser": 1000}
    assert "runAsNonRoot" not in _container_sc(out, 0)


def test_capabilities_are_merged_and_sorted_and_defaults_respect_drops() -> None:
    defaults = psp_defaults(psp_with({
        "requiredDropCapabilities": ["ALL"], "defaultAddCapabilities": ["NET_BIND_SERVICE"],
        "allowedCapabilities": ["CHOWN"],
    }))
    out = apply_defaults(defaults, bare_pod(
        {"name": "a", "securityContext": {"capabilities": {"add": ["CHOWN"], "drop": ["MKNOD"]}}},
        {"name": "b", "securityContext": {"capabilities": {"drop": ["NET_BIND_SERVICE"]}}},
    ))
    assert _container_sc(out, 0)["capabilities"] == {
        "add": ["CHOWN", "NET_BIND_SERVICE"], "drop": ["ALL", "MKNOD"],
    }
    assert _container_sc(out, 1)["capabilities"] == {"drop": ["ALL", "NET_BIND_SERVICE"]}


def test_unchanged_capabilities_keep_their_order() -> None:
    defaults = psp_defaults(psp_with({"requiredDropCapabilities": ["ALL"]}))
    caps = {"add": ["SETUID", "CHOWN"], "drop": ["ALL"]}
    out = apply_defaults(defaults, bare_pod({"name": "a", "securityContext": {"capabilities": caps}}))
    assert _container_sc(out)["capabilities"] == caps


def test_seccomp_default_respects_an_existing_annotation_or_field() -> None:
    defaults = psp_defaults(psp_with(annotations={
        SECCOMP_ALLOWED: "runtime/default,localhost/*", SECCOMP_DEFAULT: "runtime/default"}))
    field_set = bare_pod(securityContext={"seccompProfile": {"type": "Localhost",
                                                             "localhostProfile": "x.json"}})
    out = apply_defaults(defaults, field_set)
    assert "annotations" not in out["metadata"]
    assert out["spec"]["securityContext"]["seccompProfile"]["type"] == "Localhost"
    annotated = bare_pod()
    annotated["metadata"]["annotations"] = {
        "seccomp.security.alpha.kubernetes.io/pod": "localhost/x.json"}
    out = apply_defaults(defaults, annotated)
    assert "securityContext" not in out["spec"]


def test_apparmor_default_is_annotated_per_container() -> None:
    defaults = psp_defaults(psp_with(annotations={
        "apparmor.security.beta.kubernetes.io/allowedProfileNames": "runtime/default,localhost/a",
        APPARMOR_DEFAULT: "runtime/default"}))
    pod = bare_pod({"name": "app"}, {"name": "sidecar"}, initContainers=[{"name": "init"}])
    pod["metadata"]["annotations"] = {
        "container.apparmor.security.beta.kubernetes.io/sidecar": "localhost/a"}
    out = apply_defaults(defaults, pod)
    assert out["metadata"]["annotations"] == {
        "container.apparmor.security.beta.kubernetes.io/app": "runtime/default",
        "container.apparmor.security.beta.kubernetes.io/init": "runtime/default",
        "container.apparmor.security.beta.kubernetes.io/sidecar": "localhost/a",
    }


@pytest.mark.parametrize(
    ("change", "pod_spec", "expected"),
    [
        ({"readOnlyRootFilesystem": True}, {"readOnlyRootFilesystem": False},
         {"readOnlyRootFilesystem": False}),
        ({"readOnlyRootFilesystem": True}, {}, {"readOnlyRootFilesystem": True}),
        ({"allowPrivilegeEscalation": False}, {"allowPrivilegeEscalation": True},
         {"allowPrivilegeEscalation": True}),
        ({"allowPrivilegeEscalation": False}, {}, {"allowPrivilegeEscalation": False}),
    ],
    ids=["rorfs-explicit-false-kept", "rorfs-filled", "ape-explicit-true-kept", "ape-filled"],
)
def test_container_defaults_fill_only_unset_fields(
    change: dict[str, Any], pod_spec: dict[str, Any], expected: dict[str, Any]
) -> None:
    out = apply_defaults(psp_defaults(psp_with(change)),
                         bare_pod({"name": "a", "securityContext": pod_spec}))
    assert _container_sc(out) == expected


def test_pod_level_defaults_fill_only_unset_fields() -> None:
    defaults = psp_defaults(psp_with({
        "fsGroup": {"rule": "MustRunAs", "ranges": [{"min": 1, "max": 10}]},
        "supplementalGroups": {"rule": "MustRunAs", "ranges": [{"min": 2, "max": 10}]},
        "seLinux": {"rule": "MustRunAs", "seLinuxOptions": {"level": "s0:c1"}},
        "runtimeClass": {"defaultRuntimeClassName": "kata"},
    }))
    out = apply_defaults(defaults, bare_pod(securityContext={"fsGroup": 5},
                                            runtimeClassName="gvisor"))
    assert out["spec"]["securityContext"] == {
        "fsGroup": 5, "supplementalGroups": [2], "seLinuxOptions": {"level": "s0:c1"},
    }
    assert out["spec"]["runtimeClassName"] == "gvisor"
    assert apply_defaults(defaults, bare_pod())["spec"]["runtimeClassName"] == "kata"


def test_apply_defaults_does_not_change_its_input() -> None:
    defaults = psp_defaults(psp_with({"requiredDropCapabilities": ["ALL"],
                                      "runAsUser": {"rule": "MustRunAsNonRoot"}}))
    pod = bare_pod({"name": "a", "securityContext": {"capabilities": {"drop": ["MKNOD"]}}})
    before = copy.deepcopy(pod)
    apply_defaults(defaults, pod)
    assert pod == before


def test_apply_defaults_tolerates_malformed_pods() -> None:
    defaults = psp_defaults(psp_with({"requiredDropCapabilities": ["ALL"],
                                      "readOnlyRootFilesystem": True},
                                     {APPARMOR_DEFAULT: "runtime/default"}))
    for pod in ({}, {"spec": None}, {"spec": {"containers": "x"}},
                {"spec": {"containers": [None, {"securityContext": "x"}]}, "metadata": []}):
        apply_defaults(defaults, pod)


# --- attribution: template vs running pod ----------------------------------------------------


@needs_recordings
def test_recorded_mutation_is_explained_by_the_psp_and_the_api_server() -> None:
    psp = recording("psp-create-restricted-mutating.json")["response"]["body"]
    template = recording("deployment-create.json")["request"]["body"]
    stored = recording("pod-create-sa-mutated.json")["response"]["body"]
    attribution = explains(psp_defaults(psp), template, stored)
    assert attribution.fully_explained
    assert [(d.path, d.cause, d.source) for d in attribution.differences] == [
        ("metadata.annotations[seccomp.security.alpha.kubernetes.io/pod]", "psp", SECCOMP_SOURCE),
        ("spec.containers[app].securityContext.allowPrivilegeEscalation", "psp",
         "spec.defaultAllowPrivilegeEscalation"),
        ("spec.containers[app].securityContext.capabilities.drop", "psp",
         "spec.requiredDropCapabilities"),
        ("spec.containers[app].securityContext.runAsNonRoot", "psp", "spec.runAsUser"),
        ("spec.securityContext.fsGroup", "psp", "spec.fsGroup"),
        ("spec.securityContext.seccompProfile", "psp", SECCOMP_SOURCE),
        ("spec.securityContext.supplementalGroups", "psp", "spec.supplementalGroups"),
        ("spec.volumes[kube-api-access-<suffix>]", "apiserver", "service-account token volume"),
    ]


@needs_recordings
def test_api_server_seccomp_sync_is_not_blamed_on_a_psp() -> None:
    exchange = recording("pod-create-admin-seccomp-dryrun.json")
    attribution = explains([], exchange["request"]["body"], exchange["response"]["body"])
    assert [(d.path, d.cause) for d in attribution.differences] == [
        ("metadata.annotations[seccomp.security.alpha.kubernetes.io/pod]", "apiserver"),
        ("spec.volumes[kube-api-access-<suffix>]", "apiserver"),
    ]
    assert attribution.fully_explained


def test_sidecars_and_foreign_values_are_unexplained() -> None:
    defaults = psp_defaults(psp_with({"runAsUser": {"rule": "MustRunAs",
                                                    "ranges": [{"min": 1000, "max": 1000}]}}))
    deployment = {"kind": "Deployment", "metadata": {"name": "web"}, "spec": {"template": {
        "spec": {"containers": [{"name": "app"}]}}}}
    pod = {"kind": "Pod", "metadata": {"name": "web-1"}, "spec": {"containers": [
        {"name": "app", "securityContext": {"runAsUser": 1000, "privileged": True}},
        {"name": "istio-proxy", "securityContext": {"runAsUser": 1337}},
    ]}}
    attribution = explains(defaults, deployment, pod)
    assert [(d.path, d.cause, d.source) for d in attribution.differences] == [
        ("spec.containers[app].securityContext.privileged", "other", ""),
        ("spec.containers[app].securityContext.runAsUser", "psp", "spec.runAsUser"),
        ("spec.containers[istio-proxy]", "other", ""),
        ("spec.containers[istio-proxy].securityContext.runAsUser", "other", ""),
    ]
    assert not attribution.fully_explained
    assert len(attribution.unexplained) == 3
    assert [d.to_dict()["cause"] for d in attribution.by_psp] == ["psp"]


def test_a_value_other_than_the_default_is_not_the_psp() -> None:
    defaults = psp_defaults(psp_with({"fsGroup": {"rule": "MustRunAs",
                                                  "ranges": [{"min": 1, "max": 10}]}}))
    attribution = explains(defaults, {"containers": []},
                           {"containers": [], "securityContext": {"fsGroup": 7}})
    assert [(d.path, d.template, d.pod, d.cause) for d in attribution.differences] == [
        ("spec.securityContext.fsGroup", None, 7, "other"),
    ]


def test_explains_accepts_pod_templates_and_bare_specs() -> None:
    defaults: list[Default] = psp_defaults(psp_with({"readOnlyRootFilesystem": True}))
    deployment = {"kind": "Deployment", "metadata": {"name": "web"}, "spec": {"template": {
        "spec": {"containers": [{"name": "app"}]}}}}
    template = pod_template(deployment)
    running = {"containers": [{"name": "app", "securityContext": {"readOnlyRootFilesystem": True}}]}
    for given in (deployment, template, {"containers": [{"name": "app"}]}):
        attribution = explains(defaults, given, running)
        assert [(d.path, d.cause) for d in attribution.differences] == [
            ("spec.containers[app].securityContext.readOnlyRootFilesystem", "psp"),
        ]


def test_statefulset_claim_volumes_are_the_controllers_doing() -> None:
    from migrator.psp import explains

    statefulset = {"kind": "StatefulSet", "metadata": {"name": "db"}, "spec": {
        "volumeClaimTemplates": [{"metadata": {"name": "data"}}],
        "template": {"spec": {"containers": [{"name": "db"}]}}}}
    pod = {"kind": "Pod", "metadata": {"name": "db-0"}, "spec": {
        "containers": [{"name": "db"}],
        "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data-db-0"}},
                    {"name": "extra", "hostPath": {"path": "/"}}]}}
    causes = {d.path: d.cause for d in explains([], statefulset, pod).differences}
    assert causes == {"spec.volumes[data]": "controller", "spec.volumes[extra]": "other"}


def test_replaying_defaults_leaves_the_pod_alone_and_copies_only_what_it_writes() -> None:
    import copy

    defaults = psp_defaults(psp_with({
        "runAsUser": {"rule": "MustRunAsNonRoot"},
        "defaultAddCapabilities": ["NET_ADMIN"],
        "requiredDropCapabilities": ["ALL"],
        "fsGroup": {"rule": "MustRunAs", "ranges": [{"min": 1, "max": 5}]},
    }))
    env = [{"name": "A", "value": "1"}]
    pod = bare_pod({"name": "app", "env": env, "securityContext": {"runAsUser": 7}},
                   {"name": "plain", "securityContext": {"capabilities": {"drop": ["KILL"]}}},
                   securityContext={"runAsGroup": 3})
    pod["metadata"]["annotations"] = {"a": "b"}
    before = copy.deepcopy(pod)
    out = apply_defaults(defaults, pod)
    assert pod == before  # nothing written into the input
    assert out["spec"]["securityContext"] != pod["spec"]["securityContext"]
    assert _container_sc(out, 1)["capabilities"] != _container_sc(pod, 1)["capabilities"]
    assert out["spec"]["containers"][0]["env"] is env  # shared, not copied


def test_explanations_are_shared_only_between_identical_templates_and_pods() -> None:
    from migrator.psp.mutation import explains

    defaults = psp_defaults(psp_with({"runAsUser": {"rule": "MustRunAsNonRoot"}}))
    template = bare_pod({"name": "app"})
    mutated = bare_pod({"name": "app", "securityContext": {"runAsNonRoot": True}})
    other = bare_pod({"name": "app", "securityContext": {"runAsNonRoot": False}})
    memo: dict[Any, Any] = {}
    first = explains(defaults, template, mutated, memo)
    # one answer and one replay of the defaults on the template
    assert explains(defaults, template, mutated, memo) is first and len(memo) == 2
    assert explains(defaults, template, other, memo) == explains(defaults, template, other)
    assert len(memo) == 3  # another pod of the same template: its replay is reused
    assert explains(defaults, template, mutated) == first
    changed = bare_pod({"name": "app", "securityContext": {"runAsUser": 1000}})
    assert explains(defaults, changed, mutated, memo) == explains(defaults, changed, mutated)
    assert len(memo) == 5
