from __future__ import annotations

import pytest

from ansible_collections.kubeboot.cluster.plugins.module_utils import init, join, phases
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import InvalidValue
from ansible_collections.kubeboot.cluster.plugins.module_utils.phases import Phase


def test_init_leaves_follow_kubeadm_order():
    leaves = phases.leaf_names(init.PHASES)
    assert leaves[0] == "preflight"
    assert leaves[1:12] == ["certs/ca", "certs/apiserver", "certs/apiserver-kubelet-client", "certs/front-proxy-ca",
                            "certs/front-proxy-client", "certs/etcd-ca", "certs/etcd-server", "certs/etcd-peer",
                            "certs/etcd-healthcheck-client", "certs/apiserver-etcd-client", "certs/sa"]
    assert leaves.index("kubelet-start") < leaves.index("wait-control-plane") < leaves.index("addon/coredns")


def test_sub_phases_come_from_the_tables():
    """kubeadm's own sub-phase names, taken from the certificate, kubeconfig and component tables."""
    leaves = phases.leaf_names(init.PHASES)
    assert [n for n in leaves if n.startswith("kubeconfig/")] == [
        "kubeconfig/admin", "kubeconfig/super-admin", "kubeconfig/kubelet", "kubeconfig/controller-manager",
        "kubeconfig/scheduler"]
    assert [n for n in leaves if n.startswith(("etcd/", "control-plane/"))] == [
        "etcd/local", "control-plane/apiserver", "control-plane/controller-manager", "control-plane/scheduler"]
    assert phases.leaf_names(join.PHASES) == [
        "preflight", "control-plane-prepare/download-certs", "control-plane-prepare/certs",
        "control-plane-prepare/kubeconfig", "control-plane-prepare/control-plane", "kubelet-start",
        "control-plane-join/etcd", "control-plane-join/mark-control-plane", "wait-control-plane"]
    api = [p.name for p in init.PHASES if p.talks_to_api]
    assert api == ["wait-control-plane", "upload-config", "upload-certs", "mark-control-plane",
                   "bootstrap-token", "addon"]


@pytest.mark.parametrize("skip, expected", [
    (["certs"], 11),
    (["certs/all"], 11),
    (["certs/apiserver"], 1),
    (["CERTS/APISERVER"], 1),
    (["addon", "preflight"], 3),
    ("addon/coredns,addon/kube-proxy", 2),
])
def test_skip_selects_leaves(skip, expected):
    selection = phases.select(init.PHASES, skip)
    assert len(selection.skipped_leaves()) == expected
    assert len(selection.run_leaves()) + expected == len(phases.leaf_names(init.PHASES))


def test_unknown_phase_names_field_and_allowed_values():
    with pytest.raises(InvalidValue) as err:
        phases.select(init.PHASES, ["certs/nope"])
    assert "skip_phases" in str(err.value) and "certs/nope" in str(err.value)
    assert "certs/apiserver" in str(err.value)


def test_groups_pass_only_unskipped_subphases_once():
    calls = []
    tree = tuple(Phase(p.name, (lambda ctx, subs, g=p.name: calls.append((g, list(subs)))), p.child_names)
                 for p in init.PHASES)
    report = phases.run(phases.select(tree, ["certs/sa", "etcd", "addon"]), None)
    groups = [g for g, _ in calls]
    assert groups.count("certs") == 1 and "etcd" not in groups and "addon" not in groups
    certs = dict(calls)["certs"]
    assert "sa" not in certs and "ca" in certs
    assert "certs/sa" in report["skipped"] and "certs/ca" in report["run"]


def test_missing_handler_is_an_error():
    with pytest.raises(KeyError):
        Phase("preflight", None)
    with pytest.raises(KeyError):
        Phase("addon", None, ("coredns",))  # names for a run that is not there


def test_sub_phases_that_run_themselves_run_in_order_under_their_names():
    calls = []

    class Ctx:
        phase = ""

        def connect(self):
            calls.append("connect")

    def step(ctx, names):
        calls.append((ctx.phase, names))
    tree = (Phase("local", step), Phase("addon", children=(Phase("coredns", step, needs_api=True),
                                                          Phase("kube-proxy", step, needs_api=True))))
    phases.run(phases.select(tree, ["addon/kube-proxy"]), Ctx())
    assert calls == [("local", []), "connect", ("addon/coredns", [])]
