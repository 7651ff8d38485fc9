"""Every API phase of `kubeadm init` against the API double (tests/support/apiserver), or against a
real cluster when KUBEBOOT_E2E_KUBECONFIG names an admin kubeconfig (point it only at a disposable
cluster: the phases write kubeadm's objects into it). Optional: KUBEBOOT_E2E_NODE (control-plane
node name; default the first node with the control-plane label).

Checked: every object kubeadm creates exists with the right content; the cluster-info JWS made by the
bootstrapsigner verifies with joserfc (and fails with a wrong token); anonymous reads cluster-info and
nothing else; a bootstrap token reads what joining nodes need; reruns change nothing and create no token.
"""
from __future__ import annotations

import base64
import os
import urllib.parse

import pytest
import yaml
from joserfc import jws as jose_jws
from joserfc.errors import BadSignatureError
from joserfc.jwk import OctKey

from ansible_collections.kubeboot.cluster.plugins.module_utils import (
    addondns, addonproxy, apiclient, apiwriter, bootstraptoken, copycerts, errors, markcontrolplane, objects, poll,
    pubkeypin, rbac, tokencmd, tokens, uploadconfig, waitcontrolplane)
from ansible_collections.kubeboot.cluster.plugins.module_utils.apiwriter import ApiWriter
from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils.config import sample_init_config
from ansible_collections.kubeboot.cluster.plugins.module_utils.files import HostFS

E2E = os.environ.get("KUBEBOOT_E2E_KUBECONFIG")
CERT_KEY = "5f" * 32


class Cluster:
    def __init__(self, client, ca_pem: bytes, cfg, double=None):
        self.client, self.ca_pem, self.cfg, self.double = client, ca_pem, cfg, double
        self.url = client.server

    def anonymous(self):
        return apiclient.Client(self.url, ca_pem=self.ca_pem, retry_timeout=5)

    def with_token(self, token):
        return apiclient.Client(self.url, ca_pem=self.ca_pem, token=token, retry_timeout=5)


def _double_cluster(api_double, version):
    double = api_double(kubernetes_version=version)
    with open(double.admin_kubeconfig, encoding="utf-8") as handle:
        client = apiclient.Client.from_kubeconfig(handle.read(), retry_timeout=10)
    cfg = sample_init_config(version=version, node_name="cp1", advertise_address="127.0.0.1",
                             paths={"cluster.networking.podSubnet": "10.244.0.0/16"})
    double.put({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "cp1", "labels": {
        "kubernetes.io/hostname": "cp1", "kubernetes.io/os": "linux"}}, "spec": {}})
    return Cluster(client, double.ca_pem, cfg, double)


def _e2e_cluster():
    with open(E2E, encoding="utf-8") as handle:
        text = handle.read()
    client = apiclient.Client.from_kubeconfig(text, base_dir=os.path.dirname(E2E), retry_timeout=30)
    cluster = tokencmd.current_cluster(yaml.safe_load(text))
    ca_pem = base64.b64decode(cluster["certificate-authority-data"])
    version = client.request("GET", "/version")["gitVersion"].split("+")[0]
    node = os.environ.get("KUBEBOOT_E2E_NODE") or client.list(
        "Node", label_selector=C.CONTROL_PLANE_LABEL)[0]["metadata"]["name"]
    host = urllib.parse.urlsplit(client.server).hostname
    paths = {}
    live = client.get_or_none("ConfigMap", C.KUBEADM_CONFIG_CM, C.KUBE_SYSTEM)
    if live:
        stored = yaml.safe_load(live["data"][C.KUBEADM_CONFIG_KEY])
        for key, value in (stored.get("networking") or {}).items():
            paths[f"cluster.networking.{key}"] = value
        if stored.get("controlPlaneEndpoint"):
            paths["cluster.controlPlaneEndpoint"] = stored["controlPlaneEndpoint"]
    cfg = sample_init_config(version=version, node_name=node,
                             advertise_address=host if host and host[0].isdigit() else "127.0.0.1",
                             paths=paths)
    return Cluster(client, ca_pem, cfg)


@pytest.fixture(params=["double-1.34", "double-1.37", "e2e"])
def cluster(request, api_double):
    if request.param == "e2e":
        if not E2E:
            pytest.skip("KUBEBOOT_E2E_KUBECONFIG is not set")
        return _e2e_cluster()
    return _double_cluster(api_double, "v1.34.10" if request.param.endswith("1.34") else "v1.37.0")


@pytest.fixture
def pki_root(tmp_path):
    root = tmp_path / "rootfs"
    for name in ("ca.crt", "ca.key", "front-proxy-ca.crt", "front-proxy-ca.key", "sa.pub", "sa.key",
                 "etcd/ca.crt", "etcd/ca.key"):
        path = root / "etc/kubernetes/pki" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"pem of {name}\n".encode())
    return str(root)


def _run_all(c: Cluster, pki_root: str) -> dict:
    cfg, client = c.cfg, ApiWriter(c.client)
    return {
        "wait-control-plane": waitcontrolplane.wait_control_plane(client, 30),
        "cluster-admins": rbac.ensure_cluster_admins(client),
        "upload-config/kubeadm": uploadconfig.upload_config_kubeadm(client, cfg),
        "upload-config/kubelet": uploadconfig.upload_config_kubelet(client, cfg),
        "upload-certs": copycerts.upload_certs(client, cfg, HostFS(pki_root), CERT_KEY),
        "mark-control-plane": markcontrolplane.mark_control_plane(client, cfg, 30),
        "bootstrap-token": bootstraptoken.bootstrap_token(client, cfg, c.ca_pem, c.url),
        "addon/coredns": addondns.addon_coredns(client, cfg),
        "addon/kube-proxy": addonproxy.addon_kube_proxy(client, cfg, c.url, c.ca_pem),
    }


def _token_secret_names(client):
    return sorted(s["metadata"]["name"] for s in bootstraptoken.list_token_secrets(ApiWriter(client)))


def _wait_jws(client, token_id, timeout=30):
    def signed():
        cm = client.get("ConfigMap", C.CLUSTER_INFO_CM, C.KUBE_PUBLIC)
        return cm if C.JWS_KEY_PREFIX + token_id in (cm.get("data") or {}) else None
    return poll.wait_for(signed, timeout, 0.2, what="the bootstrapsigner to sign cluster-info")


def _joserfc_verify(detached: str, content: str, secret: str):
    header, _, signature = detached.split(".")
    payload = base64.urlsafe_b64encode(content.encode()).rstrip(b"=").decode()
    key = OctKey.import_key(secret.encode().ljust(32, b"\0"))
    return jose_jws.deserialize_compact(f"{header}.{payload}.{signature}", key, algorithms=["HS256"])


def test_all_phases_objects_and_rerun(cluster, pki_root):
    c = cluster
    first = _run_all(c, pki_root)
    if c.double is not None:  # a fresh cluster: everything is created
        changed = {name for name, result in first.items() if result["changed"]}
        assert changed == set(first) - {"wait-control-plane"}, first
    token = first["bootstrap-token"]["token"]
    assert tokens.is_valid_token(token)
    tokens_before = _token_secret_names(c.client)

    # -- every object of kubeadm-artifacts §5 exists with the wanted content
    wanted = (rbac.all_rbac() + [bootstraptoken.cluster_info_configmap(c.url, c.ca_pem),
                                 uploadconfig.kubeadm_config_configmap(c.cfg),
                                 uploadconfig.kubelet_config_configmap(c.cfg)]
              + [o for o in addondns.coredns_objects(c.cfg) if o["kind"] != "ConfigMap" or c.double]
              + addonproxy.kube_proxy_objects(c.cfg, c.url))
    for obj in wanted:
        meta = obj["metadata"]
        live = c.client.get(obj["kind"], meta["name"], meta.get("namespace", ""))
        assert apiwriter.contains(live, {k: v for k, v in obj.items() if k != "apiVersion"}), \
            f"{obj['kind']} {meta['name']} differs"
    kubeadm_config = c.client.get("ConfigMap", C.KUBEADM_CONFIG_CM, C.KUBE_SYSTEM)
    assert yaml.safe_load(kubeadm_config["data"][C.KUBEADM_CONFIG_KEY])["kind"] == "ClusterConfiguration"
    kubelet_cm = c.client.get("ConfigMap", C.KUBELET_CONFIG_CM, C.KUBE_SYSTEM)
    assert kubelet_cm["metadata"]["annotations"][C.COMPONENT_CONFIG_HASH_ANNOTATION] == \
        objects.config_map_checksum(kubelet_cm["data"])
    assert c.client.get("Service", "kube-dns", C.KUBE_SYSTEM)["spec"]["clusterIP"] == addondns.dns_ip(c.cfg)
    proxy_conf = yaml.safe_load(c.client.get("ConfigMap", "kube-proxy", C.KUBE_SYSTEM)["data"]["config.conf"])
    assert (proxy_conf.get("mode") == "iptables") is (c.cfg.minor >= 37)

    node = c.client.get("Node", c.cfg.node_name)
    assert node["metadata"]["labels"][C.CONTROL_PLANE_LABEL] == ""
    assert node["metadata"]["labels"][C.EXCLUDE_LB_LABEL] == ""
    assert any(t["key"] == C.CONTROL_PLANE_LABEL and t["effect"] == "NoSchedule" for t in node["spec"]["taints"])

    system_node = c.client.get_or_none("ClusterRoleBinding", "system:node")
    if system_node:
        assert not any(s.get("name") == C.NODES_GROUP for s in system_node.get("subjects") or [])

    # -- token Secret as kubeadm writes it
    token_id, token_secret = tokens.split_token(token)
    parsed = tokens.parse_token_secret(c.client.get("Secret", tokens.secret_name(token_id), C.KUBE_SYSTEM))
    assert parsed["usages"] == ["authentication", "signing"] and parsed["groups"] == [C.DEFAULT_TOKEN_GROUP]
    assert parsed["expires"]

    # -- upload-certs: decryptable with the key, owned by a 2h proxy token
    certs = c.client.get("Secret", C.KUBEADM_CERTS_SECRET, C.KUBE_SYSTEM)
    plain = copycerts.decrypt_certs(certs["data"], CERT_KEY)
    assert plain["sa.key"] == b"pem of sa.key\n" and plain["etcd-ca.crt"] == b"pem of etcd/ca.crt\n"
    with pytest.raises(errors.PKIError):
        copycerts.decrypt_certs(certs["data"], "00" * 32)
    owner_ref = certs["metadata"]["ownerReferences"][0]
    owner = tokens.parse_token_secret(c.client.get("Secret", owner_ref["name"], C.KUBE_SYSTEM))
    assert owner["description"] == C.CERT_TOKEN_DESCRIPTION and owner["usages"] == []
    assert owner_ref["controller"] is True and owner_ref["blockOwnerDeletion"] is True

    # -- cluster-info JWS from the bootstrapsigner, checked independently with joserfc
    cm = _wait_jws(c.client, token_id)
    content = cm["data"][C.CLUSTER_INFO_KUBECONFIG_KEY]
    detached = cm["data"][C.JWS_KEY_PREFIX + token_id]
    assert _joserfc_verify(detached, content, token_secret).payload == content.encode()
    assert tokens.verify_detached_jws(content, detached, token_id, token_secret)
    with pytest.raises(BadSignatureError):
        _joserfc_verify(detached, content, tokens.generate_token().split(".")[1])
    info = yaml.safe_load(content)
    assert info["clusters"][0]["name"] == "" and info["clusters"][0]["cluster"]["server"] == c.url
    assert base64.b64decode(info["clusters"][0]["cluster"]["certificate-authority-data"]) == c.ca_pem

    # -- anonymous: cluster-info and nothing else
    anon = c.anonymous()
    assert anon.get("ConfigMap", C.CLUSTER_INFO_CM, C.KUBE_PUBLIC)["data"][C.CLUSTER_INFO_KUBECONFIG_KEY] == content
    for kind, name, ns in (("ConfigMap", C.KUBEADM_CONFIG_CM, C.KUBE_SYSTEM),
                           ("ConfigMap", "kube-root-ca.crt", C.KUBE_PUBLIC),
                           ("Secret", tokens.secret_name(token_id), C.KUBE_SYSTEM),
                           ("Node", c.cfg.node_name, "")):
        with pytest.raises(errors.APIError) as denied:
            anon.get(kind, name, ns)
        assert denied.value.status in (401, 403), (kind, name)
    with pytest.raises(errors.APIError) as denied:
        anon.list("Secret", C.KUBE_SYSTEM)
    assert denied.value.status in (401, 403)

    # -- the bootstrap token reads what a joining node needs, and not the Secrets
    joiner = c.with_token(token)
    for kind, name, ns in (("ConfigMap", C.KUBEADM_CONFIG_CM, C.KUBE_SYSTEM),
                           ("ConfigMap", C.KUBELET_CONFIG_CM, C.KUBE_SYSTEM),
                           ("ConfigMap", "kube-proxy", C.KUBE_SYSTEM),
                           ("Secret", C.KUBEADM_CERTS_SECRET, C.KUBE_SYSTEM),
                           ("Node", c.cfg.node_name, "")):
        assert joiner.get(kind, name, ns)["metadata"]["name"] == name
    with pytest.raises(errors.APIError) as denied:
        joiner.list("Secret", C.KUBE_SYSTEM)
    assert denied.value.status == 403

    # -- rerun: nothing changes, no new token
    second = _run_all(c, pki_root)
    assert {name: r["changed"] for name, r in second.items()} == {name: False for name in second}, second
    assert second["bootstrap-token"]["token"] == token
    assert _token_secret_names(c.client) == tokens_before


def test_token_commands(cluster, tmp_path):
    c = cluster
    present = tokencmd.token_present(ApiWriter(c.client), "", ttl="1h", usages=["authentication"],
                                     description="kubeboot test token", reuse=False)
    assert present["changed"] and tokens.is_valid_token(present["token"])
    token = present["token"]
    try:
        again = tokencmd.token_present(ApiWriter(c.client), token, ttl="1h", usages=["authentication"],
                                       description="kubeboot test token")
        assert again == {"changed": False, "token": token, "token_id": token[:6]}
        reused = tokencmd.token_present(ApiWriter(c.client), "", ttl="1h", usages=["authentication"],
                                        description="kubeboot test token")
        assert reused["changed"] is False and reused["token"] == token
        info = tokencmd.token_info(ApiWriter(c.client))
        row = next(r for r in info["tokens"] if r["id"] == token[:6])
        assert row["token"] == token[:6] + "." + "*" * 16 and row["usages"] == ["authentication"]
        assert row["ttl"] in ("59m", "1h") and row["expired"] is False
        assert token not in info["table"] and token[7:] not in str(info)
        full = tokencmd.token_info(ApiWriter(c.client), include_secrets=True)
        assert token in full["table"] and full["table"].startswith("TOKEN ")
        # join command from a kubeconfig on a rootfs
        root = tmp_path / "root"
        (root / "etc/kubernetes").mkdir(parents=True)
        (root / "etc/kubernetes/admin.conf").write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "a",
            "clusters": [{"name": "k", "cluster": {"server": c.url, "certificate-authority-data":
                                                   base64.b64encode(c.ca_pem).decode()}}],
            "contexts": [{"name": "a", "context": {"cluster": "k", "user": "u"}}],
            "users": [{"name": "u", "user": {}}]}))
        line = tokencmd.join_command_for(HostFS(str(root)), "/etc/kubernetes/admin.conf", token)
        pin = pubkeypin.bundle_pins(c.ca_pem)[0]
        host = c.url.replace("https://", "")
        assert line == f"kubeadm join {host} --token {token} --discovery-token-ca-cert-hash {pin} "
    finally:
        assert tokencmd.token_absent(ApiWriter(c.client), token)["changed"] is True
    assert tokencmd.token_absent(ApiWriter(c.client), token[:6])["changed"] is False
