"""A control-plane node to upgrade in tests: kubeadm_init (in-process) into a rootfs at one version,
the API double serving that node's PKI on its advertised port with real etcd storage, and a
`staticpods.MirrorPodKubelet` posting the mirror Pods kubeadm upgrade waits for. Test-only."""
from __future__ import annotations

import os
import time

from ansible_collections.kubeboot.cluster.plugins.module_utils import apiclient
from ansible_collections.kubeboot.cluster.plugins.module_utils.init import run_init

from tests.support.apiserver import ApiDouble, UserInfo
from tests.support.apiserver.testing import free_port
from tests.support.staticpods import MirrorPodKubelet

ADMIN_TOKEN = "upgrade-lab-admin-token-0123456789"
API_PHASES = ["wait-control-plane", "upload-config", "upload-certs", "mark-control-plane", "bootstrap-token",
              "kubelet-finalize", "addon", "show-join-command"]
IGNORE = ["all"]


class ControlPlane:
    """cp1 at `version` in <base>/cp1 with the double on its advertised port; `stop()` it."""

    def __init__(self, base: str, version: str, store=None, node: str = "cp1"):
        self.base, self.node = base, node
        self.rootfs = os.path.join(base, node)
        os.makedirs(self.rootfs, exist_ok=True)
        self.port = free_port()
        self.args = {"rootfs": self.rootfs, "node_name": node, "apiserver_advertise_address": "127.0.0.1",
                     "apiserver_bind_port": self.port, "kubernetes_version": version,
                     "pod_network_cidr": "10.244.0.0/16", "ignore_preflight_errors": IGNORE}
        local = run_init(dict(self.args, skip_phases=API_PHASES))
        self.version = local["kubernetes_version"]
        self.double = ApiDouble(os.path.join(self.rootfs, "etc/kubernetes/pki"), port=self.port, store=store,
                                kubernetes_version=self.version, controllers_interval="0.3s",
                                static_tokens={ADMIN_TOKEN: UserInfo("upgrade-admin", ["system:masters"])}).start()
        self.admin = apiclient.Client(self.double.url, ca_pem=self.double.ca_pem, token=ADMIN_TOKEN, retry_timeout=5)
        self.admin.create({"apiVersion": "v1", "kind": "Node", "metadata": {
            "name": node, "labels": {"kubernetes.io/hostname": node}}, "spec": {}})
        self.set_node_status(node, self.version)
        self.init = run_init(self.args)
        self.kubelet = None

    def set_node_status(self, node: str, kubelet_version: str) -> None:
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.admin.request("PATCH", apiclient.resource_path("Node", node) + "/status", {"status": {
            "nodeInfo": {"kubeletVersion": kubelet_version},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                            "lastHeartbeatTime": now, "lastTransitionTime": now}]}},
            content_type=apiclient.PATCH_TYPES["merge"])

    def start_kubelet(self, etcd_url: str = "", unhealthy=()) -> MirrorPodKubelet:
        self.kubelet = MirrorPodKubelet(self.rootfs, self.node, self.admin, etcd_url=etcd_url, unhealthy=unhealthy).start()
        return self.kubelet

    def manifest(self, component: str) -> bytes:
        with open(os.path.join(self.rootfs, "etc/kubernetes/manifests", component + ".yaml"), "rb") as handle:
            return handle.read()

    def upgrade_args(self, **over) -> dict:
        args = {"rootfs": self.rootfs, "ignore_preflight_errors": ["IsPrivilegedUser"]}
        args.update(over)
        return args

    def stop(self) -> None:
        if self.kubelet is not None:
            self.kubelet.stop()
        self.double.stop()
