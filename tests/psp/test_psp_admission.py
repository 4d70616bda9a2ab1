"""PSP admission: each field rule on a mutated pod, and which PSP a pod gets.

The recorded 1.24 exchanges (tests/data/v1.24, copied from the shared recordings) decide
the two real verdicts: a privileged container is denied by restricted-mutating, a bare
pod is admitted by it after its mutations.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from migrator.plan.today import as_received
from migrator.psp import read_psp
from migrator.psp.admission import admit, choose, token_sources_only, validate

DATA = Path(__file__).resolve().parents[1] / "data" / "v1.24"


def recorded(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / name).read_text(encoding="utf-8"))
    return data


def psp_of(name: str) -> Any:
    return read_psp(recorded(f"psp-create-{name}.json")["request"]["body"])


def pod(spec: dict[str, Any], annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {"metadata": {"annotations": annotations or {}}, "spec": spec}


def app(**sc: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "app", "image": "x"}
    if sc:
        container["securityContext"] = sc
    return container


def test_recorded_privileged_container_is_denied_like_the_apiserver() -> None:
    exchange = recorded("pod-create-sa-privileged-forbidden.json")
    result = admit(psp_of("restricted-mutating"), exchange["request"]["body"])
    assert not result.admitted
    message = exchange["response"]["body"]["message"]
    paths = {d.path for d in result.denials}
    assert "spec.containers[0].securityContext.privileged" in paths
    denial = next(d for d in result.denials if d.rule == "spec.privileged")
    assert denial.message in message  # the API server's own wording


def test_recorded_bare_pod_is_admitted_after_mutation_with_the_stored_fields() -> None:
    exchange = recorded("pod-create-sa-mutated.json")
    result = admit(psp_of("restricted-mutating"), exchange["request"]["body"])
    assert result.admitted and result.mutated
    stored = exchange["response"]["body"]["spec"]
    assert result.pod["spec"]["securityContext"]["fsGroup"] == stored["securityContext"]["fsGroup"]
    container_sc = result.pod["spec"]["containers"][0]["securityContext"]
    assert container_sc == stored["containers"][0]["securityContext"]


def test_choose_prefers_a_policy_that_admits_unchanged_over_an_earlier_mutating_one() -> None:
    mutating, privileged = psp_of("restricted-mutating"), psp_of("privileged")
    bare = pod({"containers": [app()]})
    # "privileged" sorts after "restricted-mutating" but admits the pod as it is
    assert choose([mutating, privileged], bare).chosen.psp == "privileged"  # type: ignore[union-attr]
    # a pod restricted-mutating leaves unchanged gets it, first by name
    ready = pod({"securityContext": {"fsGroup": 5, "supplementalGroups": [5],
                                     "seccompProfile": {"type": "RuntimeDefault"}},
                 "containers": [app(allowPrivilegeEscalation=False, runAsNonRoot=True,
                                    capabilities={"drop": ["ALL"]})]},
                {"seccomp.security.alpha.kubernetes.io/pod": "runtime/default"})
    choice = choose([privileged, mutating], ready)
    assert choice.chosen is not None and choice.chosen.psp == "privileged"
    only_mutating = choose([mutating, read_psp(_named(privileged_body(), "zz-other"))], bare)
    assert only_mutating.chosen is not None


def privileged_body() -> dict[str, Any]:
    return copy.deepcopy(recorded("psp-create-privileged.json")["request"]["body"])


def _named(body: dict[str, Any], name: str) -> dict[str, Any]:
    body["metadata"]["name"] = name
    return body


def test_first_mutating_policy_by_name_when_none_admits_unchanged() -> None:
    first = copy.deepcopy(recorded("psp-create-restricted-mutating.json")["request"]["body"])
    second = _named(copy.deepcopy(first), "b-second")
    first = _named(first, "a-first")
    choice = choose([read_psp(second), read_psp(first)], pod({"containers": [app()]}))
    assert choice.chosen is not None and choice.chosen.psp == "a-first"
    assert choice.chosen.mutated


def test_no_policy_admits_and_every_denial_is_kept() -> None:
    restricted, baseline = psp_of("restricted-mutating"), psp_of("baseline-ish")
    choice = choose([restricted, baseline], pod({"containers": [app(privileged=True)]}))
    assert not choice.admitted
    assert {d.psp for d in choice.denials} == {"restricted-mutating", "baseline-ish"}


def _psp(spec: dict[str, Any], annotations: dict[str, str] | None = None) -> Any:
    base: dict[str, Any] = {"seLinux": {"rule": "RunAsAny"}, "runAsUser": {"rule": "RunAsAny"},
                            "fsGroup": {"rule": "RunAsAny"},
                            "supplementalGroups": {"rule": "RunAsAny"}, "volumes": ["*"]}
    base.update(spec)
    return read_psp({"kind": "PodSecurityPolicy",
                     "metadata": {"name": "p", "annotations": annotations or {}}, "spec": base})


def rules(psp: Any, target: dict[str, Any]) -> set[str]:
    return {d.rule for d in admit(psp, target).denials}


def host_path_pod(path: str, read_only: bool = False) -> dict[str, Any]:
    return pod({"volumes": [{"name": "h", "hostPath": {"path": path}}],
                "containers": [{"name": "app", "volumeMounts": [
                    {"name": "h", "mountPath": "/h", "readOnly": read_only}]}]})


def test_hostpath_forbidden_by_volume_list() -> None:
    psp = _psp({"volumes": ["configMap", "secret", "emptyDir", "projected"]})
    assert rules(psp, host_path_pod("/var/log")) == {"spec.volumes"}
    assert not rules(psp, pod({"volumes": [{"name": "e", "emptyDir": {}}],
                               "containers": [app()]}))


def test_allowed_host_paths_match_whole_segments_and_read_only() -> None:
    psp = _psp({"volumes": ["hostPath"],
                "allowedHostPaths": [{"pathPrefix": "/var/log", "readOnly": True}]})
    assert not rules(psp, host_path_pod("/var/log/app", read_only=True))
    assert rules(psp, host_path_pod("/var/log/app")) == {"spec.allowedHostPaths"}
    assert rules(psp, host_path_pod("/var/logs", read_only=True)) == {"spec.allowedHostPaths"}


@pytest.mark.parametrize(("spec", "container", "rule"), [
    ({}, app(privileged=True), "spec.privileged"),
    ({"allowPrivilegeEscalation": False}, app(allowPrivilegeEscalation=True),
     "spec.allowPrivilegeEscalation"),
    ({"allowedCapabilities": ["NET_BIND_SERVICE"]}, app(capabilities={"add": ["NET_ADMIN"]}),
     "spec.allowedCapabilities"),
    ({"readOnlyRootFilesystem": True}, app(readOnlyRootFilesystem=False),
     "spec.readOnlyRootFilesystem"),
    ({"runAsUser": {"rule": "MustRunAsNonRoot"}}, app(runAsUser=0), "spec.runAsUser"),
    ({"runAsUser": {"rule": "MustRunAs", "ranges": [{"min": 1000, "max": 2000}]}},
     app(runAsUser=10), "spec.runAsUser"),
    ({}, app(procMount="Unmasked"), "spec.allowedProcMountTypes"),
    ({"hostPorts": [{"min": 8000, "max": 8080}]},
     {"name": "app", "ports": [{"containerPort": 80, "hostPort": 80}]}, "spec.hostPorts"),
    ({"seLinux": {"rule": "MustRunAs", "seLinuxOptions": {"type": "container_t"}}},
     app(seLinuxOptions={"type": "spc_t"}), "spec.seLinux"),
])
def test_container_rules(spec: dict[str, Any], container: dict[str, Any], rule: str) -> None:
    psp = _psp(spec)
    assert rule in rules(psp, pod({"containers": [container]}))
    assert not rules(psp, pod({"containers": [app()]}))


def test_mutation_satisfies_the_rules_it_defaults() -> None:
    psp = _psp({"allowPrivilegeEscalation": False, "runAsUser": {"rule": "MustRunAsNonRoot"},
                "fsGroup": {"rule": "MustRunAs", "ranges": [{"min": 10, "max": 20}]},
                "requiredDropCapabilities": ["ALL"], "readOnlyRootFilesystem": True})
    result = admit(psp, pod({"containers": [app()]}))
    assert result.admitted and result.mutated
    explicit = admit(psp, pod({"securityContext": {"fsGroup": 30}, "containers": [app()]}))
    assert {d.rule for d in explicit.denials} == {"spec.fsGroup"}


def test_pod_level_rules() -> None:
    psp = _psp({"forbiddenSysctls": ["kernel.msg*"]})
    assert rules(psp, pod({"hostNetwork": True, "containers": [app()]})) == {"spec.hostNetwork"}
    sysctls = {"sysctls": [{"name": "kernel.msgmax", "value": "1"},
                           {"name": "net.core.somaxconn", "value": "1"},
                           {"name": "net.ipv4.tcp_syncookies", "value": "1"}]}
    found = admit(psp, pod({"securityContext": sysctls, "containers": [app()]})).denials
    assert sorted(d.rule for d in found) == ["spec.allowedUnsafeSysctls", "spec.forbiddenSysctls"]


def test_seccomp_and_apparmor_allow_lists() -> None:
    seccomp = _psp({}, {"seccomp.security.alpha.kubernetes.io/allowedProfileNames":
                        "runtime/default"})
    assert rules(seccomp, pod({"containers": [app()]}))  # none set, none defaulted
    ok = pod({"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
              "containers": [app()]})
    assert not rules(seccomp, ok)
    unset = _psp({})
    assert rules(unset, ok)  # no allow-list: seccomp may not be set
    apparmor = _psp({}, {"apparmor.security.beta.kubernetes.io/allowedProfileNames":
                         "runtime/default"})
    assert rules(apparmor, pod({"containers": [app()]}))
    key = "container.apparmor.security.beta.kubernetes.io/app"
    assert not rules(apparmor, pod({"containers": [app()]}, {key: "runtime/default"}))
    defaulted = _psp({}, {"apparmor.security.beta.kubernetes.io/allowedProfileNames":
                          "runtime/default",
                          "apparmor.security.beta.kubernetes.io/defaultProfileName":
                          "runtime/default"})
    assert not rules(defaulted, pod({"containers": [app()]}))


def test_validate_takes_the_pod_as_stored() -> None:
    psp = _psp({"allowPrivilegeEscalation": False})
    assert validate(psp, pod({"containers": [app()]}))  # unmutated: unset is denied
    assert admit(psp, pod({"containers": [app()]})).admitted


def test_a_bound_token_volume_counts_as_a_secret_as_on_1_24() -> None:
    recorded_pod = recorded("pod-create-sa-mutated.json")["response"]["body"]["spec"]
    token = recorded_pod["volumes"][0]
    assert token_sources_only(token["projected"])
    secrets_only = _psp({"volumes": ["secret", "configMap"]})
    with_token = pod({"volumes": [token], "containers": [app()]})
    assert not rules(secrets_only, with_token)
    other = {"name": "p", "projected": {"sources": [{"secret": {"name": "s"}}]}}
    assert rules(secrets_only, pod({"volumes": [other], "containers": [app()]})) \
        == {"spec.volumes"}
    assert rules(_psp({"volumes": ["configMap"]}), with_token) == {"spec.volumes"}


def test_templates_are_judged_with_the_token_volume_the_server_adds() -> None:
    template = {"kind": "Deployment", "metadata": {"name": "d", "namespace": "n"},
                "spec": {"template": {"metadata": {}, "spec": {
                    "containers": [{"name": "c"}]}}}}
    received = as_received(template)
    assert any("projected" in v for v in received["spec"]["volumes"])
    no_token = copy.deepcopy(template)
    no_token["spec"]["template"]["spec"]["automountServiceAccountToken"] = False
    assert "volumes" not in as_received(no_token)["spec"]
    empty_dir_only = _psp({"volumes": ["emptyDir"]})
    assert not admit(empty_dir_only, received).admitted
    assert admit(empty_dir_only, as_received(no_token)).admitted


def test_a_host_network_pod_gets_its_container_ports_as_host_ports() -> None:
    template = {"kind": "DaemonSet", "metadata": {"name": "agent", "namespace": "n"},
                "spec": {"template": {"metadata": {}, "spec": {
                    "hostNetwork": True, "automountServiceAccountToken": False,
                    "containers": [{"name": "c", "ports": [{"containerPort": 9100}]}]}}}}
    received = as_received(template)
    assert received["spec"]["containers"][0]["ports"] == [
        {"containerPort": 9100, "hostPort": 9100}]
    assert "hostPort" not in template["spec"]["template"]["spec"]["containers"][0]["ports"][0]
    narrow = _psp({"hostNetwork": True, "hostPorts": [{"min": 9000, "max": 9099}]})
    wide = _psp({"hostNetwork": True, "hostPorts": [{"min": 9000, "max": 9999}]})
    assert rules(narrow, received) == {"spec.hostPorts"}
    assert not rules(wide, received)


@pytest.mark.parametrize("name", ["pod-create-admin-bare.json",
                                  "pod-create-admin-seccomp-dryrun.json"])
def test_the_recorded_choice_among_all_three_psps(name: str) -> None:
    """The admin may use every PSP: the API server's choice is in the stored annotation."""
    exchange = recorded(name)
    body = exchange["request"]["body"]
    received = as_received({**body, "metadata": {**body["metadata"], "namespace": "team-a"}})
    psps = [psp_of(n) for n in ("baseline-ish", "privileged", "restricted-mutating")]
    choice = choose(psps, received)
    stored = exchange["response"]["body"]["metadata"]["annotations"]["kubernetes.io/psp"]
    assert choice.chosen is not None and choice.chosen.psp == stored
    assert not choice.chosen.mutated
