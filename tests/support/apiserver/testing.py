"""Helpers behind the pytest fixtures: start a double with a fresh test PKI, run a real etcd."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request

from .. import testpki
from .server import ApiDouble
from .store import EtcdStore


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class TestDouble(ApiDouble):
    """ApiDouble plus the test CA and kubeconfig writers."""

    def __init__(self, workdir: str, ca: testpki.CA, **kwargs):
        self.workdir = workdir
        self.ca = ca
        super().__init__(os.path.join(workdir, "pki"), **kwargs)

    def user_kubeconfig(self, cn: str, orgs=(), name: str | None = None) -> str:
        """Kubeconfig with a client cert (CN=cn, O=orgs) signed by the cluster CA."""
        cdir = os.path.join(self.workdir, "clients")
        cert, key = testpki.client_files(self.ca, cdir, cn, orgs)
        path = os.path.join(cdir, (name or cn.replace(":", "_")) + ".conf")
        return self.kubeconfig(path, client_cert=cert, client_key=key, user=cn)

    def token_kubeconfig(self, token: str, name: str = "token") -> str:
        path = os.path.join(self.workdir, name + ".conf")
        return self.kubeconfig(path, token=token, user="token-user")

    @property
    def admin_kubeconfig(self) -> str:
        path = os.path.join(self.workdir, "clients", "admin.conf")
        if not os.path.exists(path):
            self.user_kubeconfig("kubernetes-admin", ["system:masters"], name="admin")
        return path

    def client_cert(self, cn: str, orgs=()) -> tuple[str, str]:
        return testpki.client_files(self.ca, os.path.join(self.workdir, "clients"), cn, orgs)


def start_double(workdir: str, store=None, **kwargs) -> TestDouble:
    """Start a double with (or reusing) `<workdir>/pki` on a free loopback port."""
    pki = os.path.join(workdir, "pki")
    if os.path.exists(os.path.join(pki, "ca.key")):
        ca = testpki.load_ca(pki)
    else:
        ca = testpki.write_cert_dir(pki)
    kwargs.setdefault("controllers_interval", "0.2s")
    return TestDouble(workdir, ca, store=store, **kwargs).start()


class EtcdProcess:
    """A real etcd (plain HTTP on loopback) with its data dir in a temp directory."""

    def __init__(self, data_dir: str, binary: str = "etcd"):
        self.data_dir = data_dir
        self.binary = shutil.which(binary) or binary
        self.proc = None
        self.client_port = self.peer_port = None
        self.log_path = data_dir.rstrip("/") + ".log"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.client_port}"

    def start(self, timeout: float = 15.0) -> "EtcdProcess":
        if self.client_port is None:
            self.client_port, self.peer_port = free_port(), free_port()
        client = f"http://127.0.0.1:{self.client_port}"
        peer = f"http://127.0.0.1:{self.peer_port}"
        args = [self.binary, "--name", "double", "--data-dir", self.data_dir,
                "--listen-client-urls", client, "--advertise-client-urls", client,
                "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                "--initial-cluster", f"double={peer}", "--log-level", "error", "--logger", "zap"]
        env = dict(os.environ, ETCD_UNSUPPORTED_ARCH=os.environ.get("ETCD_UNSUPPORTED_ARCH", ""))
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"etcd exited with {self.proc.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(self.endpoint + "/health", timeout=1) as resp:
                    if json.loads(resp.read()).get("health") == "true":
                        return self
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"etcd did not become healthy within {timeout}s; see {self.log_path}")

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
            self.proc = None
            self._log.close()

    def store(self) -> EtcdStore:
        return EtcdStore([self.endpoint])


def call(double, method: str, path: str, body=None, *, token: str | None = None,
         cert: tuple[str, str] | None = None, content_type: str = "application/json"):
    """One HTTPS request to the double. Returns (status, decoded JSON or text)."""
    import http.client
    import ssl

    ctx = ssl.create_default_context(cadata=double.ca_pem.decode())
    if cert:
        ctx.load_cert_chain(*cert)
    conn = http.client.HTTPSConnection(double.host, double.port, context=ctx, timeout=10)
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers["Content-Type"] = content_type
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        ctype = resp.getheader("Content-Type", "")
        return resp.status, (json.loads(raw) if "json" in ctype else raw.decode())
    finally:
        conn.close()
