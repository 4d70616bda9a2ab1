"""The server model: every recorded create of a 1.24 and a 1.36 server reproduced, and tables
of our own per server version and case, with the exact reason strings.

The recordings (tests/data/defaulting, copied from ../shared/apiserver/defaulting) are real
`POST ...?dryRun=All` exchanges: the pod as stored (privileged namespace), the 403 text
(baseline and restricted namespaces), the 422 text and the Warnings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from migrator.pss.api import Level, LevelVersion, Version
from migrator.pss.messages import denial
from migrator.pss.server import (
    NEWEST_SERVER_MINOR,
    Origin,
    ServerVersion,
    prepare,
    server_ranges,
    verdict,
    verdict_by_server,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "defaulting"
RECORDED = {"v1.24": "v1.24.0-alpha.1+ab451280a0ea81", "v1.36": "v1.36.2"}
NAMESPACE_LEVEL = {"dflt-privileged": Level.PRIVILEGED, "dflt-baseline": Level.BASELINE,
                   "dflt-restricted": Level.RESTRICTED}
LATEST = Version.latest()


def _recordings() -> list[Path]:
    return sorted(DATA.glob("v1.*.json"))


def _pod_of(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], bool]:
    if body["kind"] == "Pod":
        return body["metadata"], body["spec"], False
    template = body["spec"]["template"]
    return template["metadata"], template["spec"], True


def _text(level: Level, name: str, metadata: dict[str, Any], spec: dict[str, Any],
          server: ServerVersion, template: bool = False) -> tuple[str, str | None, list[str]]:
    """(outcome, the 403/422 message or None, the Warnings) of a create on `server`."""
    found = verdict(level, LATEST, metadata, spec, server, Origin.CREATED,
                    template_path="spec.template" if template else None)
    if found.invalid:
        message: str | None = prepare(metadata, spec, server, Origin.CREATED).invalid_message(name)
    elif found.violations:
        message = denial("pods", name, LevelVersion(level, LATEST), found.violations)
    else:
        message = None
    return found.outcome, message, list(found.warnings)


def test_the_recordings_are_all_there() -> None:
    assert len(_recordings()) == 46


@pytest.mark.parametrize("path", _recordings(), ids=lambda p: p.stem)
def test_every_recorded_create_is_reproduced(path: Path) -> None:
    exchange = json.loads(path.read_text())
    request, response = exchange["request"], exchange["response"]
    server = ServerVersion.parse(RECORDED[path.name[:5]])
    namespace = request["path"].split("/namespaces/")[1].split("/")[0]
    level = NAMESPACE_LEVEL[namespace]
    metadata, spec, template = _pod_of(request["body"])
    outcome, message, warnings = _text(level, request["body"]["metadata"]["name"], metadata,
                                       spec, server, template)
    status = response["status"]
    assert outcome == {201: "allowed", 403: "denied", 422: "invalid"}[status]
    assert message == (None if status == 201 else response["body"]["message"])
    recorded_warnings = [w.split(" - ", 1)[1][1:-1].replace('\\"', '"')
                         for w in response["headers"].get("Warning", [])]
    assert warnings == recorded_warnings
    if status == 201 and not template:
        stored = response["body"]
        pod = prepare(metadata, spec, server, Origin.CREATED)
        assert dict(pod.metadata.get("annotations") or {}) == (
            stored["metadata"].get("annotations") or {})
        assert dict(pod.spec.get("securityContext") or {}) == (
            stored["spec"].get("securityContext") or {})

        def containers(s: Any) -> list[Any]:
            return [(c.get("securityContext") or {},
                     [{k: v for k, v in p.items() if k != "protocol"} for p in c.get("ports", [])])
                    for c in s["containers"]]

        assert containers(pod.spec) == containers(stored["spec"])
        own_volumes = [v for v in stored["spec"].get("volumes", [])
                       if not v["name"].startswith("kube-api-access")]
        assert list(pod.spec.get("volumes", [])) == own_volumes


# -- tables of our own ------------------------------------------------------------------------

SECCOMP_POD = "seccomp.security.alpha.kubernetes.io/pod"
SECCOMP_APP = "container.seccomp.security.alpha.kubernetes.io/app"
APPARMOR_APP = "container.apparmor.security.beta.kubernetes.io/app"
APP = {"name": "app", "image": "registry.example/app:1.0"}
HARDENED = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
            "runAsNonRoot": True}


def _case(annotations: dict[str, str] | None = None, *, sc: dict[str, Any] | None = None,
          container_sc: dict[str, Any] | None = None, **spec: Any) -> tuple[dict, dict]:
    container = {**APP, "securityContext": {**HARDENED, **(container_sc or {})}}
    body: dict[str, Any] = {"containers": [container], **spec}
    if sc:
        body["securityContext"] = sc
    return ({"name": "p", "annotations": annotations} if annotations else {"name": "p"}), body


SECCOMP_MUST_SET = ('seccompProfile (pod or container "app" must set '
                    'securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")')
SECCOMP_UNCONFINED = ('seccompProfile (pod must not set securityContext.seccompProfile.type '
                      'to "Unconfined")')
APPARMOR_LEGACY = f'forbidden AppArmor profile ({APPARMOR_APP}="unconfined")'
APPARMOR_FIELDS = ('forbidden AppArmor profiles (container "app" and annotation must not set '
                   f'AppArmor profile type to "Unconfined", "{APPARMOR_APP}="unconfined"")')
APPARMOR_ANNOTATION = (f'forbidden AppArmor profile (annotation must not set AppArmor profile '
                       f'type to "{APPARMOR_APP}="unconfined"")')
SECCOMP_MISMATCH = ("invalid: spec.securityContext.seccompProfile.type: Forbidden: seccomp type "
                    "in annotation and field must match")

#: (case, level) -> {server: reasons ("" = allowed, "invalid: ..." = 422)}; the hardened
#: container passes every other restricted check, so the reasons shown are the whole verdict.
TABLE: list[tuple[str, tuple[dict, dict], Level, dict[str, str]]] = [
    ("seccomp pod annotation runtime/default", _case({SECCOMP_POD: "runtime/default"}),
     Level.RESTRICTED, {
         "v1.24.0-alpha.1": "", "v1.24": "", "v1.26": "",
         "v1.27": SECCOMP_MUST_SET, "v1.30": SECCOMP_MUST_SET, "v1.36": SECCOMP_MUST_SET}),
    ("seccomp container annotation runtime/default", _case({SECCOMP_APP: "runtime/default"}),
     Level.RESTRICTED, {"v1.24": "", "v1.26": "", "v1.27": SECCOMP_MUST_SET,
                        "v1.36": SECCOMP_MUST_SET}),
    ("seccomp pod annotation docker/default", _case({SECCOMP_POD: "docker/default"}),
     Level.RESTRICTED, {"v1.24": "", "v1.36": SECCOMP_MUST_SET}),
    ("seccomp pod annotation localhost/", _case({SECCOMP_POD: "localhost/"}),
     Level.RESTRICTED, {"v1.24": SECCOMP_MUST_SET, "v1.36": SECCOMP_MUST_SET}),
    ("seccomp pod annotation unconfined", _case({SECCOMP_POD: "unconfined"}),
     Level.RESTRICTED, {
         # the 1.24 alpha build lacks the restricted-over-baseline rule: the reason twice
         "v1.24.0-alpha.1": f"{SECCOMP_UNCONFINED}, {SECCOMP_UNCONFINED}",
         "v1.23": f"{SECCOMP_UNCONFINED}, {SECCOMP_UNCONFINED}",
         "v1.24": SECCOMP_UNCONFINED, "v1.26": SECCOMP_UNCONFINED,
         "v1.27": SECCOMP_MUST_SET, "v1.36": SECCOMP_MUST_SET}),
    ("seccomp pod annotation unconfined, baseline", _case({SECCOMP_POD: "unconfined"}),
     Level.BASELINE, {"v1.24.0-alpha.1": SECCOMP_UNCONFINED, "v1.24": SECCOMP_UNCONFINED,
                      "v1.26": SECCOMP_UNCONFINED, "v1.27": "", "v1.36": ""}),
    ("seccomp field RuntimeDefault", _case(sc={"seccompProfile": {"type": "RuntimeDefault"}}),
     Level.RESTRICTED, {"v1.23": "", "v1.24": "", "v1.30": "", "v1.36": ""}),
    ("seccomp annotation and field disagree",
     _case({SECCOMP_POD: "runtime/default"}, sc={"seccompProfile": {"type": "Unconfined"}}),
     Level.PRIVILEGED, {"v1.24": SECCOMP_MISMATCH, "v1.36": SECCOMP_MISMATCH}),
    ("AppArmor annotation unconfined, baseline", _case({APPARMOR_APP: "unconfined"}),
     Level.BASELINE, {"v1.24.0-alpha.1": APPARMOR_LEGACY, "v1.29": APPARMOR_LEGACY,
                      "v1.30": APPARMOR_FIELDS, "v1.33": APPARMOR_FIELDS,
                      "v1.36": APPARMOR_FIELDS}),
    ("AppArmor annotation unconfined on Windows, baseline",
     _case({APPARMOR_APP: "unconfined"}, os={"name": "windows"}, containers=[APP]),
     Level.BASELINE, {"v1.29": APPARMOR_LEGACY, "v1.36": APPARMOR_ANNOTATION}),
    ("Windows pod setting Linux-only fields",
     _case(os={"name": "windows"}, sc={"seccompProfile": {"type": "RuntimeDefault"}}),
     Level.PRIVILEGED, {
         "v1.24.0-alpha.1": "",  # os is dropped: a Linux pod
         "v1.36": "invalid: spec.securityContext.seccompProfile: Forbidden: cannot be set for "
                  "a windows pod, spec.containers[0].securityContext.capabilities: Forbidden: "
                  "cannot be set for a windows pod, spec.containers[0].securityContext."
                  "allowPrivilegeEscalation: Forbidden: cannot be set for a windows pod"}),
    ("AppArmor annotation for a container the pod lacks",
     _case({"container.apparmor.security.beta.kubernetes.io/other": "runtime/default"}),
     Level.PRIVILEGED, {"v1.24": 'invalid: metadata.annotations[container.apparmor.security.'
                                 'beta.kubernetes.io/other]: Invalid value: "other": container '
                                 'not found',
                        "v1.36": 'invalid: metadata.annotations[container.apparmor.security.'
                                 'beta.kubernetes.io/other]: Invalid value: "other": container '
                                 'not found'}),
    ("seccomp annotation with an unknown value", _case({SECCOMP_POD: "bogus"}),
     Level.PRIVILEGED, {"v1.24": 'invalid: metadata.annotations.seccomp.security.alpha.'
                                 'kubernetes.io/pod: Invalid value: "bogus": must be a valid '
                                 'seccomp profile'}),
    ("ephemeral containers on create", _case(ephemeralContainers=[{"name": "debug"}]),
     Level.PRIVILEGED, {"v1.24": "invalid: spec.ephemeralContainers: Forbidden: cannot be "
                                 "set on create"}),
    ("seccomp field Localhost without a profile",
     _case(sc={"seccompProfile": {"type": "Localhost"}}),
     Level.PRIVILEGED, {"v1.36": "invalid: spec.securityContext.seccompProfile."
                                 "localhostProfile: Required value: must be set when seccomp "
                                 "type is Localhost"}),
    ("AppArmor field Unconfined, baseline",
     _case(container_sc={"appArmorProfile": {"type": "Unconfined"}}),
     Level.BASELINE, {
         "v1.24": "", "v1.29": "",  # the field is dropped before 1.30
         "v1.30": ('forbidden AppArmor profiles (container "app" and annotation must not set '
                   f'AppArmor profile type to "Unconfined", "{APPARMOR_APP}="unconfined"")'),
         "v1.34": ('forbidden AppArmor profile (container "app" must not set AppArmor profile '
                   'type to "Unconfined")')}),
    ("AppArmor annotation runtime/default", _case({APPARMOR_APP: "runtime/default"}),
     Level.BASELINE, {"v1.24": "", "v1.36": ""}),
    ("procMount Unmasked, baseline", _case(container_sc={"procMount": "Unmasked"}),
     Level.BASELINE, {
         "v1.24": "", "v1.32": "",  # reset to Default while ProcMountType is off
         "v1.33": 'invalid: spec.containers[0].securityContext.procMount: Invalid value: '
                  '"Unmasked": `hostUsers` must be false to use `Unmasked`',
         "v1.36": 'invalid: spec.containers[0].securityContext.procMount: Invalid value: '
                  '"Unmasked": `hostUsers` must be false to use `Unmasked`'}),
    ("hostNetwork with a containerPort", _case(
        hostNetwork=True, containers=[{**APP, "ports": [{"containerPort": 8080}],
                                       "securityContext": HARDENED}]),
     Level.BASELINE, {"v1.24": 'host namespaces (hostNetwork=true), hostPort (container "app" '
                               'uses hostPort 8080)',
                      "v1.36": 'host namespaces (hostNetwork=true), hostPort (container "app" '
                               'uses hostPort 8080)'}),
    ("volume without a source", _case(volumes=[{"name": "scratch"}],
                                      sc={"seccompProfile": {"type": "RuntimeDefault"}}),
     Level.RESTRICTED, {"v1.24": "", "v1.36": ""}),
]


def _reasons(level: Level, case: tuple[dict, dict], server: ServerVersion) -> str:
    found = verdict(level, LATEST, case[0], case[1], server, Origin.CREATED)
    if found.invalid:
        return "invalid: " + ", ".join(found.invalid)
    return ", ".join(v.text() for v in found.violations)


@pytest.mark.parametrize("name,case,level,expected", TABLE, ids=[t[0] for t in TABLE])
def test_table_per_server_version(name: str, case: tuple[dict, dict], level: Level,
                                  expected: dict[str, str]) -> None:
    for server, reasons in expected.items():
        assert _reasons(level, case, ServerVersion.parse(server)) == reasons, server


def test_stored_pods_are_judged_as_stored() -> None:
    metadata, spec = _case({SECCOMP_POD: "runtime/default"})
    # stored by a 1.24 server, the field is there; a pod dumped without it stays without it
    found = verdict(Level.RESTRICTED, LATEST, metadata, spec, ServerVersion.of(24), Origin.STORED)
    assert [v.text() for v in found.violations] == [SECCOMP_MUST_SET]
    assert found.warnings == ()


def test_the_callers_objects_are_untouched() -> None:
    metadata, spec = _case({SECCOMP_POD: "runtime/default", APPARMOR_APP: "unconfined"},
                           hostNetwork=True, volumes=[{"name": "v"}])
    spec["containers"][0]["ports"] = [{"containerPort": 1}]
    before = json.dumps([metadata, spec], sort_keys=True)
    for minor in (24, 30, 36):
        prepare(metadata, spec, ServerVersion.of(minor), Origin.CREATED)
    assert json.dumps([metadata, spec], sort_keys=True) == before


def test_policy_newer_than_the_server_uses_its_newest_rules() -> None:
    # hostProbesAndHostLifecycle arrived at v1.34: a 1.30 server does not know it
    metadata, spec = _case(containers=[{**APP, "securityContext": HARDENED,
                                        "livenessProbe": {"httpGet": {"host": "x", "port": 1}}}])
    at = Version.of(34)
    assert verdict(Level.BASELINE, at, metadata, spec, ServerVersion.of(30),
                   Origin.CREATED).allowed
    assert not verdict(Level.BASELINE, at, metadata, spec, ServerVersion.of(36),
                       Origin.CREATED).allowed


@pytest.mark.parametrize("text,minor,modelled,note", [
    ("v1.24", 24, 24, None),
    ("1.30", 30, 30, None),
    ("v1.24.0-alpha.1+ab451280a0ea81", 24, 23, "alpha build"),
    ("v1.27.3-eks-a5565ad", 27, 27, None),
    ("v1.28.2+k3s1", 28, 28, None),
    ("v1.26.0-rc.1", 26, 26, None),
    ("v1.40", 40, NEWEST_SERVER_MINOR, "newer than the newest modelled"),
    ("v1.21.5", 21, 21, "no Pod Security admission"),
])
def test_server_versions(text: str, minor: int, modelled: int, note: str | None) -> None:
    server = ServerVersion.parse(text)
    assert (server.minor, server.modelled_minor) == (minor, modelled)
    assert (server.note is None) if note is None else (note in (server.note or ""))


@pytest.mark.parametrize("text", ["", "latest", "v2.1", "v1.x", "1"])
def test_bad_server_versions(text: str) -> None:
    with pytest.raises(ValueError, match="invalid server version"):
        ServerVersion.parse(text)


def test_ranges_say_where_a_verdict_flips() -> None:
    metadata, spec = _case({SECCOMP_POD: "runtime/default"})
    ranges = server_ranges(verdict_by_server(Level.RESTRICTED, LATEST, metadata, spec,
                                             Origin.CREATED))
    assert ranges == [("allowed", "v1.23–v1.26"), ("denied", f"v1.27–v1.{NEWEST_SERVER_MINOR}")]
    metadata, spec = _case(sc={"seccompProfile": {"type": "RuntimeDefault"}})
    assert server_ranges(verdict_by_server(Level.RESTRICTED, LATEST, metadata, spec,
                                           Origin.CREATED)) == [
        ("allowed", f"v1.23–v1.{NEWEST_SERVER_MINOR}")]


def test_versions_that_behave_alike_are_equal() -> None:
    assert ServerVersion.parse("v1.24.17") == ServerVersion.parse("v1.24")
    assert ServerVersion.parse("v1.24.0-alpha.1") != ServerVersion.parse("v1.24")
    assert ServerVersion.parse("v1.24.0-alpha.1") == ServerVersion.parse("v1.23.5")
    assert ServerVersion.parse("v1.40") == ServerVersion.newest()
    assert ServerVersion.of(24) < ServerVersion.of(36)


def test_warnings_follow_the_server() -> None:
    """Annotation warnings: a pod's are those of its prepared form (a copied seccomp annotation
    has its field, so 1.24 says nothing), AppArmor's come first (added while preparing), then
    the pod's seccomp and each container's in order; a workload's name the template's path."""
    v124, v136 = ServerVersion.of(24), ServerVersion.of(36)
    apparmor_b = "container.apparmor.security.beta.kubernetes.io/b"
    metadata = {"name": "p", "annotations": {
        SECCOMP_POD: "localhost/", "container.seccomp.security.alpha.kubernetes.io/b": "unconfined",
        SECCOMP_APP: "runtime/default", apparmor_b: "runtime/default"}}
    spec = {"containers": [{"name": "b"}, {"name": "app"}]}
    old = verdict(Level.PRIVILEGED, LATEST, metadata, spec, v124, Origin.CREATED)
    assert old.warnings == (  # only the annotation that gives no field is left without one
        f"metadata.annotations[{SECCOMP_POD}]: deprecated since v1.19, non-functional in "
        'v1.25+; use the "seccompProfile" field instead',)
    new = verdict(Level.PRIVILEGED, LATEST, metadata, spec, v136, Origin.CREATED)
    seccomp = 'non-functional in v1.27+; use the "seccompProfile" field instead'
    assert new.warnings == (
        f'metadata.annotations[{apparmor_b}]: deprecated since v1.30; use the "appArmorProfile" '
        "field instead",
        f"metadata.annotations[{SECCOMP_POD}]: {seccomp}",
        f"metadata.annotations[container.seccomp.security.alpha.kubernetes.io/b]: {seccomp}",
        f"metadata.annotations[{SECCOMP_APP}]: {seccomp}")
    # the pod's own AppArmor profile already says it: nothing copied, nothing warned
    same = {"securityContext": {"appArmorProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "b"}]}
    assert verdict(Level.PRIVILEGED, LATEST, {"annotations": {apparmor_b: "runtime/default"}},
                   same, v136, Origin.CREATED).warnings == ()
    cron = verdict(Level.PRIVILEGED, LATEST, {"annotations": {SECCOMP_POD: "runtime/default"}},
                   {"containers": [APP]}, v124, Origin.CREATED,
                   template_path="spec.jobTemplate.spec.template")
    assert cron.warnings == (
        f"spec.jobTemplate.spec.template.metadata.annotations[{SECCOMP_POD}]: deprecated since "
        'v1.19, non-functional in v1.25+; use the "seccompProfile" field instead',)
