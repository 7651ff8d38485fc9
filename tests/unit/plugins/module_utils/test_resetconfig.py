"""resetconfig.py: v1beta4 ResetConfiguration defaults, a config file, module options over it, and one
clear error per bad value (field, value, what is allowed) before anything runs."""
from __future__ import annotations

import pytest
import yaml

from ansible_collections.kubeboot.cluster.plugins.module_utils import resetconfig
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import ConfigError


def _file(tmp_path, *docs) -> str:
    path = tmp_path / "reset.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    return str(path)


def test_kubeadm_defaults():
    cfg = resetconfig.build_reset_config({})
    assert cfg.reset["apiVersion"] == "kubeadm.k8s.io/v1beta4" and cfg.reset["kind"] == "ResetConfiguration"
    assert cfg.cert_dir == "/etc/kubernetes/pki" and cfg.force is False and cfg.cleanup_tmp_dir is False
    assert cfg.cri_socket == "unix:///var/run/containerd/containerd.sock"
    assert cfg.timeout("etcdAPICall") == 120 and cfg.skip_phases == [] and cfg.warnings == []


def test_config_file_and_options_over_it(tmp_path):
    path = _file(tmp_path, {"apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "ResetConfiguration",
                            "certificatesDir": "/srv/pki", "force": True, "skipPhases": ["delete-node"],
                            "timeouts": {"etcdAPICall": "30s"}, "cleanupTmpDir": True},
                 {"apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "InitConfiguration"})
    cfg = resetconfig.build_reset_config({"config": path, "cert_dir": "/etc/kubernetes/pki",
                                          "ignore_preflight_errors": ["IsPrivilegedUser"]})
    assert cfg.cert_dir == "/etc/kubernetes/pki"  # the option wins, with a warning
    assert any("cert_dir" in w and "/srv/pki" in w for w in cfg.warnings)
    assert any("InitConfiguration" in w and "ignored" in w for w in cfg.warnings)
    assert cfg.force and cfg.cleanup_tmp_dir and cfg.skip_phases == ["delete-node"]
    assert cfg.timeout("etcdAPICall") == 30 and cfg.reset["timeouts"]["etcdAPICall"] == "30s"
    assert cfg.ignore_preflight_errors == ["isprivilegeduser"]


@pytest.mark.parametrize("params, field, value", [
    ({"cert_dir": "relative/pki"}, "cert_dir", "relative/pki"),
    ({"cri_socket": "/var/run/dockershim.sock"}, "cri_socket", "/var/run/dockershim.sock"),
    ({"ignore_preflight_errors": ["all", "Swap"]}, "ignore_preflight_errors", ["all", "swap"]),
    ({"node_name": "Not_A_Node"}, "node_name", "not_a_node"),
])
def test_bad_option_is_one_clear_error(params, field, value):
    with pytest.raises(ConfigError) as exc:
        resetconfig.build_reset_config(params)
    assert exc.value.field == field and exc.value.value == value and exc.value.allowed


@pytest.mark.parametrize("doc, field, value", [
    ({"force": "yes"}, "force", "yes"),
    ({"unmountFlags": ["MNT_LAZY"]}, "unmountFlags", "MNT_LAZY"),
    ({"timeouts": {"etcdAPICall": "soon"}}, "timeouts.etcdAPICall", "soon"),
    ({"timeouts": {"resetCall": "1m"}}, "timeouts", "resetCall"),
    ({"skipPhases": "cleanup-node"}, "skipPhases", "cleanup-node"),
])
def test_bad_config_value_is_one_clear_error(tmp_path, doc, field, value):
    path = _file(tmp_path, dict({"apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "ResetConfiguration"}, **doc))
    with pytest.raises(ConfigError) as exc:
        resetconfig.build_reset_config({"config": path})
    assert exc.value.field == field and exc.value.value == value


def test_v1beta3_has_no_reset_configuration(tmp_path):
    path = _file(tmp_path, {"apiVersion": "kubeadm.k8s.io/v1beta3", "kind": "ResetConfiguration"})
    with pytest.raises(ConfigError, match="ResetConfiguration \\(kubeadm.k8s.io/v1beta4\\)"):
        resetconfig.build_reset_config({"config": path})


def test_unmount_flags_are_accepted_with_a_warning(tmp_path):
    path = _file(tmp_path, {"apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "ResetConfiguration",
                            "unmountFlags": ["MNT_DETACH"]})
    cfg = resetconfig.build_reset_config({"config": path})
    assert cfg.reset["unmountFlags"] == ["MNT_DETACH"] and any("unmounts nothing" in w for w in cfg.warnings)
