"""hostPathVolumes (baseline, from v1.0): hostPath volumes must be forbidden.

Restricted fields:
    spec.volumes[*].hostPath
Allowed values: undefined
Replaced by restrictedVolumes at restricted.
"""

from __future__ import annotations

from migrator.pss.api import Level
from migrator.pss.helpers import join_quote, pluralize
from migrator.pss.pod import PodView
from migrator.pss.registry import Check, VersionedCheck, Violation

ID = "hostPathVolumes"


def host_path_volumes_v1_0(pod: PodView) -> Violation | None:
    volumes = pod.spec.get("volumes")
    if not volumes:
        return None
    bad = [v.get("name", "") for v in volumes if v.get("hostPath") is not None]
    if not bad:
        return None
    return Violation(
        ID, "hostPath volumes", f"{pluralize('volume', 'volumes', len(bad))} {join_quote(bad)}"
    )


CHECK = Check(
    ID,
    Level.BASELINE,
    (VersionedCheck(0, host_path_volumes_v1_0),),
    fix="replace hostPath volumes with emptyDir, configMap, secret or a persistentVolumeClaim",
    fields=("spec.volumes[*].hostPath",),
)
