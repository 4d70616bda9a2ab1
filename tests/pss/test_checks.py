"""Per-check tables: exact upstream reason and detail strings, and every version boundary.

Each case names a level, a policy version, a pod and the violations expected from ONE
check (other checks' violations are filtered out), so a case fails only for its check.
"""

from __future__ import annotations

from typing import Any

import pytest

from migrator.pss.api import Level, Version
from migrator.pss.checks import ALL_CHECKS
from migrator.pss.engine import evaluate

B, R = Level.BASELINE, Level.RESTRICTED


def c(name: str, sc: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "image": "registry.k8s.io/pause"}
    if sc is not None:
        out["securityContext"] = sc
    out.update(fields)
    return out


def spec(*containers: dict[str, Any], init: tuple[dict[str, Any], ...] = (),
         eph: tuple[dict[str, Any], ...] = (), **fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"containers": list(containers)}
    if init:
        out["initContainers"] = list(init)
    if eph:
        out["ephemeralContainers"] = list(eph)
    out.update(fields)
    return out


Case = tuple[str, Level, str, dict[str, Any], dict[str, Any], list[tuple[str, str]]]

CASES: list[Case] = [
    # privileged
    ("privileged/one", B, "latest", {}, spec(c("a", {"privileged": True}), c("b")),
     [("privileged", 'container "a" must not set securityContext.privileged=true')]),
    ("privileged/init-and-ephemeral", B, "v1.0", {},
     spec(c("a"), init=(c("i", {"privileged": True}),), eph=(c("e", {"privileged": True}),)),
     [("privileged", 'containers "i", "e" must not set securityContext.privileged=true')]),
    ("privileged/false", B, "latest", {}, spec(c("a", {"privileged": False})), []),
    # hostNamespaces
    ("hostNamespaces/all", B, "latest", {},
     spec(c("a"), hostNetwork=True, hostPID=True, hostIPC=True),
     [("host namespaces", "hostNetwork=true, hostPID=true, hostIPC=true")]),
    ("hostNamespaces/pid", B, "v1.10", {}, spec(c("a"), hostPID=True, hostIPC=False),
     [("host namespaces", "hostPID=true")]),
    # capabilities_baseline
    ("capabilities_baseline/two", B, "latest", {},
     spec(c("a", {"capabilities": {"add": ["NET_ADMIN", "CHOWN", "SYS_TIME"]}}),
          c("b", {"capabilities": {"add": ["NET_ADMIN"]}})),
     [("non-default capabilities", 'containers "a", "b" must not include "NET_ADMIN", '
       '"SYS_TIME" in securityContext.capabilities.add')]),
    ("capabilities_baseline/default-ok", B, "latest", {},
     spec(c("a", {"capabilities": {"add": ["NET_BIND_SERVICE", "KILL"]}})), []),
    # hostPathVolumes
    ("hostPathVolumes/two", B, "latest", {},
     spec(c("a"), volumes=[{"name": "x", "hostPath": {"path": "/"}}, {"name": "y", "emptyDir": {}},
                           {"name": "z", "hostPath": {"path": "/var"}}]),
     [("hostPath volumes", 'volumes "x", "z"')]),
    ("hostPathVolumes/one", B, "latest", {},
     spec(c("a"), volumes=[{"name": "x", "hostPath": {"path": "/"}}]),
     [("hostPath volumes", 'volume "x"')]),
    # hostPorts
    ("hostPorts/one", B, "latest", {},
     spec(c("a", ports=[{"containerPort": 80, "hostPort": 8080}])),
     [("hostPort", 'container "a" uses hostPort 8080')]),
    ("hostPorts/many", B, "latest", {},
     spec(c("a", ports=[{"containerPort": 80, "hostPort": 8080}, {"containerPort": 1, "hostPort": 443}]),
          c("b", ports=[{"containerPort": 9, "hostPort": 9090}]), init=(c("i", ports=[{"hostPort": 0}]),)),
     [("hostPort", 'containers "a", "b" use hostPorts 443, 8080, 9090')]),
    # hostProbesAndHostLifecycle (v1.34)
    ("hostProbes/before-1.34", B, "v1.33", {},
     spec(c("a", livenessProbe={"httpGet": {"host": "10.0.0.1", "port": 80}})), []),
    ("hostProbes/one", B, "v1.34", {},
     spec(c("a", livenessProbe={"httpGet": {"host": "10.0.0.1", "port": 80}})),
     [("probe or lifecycle host", 'container "a" uses probe or lifecycle host "10.0.0.1"')]),
    ("hostProbes/sorted", B, "latest", {},
     spec(c("z", readinessProbe={"tcpSocket": {"host": "b.example", "port": 1}}),
          c("a", lifecycle={"preStop": {"httpGet": {"host": "a.example", "port": 1}}})),
     [("probe or lifecycle host", 'containers "a", "z" use probe or lifecycle hosts '
       '"a.example", "b.example"')]),
    # procMount
    ("procMount/unmasked", B, "latest", {},
     spec(c("a", {"procMount": "Unmasked"}), c("b", {"procMount": "Default"})),
     [("procMount", 'container "a" must not set securityContext.procMount to "Unmasked"')]),
    ("procMount/userns-1.34", B, "v1.34", {},
     spec(c("a", {"procMount": "Unmasked"}), hostUsers=False),
     [("procMount", 'container "a" must not set securityContext.procMount to "Unmasked"')]),
    ("procMount/userns-1.35-baseline", B, "v1.35", {},
     spec(c("a", {"procMount": "Unmasked"}), hostUsers=False), []),
    ("procMount/userns-1.35-restricted", R, "v1.35", {},
     spec(c("a", {"procMount": "Unmasked"}), hostUsers=False),
     [("procMount", 'container "a" must not set securityContext.procMount to "Unmasked"')]),
    # seLinuxOptions
    ("seLinuxOptions/pod-and-containers", B, "latest", {},
     spec(c("a", {"seLinuxOptions": {"type": "spc_t"}}), c("b", {"seLinuxOptions": {"user": "u"}}),
          securityContext={"seLinuxOptions": {"role": "r", "type": "container_t"}}),
     [("seLinuxOptions", 'pod and containers "a", "b" set forbidden '
       'securityContext.seLinuxOptions: type "spc_t"; user may not be set; role may not be set')]),
    ("seLinuxOptions/engine-1.30", B, "v1.30", {},
     spec(c("a", {"seLinuxOptions": {"type": "container_engine_t"}})),
     [("seLinuxOptions", 'container "a" set forbidden securityContext.seLinuxOptions: '
       'type "container_engine_t"')]),
    ("seLinuxOptions/engine-1.31", B, "v1.31", {},
     spec(c("a", {"seLinuxOptions": {"type": "container_engine_t", "level": "s0:c1"}})), []),
    # seccompProfile_baseline
    ("seccomp_baseline/annotations-1.18", B, "v1.18",
     {"annotations": {"seccomp.security.alpha.kubernetes.io/pod": "unconfined",
                      "container.seccomp.security.alpha.kubernetes.io/a": "unconfined",
                      "container.seccomp.security.alpha.kubernetes.io/b": "runtime/default"}},
     spec(c("a"), c("b")),
     [("seccompProfile", 'forbidden annotations container.seccomp.security.alpha.kubernetes.io/'
       'a="unconfined", seccomp.security.alpha.kubernetes.io/pod="unconfined"')]),
    ("seccomp_baseline/annotations-ignored-1.19", B, "v1.19",
     {"annotations": {"seccomp.security.alpha.kubernetes.io/pod": "unconfined"}}, spec(c("a")), []),
    ("seccomp_baseline/fields-1.19", B, "v1.19", {},
     spec(c("a", {"seccompProfile": {"type": "Unconfined"}}),
          securityContext={"seccompProfile": {"type": "Unconfined"}}),
     [("seccompProfile", 'pod and container "a" must not set securityContext.seccompProfile.type '
       'to "Unconfined"')]),
    # sysctls
    ("sysctls/forbidden", B, "latest", {},
     spec(c("a"), securityContext={"sysctls": [{"name": "kernel.msgmax", "value": "1"},
                                               {"name": "kernel.shm_rmid_forced", "value": "0"},
                                               {"name": "net.core.somaxconn", "value": "1"}]}),
     [("forbidden sysctls", "kernel.msgmax, net.core.somaxconn")]),
    ("sysctls/reserved-ports-1.26", B, "v1.26", {},
     spec(c("a"), securityContext={"sysctls": [{"name": "net.ipv4.ip_local_reserved_ports"}]}),
     [("forbidden sysctls", "net.ipv4.ip_local_reserved_ports")]),
    ("sysctls/reserved-ports-1.27", B, "v1.27", {},
     spec(c("a"), securityContext={"sysctls": [{"name": "net.ipv4.ip_local_reserved_ports"}]}), []),
    ("sysctls/keepalive-1.28", B, "v1.28", {},
     spec(c("a"), securityContext={"sysctls": [{"name": "net.ipv4.tcp_keepalive_time"}]}),
     [("forbidden sysctls", "net.ipv4.tcp_keepalive_time")]),
    ("sysctls/keepalive-1.29", B, "v1.29", {},
     spec(c("a"), securityContext={"sysctls": [{"name": "net.ipv4.tcp_keepalive_time"}]}), []),
    ("sysctls/rmem-1.31", B, "v1.31", {},
     spec(c("a"), securityContext={"sysctls": [{"name": "net.ipv4.tcp_rmem"}]}),
     [("forbidden sysctls", "net.ipv4.tcp_rmem")]),
    ("sysctls/rmem-1.32", B, "v1.32", {},
     spec(c("a"), securityContext={"sysctls": [{"name": "net.ipv4.tcp_rmem"}]}), []),
    ("sysctls/lowat-1.36", B, "v1.36", {},
     spec(c("a"), securityContext={"sysctls": [{"name": "net.ipv4.tcp_notsent_lowat"}]}),
     [("forbidden sysctls", "net.ipv4.tcp_notsent_lowat")]),
    ("sysctls/lowat-1.37", B, "v1.37", {},
     spec(c("a"), securityContext={"sysctls": [{"name": "net.ipv4.tcp_notsent_lowat"}]}), []),
    ("sysctls/lowat-future", B, "v1.99", {},
     spec(c("a"), securityContext={"sysctls": [{"name": "net.ipv4.tcp_notsent_lowat"}]}), []),
    # windowsHostProcess
    ("hostProcess/pod", B, "latest", {},
     spec(c("a"), securityContext={"windowsOptions": {"hostProcess": True}}),
     [("hostProcess", "pod must not set securityContext.windowsOptions.hostProcess=true")]),
    ("hostProcess/pod-and-container", B, "latest", {},
     spec(c("a", {"windowsOptions": {"hostProcess": True}}),
          securityContext={"windowsOptions": {"hostProcess": True}}),
     [("hostProcess", 'pod and container "a" must not set '
       "securityContext.windowsOptions.hostProcess=true")]),
    ("hostProcess/containers", B, "latest", {},
     spec(c("a", {"windowsOptions": {"hostProcess": True}}), init=(c("i", {"windowsOptions": {"hostProcess": True}}),)),
     [("hostProcess", 'containers "i", "a" must not set '
       "securityContext.windowsOptions.hostProcess=true")]),
    # appArmorProfile
    ("appArmor/annotations", B, "latest",
     {"annotations": {"container.apparmor.security.beta.kubernetes.io/b": "unconfined",
                      "container.apparmor.security.beta.kubernetes.io/a": "unconfined",
                      "container.apparmor.security.beta.kubernetes.io/c": "localhost/x"}},
     spec(c("a"), c("b"), c("c")),
     [("forbidden AppArmor profiles", 'annotations must not set AppArmor profile type to '
       '"container.apparmor.security.beta.kubernetes.io/a="unconfined"", '
       '"container.apparmor.security.beta.kubernetes.io/b="unconfined""')]),
    ("appArmor/fields", B, "v1.0", {},
     spec(c("a", {"appArmorProfile": {"type": "Unconfined"}}), c("b", {"appArmorProfile": {"type": "Localhost", "localhostProfile": "p"}}),
          securityContext={"appArmorProfile": {"type": "Unconfined"}}),
     [("forbidden AppArmor profile", 'pod and container "a" must not set AppArmor profile type '
       'to "Unconfined"')]),
    # restrictedVolumes
    ("restrictedVolumes/types", R, "latest", {},
     spec(c("a"), volumes=[{"name": "h", "hostPath": {"path": "/"}}, {"name": "n", "nfs": {"server": "x", "path": "/"}},
                           {"name": "ok", "configMap": {"name": "x"}}, {"name": "img", "image": {"reference": "x"}},
                           {"name": "bare"}]),
     [("restricted volume types", 'volumes "h", "n" use restricted volume types "hostPath", "nfs"')]),
    ("restrictedVolumes/one", R, "v1.0", {},
     spec(c("a"), volumes=[{"name": "g", "gitRepo": {"repository": "x"}}]),
     [("restricted volume types", 'volume "g" uses restricted volume type "gitRepo"')]),
    # allowPrivilegeEscalation
    ("allowPrivilegeEscalation/before-1.8", R, "v1.7", {}, spec(c("a")), []),
    ("allowPrivilegeEscalation/1.8", R, "v1.8", {},
     spec(c("a"), c("b", {"allowPrivilegeEscalation": True}), c("c", {"allowPrivilegeEscalation": False})),
     [("allowPrivilegeEscalation != false", 'containers "a", "b" must set '
       "securityContext.allowPrivilegeEscalation=false")]),
    ("allowPrivilegeEscalation/windows-1.24", R, "v1.24", {}, spec(c("a"), os={"name": "windows"}),
     [("allowPrivilegeEscalation != false", 'container "a" must set '
       "securityContext.allowPrivilegeEscalation=false")]),
    ("allowPrivilegeEscalation/windows-1.25", R, "v1.25", {}, spec(c("a"), os={"name": "windows"}), []),
    # runAsNonRoot
    ("runAsNonRoot/implicit", R, "latest", {}, spec(c("a"), init=(c("i"),)),
     [("runAsNonRoot != true", 'pod or containers "i", "a" must set '
       "securityContext.runAsNonRoot=true")]),
    ("runAsNonRoot/pod-true", R, "latest", {},
     spec(c("a"), securityContext={"runAsNonRoot": True}), []),
    ("runAsNonRoot/explicit-false", R, "latest", {},
     spec(c("a", {"runAsNonRoot": False}), c("b"), securityContext={"runAsNonRoot": False}),
     [("runAsNonRoot != true", 'pod and container "a" must not set '
       "securityContext.runAsNonRoot=false")]),
    ("runAsNonRoot/container-true", R, "latest", {},
     spec(c("a", {"runAsNonRoot": True}), c("b")),
     [("runAsNonRoot != true", 'pod or container "b" must set securityContext.runAsNonRoot=true')]),
    ("runAsNonRoot/userns-1.34", R, "v1.34", {}, spec(c("a"), hostUsers=False),
     [("runAsNonRoot != true", 'pod or container "a" must set securityContext.runAsNonRoot=true')]),
    ("runAsNonRoot/userns-1.35", R, "v1.35", {}, spec(c("a"), hostUsers=False), []),
    # runAsUser
    ("runAsUser/before-1.23", R, "v1.22", {}, spec(c("a", {"runAsUser": 0})), []),
    ("runAsUser/1.23", R, "v1.23", {},
     spec(c("a", {"runAsUser": 0}), c("b", {"runAsUser": 1000}), securityContext={"runAsUser": 0}),
     [("runAsUser=0", 'pod and container "a" must not set runAsUser=0')]),
    ("runAsUser/userns-1.35", R, "v1.35", {}, spec(c("a", {"runAsUser": 0}), hostUsers=False), []),
    # seccompProfile_restricted
    ("seccomp_restricted/implicit", R, "latest", {}, spec(c("a"), c("b", {"seccompProfile": {"type": "RuntimeDefault"}})),
     [("seccompProfile", 'pod or container "a" must set securityContext.seccompProfile.type to '
       '"RuntimeDefault" or "Localhost"')]),
    ("seccomp_restricted/explicit", R, "latest", {},
     spec(c("a", {"seccompProfile": {"type": "Unconfined"}}), c("b"),
          securityContext={"seccompProfile": {"type": "RuntimeDefault"}}),
     [("seccompProfile", 'container "a" must not set securityContext.seccompProfile.type to '
       '"Unconfined"')]),
    ("seccomp_restricted/before-1.19-baseline-rule", R, "v1.18", {}, spec(c("a")), []),
    ("seccomp_restricted/windows-1.25", R, "v1.25", {}, spec(c("a"), os={"name": "windows"}), []),
    # capabilities_restricted
    ("capabilities_restricted/drop-and-add", R, "latest", {},
     spec(c("a"), c("b", {"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE", "NET_RAW", "CHOWN"]}}),
          c("d", {"capabilities": {"drop": ["NET_RAW"]}})),
     [("unrestricted capabilities", 'containers "a", "d" must set '
       'securityContext.capabilities.drop=["ALL"]; container "b" must not include "CHOWN", '
       '"NET_RAW" in securityContext.capabilities.add')]),
    ("capabilities_restricted/before-1.22-baseline-rule", R, "v1.21", {},
     spec(c("a", {"capabilities": {"add": ["NET_ADMIN"]}})),
     [("non-default capabilities", 'container "a" must not include "NET_ADMIN" in '
       "securityContext.capabilities.add")]),
    ("capabilities_restricted/windows-1.25", R, "v1.25", {}, spec(c("a"), os={"name": "windows"}), []),
]

REASON_CHECK = {
    "privileged": "privileged", "host namespaces": "hostNamespaces",
    "non-default capabilities": "capabilities_baseline", "hostPath volumes": "hostPathVolumes",
    "hostPort": "hostPorts", "probe or lifecycle host": "hostProbesAndHostLifecycle",
    "procMount": None, "seLinuxOptions": "seLinuxOptions", "seccompProfile": None,
    "forbidden sysctls": "sysctls", "hostProcess": "windowsHostProcess",
    "forbidden AppArmor profile": "appArmorProfile",
    "forbidden AppArmor profiles": "appArmorProfile",
    "restricted volume types": "restrictedVolumes",
    "allowPrivilegeEscalation != false": "allowPrivilegeEscalation",
    "runAsNonRoot != true": "runAsNonRoot", "runAsUser=0": "runAsUser",
    "unrestricted capabilities": "capabilities_restricted",
}


#: A case's name (before the "/") -> the one check whose violations it asserts, by exact ID.
CASE_CHECK = {
    "allowPrivilegeEscalation": "allowPrivilegeEscalation", "appArmor": "appArmorProfile",
    "capabilities_baseline": "capabilities_baseline",
    "capabilities_restricted": "capabilities_restricted",
    "hostNamespaces": "hostNamespaces", "hostPathVolumes": "hostPathVolumes",
    "hostPorts": "hostPorts", "hostProbes": "hostProbesAndHostLifecycle",
    "hostProcess": "windowsHostProcess", "privileged": "privileged", "procMount": "procMount",
    "restrictedVolumes": "restrictedVolumes", "runAsNonRoot": "runAsNonRoot",
    "runAsUser": "runAsUser", "seLinuxOptions": "seLinuxOptions",
    "seccomp_baseline": "seccompProfile_baseline",
    "seccomp_restricted": "seccompProfile_restricted", "sysctls": "sysctls",
}
#: Cases named `…-baseline-rule` assert the baseline check a restricted one overrides later.
OVERRIDDEN = {"capabilities_restricted": "capabilities_baseline",
              "seccompProfile_restricted": "seccompProfile_baseline",
              "procMount_restricted": "procMount"}


def case_checks(case_id: str) -> set[str]:
    """The exact check IDs a case asserts; procMount cases also see its restricted twin."""
    name, _, variant = case_id.partition("/")
    check = CASE_CHECK[name]
    if variant.endswith("baseline-rule"):
        return {OVERRIDDEN[check]}
    return {check, "procMount_restricted"} if check == "procMount" else {check}


@pytest.mark.parametrize(
    "case_id,level,version,metadata,pod_spec,expected", CASES, ids=[c_[0] for c_ in CASES]
)
def test_check(case_id: str, level: Level, version: str, metadata: dict[str, Any],
               pod_spec: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    checks = case_checks(case_id)
    # the filter must name real checks, or an "allowed" case would pass vacuously
    assert checks <= {c.id for c in ALL_CHECKS}, checks
    found = [
        (v.reason, v.detail)
        for v in evaluate(level, Version.parse(version), metadata, pod_spec)
        if v.check in checks
    ]
    assert found == expected


def test_capabilities_cases_tell_baseline_from_restricted() -> None:
    """A restricted pod adding NET_ADMIN fails only capabilities_restricted at latest: the
    baseline case must not see it, nor the restricted case the baseline check."""
    pod_spec = spec(c("a", {"capabilities": {"add": ["NET_ADMIN"]}}))
    found = {v.check for v in evaluate(R, Version.latest(), {}, pod_spec)}
    assert "capabilities_restricted" in found and "capabilities_baseline" not in found
    assert case_checks("capabilities_baseline/x") == {"capabilities_baseline"}
    assert case_checks("capabilities_restricted/x") == {"capabilities_restricted"}


def test_check_order_matches_a_real_server() -> None:
    """pod-create-forbidden.json: baseline checks by ID, then restricted checks by ID."""
    pod_spec = spec(c("app", {"privileged": True}), hostPID=True)
    found = [v.text() for v in evaluate(R, Version.latest(), {}, pod_spec)]
    assert ", ".join(found) == (
        'host namespaces (hostPID=true), privileged (container "app" must not set '
        'securityContext.privileged=true), allowPrivilegeEscalation != false (container "app" '
        'must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities '
        '(container "app" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != '
        'true (pod or container "app" must set securityContext.runAsNonRoot=true), '
        'seccompProfile (pod or container "app" must set securityContext.seccompProfile.type to '
        '"RuntimeDefault" or "Localhost")'
    )


def test_privileged_level_allows_everything() -> None:
    pod_spec = spec(c("a", {"privileged": True}), hostPID=True)
    assert evaluate(Level.PRIVILEGED, Version.latest(), {}, pod_spec) == []


def test_malformed_field_is_a_violation_not_a_crash() -> None:
    pod_spec = {"containers": [{"name": "a", "securityContext": "oops"}]}
    found = evaluate(B, Version.latest(), {}, pod_spec)
    assert found and all(v.reason == "malformed pod spec" for v in found)
