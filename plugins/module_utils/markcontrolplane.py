# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Phase mark-control-plane: the control-plane labels and taints on this node's Node
(kubeadm phases/markcontrolplane), as one merge patch that adds only what is missing."""
from __future__ import annotations

from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C


def control_plane_labels() -> dict:
    return {C.CONTROL_PLANE_LABEL: "", C.EXCLUDE_LB_LABEL: ""}


def control_plane_taints(cfg) -> list:
    """nodeRegistration.taints: None => the control-plane NoSchedule taint; [] => none."""
    taints = cfg.init["nodeRegistration"].get("taints")
    if taints is None:
        return [dict(C.CONTROL_PLANE_TAINT)]
    return [dict(t) for t in taints]


def mark_control_plane_changes(node: dict, labels: dict, taints: list):
    """A merge patch adding missing labels/taints (None when nothing is missing)."""
    live_labels = (node.get("metadata") or {}).get("labels") or {}
    live_taints = list((node.get("spec") or {}).get("taints") or [])
    patch = {}
    missing = {k: v for k, v in labels.items() if live_labels.get(k) != v}
    if missing:
        patch["metadata"] = {"labels": missing}
    added = [t for t in taints if not any(_taint_equal(t, lt) for lt in live_taints)]
    if added:
        # markcontrolplane.go markControlPlaneNode: wanted taints first, then the node's others
        kept = [lt for lt in live_taints if not any(_taint_equal(t, lt) for t in taints)]
        patch["spec"] = {"taints": [dict(t) for t in taints] + kept}
    if not patch:
        return None
    patch.setdefault("metadata", {})["resourceVersion"] = (node.get("metadata") or {}).get("resourceVersion")
    return patch


def _taint_equal(a: dict, b: dict) -> bool:
    return all((a.get(k) or "") == (b.get(k) or "") for k in ("key", "value", "effect", "timeAdded"))


def mark_control_plane(api, cfg, timeout: float) -> dict:
    """Wait (up to timeout) for this node's Node, then add the missing labels and taints."""
    labels, taints = control_plane_labels(), control_plane_taints(cfg)
    mark = api.mark()
    api.patch("Node", cfg.node_name, lambda node: mark_control_plane_changes(node, labels, taints),
              timeout=timeout, what=f"Node {cfg.node_name!r} to register")
    return api.result(mark, labels=sorted(labels), taints=taints)
