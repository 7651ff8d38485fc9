from __future__ import annotations

import pytest

from ansible_collections.kubeboot.cluster.plugins.module_utils import phases
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import InvalidValue


def test_init_leaves_follow_kubeadm_order():
    leaves = phases.leaf_names(phases.INIT_PHASES)
    assert leaves[0] == "preflight"
    assert leaves[1:12] == ["certs/ca", "certs/apiserver", "certs/apiserver-kubelet-client", "certs/front-proxy-ca",
                            "certs/front-proxy-client", "certs/etcd-ca", "certs/etcd-server", "certs/etcd-peer",
                            "certs/etcd-healthcheck-client", "certs/apiserver-etcd-client", "certs/sa"]
    assert leaves.index("kubelet-start") < leaves.index("wait-control-plane") < leaves.index("addon/coredns")


@pytest.mark.parametrize("skip, expected", [
    (["certs"], 11),
    (["certs/all"], 11),
    (["certs/apiserver"], 1),
    (["CERTS/APISERVER"], 1),
    (["addon", "preflight"], 3),
    ("addon/coredns,addon/kube-proxy", 2),
])
def test_skip_selects_leaves(skip, expected):
    selection = phases.select(phases.INIT_PHASES, skip)
    assert len(selection.skipped_leaves()) == expected
    assert len(selection.run_leaves()) + expected == len(phases.leaf_names(phases.INIT_PHASES))


def test_unknown_phase_names_field_and_allowed_values():
    with pytest.raises(InvalidValue) as err:
        phases.select(phases.INIT_PHASES, ["certs/nope"])
    assert "skip_phases" in str(err.value) and "certs/nope" in str(err.value)
    assert "certs/apiserver" in str(err.value)


def test_groups_pass_only_unskipped_subphases_once():
    calls = []
    handlers = {g: (lambda ctx, subs, g=g: calls.append((g, list(subs)))) for g, _ in phases.INIT_PHASES}
    report = phases.run(phases.select(phases.INIT_PHASES, ["certs/sa", "etcd", "addon"]), handlers, None)
    groups = [g for g, _ in calls]
    assert groups.count("certs") == 1 and "etcd" not in groups and "addon" not in groups
    certs = dict(calls)["certs"]
    assert "sa" not in certs and "ca" in certs
    assert "certs/sa" in report["skipped"] and "certs/ca" in report["run"]


def test_missing_handler_is_an_error():
    with pytest.raises(KeyError):
        phases.run(phases.select(phases.INIT_PHASES, []), {"preflight": lambda c, s: None}, None)
