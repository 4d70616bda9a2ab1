"""The PodSecurity admission configuration a plan suggests, with its reasons as comments.

Owns `admission-config.yaml` (a PodSecurityConfiguration: defaults for namespaces without
labels, and exemptions) and the same configuration wrapped in an apiserver
`AdmissionConfiguration`, the file `--admission-control-config-file` names. The API
version follows the cluster: `v1` from 1.25, `v1beta1` on 1.23 and 1.24, `v1alpha1` before.
Defaults never loosen what the cluster's current configuration already enforces, and the
exemptions are those already in force plus the system namespaces the plan says must stay
privileged.

Pure: a plan in, `{file name: text}` out.
"""

from __future__ import annotations

from typing import Any

import yaml

from migrator.model.plan import Plan
from migrator.model.serialise import comment, dump_yaml
from migrator.pss.api import MODES, Level, Version

GROUP = "pod-security.admission.config.k8s.io"
CONFIG_FILE = "admission-config.yaml"
WRAPPED_FILE = "admission-configuration.yaml"
#: What each mode defaults to for namespaces without labels, before the current config.
CHOSEN = {"enforce": Level.PRIVILEGED, "audit": Level.BASELINE, "warn": Level.BASELINE}
#: Usernames of the controllers that create pods for everyone (exempting one exempts all).
_CONTROLLER_HINTS = ("controller", "system:serviceaccount:kube-system:")


def _minor(version: str | None) -> int | None:
    if not version:
        return None
    parts = version.lstrip("v").split(".")
    if len(parts) >= 2 and parts[0] == "1":
        digits = "".join(ch for ch in parts[1] if ch.isdigit())
        return int(digits) if digits else None
    return None


def config_version(plan: Plan) -> tuple[str, str]:
    """The PodSecurityConfiguration API version for the plan's cluster, and why."""
    server = (plan.get("cluster") or {}).get("server_version")
    minor = _minor(server)
    basis = f"the API server is {server}"
    if minor is None:
        pin = Version.parse(str(plan.get("pin_version") or "latest"))
        minor = pin.minor
        basis = f"the pinned policy version is {pin}"
    if minor is None or minor >= 25:
        return "v1", basis + " (v1 is served from 1.25)"
    if minor >= 23:
        return "v1beta1", basis + " (v1beta1 on 1.23 and 1.24; switch to v1 after the upgrade " \
            "to 1.25)"
    return "v1alpha1", basis + " (PodSecurity is alpha before 1.23 and needs its feature gate)"


def _current(plan: Plan, mode: str) -> tuple[Level, str | None]:
    value = str(((plan.get("admission_config") or {}).get("defaults") or {}).get(mode) or "")
    level, _, version = value.partition(":")
    try:
        return Level.parse(level), version or None
    except ValueError:
        return Level.PRIVILEGED, None


def defaults(plan: Plan) -> dict[str, tuple[str, str, str]]:
    """mode -> (level, version, why), never looser than the configuration in force."""
    pin = str(plan.get("pin_version") or "latest")
    out: dict[str, tuple[str, str, str]] = {}
    for mode in MODES:
        chosen = CHOSEN[mode]
        current, current_version = _current(plan, mode)
        if current.stricter_than(chosen):
            out[mode] = (str(current), current_version or pin,
                         "kept from the configuration in force (never loosened)")
        elif mode == "enforce":
            out[mode] = (str(chosen), pin, "a namespace without labels keeps running as it "
                         "does today; enforce per namespace through its labels")
        else:
            out[mode] = (str(chosen), pin, "namespaces without labels still report what "
                         "baseline would reject")
    return out


def exemptions(plan: Plan) -> dict[str, list[tuple[str, str]]]:
    """kind -> [(name, why)]: the exemptions in force plus privileged system namespaces."""
    config = plan.get("admission_config") or {}
    pin = str(plan.get("pin_version") or "latest")
    namespaces: dict[str, str] = dict.fromkeys(config.get("exempt_namespaces") or (),
                                               "already exempt in the configuration in force")
    for ns in plan.get("namespaces") or ():
        floor = (ns.get("floor") or {}).get(pin)
        if ns.get("system") and ns.get("suggestion") and floor == str(Level.PRIVILEGED):
            namespaces.setdefault(str(ns["name"]), "system namespace whose workloads need "
                                  "privileged (the plan's suggestion)")
    return {
        "namespaces": sorted(namespaces.items()),
        "runtimeClasses": [(r, "already exempt in the configuration in force")
                           for r in sorted(config.get("exempt_runtime_classes") or ())],
        "usernames": [(u, "already exempt in the configuration in force")
                      for u in sorted(config.get("exempt_usernames") or ())],
    }


def _controller_like(username: str) -> bool:
    return any(hint in username for hint in _CONTROLLER_HINTS)


def pod_security_configuration(plan: Plan) -> tuple[list[str], str]:
    """(comment lines, YAML body) of the PodSecurityConfiguration."""
    version, why = config_version(plan)
    chosen = defaults(plan)
    exempt = exemptions(plan)
    lines = [
        "PodSecurity admission configuration suggested by migrator generate.",
        f"API version {GROUP}/{version}: {why}.",
        "defaults apply to namespaces without pod-security.kubernetes.io labels:",
        *(f"  {mode}: {level} at {ver}: {reason}" for mode, (level, ver, reason)
          in chosen.items()),
        "exemptions skip Pod Security entirely (pods are not checked at all):",
    ]
    for kind, items in exempt.items():
        lines.extend(f"  {kind} {name}: {reason}" for name, reason in items)
        if not items:
            lines.append(f"  {kind}: none")
    lines.extend([
        "WARNING: exempting a username only exempts pods that user creates directly. Never",
        "exempt a controller's service account (e.g. system:serviceaccount:kube-system:"
        "replicaset-controller):",
        "that exempts every workload it creates, i.e. everyone who can create a Deployment, "
        "Job or DaemonSet.",
    ])
    risky = [u for u, _ in exempt["usernames"] if _controller_like(u)]
    if risky:
        lines.append("WARNING: these exempt usernames look like controllers; remove them: "
                     + ", ".join(risky))
    body: dict[str, Any] = {
        "apiVersion": f"{GROUP}/{version}",
        "kind": "PodSecurityConfiguration",
        "defaults": {},
        "exemptions": {kind: [name for name, _ in items] for kind, items in exempt.items()},
    }
    for mode, (level, ver, _reason) in chosen.items():
        body["defaults"][mode] = level
        body["defaults"][f"{mode}-version"] = ver
    return lines, dump_yaml(body)


def admission_files(plan: Plan) -> dict[str, str]:
    """`admission-config.yaml` and its AdmissionConfiguration wrapper, keyed by file name."""
    lines, body = pod_security_configuration(plan)
    plain = comment(lines) + body
    wrapped_lines = [
        "AdmissionConfiguration for kube-apiserver --admission-control-config-file, embedding",
        f"the PodSecurityConfiguration of {CONFIG_FILE} (keep the two in step).",
        *lines[1:],
    ]
    wrapper = {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "AdmissionConfiguration",
               "plugins": [{"name": "PodSecurity", "configuration": yaml.safe_load(body)}]}
    return {CONFIG_FILE: plain, WRAPPED_FILE: comment(wrapped_lines) + dump_yaml(wrapper)}
