# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What each kubeadm patch target is rendered from, and `check`: every patch of a run applied once
to its target before anything is written, so a patch that does not apply is one clear error up
front (kubeadm only finds out in the phase that writes the target, after earlier phases wrote)."""
from __future__ import annotations

from ansible_collections.kubeboot.cluster.plugins.module_utils import addondns, addonproxy, kubelet, manifests, patches


def _renderers(cfg, fs) -> dict:
    """target -> callable that renders it with its patches applied."""
    out = {name: (lambda name=name: manifests.static_pod(name, cfg, fs)) for name in manifests.COMPONENTS
           if name != "etcd" or cfg.local_etcd}
    out[patches.KUBELET_CONFIGURATION] = lambda: kubelet.node_config(cfg, kubelet.kubelet_configuration(cfg, fs))
    out[patches.COREDNS_DEPLOYMENT] = lambda: patches.apply(cfg, patches.COREDNS_DEPLOYMENT,
                                                            addondns.coredns_deployment(cfg))
    out[patches.KUBE_PROXY_DAEMONSET] = lambda: patches.apply(cfg, patches.KUBE_PROXY_DAEMONSET,
                                                              addonproxy.kube_proxy_daemonset(cfg))
    return out


def check(cfg, fs) -> None:
    """Apply every configured patch to its target once (ConfigError naming the file when one does
    not apply); the run's record of applied patches starts empty afterwards."""
    manager = getattr(cfg, "patch_manager", None)
    if manager is None:
        return
    renderers = _renderers(cfg, fs)
    for target in manager.targets:
        if manager.has(target) and target in renderers:
            renderers[target]()
    manager.applied = []
