"""What a kubelet does with a node's etcd static Pod, for tests: run real etcd (/usr/bin/etcd) from the
manifest in a rootfs, post its mirror Pod, and stop it when the manifest goes away. Test-only."""
from __future__ import annotations

import os
import random
import subprocess
import threading
import time

import yaml

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
