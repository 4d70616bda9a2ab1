"""Pod templates of every kind that carries one, so a workload is judged like its pods.

Owns the list of pod-bearing kinds and where each keeps its pod metadata and spec
(Pod, PodTemplate, ReplicationController, ReplicaSet, Deployment, StatefulSet, DaemonSet,
Job, CronJob in batch/v1 and batch/v1beta1), and `slim_pod`, the projection of a pod down
to the fields a migration needs, so that large clusters stay small in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: kind -> path of keys from the object to its pod template (None: the object is the pod).
TEMPLATE_PATHS: dict[str, tuple[str, ...] | None] = {
    "Pod": None,
    "PodTemplate": ("template",),
    "ReplicationController": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}

#: The workload kinds a live read lists (every template kind but Pod and PodTemplate).
WORKLOAD_KINDS = (
    "CronJob",
    "DaemonSet",
    "Deployment",
    "Job",
    "ReplicaSet",
    "ReplicationController",
    "StatefulSet",
)


@dataclass(frozen=True, slots=True)
class PodTemplate:
    """The pod metadata and spec an object creates (or, for a Pod, is)."""

    metadata: dict[str, Any]
    spec: dict[str, Any]


def carries_pod(obj: dict[str, Any]) -> bool:
    """True for objects of a kind that carries a pod spec."""
    kind = obj.get("kind")
    return isinstance(kind, str) and kind in TEMPLATE_PATHS


def pod_template(obj: dict[str, Any]) -> PodTemplate | None:
    """The pod metadata and spec of `obj`; None when its kind carries no pod.

    Missing or malformed parts come back as empty dictionaries, so a workload with no
    template is judged like an empty pod rather than crashing the run.
    """
    kind = obj.get("kind")
    if not isinstance(kind, str) or kind not in TEMPLATE_PATHS:
        return None
    path = TEMPLATE_PATHS[kind]
    node: Any = obj
    if path is not None:
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
    if not isinstance(node, dict):
        node = {}
    metadata = node.get("metadata")
    spec = node.get("spec")
    return PodTemplate(
        metadata if isinstance(metadata, dict) else {},
        spec if isinstance(spec, dict) else {},
    )


_META_KEEP = ("name", "namespace", "uid", "labels", "annotations", "ownerReferences",
              "generateName", "creationTimestamp")
_SPEC_KEEP = ("securityContext", "hostNetwork", "hostPID", "hostIPC", "hostUsers", "os",
              "serviceAccountName", "serviceAccount", "runtimeClassName", "nodeName",
              "priorityClassName")
_CONTAINER_KEEP = ("name", "image", "securityContext", "ports", "livenessProbe",
                   "readinessProbe", "startupProbe", "lifecycle")
_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


def _slim_volume(volume: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in volume.items():
        if key == "name" or key == "hostPath":
            out[key] = value
        elif key == "csi" and isinstance(value, dict):
            out[key] = {"driver": value.get("driver")}
        elif key == "flexVolume" and isinstance(value, dict):
            out[key] = {"driver": value.get("driver")}
        else:
            out[key] = {}
    return out


def slim_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """A pod spec without what no security check or patch reads (env, resources, …)."""
    out: dict[str, Any] = {key: spec[key] for key in _SPEC_KEEP if key in spec}
    for key in _CONTAINER_LISTS:
        containers = spec.get(key)
        if isinstance(containers, list):
            out[key] = [
                {k: c[k] for k in _CONTAINER_KEEP if k in c} if isinstance(c, dict) else c
                for c in containers
            ]
    volumes = spec.get("volumes")
    if isinstance(volumes, list):
        out["volumes"] = [_slim_volume(v) if isinstance(v, dict) else v for v in volumes]
    return out


def slim_pod(pod: dict[str, Any]) -> dict[str, Any]:
    """A pod reduced to its identity, owners, annotations and security-relevant spec."""
    metadata = pod.get("metadata") or {}
    out: dict[str, Any] = {
        "apiVersion": pod.get("apiVersion", "v1"),
        "kind": "Pod",
        "metadata": {k: metadata[k] for k in _META_KEEP if k in metadata},
        "spec": slim_spec(pod.get("spec") or {}),
    }
    phase = (pod.get("status") or {}).get("phase")
    if phase:
        out["status"] = {"phase": phase}
    return out
