"""Reruns and values kubeadm accepts (issue 12): what must work, not fail. A CIDR with host bits and
node names longer than the 64-character CN limit are accepted as kubeadm does; a rerun with a
changed bind port, encryption algorithm or validity period updates what follows it (saying so) and
keeps the CA; bootstrap tokens are never overwritten and reused only when they expire no later than
asked; upload_certs reuses its derived key while the kubeadm-certs Secret is valid (HA reruns
changed=0). Every case runs through the module entry points."""
from __future__ import annotations

import base64
import datetime as dt
import os
import subprocess

import pytest
import yaml

from ansible_collections.kubeboot.cluster.plugins.module_utils import bootstraptoken, copycerts, errors, init, tokens
from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils.apiwriter import ApiWriter
from ansible_collections.kubeboot.cluster.plugins.module_utils.bootstraptoken import BootstrapToken

from tests.support.apiserver.server import ApiDouble
from tests.support.apiserver.testing import free_port
from tests.support.hardening import consistency_problems, init_params, run_init, stray_files, tree_state
from tests.support.memclient import MemClient

pytestmark = pytest.mark.hardening("reruns")

NOW = dt.datetime(2030, 3, 1, 12, 0, 0, tzinfo=dt.timezone.utc)
LONG_NAME = "ip-10-0-101-15." + "eu-central-1-availability-zone-b." + "compute.internal.example.com"  # 78


def _pki(rootfs: str, name: str) -> bytes:
    with open(os.path.join(rootfs, "etc/kubernetes/pki", name), "rb") as handle:
        return handle.read()


def _openssl_subject(pem: bytes, openssl: str) -> str:
    return subprocess.run([openssl, "x509", "-noout", "-subject", "-nameopt", "RFC2253"], input=pem,
                          capture_output=True, check=True, timeout=60).stdout.decode().strip()


def _kubeconfig(rootfs: str, name: str) -> dict:
    with open(os.path.join(rootfs, "etc/kubernetes", name), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def test_pod_cidr_with_host_bits_is_accepted_as_kubeadm(tmp_path):
    """kubeadm's controlplane tests use 10.0.1.15/16: the CIDR is taken as given."""
    rootfs = str(tmp_path / "cp1")
    result = run_init(rootfs, pod_network_cidr="10.0.1.15/16")
    assert result["changed"]
    with open(os.path.join(rootfs, "etc/kubernetes/manifests/kube-controller-manager.yaml"), encoding="utf-8") as f:
        manifest = f.read()
    assert "--cluster-cidr=10.0.1.15/16" in manifest


@pytest.mark.parametrize("length", [65, 78, 253])
def test_node_names_longer_than_a_cn(tmp_path, openssl, length):
    """kubeadm takes node names up to 253 characters (a DNS subdomain); Go writes CNs of any length.
    The certificates carry the whole name, and a rerun changes nothing."""
    name = (LONG_NAME * 4)[:length].rstrip(".-")
    name = name if len(name) == length else name[:-1] + "x" * (length - len(name) + 1)
    assert len(name) == length
    rootfs = str(tmp_path / "cp1")
    assert run_init(rootfs, node_name=name)["changed"]
    assert consistency_problems(rootfs, openssl) == []
    assert f"CN={name}" in _openssl_subject(_pki(rootfs, "etcd/server.crt"), openssl)
    user = _kubeconfig(rootfs, "kubelet.conf")["users"][0]["user"]
    client_cert = base64.b64decode(user["client-certificate-data"])
    assert f"CN=system:node:{name}" in _openssl_subject(client_cert, openssl)
    before = tree_state(rootfs)
    assert not run_init(rootfs, node_name=name)["changed"]
    assert tree_state(rootfs) == before


def test_changed_bind_port_updates_the_kubeconfigs_and_says_so(tmp_path, openssl):
    rootfs = str(tmp_path / "cp1")
    run_init(rootfs)
    ca, admin = _pki(rootfs, "ca.crt"), _kubeconfig(rootfs, "admin.conf")
    result = run_init(rootfs, apiserver_bind_port=7443)
    assert result["changed"]
    after = _kubeconfig(rootfs, "admin.conf")
    assert after["clusters"][0]["cluster"]["server"] == "https://192.0.2.10:7443"
    assert after["users"] == admin["users"]  # the credentials are kept
    assert any("admin.conf" in w and "7443" in w for w in result["warnings"]), result["warnings"]
    assert _pki(rootfs, "ca.crt") == ca and consistency_problems(rootfs, openssl) == []
    assert not run_init(rootfs, apiserver_bind_port=7443)["changed"]


def test_changed_encryption_algorithm_reissues_leaves_and_keeps_the_ca(tmp_path, openssl):
    rootfs = str(tmp_path / "cp1")
    run_init(rootfs)
    ca_key = _pki(rootfs, "ca.key")
    result = run_init(rootfs, encryption_algorithm="RSA-2048")
    assert result["changed"]
    out = subprocess.run([openssl, "pkey", "-noout", "-text"], input=_pki(rootfs, "apiserver.key"),
                         capture_output=True, check=True, timeout=60).stdout
    assert b"2048 bit" in out
    assert _pki(rootfs, "ca.key") == ca_key  # an existing CA is never replaced
    assert any(w.startswith("/etc/kubernetes/pki/ca.crt:") and "ECDSA-P256" in w and "RSA-2048" in w
               for w in result["warnings"]), result["warnings"]
    assert consistency_problems(rootfs, openssl) == [] and stray_files(rootfs) == []
    assert not run_init(rootfs, encryption_algorithm="RSA-2048")["changed"]


def test_changed_validity_period_reissues_leaves(tmp_path, openssl):
    rootfs = str(tmp_path / "cp1")
    run_init(rootfs)
    ca = _pki(rootfs, "ca.crt")
    assert run_init(rootfs, certificate_validity_period="48h")["changed"]
    end = subprocess.run([openssl, "x509", "-noout", "-enddate"], input=_pki(rootfs, "apiserver.crt"),
                         capture_output=True, check=True, timeout=60).stdout.decode().split("=", 1)[1].strip()
    not_after = dt.datetime.strptime(end, "%b %d %H:%M:%S %Y %Z").replace(tzinfo=dt.timezone.utc)
    left = not_after - dt.datetime.now(dt.timezone.utc)
    assert dt.timedelta(hours=47) < left <= dt.timedelta(hours=48, minutes=1), left
    assert _pki(rootfs, "ca.crt") == ca and consistency_problems(rootfs, openssl) == []
    assert not run_init(rootfs, certificate_validity_period="48h")["changed"]


# --- bootstrap tokens (kubeadm_token's ensure_token) ---------------------------------------------------

def _token(ttl: str, token: str = "", description: str = "") -> BootstrapToken:
    return BootstrapToken.from_option(token, ttl, usages=C.TOKEN_USAGES, groups=(C.DEFAULT_TOKEN_GROUP,),
                                      description=description)


@pytest.fixture
def api():
    return ApiWriter(MemClient.with_node("cp1"))


def test_given_token_id_with_another_secret_is_refused(api):
    assert bootstraptoken.ensure_token(api, _token("24h", "abcdef.0123456789abcdef"), now=NOW) == \
        (True, "abcdef.0123456789abcdef")
    with pytest.raises(errors.InvalidValue) as exc:
        bootstraptoken.ensure_token(api, _token("24h", "abcdef.fffffffffffffff0"), now=NOW)
    assert "already holds a bootstrap token with this id" in str(exc.value)
    assert "fffffffffffffff0" not in str(exc.value) and "0123456789abcdef" not in str(exc.value)
    live = BootstrapToken.from_secret(api.get("Secret", tokens.secret_name("abcdef"), C.KUBE_SYSTEM))
    assert live.token == "abcdef.0123456789abcdef"  # the live token was not overwritten


@pytest.mark.parametrize("existing, asked, reused", [
    ("24h", "1h", False),   # lives longer than asked: a new 1h token
    ("1h", "24h", False),   # less than half of what is asked is left
    ("24h", "24h", True),
    ("20h", "24h", True),   # at least half left, no later than asked
])
def test_token_reuse_only_when_it_expires_no_later_than_asked(api, existing, asked, reused):
    _changed, first = bootstraptoken.ensure_token(api, _token(existing), now=NOW)
    changed, second = bootstraptoken.ensure_token(api, _token(asked), now=NOW)
    assert (second == first) is reused and changed is not reused
    if not reused:
        new = BootstrapToken.from_secret(api.get("Secret", tokens.secret_name(second.split(".")[0]), C.KUBE_SYSTEM))
        assert new.remaining(NOW) == _token(asked).ttl


# --- upload_certs on a rerun ------------------------------------------------------------------------------

def test_upload_certs_rerun_reuses_the_derived_key(tmp_path):
    """Two runs with upload_certs and no certificate_key: the second uploads nothing (changed=0) and
    returns the same key, which decrypts the kubeadm-certs Secret into this control plane's CA keys."""
    rootfs = str(tmp_path / "cp1")
    port = free_port()
    args = init_params(rootfs, apiserver_advertise_address="127.0.0.1", apiserver_bind_port=port)
    init.run_init(args)  # the local phases: the double serves the PKI they wrote
    double = ApiDouble(os.path.join(rootfs, "etc/kubernetes/pki"), port=port, controllers_interval="0.2s",
                       kubernetes_version="v1.34.10").start()
    try:
        double.put({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "cp1"}, "spec": {}})
        full = dict(args, skip_phases=["addon"], upload_certs=True)
        first = init.run_init(dict(full))
        second = init.run_init(dict(full))
        secret = double.get("secrets", C.KUBE_SYSTEM, C.KUBEADM_CERTS_SECRET)
    finally:
        double.stop()
    assert first["changed"] and first["certificate_key"]
    assert not second["changed"], second["changed_objects"]
    assert second["certificate_key"] == first["certificate_key"]
    plain = copycerts.decrypt_certs(secret["data"], copycerts.aes_key(second["certificate_key"]))
    assert plain["ca.key"] == _pki(rootfs, "ca.key") and plain["sa.key"] == _pki(rootfs, "sa.key")


def test_module_mode_join_with_a_long_node_name(tmp_path, openssl):
    """The CSR of a node name longer than a CN (module mode: the module signs nothing, it asks): the
    kubelet's client certificate names system:node:<the whole name>, and a rerun changes nothing."""
    from tests.support.joinlab import Lab  # pylint: disable=import-outside-toplevel
    from ansible_collections.kubeboot.cluster.plugins.module_utils import join  # pylint: disable=import-outside-toplevel
    lab = Lab(str(tmp_path / "lab"))
    try:
        lab.wait_signed()
        rootfs = str(tmp_path / "w1")
        params = lab.join_params(rootfs, node_name=LONG_NAME, tls_bootstrap_mode="module")
        assert join.run_join(dict(params))["changed"]
        pem_path = os.path.join(rootfs, "var/lib/kubelet/pki")
        dated = [n for n in os.listdir(pem_path) if n.startswith("kubelet-client-2")]
        assert dated, os.listdir(pem_path)
        with open(os.path.join(pem_path, dated[0]), "rb") as handle:
            assert f"CN=system:node:{LONG_NAME}" in _openssl_subject(handle.read(), openssl)
        assert not join.run_join(dict(params))["changed"]
    finally:
        lab.stop()
