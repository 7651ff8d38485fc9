"""Check mode and --diff cover the API phases: through ansible-playbook against the API double
backed by real etcd, the plan of kubeadm_init, kubeadm_join and kubeadm_token predicts exactly
the objects a real run then changes (its own report, and the double's store read with kubectl),
sends no write (resourceVersions and the etcd revision unchanged, file tree hash unchanged),
shows no token secret, certificate key or private key, and after the real run predicts nothing.

Secrets are handed in through kubeadm config files, not module options: Ansible masks no_log
option values in its output, which would hide a leak from these assertions.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import time

import pytest
import yaml

from ansible_collections.kubeboot.cluster.plugins.module_utils.apiwriter import ApiWriter

from tests.integration.test_init_playbook import IGNORE, run_playbook, run_task
from tests.integration.test_join import _playbook
from tests.support.staticpods import ETCDCTL, FakeKubelet, loopback_block
from tests.support.apiserver.server import ApiDouble
from tests.support.apiserver.testing import free_port
from tests.support.joinlab import ADMIN_TOKEN, CERT_KEY as JOIN_CERT_KEY, TOKEN as JOIN_TOKEN, Lab, tree

API_GROUPS = ["wait-control-plane", "upload-config", "upload-certs", "mark-control-plane",
              "bootstrap-token", "kubelet-finalize", "addon", "show-join-command"]
# every kind a phase writes (Pods are the kubelet's, CSRs are checked in the join tests)
KINDS = ("configmaps,secrets,serviceaccounts,services,deployments,daemonsets,roles,rolebindings,"
         "clusterroles,clusterrolebindings,nodes")
TOKEN = "chkmod.0123456789abcdef"
CERT_KEY = "c3" * 32
GENERATED = re.compile(r"^Secret/kube-system/bootstrap-token-(?!chkmod$)[a-z0-9]{6}$")


# --- independent views of the cluster and the node ------------------------------------------------

def kubectl_objects(kubectl, env, kubeconfig) -> dict:
    """{"Kind/namespace/name": resourceVersion} of everything the phases may write, read with kubectl."""
    out = subprocess.run([kubectl, "--kubeconfig", kubeconfig, "get", "--all-namespaces", KINDS, "-o", "json"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    objects = {}
    for item in json.loads(out.stdout)["items"]:
        meta = item["metadata"]
        ident = "/".join(p for p in (item["kind"], meta.get("namespace", ""), meta["name"]) if p)
        objects[ident] = meta["resourceVersion"]
    return objects


def changed_between(before: dict, after: dict) -> set:
    return {k for k in after if before.get(k) != after[k]} | {k for k in before if k not in after}


def tree_hash(root: str) -> str:
    digest = hashlib.sha256()
    for dirpath, dirs, files in sorted(os.walk(root)):
        dirs.sort()
        for name in sorted(files + [d for d in dirs if os.path.islink(os.path.join(dirpath, d))]):
            path = os.path.join(dirpath, name)
            stat = os.lstat(path)
            digest.update(os.path.relpath(path, root).encode() + oct(stat.st_mode).encode())
            digest.update(os.readlink(path).encode() if os.path.islink(path) else open(path, "rb").read())
    return digest.hexdigest()


def normalized(ids) -> set:
    """A token the run generates gets a random id in check mode and another in the real run."""
    return {GENERATED.sub("Secret/kube-system/bootstrap-token-<generated>", i) for i in ids}


def assert_no_secret(text: str, *secrets) -> None:
    assert "PRIVATE KEY" not in text
    for secret in secrets:
        assert secret not in text


# --- kubeadm_init --------------------------------------------------------------------------------------

@pytest.fixture
def control_plane(tmp_path, etcd_server):
    """Local phases done on a rootfs; the double serves its PKI on the advertised loopback port."""
    rootfs = str(tmp_path / "cp1")
    os.makedirs(rootfs)
    port = free_port()
    config = tmp_path / "kubeadm.yaml"
    config.write_text(yaml.safe_dump({"apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "InitConfiguration",
                                      "bootstrapTokens": [{"token": TOKEN}], "certificateKey": CERT_KEY}))
    args = {"rootfs": rootfs, "node_name": "cp1", "apiserver_advertise_address": "127.0.0.1",
            "apiserver_bind_port": port, "kubernetes_version": "stable-1.34", "config": str(config),
            "pod_network_cidr": "10.244.0.0/16", "ignore_preflight_errors": IGNORE, "upload_certs": True}
    local = run_playbook(tmp_path, dict(args, skip_phases=API_GROUPS), name="local")
    assert not local.get("failed"), local["_stdout"]
    store = etcd_server.store()
    double = ApiDouble(os.path.join(rootfs, "etc/kubernetes/pki"), port=port, store=store,
                       kubernetes_version=local["kubernetes_version"], controllers_interval="0.2s").start()
    double.put({"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": "cp1", "labels": {"kubernetes.io/hostname": "cp1"}}, "spec": {}})
    yield {"rootfs": rootfs, "args": args, "double": double, "store": store, "tmp": tmp_path,
           "admin": os.path.join(rootfs, "etc/kubernetes/super-admin.conf")}  # admin.conf has no rights yet
    double.stop()


def test_init_check_mode_predicts_the_real_run(control_plane, kubectl, kubectl_env):
    cp = control_plane
    before, revision, tree = kubectl_objects(kubectl, kubectl_env, cp["admin"]), cp["store"].revision, \
        tree_hash(cp["rootfs"])

    check = run_playbook(cp["tmp"], cp["args"], "--check", "--diff", name="check")
    assert not check.get("failed"), check["_stdout"]
    assert check["changed"] is True
    assert kubectl_objects(kubectl, kubectl_env, cp["admin"]) == before, "check mode changed an object"
    assert cp["store"].revision == revision, "check mode wrote to etcd"
    assert tree_hash(cp["rootfs"]) == tree, "check mode wrote a file"
    predicted = set(check["changed_objects"])
    assert {"ConfigMap/kube-system/kubeadm-config", "ConfigMap/kube-system/kubelet-config",
            "ConfigMap/kube-public/cluster-info", "Secret/kube-system/bootstrap-token-chkmod",
            "Secret/kube-system/kubeadm-certs", "Deployment/kube-system/coredns", "DaemonSet/kube-system/kube-proxy",
            "ClusterRoleBinding/kubeadm:cluster-admins", "Node/cp1"} <= predicted
    assert check["api"]["wait-control-plane"]["healthy"] is True
    # --diff shows the objects, never the token secret, the certificate key or a private key
    assert "kind: ConfigMap" in check["_stdout"] and "bootstrap-token-chkmod" in check["_stdout"]
    assert_no_secret(check["_stdout"] + json.dumps(check["diff"]), TOKEN[7:], CERT_KEY)

    real = run_playbook(cp["tmp"], cp["args"], name="real")
    assert not real.get("failed"), real["_stdout"]
    stored = changed_between(before, kubectl_objects(kubectl, kubectl_env, cp["admin"]))
    assert normalized(predicted) == normalized(real["changed_objects"]) == normalized(stored)

    again = run_playbook(cp["tmp"], cp["args"], "--check", "--diff", name="again")
    assert not again.get("failed"), again["_stdout"]
    assert again["changed"] is False and again["changed_objects"] == [] and again.get("diff") == []


def test_init_check_mode_on_a_fresh_node_plans_from_the_config(tmp_path):
    """No API server yet: the API phases report what they would create, at once, and say so."""
    rootfs = str(tmp_path / "fresh")
    os.makedirs(rootfs)
    config = tmp_path / "kubeadm.yaml"
    config.write_text(yaml.safe_dump({"apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "InitConfiguration",
                                      "bootstrapTokens": [{"token": TOKEN}], "certificateKey": CERT_KEY}))
    args = {"rootfs": rootfs, "node_name": "cp1", "apiserver_advertise_address": "127.0.0.1",
            "apiserver_bind_port": free_port(), "kubernetes_version": "stable-1.34", "config": str(config),
            "ignore_preflight_errors": IGNORE, "upload_certs": True}  # nothing listens on that port
    start = time.monotonic()
    check = run_playbook(tmp_path, args, "--check", "--diff", name="fresh")
    assert time.monotonic() - start < 120, "check mode waited for an API server"
    assert not check.get("failed"), check["_stdout"]
    assert tree(rootfs) == [], "check mode wrote a file"
    assert any("no API server answered" in note for note in check["notes"])
    assert "no API server answered" in check["_stdout"]  # said as a warning
    assert check["api"]["wait-control-plane"]["healthy"] is False
    predicted = set(check["changed_objects"])
    assert {"ConfigMap/kube-system/kubeadm-config", "Secret/kube-system/bootstrap-token-chkmod",
            "Secret/kube-system/kubeadm-certs", "Deployment/kube-system/coredns", "Node/cp1",
            "ClusterRoleBinding/kubeadm:cluster-admins"} <= predicted
    assert "/etc/kubernetes/pki/ca.key" in check["changed_files"]
    assert_no_secret(check["_stdout"] + json.dumps(check["diff"]), TOKEN[7:], CERT_KEY)


# --- kubeadm_join ---------------------------------------------------------------------------------------

def _etcd_members(lab) -> list:
    pki = lab.pki_dir
    out = subprocess.run([ETCDCTL, f"--endpoints=https://{lab.address}:2379", f"--cacert={pki}/etcd/ca.crt",
                          f"--cert={pki}/etcd/healthcheck-client.crt", f"--key={pki}/etcd/healthcheck-client.key",
                          "member", "list", "-w", "json"], capture_output=True, text=True,
                         env=dict(os.environ, ETCDCTL_API="3"))
    assert out.returncode == 0, out.stderr
    return sorted((m.get("name", ""), tuple(m["peerURLs"]), bool(m.get("isLearner"))) for m in
                  json.loads(out.stdout)["members"])


def _lab_kubeconfig(lab, tmp_path) -> str:
    path = tmp_path / "lab-admin.conf"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "lab",
        "clusters": [{"name": "lab", "cluster": {"server": lab.url,
                                                 "certificate-authority": os.path.join(lab.pki_dir, "ca.crt")}}],
        "contexts": [{"name": "lab", "context": {"cluster": "lab", "user": "lab"}}],
        "users": [{"name": "lab", "user": {"token": ADMIN_TOKEN}}]}))
    return str(path)


def test_join_check_mode_predicts_the_real_run(tmp_path, kubectl, kubectl_env):
    """A control-plane join (stacked etcd): the plan names the Node it marks and the etcd member it
    adds, reads etcd and the API without changing either, and matches the real run."""
    block = loopback_block()  # etcd's fixed ports: addresses no other test file uses at the same time
    lab = Lab(str(tmp_path), upload_certs=True, address=block + "1")
    kubelets = []
    try:
        lab.wait_signed()
        lab.write_node1_control_plane()
        first = FakeKubelet(lab.admin, lab.rootfs1, "cp1", block + "1")
        kubelets.append(first)
        first.start()
        ApiWriter(lab.admin).ensure({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "cp2"}})
        rootfs = str(tmp_path / "cp2")
        os.makedirs(rootfs)
        config = tmp_path / "join.yaml"
        config.write_text(yaml.safe_dump({
            "apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "JoinConfiguration",
            "discovery": {"bootstrapToken": {"apiServerEndpoint": lab.endpoint, "token": JOIN_TOKEN,
                                             "caCertHashes": [lab.pin]}},
            "controlPlane": {"certificateKey": JOIN_CERT_KEY, "localAPIEndpoint": {"advertiseAddress": block + "2"}},
            "nodeRegistration": {"name": "cp2", "ignorePreflightErrors": ["all"]},
            "skipPhases": ["wait-control-plane"], "timeouts": {"discovery": "20s"}}))
        args = {"config": str(config), "rootfs": rootfs}
        kubeconfig = _lab_kubeconfig(lab, tmp_path)
        before, members, tree = kubectl_objects(kubectl, kubectl_env, kubeconfig), _etcd_members(lab), \
            tree_hash(rootfs)

        check = _playbook(tmp_path, args, "--check", "--diff")
        assert not check.get("failed"), check
        assert check["changed"] is True
        assert kubectl_objects(kubectl, kubectl_env, kubeconfig) == before, "check mode changed an object"
        assert _etcd_members(lab) == members, "check mode changed the etcd membership"
        assert tree_hash(rootfs) == tree, "check mode wrote a file"
        assert set(check["changed_objects"]) == {"Node/cp2", "EtcdMember/cp2"}
        assert check["etcd"]["added"] is True and check["etcd"]["promoted"] is False
        assert_no_secret(check["_stdout"] + json.dumps(check["diff"]), JOIN_TOKEN[7:], JOIN_CERT_KEY)

        kubelet = FakeKubelet(lab.admin, rootfs, "cp2", block + "2")
        kubelets.append(kubelet)
        kubelet.watch()
        real = _playbook(tmp_path, args)
        assert not real.get("failed") and real["changed"], real
        stored = changed_between(before, kubectl_objects(kubectl, kubectl_env, kubeconfig))
        assert set(real["changed_objects"]) == set(check["changed_objects"])
        assert stored == {o for o in check["changed_objects"] if not o.startswith("EtcdMember/")}
        assert len(_etcd_members(lab)) == len(members) + 1

        again = _playbook(tmp_path, args, "--check")
        assert not again.get("failed") and again["changed"] is False and again["changed_objects"] == [], again
    finally:
        for kubelet in kubelets:
            kubelet.stop()
        lab.stop()


# --- kubeadm_token ---------------------------------------------------------------------------------------

def test_token_check_mode_predicts_the_real_run(api_double, tmp_path, kubectl, kubectl_env):
    double = api_double()
    kubeconfig = double.admin_kubeconfig
    given = {"kubeconfig": kubeconfig, "token": "chkmod.fedcba9876543210", "description": "check mode"}
    before = kubectl_objects(kubectl, kubectl_env, kubeconfig)
    check = run_task(tmp_path, "kubeboot.cluster.kubeadm_token", given, "--check", "--diff", name="check")
    assert check["changed"] is True and check["changed_objects"] == ["Secret/kube-system/bootstrap-token-chkmod"]
    assert kubectl_objects(kubectl, kubectl_env, kubeconfig) == before, "check mode changed an object"
    assert "fedcba9876543210" not in check["_stdout"]

    real = run_task(tmp_path, "kubeboot.cluster.kubeadm_token", given, name="real")
    stored = changed_between(before, kubectl_objects(kubectl, kubectl_env, kubeconfig))
    assert real["changed"] and real["changed_objects"] == check["changed_objects"] and stored == set(
        check["changed_objects"])
    again = run_task(tmp_path, "kubeboot.cluster.kubeadm_token", given, "--check", name="again")
    assert again["changed"] is False and again["changed_objects"] == []

    absent = dict(given, state="absent")
    present = kubectl_objects(kubectl, kubectl_env, kubeconfig)
    check_absent = run_task(tmp_path, "kubeboot.cluster.kubeadm_token", absent, "--check", name="check-absent")
    assert check_absent["changed"] and check_absent["changed_objects"] == check["changed_objects"]
    assert kubectl_objects(kubectl, kubectl_env, kubeconfig) == present
    gone = run_task(tmp_path, "kubeboot.cluster.kubeadm_token", absent, name="absent")
    assert gone["changed_objects"] == check["changed_objects"]
    assert changed_between(present, kubectl_objects(kubectl, kubectl_env, kubeconfig)) == set(check["changed_objects"])
