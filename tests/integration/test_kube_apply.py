"""kube_apply and the cni role through ansible-playbook against the API double: objects created as
real kubectl sees them, reruns change nothing, check mode predicts and writes nothing, the diff
never shows a Secret's value, absent deletes, bad input fails before anything is sent."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import yaml

from tests.conftest import COLLECTIONS_ROOT, REPO

SECRET_VALUE = "s3cr3t-value-never-shown"
MANIFEST = f"""\
apiVersion: v1
kind: Namespace
metadata: {{name: demo}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: settings, namespace: demo}}
data: {{mode: one}}
---
apiVersion: v1
kind: Secret
metadata: {{name: creds, namespace: demo}}
stringData: {{password: {SECRET_VALUE}}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {{name: agent, namespace: demo, labels: {{app: agent}}}}
spec:
  selector: {{matchLabels: {{app: agent}}}}
  template:
    metadata: {{labels: {{app: agent}}}}
    spec: {{containers: [{{name: agent, image: registry.example/agent:v1}}]}}
"""


def play(tmp_path, tasks, name, extra=None):
    out = tmp_path / f"{name}.json"
    names = [t["register"] for t in tasks if "register" in t]
    tasks = tasks + [{"name": "save", "ansible.builtin.copy": {
        "content": "{{ {" + ", ".join(f"'{n}': {n}" for n in names) + "} | to_json }}",
        "dest": str(out), "mode": "0600"}, "check_mode": False, "no_log": True}]
    path = tmp_path / f"{name}.yml"
    path.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": tasks, **(extra or {})}]))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_ROOT, ANSIBLE_LOCALHOST_WARNING="false",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="false", ANSIBLE_NOCOLOR="1",
               ANSIBLE_ROLES_PATH=os.path.join(REPO, "roles"))
    proc = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-vvv", "--diff", "-i", "localhost,",
         "-c", "local", "-e", f"ansible_python_interpreter={sys.executable}", str(path)],
        capture_output=True, text=True, env=env, timeout=300)
    assert out.exists(), proc.stdout + proc.stderr
    return json.loads(out.read_text()), proc.stdout + proc.stderr


def kubectl(double, env, *args):
    proc = subprocess.run(["kubectl", "--kubeconfig", double.admin_kubeconfig, *args], capture_output=True,
                          text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def versions(double, env):
    items = json.loads(kubectl(double, env, "get", "configmaps,secrets,daemonsets", "-n", "demo", "-o", "json"))["items"]
    return {f"{i['kind']}/{i['metadata']['name']}": i["metadata"]["resourceVersion"] for i in items}


def test_kube_apply_module(api_double, tmp_path, kubectl_env):
    double = api_double()
    common = {"kubeconfig": double.admin_kubeconfig, "objects": MANIFEST}
    changed_manifest = MANIFEST.replace("mode: one", "mode: two")
    results, log = play(tmp_path, [
        {"name": "plan", "kubeboot.cluster.kube_apply": common, "check_mode": True, "register": "plan"},
        {"name": "apply", "kubeboot.cluster.kube_apply": dict(common, wait=True), "register": "apply"},
        {"name": "again", "kubeboot.cluster.kube_apply": common, "register": "again"},
    ], "apply")
    want = ["Namespace/demo", "ConfigMap/demo/settings", "Secret/demo/creds", "DaemonSet/demo/agent"]
    assert results["plan"]["changed"] and results["plan"]["changed_objects"] == want
    assert results["apply"]["changed_objects"] == want and results["again"]["changed"] is False
    assert json.loads(kubectl(double, kubectl_env, "get", "ds", "-n", "demo", "agent", "-o", "json"))[
        "spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/agent:v1"
    assert kubectl(double, kubectl_env, "get", "secret", "-n", "demo", "creds", "-o", "jsonpath={.data.password}")
    assert SECRET_VALUE not in log  # the input is no_log and the diff hides Secret values
    before = versions(double, kubectl_env)

    results, log = play(tmp_path, [
        {"name": "plan", "kubeboot.cluster.kube_apply": dict(common, objects=changed_manifest), "check_mode": True,
         "register": "plan"},
    ], "plan")
    assert results["plan"]["changed_objects"] == ["ConfigMap/demo/settings"]
    assert "-  mode: one\n+  mode: two" in log  # the --diff of the ConfigMap
    assert versions(double, kubectl_env) == before  # check mode wrote nothing

    results, log = play(tmp_path, [
        {"name": "change", "kubeboot.cluster.kube_apply": dict(common, objects=changed_manifest), "register": "change"},
        {"name": "bad", "kubeboot.cluster.kube_apply": dict(common, objects="[{kind: ConfigMap}]"),
         "register": "bad", "ignore_errors": True},
        {"name": "absent", "kubeboot.cluster.kube_apply": dict(common, state="absent"), "register": "absent"},
        {"name": "absent again", "kubeboot.cluster.kube_apply": dict(common, state="absent"), "register": "gone"},
    ], "change")
    assert results["change"]["changed_objects"] == ["ConfigMap/demo/settings"]
    assert results["bad"]["failed"] and "objects[1].apiVersion" in results["bad"]["msg"]
    assert results["absent"]["changed_objects"] == list(reversed(want)) and results["gone"]["changed"] is False, results["gone"]
    assert "demo" not in kubectl(double, kubectl_env, "get", "namespaces", "-o", "name")


def ds_versions(double, env):
    items = json.loads(kubectl(double, env, "get", "daemonsets,configmaps,crds", "-A", "-o", "json"))["items"]
    return sorted((i["kind"], i["metadata"]["name"], i["metadata"]["resourceVersion"]) for i in items)


def test_cni_role_applies_flannel_and_calico(api_double, tmp_path, kubectl_env):
    double = api_double()
    for plugin, probe in (("flannel", ("get", "ds", "-n", "kube-flannel", "kube-flannel-ds", "-o", "json")),
                          ("calico", ("get", "ds", "-n", "kube-system", "calico-node", "-o", "json"))):
        role = {"name": "cni", "ansible.builtin.include_role": {"name": "cni"},
                "vars": {"cni_plugin": plugin, "cni_kubeconfig": double.admin_kubeconfig,
                         "cni_pod_network_cidr": "10.32.0.0/16", "cni_wait_seconds": 20}}
        results, _log = play(tmp_path, [role], f"{plugin}1")
        ds = json.loads(kubectl(double, kubectl_env, *probe))
        images = [c["image"] for c in ds["spec"]["template"]["spec"]["containers"]]
        assert images and all(":" in image for image in images)
        before = ds_versions(double, kubectl_env)
        play(tmp_path, [role], f"{plugin}2")  # a rerun: nothing changes
        assert ds_versions(double, kubectl_env) == before
    net_conf = json.loads(kubectl(double, kubectl_env, "get", "cm", "-n", "kube-flannel", "kube-flannel-cfg",
                                  "-o", "jsonpath={.data.net-conf\\.json}"))
    assert net_conf["Network"] == "10.32.0.0/16"
    env = json.loads(kubectl(double, kubectl_env, *probe))["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "CALICO_IPV4POOL_CIDR", "value": "10.32.0.0/16"} in env
    crds = kubectl(double, kubectl_env, "get", "crd", "-o", "name")
    assert "customresourcedefinition.apiextensions.k8s.io/ippools.crd.projectcalico.org" in crds
