"""The whole `kubeadm_init` through ansible-playbook against the API double backed by real etcd.

The double serves the apiserver certificate our certs phase wrote, from the rootfs; objects are
checked with real kubectl using the admin.conf our kubeconfig phase wrote, and the cluster-info
signature with joserfc.
"""
from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import time
import urllib.error
import urllib.request

import pytest
import yaml
from joserfc import jws as jose_jws
from joserfc.errors import BadSignatureError
from joserfc.jwk import OctKey

from tests.integration.test_init_playbook import IGNORE, run_playbook, run_task
from tests.support.apiserver.server import ApiDouble
from tests.support.apiserver.testing import free_port

API_GROUPS = ["wait-control-plane", "upload-config", "upload-certs", "mark-control-plane",
              "bootstrap-token", "kubelet-finalize", "addon", "show-join-command"]
KUBEADM_CRBS = {"kubeadm:cluster-admins", "kubeadm:kubelet-bootstrap", "kubeadm:get-nodes",
                "kubeadm:node-autoapprove-bootstrap", "kubeadm:node-autoapprove-certificate-rotation",
                "kubeadm:node-proxier", "system:coredns"}


@pytest.fixture
def cluster(tmp_path, etcd_server):
    """rootfs with the local phases done, and a double serving its PKI on the advertised port."""
    rootfs = str(tmp_path / "cp1")
    os.makedirs(rootfs)
    port = free_port()
    args = {"rootfs": rootfs, "node_name": "cp1", "apiserver_advertise_address": "127.0.0.1",
            "apiserver_bind_port": port, "kubernetes_version": "stable-1.34",
            "pod_network_cidr": "10.244.0.0/16", "ignore_preflight_errors": IGNORE}
    local = run_playbook(tmp_path, dict(args, skip_phases=API_GROUPS), name="local")
    assert not local.get("failed"), local["_stdout"]
    double = ApiDouble(os.path.join(rootfs, "etc/kubernetes/pki"), port=port, store=etcd_server.store(),
                       kubernetes_version=local["kubernetes_version"], controllers_interval="0.2s").start()
    # What the kubelet does when it starts with kubelet.conf: register its Node.
    double.put({"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": "cp1", "labels": {"kubernetes.io/hostname": "cp1"}}, "spec": {}})
    yield {"rootfs": rootfs, "args": args, "double": double, "tmp": tmp_path}
    double.stop()


def kubectl_json(kubectl, kubectl_env, rootfs, *args):
    out = subprocess.run([kubectl, "--kubeconfig", os.path.join(rootfs, "etc/kubernetes/admin.conf"),
                          *args, "-o", "json"], capture_output=True, text=True, env=kubectl_env, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def anonymous_get(double, path):
    ctx = ssl.create_default_context(cadata=double.ca_pem.decode())
    try:
        with urllib.request.urlopen(double.url + path, context=ctx, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def wait_jws(double, token_id, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, cm = anonymous_get(double, "/api/v1/namespaces/kube-public/configmaps/cluster-info")
        if status == 200 and f"jws-kubeconfig-{token_id}" in cm.get("data", {}):
            return cm["data"]
        time.sleep(0.2)
    raise AssertionError("bootstrapsigner never signed cluster-info")


def resource_versions(kubectl, kubectl_env, rootfs):
    items = kubectl_json(kubectl, kubectl_env, rootfs, "get", "--all-namespaces",
                         "configmaps,secrets,serviceaccounts,services,deployments,daemonsets,roles,rolebindings,"
                         "clusterroles,clusterrolebindings,nodes")["items"]
    return {(i["kind"], i["metadata"].get("namespace", ""), i["metadata"]["name"]): i["metadata"]["resourceVersion"]
            for i in items}


def test_full_init_against_double(cluster, kubectl, kubectl_env):
    rootfs, double = cluster["rootfs"], cluster["double"]
    full = run_playbook(cluster["tmp"], cluster["args"], name="full")
    assert not full.get("failed"), full["_stdout"]
    assert full["changed"] is True
    token = full["join"]["token"]
    token_id, secret = token.split(".")
    host_port = f"127.0.0.1:{double.port}"
    assert full["join_command"] == (f"kubeadm join {host_port} --token {token} "
                                    f"--discovery-token-ca-cert-hash {full['ca_cert_hash']} ")

    # kubeadm-config / kubelet-config ConfigMaps with their content.
    kubeadm_cm = kubectl_json(kubectl, kubectl_env, rootfs, "get", "cm", "-n", "kube-system", "kubeadm-config")
    cluster_cfg = yaml.safe_load(kubeadm_cm["data"]["ClusterConfiguration"])
    assert cluster_cfg["kind"] == "ClusterConfiguration"
    assert cluster_cfg["apiVersion"] == "kubeadm.k8s.io/v1beta4"
    assert cluster_cfg["networking"]["podSubnet"] == "10.244.0.0/16"
    assert cluster_cfg["kubernetesVersion"] == "v1.34.10"
    kubelet_cm = kubectl_json(kubectl, kubectl_env, rootfs, "get", "cm", "-n", "kube-system", "kubelet-config")
    assert yaml.safe_load(kubelet_cm["data"]["kubelet"])["clusterDNS"] == ["10.96.0.10"]

    # The bootstrap token Secret as kubeadm writes it.
    secrets = kubectl_json(kubectl, kubectl_env, rootfs, "get", "secrets", "-n", "kube-system",
                           "--field-selector", "type=bootstrap.kubernetes.io/token")["items"]
    assert [s["metadata"]["name"] for s in secrets] == [f"bootstrap-token-{token_id}"]
    assert set(secrets[0]["data"]) >= {"token-id", "token-secret", "expiration", "usage-bootstrap-signing",
                                       "usage-bootstrap-authentication", "auth-extra-groups"}

    # RBAC, node marking, addons.
    crbs = {i["metadata"]["name"] for i in kubectl_json(kubectl, kubectl_env, rootfs, "get",
                                                        "clusterrolebindings")["items"]}
    assert KUBEADM_CRBS <= crbs
    node = kubectl_json(kubectl, kubectl_env, rootfs, "get", "node", "cp1")
    assert "node-role.kubernetes.io/control-plane" in node["metadata"]["labels"]
    assert {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"} in node["spec"]["taints"]
    dns = kubectl_json(kubectl, kubectl_env, rootfs, "get", "svc", "-n", "kube-system", "kube-dns")
    assert dns["spec"]["clusterIP"] == "10.96.0.10"
    coredns = kubectl_json(kubectl, kubectl_env, rootfs, "get", "deploy", "-n", "kube-system", "coredns")
    assert coredns["spec"]["template"]["spec"]["containers"][0]["image"] == \
        "registry.k8s.io/coredns/coredns:v1.12.1"
    proxy_cm = kubectl_json(kubectl, kubectl_env, rootfs, "get", "cm", "-n", "kube-system", "kube-proxy")
    assert yaml.safe_load(proxy_cm["data"]["config.conf"])["clusterCIDR"] == "10.244.0.0/16"
    kubectl_json(kubectl, kubectl_env, rootfs, "get", "ds", "-n", "kube-system", "kube-proxy")

    # cluster-info: anonymous can read it (and nothing else); the JWS verifies with joserfc.
    data = wait_jws(double, token_id)
    header, _, signature = data[f"jws-kubeconfig-{token_id}"].partition("..")
    payload = data["kubeconfig"].encode()
    compact = f"{header}.{base64.urlsafe_b64encode(payload).rstrip(b'=').decode()}.{signature}"
    assert jose_jws.deserialize_compact(compact, OctKey.import_key(secret.encode()),
                                        algorithms=["HS256"]).payload == payload
    with pytest.raises(BadSignatureError):
        jose_jws.deserialize_compact(compact, OctKey.import_key(b"0000000000000000"), algorithms=["HS256"])
    info = yaml.safe_load(data["kubeconfig"])
    assert info["clusters"][0]["cluster"]["server"] == f"https://{host_port}"
    assert not info.get("users")
    assert anonymous_get(double, "/api/v1/namespaces/kube-system/configmaps/kubeadm-config")[0] == 403
    assert anonymous_get(double, "/api/v1/namespaces/kube-public/configmaps")[0] == 403

    # Rerun: nothing changes, no new token, no object rewritten, no file rewritten.
    before = resource_versions(kubectl, kubectl_env, rootfs)
    again = run_playbook(cluster["tmp"], cluster["args"], name="again")
    assert not again.get("failed"), again["_stdout"]
    assert again["changed"] is False, again.get("api")
    assert again["join"]["token"] == token
    assert resource_versions(kubectl, kubectl_env, rootfs) == before


def test_init_then_join_a_worker_end_to_end(cluster, openssl, kubectl, kubectl_env):
    """The product's own flow: kubeadm_init's join facts fed to kubeadm_join (module TLS bootstrap)."""
    full = run_playbook(cluster["tmp"], cluster["args"], name="init")
    assert not full.get("failed"), full["_stdout"]
    worker = str(cluster["tmp"] / "w1")
    os.makedirs(worker)
    join_args = dict(full["join"], rootfs=worker, node_name="w1", tls_bootstrap_mode="module",
                     ignore_preflight_errors=["all"])
    joined = run_task(cluster["tmp"], "kubeboot.cluster.kubeadm_join", join_args, name="join")
    assert not joined.get("failed"), joined["_stdout"]
    assert joined["changed"] is True
    assert full["join"]["token"].split(".")[1] not in joined["_stdout"]
    current = os.path.join(worker, "var/lib/kubelet/pki/kubelet-client-current.pem")
    pem = os.path.join(worker, os.readlink(current).lstrip("/"))
    ca = os.path.join(cluster["rootfs"], "etc/kubernetes/pki/ca.crt")
    verify = subprocess.run([openssl, "verify", "-CAfile", ca, pem], capture_output=True, text=True)
    assert verify.returncode == 0, verify.stderr
    whoami = subprocess.run([kubectl, "--server", cluster["double"].url, "--certificate-authority", ca,
                             "--client-certificate", pem, "--client-key", pem, "auth", "whoami", "-o", "json"],
                            capture_output=True, text=True, env=kubectl_env, timeout=60)
    assert whoami.returncode == 0, whoami.stderr
    assert json.loads(whoami.stdout)["status"]["userInfo"]["username"] == "system:node:w1"
    again = run_task(cluster["tmp"], "kubeboot.cluster.kubeadm_join", join_args, name="join-again")
    assert again["changed"] is False, again["_stdout"]


def test_upload_certs_through_the_module(cluster, kubectl, kubectl_env):
    """upload_certs: the module returns the generated key, and the kubeadm-certs Secret decrypts with it
    (AES-256-GCM, nonce || sealed, as kubeadm's copycerts) to the very files of this node."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    result = run_playbook(cluster["tmp"], dict(cluster["args"], upload_certs=True), name="upload")
    assert not result.get("failed"), result["_stdout"]
    key = result["certificate_key"]
    assert len(key) == 64 and int(key, 16) >= 0
    secret = kubectl_json(kubectl, kubectl_env, cluster["rootfs"], "get", "secret", "-n", "kube-system",
                          "kubeadm-certs")
    owner = secret["metadata"]["ownerReferences"][0]
    assert owner["kind"] == "Secret" and owner["name"].startswith("bootstrap-token-")
    pki = os.path.join(cluster["rootfs"], "etc/kubernetes/pki")
    for name, path in (("ca.key", "ca.key"), ("sa.key", "sa.key"), ("etcd-ca.crt", "etcd/ca.crt"),
                       ("front-proxy-ca.key", "front-proxy-ca.key")):
        sealed = base64.b64decode(secret["data"][name])
        plain = AESGCM(bytes.fromhex(key)).decrypt(sealed[:12], sealed[12:], None)
        with open(os.path.join(pki, path), "rb") as handle:
            assert plain == handle.read(), name
    again = run_playbook(cluster["tmp"], dict(cluster["args"], upload_certs=True, certificate_key=key),
                         name="upload-again")
    assert again["changed"] is False, again.get("api")
