"""kubeadm_init through ansible-playbook on a node that already runs a control plane: a version the
skew rule refuses (two minors up, a minor down with etcd 3.7 -> 3.5) fails before anything is
written (the tree's content and modes hash the same), with an error pointing at kubeadm_upgrade (one
case in a real run, the other in check mode)."""
from __future__ import annotations

import hashlib
import os

import pytest

from ansible_collections.kubeboot.cluster.plugins.module_utils.init import run_init

from tests.integration.test_init_playbook import base_args, run_playbook


def tree_hash(rootfs: str) -> str:
    digest = hashlib.sha256()
    for dirpath, dirs, files in sorted(os.walk(rootfs)):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(dirpath, name)
            with open(path, "rb") as handle:
                digest.update(f"{os.path.relpath(path, rootfs)} {os.stat(path).st_mode:o}\n".encode())
                digest.update(handle.read())
    return digest.hexdigest()


@pytest.mark.parametrize("first, second, mode, reason", [
    ("v1.35.7", "v1.37.0", (), "can upgrade only 1 minor version at a time"),
    ("v1.37.0", "v1.33.13", ("--check", "--diff"), "etcd 3.7.0-0 -> 3.5.24-0"),
])
def test_init_refuses_a_version_the_skew_rule_refuses(tmp_path, first, second, mode, reason):
    rootfs = str(tmp_path / "root")
    os.makedirs(rootfs)
    run_init(dict(base_args(rootfs), kubernetes_version=first))  # the running control plane (in-process)
    before = tree_hash(rootfs)
    refused = run_playbook(tmp_path, dict(base_args(rootfs), kubernetes_version=second), *mode, name="again")
    assert refused.get("failed") is True, refused["_stdout"]
    assert refused["msg"].startswith("kubernetes_version: invalid value"), refused["msg"]
    assert reason in refused["msg"] and "kubeadm_upgrade" in refused["msg"], refused["msg"]
    assert tree_hash(rootfs) == before, "the refused run wrote into the node"
