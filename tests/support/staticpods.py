"""What a kubelet does with a node's static Pods, for tests: `FakeKubelet` runs real etcd (/usr/bin/etcd) from
the etcd manifest in a rootfs, posts its mirror Pod, and stops it when the manifest goes away;
`MirrorPodKubelet` posts a mirror Pod for every manifest (what kubeadm upgrade waits for). Test-only."""
from __future__ import annotations

import hashlib
import os
import random
import subprocess
import threading
import time

import yaml

from ansible_collections.kubeboot.cluster.plugins.module_utils import apiclient, errors
from ansible_collections.kubeboot.cluster.plugins.module_utils.apiwriter import ApiWriter

ETCD = "/usr/bin/etcd"
ETCDCTL = "/usr/bin/etcdctl"
# etcd 3.6 flag names (Kubernetes 1.34+ manifests) in the spelling of the etcd 3.4 installed here
ETCD_36_TO_34 = {"watch-progress-notify-interval": "experimental-watch-progress-notify-interval"}


def loopback_block() -> str:
    """'127.A.B.' with A, B random: addresses with fixed ports (etcd's 2379/2380/2381) that no other test
    session on this machine is likely to use at the same time."""
    return f"127.{random.randint(20, 250)}.{random.randint(1, 250)}."


class FakeKubelet:
    """Starts real etcd from a node's etcd static Pod manifest (host paths mapped into the rootfs; the
    localhost client listener dropped so several nodes share one loopback) and registers the mirror
    Pod in the API double (when `admin` is given), as a kubelet would; `watch()` starts it once the
    manifest appears and stops it when the manifest is removed."""

    def __init__(self, admin, rootfs: str, node: str, address: str):
        self.admin, self.rootfs, self.node, self.address = admin, rootfs, node, address
        self.proc = None
        self.manifest = os.path.join(rootfs, "etc/kubernetes/manifests/etcd.yaml")
        self._stop = threading.Event()

    @property
    def client_url(self) -> str:
        return f"https://{self.address}:2379"

    def command(self) -> list:
        with open(self.manifest, encoding="utf-8") as handle:
            pod = yaml.safe_load(handle)
        out = [ETCD]
        for arg in pod["spec"]["containers"][0]["command"][1:]:
            name, _, value = arg[2:].partition("=")
            if value.startswith("/"):
                value = os.path.join(self.rootfs, value.lstrip("/"))
            if name == "listen-client-urls":
                value = self.client_url
            if name == "listen-metrics-urls":
                value = f"http://{self.address}:2381"
            if name == "feature-gates":
                if "InitialCorruptCheck=true" in value:
                    out.append("--experimental-initial-corrupt-check=true")
                continue
            out.append(f"--{ETCD_36_TO_34.get(name, name)}={value}")
        return out

    def start(self) -> None:
        log = open(os.path.join(os.path.dirname(self.rootfs), f"{self.node}-etcd.log"), "a")  # noqa: SIM115
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT)
        if self.admin is not None:
            ApiWriter(self.admin).ensure({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": f"etcd-{self.node}", "namespace": "kube-system",
                             "labels": {"component": "etcd", "tier": "control-plane"},
                             "annotations": {"kubeadm.kubernetes.io/etcd.advertise-client-urls": self.client_url}},
                "spec": {"nodeName": self.node, "containers": [{"name": "etcd", "image": "etcd"}]}})

    def watch(self) -> threading.Thread:
        """Start etcd when its manifest appears; stop it when the manifest is removed (as the kubelet)."""
        def run():
            while not self._stop.is_set() and not os.path.exists(self.manifest):
                time.sleep(0.1)
            if self._stop.is_set():
                return
            if self.proc is None:
                time.sleep(0.2)
                self.start()
            while not self._stop.is_set() and os.path.exists(self.manifest):
                time.sleep(0.1)
            self.stop()
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class MirrorPodKubelet:
    """What a kubelet shows the API of a node's static Pods, for kubeadm upgrade's waits: a mirror Pod for every
    manifest of <rootfs>/etc/kubernetes/manifests (kubernetes.io/config.hash = the file's digest; Running and
    Ready, or never Ready once changed for the components in `unhealthy`), refreshed every 0.2 s. Runs nothing
    (FakeKubelet above runs etcd)."""

    def __init__(self, rootfs: str, node: str, client, etcd_url: str = "", unhealthy=()):
        self.rootfs, self.node, self.client = rootfs, node, client
        self.etcd_url = etcd_url
        self.unhealthy = set(unhealthy)   # components whose new Pods never become Ready
        self.seen = {}                    # component -> digest posted
        self.first = {}                   # component -> the digest at start (healthy even when "unhealthy")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name=f"fake-kubelet-{node}")

    def start(self) -> "MirrorPodKubelet":
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


def etcdctl(rootfs: str, endpoint: str, *args, identity: str = "healthcheck-client") -> subprocess.CompletedProcess:
    """Real etcdctl with the node's etcd client certificate (files of the rootfs)."""
    pki = os.path.join(rootfs, "etc/kubernetes/pki")
    cert = f"{pki}/etcd/{identity}" if identity == "healthcheck-client" else f"{pki}/{identity}"
    return subprocess.run([ETCDCTL, f"--endpoints={endpoint}", f"--cacert={pki}/etcd/ca.crt", f"--cert={cert}.crt",
                           f"--key={cert}.key", *args], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, ETCDCTL_API="3"))


def wait_etcd(rootfs: str, endpoint: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if etcdctl(rootfs, endpoint, "endpoint", "health").returncode == 0:
            return
        time.sleep(0.3)
    raise AssertionError(f"etcd at {endpoint} did not become healthy")
