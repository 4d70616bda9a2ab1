"""Reading the PodSecurity admission configuration."""

from __future__ import annotations

import pytest

from migrator.errors import ManifestError
from migrator.model.admission import AdmissionConfig, parse_admission_config
from migrator.pss.api import Level, LevelVersion, Version

V1 = {
    "apiVersion": "pod-security.admission.config.k8s.io/v1",
    "kind": "PodSecurityConfiguration",
    "defaults": {"enforce": "baseline", "enforce-version": "v1.25", "warn": "restricted"},
    "exemptions": {"usernames": ["system:serviceaccount:ci:runner"], "namespaces": ["kube-system"],
                   "runtimeClasses": ["kata"]},
}


def test_pod_security_configuration() -> None:
    config = parse_admission_config(V1, "cfg.yaml")
    assert config.defaults.enforce == LevelVersion(Level.BASELINE, Version.of(25))
    assert config.defaults.audit == LevelVersion(Level.PRIVILEGED, Version.latest())
    assert config.defaults.warn == LevelVersion(Level.RESTRICTED, Version.latest())
    assert config.exempt_namespace("kube-system") and not config.exempt_namespace("default")
    assert config.exempt_runtime_class("kata") and not config.exempt_runtime_class(None)
    assert config.usernames == {"system:serviceaccount:ci:runner"}


def test_embedded_in_admission_configuration() -> None:
    wrapper = {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "AdmissionConfiguration",
               "plugins": [{"name": "Other"}, {"name": "PodSecurity", "configuration":
                           {**V1, "apiVersion": "pod-security.admission.config.k8s.io/v1beta1"}}]}
    assert parse_admission_config(wrapper, "x").namespaces == {"kube-system"}


def test_defaults_when_empty() -> None:
    doc = {"apiVersion": "pod-security.admission.config.k8s.io/v1", "kind": "PodSecurityConfiguration"}
    assert parse_admission_config(doc, "x") == AdmissionConfig.default()


@pytest.mark.parametrize("doc,message", [
    ({"kind": "ConfigMap"}, "expected a PodSecurityConfiguration"),
    ({**V1, "apiVersion": "pod-security.admission.config.k8s.io/v9"}, "unsupported"),
    ({**V1, "defaults": {"enforce": "strict"}}, "defaults.enforce: invalid level 'strict'"),
    ({**V1, "exemptions": {"namespaces": "kube-system"}}, "exemptions.namespaces must be a list"),
    ({"kind": "AdmissionConfiguration", "plugins": [{"name": "PodSecurity", "path": "/etc/ps.yaml"}]},
     "separate file"),
])
def test_invalid(doc: dict, message: str) -> None:
    with pytest.raises(ManifestError, match=message) as info:
        parse_admission_config(doc, "cfg.yaml")
    assert str(info.value).startswith("cfg.yaml: ")
