"""The Inventory: kinds filed, other kinds counted, duplicates kept once and reported."""

from __future__ import annotations

from migrator.model.inventory import Inventory


def test_kinds_skips_and_duplicates() -> None:
    inventory = Inventory()
    psp = {"kind": "PodSecurityPolicy", "metadata": {"name": "restricted"}, "spec": {"a": 1}}
    other = {"kind": "PodSecurityPolicy", "metadata": {"name": "restricted"}, "spec": {"a": 2}}
    assert inventory.add(psp, "a.yaml#0") is True
    assert inventory.add(other, "b.yaml#3") is False
    assert inventory.add({"kind": "ConfigMap", "metadata": {"name": "x"}}, "c.yaml#0") is False
    assert inventory.add({"kind": "Pod", "metadata": {"name": "p", "namespace": "n"}}, "d#0")
    assert inventory.psps == [psp]
    assert inventory.skipped == {"ConfigMap": 1}
    assert [d.describe() for d in inventory.duplicates] == [
        "PodSecurityPolicy restricted is defined twice: kept a.yaml#0, ignored b.yaml#3"]
    assert inventory.namespace_names() == ["n"]


def test_objects_without_namespace_land_in_default() -> None:
    inventory = Inventory()
    inventory.add({"kind": "Deployment", "metadata": {"name": "web"}}, "x#0")
    inventory.add({"kind": "ClusterRole", "metadata": {"name": "r"}}, "x#1")
    assert inventory.namespace_names() == ["default"]
    assert ("Deployment", "default", "web") in inventory.origins
    assert ("ClusterRole", "", "r") in inventory.origins
