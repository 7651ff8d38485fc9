"""A control-plane node to upgrade in tests: kubeadm_init (in-process) into a rootfs at one version,
the API double serving that node's PKI on its advertised port with real etcd storage, and a
`staticpods.MirrorPodKubelet` posting the mirror Pods kubeadm upgrade waits for. Test-only."""
from __future__ import annotations

import os
import shutil
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

    def add_control_plane(self, node: str, etcd_url: str = "") -> "ControlPlane":
        """A second control-plane node of this cluster at its version: the cluster's CAs and service-account
        key copied into <base>/<node> (as kubeadm's upload-certs would), local phases run there (its own
        leaf certificates, kubeconfigs, manifests), a Ready control-plane Node, a MirrorPodKubelet."""
        other = ControlPlane.__new__(ControlPlane)
        other.base, other.node, other.port, other.version = self.base, node, self.port, self.version
        other.double, other.admin, other.init = self.double, self.admin, None
        other.rootfs = os.path.join(self.base, node)
        pki = os.path.join(self.rootfs, "etc/kubernetes/pki")
        for name in ("ca.crt", "ca.key", "sa.key", "sa.pub", "front-proxy-ca.crt", "front-proxy-ca.key",
                     "etcd/ca.crt", "etcd/ca.key"):
            target = os.path.join(other.rootfs, "etc/kubernetes/pki", name)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copy2(os.path.join(pki, name), target)
        other.args = dict(self.args, rootfs=other.rootfs, node_name=node)
        run_init(dict(other.args, skip_phases=API_PHASES))
        self.admin.create({"apiVersion": "v1", "kind": "Node", "metadata": {
            "name": node, "labels": {"kubernetes.io/hostname": node, "node-role.kubernetes.io/control-plane": ""}},
            "spec": {}})
        self.set_node_status(node, self.version)
        other.kubelet = None
        other.start_kubelet(etcd_url=etcd_url)
        return other

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

    def stop(self, double: bool = True) -> None:
        if self.kubelet is not None:
            self.kubelet.stop()
        if double:
            self.double.stop()
