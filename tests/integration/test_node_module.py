"""kube_node through ansible-playbook against the API double on real etcd: a drain that would lose Pods is
refused without a change, check mode plans without writing, the drain cordons and evicts exactly kubectl's
set (mirror and DaemonSet Pods stay), reruns change nothing, uncordon and delete; a PodDisruptionBudget
blocks an eviction until the timeout. Checked with real kubectl."""
from __future__ import annotations

import json
import subprocess
import threading
import time

import pytest

from ansible_collections.kubeboot.cluster.plugins.module_utils import apiclient, drain
from ansible_collections.kubeboot.cluster.plugins.module_utils.apiwriter import ApiWriter

from tests.support.playbook import play

RS = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d8", "uid": "1111", "controller": True}


def _pod(name, namespace="default", node="w1", owner=None, annotations=None, volumes=None, labels=None):
    meta = {"name": name, "namespace": namespace, "labels": labels or {"app": name}}
    if owner:
        meta["ownerReferences"] = [owner]
    if annotations:
        meta["annotations"] = annotations
    spec = {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}]}
    if volumes:
        spec["volumes"] = volumes
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": {"phase": "Running"}}


@pytest.fixture
def cluster(api_double, etcd_server):
    double = api_double(store=etcd_server.store(), controllers=False)
    for node in ("w1", "w2"):
        double.put({"apiVersion": "v1", "kind": "Node", "metadata": {"name": node}, "spec": {}})
    ds = double.put({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "proxy", "namespace": "kube-system"},
                     "spec": {"selector": {"matchLabels": {"app": "proxy"}}, "template": {}}})
    pods = [
        _pod("web-1", owner=RS),
        _pod("cache-1", owner=RS, volumes=[{"name": "tmp", "emptyDir": {}}]),
        _pod("lonely"),
        _pod("proxy-w1", "kube-system", owner={"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "proxy",
                                               "uid": ds["metadata"]["uid"], "controller": True}),
        _pod("etcd-w1", "kube-system", annotations={"kubernetes.io/config.mirror": "abc"}),
        _pod("other", node="w2", owner=RS),
    ]
    for pod in pods:
        double.put(pod)
    return double


def _kubectl(kubectl, env, double, *args):
    return subprocess.run([kubectl, "--kubeconfig", double.admin_kubeconfig, *args], capture_output=True,
                          text=True, env=env, timeout=60)


def _state(kubectl, env, double) -> dict:
    out = _kubectl(kubectl, env, double, "get", "nodes,pods", "-A", "-o", "json")
    assert out.returncode == 0, out.stderr
    return {(i["kind"], i["metadata"].get("namespace", ""), i["metadata"]["name"]): i for i in json.loads(out.stdout)["items"]}


def test_drain_uncordon_delete_through_ansible_playbook(cluster, tmp_path, kubectl, kubectl_env):
    args = {"kubeconfig": cluster.admin_kubeconfig, "name": "w1", "state": "drained"}
    before = _state(kubectl, kubectl_env, cluster)
    results, _log = play(tmp_path, [
        {"name": "refused", "kubeboot.cluster.kube_node": args, "register": "refused"},
        {"name": "plan", "kubeboot.cluster.kube_node": dict(args, force=True, delete_emptydir_data=True),
         "register": "plan", "check_mode": True, "diff": True}], "plan")
    refused, plan = results["refused"], results["plan"]
    assert refused.get("failed") and "nothing was changed" in refused["msg"]
    assert "default/lonely: declares no controller" in refused["msg"] and "default/cache-1: uses emptyDir" in refused["msg"]
    assert plan["changed"] and not plan.get("failed"), plan
    assert plan["changed_objects"][0] == "Node/w1"  # cordoned first, then the Pods
    assert sorted(plan["changed_objects"][1:]) == ["Pod/default/cache-1", "Pod/default/lonely", "Pod/default/web-1"]
    after = _state(kubectl, kubectl_env, cluster)
    assert {k: v["metadata"]["resourceVersion"] for k, v in after.items()} == \
        {k: v["metadata"]["resourceVersion"] for k, v in before.items()}, "refusal or check mode changed the cluster"

    results, _log = play(tmp_path, [
        {"name": "drain", "kubeboot.cluster.kube_node": dict(args, force=True, delete_emptydir_data=True,
                                                             timeout=30), "register": "first"},
        {"name": "again", "kubeboot.cluster.kube_node": dict(args, force=True, delete_emptydir_data=True),
         "register": "again"}], "drain")
    assert results["first"]["changed"] and sorted(results["first"]["evicted"]) == \
        ["default/cache-1", "default/lonely", "default/web-1"], results["first"]
    assert results["again"]["changed"] is False
    state = _state(kubectl, kubectl_env, cluster)
    assert state[("Node", "", "w1")]["spec"].get("unschedulable") is True
    assert not state[("Node", "", "w2")]["spec"].get("unschedulable")
    assert sorted(k[2] for k in state if k[0] == "Pod") == ["etcd-w1", "other", "proxy-w1"]

    results, _log = play(tmp_path, [
        {"name": "uncordon", "kubeboot.cluster.kube_node": dict(args, state="uncordoned"), "register": "uncordon"},
        {"name": "delete", "kubeboot.cluster.kube_node": dict(args, state="absent"), "register": "delete"},
        {"name": "delete again", "kubeboot.cluster.kube_node": dict(args, state="absent"), "register": "again"},
        {"name": "missing", "kubeboot.cluster.kube_node": dict(args, state="cordoned"), "register": "missing"}],
        "absent")
    assert results["uncordon"]["changed"] and results["delete"]["changed"] and results["again"]["changed"] is False
    assert results["missing"].get("failed") and "not found" in results["missing"]["msg"]
    out = _kubectl(kubectl, kubectl_env, cluster, "get", "node", "w1")
    assert out.returncode != 0 and "NotFound" in out.stderr
    assert _kubectl(kubectl, kubectl_env, cluster, "get", "node", "w2").returncode == 0


def test_a_disruption_budget_blocks_the_eviction(cluster):
    cluster.put({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                 "metadata": {"name": "web", "namespace": "default"},
                 "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web-1"}}}})
    admin = apiclient.Client.from_kubeconfig(open(cluster.admin_kubeconfig).read(), retry_timeout=5)
    api = ApiWriter(admin)
    with pytest.raises(drain.DrainError, match="eviction of pod default/web-1 still refused after 2s.*disruption budget"):
        drain.drain(api, "w1", timeout=2, force=True, delete_emptydir_data=True)
    assert admin.get("Pod", "web-1", "default")["metadata"]["name"] == "web-1"
    # without eviction (kubectl drain --disable-eviction) the budget does not apply
    done = drain.drain(api, "w1", timeout=10, force=True, delete_emptydir_data=True, disable_eviction=True)
    assert "default/web-1" in done["deleted"] and admin.get_or_none("Pod", "web-1", "default") is None


def test_a_disruption_budget_holds_the_eviction_until_it_allows_it(cluster):
    cluster.put({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "web", "namespace": "default"},
                 "spec": {"maxUnavailable": 0, "selector": {"matchLabels": {"app": "web-1"}}}})
    admin = apiclient.Client.from_kubeconfig(open(cluster.admin_kubeconfig).read(), retry_timeout=5)
    release = threading.Timer(1.5, lambda: admin.request(
        "DELETE", "/apis/policy/v1/namespaces/default/poddisruptionbudgets/web"))
    release.start()
    sleeps = []
    try:
        done = drain.drain(ApiWriter(admin), "w1", timeout=30, force=True, delete_emptydir_data=True,
                           sleep=lambda s: (sleeps.append(s), time.sleep(0.5)))
    finally:
        release.cancel()
    assert "default/web-1" in done["evicted"] and sleeps, "the eviction was not retried while the budget held it"
    assert admin.get_or_none("Pod", "web-1", "default") is None


def _set_node(admin, ready: bool, version: str, unschedulable: bool) -> None:
    admin.request("PATCH", apiclient.resource_path("Node", "w1"), {"spec": {"unschedulable": unschedulable}},
                  content_type=apiclient.PATCH_TYPES["merge"])
    admin.request("PATCH", apiclient.resource_path("Node", "w1") + "/status", {"status": {
        "nodeInfo": {"kubeletVersion": version}, "conditions": [{"type": "Ready", "status": str(ready)}]}},
        content_type=apiclient.PATCH_TYPES["merge"])


def test_uncordon_waits_for_ready_with_the_new_kubelet_first(cluster):
    """upgrade.yml's last step: wait until the restarted kubelet reports the new version and is Ready, then
    uncordon; a kubelet that never gets there fails the task with the Node still cordoned."""
    args = {"kubeconfig": cluster.admin_kubeconfig, "name": "w1", "state": "uncordoned", "kubelet_version": "v1.37.0"}
    admin = apiclient.Client.from_kubeconfig(open(cluster.admin_kubeconfig).read(), retry_timeout=5)
    _set_node(admin, False, "v1.36.3", True)

    checked = drain.run_node(dict(args, timeout=30), check_mode=True)  # reads once, waits for nothing
    assert checked["ready"] is False and checked["kubelet_version"] == "v1.36.3" and checked["changed"] is True
    with pytest.raises(drain.DrainError, match=r"'w1' still not Ready with kubelet v1\.37\.0 after 2s, nothing was"):
        drain.run_node(dict(args, timeout=2))
    assert admin.get("Node", "w1")["spec"]["unschedulable"] is True

    later = threading.Timer(1.0, lambda: _set_node(admin, True, "v1.37.0", True))
    later.start()
    try:
        done = drain.run_node(dict(args, timeout=30))
    finally:
        later.cancel()
    assert done["ready"] is True and done["kubelet_version"] == "v1.37.0" and done["changed"] is True
    assert not admin.get("Node", "w1")["spec"].get("unschedulable")
    assert drain.run_node(dict(args, timeout=5))["changed"] is False
