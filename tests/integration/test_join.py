"""kubeadm join end to end against the API double: worker join in both TLS bootstrap modes, the
attacks and token problems it must refuse without touching the node, check mode, reruns, the
module through ansible-playbook, and a control-plane join forming a real 3-member etcd cluster."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest
import yaml

from ansible_collections.kubeboot.cluster.plugins.module_utils import join
from ansible_collections.kubeboot.cluster.plugins.module_utils.apiwriter import ApiWriter
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import KubebootError

from tests.conftest import COLLECTIONS_ROOT
from tests.support.joinlab import CERT_KEY, TOKEN, Lab, tree
from tests.support.staticpods import ETCDCTL, FakeKubelet


@pytest.fixture
def lab(tmp_path):
    lab = Lab(str(tmp_path))
    lab.wait_signed()
    yield lab
    lab.stop()


def _mapped_kubeconfig(rootfs: str, tmp_path) -> str:
    """kubelet.conf with its host paths mapped into the rootfs (for kubectl)."""
    text = open(os.path.join(rootfs, "etc/kubernetes/kubelet.conf")).read()
    current = "/var/lib/kubelet/pki/kubelet-client-current.pem"
    target = os.readlink(os.path.join(rootfs, current.lstrip("/")))  # a host path, as the kubelet writes it
    text = text.replace(current, os.path.join(rootfs, target.lstrip("/")))
    path = tmp_path / "kubelet-mapped.conf"
    path.write_text(text)
    return str(path)


def test_worker_join_module_mode(lab, tmp_path, openssl, kubectl, kubectl_env):
    rootfs = str(tmp_path / "w1")
    result = join.run_join(lab.join_params(rootfs, tls_bootstrap_mode="module"))
    assert result["changed"] and result["api_server"] == lab.url and result["ca_cert_hash"] == lab.pin
    pem = os.path.join(rootfs, "var/lib/kubelet/pki/kubelet-client-current.pem")
    assert os.path.islink(pem)
    target = os.path.join(rootfs, os.readlink(pem).lstrip("/"))
    assert oct(os.stat(target).st_mode & 0o777) == "0o600"
    ca = os.path.join(rootfs, "etc/kubernetes/pki/ca.crt")
    out = subprocess.run([openssl, "verify", "-CAfile", ca, target], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    subject = subprocess.run([openssl, "x509", "-noout", "-subject", "-in", target], capture_output=True,
                             text=True).stdout
    assert "CN = system:node:worker1" in subject and "O = system:nodes" in subject
    whoami = subprocess.run([kubectl, "--kubeconfig", _mapped_kubeconfig(rootfs, tmp_path), "auth", "whoami",
                             "-o", "json"], capture_output=True, text=True, env=kubectl_env)
    assert whoami.returncode == 0, whoami.stderr
    assert json.loads(whoami.stdout)["status"]["userInfo"]["username"] == "system:node:worker1"
    conf = yaml.safe_load(open(os.path.join(rootfs, "etc/kubernetes/kubelet.conf")))
    assert conf["current-context"] == "default-context"
    assert conf["users"][0]["user"]["client-certificate"] == "/var/lib/kubelet/pki/kubelet-client-current.pem"
    assert not os.path.exists(os.path.join(rootfs, "etc/kubernetes/bootstrap-kubelet.conf"))
    assert yaml.safe_load(open(os.path.join(rootfs, "var/lib/kubelet/config.yaml")))["kind"] == \
        "KubeletConfiguration"
    again = join.run_join(lab.join_params(rootfs, tls_bootstrap_mode="module"))
    assert again["changed"] is False and again["already_joined"] is True


def test_worker_join_kubelet_mode_and_check_mode(lab, tmp_path):
    rootfs = str(tmp_path / "w2")
    os.makedirs(rootfs)
    check = join.run_join(lab.join_params(rootfs, node_name="worker2"), check_mode=True)
    assert check["changed"] and tree(rootfs) == []
    result = join.run_join(lab.join_params(rootfs, node_name="worker2"))
    assert result["changed"]
    conf = yaml.safe_load(open(os.path.join(rootfs, "etc/kubernetes/bootstrap-kubelet.conf")))
    assert conf["current-context"] == "tls-bootstrap-token-user@kubernetes"
    assert conf["users"] == [{"name": "tls-bootstrap-token-user", "user": {"token": TOKEN}}]
    assert conf["clusters"][0]["name"] == "kubernetes" and conf["clusters"][0]["cluster"]["server"] == lab.url
    assert oct(os.stat(os.path.join(rootfs, "etc/kubernetes/bootstrap-kubelet.conf")).st_mode & 0o777) == "0o600"
    env = open(os.path.join(rootfs, "var/lib/kubelet/kubeadm-flags.env")).read()
    assert env.startswith("KUBELET_KUBEADM_ARGS=") and "hostname-override=worker2" in env
    again = join.run_join(lab.join_params(rootfs, node_name="worker2"))
    assert again["changed"] is False
    # a bounded wait for the kubelet that never comes
    with pytest.raises(KubebootError, match="did not appear"):
        params = lab.join_params(rootfs, node_name="worker2", wait_for_kubelet=True)
        params["config"] = None
        cfg_timeout = str(tmp_path / "j.yaml")
        with open(cfg_timeout, "w") as f:
            yaml.safe_dump({"apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "JoinConfiguration",
                            "discovery": {"bootstrapToken": {"apiServerEndpoint": lab.endpoint, "token": TOKEN,
                                                             "caCertHashes": [lab.pin]}},
                            "nodeRegistration": {"name": "worker2", "ignorePreflightErrors": ["all"]},
                            "timeouts": {"tlsBootstrap": "2s"}}, f)
        join.run_join({"config": cfg_timeout, "rootfs": rootfs, "wait_for_kubelet": True})


def _refused(lab, tmp_path, match, **over):
    rootfs = str(tmp_path / "victim")
    os.makedirs(rootfs, exist_ok=True)
    with pytest.raises(KubebootError, match=match):
        join.run_join(lab.join_params(rootfs, tls_bootstrap_mode="module", discovery_timeout="2s", **over))
    assert tree(rootfs) == [], "something was written to the node"


def test_refused_wrong_pin(lab, tmp_path):
    _refused(lab, tmp_path, "CA pin check failed",
             discovery_token_ca_cert_hash=["sha256:" + "00" * 32])


def test_refused_wrong_token_secret(lab, tmp_path):
    _refused(lab, tmp_path, "JWS signature check failed", token="abcdef.ffffffffffffffff")


def test_refused_unsafe_skip_with_wrong_secret(lab, tmp_path):
    _refused(lab, tmp_path, "JWS signature check failed", token="abcdef.ffffffffffffffff",
             discovery_token_ca_cert_hash=[], discovery_token_unsafe_skip_ca_verification=True)


def test_refused_expired_token(tmp_path):
    lab = Lab(str(tmp_path), token="expire.0123456789abcdef",
              token_kwargs={"expires": "2020-01-01T00:00:00Z"})
    try:
        _refused(lab, tmp_path, "no JWS signature for token id 'expire'")
    finally:
        lab.stop()


def test_refused_token_without_authentication_usage(tmp_path):
    lab = Lab(str(tmp_path), token="noauth.0123456789abcdef", token_kwargs={"usages": ("signing",)})
    try:
        lab.wait_signed()
        _refused(lab, tmp_path, "TLS bootstrap token check failed.*401")
    finally:
        lab.stop()


def test_refused_denied_csr_writes_nothing(tmp_path):
    lab = Lab(str(tmp_path), controllers=False)
    try:
        from ansible_collections.kubeboot.cluster.plugins.module_utils import tokens
        cm = lab.admin.get("ConfigMap", "cluster-info", "kube-public")
        cm["data"]["jws-kubeconfig-abcdef"] = tokens.detached_jws(cm["data"]["kubeconfig"], "abcdef",
                                                                  TOKEN.split(".")[1])
        lab.admin.update(cm)

        def deny():
            for _ in range(100):
                for csr in lab.admin.list("CertificateSigningRequest"):
                    csr.setdefault("status", {})["conditions"] = [{"type": "Denied", "status": "True",
                                                                   "reason": "Test", "message": "no"}]
                    lab.admin.request("PUT", f"/apis/certificates.k8s.io/v1/certificatesigningrequests/"
                                      f"{csr['metadata']['name']}/approval", csr)
                    return
                time.sleep(0.1)
        thread = threading.Thread(target=deny, daemon=True)
        thread.start()
        _refused(lab, tmp_path, "was denied")
    finally:
        lab.stop()


def _playbook(tmp_path, args: dict, *extra) -> dict:
    """Run one kubeadm_join task; its registered result is written to a JSON file by a second task."""
    out = tmp_path / "result.json"
    playbook = [{"name": "join", "hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "join", "kubeboot.cluster.kubeadm_join": args, "register": "r", "ignore_errors": True},
        {"name": "save", "ansible.builtin.copy": {"content": "{{ r | to_json }}", "dest": str(out)},
         "check_mode": False, "diff": False}]}]
    path = tmp_path / "join.yml"
    path.write_text(yaml.safe_dump(playbook))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_ROOT, ANSIBLE_LOCALHOST_WARNING="false",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="false", ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,",
                           "-c", "local", "-e", f"ansible_python_interpreter={sys.executable}", str(path), *extra],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(out.read_text())
    out.unlink()
    result["_stdout"] = proc.stdout
    return result


def test_module_through_ansible_playbook(lab, tmp_path):
    rootfs = str(tmp_path / "w3")
    os.makedirs(rootfs)
    args = lab.join_params(rootfs, node_name="worker3", tls_bootstrap_mode="module")
    check = _playbook(tmp_path, args, "--check", "--diff")
    assert not check.get("failed"), check
    assert check["changed"] and tree(rootfs) == []
    first = _playbook(tmp_path, args, "--diff")
    assert not first.get("failed") and first["changed"], first
    assert TOKEN.split(".")[1] not in first["_stdout"] + json.dumps(first)  # no_log, secret diffs hidden
    second = _playbook(tmp_path, args)
    assert not second.get("failed") and second["changed"] is False, second


# --- control-plane join: a real 3-member etcd cluster ------------------------------------------------

@pytest.mark.slow  # make test-slow / test-all (CI runs both suites)
def test_control_plane_join_forms_three_member_etcd(tmp_path, openssl):
    lab = Lab(str(tmp_path), upload_certs=True)
    kubelets = []
    try:
        lab.wait_signed()
        lab.write_node1_control_plane()
        first = FakeKubelet(lab.admin, lab.rootfs1, "cp1", "127.0.0.1")
        kubelets.append(first)
        first.start()
        for name in ("cp2", "cp3"):
            ApiWriter(lab.admin).ensure({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})
        results = {}
        for index, name in ((2, "cp2"), (3, "cp3")):
            rootfs = str(tmp_path / name)
            os.makedirs(rootfs)
            params = lab.join_params(rootfs, node_name=name, control_plane=True, certificate_key=CERT_KEY,
                                     apiserver_advertise_address=f"127.0.0.{index}",
                                     tls_bootstrap_mode="module", skip_phases=["wait-control-plane"])
            if index == 3:
                check = join.run_join(params, check_mode=True)
                assert check["changed"] and tree(rootfs) == []
                # check mode builds on the certs download-certs would write: it reports this node's
                # own leaves, kubeconfigs and manifests, not just "something would change"
                assert {c["name"] for c in check["certificates"]} >= {"apiserver", "etcd-peer", "etcd-server"}
                assert all(c["action"] == "created" for c in check["certificates"])
                assert {k["name"] for k in check["kubeconfigs"]} == {"admin", "controller-manager", "scheduler"}
            kubelet = FakeKubelet(lab.admin, rootfs, name, f"127.0.0.{index}")
            kubelets.append(kubelet)
            kubelet.watch()
            results[name] = join.run_join(params)
            assert results[name]["etcd"]["added"] and results[name]["etcd"]["promoted"], results[name]["etcd"]
            pki = os.path.join(rootfs, "etc/kubernetes/pki")
            text = subprocess.run([openssl, "x509", "-noout", "-text", "-in", f"{pki}/apiserver.crt"],
                                  capture_output=True, text=True).stdout
            assert f"IP Address:127.0.0.{index}" in text and f"DNS:{name}" in text
            text = subprocess.run([openssl, "x509", "-noout", "-text", "-in", f"{pki}/etcd/peer.crt"],
                                  capture_output=True, text=True).stdout
            assert f"IP Address:127.0.0.{index}" in text
            assert open(f"{pki}/ca.key", "rb").read() == open(f"{lab.pki_dir}/ca.key", "rb").read()
            assert oct(os.stat(f"{pki}/ca.key").st_mode & 0o777) == "0o600"
            node = lab.admin.get("Node", name)
            assert "node-role.kubernetes.io/control-plane" in node["metadata"]["labels"]
            again = join.run_join(params)
            assert again["changed"] is False, again["changed_files"]
        pki1 = lab.pki_dir
        env = dict(os.environ, ETCDCTL_API="3")
        out = subprocess.run([ETCDCTL, "--endpoints=https://127.0.0.1:2379", f"--cacert={pki1}/etcd/ca.crt",
                              f"--cert={pki1}/etcd/healthcheck-client.crt",
                              f"--key={pki1}/etcd/healthcheck-client.key", "member", "list", "-w", "json"],
                             capture_output=True, text=True, env=env)
        assert out.returncode == 0, out.stderr
        members = json.loads(out.stdout)["members"]
        assert sorted(m["name"] for m in members) == ["cp1", "cp2", "cp3"]
        assert not any(m.get("isLearner") for m in members)
        manifest = open(tmp_path / "cp3" / "etc/kubernetes/manifests/etcd.yaml").read()
        assert "--initial-cluster-state=existing" in manifest
        assert "cp1=https://127.0.0.1:2380" in manifest and "cp2=https://127.0.0.2:2380" in manifest
    finally:
        for kubelet in kubelets:
            kubelet.stop()
        lab.stop()
