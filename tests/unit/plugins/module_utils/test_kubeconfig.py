"""kubeconfig.py: files checked with kubectl and openssl (not our own parser)."""
from __future__ import annotations

import base64
import json
import os
import subprocess

import pytest
import yaml

from ansible_collections.kubeboot.cluster.plugins.module_utils import kubelet, pkiutil
from ansible_collections.kubeboot.cluster.plugins.module_utils import config, files, kubeconfig, kubeconfigutil, pki
from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import InvalidValue, PKIError

from tests.support import testpki

EXPECTED = {  # file: (user/CN, O list, server kind)
    "admin.conf": ("kubernetes-admin", ["kubeadm:cluster-admins"], "endpoint"),
    "super-admin.conf": ("kubernetes-super-admin", ["system:masters"], "endpoint"),
    "kubelet.conf": ("system:node:cp1", ["system:nodes"], "local"),
    "controller-manager.conf": ("system:kube-controller-manager", [], "local"),
    "scheduler.conf": ("system:kube-scheduler", [], "local"),
}


def real(rootfs, host_path):
    return os.path.join(rootfs, host_path.lstrip("/"))


def conf(rootfs, name):
    return real(rootfs, f"{C.KUBERNETES_DIR}/{name}")


def ca_file(rootfs):
    return real(rootfs, f"{C.PKI_DIR}/ca.crt")


def setup_tree(rootfs, cfg=None, check_mode=False, certs=True):
    cfg = cfg or config.sample_init_config()
    fs = files.HostFS(rootfs)
    if certs:
        pki.ensure_certificates(cfg, fs, files.Writer(fs), only=["ca"])
    writer = files.Writer(fs, check_mode=check_mode)
    return kubeconfig.ensure_kubeconfigs(cfg, fs, writer), writer


def kubectl_views(kubectl, env, paths) -> list:
    """`kubectl config view --raw -o json` of each file (run side by side: kubectl starts slowly here)."""
    procs = [subprocess.Popen([kubectl, "--kubeconfig", path, "config", "view", "--raw", "-o", "json"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for path in paths]
    views = []
    for path, proc in zip(paths, procs):
        try:
            out, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        assert proc.returncode == 0, (path, err)
        views.append(json.loads(out))
    return views


def kubectl_view(kubectl, env, path) -> dict:
    return kubectl_views(kubectl, env, [path])[0]


def snapshot(rootfs):
    base = real(rootfs, C.KUBERNETES_DIR)
    out = {}
    for name in sorted(os.listdir(base)):
        path = os.path.join(base, name)
        if os.path.isfile(path):
            out[name] = (open(path, "rb").read(), os.stat(path).st_mtime_ns)
    return out


def by_name(results):
    return {r["name"]: r for r in results}


# --- rendering ------------------------------------------------------------------------------

def test_render_matches_kubeadm_layout():
    text = kubeconfig.render_kubeconfig("https://10.0.0.1:6443", b"CA", "kubernetes-admin", b"CERT", b"KEY")
    assert text == (
        "apiVersion: v1\n"
        "clusters:\n"
        "- cluster:\n"
        f"    certificate-authority-data: {base64.b64encode(b'CA').decode()}\n"
        "    server: https://10.0.0.1:6443\n"
        "  name: kubernetes\n"
        "contexts:\n"
        "- context:\n"
        "    cluster: kubernetes\n"
        "    user: kubernetes-admin\n"
        "  name: kubernetes-admin@kubernetes\n"
        "current-context: kubernetes-admin@kubernetes\n"
        "kind: Config\n"
        "preferences: {}\n"
        "users:\n"
        "- name: kubernetes-admin\n"
        "  user:\n"
        f"    client-certificate-data: {base64.b64encode(b'CERT').decode()}\n"
        f"    client-key-data: {base64.b64encode(b'KEY').decode()}\n")


def test_render_token_and_parse_round_trip():
    text = kubeconfig.render_kubeconfig("https://[fd00::1]:6443", b"-----CA-----\n", "tls-bootstrap-token-user",
                                        token="abcdef.0123456789abcdef", cluster_name="prod")
    doc = yaml.safe_load(text)
    assert doc["users"] == [{"name": "tls-bootstrap-token-user", "user": {"token": "abcdef.0123456789abcdef"}}]
    info = kubeconfig.parse_kubeconfig(text)
    assert info == {"cluster_name": "prod", "server": "https://[fd00::1]:6443", "ca_pem": b"-----CA-----\n",
                    "user_name": "tls-bootstrap-token-user", "client_cert_pem": None, "client_key_pem": None,
                    "token": "abcdef.0123456789abcdef"}
    with pytest.raises(PKIError):
        kubeconfig.render_kubeconfig("https://x:1", b"CA", "u")
    with pytest.raises(PKIError, match="not a kubeconfig"):
        kubeconfig.parse_kubeconfig("- a\n- b\n")


def test_endpoints():
    cfg = config.sample_init_config()
    assert kubeconfig.control_plane_endpoint(cfg) == "https://192.0.2.10:6443"
    cfg.cluster["controlPlaneEndpoint"] = "lb.example.com"
    assert kubeconfig.control_plane_endpoint(cfg) == "https://lb.example.com:6443"
    cfg.cluster["controlPlaneEndpoint"] = "lb.example.com:8443"
    assert kubeconfig.control_plane_endpoint(cfg) == "https://lb.example.com:8443"
    cfg.cluster["controlPlaneEndpoint"] = "fd00::1"
    assert kubeconfig.control_plane_endpoint(cfg) == "https://[fd00::1]:6443"
    cfg6 = config.sample_init_config(advertise_address="fd00::10")
    cfg6.init["localAPIEndpoint"]["bindPort"] = 7443
    assert kubeconfig.local_endpoint(cfg6) == "https://[fd00::10]:7443"


# --- the phase set --------------------------------------------------------------------------

def test_all_kubeconfigs_with_kubectl_and_openssl(rootfs, kubectl, kubectl_env, openssl, tmp_path):
    cfg = config.sample_init_config(paths={"cluster.controlPlaneEndpoint": "lb.example.com"})
    results, writer = setup_tree(rootfs, cfg)
    assert [r["name"] for r in results] == ["admin", "super-admin", "kubelet", "controller-manager", "scheduler"]
    assert all(r["action"] == "created" and r["changed"] and r["expires"] for r in results)
    ca_pem = open(ca_file(rootfs), "rb").read()
    views = kubectl_views(kubectl, kubectl_env, [conf(rootfs, name) for name in EXPECTED])
    for (name, (user, orgs, kind)), view in zip(EXPECTED.items(), views):
        path = conf(rootfs, name)
        assert os.stat(path).st_mode & 0o777 == 0o600
        assert view["current-context"] == f"{user}@kubernetes"
        cluster = view["clusters"][0]
        assert cluster["name"] == "kubernetes"
        server = "https://lb.example.com:6443" if kind == "endpoint" else "https://192.0.2.10:6443"
        assert cluster["cluster"]["server"] == server, name
        assert base64.b64decode(cluster["cluster"]["certificate-authority-data"]) == ca_pem
        assert view["users"][0]["name"] == user
        cert_pem = base64.b64decode(view["users"][0]["user"]["client-certificate-data"])
        key_pem = base64.b64decode(view["users"][0]["user"]["client-key-data"])
        assert key_pem.startswith(b"-----BEGIN RSA PRIVATE KEY-----")
        cert_path = tmp_path / f"{name}.crt"
        cert_path.write_bytes(cert_pem)
        verify = subprocess.run([openssl, "verify", "-CAfile", ca_file(rootfs), str(cert_path)],
                                capture_output=True, text=True, timeout=60)
        assert verify.returncode == 0, (name, verify.stdout, verify.stderr)
        subject = subprocess.run([openssl, "x509", "-in", str(cert_path), "-noout", "-subject", "-ext",
                                  "extendedKeyUsage"], capture_output=True, text=True, timeout=60, check=True).stdout
        want = ", ".join([f"O = {o}" for o in orgs] + [f"CN = {user}"])
        assert f"subject={want}\n" in subject, (name, subject)
        assert "TLS Web Client Authentication" in subject
        # the key in the file belongs to the cert (openssl, not our code)
        key_path = tmp_path / f"{name}.key"
        key_path.write_bytes(key_pem)
        pub_cert = subprocess.run([openssl, "x509", "-in", str(cert_path), "-noout", "-pubkey"],
                                  capture_output=True, timeout=60, check=True).stdout
        pub_key = subprocess.run([openssl, "pkey", "-in", str(key_path), "-pubout"],
                                 capture_output=True, timeout=60, check=True).stdout
        assert pub_cert == pub_key
    for diff in writer.diffs:
        assert "PRIVATE KEY" not in diff["after"] and "client-key-data" not in diff["after"]


@pytest.mark.parametrize("version,gate,kubelet_server", [
    ("v1.33.5", None, "https://192.0.2.10:6443"),
    ("v1.34.10", None, "https://192.0.2.10:6443"),
    ("v1.34.10", False, "https://lb.example.com:6443"),
    ("v1.36.3", None, "https://192.0.2.10:6443"),
])
def test_kubelet_conf_server_follows_local_mode(rootfs, version, gate, kubelet_server):
    cfg = config.sample_init_config(version=version, paths={"cluster.controlPlaneEndpoint": "lb.example.com"})
    if gate is not None:
        cfg.cluster["featureGates"][C.FEATURE_CONTROL_PLANE_KUBELET_LOCAL_MODE] = gate
    setup_tree(rootfs, cfg)
    info = kubeconfig.parse_kubeconfig(open(conf(rootfs, "kubelet.conf")).read())
    assert info["server"] == kubelet_server


@pytest.mark.parametrize("minor", [35, 36, 37])
def test_kubelet_conf_is_local_once_the_gate_is_ga(minor):
    """GA/locked in 1.35, removed in 1.36: a stray `false` must not move kubelet.conf back."""
    cfg = config.sample_init_config(version=f"v1.{minor}.0", paths={"cluster.controlPlaneEndpoint": "lb.example.com"})
    cfg.cluster["featureGates"][C.FEATURE_CONTROL_PLANE_KUBELET_LOCAL_MODE] = False
    assert kubeconfig.server_for(kubeconfig.BY_NAME["kubelet"], cfg) == "https://192.0.2.10:6443"


def test_ipv6_server_urls(rootfs, kubectl, kubectl_env):
    cfg = config.sample_init_config(advertise_address="fd00::10", paths={
        "cluster.networking.serviceSubnet": "fd00:10:96::/112", "cluster.controlPlaneEndpoint": "[fd00::1]:8443"})
    setup_tree(rootfs, cfg)
    admin, scheduler = kubectl_views(kubectl, kubectl_env, [conf(rootfs, "admin.conf"), conf(rootfs, "scheduler.conf")])
    assert admin["clusters"][0]["cluster"]["server"] == "https://[fd00::1]:8443"
    assert scheduler["clusters"][0]["cluster"]["server"] == "https://[fd00::10]:6443"


def test_idempotent_and_check_mode(rootfs):
    results, writer = setup_tree(rootfs, check_mode=True)
    assert not os.path.exists(conf(rootfs, "admin.conf"))
    assert all(r["action"] == "created" and r["changed"] for r in results)
    assert all(d["after"] == files.SECRET_PLACEHOLDER for d in writer.diffs)
    setup_tree(rootfs, certs=False)
    before = snapshot(rootfs)
    results, writer = setup_tree(rootfs, certs=False)
    assert snapshot(rootfs) == before and writer.changed_paths == []
    assert all(r["action"] == "reused" and not r["changed"] for r in results)


def test_only_selects_files(rootfs):
    fs = files.HostFS(rootfs)
    cfg = config.sample_init_config()
    pki.ensure_certificates(cfg, fs, files.Writer(fs), only=["ca"])
    results = kubeconfig.ensure_kubeconfigs(cfg, fs, files.Writer(fs), only=["admin", "scheduler.conf"])
    assert [r["name"] for r in results] == ["admin", "scheduler"]
    assert sorted(snapshot(rootfs)) == ["admin.conf", "scheduler.conf"]
    with pytest.raises(InvalidValue):
        kubeconfig.ensure_kubeconfigs(cfg, fs, files.Writer(fs), only=["bogus"])


def test_missing_ca_is_an_error(rootfs):
    with pytest.raises(PKIError, match=r"ca\.crt does not exist"):
        setup_tree(rootfs, certs=False)


def test_server_mismatch_keeps_file_with_warning(rootfs):
    setup_tree(rootfs)
    before = snapshot(rootfs)
    cfg = config.sample_init_config(paths={"cluster.controlPlaneEndpoint": "lb.example.com"})
    results, writer = setup_tree(rootfs, cfg, certs=False)
    assert snapshot(rootfs) == before and writer.changed_paths == []
    admin = by_name(results)["admin"]
    assert admin["action"] == "reused"
    assert admin["warnings"] == ["/etc/kubernetes/admin.conf points at https://192.0.2.10:6443, expected "
                                 "https://lb.example.com:6443; kept as it is (kubeadm does the same)"]
    assert "warnings" not in by_name(results)["scheduler"]


def test_kubeconfig_for_another_ca_is_an_error(rootfs):
    setup_tree(rootfs)
    other_key = pkiutil.generate_key("ECDSA-P256")
    other = pkiutil.new_ca("kubernetes", other_key)
    text = kubeconfig.render_kubeconfig("https://192.0.2.10:6443", pkiutil.cert_to_pem(other), "kubernetes-admin",
                                        b"x", b"y")
    with open(conf(rootfs, "admin.conf"), "w") as handle:
        handle.write(text)
    with pytest.raises(PKIError, match="admin.conf exists but its certificate-authority-data is not"):
        setup_tree(rootfs, certs=False)


def test_wrong_identity_or_expired_client_cert_is_reissued(rootfs, openssl, tmp_path):
    setup_tree(rootfs)
    fs = files.HostFS(rootfs)
    ca = pki.load_ca(fs, config.sample_init_config())
    key = pkiutil.generate_key("ECDSA-P256")
    wrong = pkiutil.issue_certificate(ca.cert, ca.key, key, "kubernetes-admin", ["system:masters"])
    text = kubeconfig.render_kubeconfig("https://192.0.2.10:6443", ca.cert_pem, "kubernetes-admin",
                                        pkiutil.cert_to_pem(wrong), pkiutil.key_to_pem(key))
    with open(conf(rootfs, "admin.conf"), "w") as handle:
        handle.write(text)
    before = snapshot(rootfs)
    results, _ = setup_tree(rootfs, certs=False)
    after = snapshot(rootfs)
    assert [n for n in after if after[n] != before[n]] == ["admin.conf"]
    admin = by_name(results)["admin"]
    assert admin["action"] == "reissued" and "organizations" in admin["reason"]
    info = kubeconfig.parse_kubeconfig(open(conf(rootfs, "admin.conf")).read())
    assert info["client_key_pem"] == pkiutil.key_to_pem(key)  # same key, new cert
    cert_path = tmp_path / "admin.crt"
    cert_path.write_bytes(info["client_cert_pem"])
    subject = subprocess.run([openssl, "x509", "-in", str(cert_path), "-noout", "-subject"],
                             capture_output=True, text=True, check=True, timeout=60).stdout
    assert subject == "subject=O = kubeadm:cluster-admins, CN = kubernetes-admin\n"


def test_external_ca_mode(rootfs):
    setup_tree(rootfs)
    os.unlink(real(rootfs, f"{C.PKI_DIR}/ca.key"))
    before = snapshot(rootfs)
    results, writer = setup_tree(rootfs, certs=False)
    assert snapshot(rootfs) == before and writer.changed_paths == []
    assert all(r["action"] == "external" and not r["changed"] for r in results)
    os.unlink(conf(rootfs, "scheduler.conf"))
    with pytest.raises(PKIError) as err:
        setup_tree(rootfs, certs=False)
    assert "external CA mode" in str(err.value) and "/etc/kubernetes/scheduler.conf: missing" in str(err.value)
    assert "admin.conf" not in str(err.value)


def test_ecdsa_client_keys(rootfs, kubectl, kubectl_env):
    cfg = config.sample_init_config(paths={"cluster.encryptionAlgorithm": "ECDSA-P384"})
    fs = files.HostFS(rootfs)
    pki.ensure_certificates(cfg, fs, files.Writer(fs), only=["ca"])
    kubeconfig.ensure_kubeconfigs(cfg, fs, files.Writer(fs))
    view = kubectl_view(kubectl, kubectl_env, conf(rootfs, "controller-manager.conf"))
    key_pem = base64.b64decode(view["users"][0]["user"]["client-key-data"])
    assert key_pem.startswith(b"-----BEGIN EC PRIVATE KEY-----")


def test_kubelet_conf_after_kubelet_finalize_is_reused(tmp_path):
    """kubelet.conf pointing at kubelet-client-current.pem (kubelet-finalize) is kept on rerun."""
    rootfs = str(tmp_path)
    fs = files.HostFS(rootfs)
    cfg = config.sample_init_config(node_name="cp1", advertise_address="192.0.2.10")
    pki.ensure_certificates(cfg, fs, files.Writer(fs))
    kubeconfig.ensure_kubeconfigs(cfg, fs, files.Writer(fs), only=["kubelet"])
    info = kubeconfig.parse_kubeconfig(fs.read_text("/etc/kubernetes/kubelet.conf"))
    os.makedirs(real(rootfs, "/var/lib/kubelet/pki"))
    with open(real(rootfs, C.KUBELET_CLIENT_CURRENT), "wb") as handle:  # what the kubelet stores
        handle.write(info["client_cert_pem"] + info["client_key_pem"])
    assert kubelet.kubelet_finalize(cfg, fs, files.Writer(fs))["changed"]
    before = fs.read_bytes("/etc/kubernetes/kubelet.conf")
    (result,) = kubeconfig.ensure_kubeconfigs(cfg, fs, files.Writer(fs), only=["kubelet"])
    assert (result["changed"], result["action"]) == (False, "reused")
    assert fs.read_bytes("/etc/kubernetes/kubelet.conf") == before


def test_load_certificates_without_the_bundle_loader(monkeypatch):
    """Debian 12's cryptography 38 has no x509.load_pem_x509_certificates."""
    from cryptography import x509
    cas = [pkiutil.new_ca(cn, pkiutil.generate_key("ECDSA-P256"), 3600) for cn in ("a", "b")]
    bundle = b"".join(pkiutil.cert_to_pem(ca) for ca in cas)
    want = pkiutil.load_certificates(bundle)
    assert want == cas
    monkeypatch.delattr(x509, "load_pem_x509_certificates", raising=False)
    assert pkiutil.load_certificates(bundle) == want
    with pytest.raises(ValueError):
        pkiutil.load_certificates(b"no certificate")


def test_ca_key_failing_openssls_check_signs_no_kubeconfig(rootfs, openssl):
    """The kubeconfig phase signs with ca.key only after OpenSSL's full check (cryptography >= 39
    loads it for comparison without), and refuses a bad key before writing anything."""
    setup_tree(rootfs)
    testpki.write_composite_prime_ca(real(rootfs, C.PKI_DIR + "/ca.crt"), real(rootfs, C.PKI_DIR + "/ca.key"))
    check = subprocess.run([openssl, "pkey", "-check", "-noout", "-in", real(rootfs, C.PKI_DIR + "/ca.key")],
                           capture_output=True, timeout=60)
    assert check.returncode != 0  # the fixture is what it claims to be
    for spec in kubeconfig.KUBECONFIGS:
        os.unlink(conf(rootfs, spec.file))
    before = snapshot(rootfs)
    fs = files.HostFS(rootfs)
    with pytest.raises(PKIError, match=r"ca\.key: not a readable"):
        kubeconfig.ensure_kubeconfigs(config.sample_init_config(), fs, files.Writer(fs))
    assert snapshot(rootfs) == before and not any(os.path.exists(conf(rootfs, s.file)) for s in kubeconfig.KUBECONFIGS)


def test_parse_kubeconfig_reads_the_same_with_libyaml_or_pure_python(rootfs, monkeypatch):
    """The faster libyaml loader (where PyYAML has it) must not change what a kubeconfig says."""
    setup_tree(rootfs)
    text = open(conf(rootfs, "admin.conf")).read() + "preferences: {colors: 'yes', n: \"0x1F\", s: ~}\n"
    fast = kubeconfig.parse_kubeconfig(text)
    monkeypatch.setattr(kubeconfigutil, "_SAFE_LOADER", yaml.SafeLoader)
    assert kubeconfig.parse_kubeconfig(text) == fast
    assert fast["user_name"] == "kubernetes-admin" and fast["client_key_pem"].startswith(b"-----BEGIN")
