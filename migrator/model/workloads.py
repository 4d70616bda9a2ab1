"""Pod templates of every kind that carries one, so a workload is judged like its pods.

Owns the list of pod-bearing kinds and where each keeps its pod metadata and spec
(Pod, PodTemplate, ReplicationController, ReplicaSet, Deployment, StatefulSet, DaemonSet,
Job, CronJob in batch/v1 and batch/v1beta1), custom workloads (any other kind that keeps a
pod template at `spec.template` or `spec.jobTemplate.spec.template`: Argo Rollouts,
OpenKruise CloneSets, Knative Services, ...), and `slim_pod`, the projection of a pod down
to the fields a migration needs, so that large clusters stay small in memory.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import msgspec

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


#: Where a custom resource keeps the pod template its controller stamps pods from, tried in
#: order. A template counts only when its spec lists containers, as a pod spec must.
CUSTOM_TEMPLATE_PATHS: tuple[tuple[str, ...], ...] = (
    ("spec", "template"),
    ("spec", "jobTemplate", "spec", "template"),
)


class PodTemplate(NamedTuple):
    """The pod metadata and spec an object creates (or, for a Pod, is). (A named tuple:
    it is made for every object at every step, where a frozen dataclass costs five times
    as much to make.)"""

    metadata: dict[str, Any]
    spec: dict[str, Any]


def _follow(obj: Any, path: tuple[str, ...]) -> Any:
    node = obj
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node


def _custom_path(obj: dict[str, Any]) -> tuple[str, ...] | None:
    for path in CUSTOM_TEMPLATE_PATHS:
        template = _follow(obj, path)
        spec = template.get("spec") if isinstance(template, dict) else None
        if isinstance(spec, dict) and isinstance(spec.get("containers"), list):
            return path
    return None


def template_path(obj: dict[str, Any]) -> tuple[str, ...] | None:
    """The keys from `obj` to its pod template: () when `obj` is a Pod, None when it
    carries no pod. Built-in kinds use their fixed path; any other kind is a custom
    workload when a template with containers sits at one of `CUSTOM_TEMPLATE_PATHS`."""
    kind = obj.get("kind")
    if not isinstance(kind, str):
        return None
    if kind in TEMPLATE_PATHS:
        return TEMPLATE_PATHS[kind] or ()
    return _custom_path(obj)


def is_custom(obj: dict[str, Any]) -> bool:
    """True for an object of a kind Kubernetes does not define that carries a pod template."""
    return obj.get("kind") not in TEMPLATE_PATHS and template_path(obj) is not None


def carries_pod(obj: dict[str, Any]) -> bool:
    """True for objects that carry a pod spec (built-in pod-bearing kinds and custom ones)."""
    return template_path(obj) is not None


def pod_template(obj: dict[str, Any]) -> PodTemplate | None:
    """The pod metadata and spec of `obj`; None when it carries no pod.

    Missing or malformed parts come back as empty dictionaries, so a workload with no
    template is judged like an empty pod rather than crashing the run.
    """
    path = template_path(obj)
    return None if path is None else template_at(obj, path)


def template_at(obj: dict[str, Any], path: tuple[str, ...]) -> PodTemplate:
    """The pod metadata and spec at `path` (from `template_path`) in `obj`."""
    node = _follow(obj, path)
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


_VOLUME_KEPT = frozenset({"name", "hostPath"})
_VOLUME_DRIVERS = frozenset({"csi", "flexVolume"})


def _slim_volume(volume: dict[str, Any]) -> dict[str, Any]:
    """A volume with its name, its hostPath and its CSI or flex driver; every other
    source's settings dropped (only its type is read)."""
    return {key: value if key in _VOLUME_KEPT
            else {"driver": value.get("driver")} if key in _VOLUME_DRIVERS
            and isinstance(value, dict) else {}
            for key, value in volume.items()}


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


#: The parts of a slim pod that the replicas of a workload share.
SHARED_PARTS = ("initContainers", "containers", "ephemeralContainers", "securityContext")
_ENCODE = msgspec.json.Encoder().encode


def share_parts(pod: dict[str, Any], seen: dict[bytes, Any]) -> dict[str, Any]:
    """`pod` holding the one copy of each container list, pod securityContext and
    annotations already read with the same content (`seen`, kept by the reader for one
    read), so that replicas do not each keep their own. Nothing changes a read object in
    place, so sharing is invisible but for the memory saved and for the steps that
    remember what they computed for a shared part (`migrator.pss.engine.security_key`)."""
    spec = pod.get("spec")
    if isinstance(spec, dict):
        for key in SHARED_PARTS:
            value = spec.get(key)
            if value:
                try:
                    spec[key] = seen.setdefault(_ENCODE(value), value)
                except (TypeError, ValueError, OverflowError):
                    pass
    metadata = pod.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    if annotations and isinstance(metadata, dict):
        try:
            metadata["annotations"] = seen.setdefault(_ENCODE(annotations), annotations)
        except (TypeError, ValueError, OverflowError):
            pass
    return pod
