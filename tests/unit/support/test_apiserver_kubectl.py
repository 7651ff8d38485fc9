"""Real kubectl (/usr/bin/kubectl) driving the API double."""
from __future__ import annotations

import json
import subprocess

import pytest

from . import kubeadm_objects as K

TOKEN = "abcdef.0123456789abcdef"


@pytest.fixture
def cluster(api_double, kubectl, kubectl_env):
    d = api_double(controllers_interval="0.2s")

    def run(*args, kubeconfig=None, check=True, stdin=None):
        cmd = [kubectl, "--kubeconfig", kubeconfig or d.admin_kubeconfig, "--request-timeout", "10s", *args]
        out = subprocess.run(cmd, capture_output=True, text=True, env=kubectl_env, input=stdin, timeout=60)
        if check and out.returncode != 0:
            raise AssertionError(f"{cmd} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
        return out

    d.kubectl = run
    return d


def test_get_create_describe_delete(cluster):
    run = cluster.kubectl
    out = run("get", "namespaces", "-o", "name").stdout.split()
    assert out == ["namespace/default", "namespace/kube-node-lease", "namespace/kube-public",
                   "namespace/kube-system"]
    assert run("create", "configmap", "demo", "-n", "kube-system", "--from-literal=k=v").stdout.strip() == \
        "configmap/demo created"
    got = json.loads(run("get", "cm", "demo", "-n", "kube-system", "-o", "json").stdout)
    assert got["data"] == {"k": "v"} and got["metadata"]["uid"] and got["metadata"]["resourceVersion"]
    desc = run("describe", "configmap", "demo", "-n", "kube-system").stdout
    assert "Name:         demo" in desc and "Namespace:    kube-system" in desc
    err = run("create", "configmap", "demo", "-n", "kube-system", check=False)
    assert err.returncode == 1
    assert 'configmaps "demo" already exists' in err.stderr
    assert run("delete", "cm", "demo", "-n", "kube-system").stdout.strip() == 'configmap "demo" deleted'
    err = run("get", "cm", "demo", "-n", "kube-system", check=False)
    assert 'Error from server (NotFound): configmaps "demo" not found' in err.stderr
    err = run("create", "configmap", "x", "-n", "missing", check=False)
    assert 'namespaces "missing" not found' in err.stderr
    # short names from discovery
    assert "system:node-bootstrapper" in run("get", "clusterroles", "-o", "name").stdout
    run("create", "secret", "generic", "s", "-n", "default", "--from-literal=a=b")
    assert run("get", "secret", "s", "-o", "jsonpath={.data.a}").stdout == "Yg=="


MANIFEST = """\
apiVersion: v1
kind: Namespace
metadata: {name: demo}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: demo, labels: {app: web}}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: a, image: "IMAGE", env: [{name: X, value: "1"}]}
      - {name: b, image: busybox}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, namespace: demo, labels: {tier: one}}
data: {k: "VALUE"}
"""


def test_apply_twice_and_delete_file(cluster, tmp_path):
    run = cluster.kubectl
    f = tmp_path / "m.yaml"
    f.write_text(MANIFEST.replace("IMAGE", "nginx:1").replace("VALUE", "v1"))
    out = run("apply", "-f", str(f)).stdout
    assert "deployment.apps/web created" in out and "configmap/cfg created" in out
    f.write_text(MANIFEST.replace("IMAGE", "nginx:2").replace("VALUE", "v2"))
    out = run("apply", "-f", str(f)).stdout
    assert "deployment.apps/web configured" in out and "namespace/demo unchanged" in out
    dep = json.loads(run("get", "deploy", "web", "-n", "demo", "-o", "json").stdout)
    containers = dep["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [("a", "nginx:2"), ("b", "busybox")]
    assert containers[0]["env"] == [{"name": "X", "value": "1"}]
    assert dep["metadata"]["generation"] == 2
    assert "kubectl.kubernetes.io/last-applied-configuration" in dep["metadata"]["annotations"]
    assert run("get", "cm", "-n", "demo", "-l", "tier=one", "-o", "jsonpath={.items[*].data.k}").stdout == "v2"
    assert run("get", "cm", "-n", "demo", "-l", "tier notin (one)", "-o", "name").stdout == ""
    assert "Name:               web" in run("describe", "deploy", "web", "-n", "demo").stdout
    out = run("delete", "-f", str(f)).stdout
    assert 'deployment.apps "web" deleted' in out and 'namespace "demo" deleted' in out
    # the namespace controller removes the terminating namespace
    run("wait", "--for=delete", "namespace/demo", "--timeout=10s")
    assert "No resources found" in run("get", "deploy", "-A").stderr
    assert run("get", "ns", "demo", check=False).returncode == 1


def test_auth_can_i_and_whoami_for_bootstrap_token(cluster):
    for obj in K.kubeadm_rbac():
        cluster.put(obj)
    cluster.put(K.token_secret(TOKEN))
    conf = cluster.token_kubeconfig(TOKEN)

    def can_i(*args):
        out = cluster.kubectl("auth", "can-i", *args, kubeconfig=conf, check=False)
        return out.stdout.strip()

    assert can_i("create", "certificatesigningrequests") == "yes"
    assert can_i("create", "certificatesigningrequests", "--subresource", "nodeclient") == "yes"
    assert can_i("get", "nodes") == "yes"
    assert can_i("list", "nodes") == "no"
    assert can_i("get", "configmaps/kubeadm-config", "-n", "kube-system") == "yes"
    assert can_i("get", "configmaps/kubelet-config", "-n", "kube-system") == "yes"
    assert can_i("get", "configmaps/coredns", "-n", "kube-system") == "no"
    assert can_i("get", "secrets", "-n", "kube-system") == "no"
    assert can_i("get", "secrets/kubeadm-certs", "-n", "kube-system") == "yes"
    assert can_i("delete", "nodes") == "no"

    who = json.loads(cluster.kubectl("auth", "whoami", "-o", "json", kubeconfig=conf).stdout)
    assert who["kind"] == "SelfSubjectReview"
    assert who["status"]["userInfo"] == {"username": "system:bootstrap:abcdef", "groups": [
        "system:bootstrappers", K.NODE_TOKEN_GROUP, "system:authenticated"]}

    # the token user really is refused by the server, with Kubernetes' message
    err = cluster.kubectl("get", "secrets", "-n", "kube-system", kubeconfig=conf, check=False).stderr
    assert ('Error from server (Forbidden): secrets is forbidden: User "system:bootstrap:abcdef" cannot list '
            'resource "secrets" in API group "" in the namespace "kube-system"') in err
    bad = cluster.token_kubeconfig("abcdef.ffffffffffffffff", name="bad")
    err = cluster.kubectl("get", "nodes", kubeconfig=bad, check=False).stderr
    assert "Unauthorized" in err


def test_admin_whoami_and_can_i(cluster):
    who = cluster.kubectl("auth", "whoami").stdout
    assert "kubernetes-admin" in who and "system:masters" in who
    assert cluster.kubectl("auth", "can-i", "*", "*").stdout.strip() == "yes"


def test_server_side_printing_of_nodes_and_pods(cluster):
    """kubectl asks for a Table; its columns are the real server's (STATUS, ROLES, -o wide)."""
    cluster.put({"apiVersion": "v1", "kind": "Node", "metadata": {
        "name": "cp1", "labels": {"node-role.kubernetes.io/control-plane": ""}},
        "status": {"conditions": [{"type": "Ready", "status": "True"}],
                   "addresses": [{"type": "InternalIP", "address": "192.0.2.7"}],
                   "nodeInfo": {"kubeletVersion": "v1.36.3", "osImage": "Debian GNU/Linux 12 (bookworm)",
                                "kernelVersion": "6.1.0", "containerRuntimeVersion": "containerd://1.6.20"}}})
    cluster.put({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "w1"},
                 "status": {"conditions": [{"type": "Ready", "status": "False"}]}})
    lines = cluster.kubectl("get", "nodes", "-o", "wide").stdout.splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP", "EXTERNAL-IP",
                                "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"]
    cp1 = lines[1].split()
    assert cp1[:3] == ["cp1", "Ready", "control-plane"] and cp1[4:7] == ["v1.36.3", "192.0.2.7", "<none>"]
    assert cp1[-1] == "containerd://1.6.20" and cp1[3].endswith("s")
    assert lines[2].split()[:3] == ["w1", "NotReady", "<none>"]
    cluster.put({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "etcd-cp1", "namespace": "kube-system"},
                 "spec": {"nodeName": "cp1", "containers": [{"name": "etcd", "image": "etcd"}]},
                 "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}})
    pod = cluster.kubectl("get", "pods", "-n", "kube-system").stdout.splitlines()
    assert pod[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert pod[1].split()[:4] == ["etcd-cp1", "1/1", "Running", "0"]
    # other resources: the server's default Name / Created At columns
    out = cluster.kubectl("get", "namespaces").stdout.splitlines()
    assert out[0].split() == ["NAME", "CREATED", "AT"] and out[1].split()[0] == "default"
