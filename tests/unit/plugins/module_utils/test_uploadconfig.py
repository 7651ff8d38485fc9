"""uploadconfig.py: kubeadm-config and kubelet-config; the API phases applied to an in-memory client and rerun."""
from __future__ import annotations

import pytest
import yaml

from ansible_collections.kubeboot.cluster.plugins.module_utils import (
    addondns, addonproxy, markcontrolplane, objects, uploadconfig)
from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils.apiwriter import ApiWriter
from ansible_collections.kubeboot.cluster.plugins.module_utils.config import sample_init_config
from tests.support.memclient import MemClient

CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
SERVER = "https://192.0.2.10:6443"


def _cfg(version="v1.34.10", **paths):
    paths.setdefault("cluster.networking.podSubnet", "10.244.0.0/16")
    return sample_init_config(version=version, paths=paths)


@pytest.fixture
def client():
    return MemClient.with_node("cp1")


def test_kubeadm_config_configmap():
    cfg = _cfg()
    cm = uploadconfig.kubeadm_config_configmap(cfg)
    doc = yaml.safe_load(cm["data"]["ClusterConfiguration"])
    assert doc["kind"] == "ClusterConfiguration" and doc["apiVersion"] == "kubeadm.k8s.io/v1beta4"
    assert doc["kubernetesVersion"] == "v1.34.10"
    assert "bootstrapTokens" not in cm["data"]["ClusterConfiguration"]


def test_kubelet_config_hash():
    cfg = _cfg()
    cm = uploadconfig.kubelet_config_configmap(cfg, "kind: KubeletConfiguration\n")
    import hashlib
    assert cm["metadata"]["annotations"] == {
        "kubeadm.kubernetes.io/component-config.hash":
            "sha256:" + hashlib.sha256(b"kind: KubeletConfiguration\n").hexdigest()}
    assert list(cm["data"]) == ["kubelet"]
    # kubelet/config.go: a user-supplied KubeletConfiguration is not signed
    cfg.kubelet = {"kind": "KubeletConfiguration", "maxPods": 50}
    assert "annotations" not in uploadconfig.kubelet_config_configmap(cfg, "kind: KubeletConfiguration\n")["metadata"]
    assert objects.config_map_checksum({"b": "2", "a": "1"}) == \
        "sha256:" + hashlib.sha256(b"12").hexdigest()


def test_upload_config_and_addons_idempotent(client):
    cfg = _cfg("v1.33.2")
    results = [uploadconfig.upload_config_kubeadm(ApiWriter(client), cfg), uploadconfig.upload_config_kubelet(ApiWriter(client), cfg),
               addondns.addon_coredns(ApiWriter(client), cfg), addonproxy.addon_kube_proxy(ApiWriter(client), cfg, SERVER, CA_PEM),
               markcontrolplane.mark_control_plane(ApiWriter(client), cfg, 1)]
    assert all(r["changed"] for r in results)
    node = client.obj("Node", "cp1")
    assert node["metadata"]["labels"] == {"a": "b", C.CONTROL_PLANE_LABEL: "", C.EXCLUDE_LB_LABEL: ""}
    assert node["spec"]["taints"] == [dict(C.CONTROL_PLANE_TAINT)]
    # 1.33: no NodeLocalCRISocket => cri-socket annotation
    assert node["metadata"]["annotations"][C.CRI_SOCKET_ANNOTATION] == C.DEFAULT_CRI_SOCKET
    n = len(client.writes)
    again = [uploadconfig.upload_config_kubeadm(ApiWriter(client), cfg), uploadconfig.upload_config_kubelet(ApiWriter(client), cfg),
             addondns.addon_coredns(ApiWriter(client), cfg), addonproxy.addon_kube_proxy(ApiWriter(client), cfg, SERVER, CA_PEM),
             markcontrolplane.mark_control_plane(ApiWriter(client), cfg, 1)]
    assert [r["changed"] for r in again] == [False] * 5
    assert client.writes[n:] == []
