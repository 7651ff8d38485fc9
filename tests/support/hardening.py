"""Test-only helpers of the hardening suite (tests/hardening): tree snapshots, a fast init, an
independent consistency check of a tree (openssl), hostile TLS endpoints on loopback that record
every byte they receive, and forked runs killed at injected points."""
from __future__ import annotations

import base64
import hashlib
import os
import signal
import socket
import ssl
import stat
import subprocess
import tempfile
import threading
import time

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ansible_collections.kubeboot.cluster.plugins.module_utils import files, init

from tests.support import testpki

LOCAL_PHASES_ONLY = ["wait-control-plane", "upload-config", "upload-certs", "mark-control-plane",
                     "bootstrap-token", "kubelet-finalize", "addon", "show-join-command"]
LEAVES = {  # leaf -> its CA, under certificatesDir
    "apiserver": "ca", "apiserver-kubelet-client": "ca", "front-proxy-client": "front-proxy-ca",
    "etcd/server": "etcd/ca", "etcd/peer": "etcd/ca", "etcd/healthcheck-client": "etcd/ca",
    "apiserver-etcd-client": "etcd/ca",
}
KUBECONFIGS = ("admin.conf", "super-admin.conf", "kubelet.conf", "controller-manager.conf", "scheduler.conf")


# --- trees -------------------------------------------------------------------------------------------

def tree_state(root: str) -> dict:
    """relative path -> (kind, mode, content hash or link target): a tree's whole state."""
    state = {}
    if not os.path.isdir(root):
        return state
    for dirpath, dirs, names in os.walk(root):
        for name in dirs + names:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                state[rel] = ("link", 0, os.readlink(path))
            elif stat.S_ISDIR(info.st_mode):
                state[rel] = ("dir", stat.S_IMODE(info.st_mode), "")
            else:
                with open(path, "rb") as handle:
                    digest = hashlib.sha256(handle.read()).hexdigest()
                state[rel] = ("file", stat.S_IMODE(info.st_mode), digest, info.st_mtime_ns)
    return state


def stray_files(root: str) -> list:
    """The Writer's temp files anywhere in the tree."""
    return sorted(os.path.relpath(os.path.join(d, n), root) for d, _dirs, names in os.walk(root)
                  for n in names if files.TEMP_MARK in n)


def init_params(rootfs: str, **over) -> dict:
    """kubeadm_init's local phases, fast (ECDSA keys), nothing read from the host."""
    params = {"rootfs": rootfs, "node_name": "cp1", "apiserver_advertise_address": "192.0.2.10",
              "kubernetes_version": "stable-1.34", "pod_network_cidr": "10.244.0.0/16",
              "encryption_algorithm": "ECDSA-P256", "skip_phases": list(LOCAL_PHASES_ONLY),
              "ignore_preflight_errors": ["all"]}
    params.update(over)
    return params


def run_init(rootfs: str, **over) -> dict:
    return init.run_init(init_params(rootfs, **over))


def write_config(tmp_path, text: str, name: str = "kubeadm.yaml") -> str:
    path = os.path.join(str(tmp_path), name)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


# --- independent checks ---------------------------------------------------------------------------------

def ca_pin(pem: bytes, openssl: str) -> str:
    """sha256 of the DER public key of a certificate or private key, computed by openssl."""
    kind = "x509 -pubkey -noout" if b"CERTIFICATE" in pem else "pkey -pubout"
    der = subprocess.run(f"{openssl} {kind} | {openssl} pkey -pubin -outform der", shell=True, input=pem,
                         capture_output=True, check=True, timeout=60).stdout
    return hashlib.sha256(der).hexdigest()


def public_key_der(pem: bytes) -> bytes:
    """DER SubjectPublicKeyInfo of a PEM certificate or private key (cryptography, not the collection)."""
    if b"CERTIFICATE" in pem:
        public = x509.load_pem_x509_certificate(pem).public_key()
    else:
        public = serialization.load_pem_private_key(pem, None).public_key()
    return public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def consistency_problems(rootfs: str, openssl: str) -> list:
    """What is wrong with an init tree, judged by openssl (every leaf verifies against its CA) and by
    reading the files: every key matches its certificate, every kubeconfig embeds ca.crt."""
    pki = os.path.join(rootfs, "etc/kubernetes/pki")
    problems = []
    for ca in sorted(set(LEAVES.values())):
        leaves = [os.path.join(pki, leaf + ".crt") for leaf, signer in LEAVES.items() if signer == ca]
        out = subprocess.run([openssl, "verify", "-CAfile", os.path.join(pki, ca + ".crt"), *leaves],
                             capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            problems.append(f"signed by {ca}: {out.stdout.strip()} {out.stderr.strip()}")
    for base in list(LEAVES) + ["ca", "front-proxy-ca", "etcd/ca"]:
        with open(os.path.join(pki, base + ".crt"), "rb") as c, open(os.path.join(pki, base + ".key"), "rb") as k:
            if public_key_der(c.read()) != public_key_der(k.read()):
                problems.append(f"{base}: key and certificate do not match")
    with open(os.path.join(pki, "ca.crt"), "rb") as handle:
        ca_pem = handle.read().strip()
    for name in KUBECONFIGS:
        with open(os.path.join(rootfs, "etc/kubernetes", name), encoding="utf-8") as handle:
            doc = yaml.safe_load(handle)
        embedded = base64.b64decode(doc["clusters"][0]["cluster"]["certificate-authority-data"]).strip()
        if embedded != ca_pem:
            problems.append(f"{name}: embeds another CA than pki/ca.crt")
    return problems


# --- forked runs ------------------------------------------------------------------------------------------

def fork_run(target, *, kill_at: int = None, before_rename: bool = True, delay_first_rename: float = 0.0) -> int:
    """Run target() in a forked child (a real process of its own); with kill_at=N the child kills
    itself with SIGKILL at its N-th os.replace, before it (between fsync and rename) or right after.
    Returns the child's pid; wait with wait_child."""
    pid = os.fork()
    if pid:
        return pid
    try:  # the child: never returns into pytest
        real_replace = os.replace
        calls = [0]

        def replace(src, dst, *args, **kwargs):
            calls[0] += 1
            if calls[0] == 1 and delay_first_rename:
                time.sleep(delay_first_rename)
            if calls[0] == kill_at and before_rename:
                os.kill(os.getpid(), signal.SIGKILL)
            real_replace(src, dst, *args, **kwargs)
            if calls[0] == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
        os.replace = replace
        target()
        os._exit(0)
    except BaseException:  # noqa: BLE001 - any failure is the child's exit status
        import traceback
        traceback.print_exc()
        os._exit(3)


def wait_child(pid: int, timeout: float = 120.0) -> int:
    """The child's exit code (negative: killed by that signal)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    raise AssertionError(f"child {pid} did not finish within {timeout:g}s")


def count_renames(target) -> int:
    """How many os.replace calls target() makes (run in this process)."""
    real_replace = os.replace
    calls = [0]

    def replace(src, dst, *args, **kwargs):
        calls[0] += 1
        real_replace(src, dst, *args, **kwargs)
    os.replace = replace
    try:
        target()
    finally:
        os.replace = real_replace
    return calls[0]


# --- hostile endpoints ------------------------------------------------------------------------------------

class HostileServer:
    """A TLS server on 127.0.0.1 with its own CA that answers every request with `answer(path)`
    (bytes of a JSON body, or None for 404), optionally one byte every `trickle` seconds, and
    records every byte it receives (to prove a secret was never sent to it)."""

    def __init__(self, answer, trickle: float = 0.0, ca: testpki.CA = None):
        self.ca = ca or testpki.new_ca("hostile-ca")
        cert, key = self.ca.issue("hostile", server=True, client=False, dns=["localhost"], ips=["127.0.0.1"])
        self.dir = tempfile.mkdtemp(prefix="hostile-")
        crt, pem = os.path.join(self.dir, "tls.crt"), os.path.join(self.dir, "tls.key")
        with open(crt, "wb") as handle:
            handle.write(testpki.cert_pem(cert))
        with open(pem, "wb") as handle:
            handle.write(testpki.key_pem(key))
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(crt, pem)
        self.answer = answer
        self.trickle = trickle
        self.received = bytearray()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                raw, _addr = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._handle, args=(raw,), daemon=True).start()

    def _handle(self, raw) -> None:
        try:
            conn = self.context.wrap_socket(raw, server_side=True)
        except OSError:
            raw.close()
            return
        try:
            conn.settimeout(5)
            while not self.stopped.is_set():
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    head += chunk
                self.received += head
                path = head.split(b" ", 2)[1].decode("latin-1")
                body = self.answer(path)
                status = b"200 OK" if body is not None else b"404 Not Found"
                body = body if body is not None else b'{"kind":"Status","code":404}'
                reply = (b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\nContent-Length: "
                         + str(len(body)).encode() + b"\r\n\r\n" + body)
                if self.trickle:
                    for byte in reply:
                        if self.stopped.is_set():
                            return
                        conn.sendall(bytes([byte]))
                        time.sleep(self.trickle)
                else:
                    conn.sendall(reply)
        except OSError:
            return
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def stop(self) -> None:
        self.stopped.set()
        self.sock.close()
