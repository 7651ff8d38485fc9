"""kubeconfigcmd.py: `kubeadm kubeconfig user` - the certificate (checked with openssl), the server,
a file kept while it fits, a token form, and the refusals (before anything is written)."""
from __future__ import annotations

import base64
import os
import subprocess

import pytest
import yaml

from ansible_collections.kubeboot.cluster.plugins.module_utils import config, errors, kubeconfig, kubeconfigcmd, pki
from ansible_collections.kubeboot.cluster.plugins.module_utils.files import HostFS, Writer

TOKEN = "abcdef.0123456789abcdef"


@pytest.fixture
def node(tmp_path):
    """A control-plane node's CA and admin.conf (ECDSA: fast)."""
    root = str(tmp_path / "root")
    cfg = config.sample_init_config(paths={"cluster.encryptionAlgorithm": "ECDSA-P256",
                                           "cluster.controlPlaneEndpoint": "api.example.test:6443"})
    fs = HostFS(root)
    pki.ensure_certificates(cfg, fs, Writer(fs), only=["ca"])
    kubeconfig.ensure_kubeconfigs(cfg, fs, Writer(fs), only=["admin"])
    return root


def _user_cert(text: str, tmp_path) -> str:
    doc = yaml.safe_load(text)
    path = tmp_path / "user.pem"
    path.write_bytes(base64.b64decode(doc["users"][0]["user"]["client-certificate-data"]))
    return str(path)


def test_user_certificate_signed_by_the_cluster_ca(node, tmp_path, openssl):
    params = {"rootfs": node, "client_name": "alice", "org": ["developers", "ops"], "validity_period": "720h",
              "path": "/root/alice.conf"}
    result = kubeconfigcmd.run_kubeconfig(params)
    assert result["changed"] is True and result["server"] == "https://api.example.test:6443"
    assert result["server_from"] == "/etc/kubernetes/admin.conf"
    path = f"{node}/root/alice.conf"
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    text = open(path).read()
    doc = yaml.safe_load(text)
    assert doc["current-context"] == "alice@kubernetes" and doc["users"][0]["name"] == "alice"
    cert = _user_cert(text, tmp_path)
    out = subprocess.run([openssl, "verify", "-CAfile", f"{node}/etc/kubernetes/pki/ca.crt", cert],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    subject = subprocess.run([openssl, "x509", "-noout", "-subject", "-ext", "extendedKeyUsage", "-in", cert],
                             capture_output=True, text=True).stdout
    assert "O=developers, O=ops, CN=alice" in subject.replace(" = ", "=") and "TLS Web Client Authentication" in subject
    dates = subprocess.run([openssl, "x509", "-noout", "-checkend", str(719 * 3600), "-in", cert]).returncode
    assert dates == 0  # valid for more than 719h ...
    assert subprocess.run([openssl, "x509", "-noout", "-checkend", str(721 * 3600), "-in", cert]).returncode == 1
    assert "PRIVATE KEY" not in str(result["diff"]) and "client-key-data" not in str(result["diff"])

    mtime = os.stat(path).st_mtime_ns
    again = kubeconfigcmd.run_kubeconfig(params)
    assert again["changed"] is False and os.stat(path).st_mtime_ns == mtime
    longer = kubeconfigcmd.run_kubeconfig(dict(params, validity_period="1000h"))
    assert longer["changed"] is True, "a new validity period needs a new certificate"
    groups = kubeconfigcmd.run_kubeconfig(dict(params, validity_period="1000h", org=["developers"]))
    assert groups["changed"] is True


def test_check_mode_writes_nothing(node):
    params = {"rootfs": node, "client_name": "bob", "path": "/root/bob.conf"}
    result = kubeconfigcmd.run_kubeconfig(params, check_mode=True)
    assert result["changed"] is True and not os.path.exists(f"{node}/root/bob.conf")


def test_token_kubeconfig_needs_no_ca_key(node):
    os.unlink(f"{node}/etc/kubernetes/pki/ca.key")
    result = kubeconfigcmd.run_kubeconfig({"rootfs": node, "client_name": "bootstrap", "token": TOKEN},
                                          no_log=True)
    doc = yaml.safe_load(result["kubeconfig"])
    assert doc["users"][0]["user"] == {"token": TOKEN} and "expiration_date" not in result
    assert result["changed"] is False


def test_the_server_from_a_config_file(node, tmp_path):
    path = tmp_path / "kubeadm.yaml"
    path.write_text("apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint:\n"
                    "  advertiseAddress: 192.0.2.7\n  bindPort: 7443\n---\napiVersion: kubeadm.k8s.io/v1beta4\n"
                    "kind: ClusterConfiguration\nclusterName: prod\n")
    result = kubeconfigcmd.run_kubeconfig({"rootfs": node, "client_name": "carol", "config": str(path)},
                                          no_log=True)
    assert result["server"] == "https://192.0.2.7:7443" and result["cluster_name"] == "prod"
    assert yaml.safe_load(result["kubeconfig"])["current-context"] == "carol@prod"


@pytest.mark.parametrize("params, field", [
    ({"client_name": " "}, "client_name"),
    ({"client_name": "x", "validity_period": "a year"}, "validity_period"),
    ({"client_name": "x", "token": "has space"}, "token"),
    ({"client_name": "x", "token": TOKEN, "org": ["g"]}, "org"),
    ({"client_name": "x", "path": "relative.conf"}, "path"),
    ({"client_name": "x"}, "path"),  # returned without no_log
])
def test_bad_input_is_refused_before_writing(node, params, field):
    before = sorted(os.walk(node))
    with pytest.raises(errors.InvalidValue) as exc:
        kubeconfigcmd.run_kubeconfig(dict(params, rootfs=node))
    assert exc.value.field == field
    assert "has space" not in str(exc.value)
    assert sorted(os.walk(node)) == before


def test_a_certificate_needs_the_ca_key(node):
    os.unlink(f"{node}/etc/kubernetes/pki/ca.key")
    with pytest.raises(errors.PKIError) as exc:
        kubeconfigcmd.run_kubeconfig({"rootfs": node, "client_name": "x", "path": "/root/x.conf"})
    assert "ca.key" in str(exc.value)
