"""securityContext patches: minimal, never loosening, PSP defaults made explicit, proven.

Every patch here is checked three ways: `check_object` passes at its target, the RFC 6902
operations applied to the original give the full manifest, and so does the strategic-merge
patch (containers merged by name).
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from demo import demo_inventory, demo_plan  # noqa: E402

from migrator.generate.patches import (
    Refusal,
    Target,
    WorkloadPatch,
    compute_patch,
    json6902,
    render_patches,
    select,
    strategic_patch,
)
from migrator.plan.checking import check_object
from migrator.pss.api import Level, Version

V124 = Version.of(24)


def demo_objects() -> dict[tuple[str, str, str], dict[str, Any]]:
    """The demo's workloads by (kind, namespace, name)."""
    return {(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]): o
            for o in demo_inventory().workloads}


def deployment(spec: dict[str, Any], meta: dict[str, Any] | None = None) -> dict[str, Any]:
    template: dict[str, Any] = {"spec": spec}
    if meta is not None:
        template["metadata"] = meta
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "app", "namespace": "ns"},
            "spec": {"selector": {"matchLabels": {"app": "a"}}, "template": template}}


def target(level: Level = Level.RESTRICTED, psp: str | None = None,
           changes: tuple[dict[str, Any], ...] = ()) -> Target:
    return Target("ns", "Deployment", "app", "test#0", level, V124, psp, changes)


def patched(obj: dict[str, Any], t: Target | None = None) -> WorkloadPatch:
    outcome = compute_patch(obj, t or target())
    assert isinstance(outcome, WorkloadPatch), outcome
    return outcome


# -- appliers used as proof ------------------------------------------------------------------


def _unpointer(pointer: str) -> list[str]:
    return [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]


def apply_json6902(obj: dict[str, Any], ops: list[dict[str, Any]]) -> dict[str, Any]:
    """A strict RFC 6902 applier for add, replace and test."""
    doc = copy.deepcopy(obj)
    for op in ops:
        *parents, leaf = _unpointer(op["path"])
        node: Any = doc
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        key: Any = int(leaf) if isinstance(node, list) else leaf
        if op["op"] == "test":
            assert node[key] == op["value"], op
        elif op["op"] == "replace":
            assert key in node if isinstance(node, dict) else key < len(node), op
            node[key] = copy.deepcopy(op["value"])
        elif op["op"] == "add":
            if isinstance(node, list):
                node.insert(key, copy.deepcopy(op["value"]))
            else:
                node[key] = copy.deepcopy(op["value"])
        else:  # pragma: no cover
            raise AssertionError(op)
    return doc


def apply_strategic(obj: Any, patch: Any, key: str = "") -> Any:
    """Strategic merge as the API server does it for these fields: containers by name,
    other lists replaced, maps merged."""
    if isinstance(obj, dict) and isinstance(patch, dict):
        out = dict(obj)
        for k, v in patch.items():
            out[k] = apply_strategic(obj.get(k), v, k) if k in obj else copy.deepcopy(v)
        return out
    if key in ("containers", "initContainers") and isinstance(obj, list):
        out_list = [copy.deepcopy(c) for c in obj]
        for item in patch:
            index = next(i for i, c in enumerate(out_list) if c["name"] == item["name"])
            out_list[index] = apply_strategic(out_list[index], item)
        return out_list
    return copy.deepcopy(patch)


def assert_proven(p: WorkloadPatch) -> None:
    result = check_object(dict(p.patched), "patched", p.target.level, p.target.version)
    assert result is not None and result.allowed, result
    assert apply_json6902(dict(p.original), json6902(p)) == p.patched
    assert apply_strategic(dict(p.original), strategic_patch(p)) == p.patched


# -- the restricted fields -------------------------------------------------------------------


def test_plain_deployment_gets_the_four_restricted_fields() -> None:
    obj = deployment({"containers": [{"name": "app", "image": "x"}]})
    p = patched(obj)
    assert p.satisfies == ("allowPrivilegeEscalation", "capabilities_restricted",
                           "runAsNonRoot", "seccompProfile_restricted")
    assert {c.field: c.after for c in p.changes} == {
        "spec.template.spec.containers[app].securityContext.allowPrivilegeEscalation": False,
        "spec.template.spec.containers[app].securityContext.capabilities.drop": ["ALL"],
        "spec.template.spec.securityContext.runAsNonRoot": True,
        "spec.template.spec.securityContext.seccompProfile": {"type": "RuntimeDefault"},
    }
    assert_proven(p)
    assert obj == deployment({"containers": [{"name": "app", "image": "x"}]}), "input unchanged"


def test_run_as_non_root_without_a_user_warns_and_invents_no_uid() -> None:
    p = patched(deployment({"containers": [{"name": "app", "image": "x"}]}))
    assert not any(c.field.endswith("runAsUser") for c in p.changes)
    assert any("no user ID was invented" in w and "containers[app]" in w for w in p.warnings)


def test_a_user_already_set_needs_no_warning() -> None:
    p = patched(deployment({"securityContext": {"runAsUser": 1000},
                            "containers": [{"name": "app", "image": "x"}]}))
    assert p.warnings == ()


def test_net_bind_service_is_kept_and_all_is_dropped() -> None:
    obj = deployment({"securityContext": {"runAsNonRoot": True, "runAsUser": 101,
                                          "seccompProfile": {"type": "RuntimeDefault"}},
                      "containers": [{"name": "app", "securityContext": {
                          "allowPrivilegeEscalation": False,
                          "capabilities": {"add": ["NET_BIND_SERVICE"]}}}]})
    p = patched(obj)
    caps = p.patched["spec"]["template"]["spec"]["containers"][0]["securityContext"][
        "capabilities"]
    assert caps == {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]}
    assert p.satisfies == ("capabilities_restricted",)
    assert_proven(p)


def test_existing_drops_are_extended_never_replaced() -> None:
    obj = deployment({"securityContext": {"runAsNonRoot": True, "runAsUser": 7,
                                          "seccompProfile": {"type": "RuntimeDefault"}},
                      "containers": [{"name": "app", "securityContext": {
                          "allowPrivilegeEscalation": False,
                          "capabilities": {"drop": ["NET_RAW"]}}}]})
    p = patched(obj)
    (change,) = p.changes
    assert (change.before, change.after) == (["NET_RAW"], ["NET_RAW", "ALL"])
    assert {"op": "replace", "path": "/spec/template/spec/containers/0/securityContext/"
            "capabilities/drop", "value": ["NET_RAW", "ALL"]} in json6902(p)
    assert_proven(p)


def test_adding_another_capability_cannot_be_patched_to_restricted() -> None:
    obj = deployment({"containers": [{"name": "app", "securityContext": {
        "capabilities": {"add": ["NET_BIND_SERVICE", "SYS_PTRACE"]}}}]})
    outcome = compute_patch(obj, target())
    assert isinstance(outcome, Refusal)
    assert any('"SYS_PTRACE"' in r and r.startswith("capabilities_restricted") for r in
               outcome.reasons)


@pytest.mark.parametrize("spec, check", [
    ({"securityContext": {"runAsNonRoot": False}, "containers": [{"name": "a"}]},
     "runAsNonRoot"),
    ({"securityContext": {"runAsUser": 0}, "containers": [{"name": "a"}]}, "runAsUser"),
    ({"containers": [{"name": "a", "securityContext": {
        "seccompProfile": {"type": "Unconfined"}}}]}, "seccompProfile_restricted"),
    ({"volumes": [{"name": "v", "hostPath": {"path": "/"}}], "containers": [{"name": "a"}]},
     "restrictedVolumes"),
])
def test_what_adding_fields_cannot_fix_is_refused(spec: dict[str, Any], check: str) -> None:
    outcome = compute_patch(deployment(spec), target())
    assert isinstance(outcome, Refusal)
    assert any(r.startswith(check) for r in outcome.reasons)


def test_a_passing_workload_is_never_touched() -> None:
    objects = demo_objects()
    assert compute_patch(objects[("Deployment", "payments", "checkout")], Target(
        "payments", "Deployment", "checkout", "x", Level.RESTRICTED, V124)) is None


def test_baseline_failures_are_never_patched() -> None:
    obj = deployment({"hostNetwork": True, "containers": [{"name": "a"}]})
    outcome = compute_patch(obj, target(Level.BASELINE))
    assert isinstance(outcome, Refusal) and "hostNamespaces" in outcome.reasons[0]


def test_explicit_privilege_escalation_is_tightened_with_a_warning() -> None:
    obj = deployment({"securityContext": {"runAsNonRoot": True, "runAsUser": 1,
                                          "seccompProfile": {"type": "RuntimeDefault"}},
                      "containers": [{"name": "app", "securityContext": {
                          "allowPrivilegeEscalation": True, "capabilities": {"drop": ["ALL"]}}}]})
    p = patched(obj)
    (change,) = p.changes
    assert (change.before, change.after) == (True, False)
    assert any("was explicitly true" in w for w in p.warnings)
    assert_proven(p)


def test_init_containers_get_container_fields_and_the_pod_the_pod_fields() -> None:
    obj = deployment({"initContainers": [{"name": "init"}],
                      "containers": [{"name": "a"}, {"name": "b", "securityContext": {
                          "allowPrivilegeEscalation": False}}]})
    p = patched(obj)
    fields = {c.field for c in p.changes}
    assert "spec.template.spec.initContainers[init].securityContext.allowPrivilegeEscalation" \
        in fields
    assert "spec.template.spec.initContainers[init].securityContext.capabilities.drop" in fields
    assert "spec.template.spec.containers[b].securityContext.allowPrivilegeEscalation" \
        not in fields
    assert "spec.template.spec.securityContext.seccompProfile" in fields
    assert not any(".containers[" in f and "seccomp" in f for f in fields)
    assert_proven(p)
    ops = json6902(p)
    assert [op["path"] for op in ops if op["op"] == "test"] == [
        "/spec/template/spec/containers/0/name", "/spec/template/spec/containers/1/name",
        "/spec/template/spec/initContainers/0/name"]


def test_missing_parents_are_added_whole() -> None:
    p = patched(deployment({"containers": [{"name": "app"}]}))
    adds = {op["path"]: op["value"] for op in json6902(p) if op["op"] == "add"}
    assert adds["/spec/template/spec/securityContext"] == {
        "runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    assert adds["/spec/template/spec/containers/0/securityContext"] == {
        "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def test_a_bare_pod_is_patched_from_its_root() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns"},
           "spec": {"securityContext": {"runAsUser": 5}, "containers": [{"name": "c"}]}}
    p = patched(pod, Target("ns", "Pod", "p", "x", Level.RESTRICTED, V124))
    assert "spec.securityContext.seccompProfile" in {c.field for c in p.changes}
    assert_proven(p)


# -- PSP defaults made explicit --------------------------------------------------------------


def _team_a() -> tuple[dict[str, Any], Target]:
    plan = demo_plan()
    (t,) = [t for t in select(plan).targets if t.name == "web"]
    return demo_objects()[("Deployment", "team-a", "web")], t


def test_psp_defaults_are_made_explicit_before_anything_else() -> None:
    obj, t = _team_a()
    p = patched(obj, t)
    by_field = {c.field: c for c in p.changes}
    assert by_field["spec.template.spec.securityContext.fsGroup"].after == 1
    assert by_field["spec.template.spec.securityContext.supplementalGroups"].after == [1]
    assert by_field["spec.template.metadata.annotations[container.apparmor.security.beta."
                    "kubernetes.io/web]"].after == "runtime/default"
    # the seccomp annotation is written as the field it stands for, not as the annotation
    assert by_field["spec.template.spec.securityContext.seccompProfile"].after == {
        "type": "RuntimeDefault"}
    assert not any("seccomp.security.alpha" in f for f in by_field)
    # the PSP's own runAsNonRoot (per container) already satisfies the check: no pod field
    assert "spec.template.spec.securityContext.runAsNonRoot" not in by_field
    assert all(c.reasons[0].startswith("PSP restricted-mutating: ") for c in p.changes)
    assert set(p.psp_defaults) == set(by_field)
    assert any("PSP already forced runAsNonRoot" in w for w in p.warnings)
    assert_proven(p)


def test_a_template_value_wins_over_the_psp_default() -> None:
    obj, t = _team_a()
    obj = copy.deepcopy(obj)
    obj["spec"]["template"]["spec"]["securityContext"] = {"fsGroup": 5}
    p = patched(obj, t)
    assert p.patched["spec"]["template"]["spec"]["securityContext"]["fsGroup"] == 5
    assert "spec.template.spec.securityContext.fsGroup" not in {c.field for c in p.changes}


def test_a_psp_user_id_is_copied_and_silences_the_warning() -> None:
    change = {"cause": "psp", "path": "spec.containers[app].securityContext.runAsUser",
              "pod": 1000, "source": "spec.runAsUser", "template": None}
    p = patched(deployment({"containers": [{"name": "app"}]}),
                target(psp="fixed-uid", changes=(change,)))
    sc = p.patched["spec"]["template"]["spec"]["containers"][0]["securityContext"]
    assert sc["runAsUser"] == 1000
    assert not any("no user ID" in w for w in p.warnings)
    assert_proven(p)


def test_defaults_for_containers_the_template_lacks_are_noted_not_invented() -> None:
    change = {"cause": "psp", "path": "spec.containers[sidecar].securityContext.runAsUser",
              "pod": 1000, "source": "spec.runAsUser", "template": None}
    p = patched(deployment({"securityContext": {"runAsUser": 3}, "containers": [{"name": "a"}]}),
                target(psp="x", changes=(change,)))
    assert any("no such container" in w for w in p.warnings)
    assert all("sidecar" not in c.field for c in p.changes)


# -- the demo --------------------------------------------------------------------------------


def test_the_demo_plan_selects_the_workloads_its_promise_needs() -> None:
    selection = select(demo_plan())
    assert [t.label for t in selection.targets] == [
        "batch CronJob/hourly-export", "batch CronJob/nightly-reconcile",
        "ingress-nginx Deployment/ingress-nginx-controller", "team-a Deployment/web"]
    assert {t.level for t in selection.targets} == {Level.RESTRICTED}
    assert [u.subject for u in selection.skipped] == [
        "kube-system", "legacy", "monitoring", "payments"]
    assert [f"{u.namespace} {u.workload}" for u in selection.unpatched_defaults] == [
        "legacy Deployment/billing-api", "monitoring StatefulSet/prometheus",
        "payments Deployment/checkout"]


def test_every_demo_patch_is_proven_and_the_refusal_says_why() -> None:
    plan_objects = demo_objects()
    outcomes = {t.name: compute_patch(plan_objects[(t.kind, t.namespace, t.name)], t)
                for t in select(demo_plan()).targets}
    refusal = outcomes.pop("nightly-reconcile")
    assert isinstance(refusal, Refusal) and "SYS_PTRACE" in refusal.reasons[0]
    for outcome in outcomes.values():
        assert isinstance(outcome, WorkloadPatch)
        assert_proven(outcome)


def test_rendered_patches_name_the_checks_they_satisfy() -> None:
    p = patched(deployment({"containers": [{"name": "app"}]}))
    files = render_patches([p], ("strategic", "json6902", "full"))
    assert sorted(files) == [
        "full/ns.deployment.app.yaml", "json6902/index.json", "json6902/kustomization.yaml",
        "json6902/ns.deployment.app.json", "strategic/kustomization.yaml",
        "strategic/ns.deployment.app.yaml"]
    header = files["strategic/ns.deployment.app.yaml"].splitlines()[1]
    assert header == ("# satisfies: allowPrivilegeEscalation, capabilities_restricted, "
                      "runAsNonRoot, seccompProfile_restricted")
    (entry,) = json.loads(files["json6902/index.json"])
    assert entry["satisfies"] == list(p.satisfies)
    assert entry["patch"] == json.loads(files["json6902/ns.deployment.app.json"])
    assert entry["target"] == {"group": "apps", "version": "v1", "kind": "Deployment",
                               "name": "app", "namespace": "ns"}


def test_a_malformed_template_is_refused_not_crashed_on() -> None:
    obj = deployment({"securityContext": "x", "containers": [{"name": "a",
                                                              "securityContext": "y"}]})
    outcome = compute_patch(obj, target())
    assert isinstance(outcome, Refusal)
    assert any("malformed pod spec" in r for r in outcome.reasons)


def _psp(path: str, value: Any, source: str = "spec.x") -> dict[str, Any]:
    return {"cause": "psp", "path": path, "pod": value, "source": source, "template": None}


@pytest.mark.parametrize("change, field, value", [
    (_psp("spec.runtimeClassName", "gvisor"), "spec.template.spec.runtimeClassName", "gvisor"),
    (_psp("spec.containers[app].securityContext.readOnlyRootFilesystem", True),
     "spec.template.spec.containers[app].securityContext.readOnlyRootFilesystem", True),
    (_psp("spec.containers[app].securityContext.runAsGroup", 3000),
     "spec.template.spec.containers[app].securityContext.runAsGroup", 3000),
    (_psp("spec.containers[app].securityContext.capabilities.add", ["NET_BIND_SERVICE"]),
     "spec.template.spec.containers[app].securityContext.capabilities.add",
     ["NET_BIND_SERVICE"]),
    (_psp("metadata.annotations[container.seccomp.security.alpha.kubernetes.io/app]",
          "localhost/profiles/app.json"),
     "spec.template.spec.containers[app].securityContext.seccompProfile",
     {"type": "Localhost", "localhostProfile": "profiles/app.json"}),
    (_psp("spec.securityContext.seLinuxOptions", {"level": "s0:c1,c2"}),
     "spec.template.spec.securityContext.seLinuxOptions", {"level": "s0:c1,c2"}),
])
def test_every_kind_of_psp_default_is_made_explicit(change: dict[str, Any], field: str,
                                                     value: Any) -> None:
    obj = deployment({"securityContext": {"runAsUser": 10},
                      "containers": [{"name": "app", "image": "x"}]})
    p = patched(obj, target(psp="mutating", changes=(change,)))
    by_field = {c.field: c for c in p.changes}
    assert by_field[field].after == value
    assert by_field[field].reasons[0] == "PSP mutating: spec.x"
    assert field in p.psp_defaults
    assert_proven(p)


def test_a_psp_added_capability_restricted_forbids_refuses_the_patch() -> None:
    change = _psp("spec.containers[app].securityContext.capabilities.add", ["SYS_ADMIN"])
    outcome = compute_patch(deployment({"containers": [{"name": "app"}]}),
                            target(psp="mutating", changes=(change,)))
    assert isinstance(outcome, Refusal) and '"SYS_ADMIN"' in outcome.reasons[0]
