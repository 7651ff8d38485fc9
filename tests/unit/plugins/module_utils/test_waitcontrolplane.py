"""waitcontrolplane.py and kubelet.kubelet_finalize: the non-object phases of init."""
from __future__ import annotations

import pytest
import yaml

from ansible_collections.kubeboot.cluster.plugins.module_utils import kubelet, waitcontrolplane
from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils.apiwriter import ApiWriter
from ansible_collections.kubeboot.cluster.plugins.module_utils.config import sample_init_config
from ansible_collections.kubeboot.cluster.plugins.module_utils.files import HostFS, Writer
from tests.support.memclient import MemClient

SERVER = "https://192.0.2.10:6443"


def _cfg(version="v1.34.10", **paths):
    paths.setdefault("cluster.networking.podSubnet", "10.244.0.0/16")
    return sample_init_config(version=version, paths=paths)


@pytest.fixture
def client():
    return MemClient.with_node("cp1")


def test_wait_control_plane(client):
    assert waitcontrolplane.wait_control_plane(ApiWriter(client), 1)["healthy"]


def test_kubelet_finalize(rootfs):
    fs, writer = HostFS(rootfs), Writer(HostFS(rootfs))
    cfg = _cfg()
    assert kubelet.kubelet_finalize(cfg, fs, writer)["changed"] is False
    conf = {"apiVersion": "v1", "kind": "Config", "current-context": "system:node:cp1@kubernetes",
            "clusters": [{"name": "kubernetes", "cluster": {"server": SERVER}}],
            "contexts": [{"name": "system:node:cp1@kubernetes",
                          "context": {"cluster": "kubernetes", "user": "system:node:cp1"}}],
            "users": [{"name": "system:node:cp1", "user": {"client-certificate-data": "QQ==",
                                                           "client-key-data": "Qg=="}}]}
    writer.write("/etc/kubernetes/kubelet.conf", yaml.safe_dump(conf), 0o600)
    writer.write(C.KUBELET_CLIENT_CURRENT, "pem", 0o600)
    assert kubelet.kubelet_finalize(cfg, fs, Writer(fs))["changed"] is True
    user = yaml.safe_load(fs.read_text("/etc/kubernetes/kubelet.conf"))["users"][0]["user"]
    assert user == {"client-certificate": C.KUBELET_CLIENT_CURRENT, "client-key": C.KUBELET_CLIENT_CURRENT}
    assert kubelet.kubelet_finalize(cfg, fs, Writer(fs))["changed"] is False
