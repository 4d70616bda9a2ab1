"""The 56 real-world PSPs of tests/data/psp-corpus, analysed end to end.

The table below was worked out by hand from each file and the rules in
research/psp-semantics.md, before the code was run on the corpus. For every file it gives
the strict level and the fields that hold it at privileged and at baseline.

Why every corpus PSP is strictly privileged: none sets `seLinux: MustRunAs` (INDEX.md:
"no real-world source was found for seLinux: MustRunAs"), and `seLinux: RunAsAny` admits
any seLinuxOptions (type spc_t, a user, a role), which baseline forbids. The one file
without a seLinux rule at all (allow-flex-volumes) is read as RunAsAny. Most files also
have no AppArmor allow-list, which admits `unconfined`. The per-field sets are what tell
the files apart.

Why `spec.runAsUser.rule` is at baseline even for MustRunAsNonRoot: PSP then injects
runAsNonRoot only into containers that set no user, so a container with `runAsUser: 1000`
and no runAsNonRoot is admitted unchanged, and restricted's runAsNonRoot check rejects it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from migrator.files.manifests import load_file
from migrator.psp import analyze_psp
from migrator.pss.api import Level

CORPUS = Path(__file__).resolve().parents[1] / "data" / "psp-corpus"

SEL = "spec.seLinux.rule"
AA = "metadata.annotations[apparmor.security.beta.kubernetes.io/allowedProfileNames]"
SEC = "metadata.annotations[seccomp.security.alpha.kubernetes.io/allowedProfileNames]"
RAU = "spec.runAsUser.rule"
APE = "spec.allowPrivilegeEscalation"
DROP = "spec.requiredDropCapabilities"
VOL = "spec.volumes"
CAPS = "spec.allowedCapabilities"
PRIV = "spec.privileged"
HN = "spec.hostNetwork"
HPID = "spec.hostPID"
HIPC = "spec.hostIPC"
HP = "spec.hostPorts"
SYS = "spec.allowedUnsafeSysctls"

P = Level.PRIVILEGED

#: The wide-open policies (eks.privileged, gce.privileged, ...): seccomp `*` admits
#: unconfined, every host namespace, hostPorts 0-65535, caps `*`, volumes `*`; APE true,
#: RunAsAny and no required drops keep the rest at baseline.
WIDE_OPEN = (
    {SEC, PRIV, CAPS, VOL, HN, HP, HIPC, HPID, SEL, AA},
    {APE, RAU, DROP},
)

#: file stem -> (strict level, fields at privileged, fields at baseline)
EXPECTED: dict[str, tuple[Level, set[str], set[str]]] = {
    # volumes `*` (hostPath); no seccomp annotation: no profile can be set
    "aks-docs__psp-deny-privileged": (P, {SEL, VOL, AA}, {RAU, APE, DROP, SEC}),
    # seccomp docker/default + AppArmor runtime/default, drop ALL, APE false: only
    # seLinux and MustRunAsNonRoot are left
    "aks-engine__restricted": (P, {SEL}, {RAU}),
    # privileged, hostNetwork, hostPath; drop ALL is required
    "aws-calico__aws-calico-node": (P, {PRIV, HN, VOL, SEL, AA}, {RAU, APE, SEC}),
    # hostNetwork + hostPort 5473; APE false and drop ALL
    "aws-calico__aws-calico-typha": (P, {HN, HP, SEL, AA}, {RAU, SEC}),
    "aws-eks__eks.privileged": (P, *WIDE_OPEN),
    # hostPath allowed; APE false, drop ALL
    "aws-for-fluent-bit__aws-for-fluent-bit": (P, {VOL, SEL, AA}, {RAU, SEC}),
    # seccomp `*`, hostPorts 0-65535 without hostNetwork
    "calico__calico-apiserver": (P, {SEC, HP, SEL, AA}, {RAU}),
    # hostNetwork + hostPath + hostPorts, seccomp `*`; MustRunAsNonRoot
    "calico__tigera-operator": (P, {SEC, VOL, HN, HP, SEL, AA}, {RAU}),
    # MustRunAs 1000 (no runAsNonRoot), no required drops
    "cert-manager__cert-manager": (P, {SEL}, {RAU, DROP}),
    "falco__falco": (P, {PRIV, HN, CAPS, SEL, VOL, AA}, {RAU, APE, DROP, SEC}),
    # NET_ADMIN/NET_RAW, hostPath, hostNetwork, hostPorts; requiredDropCapabilities: []
    "flannel__psp.flannel.unprivileged": (P, {VOL, CAPS, HN, HP, SEL}, {RAU, DROP}),
    "gardener__gardener.kube-system.kube-proxy": (
        P, {PRIV, VOL, HN, HP, CAPS, SEL, AA}, {RAU, APE, DROP, SEC},
    ),
    "gardener__gardener.kube-system.node-exporter": (
        P, {VOL, HN, HPID, HP, SEL, AA}, {RAU, APE, DROP, SEC},
    ),
    "gardener__gardener.privileged": (P, *WIDE_OPEN),
    # seccomp default runtime/default; no AppArmor list, no required drops
    "gardener__gardener.unprivileged": (P, {SEL, AA}, {RAU, DROP}),
    # seccomp `*` admits unconfined
    "gatekeeper__gatekeeper-admin": (P, {SEC, SEL, AA}, {RAU}),
    "gcp-pd-csi__csi-gce-pd-controller-psp": (P, {SEL, HN, AA}, {RAU, APE, DROP, SEC}),
    "gcp-pd-csi__csi-gce-pd-node-psp-win": (P, {SEL, VOL, HN, AA}, {RAU, APE, DROP, SEC}),
    "gcp-pd-csi__csi-gce-pd-node-psp": (P, {SEL, PRIV, VOL, HN, AA}, {RAU, APE, DROP, SEC}),
    # NET_RAW is in docker's default set but not in baseline's list
    "ibm-cloud-pak__ibm-anyuid-hostaccess-psp": (
        P, {CAPS, SEL, VOL, HIPC, HN, HPID, HP, AA}, {APE, DROP, RAU, SEC},
    ),
    "ibm-cloud-pak__ibm-anyuid-hostpath-psp": (P, {CAPS, SEL, VOL, AA}, {APE, DROP, RAU, SEC}),
    "ibm-cloud-pak__ibm-anyuid-psp": (P, {CAPS, SEL, AA}, {APE, DROP, RAU, SEC}),
    "ibm-cloud-pak__ibm-restricted-psp": (P, {SEL, AA}, {RAU}),
    # NET_BIND_SERVICE is the one capability restricted allows
    "ingress-nginx__ingress-nginx": (P, {SEL, AA}, {APE, RAU, DROP, SEC}),
    # hostPorts 1-65536 (invalid max, still host ports)
    "kops__kube-system": (
        P, {CAPS, HPID, HIPC, HN, HP, PRIV, SEL, VOL, AA}, {RAU, APE, DROP, SEC},
    ),
    "kubernetes-examples__privileged": (
        P, {PRIV, SEL, VOL, CAPS, HPID, HIPC, HN, HP, AA}, {RAU, APE, DROP, SEC},
    ),
    # no APE field: defaults to true
    "kubernetes-examples__restricted": (P, {SEL, AA}, {RAU, APE, DROP, SEC}),
    "kubernetes-gce-2022__gce.fluentd-gcp": (P, {VOL, HN, SEL}, {RAU, DROP}),
    # docker's default capability list includes NET_RAW
    "kubernetes-gce-2022__gce.unprivileged-addon": (P, {CAPS, SEL}, {RAU, DROP}),
    "kubernetes-gce__gce.event-exporter": (P, {SEC, VOL, SEL}, {RAU, DROP}),
    "kubernetes-gce__gce.fluentd-gcp": (P, {SEC, VOL, HN, SEL}, {RAU, DROP}),
    # nfs is outside restricted's volume list but not hostPath
    "kubernetes-gce__gce.persistent-volume-binder": (P, {SEC, SEL, AA}, {VOL, RAU, APE, DROP}),
    "kubernetes-gce__gce.privileged": (P, *WIDE_OPEN),
    "kubernetes-gce__gce.unprivileged-addon": (P, {SEC, SEL}, {RAU, DROP}),
    # incomplete spec: seLinux and runAsUser missing, read as RunAsAny
    "kubernetes-website-docs__allow-flex-volumes": (P, {SEL, AA}, {VOL, RAU, APE, DROP, SEC}),
    # seccomp allows (and defaults to) unconfined; NET_RAW; many non-restricted volumes
    "kubernetes-website__baseline": (P, {SEC, CAPS, SEL}, {VOL, RAU, APE, DROP}),
    "kubernetes-website__example": (P, {SEL, VOL, AA}, {RAU, APE, DROP, SEC}),
    "kubernetes-website__privileged": (P, *WIDE_OPEN),
    # seccomp list without default: pods must set one, restricted holds for seccomp;
    # AppArmor runtime/default; only seLinux RunAsAny and MustRunAsNonRoot remain
    "kubernetes-website__restricted": (P, {SEL}, {RAU}),
    "kubespray__netchecker-agent-hostnet": (P, {HN, SEL}, {RAU}),
    "linkerd2-cni__linkerd-linkerd-cni-cni": (P, {HN, SEL, VOL, AA}, {RAU, DROP, SEC}),
    "linkerd2__linkerd-linkerd-control-plane": (P, {CAPS, SEL, AA}, {RAU, SEC}),
    "longhorn-rwx-example__longhorn-nfs-provisioner": (
        P, {CAPS, SEL, VOL, AA}, {RAU, APE, DROP, SEC},
    ),
    # requiredDropCapabilities [NET_RAW] is not ALL
    "longhorn__longhorn-psp": (P, {PRIV, CAPS, HPID, SEL, VOL, AA}, {APE, DROP, RAU, SEC}),
    # MustRunAs 1-65535 injects a UID but not runAsNonRoot
    "metallb__controller": (P, {SEL, AA}, {RAU, SEC}),
    "metallb__speaker": (P, {CAPS, HN, HP, PRIV, SEL, AA}, {RAU, SEC}),
    "minikube__restricted": (P, {SEL, AA}, {RAU, SEC}),
    "otc-cce__psp-global": (P, *WIDE_OPEN),
    # net.core.somaxconn is not a safe sysctl
    "otc-cce__sysctl-psp": (
        P, {SEC, SYS, CAPS, HIPC, HN, HPID, HP, PRIV, SEL, VOL, AA}, {APE, RAU, DROP},
    ),
    "prometheus-node-exporter__prometheus-node-exporter": (
        P, {VOL, HN, HPID, HP, SEL, AA}, {RAU, APE, DROP, SEC},
    ),
    "rke2__global-restricted-psp": (P, {SEL}, {RAU}),
    "rke2__global-unrestricted-psp": (P, *WIDE_OPEN),
    "rke2__system-unrestricted-psp": (P, *WIDE_OPEN),
    # seccomp runtime/default only; SYS_ADMIN; six hostPort ranges
    "rook-ceph__00-rook-privileged": (
        P, {PRIV, CAPS, SEL, VOL, HIPC, HPID, HN, HP, AA}, {RAU, APE, DROP},
    ),
    "rook-nfs__rook-nfs-policy": (P, {PRIV, CAPS, SEL, VOL, AA}, {RAU, APE, DROP, SEC}),
    "vault-helm__vault-agent-injector": (P, {SEL}, {RAU, DROP}),
}


def _corpus() -> list[Path]:
    return sorted(CORPUS.glob("*.yaml")) if CORPUS.is_dir() else []


def _load(path: Path) -> dict[str, Any]:
    documents = list(load_file(str(path)))
    assert len(documents) == 1
    return documents[0].obj


needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="tests/data/psp-corpus is absent")


@needs_corpus
def test_table_covers_every_corpus_file() -> None:
    assert sorted(p.stem for p in _corpus()) == sorted(EXPECTED)
    assert len(EXPECTED) == 56


@needs_corpus
@pytest.mark.parametrize("path", _corpus(), ids=lambda p: p.stem)
def test_corpus_psp(path: Path) -> None:
    psp = _load(path)
    analysis = analyze_psp(psp)
    level, privileged, baseline = EXPECTED[path.stem]
    assert analysis.strict_level in tuple(Level)
    assert analysis.strict_level == level
    by_level = {
        lv: {r.field for r in analysis.strict_reasons if r.level == lv} for lv in Level
    }
    assert by_level[Level.PRIVILEGED] == privileged
    assert by_level[Level.BASELINE] == baseline
    assert analysis.name == psp["metadata"]["name"]
    assert analysis.to_dict()["strict_level"] == str(level)


@needs_corpus
@pytest.mark.parametrize("path", _corpus(), ids=lambda p: p.stem)
def test_corpus_psp_with_a_plain_pod(path: Path) -> None:
    """A pod that passes restricted on its own exercises no looseness of any corpus PSP,
    even after that PSP's defaults are replayed on it: every strict reason is a loophole."""
    pod = {
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "team"},
        "spec": {
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{
                "name": "app",
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"]},
                },
            }],
        },
    }
    analysis = analyze_psp(_load(path), [pod])
    # kubernetes-website__baseline defaults to seccomp unconfined, but only for pods that
    # set no profile; this one sets RuntimeDefault
    assert analysis.practical_reasons == []
    assert analysis.practical_level == Level.RESTRICTED
    assert {h.field for h in analysis.loopholes} == {r.field for r in analysis.strict_reasons}


def test_corpus_distribution() -> None:
    levels = [entry[0] for entry in EXPECTED.values()]
    assert levels.count(Level.PRIVILEGED) == 56


@needs_corpus
def test_corpus_malformed_and_quirky_files_report_problems() -> None:
    problems = {
        p.stem: [x.field for x in analyze_psp(_load(p)).problems] for p in _corpus()
    }
    assert problems["kops__kube-system"] == ["spec.hostPorts[0].max"]
    assert problems["kubernetes-examples__privileged"] == ["spec.hostPorts[0].max"]
    assert problems["kubernetes-website-docs__allow-flex-volumes"] == [
        "spec.fsGroup", "spec.runAsUser", "spec.seLinux", "spec.supplementalGroups",
    ]
    clean = [stem for stem, found in problems.items() if not found]
    assert len(clean) == 53
