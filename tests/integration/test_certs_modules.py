"""kubeadm_certs through ansible-playbook -vvv: a control plane made by kubeadm_init, renewed, checked
with openssl (chains, serials, keys, end dates); check mode writes nothing; no key in the log or
the diff; renew_before and a rerun of kubeadm_init change nothing; the configuration read from the
cluster's kubeadm-config (API double on real etcd)."""
from __future__ import annotations

import base64
import datetime
import os
import shutil
import subprocess

import yaml

from ansible_collections.kubeboot.cluster.plugins.module_utils import config, pki
from ansible_collections.kubeboot.cluster.plugins.module_utils.files import HostFS, Writer
from tests.integration.test_init_playbook import IGNORE, LOCAL_ONLY
from tests.support.apiserver.testing import free_port
from tests.support.playbook import play

LEAVES = {"apiserver": "ca", "apiserver-kubelet-client": "ca", "front-proxy-client": "front-proxy-ca",
          "etcd/server": "etcd/ca", "etcd/peer": "etcd/ca", "etcd/healthcheck-client": "etcd/ca",
          "apiserver-etcd-client": "etcd/ca"}


def _openssl(openssl, *args) -> str:
    return subprocess.run([openssl, *args], capture_output=True, text=True, check=True).stdout.strip()


def _init_args(rootfs: str) -> dict:
    return {"rootfs": rootfs, "node_name": "cp1", "apiserver_advertise_address": "192.0.2.10",
            "kubernetes_version": "stable-1.35", "encryption_algorithm": "ECDSA-P256",
            "skip_phases": LOCAL_ONLY, "ignore_preflight_errors": IGNORE}


def _facts(openssl, pems: dict, tmp_path) -> dict:
    """serial and public key of each leaf, by openssl, from PEM text."""
    facts = {}
    for base, pem in pems.items():
        path = tmp_path / (base.replace("/", "-") + ".pem")
        path.write_text(pem)
        facts[base] = (_openssl(openssl, "x509", "-noout", "-serial", "-in", str(path)),
                       _openssl(openssl, "x509", "-noout", "-pubkey", "-in", str(path)))
    return facts


def _key_material(rootfs: str) -> list:
    """Every private key (PEM body lines) and embedded client key of the tree: none may be logged."""
    found = []
    for dirpath, _dirs, files in os.walk(rootfs):
        for name in files:
            text = open(os.path.join(dirpath, name), encoding="utf-8", errors="replace").read()
            if "PRIVATE KEY" in text:
                found += [line for line in text.splitlines() if len(line) > 40 and "PRIVATE" not in line]
            if "client-key-data" in text:
                found += [user["user"]["client-key-data"] for user in yaml.safe_load(text)["users"]]
    return found


def test_renewal_through_ansible(tmp_path, openssl):
    rootfs = str(tmp_path / "root")
    pki = f"{rootfs}/etc/kubernetes/pki"
    files = {"ansible.builtin.find": {"paths": rootfs, "recurse": True}}
    results, log = play(tmp_path, [
        {"name": "init", "kubeboot.cluster.kubeadm_init": _init_args(rootfs), "register": "init"},
        {"name": "before", "ansible.builtin.slurp": {"src": f"{pki}/{{{{ item }}}}.crt"}, "loop": sorted(LEAVES),
         "register": "before"},
        {"name": "files before", **files, "register": "files_before"},
        {"name": "check", "kubeboot.cluster.kubeadm_certs": {"rootfs": rootfs, "renew": ["all"]}, "check_mode": True,
         "register": "check"},
        {"name": "files after check", **files, "register": "files_check"},
        {"name": "renew", "kubeboot.cluster.kubeadm_certs": {"rootfs": rootfs, "renew": ["all"]}, "register": "renew"},
        {"name": "window", "kubeboot.cluster.kubeadm_certs": {"rootfs": rootfs, "renew_before": "720h"},
         "register": "window"},
        {"name": "bad", "kubeboot.cluster.kubeadm_certs": {"rootfs": rootfs, "renew": ["apiserver", "ca"]},
         "register": "bad", "ignore_errors": True},
        {"name": "init again", "kubeboot.cluster.kubeadm_init": _init_args(rootfs), "register": "again"},
    ], "renew", "--diff")
    assert not results["init"].get("failed"), log
    keys = _key_material(rootfs)
    assert len(keys) > 10
    pems = {item["item"]: base64.b64decode(item["content"]).decode() for item in results["before"]["results"]}
    before = _facts(openssl, pems, tmp_path)

    check = results["check"]
    assert check["changed"] is True and len(check["renewed"]) == 11
    stamp = {f["path"]: (f["mtime"], f["size"]) for f in results["files_before"]["files"]}
    assert {f["path"]: (f["mtime"], f["size"]) for f in results["files_check"]["files"]} == stamp, \
        "check mode wrote files"

    renew = results["renew"]
    assert renew["changed"] is True and renew["config_source"] == "defaults"
    assert sorted(renew["restarted"]) == ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"]
    assert results["window"]["changed"] is False
    assert {row["action"] for row in results["window"]["renewal"]} == {"valid"}
    assert results["bad"]["failed"] and "renew" in results["bad"]["msg"] and "'ca'" in results["bad"]["msg"]
    # the cluster as kubeadm_init knows it: a rerun changes nothing, the restart annotation stays
    assert results["again"]["changed"] is False and results["again"]["changed_files"] == []

    after = _facts(openssl, {base: open(f"{pki}/{base}.crt").read() for base in LEAVES}, tmp_path)
    for base, ca in LEAVES.items():
        assert after[base][0] != before[base][0], f"{base}: serial unchanged"
        assert after[base][1] == before[base][1], f"{base}: key changed"
        assert _openssl(openssl, "verify", "-CAfile", f"{pki}/{ca}.crt", f"{pki}/{base}.crt").endswith(": OK")
    rows = {row["name"]: row for row in renew["certificates"]}
    for base in LEAVES:
        name = base.replace("/", "-")
        enddate = _openssl(openssl, "x509", "-noout", "-enddate", "-in", f"{pki}/{base}.crt").split("=", 1)[1]
        expected = datetime.datetime.strptime(enddate, "%b %d %H:%M:%S %Y GMT").strftime("%Y-%m-%dT%H:%M:%SZ")
        assert rows[name]["expiration_date"] == expected
        assert "serial=" + rows[name]["serial"] == after[base][0]
    assert renew["table"].splitlines()[0].split() == ["CERTIFICATE", "EXPIRES", "RESIDUAL", "TIME", "CERTIFICATE",
                                                      "AUTHORITY", "EXTERNALLY", "MANAGED"]
    manifest = yaml.safe_load(open(f"{rootfs}/etc/kubernetes/manifests/etcd.yaml"))
    assert "kubeboot.cluster/restartedAt" in manifest["metadata"]["annotations"]
    assert any(d["after_header"] == "/etc/kubernetes/manifests/etcd.yaml" for d in renew["diff"])

    renew_log = log.split("TASK [check]")[1].split("TASK [init again]")[0]
    for secret in keys:
        assert secret not in renew_log, "key material in the -vvv log"
    assert "PRIVATE KEY" not in renew_log and "client-key-data" not in renew_log


def _copy_to(rootfs: str, path: str, text: str = None) -> str:
    """The file at the same host path inside rootfs (the module reads everything through it)."""
    target = rootfs + path
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if text is None:
        shutil.copy(path, target)
    else:
        open(target, "w", encoding="utf-8").write(text)
    return path


def test_configuration_from_the_clusters_kubeadm_config(tmp_path, openssl, api_double, etcd_server):
    double = api_double(store=etcd_server.store())
    double.put({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "kubeadm-config", "namespace": "kube-system"},
                "data": {"ClusterConfiguration": yaml.safe_dump({
                    "apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "ClusterConfiguration",
                    "kubernetesVersion": "v1.35.2", "certificatesDir": "/srv/pki",
                    "certificateValidityPeriod": "48h0m0s", "encryptionAlgorithm": "ECDSA-P256"})}})
    rootfs = str(tmp_path / "root")
    cfg = config.sample_init_config(paths={"cluster.certificatesDir": "/srv/pki",
                                           "cluster.encryptionAlgorithm": "ECDSA-P256"})
    pki.ensure_certificates(cfg, HostFS(rootfs), Writer(HostFS(rootfs)))
    kubeconfig = double.admin_kubeconfig
    for path in [os.path.join(double.cert_dir, "ca.crt")] + [
            os.path.join(os.path.dirname(kubeconfig), name) for name in os.listdir(os.path.dirname(kubeconfig))]:
        _copy_to(rootfs, path)
    # the same credentials for a server that does not answer (kubeadm falls back to its defaults)
    down = _copy_to(rootfs, str(tmp_path / "down.conf"),
                    open(kubeconfig).read().replace(double.url, f"https://127.0.0.1:{free_port()}"))

    results, log = play(tmp_path, [
        {"name": "renew", "kubeboot.cluster.kubeadm_certs": {"rootfs": rootfs, "renew": ["apiserver"],
                                                             "kubeconfig": kubeconfig}, "register": "renew"},
        {"name": "no kubeconfig", "kubeboot.cluster.kubeadm_certs": {
            "rootfs": rootfs, "kubeconfig": "/etc/kubernetes/nowhere.conf"}, "register": "nowhere"},
        {"name": "down", "kubeboot.cluster.kubeadm_certs": {
            "rootfs": rootfs, "kubeconfig": down, "cert_dir": "/srv/pki"}, "register": "down"},
    ], "cluster")
    renew = results["renew"]
    assert renew["config_source"] == "cluster" and renew["cert_dir"] == "/srv/pki", log
    assert renew["renewed"] == ["apiserver"]
    crt = f"{rootfs}/srv/pki/apiserver.crt"
    assert subprocess.run([openssl, "x509", "-noout", "-checkend", str(47 * 3600), "-in", crt]).returncode == 0
    assert subprocess.run([openssl, "x509", "-noout", "-checkend", str(49 * 3600), "-in", crt]).returncode == 1
    assert results["nowhere"]["config_source"] == "defaults"
    assert results["down"]["config_source"] == "defaults"
    assert "Falling back to default configuration" in log.split("TASK [down]")[1]
