"""Concurrent runs (issue 12): two kubeadm_init runs started at once into one tree (each in its own
process, the first rename held back so they overlap) leave one consistent PKI; two kubeadm_token
runs at once on one node create one token. The lock is files.RootfsLock."""
from __future__ import annotations

import os
import subprocess
import time

import pytest

from ansible_collections.kubeboot.cluster.plugins.module_utils import bootstraptoken, files, kubeconfig, tokencmd
from ansible_collections.kubeboot.cluster.plugins.module_utils.apiwriter import ApiWriter
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import TimeoutError_

from tests.support.hardening import consistency_problems, fork_run, run_init, stray_files, wait_child

pytestmark = pytest.mark.hardening("concurrency")


@pytest.mark.parametrize("trial", range(4))
def test_two_inits_at_once_leave_one_consistent_tree(tmp_path, openssl, trial):
    rootfs = str(tmp_path / "rootfs")
    os.makedirs(rootfs)
    # both hold their first rename for a moment: without the lock both would create a CA
    first = fork_run(lambda: run_init(rootfs), delay_first_rename=0.4)
    second = fork_run(lambda: run_init(rootfs), delay_first_rename=0.4)
    assert wait_child(first) == 0 and wait_child(second) == 0
    assert consistency_problems(rootfs, openssl) == []
    assert stray_files(rootfs) == []
    assert run_init(rootfs)["changed"] is False


def test_the_lock_is_exclusive_and_released_with_its_process(tmp_path):
    rootfs = str(tmp_path / "rootfs")
    with files.RootfsLock(rootfs):
        with pytest.raises(TimeoutError_, match="another kubeboot run holds the lock on"):
            with files.RootfsLock(rootfs, timeout=0.5):
                pass
    holder = fork_run(lambda: (files.RootfsLock(rootfs).__enter__(), os.kill(os.getpid(), 9)))
    wait_child(holder)
    with files.RootfsLock(rootfs, timeout=2):  # the killed holder's lock died with it
        pass
    assert os.listdir(rootfs) == []  # nothing was created in the tree


def admin_conf(double, rootfs: str) -> str:
    """An admin.conf with embedded credentials inside the node's rootfs."""
    cert, key = double.client_cert("kubernetes-admin", ["system:masters"])
    text = kubeconfig.render_kubeconfig(double.url, double.ca_pem, "kubernetes-admin",
                                        open(cert, "rb").read(), open(key, "rb").read())
    os.makedirs(os.path.join(rootfs, "etc/kubernetes"), exist_ok=True)
    with open(os.path.join(rootfs, "etc/kubernetes/admin.conf"), "w") as handle:
        handle.write(text)
    return "/etc/kubernetes/admin.conf"


def test_two_token_runs_at_once_create_one_token(tmp_path, api_double):
    double = api_double()
    rootfs = str(tmp_path / "node")
    params = {"rootfs": rootfs, "kubeconfig": admin_conf(double, rootfs), "state": "present", "ttl": "1h",
              "usages": ["signing", "authentication"], "groups": ["system:bootstrappers:kubeadm:default-node-token"],
              "description": "concurrent", "reuse": True, "api_timeout": 10}
    original = tokencmd.token_ids

    def slow_ids(api):  # each run holds between reading the token list and creating one
        ids = original(api)
        time.sleep(0.5)
        return ids
    tokencmd.token_ids = slow_ids
    try:
        children = [fork_run(lambda: tokencmd.run_token(dict(params))) for _ in range(2)]
        assert [wait_child(pid) for pid in children] == [0, 0]
    finally:
        tokencmd.token_ids = original
    client = tokencmd.client_for(files.HostFS(rootfs), params["kubeconfig"])
    secrets = bootstraptoken.list_token_secrets(ApiWriter(client))
    described = [s for s in secrets if "description" in (s.get("data") or {})]
    assert len(described) == 1, [s["metadata"]["name"] for s in described]


def test_reset_waits_for_a_run_on_its_tree(tmp_path):
    """kubeadm_reset takes the same lock: while an init holds the tree (here: a process holding
    the lock for 1.5s), a reset waits, then finds the finished tree and removes it."""
    from ansible_collections.kubeboot.cluster.plugins.module_utils import reset  # pylint: disable=import-outside-toplevel
    rootfs = str(tmp_path / "rootfs")
    run_init(rootfs)

    def hold():  # exits 3 if the reset removed anything while the lock was held
        with files.RootfsLock(rootfs):
            time.sleep(1.5)
            assert os.path.exists(os.path.join(rootfs, "etc/kubernetes/pki/ca.key"))
    holder = fork_run(hold)
    time.sleep(0.3)
    started = time.monotonic()
    result = reset.run_reset({"rootfs": rootfs, "force": True, "skip_phases": ["delete-node", "remove-etcd-member"]})
    waited = time.monotonic() - started
    assert wait_child(holder) == 0
    assert waited >= 1.0, f"the reset did not wait for the lock ({waited:.2f}s)"
    assert result["changed"] and not os.path.exists(os.path.join(rootfs, "etc/kubernetes/pki/ca.key"))


def test_certs_renewal_waits_for_a_run_on_its_tree(tmp_path, openssl):
    """kubeadm_certs takes the same lock: a renewal started while another run holds the tree waits
    for it, then renews (new serial, same key: openssl)."""
    from ansible_collections.kubeboot.cluster.plugins.module_utils import certscmd  # pylint: disable=import-outside-toplevel
    rootfs = str(tmp_path / "rootfs")
    run_init(rootfs)
    crt = os.path.join(rootfs, "etc/kubernetes/pki/apiserver.crt")

    def serial() -> str:
        return subprocess.run([openssl, "x509", "-noout", "-serial", "-in", crt], capture_output=True, text=True,
                              check=True).stdout
    before_serial = serial()

    def hold():  # exits non-zero if the renewal rewrote the certificate while the lock was held
        with files.RootfsLock(rootfs):
            before = open(crt, encoding="utf-8").read()
            time.sleep(1.5)
            assert open(crt, encoding="utf-8").read() == before
    holder = fork_run(hold)
    time.sleep(0.3)
    started = time.monotonic()
    result = certscmd.run_certs({"rootfs": rootfs, "renew": ["apiserver"]})
    waited = time.monotonic() - started
    assert wait_child(holder) == 0
    assert waited >= 1.0, f"the renewal did not wait for the lock ({waited:.2f}s)"
    assert result["renewed"] == ["apiserver"] and serial() != before_serial
