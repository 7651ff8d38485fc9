"""kubeadm_reset end to end: through ansible-playbook after a full kubeadm_init against the API double on
real etcd (refusal before any change, check mode and --diff/-vvv without a secret, the Node deleted,
exactly init's files removed, a user's file kept, a rerun unchanged, init again on the same node); the
last member of a real etcd refused, then reset with force (the Node deleted, etcd stopped before its
data goes); a worker deleting its own Node with its kubelet identity; nothing outside the rootfs
touched through symlinks; and (slow) a 3-member etcd that loses exactly the reset member."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import urllib.request

import pytest

from ansible_collections.kubeboot.cluster.plugins.module_utils import cleanupnode, init, join, reset
from ansible_collections.kubeboot.cluster.plugins.module_utils.apiwriter import ApiWriter
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import KubebootError
from ansible_collections.kubeboot.cluster.plugins.module_utils.resetconfig import build_reset_config

from tests.integration.test_init_playbook import IGNORE, LOCAL_ONLY
from tests.support.apiserver.server import ApiDouble
from tests.support.apiserver.testing import free_port
from tests.support.joinlab import CERT_KEY, TOKEN, Lab, tree
from tests.support.playbook import play
from tests.support.staticpods import FakeKubelet, etcdctl, loopback_block, wait_etcd

USER_FILES = {"etc/kubernetes/my-notes.txt": "mine\n", "etc/kubernetes/manifests/my-static-pod.yaml": "kind: Pod\n",
              "etc/kubernetes/pki/my-ca-bundle.pem": "bundle\n"}


def tree_hash(rootfs: str) -> dict:
    """Every file (and link) of the tree with its content hash and mode: what check mode must not change."""
    state = {}
    for dirpath, dirs, files in os.walk(rootfs):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(dirpath, d))]:
            path = os.path.join(dirpath, name)
            if os.path.islink(path):
                state[path] = "link:" + os.readlink(path)
            else:
                with open(path, "rb") as handle:
                    state[path] = (hashlib.sha256(handle.read()).hexdigest(), os.stat(path).st_mode)
    return state


def etcd_revision(endpoint: str) -> int:
    req = urllib.request.Request(endpoint + "/v3/maintenance/status", data=b"{}", method="POST")
    with urllib.request.urlopen(req, timeout=5) as resp:
        return int(json.loads(resp.read())["header"]["revision"])


def kubectl_get(kubectl, env, kubeconfig, *args):
    return subprocess.run([kubectl, "--kubeconfig", kubeconfig, "get", *args], capture_output=True, text=True,
                          env=env, timeout=60)


def secrets_of(rootfs: str) -> list:
    """What must never be printed: a line of every private key, and the kubeconfigs' embedded keys."""
    found = []
    for dirpath, _dirs, files in os.walk(rootfs):
        for name in files:
            lines = open(os.path.join(dirpath, name), encoding="utf-8", errors="replace").read().splitlines()
            for index, line in enumerate(lines):
                if line.startswith("-----BEGIN") and "PRIVATE KEY" in line:
                    found.append(lines[index + 1])
                elif "client-key-data:" in line:
                    found.append(line.split(":", 1)[1].strip()[:60])
    return found


def init_args(rootfs: str, port: int) -> dict:
    return {"rootfs": rootfs, "node_name": "cp1", "apiserver_advertise_address": "127.0.0.1",
            "apiserver_bind_port": port, "kubernetes_version": "stable-1.34", "pod_network_cidr": "10.244.0.0/16",
            "ignore_preflight_errors": IGNORE}


def start_double(rootfs: str, port: int, store, version: str) -> ApiDouble:
    double = ApiDouble(os.path.join(rootfs, "etc/kubernetes/pki"), port=port, store=store,
                       kubernetes_version=version, controllers_interval="0.2s").start()
    # what the kubelet does when it starts with kubelet.conf: register its Node
    double.put({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "cp1"}, "spec": {}})
    return double


def test_reset_then_init_again_through_ansible_playbook(tmp_path, etcd_server, kubectl, kubectl_env, openssl):
    rootfs = str(tmp_path / "cp1")
    os.makedirs(rootfs)
    port = free_port()
    args = init_args(rootfs, port)
    local = init.run_init(dict(args, skip_phases=LOCAL_ONLY))  # kubeadm_init itself is tested elsewhere
    double = start_double(rootfs, port, etcd_server.store(), local["kubernetes_version"])
    try:
        full = init.run_init(args)
        assert full["changed"]
        token_secret = full["join"]["token"].split(".")[1]
        written = {os.path.relpath(p, rootfs) for p in tree_hash(rootfs)}
        for rel, text in USER_FILES.items():
            with open(os.path.join(rootfs, rel), "w", encoding="utf-8") as handle:
                handle.write(text)
        old_ca = open(os.path.join(rootfs, "etc/kubernetes/pki/ca.crt")).read()
        keys = secrets_of(rootfs)
        admin = os.path.join(rootfs, "etc/kubernetes/admin.conf")
        admin_copy = str(tmp_path / "admin-copy.conf")  # to ask the double after the reset removed admin.conf
        with open(admin, encoding="utf-8") as src, open(admin_copy, "w", encoding="utf-8") as dst:
            dst.write(src.read())
        assert kubectl_get(kubectl, kubectl_env, admin, "node", "cp1").returncode == 0
        before, revision = tree_hash(rootfs), etcd_revision(etcd_server.endpoint)

        # check mode: the node's own etcd (its manifest) is not running, so refused without force, as a real run
        # is; with force the plan: nothing written, nothing sent, no secret in -vvv and --diff
        results, log = play(tmp_path, [
            {"name": "refused", "kubeboot.cluster.kubeadm_reset": {"rootfs": rootfs}, "register": "refused"},
            {"name": "plan", "kubeboot.cluster.kubeadm_reset": {"rootfs": rootfs, "force": True}, "register": "plan"}],
            "plan", "--check", "--diff", "-vvv")
        assert results["refused"].get("failed") and "cannot reach etcd" in results["refused"]["msg"]
        assert "nothing was changed" in results["refused"]["msg"]
        plan = results["plan"]
        assert not plan.get("failed") and plan["changed"], plan
        assert tree_hash(rootfs) == before and etcd_revision(etcd_server.endpoint) == revision
        assert plan["changed_objects"] == ["Node/cp1"]
        assert kubectl_get(kubectl, kubectl_env, admin, "node", "cp1").returncode == 0
        assert any(d["before_header"] == "/etc/kubernetes/pki/ca.key" for d in plan["diff"])
        assert "PRIVATE KEY" not in log and token_secret not in log and len(keys) > 5
        assert not [k for k in keys if k in log], "a key was printed"

        results, _log = play(tmp_path, [
            {"name": "reset", "kubeboot.cluster.kubeadm_reset": {"rootfs": rootfs, "force": True}, "register": "first"},
            {"name": "again", "kubeboot.cluster.kubeadm_reset": {"rootfs": rootfs, "force": True}, "register": "again"}],
            "reset")
        first, again = results["first"], results["again"]
        assert not first.get("failed") and first["changed"], first
        assert sorted(first["removed"]) == sorted(plan["removed"]), "check mode did not predict the real run"
        assert first["node"]["deleted"] and first["node"]["credentials"] == "/etc/kubernetes/admin.conf"
        assert again["changed"] is False and again["removed"] == [], again
        assert sorted(first["kept"]) == sorted("/" + rel for rel in USER_FILES)
        left = {os.path.relpath(p, rootfs) for p in tree_hash(rootfs)}
        assert left == set(USER_FILES) | {"usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf"}, left
        assert written - left == written - {"usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf"}
        for rel, text in USER_FILES.items():
            assert open(os.path.join(rootfs, rel), encoding="utf-8").read() == text
        assert not os.path.exists(os.path.join(rootfs, "etc/kubernetes/pki/etcd"))
        # the double still runs (on the test's etcd): the Node is gone, for real kubectl
        gone = kubectl_get(kubectl, kubectl_env, admin_copy, "node", "cp1")
        assert gone.returncode != 0 and "NotFound" in gone.stderr
    finally:
        double.stop()

    # init again on the same node: a new cluster CA, and the cluster answers with the new admin.conf
    local = init.run_init(dict(args, skip_phases=LOCAL_ONLY))
    assert local["changed"] and open(os.path.join(rootfs, "etc/kubernetes/pki/ca.crt")).read() != old_ca
    double = start_double(rootfs, port, etcd_server.store(), local["kubernetes_version"])
    try:
        assert init.run_init(args)["changed"]
        out = kubectl_get(kubectl, kubectl_env, admin, "configmap", "-n", "kube-system", "kubeadm-config")
        assert out.returncode == 0, out.stderr
        verify = subprocess.run([openssl, "verify", "-CAfile", os.path.join(rootfs, "etc/kubernetes/pki/ca.crt"),
                                 os.path.join(rootfs, "etc/kubernetes/pki/apiserver.crt")], capture_output=True, text=True)
        assert verify.returncode == 0, verify.stderr
    finally:
        double.stop()


# --- a real etcd from the node's own manifest ---------------------------------------------------------

@pytest.fixture
def single(tmp_path):
    """cp1 of a join lab whose etcd (real, from cp1's manifest) runs under a FakeKubelet."""
    block = loopback_block()
    lab = Lab(str(tmp_path), address=block + "1")
    lab.write_node1_control_plane()
    kubelet = FakeKubelet(lab.admin, lab.rootfs1, "cp1", block + "1")
    kubelet.watch()
    wait_etcd(lab.rootfs1, kubelet.client_url)
    ApiWriter(lab.admin).ensure({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "cp1"}})
    yield lab, kubelet
    kubelet.stop()
    lab.stop()


def test_last_etcd_member_is_refused_then_reset_with_force(single):
    lab, kubelet = single
    before = tree_hash(lab.rootfs1)
    with pytest.raises(KubebootError, match="'cp1' is the last member of its etcd cluster.*nothing was changed"):
        reset.run_reset({"rootfs": lab.rootfs1})
    assert tree_hash(lab.rootfs1) == before and kubelet.proc.poll() is None
    check = reset.run_reset({"rootfs": lab.rootfs1, "force": True}, check_mode=True)
    assert check["etcd"]["last_member"] and check["changed_objects"] == ["Node/cp1"]
    assert tree_hash(lab.rootfs1) == before and lab.admin.get_or_none("Node", "cp1") is not None
    done = reset.run_reset({"rootfs": lab.rootfs1, "force": True})
    assert done["node"]["deleted"] and lab.admin.get_or_none("Node", "cp1") is None
    assert done["etcd"]["data_dir_removed"] and not done["etcd"]["removed_from_cluster"]
    assert kubelet.proc.poll() is not None, "etcd still runs"
    assert not os.path.exists(os.path.join(lab.rootfs1, "var/lib/etcd"))
    assert "/var/lib/etcd" in done["removed"] and sorted(done["removed"]) == sorted(check["removed"])
    assert reset.run_reset({"rootfs": lab.rootfs1, "force": True})["changed"] is False


def test_worker_reset_deletes_its_own_node_with_its_kubelet_identity(tmp_path):
    lab = Lab(str(tmp_path))
    try:
        lab.wait_signed()
        rootfs = str(tmp_path / "w1")
        joined = join.run_join(lab.join_params(rootfs, tls_bootstrap_mode="module"))
        assert joined["changed"]
        lab.admin.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "worker1"}})
        results, _log = play(tmp_path, [
            {"name": "reset", "kubeboot.cluster.kubeadm_reset": {"rootfs": rootfs}, "register": "first"},
            {"name": "again", "kubeboot.cluster.kubeadm_reset": {"rootfs": rootfs}, "register": "again"}], "worker")
        first = results["first"]
        assert not first.get("failed") and first["node_name"] == "worker1", first
        assert first["node"] == {"changed": True, "deleted": True, "name": "worker1",
                                 "credentials": "/etc/kubernetes/kubelet.conf"}
        assert first["etcd"] == {"changed": False, "skipped": first["etcd"]["skipped"]}
        assert lab.admin.get_or_none("Node", "worker1") is None
        assert results["again"]["changed"] is False
        assert tree(rootfs) == ["usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf"]
    finally:
        lab.stop()


# --- the node's tree: what reset owns, and nothing outside it -------------------------------------------

def test_owned_files_are_exactly_what_init_writes(tmp_path):
    rootfs = str(tmp_path / "n")
    os.makedirs(rootfs)
    init.run_init({"rootfs": rootfs, "node_name": "cp1", "apiserver_advertise_address": "127.0.0.1",
                   "kubernetes_version": "stable-1.35", "skip_phases": LOCAL_ONLY, "ignore_preflight_errors": ["all"]})
    cfg = build_reset_config({})
    owned = {item.path for item in cleanupnode.owned_files(cfg)} | set(cleanupnode.static_pod_manifests())
    written = {"/" + path for path in tree(rootfs)}
    assert written - owned == {"/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf"}


def test_nothing_outside_the_rootfs_is_followed(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "etc/kubernetes/manifests").mkdir(parents=True)
    (outside / "pki").mkdir(parents=True)
    for name in ("ca.crt", "ca.key", "sa.key"):
        (outside / "pki" / name).write_text("precious")
    (outside / "admin.conf").write_text("precious")
    os.symlink(str(outside / "pki"), root / "etc/kubernetes/pki")              # absolute: resolved inside root
    os.symlink(str(outside / "admin.conf"), root / "etc/kubernetes/admin.conf")  # a link is removed, not followed
    os.symlink("../../../../outside/pki/ca.key", root / "etc/kubernetes/super-admin.conf")
    result = reset.run_reset({"rootfs": str(root), "force": True})
    assert sorted(os.listdir(outside / "pki")) == ["ca.crt", "ca.key", "sa.key"]
    assert all((outside / "pki" / n).read_text() == "precious" for n in ("ca.crt", "ca.key", "sa.key"))
    assert (outside / "admin.conf").read_text() == "precious"
    assert "/etc/kubernetes/admin.conf" in result["removed"] and not os.path.lexists(root / "etc/kubernetes/admin.conf")
    assert not os.path.lexists(root / "etc/kubernetes/super-admin.conf")


def test_bad_input_is_one_clear_error_before_any_change(tmp_path):
    root = tmp_path / "root"
    (root / "etc/kubernetes").mkdir(parents=True)
    (root / "etc/kubernetes/admin.conf").write_text("x")
    for params, match in (({"skip_phases": ["cleanup"]}, "skip_phases: invalid value 'cleanup'"),
                          ({"skip_phases": ["preflight"]}, "skip_phases: invalid value 'preflight'"),
                          ({"kubeconfig": "/nope.conf"}, "kubeconfig: invalid value '/nope.conf'"),
                          ({"cert_dir": "pki"}, "cert_dir: invalid value 'pki': an absolute path")):
        with pytest.raises(KubebootError, match=match):
            reset.run_reset(dict(params, rootfs=str(root)))
        assert (root / "etc/kubernetes/admin.conf").read_text() == "x"


# --- slow: a real 3-member etcd loses exactly the reset member -------------------------------------------

@pytest.mark.slow  # make test-slow / test-all (CI runs both suites)
def test_reset_removes_exactly_its_etcd_member(tmp_path):
    block = loopback_block()
    lab = Lab(str(tmp_path), upload_certs=True, address=block + "1")
    kubelets = []
    try:
        lab.wait_signed()
        lab.write_node1_control_plane()
        first = FakeKubelet(lab.admin, lab.rootfs1, "cp1", block + "1")
        kubelets.append(first)
        first.start()
        wait_etcd(lab.rootfs1, first.client_url)
        roots = {}
        for index, name in ((2, "cp2"), (3, "cp3")):
            ApiWriter(lab.admin).ensure({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})
            roots[name] = str(tmp_path / name)
            os.makedirs(roots[name])
            kubelet = FakeKubelet(lab.admin, roots[name], name, f"{block}{index}")
            kubelets.append(kubelet)
            kubelet.watch()
            params = lab.join_params(roots[name], node_name=name, control_plane=True, certificate_key=CERT_KEY,
                                     apiserver_advertise_address=f"{block}{index}", tls_bootstrap_mode="module",
                                     skip_phases=["wait-control-plane"])
            assert join.run_join(params)["etcd"]["promoted"]

        def members():
            out = etcdctl(lab.rootfs1, first.client_url, "member", "list", "-w", "json")
            assert out.returncode == 0, out.stderr
            return sorted(m.get("name", "") for m in json.loads(out.stdout)["members"])
        assert members() == ["cp1", "cp2", "cp3"]
        before = tree_hash(roots["cp3"])
        results, log = play(tmp_path, [
            {"name": "plan", "kubeboot.cluster.kubeadm_reset": {"rootfs": roots["cp3"]}, "register": "plan"}],
            "plan3", "--check", "--diff")
        assert results["plan"]["changed_objects"] == ["Node/cp3", "EtcdMember/cp3"], results["plan"]
        assert members() == ["cp1", "cp2", "cp3"] and tree_hash(roots["cp3"]) == before
        assert "PRIVATE KEY" not in log
        results, _log = play(tmp_path, [
            {"name": "reset", "kubeboot.cluster.kubeadm_reset": {"rootfs": roots["cp3"]}, "register": "first"},
            {"name": "again", "kubeboot.cluster.kubeadm_reset": {"rootfs": roots["cp3"]}, "register": "again"}],
            "reset3")
        first_run = results["first"]
        assert not first_run.get("failed") and first_run["etcd"]["removed_from_cluster"], first_run
        assert sorted(m["name"] for m in first_run["etcd"]["members"]) == ["cp1", "cp2"]
        assert members() == ["cp1", "cp2"], "the 3-member etcd did not lose exactly cp3"
        assert kubelets[2].proc.poll() is not None and not os.path.exists(os.path.join(roots["cp3"], "var/lib/etcd"))
        assert lab.admin.get_or_none("Node", "cp3") is None and lab.admin.get_or_none("Node", "cp2") is not None
        assert results["again"]["changed"] is False
        assert etcdctl(lab.rootfs1, first.client_url, "endpoint", "health", "--cluster").returncode == 0
    finally:
        for kubelet in kubelets:
            kubelet.stop()
        lab.stop()


def test_cleanup_cni_removes_only_the_cni_plugins_files(tmp_path):
    root = tmp_path / "root"
    files = {"etc/cni/net.d/10-flannel.conflist": "{}", "etc/cni/net.d/87-podman-bridge.conflist": "{}",
             "run/flannel/subnet.env": "FLANNEL_NETWORK=10.244.0.0/16\n",
             "var/lib/cni/networks/cbr0/10.244.1.2": "abc", "var/lib/cni/networks/podman/10.88.0.2": "def"}
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    plan = reset.run_reset({"rootfs": str(root), "cleanup_cni": True}, check_mode=True)
    assert sorted(plan["cni"]) == ["/etc/cni/net.d/10-flannel.conflist", "/run/flannel", "/var/lib/cni/networks/cbr0"]
    assert all((root / rel).exists() for rel in files)
    done = reset.run_reset({"rootfs": str(root), "cleanup_cni": True})
    assert sorted(done["cni"]) == sorted(plan["cni"])
    assert tree(str(root)) == ["etc/cni/net.d/87-podman-bridge.conflist", "var/lib/cni/networks/podman/10.88.0.2"]
    cni_left = next(item for item in done["left_to_user"] if item["what"] == "CNI configuration")
    assert cni_left["paths"] == ["/etc/cni/net.d/87-podman-bridge.conflist"]
    assert reset.run_reset({"rootfs": str(root), "cleanup_cni": True})["changed"] is False
    without = reset.run_reset({"rootfs": str(root)})
    assert "iptables rules and IPVS tables" in [item["what"] for item in without["left_to_user"]]
