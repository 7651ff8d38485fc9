# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-minor facts: the one table of what changes between Kubernetes minors.

`MINORS` holds, per supported minor, the newest patch (labels are resolved offline against
it: managed nodes may have no network, kubeadm would ask dl.k8s.io), the image tags kubeadm
deploys, its feature gates, and every behaviour that differs between minors (named facts:
probe port, etcd flags, creationTimestamp, flex volume, kube-proxy mode, ...). Adding a
Kubernetes minor is adding one row.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import InvalidValue


@dataclass(frozen=True)
class Minor:
    """What kubeadm of one Kubernetes minor writes differently (versions.md §4, §6).

    A new minor is one row of MINORS; code asks `behaviour(minor).<fact>`, never `minor >= N`.
    """

    minor: int
    newest_patch: str            # newest GA patch seen (label resolution offline)
    etcd: str                    # etcd image tag (kubeadm SupportedEtcdVersion, newest patch line)
    coredns: str                 # CoreDNS image tag
    pause: str                   # pause image tag
    feature_gates: dict          # kubeadm feature gates: {gate: (stage, default)} (alpha|beta|GA|deprecated)
    graduated: tuple = ()        # gates removed after GA: their behaviour is always on
    etcd_early: tuple = None     # (last patch with the older tag, older etcd tag) within the minor
    probe_port_named: bool = True           # probes on the named port `probe-port` (k/k #131587)
    etcd_flags: str = "3.6"                 # "3.5" | "image" (3.6 names if the etcd tag is >= 3.6) | "3.6"
    creation_timestamp: bool = False        # `creationTimestamp: null` in static Pods (before k/k #130989)
    flex_volume_mount: bool = False         # flexvolume-dir mount in kube-controller-manager
    kube_proxy_mode: str = ""               # mode written into KubeProxyConfiguration when unset (k/k #139777)
    pause_image_flag: bool = False          # --pod-infra-container-image in kubeadm-flags.env
    ordered_extra_args_since: int = 0       # first patch keeping user extraArgs in order (k/k #135400); None never
    corefile_cache_options: bool = True     # `cache 30 { disable success/denial }` in the default Corefile
    ecdsa_p384: bool = True                 # encryptionAlgorithm ECDSA-P384 accepted
    v1beta3: bool = True                    # kubeadm.k8s.io/v1beta3 config files still read
    kube_proxy_patch_target: bool = False   # `kubeproxydaemonset` is a patch target (1.37 release notes)


_GATES_33 = {"ControlPlaneKubeletLocalMode": ("beta", True), "NodeLocalCRISocket": ("alpha", False),
             "WaitForAllControlPlaneComponents": ("beta", True), "PublicKeysECDSA": ("deprecated", False),
             # deprecated since 1.31; still listed through 1.37 (removal not seen in the sources)
             "RootlessControlPlane": ("deprecated", False)}
# 1.37.0: GA assumed from the release schedule; later patches were not in the stored sources.
# kubernetes#135400 ("do not sort extraArgs alpha-numerically") landed in 1.36.0 and was cherry-picked
# to release-1.35 (#135853, shipped in v1.35.1 on 2026-02-10), release-1.34 (#135852) and release-1.33
# (#135851). The 1.34/1.33 picks were approved together with the 1.35 one, so they are taken to ship
# in the same 2026-02-10 patch releases (v1.34.4, v1.33.8); those two patch numbers are inferred.
MINORS = (
    Minor(33, "v1.33.13", "3.5.24-0", "v1.12.0", "3.10", _GATES_33, etcd_early=(5, "3.5.21-0"),
          probe_port_named=False, etcd_flags="3.5", creation_timestamp=True, flex_volume_mount=True,
          pause_image_flag=True, ordered_extra_args_since=8, ecdsa_p384=False),
    Minor(34, "v1.34.10", "3.6.5-0", "v1.12.1", "3.10.1",
          dict(_GATES_33, NodeLocalCRISocket=("beta", True), WaitForAllControlPlaneComponents=("GA", True)),
          etcd_early=(1, "3.6.4-0"), etcd_flags="image", flex_volume_mount=True, pause_image_flag=True,
          ordered_extra_args_since=4),
    Minor(35, "v1.35.7", "3.6.6-0", "v1.13.1", "3.10.1",
          {"ControlPlaneKubeletLocalMode": ("GA", True), "NodeLocalCRISocket": ("beta", True),
           "PublicKeysECDSA": ("deprecated", False), "RootlessControlPlane": ("deprecated", False)},
          graduated=("WaitForAllControlPlaneComponents",), etcd_flags="image", flex_volume_mount=True,
          ordered_extra_args_since=1),
    Minor(36, "v1.36.3", "3.6.8-0", "v1.14.2", "3.10.2",
          {"NodeLocalCRISocket": ("GA", True), "PublicKeysECDSA": ("deprecated", False),
           "RootlessControlPlane": ("deprecated", False)},
          graduated=("WaitForAllControlPlaneComponents", "ControlPlaneKubeletLocalMode")),
    Minor(37, "v1.37.0", "3.7.0-0", "v1.14.6", "3.10.2", {"RootlessControlPlane": ("deprecated", False)},
          graduated=("WaitForAllControlPlaneComponents", "ControlPlaneKubeletLocalMode", "NodeLocalCRISocket"),
          kube_proxy_mode="iptables", v1beta3=False, kube_proxy_patch_target=True),
)
BY_MINOR = {row.minor: row for row in MINORS}
NEWEST_PATCH = {row.minor: row.newest_patch for row in MINORS}
# Newest build per minor including pre-releases (latest-1.X).
NEWEST_BUILD = dict(NEWEST_PATCH)


def behaviour(minor: int) -> Minor:
    """The row of `minor` (the nearest supported one outside the table)."""
    if minor in BY_MINOR:
        return BY_MINOR[minor]
    return MINORS[0] if minor < MINORS[0].minor else MINORS[-1]


# kubeadm's label pattern has `(latest|stable)+`; "stablestable-1.34" then fails at dl.k8s.io. Labels are
# resolved offline here, so the pattern takes one word. Versions are semver: no leading zeros (v1.034.2).
LABEL_RE = re.compile(r"^((latest|stable)(-[1-9](\.[1-9]([0-9])?)?)?)$")
VERSION_RE = re.compile(r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?$")
# kubeadm feature gates that are gone: when they were removed and what replaces them
REMOVED_FEATURE_GATES = {
    "DynamicKubeletConfig": "removed in kubeadm 1.13 (kubernetes#70849); the kubelet's own Dynamic Kubelet "
                            "Configuration was removed in 1.24: put a KubeletConfiguration document in the config "
                            "file (kubeadm stores it in the kubelet-config ConfigMap)",
    "Auditing": "removed in kubeadm 1.13 with the auditPolicy configuration (kubernetes#70807): set the "
                "kube-apiserver flags audit-policy-file and audit-log-path in apiServer.extraArgs and mount the "
                "policy with apiServer.extraVolumes",
    "CoreDNS": "GA in 1.11, hidden in 1.13 and removed in kubeadm 1.18 (kubernetes#87400): CoreDNS is always the "
               "DNS addon; skip it with dns.disabled: true or skip_phases: [addon/coredns]",
}
ALLOWED = ("a version like v1.34.2 or 1.34.2, or a label: stable, stable-1, stable-1.34, "
           "latest, latest-1, latest-1.34 (supported minors 1.%d-1.%d)"
           % (C.MIN_SUPPORTED_MINOR, C.MAX_SUPPORTED_MINOR))


def resolve_version(label: str, field: str = "kubernetes_version") -> str:
    """'stable-1.34' -> 'v1.34.10'; 'v1.33.4' -> 'v1.33.4'. Raises InvalidValue."""
    text = str(label).strip()
    if text.startswith("ci/"):
        raise InvalidValue(field, label, "CI build labels need dl.k8s.io, which is not used offline; " + ALLOWED)
    match = VERSION_RE.match(text)
    if match:
        return _check_supported("v" + text.lstrip("v"), int(match.group(1)), int(match.group(2)), field, label)
    if not LABEL_RE.match(text):
        raise InvalidValue(field, label, ALLOWED)
    kind, _unused, rest = text.partition("-")
    table = NEWEST_BUILD if kind == "latest" else NEWEST_PATCH
    if not rest or rest == "1":
        return table[max(table)]
    major, _unused, minor = rest.partition(".")
    if major != "1" or int(minor) not in table:
        raise InvalidValue(field, label, ALLOWED)
    return table[int(minor)]


def _check_supported(version: str, major: int, minor: int, field: str, label) -> str:
    if major != 1 or not C.MIN_SUPPORTED_MINOR <= minor <= C.MAX_SUPPORTED_MINOR:
        raise InvalidValue(field, label, ALLOWED)
    return version


def split(version: str) -> tuple:
    """'v1.34.10' -> (1, 34, 10)."""
    match = VERSION_RE.match(version)
    if not match:
        raise InvalidValue("version", version, ALLOWED)
    return int(match.group(1)), int(match.group(2)), int(match.group(3))


def minor_of(version: str) -> int:
    return split(version)[1]


def etcd_version(version: str) -> str:
    """etcd image tag kubeadm deploys for a control-plane version."""
    _unused, minor, patch = split(version)
    row = behaviour(minor)
    if row.etcd_early and minor == row.minor and patch <= row.etcd_early[0]:
        return row.etcd_early[1]
    return row.etcd


def coredns_version(minor: int) -> str:
    return behaviour(minor).coredns


def pause_version(minor: int) -> str:
    return behaviour(minor).pause


def etcd_is_36_or_newer(version: str) -> bool:
    return tag_at_least(etcd_version(version), (3, 6))


def tag_at_least(tag: str, wanted: tuple) -> bool:
    """Whether an image tag like v3.6.1 / 3.5.24-0 is at least (major, minor)."""
    match = re.match(r"v?(\d+)\.(\d+)", tag or "")
    return bool(match) and (int(match.group(1)), int(match.group(2))) >= wanted


def keeps_extra_args_order(version) -> bool:
    """Whether kubeadm `version` keeps user extraArgs in their given order (kubernetes#135400).

    version: "vX.Y.Z" (exact, patch-aware) or an int minor (treated as that minor's .0).
    """
    if isinstance(version, int):
        minor, patch = version, 0
    else:
        _major, minor, patch = split(str(version))
    if minor > MINORS[-1].minor:
        return True
    since = BY_MINOR[minor].ordered_extra_args_since if minor in BY_MINOR else None
    return since is not None and patch >= since


def feature_gates(minor: int) -> dict:
    """{gate: (stage, default)} kubeadm accepts when deploying 1.<minor>."""
    return dict(BY_MINOR[minor].feature_gates) if minor in BY_MINOR else {}


def feature_gate_default(gate: str, minor: int) -> bool:
    spec = feature_gates(minor).get(gate)
    if spec:
        return spec[1]
    return gate in behaviour(minor).graduated if minor >= MINORS[0].minor else False


def images(cfg) -> dict:
    """Image references for every component (kubeadm config images list)."""
    repo = cfg.cluster["imageRepository"]
    version = cfg.version
    dns = cfg.cluster.get("dns", {})
    dns_repo = dns.get("imageRepository") or (
        repo + "/coredns" if repo == C.DEFAULT_IMAGE_REPOSITORY else repo)
    etcd_local = cfg.cluster.get("etcd", {}).get("local", {})
    etcd_repo = etcd_local.get("imageRepository") or repo
    return {
        C.KUBE_APISERVER: f"{repo}/{C.KUBE_APISERVER}:{version}",
        C.KUBE_CONTROLLER_MANAGER: f"{repo}/{C.KUBE_CONTROLLER_MANAGER}:{version}",
        C.KUBE_SCHEDULER: f"{repo}/{C.KUBE_SCHEDULER}:{version}",
        C.KUBE_PROXY: f"{repo}/{C.KUBE_PROXY}:{version}",
        C.COREDNS: f"{dns_repo}/coredns:{dns.get('imageTag') or coredns_version(cfg.minor)}",
        "pause": f"{repo}/pause:{pause_version(cfg.minor)}",
        C.ETCD: f"{etcd_repo}/etcd:{etcd_local.get('imageTag') or etcd_version(version)}",
    }
