# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubeadm reset's phase cleanup-node (phases/reset/cleanupnode.go): stop what runs, remove what init
and join wrote, say what is left.

kubeadm empties whole directories (/etc/kubernetes/manifests, /var/lib/kubelet, the certificates
dir); here only the files kubeadm's tables name are removed (`owned_files`: the component table's
manifests, the kubeconfig table, the certificate table's certificates and keys, the kubelet's files
and its pki directory), so a user's file in /etc/kubernetes survives and is reported as kept. Every
removal goes through files.Writer (check mode plans, the diff never shows a key; links are removed,
never followed; under `rootfs` nothing resolves outside the tree).

The order matters on a running node: the static Pod manifests go first and, while the kubelet still
runs, the reset waits for the kubelet to stop those Pods (their liveness ports close); then the kubelet
is stopped (initsystem), the CRI's remaining pod sandboxes are removed with crictl as kubeadm does
(only when crictl is installed: the CRI is gRPC, which the standard library cannot speak), and the
files go. Opt-in: `cleanup_cni` removes the CNI plugins' files (`C.CNI_FILES`), `cleanup_iptables` the
kube-proxy/CNI chains (netfilter.py). What kubeadm leaves to the user is returned in `left_to_user`.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass

from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import (
    initsystem, kubeconfig, manifests, netfilter, netutil, pki, poll, staticpod, tlsbootstrap)


@dataclass(frozen=True)
class Owned:
    """A path init or join writes: removed by reset (`secret`: never shown in a diff)."""

    path: str
    secret: bool
    what: str


def static_pod_manifests() -> list:
    """The component table's manifests (etcd's too: remove-etcd-member may have been skipped)."""
    return [C.manifest_path(component) for component in manifests.COMPONENTS]


def owned_files(cfg) -> list:
    """Everything else init and join write, from kubeadm's tables (cfg: anything with `cert_dir`)."""
    out = [Owned(C.kubeconfig_path(spec.file), True, "kubeconfig") for spec in kubeconfig.KUBECONFIGS]
    out.append(Owned(tlsbootstrap.BOOTSTRAP_CONF, True, "kubeconfig"))
    for name in pki.PHASES:
        public, key = pki.files(cfg, name)
        out += [Owned(public, False, "certificate"), Owned(key, True, "key")]
    out += [Owned(path, False, "kubelet") for path in
            (C.KUBELET_CONFIG_FILE, C.KUBELET_INSTANCE_CONFIG_FILE, C.KUBELET_FLAGS_ENV_FILE)]
    out.append(Owned(C.KUBELET_PKI_DIR, True, "kubelet"))  # the kubelet's client and serving certificates
    if getattr(cfg, "cleanup_tmp_dir", False):
        out.append(Owned(C.KUBERNETES_TMP_DIR, True, "kubeadm tmp"))  # upgrade backups (with keys)
    return out


def owned_dirs(cfg) -> list:
    """Directories init creates that are removed once empty (kubeadm keeps /etc/kubernetes/manifests,
    the kubelet package's directory)."""
    return [pki.subdir(cfg, C.ETCD_PKI_SUBDIR), pki.subdir(cfg)]


# --- the running parts ---------------------------------------------------------------------------

def remove_static_pods(fs, writer) -> list:
    """Remove the manifests; the (host, port) of those whose component still answers."""
    running = []
    for path in static_pod_manifests():
        pod = staticpod.read(fs, path)
        endpoint = staticpod.liveness_endpoint(pod) if pod else None
        if writer.remove(path, secret=False) and endpoint and netutil.tcp_open(*endpoint):
            running.append(endpoint)
    return running


def wait_static_pods_stopped(running: list, timeout: float, warnings: list) -> None:
    """Until the kubelet has stopped the static Pods (their liveness ports close), bounded."""
    def stopped():
        left = [f"{host}:{port}" for host, port in running if netutil.tcp_open(host, port)]
        if left:
            raise poll.NotYet(", ".join(left))
        return True

    try:
        poll.wait_for(stopped, timeout, 1.0, retry_on=())
    except Exception as exc:  # noqa: BLE001 - a warning: the kubelet is stopped next anyway
        warnings.append(f"[reset] static Pods still answer after {timeout:g}s ({exc}): remove their containers "
                        "with crictl")


def remove_pod_sandboxes(cri_socket: str, rootfs: str, check_mode: bool, run=subprocess.run,
                         which=shutil.which) -> dict:
    """kubeadm's removeContainers: every pod sandbox of the CRI, stopped and removed (crictl stopp, rmp)."""
    if rootfs != "/":
        return {"removed": [], "reason": "rootfs: not the running system"}
    if not which("crictl"):
        return {"removed": [], "reason": "crictl is not installed", "left": True}
    base = ["crictl", "--runtime-endpoint", cri_socket]
    listed = run(base + ["pods", "-q"], capture_output=True, text=True, timeout=60, check=False)
    if listed.returncode != 0:
        return {"removed": [], "reason": f"crictl could not list pods ({listed.stderr.strip()[-200:]})", "left": True}
    ids = listed.stdout.split()
    if check_mode or not ids:
        return {"removed": ids, "reason": "check mode: would be removed" if ids else "no pod sandboxes"}
    failed = []
    for pod_id in ids:
        for verb in ("stopp", "rmp"):
            if run(base + [verb, pod_id], capture_output=True, text=True, timeout=120, check=False).returncode:
                failed.append(pod_id)
                break
    return {"removed": [i for i in ids if i not in failed], "failed": failed, "left": bool(failed),
            "reason": "removed with crictl"}


# --- the phase --------------------------------------------------------------------------------------

def cleanup_node(ctx, cfg, timeout: float) -> dict:
    """The cleanup-node phase; ctx is reset's PhaseContext (fs view, writer, check mode, warnings)."""
    fs, writer, check_mode = ctx.fs, ctx.writer, ctx.check_mode
    rootfs = writer.fs.rootfs
    kubelet_running = rootfs == "/" and initsystem.systemd_available(rootfs) and initsystem.kubelet_active()
    running = remove_static_pods(fs, writer)
    if running and kubelet_running and not check_mode:
        wait_static_pods_stopped(running, timeout, ctx.warnings)
    kubelet = initsystem.stop_kubelet(rootfs, check_mode)
    warning = kubelet.pop("warning", None)
    if warning:
        ctx.warnings.append("[reset] " + warning)
    if kubelet["stopped"]:
        ctx.log.services.append(initsystem.KUBELET_UNIT)
    sandboxes = remove_pod_sandboxes(cfg.cri_socket, rootfs, check_mode)
    ctx.log.actions += [f"crictl rmp {pod_id}" for pod_id in sandboxes["removed"]]
    for item in owned_files(cfg):
        writer.remove(item.path, secret=item.secret)
    view = writer.view()
    for directory in owned_dirs(cfg):
        if view.isdir(directory) and not view.listdir(directory):
            writer.remove(directory)
            view = writer.view()
    result = {"kubelet": kubelet, "pod_sandboxes": sandboxes}
    if cfg.options.get("cleanup_cni"):
        result["cni"] = [path for paths in C.CNI_FILES.values() for path in paths if writer.remove(path)]
    if cfg.options.get("cleanup_iptables"):
        result["iptables"] = _cleanup_iptables(ctx, rootfs)
    result["kept"] = kept_files(writer.view(), cfg)
    return result


def _cleanup_iptables(ctx, rootfs: str) -> dict:
    if rootfs != "/":
        return {"changes": [], "skipped": "rootfs: the packet filter is the running system's, not the tree's"}
    done = netfilter.cleanup(ctx.check_mode)
    ctx.warnings += ["[reset] " + w for w in done.pop("warnings")]
    ctx.log.actions += done["changes"]
    return done


def kept_files(view, cfg) -> list:
    """What stays in kubeadm's directories because init and join did not write it (a user's files)."""
    kept = []
    for directory in (C.KUBERNETES_DIR, C.MANIFESTS_DIR, pki.subdir(cfg), pki.subdir(cfg, C.ETCD_PKI_SUBDIR)):
        for name in view.listdir(directory):
            path = f"{directory}/{name}"
            if not view.isdir(path) or os.path.islink(view.path(path)):
                kept.append(path)
    return sorted(set(kept))


def left_to_user(view, cfg, result: dict) -> list:
    """What kubeadm reset also leaves to the user, as it prints it, and what this run could not do."""
    left = []
    if not result.get("iptables"):
        left.append({"what": "iptables rules and IPVS tables",
                     "how": "The reset process does not reset or clean up iptables rules or IPVS tables. Set "
                            "cleanup_iptables: true to remove the chains of kube-proxy and the CNI (KUBE-*, CNI-*, "
                            "FLANNEL-*, cali-*), or clean them with iptables; if your cluster used IPVS, run "
                            "ipvsadm --clear (or similar)"})
    cni_left = [f"{C.CNI_CONFIG_DIR}/{name}" for name in view.listdir(C.CNI_CONFIG_DIR)]
    if cni_left:
        left.append({"what": "CNI configuration", "paths": cni_left,
                     "how": f"The reset process does not clean CNI configuration: remove {C.CNI_CONFIG_DIR} "
                            "(cleanup_cni: true removes the files of flannel and calico only)"})
    homes = ["/root"] + [f"/home/{name}" for name in view.listdir("/home")]
    copies = [f"{home}/{C.USER_KUBECONFIG}" for home in homes if view.exists(f"{home}/{C.USER_KUBECONFIG}")]
    left.append({"what": "kubeconfig files", "paths": copies,
                 "how": "The reset process does not clean your kubeconfig files: check the contents of "
                        "$HOME/.kube/config"})
    if view.exists(C.KUBELET_DROPIN_FILE):
        left.append({"what": "the kubelet's systemd drop-in", "paths": [C.KUBELET_DROPIN_FILE],
                     "how": "kept, as with kubeadm's package, which owns it: the kubelet is stopped and waits for "
                            "the next init or join"})
    if result.get("pod_sandboxes", {}).get("left"):
        left.append({"what": "containers", "how": "pod sandboxes were not removed ("
                     + result["pod_sandboxes"]["reason"] + "): remove them with crictl rmp -fa"})
    return left
