"""kubeadm_etcd against a real etcd (/usr/bin/etcd, started from the node's own etcd manifest with the
certificates kubeadm_init wrote): snapshot and restore through ansible-playbook round-trip real keys
(etcdctl get on an etcd started from the restored data dir), check mode writes nothing and sends nothing
(file absent, revision unchanged), the file's sha256 and etcd's own `snapshot status` agree, a running
member is not restored over; member_list, health, defrag (only when there is space to reclaim) and
member_remove (never the last voting member) in process."""
from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import time

import pytest
import yaml

from ansible_collections.kubeboot.cluster.plugins.module_utils import etcdcmd, init
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import KubebootError

from tests.integration.test_init_playbook import LOCAL_ONLY
from tests.support.playbook import play
from tests.support.staticpods import ETCDCTL, FakeKubelet, etcdctl, loopback_block, wait_etcd


@pytest.fixture
def node(tmp_path):
    """A control-plane node's tree (kubeadm_init's local phases) whose etcd runs from its manifest."""
    address = loopback_block() + "1"
    rootfs = str(tmp_path / "cp1")
    os.makedirs(rootfs)
    init.run_init({"rootfs": rootfs, "node_name": "cp1", "apiserver_advertise_address": address,
                   "kubernetes_version": "stable-1.34", "skip_phases": LOCAL_ONLY, "ignore_preflight_errors": ["all"]})
    kubelet = FakeKubelet(None, rootfs, "cp1", address)
    kubelet.watch()
    wait_etcd(rootfs, kubelet.client_url)
    yield rootfs, kubelet
    kubelet.stop()


def _revision(rootfs, endpoint) -> int:
    out = etcdctl(rootfs, endpoint, "endpoint", "status", "-w", "json")
    assert out.returncode == 0, out.stderr
    return int(json.loads(out.stdout)[0]["Status"]["header"]["revision"])


def _wait_free(rootfs, endpoint, wanted: int, timeout: float = 20) -> int:
    """etcd applies a compaction in the background and reports dbSizeInUse after its next backend
    commit: wait (etcdctl endpoint status) until `wanted` bytes are free to reclaim."""
    deadline = time.monotonic() + timeout
    while True:
        status = json.loads(etcdctl(rootfs, endpoint, "endpoint", "status", "-w", "json").stdout)[0]["Status"]
        free = int(status["dbSize"]) - int(status.get("dbSizeInUse") or status["dbSize"])
        if free >= wanted or time.monotonic() > deadline:
            return free
        time.sleep(0.2)


def _get(rootfs, endpoint, key) -> str:
    out = etcdctl(rootfs, endpoint, "get", key, "--print-value-only")
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_snapshot_and_restore_round_trip_through_ansible_playbook(node, tmp_path):
    rootfs, kubelet = node
    endpoint = kubelet.client_url
    for key, value in (("/registry/test/a", "one"), ("/registry/test/b", "two")):
        assert etcdctl(rootfs, endpoint, "put", key, value).returncode == 0
    path = str(tmp_path / "backup" / "etcd.db")
    args = {"rootfs": rootfs, "action": "snapshot", "path": path}
    revision = _revision(rootfs, endpoint)
    results, _log = play(tmp_path, [{"name": "plan", "kubeboot.cluster.kubeadm_etcd": args, "register": "plan"}],
                         "plan", "--check", "--diff")
    assert results["plan"]["changed"] and not os.path.exists(path) and _revision(rootfs, endpoint) == revision
    results, log = play(tmp_path, [
        {"name": "save", "kubeboot.cluster.kubeadm_etcd": args, "register": "save"},
        {"name": "save again", "kubeboot.cluster.kubeadm_etcd": args, "register": "again"}], "save", "--diff", "-vvv")
    save, again = results["save"], results["again"]
    assert not save.get("failed") and save["changed"] and save["etcd_hash_ok"], save
    data = open(path, "rb").read()
    assert save["sha256"] == hashlib.sha256(data).hexdigest() and save["size"] == len(data)
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    status = etcdcmd.subprocess.run([ETCDCTL, "snapshot", "status", path, "-w", "json"], capture_output=True,
                                    text=True, env=dict(os.environ, ETCDCTL_API="3"))
    assert status.returncode == 0 and json.loads(status.stdout)["revision"] == save["revision"], status.stderr
    assert again["changed"] is False and again["sha256"] == save["sha256"]
    assert "PRIVATE KEY" not in log
    assert etcdctl(rootfs, endpoint, "put", "/registry/test/a", "changed-after-the-snapshot").returncode == 0

    data_dir = "/var/lib/etcd-restored"
    restore = {"rootfs": rootfs, "action": "restore", "path": path, "data_dir": data_dir, "name": "cp1",
               "initial_advertise_peer_urls": f"https://{kubelet.address}:2380"}
    results, _log = play(tmp_path, [{"name": "running", "kubeboot.cluster.kubeadm_etcd": restore,
                                     "register": "running"}], "running")
    assert results["running"].get("failed") and "still answers" in results["running"]["msg"]
    # stop the member the way etcd documents it for kubeadm: its manifest out of the manifests directory
    manifest = os.path.join(rootfs, "etc/kubernetes/manifests/etcd.yaml")
    shutil.move(manifest, str(tmp_path / "etcd.yaml"))
    kubelet.proc.wait(15)
    results, _log = play(tmp_path, [
        {"name": "plan", "kubeboot.cluster.kubeadm_etcd": restore, "register": "plan", "check_mode": True},
        {"name": "restore", "kubeboot.cluster.kubeadm_etcd": restore, "register": "restore"},
        {"name": "again", "kubeboot.cluster.kubeadm_etcd": restore, "register": "again"}], "restore")
    assert results["plan"]["changed"] and results["plan"]["restored"] is False, results["plan"]
    restored = results["restore"]
    assert not restored.get("failed") and restored["restored"] and restored["snapshot_sha256"] == save["sha256"], restored
    assert results["again"]["changed"] is False
    assert os.path.isdir(os.path.join(rootfs, data_dir.lstrip("/"), "member", "snap"))

    # the restored member: the manifest back, pointing at the new data dir
    with open(str(tmp_path / "etcd.yaml"), encoding="utf-8") as handle:
        pod = yaml.safe_load(handle)
    command = pod["spec"]["containers"][0]["command"]
    pod["spec"]["containers"][0]["command"] = [f"--data-dir={data_dir}" if a.startswith("--data-dir=") else a
                                               for a in command]
    with open(manifest, "w", encoding="utf-8") as handle:
        yaml.safe_dump(pod, handle)
    started = FakeKubelet(None, rootfs, "cp1", kubelet.address)
    started.start()
    try:
        wait_etcd(rootfs, endpoint)
        assert _get(rootfs, endpoint, "/registry/test/a") == "one"
        assert _get(rootfs, endpoint, "/registry/test/b") == "two"
    finally:
        started.stop()


def test_member_list_health_defrag_and_member_remove(node):
    rootfs, kubelet = node
    base = {"rootfs": rootfs}
    listed = etcdcmd.run_etcd(dict(base, action="member_list"))
    assert [m["name"] for m in listed["members"]] == ["cp1"] and listed["changed"] is False
    health = etcdcmd.run_etcd(dict(base, action="health"))
    assert health["healthy"] and health["endpoints"][0]["leader"] and health["endpoints"][0]["endpoint"] == \
        kubelet.client_url

    # free space: overwrite a few keys many times, compact, then defragment
    client = etcdcmd.EtcdCommand(base, False).client()
    blob = base64.b64encode(os.urandom(8000)).decode()
    for index in range(400):
        client.call("/v3/kv/put", {"key": base64.b64encode(f"/k{index % 3}".encode()).decode(), "value": blob})
    revision = _revision(rootfs, kubelet.client_url)
    assert etcdctl(rootfs, kubelet.client_url, "compaction", "--physical", str(revision)).returncode == 0
    free = _wait_free(rootfs, kubelet.client_url, 16384)
    assert free >= 16384, free
    args = dict(base, action="defrag", defrag_min_free_bytes=16384)
    plan = etcdcmd.run_etcd(args, check_mode=True)
    assert plan["changed"] and plan["endpoints"][0]["defragmented"]
    assert etcdcmd.run_etcd(args, check_mode=True)["endpoints"][0]["free"] == plan["endpoints"][0]["free"]
    done = etcdcmd.run_etcd(args)
    assert done["changed"] and done["endpoints"][0]["db_size"] < plan["endpoints"][0]["db_size"]
    assert etcdcmd.run_etcd(args)["changed"] is False

    ghost = f"https://{kubelet.address.rsplit('.', 1)[0]}.9:2380"
    assert etcdctl(rootfs, kubelet.client_url, "member", "add", "ghost", f"--peer-urls={ghost}",
                   "--learner").returncode == 0
    remove = dict(base, action="member_remove", name=ghost)
    plan = etcdcmd.run_etcd(remove, check_mode=True)
    assert plan["changed"] and len(etcdcmd.run_etcd(dict(base, action="member_list"))["members"]) == 2
    done = etcdcmd.run_etcd(remove)
    assert done["removed"] and [m["name"] for m in done["members"]] == ["cp1"]
    assert [m["name"] for m in etcdcmd.run_etcd(dict(base, action="member_list"))["members"]] == ["cp1"]
    assert etcdcmd.run_etcd(remove)["changed"] is False
    with pytest.raises(KubebootError, match="last voting member"):
        etcdcmd.run_etcd(dict(base, action="member_remove", name="cp1"))


def test_bad_input_is_one_clear_error(node, tmp_path):
    rootfs, _kubelet = node
    for params, match in (({"action": "snapshot"}, "path: invalid value None"),
                          ({"action": "restore", "path": str(tmp_path / "none.db"), "data_dir": "/var/lib/x"},
                           "path: invalid value .*an existing snapshot file"),
                          ({"action": "member_list", "cert_dir": "pki"}, "cert_dir: invalid value 'pki'"),
                          ({"action": "defrag", "defrag_min_free_bytes": -1}, "defrag_min_free_bytes")):
        with pytest.raises(KubebootError, match=match):
            etcdcmd.run_etcd(dict(params, rootfs=rootfs))
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(b"\0" * 4096)
    with pytest.raises(KubebootError, match="SHA-256 trailer"):
        etcdcmd.run_etcd({"rootfs": rootfs, "action": "restore", "path": str(damaged), "data_dir": "/var/lib/r",
                          "force": True, "name": "cp1", "initial_advertise_peer_urls": "https://127.0.0.1:2380"})
    assert not os.path.exists(os.path.join(rootfs, "var/lib/r"))
