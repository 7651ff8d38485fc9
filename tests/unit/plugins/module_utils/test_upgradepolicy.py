"""upgradepolicy.py: the one version skew rule (kubeadm policy.go, minus its one-minor downgrade)."""
from __future__ import annotations

import pytest

from ansible_collections.kubeboot.cluster.plugins.module_utils import config, manifests, upgradepolicy
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import ConfigError
from ansible_collections.kubeboot.cluster.plugins.module_utils.files import HostFS, Writer


@pytest.mark.parametrize("current, target", [("v1.35.7", "v1.36.3"), ("v1.36.1", "v1.36.3"), ("v1.36.3", "v1.36.3"),
                                             ("v1.33.13", "v1.34.10")])
def test_one_minor_up_and_patches_are_allowed(current, target):
    skew = upgradepolicy.version_skew(current, target)
    assert skew.allowed() and not skew.mandatory and not skew.skippable


def test_two_minors_at_once_is_refused_with_kubeadms_message():
    skew = upgradepolicy.version_skew("v1.35.7", "v1.37.0")
    assert skew.refused and not skew.allowed(force=True)
    assert skew.mandatory == ["Specified version to upgrade to 'v1.37.0' is too high; kubeadm can upgrade only 1 "
                              "minor version at a time (the cluster runs v1.35.7)"]


def test_a_minor_downgrade_is_refused_and_names_etcd():
    skew = upgradepolicy.version_skew("v1.37.0", "v1.36.3", current_etcd="3.7.0-0", target_etcd="3.6.8-0")
    assert skew.refused and "etcd 3.7.0-0 -> 3.6.8-0" in skew.mandatory[0]


def test_a_patch_downgrade_is_a_note_and_etcd_is_never_downgraded():
    skew = upgradepolicy.version_skew("v1.33.13", "v1.33.5", current_etcd="3.5.24-0", target_etcd="3.5.21-0")
    assert skew.allowed()
    assert any("patch downgrade" in n for n in skew.notes) and any("etcd stays at 3.5.24-0" in n for n in skew.notes)


def test_old_kubelets_and_unstable_versions_are_skippable():
    skew = upgradepolicy.version_skew("v1.36.3", "v1.37.0", kubelet_versions=["v1.33.1", "v1.36.3"])
    assert not skew.refused and not skew.allowed() and skew.allowed(force=True)
    assert "['v1.33.1']" in skew.skippable[0]
    assert upgradepolicy.version_skew("v1.36.3", "v1.37.0", kubelet_versions=["v1.34.0"]).allowed()
    rc = upgradepolicy.version_skew("v1.36.3", "v1.37.1-rc.0")
    assert not rc.allowed() and upgradepolicy.version_skew("v1.36.3", "v1.37.1-rc.0", allow_rc=True).allowed()


def _control_plane(tmp_path, version):
    fs = HostFS(str(tmp_path))
    cfg = config.sample_init_config(version=version)
    manifests.ensure_manifests(cfg, fs, Writer(fs), environ={})
    return fs


@pytest.mark.parametrize("current, target, reason", [
    ("v1.35.7", "v1.37.0", "can upgrade only 1 minor version at a time"),
    ("v1.37.0", "v1.33.13", "etcd 3.7.0-0 -> 3.5.24-0"),
    ("v1.35.7", "v1.36.3", "upgrade to v1.36.3 with kubeboot.cluster.kubeadm_upgrade"),
])
def test_init_guard_refuses_changing_a_running_control_plane(tmp_path, current, target, reason):
    fs = _control_plane(tmp_path, current)
    with pytest.raises(ConfigError) as err:
        upgradepolicy.guard_existing_control_plane(config.sample_init_config(version=target), fs)
    assert err.value.field == "kubernetes_version" and reason in str(err.value)
    assert "kubeadm_upgrade" in str(err.value)


def test_init_guard_lets_a_rerun_and_a_fresh_node_through(tmp_path):
    upgradepolicy.guard_existing_control_plane(config.sample_init_config(version="v1.36.3"), HostFS(str(tmp_path)))
    fs = _control_plane(tmp_path, "v1.36.3")
    upgradepolicy.guard_existing_control_plane(config.sample_init_config(version="v1.36.3"), fs)
    assert upgradepolicy.running_versions(fs) == ("v1.36.3", "3.6.8-0")
