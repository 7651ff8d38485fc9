"""kubeadm_node against the API double: cordon, drain (Eviction API, PodDisruptionBudgets retried,
mirror and DaemonSet Pods left, unsafe Pods refused before anything is evicted), uncordon; check
mode plans the same objects and changes nothing; a rerun changes nothing. The state is read back
with real kubectl."""
from __future__ import annotations

import json
import subprocess
import threading

import pytest

from ansible_collections.kubeboot.cluster.plugins.module_utils import apiclient, drain
from ansible_collections.kubeboot.cluster.plugins.module_utils.apiwriter import ApiWriter

from tests.integration.test_init_playbook import run_task


def _pod(name, node, owner=None, volumes=None, labels=None, annotations=None, namespace="default"):
    meta = {"name": name, "namespace": namespace, "labels": labels or {}, "annotations": annotations or {}}
    if owner:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": owner, "name": "o", "uid": "u1",
                                    "controller": True}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "i"}], "volumes": volumes or []}}


@pytest.fixture
def cluster(api_double):
    double = api_double(controllers=False)  # no garbage collector: the owners named here do not exist
    client = apiclient.Client.from_kubeconfig(open(double.admin_kubeconfig).read(), retry_timeout=5)
    client.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "w1"}, "spec": {}})
    for pod in (_pod("web-1", "w1", owner="ReplicaSet", labels={"app": "web"}),
                _pod("web-2", "other", owner="ReplicaSet", labels={"app": "web"}),
                _pod("ds-1", "w1", owner="DaemonSet"),
                _pod("kube-apiserver-w1", "w1", annotations={drain.MIRROR_ANNOTATION: "abc"}, namespace="kube-system")):
        client.create(pod)
    return double, client


def kubectl_json(kubectl, env, double, *args):
    out = subprocess.run([kubectl, "--kubeconfig", double.admin_kubeconfig, *args, "-o", "json"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def pod_names(kubectl, env, double):
    return sorted(f"{p['metadata']['namespace']}/{p['metadata']['name']}"
                  for p in kubectl_json(kubectl, env, double, "get", "pods", "-A")["items"])


def test_drain_planned_through_ansible_playbook_then_done(tmp_path, cluster, kubectl, kubectl_env):
    double, _client = cluster
    args = {"name": "w1", "state": "drain", "kubeconfig": double.admin_kubeconfig, "timeout": 30}
    before = pod_names(kubectl, kubectl_env, double)
    check = run_task(tmp_path, "kubeboot.cluster.kubeadm_node", args, "--check", "--diff", name="check")
    assert not check.get("failed"), check["_stdout"]
    assert check["changed"] is True and check["evicted"] == ["default/web-1"]
    assert check["changed_objects"] == ["Node/w1", "Pod/default/web-1"]
    assert pod_names(kubectl, kubectl_env, double) == before
    assert not kubectl_json(kubectl, kubectl_env, double, "get", "node", "w1")["spec"].get("unschedulable")

    # the rest in-process (an ansible-playbook run costs ~20 s on the CI machine)
    args.pop("kubeconfig")
    done = drain.run(ApiWriter(_client), args)
    assert done["changed_objects"] == check["changed_objects"]
    assert sorted(done["skipped"]) == ["default/ds-1 (DaemonSet-managed)",
                                       "kube-system/kube-apiserver-w1 (mirror Pod of a static Pod)"]
    assert pod_names(kubectl, kubectl_env, double) == ["default/ds-1", "default/web-2", "kube-system/kube-apiserver-w1"]
    assert kubectl_json(kubectl, kubectl_env, double, "get", "node", "w1")["spec"]["unschedulable"] is True

    assert drain.run(ApiWriter(_client), args)["changed"] is False, "a rerun changed something"
    back = drain.run(ApiWriter(_client), dict(args, state="uncordon"))
    assert back["changed"] is True and back["uncordoned"] is True
    assert not kubectl_json(kubectl, kubectl_env, double, "get", "node", "w1")["spec"].get("unschedulable")


def test_unsafe_pods_are_refused_before_anything_is_evicted(cluster):
    _double, client = cluster
    client.create(_pod("bare", "w1"))
    client.create(_pod("cache", "w1", owner="ReplicaSet", volumes=[{"name": "v", "emptyDir": {}}]))
    api = ApiWriter(client)
    with pytest.raises(drain.DrainError) as err:
        drain.run(api, {"name": "w1", "state": "drain", "ignore_daemonsets": False})
    message = str(err.value)
    assert "default/bare declares no controller" in message and "default/cache has local storage" in message
    assert "default/ds-1 DaemonSet-managed" in message
    assert client.get_or_none("Pod", "web-1", "default") is not None, "a Pod was evicted despite the refusal"
    result = drain.run(ApiWriter(client), {"name": "w1", "state": "drain", "force": True, "delete_emptydir_data": True})
    assert sorted(result["evicted"]) == ["default/bare", "default/cache", "default/web-1"]


def test_a_disruption_budget_holds_the_eviction_until_it_allows_it(cluster):
    _double, client = cluster
    pdb = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
           "metadata": {"name": "web", "namespace": "default"},
           "spec": {"maxUnavailable": 0, "selector": {"matchLabels": {"app": "web"}}}}
    client.create(pdb)
    release = threading.Timer(1.5, lambda: client.request(
        "DELETE", "/apis/policy/v1/namespaces/default/poddisruptionbudgets/web"))
    release.start()
    sleeps = []
    try:
        result = drain.run(ApiWriter(client), {"name": "w1", "state": "drain", "timeout": 30},
                           sleep=lambda s: (sleeps.append(s), __import__("time").sleep(0.5)))
    finally:
        release.cancel()
    assert result["evicted"] == ["default/web-1"] and sleeps, "the eviction was not retried while the PDB held it"
    assert client.get_or_none("Pod", "web-1", "default") is None
