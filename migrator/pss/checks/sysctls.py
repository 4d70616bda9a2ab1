"""sysctls (baseline, from v1.0): only namespaced, isolated ("safe") sysctls.

Restricted fields:
    spec.securityContext.sysctls[*].name
Allowed values: undefined, or names in the safe list of the policy version:
    v1.0:  kernel.shm_rmid_forced, net.ipv4.ip_local_port_range, net.ipv4.tcp_syncookies,
           net.ipv4.ping_group_range, net.ipv4.ip_unprivileged_port_start
    v1.27: + net.ipv4.ip_local_reserved_ports
    v1.29: + net.ipv4.tcp_keepalive_time, net.ipv4.tcp_fin_timeout,
           net.ipv4.tcp_keepalive_intvl, net.ipv4.tcp_keepalive_probes
    v1.32: + net.ipv4.tcp_rmem, net.ipv4.tcp_wmem
    v1.37: + net.ipv4.tcp_slow_start_after_idle, net.ipv4.tcp_notsent_lowat
"""

from __future__ import annotations

from collections.abc import Callable

from migrator.pss.api import Level
from migrator.pss.pod import PodView
from migrator.pss.registry import Check, VersionedCheck, Violation

ID = "sysctls"

SAFE_V1_0 = frozenset({
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
})
SAFE_V1_27 = SAFE_V1_0 | {"net.ipv4.ip_local_reserved_ports"}
SAFE_V1_29 = SAFE_V1_27 | {
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}
SAFE_V1_32 = SAFE_V1_29 | {"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"}
SAFE_V1_37 = SAFE_V1_32 | {"net.ipv4.tcp_slow_start_after_idle", "net.ipv4.tcp_notsent_lowat"}


def _with(safe: frozenset[str]) -> Callable[[PodView], Violation | None]:
    def check(pod: PodView) -> Violation | None:
        context = pod.spec.get("securityContext")
        if not context:
            return None
        listed = context.get("sysctls")
        if not listed:
            return None
        bad = [str(s.get("name", "")) for s in listed if s.get("name") not in safe]
        if not bad:
            return None
        return Violation(ID, "forbidden sysctls", ", ".join(bad))

    return check


sysctls_v1_0 = _with(SAFE_V1_0)
sysctls_v1_27 = _with(SAFE_V1_27)
sysctls_v1_29 = _with(SAFE_V1_29)
sysctls_v1_32 = _with(SAFE_V1_32)
sysctls_v1_37 = _with(SAFE_V1_37)

CHECK = Check(
    ID,
    Level.BASELINE,
    (
        VersionedCheck(0, sysctls_v1_0),
        VersionedCheck(27, sysctls_v1_27),
        VersionedCheck(29, sysctls_v1_29),
        VersionedCheck(32, sysctls_v1_32),
        VersionedCheck(37, sysctls_v1_37),
    ),
    fix="remove unsafe sysctls from spec.securityContext.sysctls (set them on the node instead)",
    fields=("spec.securityContext.sysctls[*].name",),
)
