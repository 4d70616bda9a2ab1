"""restrictedVolumes (restricted, from v1.0): only non-host, ephemeral-style volume types.

Restricted fields:
    spec.volumes[*]
Allowed values: every volume must use one of configMap, csi, downwardAPI, emptyDir,
ephemeral, image, persistentVolumeClaim, projected, secret. (Upstream added `image` to the
v1.0 rule, so it is allowed at every policy version.)
Replaces hostPathVolumes at restricted.
"""

from __future__ import annotations

from migrator.pss.api import Level
from migrator.pss.helpers import join_quote, pluralize
from migrator.pss.pod import PodView
from migrator.pss.registry import Check, VersionedCheck, Violation

ID = "restrictedVolumes"
ALLOWED = frozenset({
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image",
    "persistentVolumeClaim", "projected", "secret",
})
#: The other volume sources, in the order upstream names them.
RESTRICTED = (
    "hostPath", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "nfs", "iscsi",
    "glusterfs", "rbd", "flexVolume", "cinder", "cephfs", "flocker", "fc", "azureFile",
    "vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk", "portworxVolume",
    "scaleIO", "storageos",
)


def volume_type(volume: dict[str, object]) -> str | None:
    """None for an allowed volume, else its restricted type.

    A volume that names no source the API knows is defaulted to emptyDir by the API
    server before admission, so it is allowed like one.
    """
    for key, value in volume.items():
        if key in ALLOWED and value is not None:
            return None
    for key in RESTRICTED:
        if volume.get(key) is not None:
            return key
    return None


def restricted_volumes_v1_0(pod: PodView) -> Violation | None:
    volumes = pod.spec.get("volumes")
    if not volumes:
        return None
    bad: list[str] = []
    kinds: set[str] = set()
    for volume in volumes:
        kind = volume_type(volume)
        if kind is not None:
            bad.append(volume.get("name", ""))
            kinds.add(kind)
    if not bad:
        return None
    return Violation(
        ID,
        "restricted volume types",
        f"{pluralize('volume', 'volumes', len(bad))} {join_quote(bad)} "
        f"{pluralize('uses', 'use', len(bad))} "
        f"{pluralize('restricted volume type', 'restricted volume types', len(kinds))} "
        f"{join_quote(sorted(kinds))}",
    )


CHECK = Check(
    ID,
    Level.RESTRICTED,
    (VersionedCheck(0, restricted_volumes_v1_0, ("hostPathVolumes",)),),
    fix="use only configMap, csi, downwardAPI, emptyDir, ephemeral, image, "
    "persistentVolumeClaim, projected or secret volumes",
    fields=("spec.volumes[*]",),
)
