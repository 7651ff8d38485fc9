"""upgradeplan.py: the candidates kubeadm upgrade plan offers (offline, from the version table) and its
tables (tabwriter columns, the manual-upgrade table of kubelets, a refused candidate said so)."""
from __future__ import annotations

import re

from ansible_collections.kubeboot.cluster.plugins.module_utils import upgradeplan, versions


def test_candidates_are_the_newest_patch_of_this_minor_and_of_the_next():
    assert upgradeplan.candidates("v1.35.2") == [("version in the v1.35 series", versions.NEWEST_PATCH[35]),
                                                 ("stable version", versions.NEWEST_PATCH[36])]
    newest = max(versions.NEWEST_PATCH)
    assert upgradeplan.candidates(versions.NEWEST_PATCH[newest]) == [], "the newest known version has no upgrade"


def test_table_pads_columns_like_kubeadms_tabwriter():
    rows = [{"component": "kube-apiserver", "node": "cp1", "current": "v1.35.7", "target": "v1.36.3"},
            {"component": "etcd", "node": "control-plane-2", "current": "3.6.6-0", "target": "3.6.8-0"}]
    assert upgradeplan.table(rows).splitlines() == [
        "COMPONENT        NODE              CURRENT   TARGET",
        "kube-apiserver   cp1               v1.35.7   v1.36.3",
        "etcd             control-plane-2   3.6.6-0   3.6.8-0"]


def test_render_lists_old_kubelets_and_says_why_an_upgrade_is_not_possible():
    kubelet = {"component": "kubelet", "node": "w1", "current": "v1.35.7", "target": "v1.36.3"}
    done = {"component": "kubelet", "node": "w2", "current": "v1.36.3", "target": "v1.36.3"}
    text = upgradeplan.render([{"description": "stable version", "version": "v1.36.3", "allowed": False,
                                "reasons": ["too high"], "kubelets": [kubelet, done], "components": []}])
    assert "Components that must be upgraded manually after you have upgraded the control plane" in text
    assert re.search(r"^kubelet +w1 +v1\.35\.7 +v1\.36\.3$", text, re.M) and " w2 " not in text, text
    assert "This upgrade is not possible: too high" in text and "You can now apply" not in text
    assert upgradeplan.render([]) == "Awesome, you're up-to-date! Enjoy!\n"
