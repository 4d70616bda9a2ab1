"""The verdict cache: same answers as the engine, one key for a workload's replicas."""

from __future__ import annotations

import copy

import pytest
import yaml
from paths import CONFORMANCE

from migrator.pss.api import Level, Version
from migrator.pss.engine import evaluate, security_key, verdict_cached

CORPUS = CONFORMANCE


def test_cache_agrees_with_engine_on_corpus() -> None:
    if not CORPUS.is_dir():
        pytest.skip("no corpus")
    for path in sorted(CORPUS.glob("*/v1.3[0-7]/*/*.yaml")):
        # upstream fixtures are pods, not API objects: names such as "x_y0" are kept
        pod = yaml.safe_load(path.read_text(encoding="utf-8"))
        for level in (Level.BASELINE, Level.RESTRICTED):
            for version in (Version.of(30), Version.latest()):
                expected = tuple(evaluate(level, version, pod["metadata"], pod["spec"]))
                assert verdict_cached(level, version, pod["metadata"], pod["spec"]) == expected


def _replica(token: str, node: str) -> dict:
    return {
        "nodeName": node,
        "containers": [{"name": "app", "image": "x", "env": [{"name": "POD", "value": token}]}],
        "volumes": [{"name": f"kube-api-access-{token}", "projected": {"sources": []}},
                    {"name": "data", "hostPath": {"path": "/data"}}],
    }


def test_replicas_share_a_key_but_reported_names_do_not() -> None:
    assert security_key({}, _replica("abcde", "n1")) == security_key({}, _replica("fghij", "n2"))
    other = _replica("abcde", "n1")
    other["volumes"][1]["name"] = "data2"
    assert security_key({}, other) != security_key({}, _replica("abcde", "n1"))
    changed = copy.deepcopy(other)
    changed["containers"][0]["securityContext"] = {"privileged": True}
    assert security_key({}, changed) != security_key({}, other)


def test_security_annotations_are_part_of_the_key() -> None:
    spec = _replica("a", "n")
    plain = security_key({"annotations": {"team": "x"}}, spec)
    assert plain == security_key({}, spec)
    unconfined = {"annotations": {"container.apparmor.security.beta.kubernetes.io/app": "unconfined"}}
    assert security_key(unconfined, spec) != plain


def test_the_key_is_the_same_with_parts_remembered() -> None:
    """Remembering shared parts by object changes no key."""
    shared: dict = {}
    containers = [{"name": "app", "securityContext": {"runAsUser": 0}, "image": "x"}]
    specs = [
        _replica("abcde", "n1"),
        {"containers": containers, "securityContext": {"runAsNonRoot": True},
         "hostNetwork": True, "volumes": [{"name": "v", "emptyDir": {}}]},
        {"containers": containers, "initContainers": None},
        {},
    ]
    metas = [{}, {"annotations": {"seccomp.security.alpha.kubernetes.io/pod": "unconfined",
                                  "team": "a"}}, {"annotations": "odd"}]
    for spec in specs:
        for metadata in metas:
            assert security_key(metadata, spec, shared) == security_key(metadata, spec)
            assert security_key(metadata, spec, shared) == security_key(metadata, spec, shared)
    odd = {"containers": [{"name": "a", "securityContext": {1: 2}}]}
    assert security_key({}, odd, shared) == security_key({}, odd)
    flag = {"hostNetwork": {"not": "a bool"}, "containers": containers}
    assert security_key({}, flag, shared) == security_key({}, flag)
