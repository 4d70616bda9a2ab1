"""The PodSecurity admission configuration: reading the one a cluster runs with.

Owns `AdmissionConfig` (the defaults and the exemptions by username, namespace and
runtimeClass) and `parse_admission_config`, which accepts a PodSecurityConfiguration
(`pod-security.admission.config.k8s.io/v1`, `v1beta1` or `v1alpha1`) or an
apiserver AdmissionConfiguration that embeds one under the `PodSecurity` plugin. The
API server does not serve this configuration, so users pass it as a file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from migrator.errors import ManifestError
from migrator.pss.api import MODES, Level, LevelVersion, Policy, Version

GROUP = "pod-security.admission.config.k8s.io"
VERSIONS = ("v1", "v1beta1", "v1alpha1")


@dataclass(frozen=True)
class AdmissionConfig:
    defaults: Policy
    usernames: frozenset[str] = field(default_factory=frozenset)
    namespaces: frozenset[str] = field(default_factory=frozenset)
    runtime_classes: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def default(cls) -> AdmissionConfig:
        everything = LevelVersion(Level.PRIVILEGED, Version.latest())
        return cls(Policy(everything, everything, everything))

    def exempt_namespace(self, namespace: str) -> bool:
        return namespace in self.namespaces

    def exempt_runtime_class(self, name: str | None) -> bool:
        return bool(name) and name in self.runtime_classes


def _find_pod_security(doc: dict[str, Any], source: str) -> dict[str, Any]:
    api_version = str(doc.get("apiVersion") or "")
    kind = doc.get("kind")
    if kind == "PodSecurityConfiguration" and api_version.startswith(GROUP + "/"):
        if api_version.split("/", 1)[1] not in VERSIONS:
            raise ManifestError(source, f"unsupported PodSecurityConfiguration {api_version}")
        return doc
    if kind == "AdmissionConfiguration":
        for plugin in doc.get("plugins") or ():
            if isinstance(plugin, dict) and plugin.get("name") == "PodSecurity":
                inner = plugin.get("configuration")
                if isinstance(inner, dict):
                    return _find_pod_security(inner, source)
                raise ManifestError(
                    source, "the PodSecurity plugin's configuration is in a separate file "
                    f"({plugin.get('path')}); pass that file instead")
        raise ManifestError(source, "AdmissionConfiguration has no PodSecurity plugin")
    raise ManifestError(
        source, f"expected a PodSecurityConfiguration or AdmissionConfiguration, got {kind}")


def _names(value: Any, what: str, source: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ManifestError(source, f"exemptions.{what} must be a list of strings")
    return frozenset(value)


def parse_admission_config(doc: dict[str, Any], source: str) -> AdmissionConfig:
    """The configuration in `doc`; ManifestError (naming `source`) when it is invalid."""
    config = _find_pod_security(doc, source)
    defaults = config.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise ManifestError(source, "defaults must be a mapping")
    resolved = {}
    for mode in MODES:
        try:
            level = Level.parse(str(defaults.get(mode, "privileged")))
            version = Version.parse(str(defaults.get(f"{mode}-version", "latest")))
        except ValueError as exc:
            raise ManifestError(source, f"defaults.{mode}: {exc}") from exc
        resolved[mode] = LevelVersion(level, version)
    exemptions = config.get("exemptions") or {}
    if not isinstance(exemptions, dict):
        raise ManifestError(source, "exemptions must be a mapping")
    return AdmissionConfig(
        Policy(resolved["enforce"], resolved["audit"], resolved["warn"]),
        usernames=_names(exemptions.get("usernames"), "usernames", source),
        namespaces=_names(exemptions.get("namespaces"), "namespaces", source),
        runtime_classes=_names(exemptions.get("runtimeClasses"), "runtimeClasses", source),
    )
