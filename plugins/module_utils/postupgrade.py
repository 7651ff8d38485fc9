# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Phases kubelet-config and post-upgrade of kubeadm upgrade apply/node (kubeadm
phases/upgrade/postupgrade.go): this node's /var/lib/kubelet/config.yaml from the cluster's
kubelet-config (instance configuration and patches merged in, the previous file backed up), and
what the new version no longer writes taken out of kubeadm-flags.env and the Node (the
cri-socket annotation and --container-runtime-endpoint with NodeLocalCRISocket,
--pod-infra-container-image from 1.35)."""
from __future__ import annotations

import json
import shlex

from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import kubelet, versions

BACKUP_KUBELET_PREFIX = "kubeadm-kubelet-config"


def write_kubelet_config(ctx, kubelet_text: str, stamp: str) -> list:
    """kubelet-config: config.yaml (and instance-config.yaml) of this node; the old config.yaml is
    copied to /etc/kubernetes/tmp/kubeadm-kubelet-config-<stamp>/config.yaml when it changes."""
    cfg, writer = ctx.cfg, ctx.writer
    results = []
    wanted = kubelet.node_config_yaml(cfg, kubelet_text).encode("utf-8")
    old = ctx.fs.read_bytes(C.KUBELET_CONFIG_FILE)
    if old is not None and old != wanted:
        backup_dir = f"{C.KUBERNETES_TMP_DIR}/{BACKUP_KUBELET_PREFIX}-{stamp}"
        writer.ensure_dir(C.KUBERNETES_TMP_DIR, C.MODE_PRIVATE_DIR)
        writer.ensure_dir(backup_dir, C.MODE_PRIVATE_DIR)
        writer.write(f"{backup_dir}/config.yaml", old, C.MODE_KUBELET_FILE)
    writer.ensure_dir(C.KUBELET_DIR, C.MODE_KUBELET_DIR)
    instance = kubelet.instance_config(cfg)
    if instance is not None:
        results.append({"path": C.KUBELET_INSTANCE_CONFIG_FILE, "changed": writer.write(
            C.KUBELET_INSTANCE_CONFIG_FILE, instance, C.MODE_KUBELET_FILE)})
    results.append({"path": C.KUBELET_CONFIG_FILE,
                    "changed": writer.write(C.KUBELET_CONFIG_FILE, wanted, C.MODE_KUBELET_FILE)})
    return results


def flags_no_longer_written(cfg) -> tuple:
    """kubelet flags the target version moved out of kubeadm-flags.env."""
    gone = []
    if kubelet.node_local_cri_socket(cfg):
        gone.append("container-runtime-endpoint")   # to instance-config.yaml
    if not versions.behaviour(cfg.minor).pause_image_flag:
        gone.append("pod-infra-container-image")    # the kubelet has no such flag from 1.35 (k/k #133778)
    return tuple(gone)


def clean_flags_env(ctx) -> dict:
    """kubeadm-flags.env without the flags the target no longer writes (others are kept as they are)."""
    text = ctx.fs.read_text(C.KUBELET_FLAGS_ENV_FILE)
    result = {"path": C.KUBELET_FLAGS_ENV_FILE, "changed": False}
    if not text:
        return result
    prefix = C.KUBELET_ENV_VARIABLE + "="
    lines = text.splitlines()
    gone = flags_no_longer_written(ctx.cfg)
    for index, line in enumerate(lines):
        if not line.startswith(prefix):
            continue
        try:
            words = shlex.split(line[len(prefix):])
        except ValueError:
            return result
        args = shlex.split(words[0]) if len(words) == 1 else words
        kept = [a for a in args if not any(a == f"--{g}" or a.startswith(f"--{g}=") for g in gone)]
        if kept == args:
            return result
        lines[index] = prefix + json.dumps(" ".join(kept))
        result["removed"] = [a.split("=", 1)[0] for a in args if a not in kept]
    result["changed"] = ctx.writer.write(C.KUBELET_FLAGS_ENV_FILE, "\n".join(lines) + "\n", C.MODE_KUBELET_FILE)
    return result


def remove_cri_socket_annotation(api, cfg, timeout: float) -> dict:
    """With NodeLocalCRISocket the Node no longer carries kubeadm's cri-socket annotation."""
    mark = api.mark()
    if kubelet.node_local_cri_socket(cfg):
        def patch(node):
            annotations = (node.get("metadata") or {}).get("annotations") or {}
            return {"metadata": {"annotations": {C.CRI_SOCKET_ANNOTATION: None}}} \
                if C.CRI_SOCKET_ANNOTATION in annotations else None
        api.patch("Node", cfg.node_name, patch, timeout=timeout, what=f"Node {cfg.node_name!r}")
    return api.result(mark)
