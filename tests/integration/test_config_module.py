"""kubeadm_config and kubeadm_version through ansible-playbook: `config print init` output accepted
back as `config` by kubeadm_init (the tree checked with openssl), migrate to a file and rerun,
validate, images, version."""
from __future__ import annotations

import json
import subprocess

import yaml

from tests.integration.test_init_playbook import IGNORE, LOCAL_ONLY
from tests.support.playbook import play

V1BETA3 = """\
apiVersion: kubeadm.k8s.io/v1beta3
kind: ClusterConfiguration
kubernetesVersion: v1.33.4
controllerManager:
  extraArgs:
    bind-address: 0.0.0.0
---
apiVersion: kubeadm.k8s.io/v1beta3
kind: InitConfiguration
localAPIEndpoint:
  advertiseAddress: 192.0.2.50
nodeRegistration:
  name: migrated
"""


def test_print_init_round_trip_and_the_other_commands(tmp_path, openssl):
    rootfs = str(tmp_path / "root")
    printed = tmp_path / "printed.yaml"
    old = tmp_path / "old.yaml"
    old.write_text(V1BETA3)
    new = tmp_path / "new.yaml"
    results, log = play(tmp_path, [
        {"name": "print", "kubeboot.cluster.kubeadm_config": {"print": "init"}, "register": "printed"},
        {"name": "keep it", "ansible.builtin.copy": {"content": "{{ printed.content }}", "dest": str(printed),
                                                    "mode": "0600"}},
        {"name": "init", "kubeboot.cluster.kubeadm_init": {
            "rootfs": rootfs, "config": str(printed), "skip_phases": LOCAL_ONLY, "ignore_preflight_errors": IGNORE},
         "register": "init"},
        {"name": "validate", "kubeboot.cluster.kubeadm_config": {"validate": True, "config": str(printed)},
         "register": "valid"},
        {"name": "migrate", "kubeboot.cluster.kubeadm_config": {"old_config": str(old), "new_config": str(new)},
         "register": "migrated", "diff": True},
        {"name": "migrate again", "kubeboot.cluster.kubeadm_config": {"old_config": str(old),
                                                                      "new_config": str(new)},
         "register": "again"},
        {"name": "images", "kubeboot.cluster.kubeadm_config": {"images": "list", "config": str(new)},
         "register": "images"},
        {"name": "version", "kubeboot.cluster.kubeadm_version": {}, "register": "version"},
    ], "config")
    init = results["init"]
    assert not init.get("failed"), log
    version = results["version"]["version"]["clientVersion"]["gitVersion"]
    assert init["kubernetes_version"] == version and init["node_name"] == "node"
    assert init["advertise_address"] == "1.2.3.4" and init["changed"] is True
    sans = subprocess.run([openssl, "x509", "-noout", "-ext", "subjectAltName", "-in",
                           f"{rootfs}/etc/kubernetes/pki/apiserver.crt"], capture_output=True, text=True).stdout
    assert "IP Address:1.2.3.4" in sans and "DNS:node" in sans and "IP Address:10.96.0.1" in sans
    admin = yaml.safe_load(open(f"{rootfs}/etc/kubernetes/admin.conf"))
    assert admin["clusters"][0]["cluster"]["server"] == "https://1.2.3.4:6443"
    manifest = yaml.safe_load(open(f"{rootfs}/etc/kubernetes/manifests/kube-apiserver.yaml"))
    assert manifest["spec"]["containers"][0]["image"] == f"registry.k8s.io/kube-apiserver:{version}"
    # what init would upload as kubeadm-config is the printed ClusterConfiguration (version with its "v")
    cluster = [d for d in yaml.safe_load_all(printed.read_text()) if d["kind"] == "ClusterConfiguration"][0]
    assert cluster["kubernetesVersion"] == version.lstrip("v")

    assert results["valid"]["valid"] is True
    assert results["migrated"]["changed"] is True and results["again"]["changed"] is False
    documents = list(yaml.safe_load_all(new.read_text()))
    assert [d["apiVersion"] for d in documents] == ["kubeadm.k8s.io/v1beta4"] * 2
    assert documents[1]["controllerManager"]["extraArgs"] == [{"name": "bind-address", "value": "0.0.0.0"}]
    assert documents[0]["nodeRegistration"]["name"] == "migrated"
    assert results["images"]["images"][0] == "registry.k8s.io/kube-apiserver:v1.33.4"
    assert json.loads(results["version"]["output"]) == results["version"]["version"]
