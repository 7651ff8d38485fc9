"""copycerts.py: cert-key encryption (kubeadm util/crypto), the files shared, the upload-certs phase."""
from __future__ import annotations

import datetime as dt
import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ansible_collections.kubeboot.cluster.plugins.module_utils import copycerts, errors, tokens
from ansible_collections.kubeboot.cluster.plugins.module_utils.apiwriter import ApiWriter
from ansible_collections.kubeboot.cluster.plugins.module_utils.config import sample_init_config
from ansible_collections.kubeboot.cluster.plugins.module_utils.files import HostFS
from tests.support.memclient import MemClient

NOW = dt.datetime(2025, 3, 1, 12, 0, 0, tzinfo=dt.timezone.utc)


def _cfg(version="v1.34.10", **paths):
    paths.setdefault("cluster.networking.podSubnet", "10.244.0.0/16")
    return sample_init_config(version=version, paths=paths)


@pytest.fixture
def client():
    return MemClient.with_node("cp1")


KEY = "0123456789abcdef" * 4


PLAIN = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit."


def test_encrypt_roundtrip_and_wrong_key():
    blob = copycerts.encrypt_bytes(PLAIN, KEY)
    assert len(blob) == 12 + len(PLAIN) + 16
    assert copycerts.decrypt_bytes(blob, KEY) == PLAIN
    with pytest.raises(errors.PKIError):
        copycerts.decrypt_bytes(blob, os.urandom(32).hex())
    with pytest.raises(errors.PKIError):
        copycerts.decrypt_bytes(b"short", KEY)
    with pytest.raises(errors.InvalidValue):
        copycerts.encrypt_bytes(PLAIN, "")
    with pytest.raises(errors.InvalidValue):
        copycerts.encrypt_bytes(PLAIN, "zz" * 32)


def test_encrypt_fixed_vector_independent():
    nonce = bytes(range(12))
    key = bytes.fromhex(KEY)
    expected = nonce + AESGCM(key).encrypt(nonce, PLAIN, None)  # the primitive, computed here
    assert copycerts.encrypt_bytes(PLAIN, KEY, nonce=nonce) == expected
    assert copycerts.decrypt_bytes(expected, KEY) == PLAIN


def test_encrypt_certs_secret_data():
    files = {"ca.crt": b"CERT", "ca.key": None, "sa.pub": b""}
    data = copycerts.encrypt_certs(files, KEY)
    assert data["ca.key"] == ""
    assert copycerts.decrypt_certs(data, KEY) == {"ca.crt": b"CERT", "sa.pub": b""}
    with pytest.raises(errors.PKIError):
        copycerts.decrypt_certs(data, "ff" * 32)


def test_certs_to_upload_local_and_external():
    cfg = _cfg()
    assert copycerts.certs_to_upload(cfg) == {
        "ca.crt": "/etc/kubernetes/pki/ca.crt", "ca.key": "/etc/kubernetes/pki/ca.key",
        "front-proxy-ca.crt": "/etc/kubernetes/pki/front-proxy-ca.crt",
        "front-proxy-ca.key": "/etc/kubernetes/pki/front-proxy-ca.key",
        "sa.pub": "/etc/kubernetes/pki/sa.pub", "sa.key": "/etc/kubernetes/pki/sa.key",
        "etcd-ca.crt": "/etc/kubernetes/pki/etcd/ca.crt", "etcd-ca.key": "/etc/kubernetes/pki/etcd/ca.key"}
    cfg.cluster["etcd"] = {"external": {"endpoints": ["https://e:2379"], "caFile": "/e/ca.crt",
                                        "certFile": "/e/c.crt", "keyFile": "/e/c.key"}}
    files = copycerts.certs_to_upload(cfg)
    assert files["external-etcd-ca.crt"] == "/e/ca.crt" and files["external-etcd.key"] == "/e/c.key"
    assert "etcd-ca.crt" not in files


def _pki(rootfs):
    for name in ("ca.crt", "ca.key", "front-proxy-ca.crt", "front-proxy-ca.key", "sa.pub", "sa.key",
                 "etcd/ca.crt", "etcd/ca.key"):
        path = os.path.join(rootfs, "etc/kubernetes/pki", name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(f"content of {name}".encode())


def test_upload_certs_phase(client, rootfs):
    _pki(rootfs)
    cfg = _cfg()
    fs = HostFS(rootfs)
    result = copycerts.upload_certs(ApiWriter(client), cfg, fs, KEY, now=NOW)
    assert result["changed"]
    secret = client.obj("Secret", "kubeadm-certs", "kube-system")
    assert secret["type"] == "Opaque"
    ref = secret["metadata"]["ownerReferences"][0]
    owner = client.obj("Secret", ref["name"], "kube-system")
    assert ref == {"apiVersion": "v1", "kind": "Secret", "name": owner["metadata"]["name"],
                   "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}
    parsed = tokens.parse_token_secret(owner)
    assert parsed["usages"] == [] and parsed["groups"] == []
    assert parsed["description"] == "Proxy for managing TTL for the kubeadm-certs secret"
    assert parsed["expires"] == "2025-03-01T14:00:00Z"
    plain = copycerts.decrypt_certs(secret["data"], KEY)
    assert plain["etcd-ca.key"] == b"content of etcd/ca.key" and len(plain) == 8
    assert client.obj("Role", "kubeadm:kubeadm-certs", "kube-system")
    # rerun: nothing rewritten, no new proxy token
    n = len(client.writes)
    assert copycerts.upload_certs(ApiWriter(client), cfg, fs, KEY, now=NOW + dt.timedelta(minutes=5))["changed"] is False
    assert client.writes[n:] == []
    # a different key or changed file re-uploads
    assert copycerts.upload_certs(ApiWriter(client), cfg, fs, "ab" * 32, now=NOW)["changed"] is True
    with open(os.path.join(rootfs, "etc/kubernetes/pki/sa.pub"), "wb") as handle:
        handle.write(b"new")
    assert copycerts.upload_certs(ApiWriter(client), cfg, fs, "ab" * 32, now=NOW)["changed"] is True
