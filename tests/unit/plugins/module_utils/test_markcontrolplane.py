"""markcontrolplane.py: taints and the merge patch that adds only what is missing."""
from __future__ import annotations

from ansible_collections.kubeboot.cluster.plugins.module_utils import markcontrolplane
from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils.config import sample_init_config
from tests.support.memclient import merge


def _cfg(version="v1.34.10", **paths):
    paths.setdefault("cluster.networking.podSubnet", "10.244.0.0/16")
    return sample_init_config(version=version, paths=paths)


def test_taints_default_explicit_empty():
    cfg = _cfg()
    assert markcontrolplane.control_plane_taints(cfg) == [{"key": "node-role.kubernetes.io/control-plane",
                                                           "effect": "NoSchedule"}]
    cfg.init["nodeRegistration"]["taints"] = []
    assert markcontrolplane.control_plane_taints(cfg) == []
    cfg.init["nodeRegistration"]["taints"] = [{"key": "x", "value": "y", "effect": "NoExecute"}]
    assert markcontrolplane.control_plane_taints(cfg) == [{"key": "x", "value": "y", "effect": "NoExecute"}]


def test_mark_control_plane_changes():
    node = {"metadata": {"labels": {"a": "b"}, "resourceVersion": "7"},
            "spec": {"taints": [{"key": "other", "effect": "NoExecute"}]}}
    patch = markcontrolplane.mark_control_plane_changes(node, markcontrolplane.control_plane_labels(),
                                                        [dict(C.CONTROL_PLANE_TAINT)])
    assert patch["metadata"] == {"labels": {C.CONTROL_PLANE_LABEL: "", C.EXCLUDE_LB_LABEL: ""},
                                 "resourceVersion": "7"}
    # markcontrolplane.go: kubeadm's taints first, then the node's other taints
    assert patch["spec"]["taints"] == [dict(C.CONTROL_PLANE_TAINT), {"key": "other", "effect": "NoExecute"}]
    merge(node, patch)
    assert markcontrolplane.mark_control_plane_changes(node, markcontrolplane.control_plane_labels(),
                                                       [dict(C.CONTROL_PLANE_TAINT)]) is None
