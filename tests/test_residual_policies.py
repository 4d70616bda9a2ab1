"""The residual ValidatingAdmissionPolicies end to end: the CEL evaluator against a real
1.36 server's verdicts (tests/data/vap), the generated documents against the shape that server
accepted, the proof in the plan (a rule that would reject a running pod is reported, not
generated), and `generate` (policies, bindings, --drop-guarantee, API versions)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from demo import demo_inventory, demo_plan
from stored import stored

from migrator.app.generate import generate_files
from migrator.errors import UsageError
from migrator.model.inventory import Inventory
from migrator.plan.cel import CompiledPolicy
from migrator.plan.decide import build_plan
from migrator.pss.api import Version

DATA = Path(__file__).parent / "data" / "vap"
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def recorded(name: str) -> dict[str, Any]:
    return dict(json.loads((DATA / f"v1.36-{name}.json").read_text(encoding="utf-8")))


def program_of(policy: dict[str, Any]) -> CompiledPolicy:
    spec = policy["spec"]
    return CompiledPolicy(
        [(v["name"], v["expression"]) for v in spec.get("variables") or ()],
        [(v["expression"], v.get("messageExpression"), v.get("message", ""))
         for v in spec["validations"]])


# -- the evaluator agrees with the real server ----------------------------------------------


def test_the_evaluator_reproduces_the_recorded_denials_and_warnings() -> None:
    program = program_of(recorded("policy-create")["request"]["body"])
    checked = 0
    for path in sorted(DATA.glob("v1.36-pod-*.json")):
        exchange = json.loads(path.read_text(encoding="utf-8"))
        failures = [f.message for f in program.evaluate(exchange["request"]["body"])]
        namespace = exchange["request"]["path"].split("/")[4]
        response = exchange["response"]
        if namespace == "vap-other":
            assert response["status"] == 201 and failures  # not bound there
        elif response["status"] == 403:
            denied = response["body"]["message"].split("denied request: ", 1)[1]
            assert failures[0] == denied, path.name
        elif namespace == "vap-warn":
            warnings = [w.split("': ", 1)[1].rstrip('"') for w in response["headers"]["Warning"]]
            assert failures == warnings
        else:
            assert failures == [], path.name
        checked += 1
    assert checked == 6


# -- the generated documents ------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_files() -> dict[str, str]:
    files, _patched, _residual = generate_files(demo_plan(), {}, ("strategic",))
    return files


def _docs(files: dict[str, str], pattern: str) -> dict[str, dict[str, Any]]:
    return {path: yaml.safe_load(text) for path, text in files.items()
            if re.fullmatch(pattern, path)}


def test_policies_have_the_shape_the_server_accepted(demo_files: dict[str, str]) -> None:
    accepted = recorded("policy-create")["request"]["body"]
    policies = _docs(demo_files, r"residual-policies/migrator-.*\.yaml")
    assert len(policies) == 6
    for path, policy in policies.items():
        assert set(policy) == set(accepted), path
        assert policy["apiVersion"] == accepted["apiVersion"]
        assert policy["kind"] == accepted["kind"]
        assert DNS_SUBDOMAIN.match(policy["metadata"]["name"]), path
        assert path == f"residual-policies/{policy['metadata']['name']}.yaml"
        spec = policy["spec"]
        assert set(spec) == set(accepted["spec"])
        assert spec["failurePolicy"] == "Fail"
        [rule] = spec["matchConstraints"]["resourceRules"]
        [accepted_rule] = accepted["spec"]["matchConstraints"]["resourceRules"]
        assert set(rule) == set(accepted_rule)
        assert rule["operations"] == ["CREATE", "UPDATE"] and "pods" in rule["resources"]
        for variable in spec["variables"]:
            assert set(variable) == {"name", "expression"}
            assert re.fullmatch(r"[a-z][A-Za-z0-9]*", variable["name"])
        names = [v["name"] for v in spec["variables"]]
        assert len(names) == len(set(names))
        for validation in spec["validations"]:
            assert set(validation) == {"expression", "messageExpression", "message", "reason"}
            assert validation["reason"] == "Forbidden"
        program_of(policy)  # every expression compiles


def test_bindings_per_phase_select_namespaces_by_name(demo_files: dict[str, str]) -> None:
    accepted = recorded("binding-deny-create")["request"]["body"]
    policies = {d["metadata"]["name"]: d for d in
                _docs(demo_files, r"residual-policies/migrator-.*\.yaml").values()}
    for phase, actions in (("phase1-audit", ["Warn", "Audit"]), ("phase2-enforce", ["Deny"])):
        bindings = _docs(demo_files, rf"namespaces/{phase}/.*\.binding\.yaml")
        assert sorted(b["spec"]["policyName"] for b in bindings.values()) == sorted(policies)
        for binding in bindings.values():
            assert set(binding) == set(accepted) and set(binding["spec"]) == set(accepted["spec"])
            assert binding["kind"] == accepted["kind"]
            assert binding["spec"]["validationActions"] == actions
            assert binding["metadata"]["name"] == binding["spec"]["policyName"]
            [selector] = binding["spec"]["matchResources"]["namespaceSelector"]["matchExpressions"]
            assert selector["key"] == "kubernetes.io/metadata.name"
            assert selector["operator"] == "In" and selector["values"]
    bound = {ns for b in _docs(demo_files, r"namespaces/phase2-enforce/.*\.binding\.yaml").values()
             for ns in b["spec"]["matchResources"]["namespaceSelector"]["matchExpressions"][0]["values"]}
    assert bound == {"batch", "ingress-nginx", "kube-system", "legacy", "monitoring",
                     "payments", "team-a"}


def _bound_program(files: dict[str, str], namespace: str) -> CompiledPolicy:
    for binding in _docs(files, r"namespaces/phase2-enforce/.*\.binding\.yaml").values():
        if namespace in binding["spec"]["matchResources"]["namespaceSelector"][
                "matchExpressions"][0]["values"]:
            name = binding["spec"]["policyName"]
            return program_of(yaml.safe_load(files[f"residual-policies/{name}.yaml"]))
    raise AssertionError(f"no policy bound to {namespace}")


def test_the_demo_policies_admit_every_running_pod(demo_files: dict[str, str]) -> None:
    inventory = demo_inventory()
    for pod in inventory.pods:
        namespace = pod["metadata"]["namespace"]
        assert _bound_program(demo_files, namespace).evaluate(pod) == [], pod["metadata"]["name"]


def test_the_demo_policies_deny_what_the_psps_denied(demo_files: dict[str, str]) -> None:
    legacy = _bound_program(demo_files, "legacy")  # PSP baseline at Pod Security baseline
    rbd = {"metadata": {}, "spec": {"containers": [{"name": "app"}], "volumes": [
        {"name": "disk", "rbd": {"image": "i", "monitors": ["m"]}}]}}
    assert [f.message for f in legacy.evaluate(rbd)] == [
        "PodSecurityPolicy baseline: spec.volumes allows configMap, csi, downwardAPI, emptyDir, "
        "ephemeral, nfs, persistentVolumeClaim, projected, secret, got: disk"]
    init_t = {"metadata": {}, "spec": {"containers": [{"name": "app", "securityContext": {
        "seLinuxOptions": {"type": "container_init_t"}}}]}}
    assert len(legacy.evaluate(init_t)) == 1
    ingress = _bound_program(demo_files, "ingress-nginx")
    root = {"containers": [{"name": "c", "securityContext": {"runAsUser": 0}}],
            "volumes": [{"name": "p", "persistentVolumeClaim": {"claimName": "x"}}]}
    # baseline admits root and the claim: the ingress PSP's stricter rules do not bind then
    assert ingress.evaluate({"metadata": {}, "spec": {**root,
                                                      "serviceAccountName": "ingress-nginx"}}) == []
    rbd_ingress = {**rbd["spec"], "serviceAccountName": "ingress-nginx"}
    messages = [f.message for f in ingress.evaluate({"metadata": {}, "spec": rbd_ingress})]
    assert any(m.startswith("PodSecurityPolicy ingress: spec.volumes") for m in messages)


# -- --drop-guarantee and API versions ----------------------------------------------------------


def test_drop_guarantee_leaves_a_rule_out_and_says_so() -> None:
    files, _p, residual = generate_files(
        demo_plan(), {}, ("strategic",), drops=["baseline:volumes", "ingress:spec.runAsUser"])
    text = "\n".join(t for p, t in files.items() if p.startswith("residual-policies/"))
    assert "variables.baselineVolumes" not in text and "ingressRunAsUser" not in text
    assert "variables.baselineSeLinuxSeLinuxOptions" in text
    assert {(d["psp"], d["field"]) for d in residual.dropped} == {
        ("baseline", "spec.volumes"), ("ingress", "spec.runAsUser")}
    assert "baseline `spec.volumes`: dropped with --drop-guarantee" in files["README.md"]
    with pytest.raises(UsageError, match="no such residual rule"):
        generate_files(demo_plan(), {}, ("strategic",), drops=["baseline:spec.readOnlyRootFilesystem"])
    with pytest.raises(UsageError, match="expected PSP:FIELD"):
        generate_files(demo_plan(), {}, ("strategic",), drops=["baseline"])


def test_api_version_follows_the_target_version() -> None:
    plan = demo_plan()
    plan["target_version"] = "v1.29"
    files, _p, _r = generate_files(plan, {}, ("strategic",))
    versions = {yaml.safe_load(t)["apiVersion"] for p, t in files.items()
                if p.startswith("residual-policies/migrator-") or p.endswith(".binding.yaml")}
    assert versions == {"admissionregistration.k8s.io/v1beta1"}
    # 1.29 has no appArmorProfile field: a rule naming it would not compile there
    assert not [p for p, t in files.items() if "appArmorProfile" in t and p != "README.md"]
    assert "reads securityContext.appArmorProfile, which the 1.29 API server does not have" \
        in files["README.md"]
    plan["target_version"] = "v1.27"
    files, _p, residual = generate_files(plan, {}, ("strategic",))
    assert not [p for p in files if "residual" in p or p.endswith(".binding.yaml")]
    assert residual.policies and residual.api_version is None
    assert "No ValidatingAdmissionPolicy API on v1.27" in files["README.md"]


def test_phase_folders_include_the_policies_when_the_cluster_serves_them(tmp_path: Path) -> None:
    plan = demo_plan()
    assert "../../residual-policies" not in generate_files(plan, {}, ("strategic",))[0][
        "namespaces/phase1-audit/kustomization.yaml"]  # a 1.24 cluster: applied later
    plan["cluster"]["server_version"] = "v1.31.2"
    files, _p, _r = generate_files(plan, {}, ("strategic",))
    kustomization = yaml.safe_load(files["namespaces/phase1-audit/kustomization.yaml"])
    assert "../../residual-policies" in kustomization["resources"]
    assert "migrator-residual-baseline.binding.yaml" in kustomization["resources"]
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl (kustomize) is not installed")
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text, encoding="utf-8")
    built = subprocess.run(["kubectl", "kustomize", str(tmp_path / "namespaces/phase2-enforce")],
                           capture_output=True, text=True, check=True).stdout
    kinds = [d["kind"] for d in yaml.safe_load_all(built)]
    assert kinds.count("ValidatingAdmissionPolicy") == 6
    assert kinds.count("ValidatingAdmissionPolicyBinding") == 6


# -- the proof in the plan -----------------------------------------------------------------------


def _inventory(running_rofs: bool | None) -> Inventory:
    inventory = Inventory(server_version="v1.24.17")
    objects: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
        {"apiVersion": "policy/v1beta1", "kind": "PodSecurityPolicy", "metadata": {"name": "ro"},
         "spec": {"readOnlyRootFilesystem": True, "runAsUser": {"rule": "RunAsAny"},
                  "seLinux": {"rule": "RunAsAny"}, "supplementalGroups": {"rule": "RunAsAny"},
                  "fsGroup": {"rule": "RunAsAny"}, "volumes": ["*"],
                  "allowedCapabilities": ["*"]}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": {"name": "psp-ro"}, "rules": [{"apiGroups": ["policy"], "verbs": ["use"],
                                                   "resources": ["podsecuritypolicies"],
                                                   "resourceNames": ["ro"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": "psp-ro", "namespace": "shop"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                     "name": "psp-ro"},
         "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                       "name": "system:serviceaccounts:shop"}]},
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": "writer", "namespace": "shop"},
         "spec": {"selector": {"matchLabels": {"app": "w"}}, "template": {
             "metadata": {"labels": {"app": "w"}},
             "spec": {"containers": [{"name": "w", "image": "w",
                                      "securityContext": {"readOnlyRootFilesystem": False}}]}}}},
    ]
    if running_rofs is not None:
        objects.append({"apiVersion": "v1", "kind": "Pod",
                        "metadata": {"name": "old", "namespace": "shop",
                                     "annotations": {"kubernetes.io/psp": "ro"}},
                        "spec": {"containers": [{"name": "o", "image": "o", "securityContext": {
                            "readOnlyRootFilesystem": running_rofs}}]}})
    for index, obj in enumerate(objects):
        inventory.add(obj, f"test#{index}")
    return inventory


def _shop(plan: dict[str, Any]) -> dict[str, Any]:
    """The shop namespace's residual entry, its alternatives read from the section's table."""
    from migrator.plan.residual import entry_alternatives

    section = plan["residual"]
    [entry] = [e for e in section["namespaces"] if e["namespace"] == "shop"]
    return {**entry, "alternatives": entry_alternatives(section, entry)}


def test_the_plan_lists_the_workloads_a_kept_rule_rejects() -> None:
    entry = _shop(build_plan(_inventory(running_rofs=True), pin=Version.of(24)))
    [alternative] = entry["alternatives"]
    assert [r["field"] for r in alternative["rules"]] == ["spec.readOnlyRootFilesystem"]
    assert entry["reported"] == []
    assert [(r["object"], r["running"], r["field"]) for r in entry["rejects"]] == [
        ("Deployment/writer", False, "spec.readOnlyRootFilesystem")]
    assert entry["checked"] == 2


def test_a_rule_that_would_reject_a_running_pod_is_reported_not_generated() -> None:
    plan = build_plan(_inventory(running_rofs=False), pin=Version.of(24))
    entry = _shop(plan)
    assert entry["alternatives"][0]["rules"] == []
    [report] = entry["reported"]
    assert report["field"] == "spec.readOnlyRootFilesystem"
    assert report["reason"].startswith("would reject running Pod/old: PodSecurityPolicy ro: "
                                       "spec.readOnlyRootFilesystem")
    files, _p, residual = generate_files(plan, {}, ("strategic",))
    assert residual.policies == []
    assert "reported, not generated: would reject running Pod/old" in files["README.md"]


def test_replicas_are_proved_once_and_counted_each() -> None:
    """Pods of one shape are one subject: the first of them names the rule a running pod
    needs, and every pod counts as checked."""
    inventory = _inventory(running_rofs=False)
    [old] = inventory.pods
    for name in ("old-c", "old-a", "old-b"):
        inventory.add({**old, "metadata": {**old["metadata"], "name": name}}, f"test#{name}")
    entry = _shop(build_plan(inventory, pin=Version.of(24)))
    [report] = entry["reported"]
    assert report["reason"].startswith("would reject running Pod/old: ")
    assert entry["checked"] == 5  # four pods and the Deployment's template
    inventory.pods[:] = [p for p in inventory.pods if p["metadata"]["name"] != "old"]
    entry = _shop(build_plan(inventory, pin=Version.of(24)))
    assert entry["reported"][0]["reason"].startswith("would reject running Pod/old-a: ")
    assert entry["checked"] == 4


# -- the command line ---------------------------------------------------------------------------


def test_generate_command_drops_a_guarantee_and_refuses_an_unknown_one(tmp_path: Path) -> None:
    from demo import write_demo_plan
    from typer.testing import CliRunner

    from migrator.cli.main import app

    plan = write_demo_plan(tmp_path)
    runner = CliRunner()
    done = runner.invoke(app, ["generate", "--plan", str(plan), "--out", str(tmp_path / "a"),
                               "--drop-guarantee", "baseline:spec.volumes"])
    assert done.exit_code == 0, done.output
    assert "6 residual policies" in done.output
    policy = (tmp_path / "a" / "residual-policies" / "migrator-residual-baseline.yaml").read_text()
    assert "baselineVolumes" not in policy and "baselineSeLinuxSeLinuxOptions" in policy
    refused = runner.invoke(app, ["generate", "--plan", str(plan), "--out", str(tmp_path / "b"),
                                  "--drop-guarantee", "nope:spec.volumes"])
    assert refused.exit_code == 2
    assert "error: --drop-guarantee nope:spec.volumes: no such residual rule" in refused.output
    assert "Traceback" not in refused.output and not (tmp_path / "b").exists()


def test_a_pod_admitted_by_a_requesters_psp_is_judged_as_that_requester() -> None:
    inventory = _inventory(running_rofs=None)
    inventory.add({"apiVersion": "policy/v1beta1", "kind": "PodSecurityPolicy",
                   "metadata": {"name": "admin"},
                   "spec": {"runAsUser": {"rule": "RunAsAny"}, "seLinux": {"rule": "RunAsAny"},
                            "supplementalGroups": {"rule": "RunAsAny"}, "volumes": ["*"],
                            "fsGroup": {"rule": "RunAsAny"}, "allowedCapabilities": ["*"]}},
                  "test#admin")
    inventory.add({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                   "metadata": {"name": "psp-admin"},
                   "rules": [{"apiGroups": ["policy"], "verbs": ["use"],
                              "resources": ["podsecuritypolicies"], "resourceNames": ["admin"]}]},
                  "test#admin-role")
    inventory.add({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                   "metadata": {"name": "psp-admin"},
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                               "name": "psp-admin"},
                   "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                                 "name": "cluster-admins"}]}, "test#admin-binding")
    inventory.add({"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": "debug", "namespace": "shop",
                                "annotations": {"kubernetes.io/psp": "admin"}},
                   "spec": {"containers": [{"name": "d", "image": "d", "securityContext": {
                       "readOnlyRootFilesystem": False}}]}}, "test#debug")
    plan = build_plan(inventory, pin=Version.of(24))
    jsonschema.validate(stored(plan), json.loads((Path(__file__).parents[1] / "schemas" /
                                          "plan.schema.json").read_text(encoding="utf-8")))
    entry = _shop(plan)
    alternatives = {a["psp"]: a for a in entry["alternatives"]}
    assert alternatives["admin"]["groups"] == ["cluster-admins"]
    assert alternatives["admin"]["service_accounts"] == []
    # the debug pod came in through the admins' own PSP: the ro rule stays
    assert [r["field"] for r in alternatives["ro"]["rules"]] == ["spec.readOnlyRootFilesystem"]
    assert entry["reported"] == []
    assert [r["object"] for r in entry["rejects"]] == ["Deployment/writer"]


def test_a_plan_without_a_residual_section_says_to_plan_again() -> None:
    plan = demo_plan()
    del plan["residual"]
    files, _p, residual = generate_files(plan, {}, ("strategic",))
    assert not residual.planned and residual.policies == []
    assert not [p for p in files if p.startswith("residual-policies/")]
    assert "The plan has no residual section" in files["README.md"]


def test_replicas_share_a_verdict_only_when_their_annotations_agree() -> None:
    from migrator.plan.residual import shape_key

    def pod(token: str, node: str) -> dict[str, Any]:
        return {"nodeName": node, "containers": [{"name": "a", "volumeMounts": [
            {"name": token, "mountPath": "/t"}]}], "volumes": [{"name": token, "projected": {}}]}

    assert shape_key(pod("kube-api-access-abcde", "n1")) == shape_key(pod("kube-api-access-xyz", "n2"))
    read_only = pod("t", "n")
    read_only["containers"][0]["volumeMounts"][0]["readOnly"] = True
    assert shape_key(read_only) != shape_key(pod("t", "n"))
    # the profile rules read annotations: two pods that differ only there are judged apart
    policy = {"kind": "PodSecurityPolicy", "metadata": {"name": "aa", "annotations": {
        "apparmor.security.beta.kubernetes.io/allowedProfileNames": "runtime/default"}},
        "spec": {"runAsUser": {"rule": "RunAsAny"}, "seLinux": {"rule": "RunAsAny"},
                 "supplementalGroups": {"rule": "RunAsAny"}, "fsGroup": {"rule": "RunAsAny"},
                 "volumes": ["*"], "allowedCapabilities": ["*"]}}
    inventory = _inventory(running_rofs=None)
    inventory.psps = [policy]
    for name, profile in (("a-good", "runtime/default"), ("b-bad", "unconfined")):
        inventory.add({"apiVersion": "v1", "kind": "Pod", "metadata": {
            "name": name, "namespace": "shop", "annotations": {
                "kubernetes.io/psp": "aa",
                "container.apparmor.security.beta.kubernetes.io/c": profile}},
            "spec": {"containers": [{"name": "c", "image": "c"}]}}, f"test#{name}")
    inventory.role_bindings[0]["roleRef"]["name"] = "psp-aa"
    inventory.cluster_roles[0]["metadata"]["name"] = "psp-aa"
    inventory.cluster_roles[0]["rules"][0]["resourceNames"] = ["aa"]
    entry = _shop(build_plan(inventory, pin=Version.of(24)))
    [report] = entry["reported"]
    assert report["reason"].startswith("would reject running Pod/b-bad")


def test_policy_names_stay_dns_subdomains() -> None:
    from migrator.generate.residual import MAX_NAME, _name
    from migrator.psp.residual import Alternative

    many = [Alternative("p" * 60 + str(i), None, ()) for i in range(6)]
    taken: set[str] = set()
    first, second = _name(many, "baseline", "ns", taken), _name(many, "baseline", "ns2", taken)
    assert len(first) <= MAX_NAME and len(second) <= MAX_NAME and first != second
    assert DNS_SUBDOMAIN.match(first) and DNS_SUBDOMAIN.match(second)


def test_a_rule_that_does_not_compile_is_reported_not_generated() -> None:
    from migrator.plan.residual import _prove
    from migrator.psp.residual import Alternative, ResidualRule

    broken = ResidualRule("p", "spec.volumes", "x", "variables.volumes.filter(v, ")
    kept, reported, rejected = _prove([Alternative("p", None, (broken,))], [], {}, {})
    assert kept[0].rules == () and rejected == []
    [report] = reported
    assert report["field"] == "spec.volumes" and report["reason"].startswith("does not compile")


def test_a_template_is_judged_as_the_controller_that_creates_its_pods() -> None:
    inventory = _inventory(running_rofs=None)
    before = _shop(build_plan(inventory, pin=Version.of(24)))
    assert [r["object"] for r in before["rejects"]] == ["Deployment/writer"]
    inventory.add({"apiVersion": "policy/v1beta1", "kind": "PodSecurityPolicy",
                   "metadata": {"name": "controllers"},
                   "spec": {"runAsUser": {"rule": "RunAsAny"}, "seLinux": {"rule": "RunAsAny"},
                            "supplementalGroups": {"rule": "RunAsAny"}, "volumes": ["*"],
                            "fsGroup": {"rule": "RunAsAny"}, "allowedCapabilities": ["*"]}},
                  "test#controllers")
    inventory.add({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                   "metadata": {"name": "psp-controllers"},
                   "rules": [{"apiGroups": ["policy"], "verbs": ["use"],
                              "resources": ["podsecuritypolicies"],
                              "resourceNames": ["controllers"]}]}, "test#c-role")
    inventory.add({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                   "metadata": {"name": "psp-controllers"},
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                               "name": "psp-controllers"},
                   "subjects": [{"kind": "ServiceAccount", "name": "replicaset-controller",
                                 "namespace": "kube-system"}]}, "test#c-binding")
    entry = _shop(build_plan(inventory, pin=Version.of(24)))
    users = {a["psp"]: a["users"] for a in entry["alternatives"]}
    assert users["controllers"] == ["system:serviceaccount:kube-system:replicaset-controller"]
    assert entry["rejects"] == []  # its pods come through the controller's own PSP


def test_a_syntax_error_is_refused_as_the_server_refused_it() -> None:
    from migrator.plan.cel import CelError

    exchange = recorded("policy-cel-syntax-error")
    assert exchange["response"]["status"] == 422
    assert "Syntax error: missing ')'" in exchange["response"]["body"]["message"]
    with pytest.raises(CelError, match="validation 0"):
        program_of(exchange["request"]["body"])


def test_namespaces_sharing_their_psps_share_one_alternatives_entry() -> None:
    """plan.json stores each distinct list of alternatives once, named by key."""
    from demo import demo_plan

    section = demo_plan()["residual"]
    keys = [e["alternatives_key"] for e in section["namespaces"]]
    assert set(keys) == set(section["alternatives"])
    assert len(set(keys)) < len(keys)  # batch and legacy share the baseline PSP's rules
    assert all("alternatives" not in e for e in section["namespaces"])
