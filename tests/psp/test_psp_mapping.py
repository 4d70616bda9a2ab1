"""analyze_psp: one rule per PSP field, loopholes against workloads, lost guarantees, robustness."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from migrator.psp import analyze_psp
from migrator.psp.mapping import PSPAnalysis, Reason
from migrator.pss.api import Level

P, B, R = Level.PRIVILEGED, Level.BASELINE, Level.RESTRICTED

SECCOMP_ALLOWED = "seccomp.security.alpha.kubernetes.io/allowedProfileNames"
SECCOMP_DEFAULT = "seccomp.security.alpha.kubernetes.io/defaultProfileName"
APPARMOR_ALLOWED = "apparmor.security.beta.kubernetes.io/allowedProfileNames"
APPARMOR_DEFAULT = "apparmor.security.beta.kubernetes.io/defaultProfileName"
SEC = f"metadata.annotations[{SECCOMP_ALLOWED}]"
AA = f"metadata.annotations[{APPARMOR_ALLOWED}]"

RESTRICTED_VOLUMES = [
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
    "projected", "secret",
]

#: The tightest PSP there is: every field at restricted except runAsUser, which no rule can
#: bring there (MustRunAsNonRoot admits runAsUser: 1000 without runAsNonRoot).
TIGHT: dict[str, Any] = {
    "apiVersion": "policy/v1beta1",
    "kind": "PodSecurityPolicy",
    "metadata": {
        "name": "tight",
        "annotations": {
            SECCOMP_ALLOWED: "runtime/default",
            SECCOMP_DEFAULT: "runtime/default",
            APPARMOR_ALLOWED: "runtime/default",
            APPARMOR_DEFAULT: "runtime/default",
        },
    },
    "spec": {
        "privileged": False,
        "allowPrivilegeEscalation": False,
        "requiredDropCapabilities": ["ALL"],
        "volumes": RESTRICTED_VOLUMES,
        "runAsUser": {"rule": "MustRunAsNonRoot"},
        "seLinux": {"rule": "MustRunAs", "seLinuxOptions": {"type": "container_t"}},
        "supplementalGroups": {"rule": "RunAsAny"},
        "fsGroup": {"rule": "RunAsAny"},
    },
}
MUST_RUN_AS_NON_ROOT = (
    "runAsUser MustRunAsNonRoot admits a non-zero runAsUser without runAsNonRoot: true "
    "(it injects runAsNonRoot only where no user is set) → baseline"
)
RESTRICTED_SECCOMP = "(restricted requires explicit RuntimeDefault or Localhost)"


def variant(
    spec: dict[str, Any] | None = None,
    annotations: dict[str, str | None] | None = None,
    drop: tuple[str, ...] = (),
) -> dict[str, Any]:
    """TIGHT with spec keys replaced or removed and annotations replaced (None removes)."""
    psp = copy.deepcopy(TIGHT)
    psp["spec"].update(spec or {})
    for key in drop:
        psp["spec"].pop(key, None)
    for key, value in (annotations or {}).items():
        if value is None:
            psp["metadata"]["annotations"].pop(key, None)
        else:
            psp["metadata"]["annotations"][key] = value
    return psp


def reason_for(analysis: PSPAnalysis, field: str) -> Reason | None:
    found = [r for r in analysis.strict_reasons if r.field == field]
    assert len(found) <= 1
    return found[0] if found else None


def pod(name: str, spec: dict[str, Any], annotations: dict[str, str] | None = None,
        namespace: str = "team") -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def container(**security: Any) -> dict[str, Any]:
    return {"name": "app", "image": "app:1", "securityContext": security}


#: A pod that passes restricted on its own.
def restricted_pod(name: str = "ok", **extra: Any) -> dict[str, Any]:
    return pod(name, {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container(allowPrivilegeEscalation=False, capabilities={"drop": ["ALL"]})],
        **extra,
    })


# --- the tight baseline ----------------------------------------------------------------------


def test_tight_psp_holds_only_the_run_as_user_reason() -> None:
    analysis = analyze_psp(TIGHT)
    assert analysis.strict_level == B
    assert [(r.field, r.level, r.message) for r in analysis.strict_reasons] == [
        ("spec.runAsUser.rule", B, MUST_RUN_AS_NON_ROOT),
    ]
    assert analysis.problems == []


# --- one rule per field value ----------------------------------------------------------------

Case = tuple[str, dict[str, Any], str, "Level | None", str]

FIELD_CASES: list[Case] = [
    # (id, variant kwargs, reason field, level or None for no reason, message)
    ("privileged-true", {"spec": {"privileged": True}}, "spec.privileged", P,
     "privileged: true → privileged"),
    ("privileged-false", {"spec": {"privileged": False}}, "spec.privileged", None, ""),
    ("privileged-unset", {"drop": ("privileged",)}, "spec.privileged", None, ""),
    ("hostNetwork-true", {"spec": {"hostNetwork": True}}, "spec.hostNetwork", P,
     "hostNetwork: true → privileged"),
    ("hostNetwork-false", {"spec": {"hostNetwork": False}}, "spec.hostNetwork", None, ""),
    ("hostPID-true", {"spec": {"hostPID": True}}, "spec.hostPID", P, "hostPID: true → privileged"),
    ("hostIPC-true", {"spec": {"hostIPC": True}}, "spec.hostIPC", P, "hostIPC: true → privileged"),
    ("hostPorts-all", {"spec": {"hostPorts": [{"min": 0, "max": 65535}]}}, "spec.hostPorts", P,
     "hostPorts allows 0-65535 → privileged"),
    ("hostPorts-one", {"spec": {"hostPorts": [{"min": 5473, "max": 5473}]}}, "spec.hostPorts", P,
     "hostPorts allows 5473 → privileged"),
    ("hostPorts-two", {"spec": {"hostPorts": [{"min": 7472, "max": 7472},
                                              {"min": 7946, "max": 7946}]}},
     "spec.hostPorts", P, "hostPorts allows 7472, 7946 → privileged"),
    ("hostPorts-zero-range", {"spec": {"hostPorts": [{"min": 0, "max": 0}]}}, "spec.hostPorts",
     None, ""),
    ("hostPorts-empty", {"spec": {"hostPorts": []}}, "spec.hostPorts", None, ""),
    ("allowedCapabilities-star", {"spec": {"allowedCapabilities": ["*"]}},
     "spec.allowedCapabilities", P, "allowedCapabilities includes * → privileged"),
    ("allowedCapabilities-NET_ADMIN", {"spec": {"allowedCapabilities": ["NET_ADMIN"]}},
     "spec.allowedCapabilities", P, "allowedCapabilities includes NET_ADMIN → privileged"),
    ("allowedCapabilities-NET_RAW-and-CHOWN",
     {"spec": {"allowedCapabilities": ["NET_RAW", "CHOWN"]}},
     "spec.allowedCapabilities", P, "allowedCapabilities includes NET_RAW → privileged"),
    ("allowedCapabilities-baseline-caps",
     {"spec": {"allowedCapabilities": ["SETUID", "CHOWN", "NET_BIND_SERVICE"]}},
     "spec.allowedCapabilities", B, "allowedCapabilities includes CHOWN, SETUID → baseline"),
    ("allowedCapabilities-NET_BIND_SERVICE",
     {"spec": {"allowedCapabilities": ["NET_BIND_SERVICE"]}}, "spec.allowedCapabilities", None,
     ""),
    ("allowedCapabilities-empty", {"spec": {"allowedCapabilities": []}},
     "spec.allowedCapabilities", None, ""),
    ("defaultAddCapabilities-NET_ADMIN", {"spec": {"defaultAddCapabilities": ["NET_ADMIN"]}},
     "spec.defaultAddCapabilities", P, "defaultAddCapabilities includes NET_ADMIN → privileged"),
    ("defaultAddCapabilities-CHOWN", {"spec": {"defaultAddCapabilities": ["CHOWN"]}},
     "spec.defaultAddCapabilities", B, "defaultAddCapabilities includes CHOWN → baseline"),
    ("defaultAddCapabilities-NET_BIND_SERVICE",
     {"spec": {"defaultAddCapabilities": ["NET_BIND_SERVICE"]}}, "spec.defaultAddCapabilities",
     None, ""),
    ("requiredDropCapabilities-ALL", {"spec": {"requiredDropCapabilities": ["ALL"]}},
     "spec.requiredDropCapabilities", None, ""),
    ("requiredDropCapabilities-NET_RAW", {"spec": {"requiredDropCapabilities": ["NET_RAW"]}},
     "spec.requiredDropCapabilities", B,
     "requiredDropCapabilities does not include ALL → baseline (restricted requires dropping ALL)"),
    ("requiredDropCapabilities-unset", {"drop": ("requiredDropCapabilities",)},
     "spec.requiredDropCapabilities", B,
     "requiredDropCapabilities does not include ALL → baseline (restricted requires dropping ALL)"),
    ("volumes-star", {"spec": {"volumes": ["*"]}}, "spec.volumes", P,
     "volumes includes * → privileged"),
    ("volumes-hostPath", {"spec": {"volumes": ["secret", "hostPath"]}}, "spec.volumes", P,
     "volumes includes hostPath → privileged"),
    ("volumes-nfs", {"spec": {"volumes": ["secret", "nfs"]}}, "spec.volumes", B,
     "volumes includes nfs → baseline"),
    ("volumes-flexVolume-and-nfs", {"spec": {"volumes": ["nfs", "flexVolume", "secret"]}},
     "spec.volumes", B, "volumes includes flexVolume, nfs → baseline"),
    ("volumes-restricted-list", {"spec": {"volumes": RESTRICTED_VOLUMES}}, "spec.volumes",
     None, ""),
    ("volumes-unset", {"drop": ("volumes",)}, "spec.volumes", None, ""),
    ("seLinux-RunAsAny", {"spec": {"seLinux": {"rule": "RunAsAny"}}}, "spec.seLinux.rule", P,
     "seLinux RunAsAny admits any seLinuxOptions → privileged"),
    *[
        (f"seLinux-MustRunAs-{kind}",
         {"spec": {"seLinux": {"rule": "MustRunAs", "seLinuxOptions": {"type": kind}}}},
         "spec.seLinux.seLinuxOptions", None, "")
        for kind in ("container_t", "container_init_t", "container_kvm_t", "container_engine_t")
    ],
    ("seLinux-MustRunAs-level-only",
     {"spec": {"seLinux": {"rule": "MustRunAs", "seLinuxOptions": {"level": "s0:c1,c2"}}}},
     "spec.seLinux.seLinuxOptions", None, ""),
    ("seLinux-MustRunAs-spc_t",
     {"spec": {"seLinux": {"rule": "MustRunAs", "seLinuxOptions": {"type": "spc_t"}}}},
     "spec.seLinux.seLinuxOptions", P, "seLinux MustRunAs with type spc_t → privileged"),
    ("seLinux-MustRunAs-user",
     {"spec": {"seLinux": {"rule": "MustRunAs",
                           "seLinuxOptions": {"type": "container_t", "user": "system_u"}}}},
     "spec.seLinux.seLinuxOptions", P, "seLinux MustRunAs with user system_u → privileged"),
    ("seLinux-MustRunAs-role",
     {"spec": {"seLinux": {"rule": "MustRunAs", "seLinuxOptions": {"role": "sysadm_r"}}}},
     "spec.seLinux.seLinuxOptions", P, "seLinux MustRunAs with role sysadm_r → privileged"),
    ("runAsUser-RunAsAny", {"spec": {"runAsUser": {"rule": "RunAsAny"}}}, "spec.runAsUser.rule",
     B, "runAsUser RunAsAny admits runAsNonRoot unset → baseline"),
    ("runAsUser-MustRunAs-nonzero",
     {"spec": {"runAsUser": {"rule": "MustRunAs", "ranges": [{"min": 1000, "max": 1000}]}}},
     "spec.runAsUser.rule", B,
     "runAsUser MustRunAs 1000 injects runAsUser but not runAsNonRoot → baseline"),
    ("runAsUser-MustRunAs-with-zero",
     {"spec": {"runAsUser": {"rule": "MustRunAs", "ranges": [{"min": 0, "max": 65535}]}}},
     "spec.runAsUser.rule", B,
     "runAsUser MustRunAs 0-65535 admits UID 0 and runAsNonRoot unset → baseline"),
    ("runAsUser-MustRunAsNonRoot", {"spec": {"runAsUser": {"rule": "MustRunAsNonRoot"}}},
     "spec.runAsUser.rule", B, MUST_RUN_AS_NON_ROOT),
    ("allowPrivilegeEscalation-true", {"spec": {"allowPrivilegeEscalation": True}},
     "spec.allowPrivilegeEscalation", B,
     "allowPrivilegeEscalation true → baseline (restricted requires false)"),
    ("allowPrivilegeEscalation-unset", {"drop": ("allowPrivilegeEscalation",)},
     "spec.allowPrivilegeEscalation", B,
     "allowPrivilegeEscalation unset (defaults to true) → baseline (restricted requires false)"),
    ("allowPrivilegeEscalation-false", {"spec": {"allowPrivilegeEscalation": False}},
     "spec.allowPrivilegeEscalation", None, ""),
    ("allowedUnsafeSysctls-somaxconn", {"spec": {"allowedUnsafeSysctls": ["net.core.somaxconn"]}},
     "spec.allowedUnsafeSysctls", P,
     "allowedUnsafeSysctls includes net.core.somaxconn → privileged"),
    ("allowedUnsafeSysctls-star", {"spec": {"allowedUnsafeSysctls": ["*"]}},
     "spec.allowedUnsafeSysctls", P, "allowedUnsafeSysctls includes * → privileged"),
    ("allowedUnsafeSysctls-pattern", {"spec": {"allowedUnsafeSysctls": ["kernel.msg*"]}},
     "spec.allowedUnsafeSysctls", P, "allowedUnsafeSysctls includes kernel.msg* → privileged"),
    ("allowedUnsafeSysctls-only-safe",
     {"spec": {"allowedUnsafeSysctls": ["net.ipv4.tcp_syncookies", "kernel.shm_rmid_forced"]}},
     "spec.allowedUnsafeSysctls", None, ""),
    ("allowedProcMountTypes-Unmasked",
     {"spec": {"allowedProcMountTypes": ["Default", "Unmasked"]}}, "spec.allowedProcMountTypes",
     P, "allowedProcMountTypes includes Unmasked → privileged"),
    ("allowedProcMountTypes-Default", {"spec": {"allowedProcMountTypes": ["Default"]}},
     "spec.allowedProcMountTypes", None, ""),
    ("seccomp-no-annotations", {"annotations": {SECCOMP_ALLOWED: None, SECCOMP_DEFAULT: None}},
     SEC, B, f"seccomp with no allowedProfileNames lets pods set no profile → baseline "
     f"{RESTRICTED_SECCOMP}"),
    ("seccomp-star", {"annotations": {SECCOMP_ALLOWED: "*", SECCOMP_DEFAULT: None}}, SEC, P,
     "seccomp allowedProfileNames includes * → privileged"),
    ("seccomp-star-with-default", {"annotations": {SECCOMP_ALLOWED: "*"}}, SEC, P,
     "seccomp allowedProfileNames includes * → privileged"),
    ("seccomp-unconfined", {"annotations": {SECCOMP_ALLOWED: "runtime/default,unconfined"}},
     SEC, P, "seccomp allowedProfileNames includes unconfined → privileged"),
    ("seccomp-unconfined-default",
     {"annotations": {SECCOMP_ALLOWED: "docker/default,runtime/default,unconfined",
                      SECCOMP_DEFAULT: "unconfined"}},
     SEC, P, "seccomp allowedProfileNames includes unconfined (and injects unconfined by "
     "default) → privileged"),
    ("seccomp-list-without-default",
     {"annotations": {SECCOMP_ALLOWED: "runtime/default,docker/default", SECCOMP_DEFAULT: None}},
     SEC, None, ""),
    ("seccomp-localhost-star",
     {"annotations": {SECCOMP_ALLOWED: "localhost/*", SECCOMP_DEFAULT: None}}, SEC, None, ""),
    ("seccomp-docker-default",
     {"annotations": {SECCOMP_ALLOWED: "docker/default", SECCOMP_DEFAULT: "docker/default"}},
     SEC, None, ""),
    ("seccomp-trailing-comma",
     {"annotations": {SECCOMP_ALLOWED: "runtime/default,", SECCOMP_DEFAULT: None}}, SEC, B,
     "seccomp allowedProfileNames includes an empty entry without a restricted "
     f"defaultProfileName, so pods may leave seccomp unset → baseline {RESTRICTED_SECCOMP} "
     f"(metadata.annotations[{SECCOMP_ALLOWED}] has an empty entry (the 1.24 API server "
     "rejects it); read as allowing no profile)"),
    ("apparmor-no-annotations",
     {"annotations": {APPARMOR_ALLOWED: None, APPARMOR_DEFAULT: None}}, AA, P,
     "AppArmor with no allowedProfileNames admits any profile, unconfined included → privileged"),
    ("apparmor-default-only", {"annotations": {APPARMOR_ALLOWED: None}}, AA, P,
     "AppArmor with no allowedProfileNames admits any profile, unconfined included → privileged"),
    ("apparmor-runtime-default", {"annotations": {APPARMOR_DEFAULT: None}}, AA, None, ""),
    ("apparmor-localhost",
     {"annotations": {APPARMOR_ALLOWED: "runtime/default,localhost/my-profile"}}, AA, None, ""),
    ("apparmor-unconfined", {"annotations": {APPARMOR_ALLOWED: "runtime/default,unconfined"}},
     AA, P, "AppArmor allowedProfileNames includes unconfined → privileged"),
]


@pytest.mark.parametrize(
    ("change", "field", "level", "message"),
    [case[1:] for case in FIELD_CASES],
    ids=[case[0] for case in FIELD_CASES],
)
def test_field_rule(change: dict[str, Any], field: str, level: Level | None, message: str) -> None:
    analysis = analyze_psp(variant(**change))
    reason = reason_for(analysis, field)
    if level is None:
        assert reason is None
    else:
        assert reason is not None
        assert (reason.level, reason.message) == (level, message)
    # the other fields keep TIGHT's single reason (unless this case is about runAsUser)
    others = {r.field for r in analysis.strict_reasons} - {field}
    assert others <= {"spec.runAsUser.rule"}
    expected = min([B, *([level] if level else [])], key=lambda lv: lv.rank)
    assert analysis.strict_level == expected


def test_windows_host_process_is_never_a_reason() -> None:
    """PSP has no hostProcess field and never admitted hostProcess pods: nothing to report."""
    host_process = pod("win", {"securityContext": {"windowsOptions": {"hostProcess": True}},
                               "hostNetwork": True, "containers": [container()]})
    analysis = analyze_psp(TIGHT, [host_process])
    assert not any("hostProcess" in r.message for r in analysis.strict_reasons)


def test_strict_level_is_the_loosest_field() -> None:
    analysis = analyze_psp(variant(spec={"volumes": ["nfs"], "hostPID": True}))
    assert analysis.strict_level == P
    assert [(r.field, r.level) for r in analysis.strict_reasons] == [
        ("spec.hostPID", P), ("spec.runAsUser.rule", B), ("spec.volumes", B),
    ]


# --- practical level and loopholes -----------------------------------------------------------

WEBSITE_RESTRICTED = variant(
    spec={"seLinux": {"rule": "RunAsAny"}},
    annotations={SECCOMP_ALLOWED: "docker/default,runtime/default", SECCOMP_DEFAULT: None,
                 APPARMOR_DEFAULT: "runtime/default"},
)


def test_no_workload_uses_any_loophole() -> None:
    analysis = analyze_psp(WEBSITE_RESTRICTED, [restricted_pod()])
    assert analysis.strict_level == P
    assert analysis.practical_level == R
    assert analysis.practical_reasons == []
    assert [(h.field, h.level, h.closes_to, h.message) for h in analysis.loopholes] == [
        ("spec.seLinux.rule", P, R,
         "no workload sets an seLinuxOptions type, user or role that baseline forbids; "
         "restricting seLinux to MustRunAs (type container_t, no user or role) would keep them "
         "all admitted (privileged → restricted)"),
        ("spec.runAsUser.rule", B, R,
         "no workload runs a container as UID 0 or without runAsNonRoot: true; enforcing "
         "restricted's runAsNonRoot check would keep them all admitted (baseline → restricted)"),
    ]
    assert analysis.workloads == 1


def test_a_workload_that_uses_selinux_keeps_the_reason() -> None:
    spc = restricted_pod("spc")
    spc["spec"]["securityContext"]["seLinuxOptions"] = {"type": "spc_t"}
    level_only = restricted_pod("mcs")
    level_only["spec"]["securityContext"]["seLinuxOptions"] = {"level": "s0:c1,c2"}
    analysis = analyze_psp(WEBSITE_RESTRICTED, [spc, level_only])
    assert analysis.practical_level == P
    assert analysis.practical_reasons == [
        Reason("spec.seLinux.rule", P, "seLinux RunAsAny admits any seLinuxOptions → privileged",
               ("team/spc",), 1),
    ]
    assert [h.field for h in analysis.loopholes] == ["spec.runAsUser.rule"]
    assert reason_for(analysis, "spec.seLinux.rule") == analysis.practical_reasons[0]


def test_run_as_user_without_run_as_non_root_uses_the_must_run_as_non_root_gap() -> None:
    uid_only = pod("uid", {"containers": [container(
        runAsUser=1000, allowPrivilegeEscalation=False, capabilities={"drop": ["ALL"]})]})
    no_user = pod("plain", {"containers": [container()]})
    analysis = analyze_psp(TIGHT, [uid_only, no_user])
    # the plain pod gets runAsNonRoot injected; the uid-only pod is admitted without it
    assert analysis.practical_reasons == [
        Reason("spec.runAsUser.rule", B, MUST_RUN_AS_NON_ROOT, ("team/uid",), 1),
    ]
    assert analysis.practical_level == B


def test_must_run_as_injects_a_uid_but_pods_still_need_run_as_non_root() -> None:
    psp = variant(spec={"runAsUser": {"rule": "MustRunAs", "ranges": [{"min": 1000, "max": 2000}]}})
    analysis = analyze_psp(psp, [pod("plain", {"containers": [container()]}), restricted_pod()])
    assert [(r.field, r.used_by) for r in analysis.practical_reasons] == [
        ("spec.runAsUser.rule", ("team/plain",)),
    ]


def test_capabilities_partly_used_lift_privileged_to_baseline() -> None:
    psp = variant(spec={"allowedCapabilities": ["NET_ADMIN", "CHOWN"]})
    chown = restricted_pod("chown")
    chown["spec"]["containers"][0]["securityContext"]["capabilities"]["add"] = ["CHOWN"]
    analysis = analyze_psp(psp, [chown, restricted_pod()])
    assert reason_for(analysis, "spec.allowedCapabilities") == Reason(
        "spec.allowedCapabilities", P, "allowedCapabilities includes NET_ADMIN → privileged"
    )
    assert [(h.field, h.level, h.closes_to, h.message) for h in analysis.loopholes
            if h.field != "spec.runAsUser.rule"] == [
        ("spec.allowedCapabilities", P, B,
         "no workload adds NET_ADMIN; removing NET_ADMIN from allowedCapabilities would keep "
         "them all admitted (privileged → baseline)"),
    ]
    assert analysis.practical_reasons == [
        Reason("spec.allowedCapabilities", B, "allowedCapabilities includes CHOWN → baseline",
               ("team/chown",), 1),
    ]
    assert analysis.practical_level == B


def test_capabilities_fully_used_stay_privileged() -> None:
    psp = variant(spec={"allowedCapabilities": ["*"]})
    admin = restricted_pod("admin")
    admin["spec"]["containers"][0]["securityContext"]["capabilities"]["add"] = ["NET_ADMIN"]
    analysis = analyze_psp(psp, [admin])
    assert analysis.practical_reasons == [
        Reason("spec.allowedCapabilities", P, "allowedCapabilities includes * → privileged",
               ("team/admin",), 1),
    ]


def test_default_add_capabilities_are_used_by_every_pod() -> None:
    analysis = analyze_psp(variant(spec={"defaultAddCapabilities": ["CHOWN"]}),
                           [restricted_pod("a"), restricted_pod("b")])
    assert [(r.field, r.level, r.used_by) for r in analysis.practical_reasons] == [
        ("spec.defaultAddCapabilities", B, ("team/a", "team/b")),
    ]


def test_seccomp_star_splits_into_unconfined_and_unset() -> None:
    psp = variant(annotations={SECCOMP_ALLOWED: "*", SECCOMP_DEFAULT: None})
    no_profile = pod("plain", {"securityContext": {"runAsNonRoot": True},
                               "containers": [container(allowPrivilegeEscalation=False,
                                                        capabilities={"drop": ["ALL"]})]})
    analysis = analyze_psp(psp, [no_profile])
    assert [(h.field, h.level, h.closes_to) for h in analysis.loopholes] == [
        (SEC, P, B), ("spec.runAsUser.rule", B, R),
    ]
    assert analysis.loopholes[0].message == (
        "no workload uses an Unconfined seccomp profile; removing * from seccomp "
        "allowedProfileNames would keep them all admitted (privileged → baseline)"
    )
    assert analysis.practical_reasons == [
        Reason(SEC, B, "seccomp allowedProfileNames includes * without a restricted "
               f"defaultProfileName, so pods may leave seccomp unset → baseline "
               f"{RESTRICTED_SECCOMP}", ("team/plain",), 1),
    ]


def test_unconfined_seccomp_default_is_used_by_pods_without_a_profile() -> None:
    psp = variant(annotations={SECCOMP_ALLOWED: "runtime/default,unconfined",
                               SECCOMP_DEFAULT: "unconfined"})
    bare = pod("bare", {"containers": [container()]})
    analysis = analyze_psp(psp, [bare, restricted_pod()])
    assert [(r.field, r.level, r.used_by) for r in analysis.practical_reasons if r.field == SEC] == [
        (SEC, P, ("team/bare",)),
    ]


def test_unconfined_apparmor_annotation_uses_the_apparmor_loophole() -> None:
    psp = variant(annotations={APPARMOR_ALLOWED: None, APPARMOR_DEFAULT: None})
    unconfined = restricted_pod("aa")
    unconfined["metadata"]["annotations"] = {
        "container.apparmor.security.beta.kubernetes.io/app": "unconfined"
    }
    confined = restricted_pod("rd")
    confined["metadata"]["annotations"] = {
        "container.apparmor.security.beta.kubernetes.io/app": "runtime/default"
    }
    analysis = analyze_psp(psp, [unconfined, confined])
    assert [(r.field, r.used_by) for r in analysis.practical_reasons if r.field == AA] == [
        (AA, ("team/aa",)),
    ]


def test_host_path_volume_and_host_network_use_their_loopholes() -> None:
    psp = variant(spec={"volumes": ["*"], "hostNetwork": True, "hostPorts": [
        {"min": 0, "max": 65535}]})
    node_agent = restricted_pod("agent", hostNetwork=True,
                                volumes=[{"name": "root", "hostPath": {"path": "/"}}])
    nfs = restricted_pod("nfs", volumes=[{"name": "data", "nfs": {"server": "x", "path": "/"}}])
    analysis = analyze_psp(psp, [node_agent, nfs])
    assert [(r.field, r.level, r.used_by) for r in analysis.practical_reasons] == [
        ("spec.hostNetwork", P, ("team/agent",)),
        ("spec.volumes", P, ("team/agent",)),
    ]
    assert [(h.field, h.closes_to) for h in analysis.loopholes] == [
        ("spec.hostPorts", R), ("spec.runAsUser.rule", R),
    ]


def test_used_by_is_sorted_and_capped_at_five_with_a_count() -> None:
    psp = variant(spec={"hostNetwork": True})
    pods = [restricted_pod(f"p{i}", hostNetwork=True) for i in (7, 3, 1, 6, 2, 5, 4)]
    analysis = analyze_psp(psp, pods)
    reason = analysis.practical_reasons[0]
    assert reason.used_by == ("team/p1", "team/p2", "team/p3", "team/p4", "team/p5")
    assert reason.used_by_count == 7


def test_workloads_with_pod_templates_are_judged_by_their_template() -> None:
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"template": {"metadata": {}, "spec": {"hostPID": True,
                                                       "containers": [container()]}}},
    }
    cronjob = {
        "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly"},
        "spec": {"jobTemplate": {"spec": {"template": {"spec": {
            "hostPID": True, "containers": [container()]}}}}},
    }
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}}
    analysis = analyze_psp(variant(spec={"hostPID": True}), [deployment, cronjob, service])
    assert analysis.workloads == 2
    assert reason_for(analysis, "spec.hostPID") == Reason(
        "spec.hostPID", P, "hostPID: true → privileged",
        ("nightly (CronJob)", "shop/web (Deployment)"), 2,
    )


def test_workloads_none_of_which_uses_it_make_every_reason_a_loophole() -> None:
    analysis = analyze_psp(WEBSITE_RESTRICTED, [])
    assert analysis.workloads == 0
    assert analysis.practical_level == R
    assert {h.field for h in analysis.loopholes} == {r.field for r in analysis.strict_reasons}


def test_no_workloads_known_means_practical_is_strict() -> None:
    analysis = analyze_psp(WEBSITE_RESTRICTED)
    assert analysis.strict_level == P
    assert analysis.practical_level == analysis.strict_level
    assert analysis.practical_reasons == analysis.strict_reasons
    assert analysis.loopholes == []


# --- lost guarantees -------------------------------------------------------------------------

LOST_CASES: list[tuple[str, dict[str, Any], str, Any, str]] = [
    ("allowedHostPaths",
     {"spec": {"volumes": ["hostPath"], "allowedHostPaths": [
         {"pathPrefix": "/var/log", "readOnly": True}, {"pathPrefix": "/data"}]}},
     "spec.allowedHostPaths",
     [{"pathPrefix": "/var/log", "readOnly": True}, {"pathPrefix": "/data", "readOnly": False}],
     "Pod Security has no host path allow-list or read-only rule: baseline forbids hostPath "
     "volumes, privileged admits any path read-write"),
    ("readOnlyRootFilesystem", {"spec": {"readOnlyRootFilesystem": True}},
     "spec.readOnlyRootFilesystem", True,
     "Pod Security does not require a read-only root filesystem"),
    ("runAsGroup-MustRunAs",
     {"spec": {"runAsGroup": {"rule": "MustRunAs", "ranges": [{"min": 1, "max": 65535}]}}},
     "spec.runAsGroup", {"rule": "MustRunAs", "ranges": [{"min": 1, "max": 65535}]},
     "runAsGroup was limited to 1-65535; Pod Security does not restrict group IDs"),
    ("fsGroup-MayRunAs",
     {"spec": {"fsGroup": {"rule": "MayRunAs", "ranges": [{"min": 1000, "max": 1000}]}}},
     "spec.fsGroup", {"rule": "MayRunAs", "ranges": [{"min": 1000, "max": 1000}]},
     "fsGroup was limited to 1000; Pod Security does not restrict group IDs"),
    ("supplementalGroups-MustRunAs",
     {"spec": {"supplementalGroups": {"rule": "MustRunAs", "ranges": [{"min": 1, "max": 9}]}}},
     "spec.supplementalGroups", {"rule": "MustRunAs", "ranges": [{"min": 1, "max": 9}]},
     "supplementalGroups was limited to 1-9; Pod Security does not restrict group IDs"),
    ("forbiddenSysctls", {"spec": {"forbiddenSysctls": ["*"]}}, "spec.forbiddenSysctls", ["*"],
     "Pod Security forbids only unsafe sysctls; baseline admits every safe sysctl"),
    ("allowedUnsafeSysctls", {"spec": {"allowedUnsafeSysctls": ["net.core.somaxconn"]}},
     "spec.allowedUnsafeSysctls", ["net.core.somaxconn"],
     "only these unsafe sysctls were admitted; privileged admits any sysctl"),
    ("allowedFlexVolumes",
     {"spec": {"volumes": ["flexVolume"], "allowedFlexVolumes": [{"driver": "example/lvm"}]}},
     "spec.allowedFlexVolumes", ["example/lvm"],
     "Pod Security has no flexVolume driver allow-list: baseline admits any driver"),
    ("allowedCSIDrivers", {"spec": {"allowedCSIDrivers": [{"name": "secrets-store"}]}},
     "spec.allowedCSIDrivers", ["secrets-store"],
     "Pod Security has no CSI driver allow-list: restricted admits inline csi volumes of any "
     "driver"),
    ("allowedRuntimeClassNames",
     {"spec": {"runtimeClass": {"allowedRuntimeClassNames": ["gvisor"]}}},
     "spec.runtimeClass.allowedRuntimeClassNames", ["gvisor"],
     "Pod Security does not restrict runtimeClassName"),
    ("runAsUser-MustRunAs",
     {"spec": {"runAsUser": {"rule": "MustRunAs", "ranges": [{"min": 1000, "max": 1000}]}}},
     "spec.runAsUser", {"rule": "MustRunAs", "ranges": [{"min": 1000, "max": 1000}]},
     "UIDs were limited to 1000; Pod Security only forbids UID 0 (restricted)"),
    ("seLinux-MustRunAs", {}, "spec.seLinux.seLinuxOptions", {"type": "container_t"},
     "pods had exactly these seLinuxOptions; Pod Security admits any level and the container_t, "
     "container_init_t, container_kvm_t and container_engine_t types"),
    ("seccomp-list", {}, SEC, ["runtime/default"],
     "Pod Security admits RuntimeDefault and any Localhost seccomp profile"),
    ("apparmor-list", {}, AA, ["runtime/default"],
     "baseline admits runtime/default and any localhost/ AppArmor profile"),
    ("allowedCapabilities", {"spec": {"allowedCapabilities": ["CHOWN", "NET_BIND_SERVICE"]}},
     "spec.allowedCapabilities", ["CHOWN", "NET_BIND_SERVICE"],
     "baseline also lets containers add AUDIT_WRITE, DAC_OVERRIDE, FOWNER, FSETID, KILL, MKNOD, "
     "SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT"),
    ("requiredDropCapabilities", {"spec": {"requiredDropCapabilities": ["NET_RAW", "MKNOD"]}},
     "spec.requiredDropCapabilities", ["MKNOD", "NET_RAW"],
     "baseline requires no capability to be dropped (restricted requires ALL)"),
    ("volumes", {"spec": {"volumes": ["secret", "configMap"]}}, "spec.volumes",
     ["configMap", "secret"],
     "restricted also admits csi, downwardAPI, emptyDir, ephemeral, persistentVolumeClaim, "
     "projected volumes"),
    ("hostPorts", {"spec": {"hostPorts": [{"min": 5473, "max": 5473}]}}, "spec.hostPorts",
     [{"min": 5473, "max": 5473}],
     "only host ports 5473 were admitted; baseline forbids host ports, privileged admits any"),
]


@pytest.mark.parametrize(
    ("change", "field", "value", "explanation"),
    [case[1:] for case in LOST_CASES],
    ids=[case[0] for case in LOST_CASES],
)
def test_lost_guarantee(change: dict[str, Any], field: str, value: Any, explanation: str) -> None:
    lost = [g for g in analyze_psp(variant(**change)).lost_guarantees if g.field == field]
    assert [(g.value, g.explanation) for g in lost] == [(value, explanation)]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"spec": {"allowedHostPaths": [{"pathPrefix": "/x"}]}}, "spec.allowedHostPaths"),
        ({"spec": {"allowedCapabilities": ["*"]}}, "spec.allowedCapabilities"),
        ({"spec": {"volumes": ["*"]}}, "spec.volumes"),
        ({"spec": {"hostPorts": [{"min": 0, "max": 65535}]}}, "spec.hostPorts"),
        ({"spec": {"requiredDropCapabilities": ["ALL"]}}, "spec.requiredDropCapabilities"),
        ({"annotations": {SECCOMP_ALLOWED: "*"}}, SEC),
        ({"annotations": {SECCOMP_ALLOWED: None, SECCOMP_DEFAULT: None}}, SEC),
        ({"spec": {"seLinux": {"rule": "RunAsAny"}}}, "spec.seLinux.seLinuxOptions"),
    ],
    ids=["hostPaths-without-hostPath-volumes", "caps-star", "volumes-star", "all-host-ports",
         "drop-ALL", "seccomp-star", "seccomp-absent", "seLinux-RunAsAny"],
)
def test_no_lost_guarantee(change: dict[str, Any], field: str) -> None:
    assert field not in {g.field for g in analyze_psp(variant(**change)).lost_guarantees}


# --- malformed PSPs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "psp",
    [None, "psp", [], {}, {"kind": "PodSecurityPolicy"}, {"metadata": "x", "spec": []},
     {"metadata": {"name": 5, "annotations": []}, "spec": None}],
    ids=["none", "string", "list", "empty", "kind-only", "wrong-types", "nulls"],
)
def test_malformed_psp_never_raises(psp: Any) -> None:
    analysis = analyze_psp(psp, [None, "pod", {"kind": "Pod"}])
    assert analysis.strict_level == P
    assert analysis.problems
    assert reason_for(analysis, "spec.seLinux.rule") is not None
    json.dumps(analysis.to_dict())


def test_missing_spec_is_noted_in_every_reason() -> None:
    analysis = analyze_psp({"kind": "PodSecurityPolicy", "metadata": {"name": "broken"}})
    assert analysis.name == "broken"
    assert reason_for(analysis, "spec.seLinux.rule") == Reason(
        "spec.seLinux.rule", P,
        "seLinux RunAsAny admits any seLinuxOptions → privileged (spec is missing; every field "
        "is read as its loosest value; spec.seLinux is missing (the API server requires it); "
        "read as RunAsAny)",
    )
    assert all("spec is missing" in r.message for r in analysis.strict_reasons
               if r.field.startswith("spec."))


BAD_VALUES = [5, "yes", [1], {"a": 1}, True, None, -1.5]
SPEC_KEYS = sorted(TIGHT["spec"]) + [
    "hostNetwork", "hostPID", "hostIPC", "hostPorts", "allowedCapabilities",
    "defaultAddCapabilities", "allowedHostPaths", "allowedFlexVolumes", "allowedCSIDrivers",
    "readOnlyRootFilesystem", "defaultAllowPrivilegeEscalation", "runAsGroup",
    "allowedUnsafeSysctls", "forbiddenSysctls", "allowedProcMountTypes", "runtimeClass",
]


@pytest.mark.parametrize("key", SPEC_KEYS)
def test_any_wrong_type_in_any_field_never_raises(key: str) -> None:
    for bad in BAD_VALUES:
        analysis = analyze_psp(variant(spec={key: bad}), [restricted_pod()])
        json.dumps(analysis.to_dict())
        for nested in ({"rule": bad}, {"rule": "MustRunAs", "ranges": bad},
                       {"rule": "MustRunAs", "ranges": [bad]}, {"seLinuxOptions": bad}):
            json.dumps(analyze_psp(variant(spec={key: nested}), [restricted_pod()]).to_dict())


@pytest.mark.parametrize(
    ("change", "field", "level", "message"),
    [
        ({"spec": {"hostNetwork": "yes"}}, "spec.hostNetwork", P,
         "hostNetwork: true → privileged (spec.hostNetwork is 'yes', not a boolean; read as true)"),
        ({"spec": {"volumes": "all"}}, "spec.volumes", P,
         "volumes includes * → privileged (spec.volumes is not a list; read as ['*'])"),
        ({"spec": {"runAsUser": {"rule": "Bogus"}}}, "spec.runAsUser.rule", B,
         "runAsUser RunAsAny admits runAsNonRoot unset → baseline (spec.runAsUser.rule is "
         "'Bogus', not one of MustRunAs, MustRunAsNonRoot, RunAsAny; read as RunAsAny)"),
        ({"spec": {"runAsUser": {"rule": "MustRunAs"}}}, "spec.runAsUser.rule", B,
         "runAsUser RunAsAny admits runAsNonRoot unset → baseline (spec.runAsUser MustRunAs has "
         "no valid ranges (the API server requires one); read as RunAsAny)"),
        ({"spec": {"hostPorts": [{"min": "a", "max": 80}]}}, "spec.hostPorts", P,
         "hostPorts allows 0-65535 → privileged (spec.hostPorts[0] needs integer min and max, "
         "got {'min': 'a', 'max': 80})"),
        ({"spec": {"seLinux": {"rule": "MustRunAs"}}}, "spec.seLinux.rule", P,
         "seLinux RunAsAny admits any seLinuxOptions → privileged (spec.seLinux MustRunAs has no "
         "seLinuxOptions (the API server requires them); read as RunAsAny)"),
        ({"spec": {"hostPorts": [{"min": 1, "max": 65536}]}}, "spec.hostPorts", P,
         "hostPorts allows 1-65536 → privileged (spec.hostPorts[0].max 65536 exceeds 65535 (the "
         "API server rejects it))"),
        ({"spec": {"allowPrivilegeEscalation": "no"}}, "spec.allowPrivilegeEscalation", B,
         "allowPrivilegeEscalation true → baseline (restricted requires false) "
         "(spec.allowPrivilegeEscalation is 'no', not a boolean; read as true)"),
    ],
    ids=["hostNetwork-string", "volumes-string", "runAsUser-bad-rule", "runAsUser-no-ranges",
         "hostPorts-bad-range", "seLinux-no-options", "hostPorts-65536", "ape-string"],
)
def test_malformed_field_is_read_loosely_and_noted(
    change: dict[str, Any], field: str, level: Level, message: str
) -> None:
    reason = reason_for(analyze_psp(variant(**change)), field)
    assert reason is not None
    assert (reason.level, reason.message) == (level, message)


def test_malformed_annotations_read_as_loosest() -> None:
    psp = copy.deepcopy(TIGHT)
    psp["metadata"]["annotations"] = ["not", "a", "map"]
    analysis = analyze_psp(psp)
    assert reason_for(analysis, SEC) is not None
    assert reason_for(analysis, AA) is not None
    assert [p.field for p in analysis.problems] == ["metadata.annotations"]


# --- output ----------------------------------------------------------------------------------


def test_to_dict_is_sorted_deterministic_and_json_ready() -> None:
    psp = variant(spec={"hostNetwork": True, "fsGroup": {"rule": "MustRunAs", "ranges": [
        {"max": 9, "min": 1}]}}, annotations={SECCOMP_ALLOWED: "*"})
    pods = [restricted_pod("b", hostNetwork=True), restricted_pod("a", hostNetwork=True)]
    first = analyze_psp(psp, pods).to_dict()
    second = analyze_psp(copy.deepcopy(psp), list(reversed(pods))).to_dict()
    assert json.dumps(first) == json.dumps(second)
    assert json.dumps(first) == json.dumps(first, sort_keys=True)
    assert first["strict_level"] == "privileged"
    assert first["practical_reasons"][0]["used_by"] == ["team/a", "team/b"]


def test_analysis_does_not_change_its_inputs() -> None:
    psp = copy.deepcopy(WEBSITE_RESTRICTED)
    pods = [pod("bare", {"containers": [container()]})]
    before = copy.deepcopy((psp, pods))
    analyze_psp(psp, pods)
    assert (psp, pods) == before
