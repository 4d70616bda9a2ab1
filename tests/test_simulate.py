"""Simulation over the demo cluster: floors, template sources, owners and mutated pods."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrator.files.manifests import load_documents
from migrator.model.inventory import Inventory
from migrator.model.owners import OwnerIndex
from migrator.plan.simulate import simulate
from migrator.psp import explains, psp_defaults
from migrator.pss.api import Level, LevelVersion, Version

DEMO = Path(__file__).resolve().parents[1] / "fixtures" / "demo"
PIN = Version.of(24)


@pytest.fixture(scope="module")
def inventory() -> Inventory:
    errors: list = []
    inv = Inventory.from_documents(load_documents([str(DEMO)], errors))
    assert errors == []
    return inv


@pytest.fixture(scope="module")
def sims(inventory: Inventory) -> dict:
    return simulate(inventory, (PIN, Version.latest()))


@pytest.mark.parametrize("namespace,floor", [
    ("batch", Level.PRIVILEGED),          # the nightly CronJob adds SYS_PTRACE, no pod now
    ("ingress-nginx", Level.BASELINE),
    ("kube-system", Level.PRIVILEGED),
    ("legacy", Level.PRIVILEGED),         # the Deployment scaled to zero uses a hostPort
    ("monitoring", Level.PRIVILEGED),
    ("payments", Level.RESTRICTED),
    ("team-a", Level.BASELINE),           # the template lacks what the PSP injected
])
def test_floors(sims: dict, namespace: str, floor: Level) -> None:
    assert sims[namespace].floor(PIN) == floor


def test_templates_are_sources_not_their_replicasets(sims: dict) -> None:
    refs = [s.ref for s in sims["team-a"].templates()]
    assert refs == ["Deployment/web"]
    assert [s.ref for s in sims["batch"].templates()] == [
        "CronJob/hourly-export", "CronJob/nightly-reconcile"]


def test_inactive_templates_are_marked(sims: dict) -> None:
    by_ref = {s.ref: s for s in sims["legacy"].subjects}
    assert by_ref["Deployment/quarterly-report"].active is False
    assert by_ref["Deployment/billing-api"].active is True
    nightly = next(s for s in sims["batch"].subjects if s.name == "nightly-reconcile")
    assert nightly.active is False


def test_pods_know_their_top_owner(sims: dict) -> None:
    owners = {s.name: s.owner for s in sims["batch"].pods()}
    assert owners == {"hourly-export-28012345-n7x2c": "CronJob/hourly-export"}
    assert {s.owner for s in sims["team-a"].pods()} == {"Deployment/web"}


def test_mutated_pods_pass_while_template_fails(sims: dict) -> None:
    restricted = LevelVersion(Level.RESTRICTED, PIN)
    team_a = sims["team-a"]
    assert all(not p.verdicts[restricted] for p in team_a.pods())
    (template,) = team_a.templates()
    assert [v.check for v in template.verdicts[restricted]] == [
        "allowPrivilegeEscalation", "capabilities_restricted", "runAsNonRoot",
        "seccompProfile_restricted"]


def test_mutation_is_attributed_to_the_psp(inventory: Inventory) -> None:
    index = OwnerIndex.build(inventory.workloads)
    pod = next(p for p in inventory.pods if p["metadata"]["name"] == "web-6b7f9-4xz8m")
    top = index.top(pod)
    assert top is not None and top["kind"] == "Deployment"
    psp = next(p for p in inventory.psps if p["metadata"]["name"] == "restricted-mutating")
    differences = explains(psp_defaults(psp), top, pod).differences
    by_cause = {d.path: d.cause for d in differences}
    assert by_cause["spec.containers[web].securityContext.allowPrivilegeEscalation"] == "psp"
    assert by_cause["spec.securityContext.fsGroup"] == "psp"
    assert "other" not in by_cause.values()
