"""A control-plane node to upgrade in tests: kubeadm_init (in-process) into a rootfs at one version,
the API double serving that node's PKI on its advertised port with real etcd storage, and a
`FakeKubelet` that does for the test what the kubelet does for kubeadm upgrade: it posts a mirror
Pod for every static Pod manifest of the rootfs (kubernetes.io/config.hash = the file's digest,
Running and Ready, or not Ready for the components told to fail). Test-only."""
from __future__ import annotations

import hashlib
import os
import threading
import time

import yaml

from ansible_collections.kubeboot.cluster.plugins.module_utils import apiclient, errors
from ansible_collections.kubeboot.cluster.plugins.module_utils.init import run_init

from tests.support.apiserver import ApiDouble, UserInfo
from tests.support.apiserver.testing import free_port

ADMIN_TOKEN = "upgrade-lab-admin-token-0123456789"
API_PHASES = ["wait-control-plane", "upload-config", "upload-certs", "mark-control-plane", "bootstrap-token",
              "kubelet-finalize", "addon", "show-join-command"]
IGNORE = ["all"]


class FakeKubelet:
    """Mirror Pods of <rootfs>/etc/kubernetes/manifests, refreshed every 0.2 s."""

    def __init__(self, rootfs: str, node: str, client, etcd_url: str = "", unhealthy=()):
        self.rootfs, self.node, self.client = rootfs, node, client
        self.etcd_url = etcd_url
        self.unhealthy = set(unhealthy)   # components whose new Pods never become Ready
        self.seen = {}                    # component -> digest posted
        self.first = {}                   # component -> the digest at start (healthy even when "unhealthy")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name=f"fake-kubelet-{node}")

    def start(self) -> "FakeKubelet":
        self.sync()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(0.2):
            try:
                self.sync()
            except (errors.KubebootError, OSError):
                pass

    def sync(self) -> None:
        directory = os.path.join(self.rootfs, "etc/kubernetes/manifests")
        for entry in sorted(os.listdir(directory)) if os.path.isdir(directory) else []:
            if entry.startswith(".") or not entry.endswith(".yaml"):
                continue
            with open(os.path.join(directory, entry), "rb") as handle:
                data = handle.read()
            digest = hashlib.sha256(data).hexdigest()[:32]
            pod = yaml.safe_load(data)
            name = pod["metadata"]["name"]
            self.first.setdefault(name, digest)
            if self.seen.get(name) == digest:
                continue
            self._post(name, pod, digest)
            self.seen[name] = digest

    def _post(self, name: str, pod: dict, digest: str) -> None:
        mirror = f"{name}-{self.node}"
        meta = pod["metadata"]
        annotations = dict(meta.get("annotations") or {}, **{
            "kubernetes.io/config.hash": digest, "kubernetes.io/config.mirror": digest,
            "kubernetes.io/config.source": "file"})
        if name == "etcd" and self.etcd_url:
            annotations["kubeadm.kubernetes.io/etcd.advertise-client-urls"] = self.etcd_url
        ready = "False" if name in self.unhealthy and digest != self.first[name] else "True"
        obj = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": mirror, "namespace": "kube-system", "labels": dict(meta.get("labels") or {}),
                            "annotations": annotations},
               "spec": dict(pod["spec"], nodeName=self.node),
               "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": ready}]}}
        self.client.delete("Pod", mirror, "kube-system")
        created = self.client.create(obj)
        if (created.get("status") or {}).get("phase") != "Running":
            created["status"] = obj["status"]
            self.client.request("PUT", apiclient.resource_path("Pod", mirror, "kube-system") + "/status", created)


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

    def start_kubelet(self, etcd_url: str = "", unhealthy=()) -> FakeKubelet:
        self.kubelet = FakeKubelet(self.rootfs, self.node, self.admin, etcd_url=etcd_url, unhealthy=unhealthy).start()
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
