"""certscmd.py: the kubeadm_certs body - options checked before anything runs, the configuration
kubeadm would use, generate-csr for an external CA (checked with openssl), the certificate key."""
from __future__ import annotations

import base64
import os
import subprocess
import textwrap

import pytest
import yaml

from ansible_collections.kubeboot.cluster.plugins.module_utils import certscmd, errors

CONFIG = """\
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint:
  advertiseAddress: 192.0.2.44
nodeRegistration:
  name: cp-ext
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: v1.35.2
controlPlaneEndpoint: api.example.test:6443
encryptionAlgorithm: ECDSA-P256
certificateValidityPeriod: 48h0m0s
apiServer:
  certSANs: [203.0.113.9]
"""


def _config(tmp_path, text=CONFIG) -> str:
    path = tmp_path / "kubeadm.yaml"
    path.write_text(textwrap.dedent(text))
    return str(path)


def _run(openssl, *args) -> str:
    return subprocess.run([openssl, *args], capture_output=True, text=True, check=True).stdout


def _state(root) -> dict:
    return {os.path.join(d, f): open(os.path.join(d, f), "rb").read()
            for d, _s, files in os.walk(root) for f in files}


@pytest.mark.parametrize("params, field", [
    ({"renew": ["all"], "generate_csr": True}, "generate_csr"),
    ({"renew_before": "thirty days"}, "renew_before"),
    ({"renew_before": "0"}, "renew_before"),
])
def test_bad_options_fail_first(params, field, tmp_path):
    with pytest.raises(errors.InvalidValue) as exc:
        certscmd.run_certs(dict(params, rootfs=str(tmp_path)))
    assert exc.value.field == field
    assert os.listdir(tmp_path) == []


def test_renew_before_alone_means_all():
    assert certscmd.check_params({"renew_before": "720h"}) == {"renew": ["all"], "renew_before": 720 * 3600.0}
    assert certscmd.check_params({"renew": ["apiserver"], "renew_before": ""}) == {"renew": ["apiserver"],
                                                                                  "renew_before": None}


def test_configuration_from_a_file_or_the_defaults(tmp_path):
    warnings = []
    cfg, source = certscmd.cluster_config({"config": _config(tmp_path), "cert_dir": "/srv/pki"}, None, warnings)
    assert source == "config" and cfg.cert_dir == "/srv/pki"
    assert cfg.cluster["certificateValidityPeriod"] == "48h0m0s" and cfg.version == "v1.35.2"
    from ansible_collections.kubeboot.cluster.plugins.module_utils.files import HostFS
    cfg, source = certscmd.cluster_config({"kubeconfig": "/etc/kubernetes/admin.conf"}, HostFS(str(tmp_path)), [])
    assert source == "defaults" and cfg.cert_dir == "/etc/kubernetes/pki"


def test_certificate_key_needs_no_log(tmp_path):
    with pytest.raises(errors.InvalidValue) as exc:
        certscmd.run_certs({"rootfs": str(tmp_path), "generate_certificate_key": True})
    assert "no_log" in str(exc.value)
    result = certscmd.run_certs({"rootfs": str(tmp_path), "generate_certificate_key": True}, no_log=True)
    key = result["certificate_key"]
    assert len(key) == 64 and bytes.fromhex(key) and result["changed"] is False


def test_generate_csr_writes_kubeadms_external_ca_files(tmp_path, openssl):
    root = str(tmp_path / "root")
    params = {"rootfs": root, "generate_csr": True, "config": _config(tmp_path)}
    check = certscmd.run_certs(params, check_mode=True)
    assert check["changed"] is True and not os.path.exists(root)
    result = certscmd.run_certs(params)
    pki = f"{root}/etc/kubernetes/pki"
    assert {row["name"]: row["action"] for row in result["csr"]} == {
        name: "created" for name in ("apiserver", "apiserver-kubelet-client", "front-proxy-client", "etcd-server",
                                     "etcd-peer", "etcd-healthcheck-client", "apiserver-etcd-client", "admin.conf",
                                     "super-admin.conf", "kubelet.conf", "controller-manager.conf", "scheduler.conf")}
    for base in ("apiserver", "apiserver-kubelet-client", "front-proxy-client", "etcd/server", "etcd/peer",
                 "etcd/healthcheck-client", "apiserver-etcd-client"):
        assert "verify OK" in subprocess.run([openssl, "req", "-verify", "-noout", "-in", f"{pki}/{base}.csr"],
                                             capture_output=True, text=True).stderr
        assert _run(openssl, "req", "-noout", "-pubkey", "-in", f"{pki}/{base}.csr") == \
            _run(openssl, "pkey", "-pubout", "-in", f"{pki}/{base}.key")
        assert oct(os.stat(f"{pki}/{base}.key").st_mode & 0o777) == "0o600"
        assert oct(os.stat(f"{pki}/{base}.csr").st_mode & 0o777) == "0o644"
    text = _run(openssl, "req", "-noout", "-text", "-in", f"{pki}/apiserver.csr")
    assert "CN = kube-apiserver" in text
    for san in ("DNS:api.example.test", "DNS:cp-ext", "IP Address:203.0.113.9", "IP Address:192.0.2.44",
                "IP Address:10.96.0.1", "DNS:kubernetes.default.svc.cluster.local"):
        assert san in text
    assert "subject=O=kubeadm:cluster-admins, CN=kube-apiserver-kubelet-client" in \
        _run(openssl, "req", "-noout", "-subject", "-nameopt", "sep_comma_plus_space", "-in",
             f"{pki}/apiserver-kubelet-client.csr")
    admin = yaml.safe_load(open(f"{root}/etc/kubernetes/admin.conf"))
    assert admin["clusters"][0]["cluster"] == {"server": "https://api.example.test:6443"}
    assert set(admin["users"][0]["user"]) == {"client-key-data"} and admin["users"][0]["name"] == "kubernetes-admin"
    assert "subject=O=kubeadm:cluster-admins, CN=kubernetes-admin" in _run(
        openssl, "req", "-noout", "-subject", "-nameopt", "sep_comma_plus_space", "-in",
        f"{root}/etc/kubernetes/admin.conf.csr")
    assert oct(os.stat(f"{root}/etc/kubernetes/admin.conf").st_mode & 0o777) == "0o600"
    assert "PRIVATE KEY" not in str(result["diff"])

    state = _state(root)
    again = certscmd.run_certs(params)
    assert again["changed"] is False and {row["action"] for row in again["csr"]} == {"kept"}
    assert _state(root) == state


def test_generate_csr_keeps_what_the_external_ca_signed(tmp_path, openssl):
    root = str(tmp_path / "root")
    params = {"rootfs": root, "generate_csr": True, "config": _config(tmp_path)}
    certscmd.run_certs(params)
    pki = f"{root}/etc/kubernetes/pki"
    _run(openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj",
         "/CN=external-ca", "-keyout", str(tmp_path / "ca.key"), "-out", str(tmp_path / "ca.crt"), "-days", "2")
    _run(openssl, "x509", "-req", "-in", f"{pki}/apiserver.csr", "-CA", str(tmp_path / "ca.crt"), "-CAkey",
         str(tmp_path / "ca.key"), "-CAcreateserial", "-out", f"{pki}/apiserver.crt", "-days", "1")
    os.unlink(f"{pki}/apiserver.csr")  # signed and put in place: the CSR is not needed any more
    signed = f"{root}/etc/kubernetes/scheduler.conf"
    doc = yaml.safe_load(open(signed))
    _run(openssl, "x509", "-req", "-in", signed + ".csr", "-CA", str(tmp_path / "ca.crt"), "-CAkey",
         str(tmp_path / "ca.key"), "-CAcreateserial", "-out", str(tmp_path / "scheduler.crt"), "-days", "1")
    doc["users"][0]["user"]["client-certificate-data"] = base64.b64encode(
        open(tmp_path / "scheduler.crt", "rb").read()).decode()
    open(signed, "w").write(yaml.safe_dump(doc))
    state = _state(root)
    again = certscmd.run_certs(params)
    assert again["changed"] is False and _state(root) == state
    rows = {row["name"]: row for row in again["certificates"]}
    assert rows["apiserver"]["missing"] is False and rows["scheduler.conf"]["missing"] is False
    assert rows["admin.conf"]["missing"] is True  # no signed certificate yet
