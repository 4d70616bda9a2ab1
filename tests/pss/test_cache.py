"""The verdict cache: same answers as the engine, one key for a workload's replicas."""

from __future__ import annotations

import copy

import pytest
from paths import CONFORMANCE

from migrator.files.manifests import load_file
from migrator.pss.api import Level, Version
from migrator.pss.engine import evaluate, security_key, verdict_cached

CORPUS = CONFORMANCE


def test_cache_agrees_with_engine_on_corpus() -> None:
    if not CORPUS.is_dir():
        pytest.skip("no corpus")
    for path in sorted(CORPUS.glob("*/v1.3[0-7]/*/*.yaml")):
        pod = next(load_file(str(path))).obj
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
