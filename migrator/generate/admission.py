"""The PodSecurity admission configuration a plan suggests, with its reasons as comments.

Owns `admission-config.yaml` (a PodSecurityConfiguration: defaults for namespaces without
labels, and exemptions) and the same configuration wrapped in an apiserver
`AdmissionConfiguration`, the file `--admission-control-config-file` names. The API
version follows the cluster: `v1` from 1.25, `v1beta1` on 1.23 and 1.24, `v1alpha1` before.
Defaults never loosen what the cluster's current configuration already enforces, and the
exemptions are those already in force plus the system namespaces the plan says must stay
privileged, and, given the audit evidence of `migrator audit`, the users whose own pod
creations violate the planned level (never a controller's service account: exempting one
exempts every workload it creates, which the comments warn about).

Pure: a plan in, `{file name: text}` out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from migrator.model.plan import Plan
from migrator.model.serialise import comment, dump_yaml
from migrator.plan.evidence import controller_like
from migrator.pss.api import MODES, Level, Version

GROUP = "pod-security.admission.config.k8s.io"
CONFIG_FILE = "admission-config.yaml"
WRAPPED_FILE = "admission-configuration.yaml"
#: What each mode defaults to for namespaces without labels, before the current config.
CHOSEN = {"enforce": Level.PRIVILEGED, "audit": Level.BASELINE, "warn": Level.BASELINE}


def _minor(version: str | None) -> int | None:
    if not version:
        return None
    parts = version.lstrip("v").split(".")
    if len(parts) >= 2 and parts[0] == "1":
        digits = "".join(ch for ch in parts[1] if ch.isdigit())
        return int(digits) if digits else None
    return None


def _servers(plan: Plan) -> tuple[str | None, str | None]:
    """(today's server, the one after the upgrade) as the plan records them."""
    servers = plan.get("servers")
    if not servers:
        return None, None
    current, after = servers.get("current"), servers.get("upgrade_to")
    return (str(current) if current else None), (str(after) if after else None)


def config_version(plan: Plan, server: str | None = None) -> tuple[str, str]:
    """The PodSecurityConfiguration API version for the server that will load it (`server`,
    default: the plan's cluster), and why."""
    server = server or (plan.get("cluster") or {}).get("server_version") or _servers(plan)[0]
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


def evidence_usernames(evidence: Mapping[str, Any] | None) -> tuple[
        list[tuple[str, str]], list[str]]:
    """(usernames to suggest with why, warnings) from the audit evidence.

    Suggested: users and service accounts whose violating pods are all pods they create
    themselves (a node-agent installer, a CI account), in namespaces whose gate they block.
    Never suggested, with a warning: those that create pods for workloads (controllers).
    """
    if not evidence:
        return [], []
    blocked = {str(ns.get("name")) for ns in evidence.get("namespaces") or ()
               if ns.get("gate") == "blocked"}
    suggested: list[tuple[str, str]] = []
    warnings: list[str] = []
    for item in evidence.get("exemption_candidates") or ():
        namespaces = [n for n in item.get("namespaces") or () if n in blocked]
        if not namespaces:
            continue
        user, count = str(item["username"]), int(item.get("violating_pod_creations") or 0)
        if item.get("suggest") and not controller_like(user):
            suggested.append((user, (
                f"suggested by the audit evidence: its own {count} pod creation"
                f"{'s' if count != 1 else ''} violate the planned level in "
                f"{', '.join(namespaces)}; every pod it creates goes unchecked")))
        else:
            objects = ", ".join(item.get("objects") or ()) or "workloads"
            warnings.append(f"not exempted: {user} creates the violating pods of {objects} "
                            f"in {', '.join(namespaces)}; exempting it would exempt every "
                            "workload it creates. Fix the workloads instead.")
    return suggested, warnings


def exemptions(plan: Plan, evidence: Mapping[str, Any] | None = None
               ) -> dict[str, list[tuple[str, str]]]:
    """kind -> [(name, why)]: the exemptions in force plus privileged system namespaces,
    and the usernames the audit evidence suggests."""
    config = plan.get("admission_config") or {}
    pin = str(plan.get("pin_version") or "latest")
    namespaces: dict[str, str] = dict.fromkeys(config.get("exempt_namespaces") or (),
                                               "already exempt in the configuration in force")
    for ns in plan.get("namespaces") or ():
        floor = (ns.get("floor") or {}).get(pin)
        if ns.get("system") and ns.get("suggestion") and floor == str(Level.PRIVILEGED):
            namespaces.setdefault(str(ns["name"]), "system namespace whose workloads need "
                                  "privileged (the plan's suggestion)")
    usernames = dict(evidence_usernames(evidence)[0])
    usernames.update(dict.fromkeys(config.get("exempt_usernames") or (),
                                   "already exempt in the configuration in force"))
    return {
        "namespaces": sorted(namespaces.items()),
        "runtimeClasses": [(r, "already exempt in the configuration in force")
                           for r in sorted(config.get("exempt_runtime_classes") or ())],
        "usernames": sorted(usernames.items()),
    }


def pod_security_configuration(plan: Plan, server: str | None = None,
                               evidence: Mapping[str, Any] | None = None
                               ) -> tuple[list[str], str]:
    """(comment lines, YAML body) of the PodSecurityConfiguration for `server` (default: the
    plan's cluster), with the username exemptions `evidence` (an audit's JSON) suggests."""
    version, why = config_version(plan, server)
    chosen = defaults(plan)
    exempt = exemptions(plan, evidence)
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
    lines.extend(f"WARNING: {w}" for w in evidence_usernames(evidence)[1])
    risky = [u for u, _ in exempt["usernames"] if controller_like(u)]
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


def upgraded_names(server: str) -> tuple[str, str]:
    """The file names of the configuration for the server after the upgrade."""
    return (CONFIG_FILE.replace(".yaml", f".{server}.yaml"),
            WRAPPED_FILE.replace(".yaml", f".{server}.yaml"))


def _pair(plan: Plan, server: str | None, names: tuple[str, str],
          intro: str | None, evidence: Mapping[str, Any] | None) -> dict[str, str]:
    lines, body = pod_security_configuration(plan, server, evidence)
    if intro:
        lines = [lines[0], intro, *lines[1:]]
    plain = comment(lines) + body
    wrapped_lines = [
        "AdmissionConfiguration for kube-apiserver --admission-control-config-file, embedding",
        f"the PodSecurityConfiguration of {names[0]} (keep the two in step).",
        *lines[1:],
    ]
    wrapper = {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "AdmissionConfiguration",
               "plugins": [{"name": "PodSecurity", "configuration": yaml.safe_load(body)}]}
    return {names[0]: plain, names[1]: comment(wrapped_lines) + dump_yaml(wrapper)}


def admission_files(plan: Plan,
                    evidence: Mapping[str, Any] | None = None) -> dict[str, str]:
    """`admission-config.yaml` and its AdmissionConfiguration wrapper, keyed by file name,
    for the server that loads them today; when the plan spans an upgrade, also the pair for
    the upgraded server, named for it (`admission-config.v1.36.yaml`, ...). `evidence` (an
    audit's JSON) adds the username exemptions it suggests."""
    current, after = _servers(plan)
    if not after or after == current:
        return _pair(plan, None, (CONFIG_FILE, WRAPPED_FILE), None, evidence)
    files = _pair(plan, None, (CONFIG_FILE, WRAPPED_FILE),
                  f"For today's API server ({current}); after the upgrade to {after}, load "
                  f"{upgraded_names(after)[1]} instead.", evidence)
    files.update(_pair(plan, after, upgraded_names(after),
                       f"For the API server after the upgrade ({after}); today's ({current}) "
                       f"loads {WRAPPED_FILE}.", evidence))
    return files
