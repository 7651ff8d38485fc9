# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Phase upload-config: the cluster's ClusterConfiguration (kube-system/kubeadm-config) and
KubeletConfiguration (kube-system/kubelet-config), with the Roles that let nodes read them;
before NodeLocalCRISocket, the Node's cri-socket annotation (kubeadm phases/uploadconfig,
phases/kubelet)."""
from __future__ import annotations

from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import config as config_mod
from ansible_collections.kubeboot.cluster.plugins.module_utils import kubelet, rbac
from ansible_collections.kubeboot.cluster.plugins.module_utils.docutil import to_yaml
from ansible_collections.kubeboot.cluster.plugins.module_utils.objects import config_map_checksum, configmap


def cluster_configuration_yaml(cfg) -> str:
    """The ClusterConfiguration document stored in kubeadm-config."""
    return to_yaml(config_mod.cluster_configuration_document(cfg))


def kubeadm_config_configmap(cfg) -> dict:
    return configmap(C.KUBEADM_CONFIG_CM, C.KUBE_SYSTEM, {C.KUBEADM_CONFIG_KEY: cluster_configuration_yaml(cfg)})


def kubelet_config_yaml(cfg) -> str:
    return to_yaml(kubelet.kubelet_configuration(cfg))


def kubelet_config_configmap(cfg, kubelet_yaml: str = None) -> dict:
    data = {C.KUBELET_CONFIG_KEY: kubelet_yaml if kubelet_yaml is not None else kubelet_config_yaml(cfg)}
    # kubelet/config.go CreateConfigMap: SignConfigMap only when the config is not user supplied
    annotations = None if cfg.kubelet else {C.COMPONENT_CONFIG_HASH_ANNOTATION: config_map_checksum(data)}
    return configmap(C.KUBELET_CONFIG_CM, C.KUBE_SYSTEM, data, annotations=annotations)


def upload_config_kubeadm(api, cfg) -> dict:
    mark = api.mark()
    api.ensure_all([kubeadm_config_configmap(cfg)] + rbac.kubeadm_config_rbac())
    return api.result(mark)


def upload_config_kubelet(api, cfg, node_timeout: float = 60.0) -> dict:
    mark = api.mark()
    api.ensure_all([kubelet_config_configmap(cfg)] + rbac.kubelet_config_rbac())
    # Before NodeLocalCRISocket kubeadm annotates the Node with the CRI socket.
    if not kubelet.node_local_cri_socket(cfg):
        socket = kubelet.cri_socket(cfg)
        api.patch("Node", cfg.node_name, lambda node: _annotation_patch(node, C.CRI_SOCKET_ANNOTATION, socket),
                  timeout=node_timeout, what=f"Node {cfg.node_name!r} to register")
    return api.result(mark)


def _annotation_patch(node: dict, key: str, value: str):
    if ((node.get("metadata") or {}).get("annotations") or {}).get(key) == value:
        return None
    return {"metadata": {"annotations": {key: value}}}
