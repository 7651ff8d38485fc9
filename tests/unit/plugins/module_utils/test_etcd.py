"""etcd.py against a real etcd (/usr/bin/etcd, TLS with client certs) on loopback."""
from __future__ import annotations

import os
import socket
import subprocess
import time

import pytest

from ansible_collections.kubeboot.cluster.plugins.module_utils import etcd

from tests.support import testpki

ETCD = "/usr/bin/etcd"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    if not os.path.exists(ETCD):
        pytest.fail("etcd is required (see .ci/run)")
    ca = testpki.new_ca("etcd-ca")
    cert, key = ca.issue("etcd-server", server=True, client=True, dns=("localhost",), ips=("127.0.0.1",))
    client_cert, client_key = ca.issue("kube-etcd-healthcheck-client")
    files = {}
    for name, data in (("ca.crt", ca.cert_pem), ("server.crt", testpki.cert_pem(cert)),
                       ("server.key", testpki.key_pem(key))):
        path = tmp_path / name
        path.write_bytes(data)
        files[name] = str(path)
    client_port, peer_port = _free_port(), _free_port()
    peer = f"https://127.0.0.1:{peer_port}"
    proc = subprocess.Popen([
        ETCD, "--name=e1", f"--data-dir={tmp_path / 'data'}",
        f"--listen-client-urls=https://127.0.0.1:{client_port}",
        f"--advertise-client-urls=https://127.0.0.1:{client_port}",
        f"--listen-peer-urls={peer}", f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=e1={peer}", "--client-cert-auth=true",
        f"--trusted-ca-file={files['ca.crt']}", f"--cert-file={files['server.crt']}",
        f"--key-file={files['server.key']}", f"--peer-trusted-ca-file={files['ca.crt']}",
        f"--peer-cert-file={files['server.crt']}", f"--peer-key-file={files['server.key']}",
        "--peer-client-cert-auth=true"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = etcd.Client([f"https://127.0.0.1:{client_port}"], ca.cert_pem, testpki.cert_pem(client_cert),
                         testpki.key_pem(client_key), timeout=5)
    try:
        client.wait_healthy(20, interval=0.2)
        yield client, peer, ca
    finally:
        proc.terminate()
        proc.wait(10)


def test_member_list_and_health(server):
    client, peer, _ca = server
    members = client.member_list()
    assert [m.name for m in members] == ["e1"] and members[0].peer_urls == [peer]
    assert members[0].started and not members[0].is_learner
    assert all(client.endpoint_health().values())


def test_add_learner_is_idempotent_and_promote_waits(server):
    client, peer, _ca = server
    new_peer = "https://127.0.0.2:2380"
    first = etcd.add_learner(client, "e2", new_peer)
    assert first["changed"] and first["member"].is_learner
    assert sorted(first["initial_cluster"]) == [("e1", peer), ("e2", new_peer)]
    again = etcd.add_learner(client, "e2", new_peer)
    assert again["changed"] is False and again["initial_cluster"] == first["initial_cluster"]
    # the learner never starts: promotion is retried, then times out naming the member
    with pytest.raises(etcd.EtcdError, match="timed out.*promoting"):
        etcd.promote_when_ready(client, new_peer, timeout=1.5, interval=0.3)
    removed = client.member_remove(first["member"].id)
    assert [m.name for m in removed] == ["e1"]


def test_peer_url_of_another_member_is_refused(server):
    client, peer, _ca = server
    with pytest.raises(etcd.EtcdError, match="already uses the peer URL"):
        etcd.add_learner(client, "other", peer)


def test_wrong_client_certificate_is_refused(server):
    client, _peer, _ca = server
    stranger = testpki.new_ca("stranger")
    cert, key = stranger.issue("x")
    bad = etcd.Client(client.endpoints, _ca.cert_pem, testpki.cert_pem(cert), testpki.key_pem(key), timeout=3)
    with pytest.raises(etcd.EtcdError):
        bad.member_list()


def test_unreachable_endpoint():
    client = etcd.Client(["https://127.0.0.1:1"], timeout=1)
    start = time.monotonic()
    with pytest.raises(etcd.EtcdError, match="no etcd endpoint reachable"):
        client.member_list()
    assert time.monotonic() - start < 5
