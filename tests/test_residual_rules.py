"""Residual PSP rules as CEL, one rule kind at a time: each expression, evaluated by the CEL
engine the plan uses, admits exactly the pods PSP admission (1.24) admitted on that field,
and a rule appears only where the namespace's Pod Security level does not already enforce it."""

from __future__ import annotations

from typing import Any

import pytest

from migrator.plan.residual import compiled
from migrator.psp.residual import Alternative, compose, residual_rules
from migrator.psp.spec import read_psp
from migrator.pss.api import Level, Version

LATEST = Version.latest()
BASE_SPEC: dict[str, Any] = {
    "privileged": True, "hostNetwork": True, "hostPID": True, "hostIPC": True,
    "hostPorts": [{"min": 0, "max": 65535}], "allowedCapabilities": ["*"], "volumes": ["*"],
    "allowedProcMountTypes": ["Unmasked"], "allowedUnsafeSysctls": ["*"],
    "runAsUser": {"rule": "RunAsAny"}, "seLinux": {"rule": "RunAsAny"},
    "supplementalGroups": {"rule": "RunAsAny"}, "fsGroup": {"rule": "RunAsAny"},
}


def psp(name: str = "p", **spec: Any) -> dict[str, Any]:
    """A PSP that allows everything but the fields given."""
    return {"kind": "PodSecurityPolicy", "metadata": {"name": name},
            "spec": {**BASE_SPEC, **spec}}


def fields(policy: dict[str, Any], level: Level = Level.PRIVILEGED,
           version: Version = LATEST) -> list[str]:
    return [r.field for r in residual_rules(read_psp(policy), level, version)]


def rejected(policy: dict[str, Any], spec: dict[str, Any], level: Level = Level.PRIVILEGED,
             version: Version = LATEST) -> list[str]:
    """The messages of the validations the pod fails ([]: admitted)."""
    spec = {"containers": [{"name": "app", "image": "app"}], **spec}
    rules = residual_rules(read_psp(policy), level, version)
    composed = compose([Alternative(policy["metadata"]["name"], None, tuple(rules))])
    if composed is None:
        return []
    return [f.message for f in compiled(composed).evaluate({"metadata": {}, "spec": spec})]


def container(**security: Any) -> dict[str, Any]:
    return {"name": "app", "image": "app", "securityContext": security}


def test_an_allow_everything_psp_leaves_no_rule() -> None:
    assert fields(psp()) == []
    assert rejected(psp(), {"hostNetwork": True, "volumes": [{"name": "h", "hostPath": {"path": "/"}}]}) == []


# -- privileged, host namespaces, host ports, procMount: residual only at privileged -----


def test_privileged_containers_in_every_container_list() -> None:
    policy = psp(privileged=False)
    assert fields(policy) == ["spec.privileged"]
    assert fields(policy, Level.BASELINE) == []
    assert rejected(policy, {"containers": [container(privileged=False)]}) == []
    assert rejected(policy, {"containers": [container()]}) == []
    for key in ("containers", "initContainers", "ephemeralContainers"):
        spec = {key: [container(privileged=True)]}
        if key != "containers":
            spec["containers"] = [container()]
        [message] = rejected(policy, spec)
        assert message == "PodSecurityPolicy p: spec.privileged allows no privileged container, got: app"


@pytest.mark.parametrize("key", ["hostNetwork", "hostPID", "hostIPC"])
def test_host_namespaces(key: str) -> None:
    policy = psp(**{key: False})
    assert fields(policy) == [f"spec.{key}"]
    assert fields(policy, Level.BASELINE) == []
    assert rejected(policy, {key: False}) == []
    assert rejected(policy, {}) == []
    assert rejected(policy, {key: True}) == [f"PodSecurityPolicy p: spec.{key} allows {key}: false, got: {key}: true"]


def _ports(*ports: int) -> dict[str, Any]:
    return {"containers": [{"name": "app", "ports": [
        {"containerPort": 80, **({"hostPort": p} if p is not None else {})} for p in ports]}]}


def test_host_port_ranges_are_inclusive() -> None:
    policy = psp(hostPorts=[{"min": 8000, "max": 8080}, {"min": 9100, "max": 9100}])
    assert fields(policy) == ["spec.hostPorts"]
    assert fields(policy, Level.BASELINE) == []
    for port in (8000, 8080, 9100, 0):
        assert rejected(policy, _ports(port)) == [], port
    assert rejected(policy, {"containers": [{"name": "app", "ports": [{"containerPort": 80}]}]}) == []
    for port in (7999, 8081, 9101):
        assert rejected(policy, _ports(port)) == [
            f"PodSecurityPolicy p: spec.hostPorts allows host ports 8000-8080, 9100, got: app={port}"]


def test_no_host_ports_means_none_but_zero() -> None:
    policy = psp(hostPorts=[])
    assert rejected(policy, _ports(0)) == []
    assert len(rejected(policy, _ports(80))) == 1
    assert fields(psp(hostPorts=[{"min": 0, "max": 65535}])) == []


def test_proc_mount() -> None:
    policy = psp(allowedProcMountTypes=[])
    assert fields(policy) == ["spec.allowedProcMountTypes"]
    assert fields(policy, Level.BASELINE) == []
    assert rejected(policy, {"containers": [container(procMount="Default")]}) == []
    assert len(rejected(policy, {"containers": [container(procMount="Unmasked")]})) == 1
    assert fields(psp(allowedProcMountTypes=["Default", "Unmasked"])) == []


# -- capabilities -------------------------------------------------------------------------


def _adds(*caps: str) -> dict[str, Any]:
    return {"containers": [container(capabilities={"add": list(caps)})]}


def test_capability_allow_list_counts_default_add() -> None:
    policy = psp(allowedCapabilities=["NET_ADMIN"], defaultAddCapabilities=["CHOWN"])
    assert fields(policy) == ["spec.allowedCapabilities"]
    assert rejected(policy, _adds("NET_ADMIN", "CHOWN")) == []
    assert rejected(policy, {"containers": [container(capabilities={"drop": ["ALL"]})]}) == []
    assert rejected(policy, _adds("NET_ADMIN", "SYS_ADMIN")) == [
        "PodSecurityPolicy p: spec.allowedCapabilities allows CHOWN, NET_ADMIN, got: app=SYS_ADMIN"]


def test_capability_rule_only_where_the_level_admits_more() -> None:
    only_bind = psp(allowedCapabilities=["NET_BIND_SERVICE"])
    assert fields(only_bind, Level.BASELINE) == ["spec.allowedCapabilities"]
    assert rejected(only_bind, _adds("CHOWN"), Level.RESTRICTED) == []  # restricted refuses it
    assert len(rejected(only_bind, {**_adds("CHOWN"), "os": {"name": "windows"}},
                        Level.RESTRICTED)) == 1
    none = psp(allowedCapabilities=[])
    assert fields(none, Level.RESTRICTED) == ["spec.allowedCapabilities"]
    assert len(rejected(none, _adds("NET_BIND_SERVICE"), Level.RESTRICTED)) == 1
    baseline_list = sorted(["AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL",
                            "MKNOD", "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP",
                            "SETUID", "SYS_CHROOT"])
    assert fields(psp(allowedCapabilities=baseline_list), Level.BASELINE) == []


# -- volumes ------------------------------------------------------------------------------


def _volumes(*volumes: dict[str, Any]) -> dict[str, Any]:
    return {"volumes": list(volumes)}


def test_volume_types() -> None:
    policy = psp(volumes=["configMap", "secret", "cephFS", "hostPath"])
    assert fields(policy) == ["spec.volumes"]
    assert rejected(policy, _volumes({"name": "a", "configMap": {"name": "x"}},
                                     {"name": "b", "cephfs": {"monitors": ["m"]}})) == []
    assert rejected(policy, {}) == []
    assert rejected(policy, _volumes({"name": "a", "configMap": {}}, {"name": "d", "emptyDir": {}})) == [
        "PodSecurityPolicy p: spec.volumes allows cephFS, configMap, hostPath, secret, got: d"]


def test_volume_rule_depends_on_the_level() -> None:
    restricted_list = ["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                       "persistentVolumeClaim", "projected", "secret"]
    assert fields(psp(volumes=restricted_list), Level.RESTRICTED) == []
    assert fields(psp(volumes=restricted_list), Level.BASELINE) == ["spec.volumes"]
    narrower = psp(volumes=["configMap", "secret"])
    assert fields(narrower, Level.RESTRICTED) == ["spec.volumes"]
    assert len(rejected(narrower, _volumes({"name": "e", "emptyDir": {}}), Level.RESTRICTED)) == 1


def _host_path(path: str, *mounts: dict[str, Any], init: bool = False) -> dict[str, Any]:
    key = "initContainers" if init else "containers"
    spec: dict[str, Any] = {"volumes": [{"name": "h", "hostPath": {"path": path}}],
                            key: [{"name": "app", "volumeMounts": list(mounts)}]}
    if init:
        spec["containers"] = [{"name": "main"}]
    return spec


def test_host_paths_match_by_path_segment() -> None:
    policy = psp(allowedHostPaths=[{"pathPrefix": "/var/log"}])
    assert fields(policy) == ["spec.allowedHostPaths"]
    assert fields(policy, Level.BASELINE) == []
    for path in ("/var/log", "/var/log/", "/var/log/app", "/var/log/app/x.log"):
        assert rejected(policy, _host_path(path)) == [], path
    for path in ("/var/logs", "/var", "/etc", "/var/log/../etc", "/var/log/.."):
        assert rejected(policy, _host_path(path)) == [
            f"PodSecurityPolicy p: spec.allowedHostPaths allows /var/log, got: h={path}"], path


def test_host_path_prefix_with_trailing_slash_and_root() -> None:
    assert rejected(psp(allowedHostPaths=[{"pathPrefix": "/var/log/"}]), _host_path("/var/log")) == []
    assert len(rejected(psp(allowedHostPaths=[{"pathPrefix": "/var/log/"}]), _host_path("/var/lo"))) == 1
    assert rejected(psp(allowedHostPaths=[{"pathPrefix": "/"}]), _host_path("/etc/x")) == []


def test_read_only_host_paths_need_read_only_mounts() -> None:
    policy = psp(allowedHostPaths=[{"pathPrefix": "/etc", "readOnly": True},
                                   {"pathPrefix": "/var/log"}])
    ro = {"name": "h", "mountPath": "/h", "readOnly": True}
    rw = {"name": "h", "mountPath": "/h"}
    assert rejected(policy, _host_path("/etc/ssl", ro)) == []
    assert rejected(policy, _host_path("/etc/ssl")) == []  # declared, never mounted
    assert len(rejected(policy, _host_path("/etc/ssl", rw))) == 1
    assert len(rejected(policy, _host_path("/etc/ssl", ro, rw))) == 1
    assert len(rejected(policy, _host_path("/etc/ssl", rw, init=True))) == 1
    assert rejected(policy, _host_path("/var/log/x", rw)) == []  # a writable prefix matches


def test_host_path_rule_needs_the_volume_type() -> None:
    assert fields(psp(volumes=["configMap"], allowedHostPaths=[{"pathPrefix": "/x"}])) == ["spec.volumes"]


@pytest.mark.parametrize("kind, field, key", [
    ("flexVolume", "spec.allowedFlexVolumes", "driver"),
    ("csi", "spec.allowedCSIDrivers", "name"),
])
def test_driver_allow_lists(kind: str, field: str, key: str) -> None:
    policy = psp(**{field.removeprefix("spec."): [{key: "good.example/driver"}]})
    assert fields(policy) == [field]
    ok = _volumes({"name": "v", kind: {"driver": "good.example/driver"}})
    bad = _volumes({"name": "v", kind: {"driver": "other"}})
    assert rejected(policy, ok) == []
    assert rejected(policy, _volumes({"name": "e", "emptyDir": {}})) == []
    assert rejected(policy, bad) == [f"PodSecurityPolicy p: {field} allows good.example/driver, got: v=other"]
    assert fields(policy, Level.RESTRICTED) == ([field] if kind == "csi" else [])


# -- container settings -------------------------------------------------------------------


def test_read_only_root_filesystem_unset_is_defaulted() -> None:
    policy = psp(readOnlyRootFilesystem=True)
    for level in Level:
        assert fields(policy, level) == ["spec.readOnlyRootFilesystem"]
    assert rejected(policy, {"containers": [container(readOnlyRootFilesystem=True)]}) == []
    assert rejected(policy, {"containers": [container()]}) == []
    assert len(rejected(policy, {"containers": [container(readOnlyRootFilesystem=False)]})) == 1
    init = {"containers": [container()],
            "initContainers": [{"name": "init", "securityContext": {"readOnlyRootFilesystem": False}}]}
    assert rejected(policy, init)[0].endswith("got: init")


def test_allow_privilege_escalation() -> None:
    policy = psp(allowPrivilegeEscalation=False)
    assert fields(policy, Level.BASELINE) == ["spec.allowPrivilegeEscalation"]
    # restricted requires false too, except on Windows pods, which it skips
    escalating = {"containers": [container(allowPrivilegeEscalation=True)]}
    assert rejected(policy, escalating, Level.RESTRICTED) == []
    assert len(rejected(policy, {**escalating, "os": {"name": "windows"}}, Level.RESTRICTED)) == 1
    assert rejected(policy, {"containers": [container()]}, Level.BASELINE) == []
    assert len(rejected(policy, {"containers": [container(allowPrivilegeEscalation=True)]},
                        Level.BASELINE)) == 1


def test_runtime_classes() -> None:
    policy = psp(runtimeClass={"allowedRuntimeClassNames": ["gvisor"]})
    assert fields(policy, Level.RESTRICTED) == ["spec.runtimeClass.allowedRuntimeClassNames"]
    assert rejected(policy, {"runtimeClassName": "gvisor"}) == []
    assert rejected(policy, {}) == []
    assert rejected(policy, {"runtimeClassName": "runc"})[0].endswith("got: runc")
    assert fields(psp(runtimeClass={"allowedRuntimeClassNames": ["*"]})) == []


# -- users and groups ---------------------------------------------------------------------


def test_run_as_user_ranges_use_the_effective_user() -> None:
    policy = psp(runAsUser={"rule": "MustRunAs", "ranges": [{"min": 1000, "max": 2000}]})
    assert fields(policy, Level.RESTRICTED) == ["spec.runAsUser"]
    assert rejected(policy, {}) == []  # PSP injects the user
    assert rejected(policy, {"containers": [container(runAsUser=2000)]}) == []
    assert len(rejected(policy, {"containers": [container(runAsUser=2001)]})) == 1
    assert len(rejected(policy, {"securityContext": {"runAsUser": 999}})) == 1
    both = {"securityContext": {"runAsUser": 999}, "containers": [container(runAsUser=1500)]}
    assert rejected(policy, both) == []  # the container's own user wins


def test_must_run_as_non_root() -> None:
    policy = psp(runAsUser={"rule": "MustRunAsNonRoot"})
    assert fields(policy, Level.BASELINE) == ["spec.runAsUser"]
    assert fields(policy, Level.RESTRICTED) == []
    assert rejected(policy, {}, Level.BASELINE) == []  # PSP injects runAsNonRoot
    assert rejected(policy, {"containers": [container(runAsUser=1000)]}, Level.BASELINE) == []
    assert len(rejected(policy, {"containers": [container(runAsUser=0)]}, Level.BASELINE)) == 1
    assert len(rejected(policy, {"securityContext": {"runAsNonRoot": False}}, Level.BASELINE)) == 1


def test_run_as_group_may_run_as() -> None:
    policy = psp(runAsGroup={"rule": "MayRunAs", "ranges": [{"min": 10, "max": 20}]})
    assert fields(policy) == ["spec.runAsGroup"]
    assert rejected(policy, {}) == []
    assert rejected(policy, {"containers": [container(runAsGroup=10)]}) == []
    assert len(rejected(policy, {"securityContext": {"runAsGroup": 21}})) == 1


@pytest.mark.parametrize("rule", ["MustRunAs", "MayRunAs"])
def test_fs_group_and_supplemental_groups(rule: str) -> None:
    ranges = [{"min": 1, "max": 100}, {"min": 500, "max": 500}]
    policy = psp(fsGroup={"rule": rule, "ranges": ranges},
                 supplementalGroups={"rule": rule, "ranges": ranges})
    assert fields(policy, Level.RESTRICTED) == ["spec.fsGroup", "spec.supplementalGroups"]
    assert rejected(policy, {}) == []
    assert rejected(policy, {"securityContext": {"fsGroup": 500, "supplementalGroups": [1, 100]}}) == []
    assert rejected(policy, {"securityContext": {"fsGroup": 0}}) == [
        "PodSecurityPolicy p: spec.fsGroup allows fsGroup 1-100, 500, got: 0"]
    assert rejected(policy, {"securityContext": {"supplementalGroups": [5, 101, 0]}}) == [
        "PodSecurityPolicy p: spec.supplementalGroups allows supplementalGroups 1-100, 500, got: 101, 0"]


def test_se_linux_must_run_as_is_exact() -> None:
    policy = psp(seLinux={"rule": "MustRunAs", "seLinuxOptions": {"type": "container_t",
                                                                   "level": "s0:c1"}})
    assert fields(policy, Level.RESTRICTED) == ["spec.seLinux.seLinuxOptions"]
    exact = {"type": "container_t", "level": "s0:c1"}
    assert rejected(policy, {}) == []  # PSP injects them
    assert rejected(policy, {"securityContext": {"seLinuxOptions": exact}}) == []
    assert rejected(policy, {"containers": [container(seLinuxOptions=exact)]}) == []
    assert rejected(policy, {"securityContext": {"seLinuxOptions": {"type": "container_t"}}})[0] \
        .endswith("got: pod")
    assert rejected(policy, {"containers": [container(seLinuxOptions={**exact, "user": "u"})]})[0] \
        .endswith("got: app")
    assert fields(psp(seLinux={"rule": "RunAsAny"})) == []


# -- sysctls ------------------------------------------------------------------------------


def _sysctls(*names: str) -> dict[str, Any]:
    return {"securityContext": {"sysctls": [{"name": n, "value": "1"} for n in names]}}


def test_sysctl_allow_and_forbid_patterns() -> None:
    policy = psp(allowedUnsafeSysctls=["net.core.*", "kernel.msgmax"],
                 forbiddenSysctls=["kernel.shm_rmid_forced"])
    assert fields(policy) == ["spec.allowedUnsafeSysctls"]
    assert rejected(policy, _sysctls("net.core.somaxconn", "kernel.msgmax",
                                     "net.ipv4.ip_local_port_range")) == []
    assert rejected(policy, _sysctls("kernel.shm_rmid_forced"))[0].endswith("got: kernel.shm_rmid_forced")
    assert rejected(policy, _sysctls("kernel.msgmnb"))[0].endswith("got: kernel.msgmnb")
    assert rejected(psp(forbiddenSysctls=["*"]), _sysctls("net.ipv4.tcp_syncookies"))


def test_sysctl_rule_follows_the_pinned_baseline_safe_list() -> None:
    default = psp(allowedUnsafeSysctls=[])
    assert fields(default, Level.BASELINE, Version.of(24)) == []
    assert fields(default, Level.BASELINE, LATEST) == ["spec.allowedUnsafeSysctls"]
    assert len(rejected(default, _sysctls("net.ipv4.tcp_keepalive_time"), Level.BASELINE)) == 1
    assert rejected(default, _sysctls("net.ipv4.tcp_syncookies"), Level.BASELINE) == []
    assert fields(psp(forbiddenSysctls=["kernel.*"], allowedUnsafeSysctls=[]), Level.BASELINE,
                  Version.of(24)) == \
        ["spec.forbiddenSysctls"]


# -- several PSPs usable in one namespace ---------------------------------------------------


def _union(*alternatives: Alternative) -> Any:
    composed = compose(alternatives)
    assert composed is not None
    return compiled(composed)


def _alt(policy: dict[str, Any], accounts: tuple[str, ...] | None = None,
         level: Level = Level.PRIVILEGED) -> Alternative:
    return Alternative(policy["metadata"]["name"], accounts,
                       tuple(residual_rules(read_psp(policy), level, LATEST)))


def _pod(**spec: Any) -> dict[str, Any]:
    return {"metadata": {}, "spec": {"containers": [{"name": "app"}], **spec}}


def test_a_pod_passes_when_any_usable_psp_admits_it() -> None:
    logs = psp("logs", allowedHostPaths=[{"pathPrefix": "/var/log"}], hostNetwork=False)
    net = psp("net", volumes=["configMap"])
    program = _union(_alt(logs), _alt(net))
    host_log = [{"name": "h", "hostPath": {"path": "/var/log"}}]
    assert program.evaluate(_pod(volumes=host_log)) == []  # logs admits it
    assert program.evaluate(_pod(hostNetwork=True)) == []  # net admits it
    failures = program.evaluate(_pod(hostNetwork=True, volumes=host_log))
    assert failures and all("nor does any other PodSecurityPolicy" in f.message for f in failures)


def test_a_psp_of_some_service_accounts_only_counts_for_their_pods() -> None:
    strict = psp("strict", hostNetwork=False)
    agents = psp("agents")  # allows everything, for the node agent only
    assert compose([_alt(strict), _alt(agents)]) is None  # usable by every pod: nothing kept
    program = _union(_alt(strict), _alt(agents, ("node-agent",)))
    assert program.evaluate(_pod(hostNetwork=True, serviceAccountName="node-agent")) == []
    assert len(program.evaluate(_pod(hostNetwork=True, serviceAccountName="web"))) == 1
    assert len(program.evaluate(_pod(hostNetwork=True))) == 1  # the default service account


def test_a_pod_no_psp_applies_to_is_not_judged() -> None:
    program = _union(_alt(psp("only", hostNetwork=False), ("x",)))
    assert program.evaluate(_pod(hostNetwork=True, serviceAccountName="y")) == []
    assert len(program.evaluate(_pod(hostNetwork=True, serviceAccountName="x"))) == 1


def test_a_psp_granted_to_a_requester_counts_for_the_pods_it_creates() -> None:
    strict = psp("strict", hostNetwork=False)
    admin = Alternative("admin", (), (), users=("alice",), groups=("ops",))
    program = _union(_alt(strict), admin)
    pod = _pod(hostNetwork=True)

    def request(user: str, groups: list[str]) -> dict[str, Any]:
        return {"request": {"userInfo": {"username": user, "groups": groups}}}

    assert program.evaluate(pod, request("alice", [])) == []
    assert program.evaluate(pod, request("bob", ["ops", "dev"])) == []
    assert len(program.evaluate(pod, request("bob", ["dev"]))) == 1


# -- seccomp and AppArmor allow-lists (literal names, as PSP read them) ---------------------


def _profiled(annotations: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"annotations": annotations or {}},
            "spec": {"containers": [{"name": "app"}], **spec}}


def _profile_program(policy: dict[str, Any]) -> Any:
    rules = residual_rules(read_psp(policy), Level.RESTRICTED, LATEST)
    composed = compose([Alternative("p", None, tuple(rules))])
    assert composed is not None
    return compiled(composed)


def test_seccomp_allow_list_reads_annotations_then_fields() -> None:
    allowed = "seccomp.security.alpha.kubernetes.io/allowedProfileNames"
    default = "seccomp.security.alpha.kubernetes.io/defaultProfileName"
    policy = psp()
    policy["metadata"]["annotations"] = {allowed: "runtime/default,localhost/audit.json"}
    program = _profile_program(policy)
    runtime = {"seccompProfile": {"type": "RuntimeDefault"}}
    local = {"seccompProfile": {"type": "Localhost", "localhostProfile": "audit.json"}}
    other = {"seccompProfile": {"type": "Localhost", "localhostProfile": "other.json"}}
    assert program.evaluate(_profiled(securityContext=runtime)) == []
    assert program.evaluate(_profiled(containers=[{"name": "app", "securityContext": local}],
                                      securityContext=runtime)) == []
    assert program.evaluate(_profiled(
        {"seccomp.security.alpha.kubernetes.io/pod": "runtime/default"})) == []
    [failure] = program.evaluate(_profiled(containers=[{"name": "app", "securityContext": other}],
                                           securityContext=runtime))
    assert failure.message.endswith("got: app=localhost/other.json")
    # no default: a pod without a profile was refused ("must be set")
    [unset] = program.evaluate(_profiled())
    assert unset.message.endswith("got: pod=unset, app=unset")
    policy["metadata"]["annotations"][default] = "runtime/default"
    assert _profile_program(policy).evaluate(_profiled()) == []
    policy["metadata"]["annotations"][allowed] = "*"
    assert [r.field for r in residual_rules(read_psp(policy), Level.BASELINE, LATEST)] == []


def test_apparmor_allow_list_is_literal() -> None:
    allowed = "apparmor.security.beta.kubernetes.io/allowedProfileNames"
    policy = psp()
    policy["metadata"]["annotations"] = {
        allowed: "runtime/default,localhost/*",
        "apparmor.security.beta.kubernetes.io/defaultProfileName": "runtime/default"}
    program = _profile_program(policy)
    key = "container.apparmor.security.beta.kubernetes.io/app"
    assert program.evaluate(_profiled()) == []  # the default is injected
    assert program.evaluate(_profiled({key: "runtime/default"})) == []
    assert program.evaluate(_profiled({key: "localhost/*"})) == []
    [failure] = program.evaluate(_profiled({key: "localhost/custom"}))
    assert failure.message.endswith("got: app=localhost/custom")
    field = {"appArmorProfile": {"type": "Localhost", "localhostProfile": "custom"}}
    assert len(program.evaluate(_profiled(securityContext=field))) == 1
    assert program.evaluate(_profiled(securityContext={"appArmorProfile": {
        "type": "RuntimeDefault"}})) == []


# -- the 56 real PSPs of tests/data/psp-corpus ------------------------------------------------


def _corpus() -> list[Any]:
    from pathlib import Path

    import yaml

    folder = Path(__file__).parent / "data" / "psp-corpus"
    out = []
    for path in sorted(folder.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if isinstance(doc, dict) and doc.get("kind") == "PodSecurityPolicy":
                out.append(pytest.param(doc, id=path.stem))
    return out


PLAIN = {"metadata": {}, "spec": {"containers": [{"name": "app", "image": "app"}],
                                  "volumes": [{"name": "cfg", "configMap": {"name": "c"}}]}}


@pytest.mark.parametrize("policy", _corpus())
def test_corpus_rules_compile_and_admit_a_plain_pod(policy: dict[str, Any]) -> None:
    """Every rule of every real PSP compiles at every level, evaluates without error, and lets
    through a plain pod (no securityContext, a configMap volume) as PSP did after its own
    defaults; only a profile list without a default, or a volume list without configMap,
    refused such a pod."""
    spec = read_psp(policy)
    for level in Level:
        rules = residual_rules(spec, level, LATEST)
        composed = compose([Alternative(spec.name or "p", None, tuple(rules))])
        if composed is None:
            continue
        for failure in compiled(composed).evaluate(PLAIN):
            assert "expression error" not in failure.message
            field = composed.validations[failure.index].field
            profile_without_default = (
                (field.endswith("seccomp.security.alpha.kubernetes.io/allowedProfileNames]")
                 and spec.seccomp.default is None)
                or (field.endswith("apparmor.security.beta.kubernetes.io/allowedProfileNames]")
                    and spec.apparmor.default is None))
            no_config_maps = field == "spec.volumes" and "configMap" not in spec.volumes
            assert profile_without_default or no_config_maps, (level, failure.message)


def test_the_cel_library_loads_without_its_shell_and_leaves_none_behind() -> None:
    import sys

    from migrator.plan.cel import _cel

    library = _cel()
    assert library.compile("1 + 1") is not None
    assert "cel.cli" not in sys.modules or hasattr(sys.modules["cel.cli"], "__file__")
