"""kubeadm_init driven through real ansible-playbook (localhost, rootfs in a temp dir)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from tests.conftest import COLLECTIONS_ROOT

LOCAL_ONLY = ["wait-control-plane", "upload-config", "upload-certs", "mark-control-plane",
              "bootstrap-token", "kubelet-finalize", "addon", "show-join-command"]
# The temp rootfs is an empty tree: no node binaries in it.
IGNORE = ["FileExisting-cp", "FileExisting-losetup", "FileExisting-mount"]


def run_task(tmp_path, module: str, task_args: dict, *extra, name="play") -> dict:
    """Run one task of `module` through ansible-playbook; return its registered result."""
    out = tmp_path / f"{name}.result.json"
    playbook = [{
        "name": name, "hosts": "localhost", "gather_facts": False,
        "tasks": [
            {"name": name, module: task_args, "register": "r", "ignore_errors": True},
            {"name": "save", "ansible.builtin.copy": {"content": "{{ r | to_json }}", "dest": str(out),
                                                      "mode": "0600"},
             "check_mode": False, "diff": False},
        ],
    }]
    path = tmp_path / f"{name}.yml"
    path.write_text(yaml.safe_dump(playbook))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_ROOT, ANSIBLE_LOCALHOST_WARNING="false",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="false", ANSIBLE_NOCOLOR="1")
    proc = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", "-c", "local",
         "-e", f"ansible_python_interpreter={sys.executable}", str(path), *extra],
        capture_output=True, text=True, env=env, timeout=300)
    assert out.exists(), proc.stdout + proc.stderr
    result = json.loads(out.read_text())
    result["_stdout"] = proc.stdout + proc.stderr
    return result


def run_playbook(tmp_path, task_args: dict, *extra, name="play") -> dict:
    """Run one kubeadm_init task through ansible-playbook."""
    return run_task(tmp_path, "kubeboot.cluster.kubeadm_init", task_args, *extra, name=name)


def base_args(rootfs: str) -> dict:
    return {
        "rootfs": rootfs, "node_name": "cp1", "apiserver_advertise_address": "192.0.2.10",
        "kubernetes_version": "stable-1.34", "pod_network_cidr": "10.244.0.0/16",
        "skip_phases": LOCAL_ONLY, "ignore_preflight_errors": IGNORE,
    }


def tree_state(rootfs: str) -> dict:
    state = {}
    for dirpath, _dirs, files in os.walk(rootfs):
        for name in files:
            path = os.path.join(dirpath, name)
            state[path] = os.stat(path).st_mtime_ns
    return state


def test_playbook_init_is_idempotent_and_checkable(tmp_path, openssl):
    rootfs = str(tmp_path / "root")
    os.makedirs(rootfs)

    check = run_playbook(tmp_path, base_args(rootfs), "--check", "--diff", name="check")
    assert not check.get("failed"), check["_stdout"]
    assert check["changed"] is True
    assert tree_state(rootfs) == {}, "check mode wrote files"

    first = run_playbook(tmp_path, base_args(rootfs), name="first")
    assert not first.get("failed"), first["_stdout"]
    assert first["changed"] is True
    assert first["kubernetes_version"] == "v1.34.10"
    pki = os.path.join(rootfs, "etc/kubernetes/pki")
    for cert in ("apiserver", "apiserver-kubelet-client"):
        out = subprocess.run([openssl, "verify", "-CAfile", f"{pki}/ca.crt", f"{pki}/{cert}.crt"],
                             capture_output=True, text=True)
        assert out.returncode == 0 and "OK" in out.stdout, out.stderr
    pin = subprocess.run(
        f"{openssl} x509 -pubkey -noout -in {pki}/ca.crt | {openssl} rsa -pubin -outform der 2>/dev/null"
        f" | {openssl} dgst -sha256 -hex", shell=True, capture_output=True, text=True).stdout
    assert first["ca_cert_hash"] == "sha256:" + pin.split("= ")[-1].strip()
    assert oct(os.stat(f"{pki}/ca.key").st_mode & 0o777) == "0o600"
    assert set(first["phases"]["skipped"]) >= {"addon/coredns", "bootstrap-token"}

    before = tree_state(rootfs)
    second = run_playbook(tmp_path, base_args(rootfs), "--diff", name="second")
    assert not second.get("failed"), second["_stdout"]
    assert second["changed"] is False
    assert tree_state(rootfs) == before, "rerun rewrote files"


def test_playbook_diff_never_shows_keys(tmp_path):
    rootfs = str(tmp_path / "root")
    os.makedirs(rootfs)
    result = run_playbook(tmp_path, base_args(rootfs), "--diff", name="diff")
    assert not result.get("failed"), result["_stdout"]
    assert "PRIVATE KEY" not in result["_stdout"]
    assert "client-key-data" not in result["_stdout"]
    assert any("kube-apiserver.yaml" in d.get("after_header", "") for d in result["diff"])


@pytest.mark.parametrize("bad, field", [
    ({"pod_network_cidr": "10.244.0.0/33"}, "pod_network_cidr"),
    ({"service_cidr": "10.96.0.0/12", "pod_network_cidr": "10.96.0.0/16"}, "pod_network_cidr"),
    ({"token": "ABCDEF.0123456789abcdef"}, "token"),
    ({"kubernetes_version": "stable-9.99"}, "kubernetes_version"),
    ({"skip_phases": ["certs/nonsense"]}, "skip_phases"),
    ({"apiserver_bind_port": 70000}, "apiserver_bind_port"),
])
def test_playbook_bad_input_fails_before_writing(tmp_path, bad, field):
    rootfs = str(tmp_path / "root")
    os.makedirs(rootfs)
    args = dict(base_args(rootfs), **bad)
    result = run_playbook(tmp_path, args, name="bad")
    assert result.get("failed") is True
    assert field in result["msg"], result["msg"]
    assert tree_state(rootfs) == {}, "files were written despite bad input"


def test_playbook_dry_run_writes_only_to_a_temp_dir(tmp_path, openssl):
    rootfs = str(tmp_path / "root")
    os.makedirs(rootfs)
    result = run_playbook(tmp_path, dict(base_args(rootfs), dry_run=True), name="dry")
    assert not result.get("failed"), result["_stdout"]
    assert tree_state(rootfs) == {}, "dry run wrote into the node"
    out = result["dry_run_dir"]
    try:
        verify = subprocess.run([openssl, "verify", "-CAfile", f"{out}/etc/kubernetes/pki/ca.crt",
                                 f"{out}/etc/kubernetes/pki/apiserver.crt"], capture_output=True, text=True)
        assert verify.returncode == 0, verify.stderr
        assert os.path.exists(f"{out}/etc/kubernetes/manifests/kube-apiserver.yaml")
    finally:
        subprocess.run(["rm", "-rf", out], check=False)


KUBEADM_CONFIG = """\
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint:
  advertiseAddress: 192.0.2.20
  bindPort: 6443
nodeRegistration:
  name: from-file
  criSocket: unix:///var/run/containerd/containerd.sock
  kubeletExtraArgs:
  - name: max-pods
    value: "150"
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: v1.33.4
controlPlaneEndpoint: k8s-api.example.test:6443
networking:
  podSubnet: 10.244.0.0/16
  serviceSubnet: 10.112.0.0/12
apiServer:
  certSANs: [k8s-api.example.test, 203.0.113.7]
  extraArgs:
  - name: audit-log-maxage
    value: "30"
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
maxPods: 150
"""


def test_playbook_takes_a_real_kubeadm_config_file(tmp_path, openssl):
    rootfs = str(tmp_path / "root")
    os.makedirs(rootfs)
    config = tmp_path / "kubeadm.yaml"
    config.write_text(KUBEADM_CONFIG)
    args = {"rootfs": rootfs, "config": str(config), "skip_phases": LOCAL_ONLY,
            "ignore_preflight_errors": IGNORE}
    result = run_playbook(tmp_path, args, name="config")
    assert not result.get("failed"), result["_stdout"]
    assert result["kubernetes_version"] == "v1.33.4" and result["node_name"] == "from-file"
    text = subprocess.run([openssl, "x509", "-noout", "-ext", "subjectAltName", "-in",
                           f"{rootfs}/etc/kubernetes/pki/apiserver.crt"], capture_output=True, text=True).stdout
    for san in ("DNS:k8s-api.example.test", "IP Address:203.0.113.7", "IP Address:192.0.2.20",
                "IP Address:10.112.0.1", "DNS:from-file"):
        assert san in text
    manifest = yaml.safe_load(open(f"{rootfs}/etc/kubernetes/manifests/kube-apiserver.yaml"))
    command = manifest["spec"]["containers"][0]["command"]
    assert "--audit-log-maxage=30" in command and "--service-cluster-ip-range=10.112.0.0/12" in command
    assert manifest["spec"]["containers"][0]["image"] == "registry.k8s.io/kube-apiserver:v1.33.4"
    kubelet = yaml.safe_load(open(f"{rootfs}/var/lib/kubelet/config.yaml"))
    assert kubelet["maxPods"] == 150 and kubelet["clusterDNS"] == ["10.112.0.10"]
    admin = yaml.safe_load(open(f"{rootfs}/etc/kubernetes/admin.conf"))
    assert admin["clusters"][0]["cluster"]["server"] == "https://k8s-api.example.test:6443"
