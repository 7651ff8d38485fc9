"""Interruptions (issue 12): a kubeadm_init run is killed with SIGKILL at every rename it makes,
once between fsync and rename (the temp file complete, not yet in place) and once right after the
rename; and at a few random moments. The rerun must complete: the CAs that were on disk are kept
(same public key, checked with openssl), nothing is left of the killed run's temp files, the tree is
consistent (openssl verify, keys match, kubeconfigs embed ca.crt) and a second rerun changes nothing."""
from __future__ import annotations

import os
import pathlib
import random
import shutil
import signal
import tempfile
import time

import pytest

from tests.support.hardening import (
    ca_pin, consistency_problems, count_renames, fork_run, public_key_der, run_init, stray_files, wait_child)

pytestmark = pytest.mark.hardening("interruptions")

CAS = ("ca", "front-proxy-ca", "etcd/ca")


@pytest.fixture
def tmp_path(tmp_path):
    """On tmpfs (/dev/shm) when there is one: 70 killed runs are about renames, not disk flushes."""
    if not os.access("/dev/shm", os.W_OK):
        yield tmp_path
        return
    path = tempfile.mkdtemp(prefix="kubeboot-kill-", dir="/dev/shm")
    yield pathlib.Path(path)
    shutil.rmtree(path, ignore_errors=True)


RENAMES = 35  # renames of a fresh init with these settings (asserted by test_kill_points_cover_every_rename)


@pytest.fixture(scope="module")
def renames(tmp_path_factory) -> int:
    root = str(tmp_path_factory.mktemp("count") / "rootfs")
    return count_renames(lambda: run_init(root))


def test_kill_points_cover_every_rename(renames):
    assert renames == RENAMES, f"a fresh init makes {renames} renames: set RENAMES to it"


def _ca_pins(rootfs: str, openssl: str, independent: bool = False) -> dict:
    """Public keys of the CA files on disk (cert and key apart: a kill can leave one of them); with
    `independent`, as openssl computes them."""
    pki = os.path.join(rootfs, "etc/kubernetes/pki")
    pins = {}
    for ca in CAS:
        for suffix in (".crt", ".key"):
            path = os.path.join(pki, ca + suffix)
            if os.path.exists(path):
                with open(path, "rb") as handle:
                    pem = handle.read()
                pins[ca + suffix] = ca_pin(pem, openssl) if independent else public_key_der(pem)
    return pins


def _rerun_completes(rootfs: str, openssl: str, independent: bool = False) -> None:
    before = _ca_pins(rootfs, openssl, independent)
    result = run_init(rootfs)
    assert not result.get("failed")
    after = _ca_pins(rootfs, openssl, independent)
    for name, pin in before.items():  # every CA file that survived the kill is the CA of the tree
        ca = name.rsplit(".", 1)[0]
        assert after[ca + ".crt"] == pin and after[ca + ".key"] == pin, f"{name}: another CA after the rerun"
    assert stray_files(rootfs) == [], "temp files of the killed run are left"
    assert consistency_problems(rootfs, openssl) == []
    again = run_init(rootfs)
    assert again["changed"] is False, again["changed_files"]


@pytest.mark.parametrize("before_rename", [True, False], ids=["between-fsync-and-rename", "after-rename"])
@pytest.mark.parametrize("kill_at", range(1, RENAMES + 1))
def test_kill_at_every_rename(tmp_path, openssl, kill_at, before_rename):
    rootfs = str(tmp_path / "rootfs")
    pid = fork_run(lambda: run_init(rootfs), kill_at=kill_at, before_rename=before_rename)
    assert wait_child(pid) == -signal.SIGKILL
    if before_rename:
        assert stray_files(rootfs), "killed between fsync and rename: its temp file is there"
    _rerun_completes(rootfs, openssl)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kill_at_a_random_moment(tmp_path, openssl, seed):
    rootfs = str(tmp_path / "rootfs")
    pid = fork_run(lambda: run_init(rootfs))
    time.sleep(random.Random(seed).uniform(0.05, 0.6))
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    wait_child(pid)
    _rerun_completes(rootfs, openssl, independent=True)


def test_ca_key_without_its_certificate_and_no_temp_is_still_refused(tmp_path, openssl):
    """The recovery takes only the partner an interrupted run left: a lone CA key with nothing to
    complete it is not silently given a new certificate."""
    rootfs = str(tmp_path / "rootfs")
    run_init(rootfs)
    os.unlink(os.path.join(rootfs, "etc/kubernetes/pki/front-proxy-ca.crt"))
    with pytest.raises(Exception, match="front-proxy-ca.key exists but .*front-proxy-ca.crt does not"):
        run_init(rootfs)
