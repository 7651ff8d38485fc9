"""bootstrap.py: object builders (kubeadm-artifacts §5), cert-key encryption, phases on an in-memory client."""
from __future__ import annotations

import base64
import copy
import datetime as dt
import os
import urllib.parse

import pytest
import yaml
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ansible_collections.kubeboot.cluster.plugins.module_utils import addondns, addonproxy, bootstraptoken, copycerts, kubelet, markcontrolplane, objects, rbac, uploadconfig, waitcontrolplane
from ansible_collections.kubeboot.cluster.plugins.module_utils import apiclient, errors, tokens
from ansible_collections.kubeboot.cluster.plugins.module_utils.apiwriter import ApiWriter
from ansible_collections.kubeboot.cluster.plugins.module_utils.bootstraptoken import BootstrapToken
from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils.config import sample_init_config
from ansible_collections.kubeboot.cluster.plugins.module_utils.files import HostFS, Writer

NOW = dt.datetime(2025, 3, 1, 12, 0, 0, tzinfo=dt.timezone.utc)
CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
SERVER = "https://192.0.2.10:6443"


def _cfg(version="v1.34.10", **paths):
    paths.setdefault("cluster.networking.podSubnet", "10.244.0.0/16")
    cfg = sample_init_config(version=version, paths=paths)
    return cfg


# --- in-memory client: the real Client with `request` answered from a dict ------------
class MemClient(apiclient.Client):
    def __init__(self):
        super().__init__("https://127.0.0.1:6443", insecure=True)
        self.objects, self.writes, self.rv = {}, [], 1

    def request(self, method, path, body=None, query=None, content_type=None, retry=True, raw=False):
        if method != "GET":
            self.writes.append((method, path))
        if path == "/healthz":
            return "ok"
        body = copy.deepcopy(body)
        if method == "GET":
            if path in self.objects:
                return copy.deepcopy(self.objects[path])
            items = [copy.deepcopy(o) for p, o in self.objects.items() if p.rsplit("/", 1)[0] == path]
            if items or path.endswith("secrets"):
                selector = (query or {}).get("fieldSelector", "")
                if selector.startswith("type="):
                    items = [i for i in items if i.get("type") == selector[5:]]
                return {"apiVersion": "v1", "items": items}
            raise errors.NotFound(method, path, 404, "not found")
        if method == "POST":
            full = path + "/" + urllib.parse.quote(body["metadata"]["name"], safe=":")
            if full in self.objects:
                raise errors.Conflict(method, path, 409, "already exists")
            self.rv += 1
            body["metadata"].update(resourceVersion=str(self.rv), uid=f"uid-{self.rv}")
            self.objects[full] = body
            return copy.deepcopy(body)
        if method == "PUT":
            self.rv += 1
            body["metadata"]["resourceVersion"] = str(self.rv)
            body["metadata"].setdefault("uid", self.objects[path]["metadata"].get("uid"))
            self.objects[path] = body
            return copy.deepcopy(body)
        if method == "PATCH":
            obj = self.objects[path]
            _merge(obj, body)
            return copy.deepcopy(obj)
        if method == "DELETE":
            if self.objects.pop(path, None) is None:
                raise errors.NotFound(method, path, 404, "not found")
            return {}
        raise AssertionError(method)

    def obj(self, kind, name, ns=""):
        return self.objects.get(apiclient.resource_path(kind, name, ns))


def _merge(target, patch):
    for k, v in patch.items():
        if isinstance(v, dict) and isinstance(target.get(k), dict):
            _merge(target[k], v)
        else:
            target[k] = v


@pytest.fixture
def client():
    c = MemClient()
    c.objects["/api/v1/nodes/cp1"] = {"apiVersion": "v1", "kind": "Node",
                                      "metadata": {"name": "cp1", "resourceVersion": "1", "labels": {"a": "b"}},
                                      "spec": {}}
    return c


@pytest.fixture(autouse=True)
def _kubelet_module(monkeypatch):
    """kubelet.py belongs to another helper; give it a stand-in when absent."""
    import sys
    name = "ansible_collections.kubeboot.cluster.plugins.module_utils.kubelet"
    try:
        __import__(name)
    except ImportError:
        import types
        mod = types.ModuleType(name)
        mod.kubelet_configuration = lambda cfg: {"apiVersion": C.KUBELET_API, "kind": "KubeletConfiguration",
                                                 "clusterDNS": [addondns.dns_ip(cfg)]}
        monkeypatch.setitem(sys.modules, name, mod)


# --- RBAC table ---------------------------------------------------------------------------
def _rows():
    out = {}
    for obj in rbac.all_rbac():
        meta = obj["metadata"]
        out[(obj["kind"], meta.get("namespace", ""), meta["name"])] = obj
    return out


G = "rbac.authorization.k8s.io"
TOKEN_GROUP = {"apiGroup": G, "kind": "Group", "name": "system:bootstrappers:kubeadm:default-node-token"}
NODES = {"apiGroup": G, "kind": "Group", "name": "system:nodes"}


@pytest.mark.parametrize("name,role,subjects", [
    ("kubeadm:cluster-admins", "cluster-admin", [{"apiGroup": G, "kind": "Group", "name": "kubeadm:cluster-admins"}]),
    ("kubeadm:kubelet-bootstrap", "system:node-bootstrapper", [TOKEN_GROUP]),
    ("kubeadm:get-nodes", "kubeadm:get-nodes", [TOKEN_GROUP]),
    ("kubeadm:node-autoapprove-bootstrap",
     "system:certificates.k8s.io:certificatesigningrequests:nodeclient", [TOKEN_GROUP]),
    ("kubeadm:node-autoapprove-certificate-rotation",
     "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", [NODES]),
    ("kubeadm:node-proxier", "system:node-proxier",
     [{"kind": "ServiceAccount", "name": "kube-proxy", "namespace": "kube-system"}]),
    ("system:coredns", "system:coredns", [{"kind": "ServiceAccount", "name": "coredns", "namespace": "kube-system"}]),
])
def test_cluster_role_bindings(name, role, subjects):
    crb = _rows()[("ClusterRoleBinding", "", name)]
    assert crb["roleRef"] == {"apiGroup": G, "kind": "ClusterRole", "name": role}
    assert crb["subjects"] == subjects


@pytest.mark.parametrize("name,ns,resource,resource_name,subjects", [
    ("kubeadm:bootstrap-signer-clusterinfo", "kube-public", "configmaps", "cluster-info",
     [{"apiGroup": G, "kind": "User", "name": "system:anonymous"}]),
    ("kubeadm:nodes-kubeadm-config", "kube-system", "configmaps", "kubeadm-config", [TOKEN_GROUP, NODES]),
    ("kubeadm:kubelet-config", "kube-system", "configmaps", "kubelet-config", [NODES, TOKEN_GROUP]),
    ("kubeadm:kubeadm-certs", "kube-system", "secrets", "kubeadm-certs", [TOKEN_GROUP]),
    ("kube-proxy", "kube-system", "configmaps", "kube-proxy", [TOKEN_GROUP]),
])
def test_roles(name, ns, resource, resource_name, subjects):
    rows = _rows()
    role = rows[("Role", ns, name)]
    assert role["rules"] == [{"apiGroups": [""], "resources": [resource], "resourceNames": [resource_name],
                              "verbs": ["get"]}]
    binding = rows[("RoleBinding", ns, name)]
    assert binding["roleRef"] == {"apiGroup": G, "kind": "Role", "name": name}
    assert binding["subjects"] == subjects


def test_cluster_roles():
    rows = _rows()
    assert rows[("ClusterRole", "", "kubeadm:get-nodes")]["rules"] == [
        {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}]
    assert rows[("ClusterRole", "", "system:coredns")]["rules"] == [
        {"apiGroups": [""], "resources": ["endpoints", "services", "pods", "namespaces"], "verbs": ["list", "watch"]},
        {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]}]
    assert len(rows) == 19  # 7 CRB + 2 ClusterRole + 5 Role + 5 RoleBinding


# --- ConfigMaps -----------------------------------------------------------------------------
def test_cluster_info():
    cm = bootstraptoken.cluster_info_configmap(SERVER, CA_PEM)
    assert cm["metadata"] == {"name": "cluster-info", "namespace": "kube-public"}
    kubeconfig = yaml.safe_load(cm["data"]["kubeconfig"])
    assert kubeconfig["clusters"] == [{"name": "", "cluster": {
        "server": SERVER, "certificate-authority-data": base64.b64encode(CA_PEM.encode()).decode()}}]
    assert kubeconfig["users"] is None and kubeconfig["contexts"] is None
    assert kubeconfig["current-context"] == ""


def test_kubeadm_config_configmap():
    cfg = _cfg()
    cm = uploadconfig.kubeadm_config_configmap(cfg)
    doc = yaml.safe_load(cm["data"]["ClusterConfiguration"])
    assert doc["kind"] == "ClusterConfiguration" and doc["apiVersion"] == "kubeadm.k8s.io/v1beta4"
    assert doc["kubernetesVersion"] == "v1.34.10"
    assert "bootstrapTokens" not in cm["data"]["ClusterConfiguration"]


def test_kubelet_config_hash():
    cfg = _cfg()
    cm = uploadconfig.kubelet_config_configmap(cfg, "kind: KubeletConfiguration\n")
    import hashlib
    assert cm["metadata"]["annotations"] == {
        "kubeadm.kubernetes.io/component-config.hash":
            "sha256:" + hashlib.sha256(b"kind: KubeletConfiguration\n").hexdigest()}
    assert list(cm["data"]) == ["kubelet"]
    # kubelet/config.go: a user-supplied KubeletConfiguration is not signed
    cfg.kubelet = {"kind": "KubeletConfiguration", "maxPods": 50}
    assert "annotations" not in uploadconfig.kubelet_config_configmap(cfg, "kind: KubeletConfiguration\n")["metadata"]
    assert objects.config_map_checksum({"b": "2", "a": "1"}) == \
        "sha256:" + hashlib.sha256(b"12").hexdigest()


# --- CoreDNS -----------------------------------------------------------------------------------
def test_corefile_cache_options():
    cfg = _cfg(**{"cluster.networking.dnsDomain": "example.org"})
    text = addondns.corefile(cfg)
    assert "    cache 30 {\n       disable success example.org\n       disable denial example.org\n    }\n" in text
    assert "    kubernetes example.org in-addr.arpa ip6.arpa {\n       pods insecure\n" in text
    assert text.startswith(".:53 {\n    errors\n    health {\n       lameduck 5s\n    }\n    ready\n")
    assert text.endswith("    loop\n    reload\n    loadbalance\n}\n")


@pytest.mark.parametrize("version,tag,named", [("v1.33.5", "v1.12.0", False), ("v1.34.10", "v1.12.1", True),
                                               ("v1.37.0", "v1.14.6", True)])
def test_coredns_deployment(version, tag, named):
    cfg = _cfg(version)
    dep = addondns.coredns_deployment(cfg)
    container = dep["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == f"registry.k8s.io/coredns/coredns:{tag}"
    assert dep["spec"]["replicas"] == 2
    port_names = [p["name"] for p in container["ports"]]
    if named:
        assert port_names == ["dns", "dns-tcp", "metrics", "liveness-probe", "readiness-probe"]
        assert container["livenessProbe"]["httpGet"]["port"] == "liveness-probe"
        assert container["readinessProbe"]["httpGet"]["port"] == "readiness-probe"
    else:
        assert port_names == ["dns", "dns-tcp", "metrics"]
        assert container["livenessProbe"]["httpGet"]["port"] == 8080
    spec = dep["spec"]["template"]["spec"]
    assert spec["priorityClassName"] == "system-cluster-critical" and spec["dnsPolicy"] == "Default"
    assert {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"} in spec["tolerations"]


def test_coredns_custom_repo_and_service():
    cfg = _cfg(**{"cluster.imageRepository": "reg.example:5000/k8s",
                  "cluster.networking.serviceSubnet": "10.100.0.0/16"})
    assert addondns.coredns_image(cfg) == "reg.example:5000/k8s/coredns:v1.12.1"
    svc = addondns.coredns_service(cfg)
    assert svc["metadata"]["name"] == "kube-dns" and svc["spec"]["clusterIP"] == "10.100.0.10"
    assert [(p["name"], p["port"], p["protocol"]) for p in svc["spec"]["ports"]] == [
        ("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"), ("metrics", 9153, "TCP")]
    assert svc["metadata"]["annotations"] == {"prometheus.io/port": "9153", "prometheus.io/scrape": "true"}
    kinds = [o["kind"] for o in addondns.coredns_objects(cfg)]
    assert kinds == ["ServiceAccount", "ConfigMap", "ClusterRole", "ClusterRoleBinding", "Deployment", "Service"]


# --- kube-proxy --------------------------------------------------------------------------------
def test_kube_proxy_config():
    cfg = _cfg()
    cm = addonproxy.kube_proxy_configmap(cfg, "https://lb.example:6443")
    assert cm["metadata"]["labels"] == {"app": "kube-proxy"}
    conf = yaml.safe_load(cm["data"]["config.conf"])
    assert conf["clusterCIDR"] == "10.244.0.0/16" and conf["bindAddress"] == "0.0.0.0"
    assert conf["clientConnection"]["kubeconfig"] == "/var/lib/kube-proxy/kubeconfig.conf"
    assert conf["mode"] == ""  # kubeadm < 1.37 marshals the zero value
    kc = yaml.safe_load(cm["data"]["kubeconfig.conf"])
    assert kc["clusters"][0]["cluster"] == {
        "certificate-authority": "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
        "server": "https://lb.example:6443"}
    assert kc["users"][0]["user"] == {"tokenFile": "/var/run/secrets/kubernetes.io/serviceaccount/token"}
    assert not cm["data"]["kubeconfig.conf"].endswith("\n")


def test_kube_proxy_137_mode_and_user_values():
    cfg = _cfg("v1.37.0")
    assert addonproxy.kube_proxy_configuration(cfg)["mode"] == "iptables"
    cfg.kube_proxy = {"mode": "nftables", "clusterCIDR": "10.1.0.0/16"}
    conf = addonproxy.kube_proxy_configuration(cfg)
    assert conf["mode"] == "nftables" and conf["clusterCIDR"] == "10.1.0.0/16"
    cfg6 = sample_init_config(version="v1.34.1", advertise_address="fd00::10")
    assert addonproxy.kube_proxy_configuration(cfg6)["bindAddress"] == "::"


# `kubectl -n kube-system get cm kube-proxy` config.conf of a kubeadm v1.34.3 init (podSubnet set):
# the whole zero-valued v1alpha1 struct, no featureGates (omitempty), mode "" (k/k kubeproxy.go).
KUBE_PROXY_134 = """apiVersion: kubeproxy.config.k8s.io/v1alpha1
bindAddress: 0.0.0.0
bindAddressHardFail: false
clientConnection:
  acceptContentTypes: ""
  burst: 0
  contentType: ""
  kubeconfig: /var/lib/kube-proxy/kubeconfig.conf
  qps: 0
clusterCIDR: 10.244.0.0/16
configSyncPeriod: 0s
conntrack:
  maxPerCore: null
  min: null
  tcpBeLiberal: false
  tcpCloseWaitTimeout: null
  tcpEstablishedTimeout: null
  udpStreamTimeout: 0s
  udpTimeout: 0s
detectLocal:
  bridgeInterface: ""
  interfaceNamePrefix: ""
detectLocalMode: ""
enableProfiling: false
healthzBindAddress: ""
hostnameOverride: ""
iptables:
  localhostNodePorts: null
  masqueradeAll: false
  masqueradeBit: null
  minSyncPeriod: 0s
  syncPeriod: 0s
ipvs:
  excludeCIDRs: null
  minSyncPeriod: 0s
  scheduler: ""
  strictARP: false
  syncPeriod: 0s
  tcpFinTimeout: 0s
  tcpTimeout: 0s
  udpTimeout: 0s
kind: KubeProxyConfiguration
logging:
  flushFrequency: 0
  options:
    json:
      infoBufferSize: "0"
    text:
      infoBufferSize: "0"
  verbosity: 0
metricsBindAddress: ""
mode: ""
nftables:
  masqueradeAll: false
  masqueradeBit: null
  minSyncPeriod: 0s
  syncPeriod: 0s
nodePortAddresses: null
oomScoreAdj: null
portRange: ""
showHiddenMetricsForVersion: ""
winkernel:
  enableDSR: false
  forwardHealthCheckVip: false
  networkName: ""
  rootHnsEndpointName: ""
  sourceVip: ""
"""


def test_kube_proxy_config_full_struct_and_signature():
    import hashlib
    cfg = _cfg("v1.34.3")
    cm = addonproxy.kube_proxy_configmap(cfg, "https://lb.example:6443")
    assert cm["data"]["config.conf"] + "\n" == KUBE_PROXY_134  # ConfigMap value: `|-`
    # proxy.go: SignConfigMap when the KubeProxyConfiguration is not user supplied
    digest = hashlib.sha256((cm["data"]["config.conf"] + cm["data"]["kubeconfig.conf"]).encode()).hexdigest()
    assert cm["metadata"]["annotations"] == {"kubeadm.kubernetes.io/component-config.hash": "sha256:" + digest}
    # 1.37 only changes mode
    text137 = addonproxy.kube_proxy_configmap(_cfg("v1.37.0"), "https://lb.example:6443")["data"]["config.conf"]
    assert text137 + "\n" == KUBE_PROXY_134.replace('mode: ""', "mode: iptables")


def test_kube_proxy_config_user_supplied():
    cfg = _cfg("v1.34.3")
    cfg.kube_proxy = {"apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration",
                      "featureGates": {"Foo": True}, "ipvs": {"strictARP": True, "syncPeriod": "1m"},
                      "mode": "ipvs"}
    cm = addonproxy.kube_proxy_configmap(cfg, "https://lb.example:6443")
    assert "annotations" not in cm["metadata"]  # user supplied: not signed
    conf = yaml.safe_load(cm["data"]["config.conf"])
    assert conf["featureGates"] == {"Foo": True} and conf["mode"] == "ipvs"
    assert conf["ipvs"]["strictARP"] is True and conf["ipvs"]["syncPeriod"] == "1m0s"
    assert conf["ipvs"]["scheduler"] == "" and conf["conntrack"]["maxPerCore"] is None
    assert conf["clientConnection"]["kubeconfig"] == "/var/lib/kube-proxy/kubeconfig.conf"


def test_kube_proxy_daemonset_tolerations_and_proxy_env():
    ds = addonproxy.kube_proxy_daemonset(_cfg(), environ={"PATH": "/bin", "no_proxy": "10.0.0.0/8",
                                                          "HTTPS_PROXY": "http://p:3128", "FTP_PROXY": ""})
    spec = ds["spec"]["template"]["spec"]
    assert spec["tolerations"] == [{"operator": "Exists"}]  # k/k #101966 dropped CriticalAddonsOnly
    assert spec["containers"][0]["env"] == [
        {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        {"name": "HTTPS_PROXY", "value": "http://p:3128"}, {"name": "no_proxy", "value": "10.0.0.0/8"}]
    assert addonproxy.kube_proxy_daemonset(_cfg(), environ={})["spec"]["template"]["spec"]["containers"][0][
        "env"] == [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]


def test_kube_proxy_daemonset():
    ds = addonproxy.kube_proxy_daemonset(_cfg())
    spec = ds["spec"]["template"]["spec"]
    c = spec["containers"][0]
    assert c["image"] == "registry.k8s.io/kube-proxy:v1.34.10"
    assert c["command"] == ["/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy/config.conf",
                            "--hostname-override=$(NODE_NAME)"]
    assert spec["hostNetwork"] and c["securityContext"] == {"privileged": True}
    assert {"operator": "Exists"} in spec["tolerations"]
    assert spec["priorityClassName"] == "system-node-critical"


# --- mark-control-plane ------------------------------------------------------------------------
def test_taints_default_explicit_empty():
    cfg = _cfg()
    assert markcontrolplane.control_plane_taints(cfg) == [{"key": "node-role.kubernetes.io/control-plane",
                                                    "effect": "NoSchedule"}]
    cfg.init["nodeRegistration"]["taints"] = []
    assert markcontrolplane.control_plane_taints(cfg) == []
    cfg.init["nodeRegistration"]["taints"] = [{"key": "x", "value": "y", "effect": "NoExecute"}]
    assert markcontrolplane.control_plane_taints(cfg) == [{"key": "x", "value": "y", "effect": "NoExecute"}]


def test_mark_control_plane_changes():
    node = {"metadata": {"labels": {"a": "b"}, "resourceVersion": "7"},
            "spec": {"taints": [{"key": "other", "effect": "NoExecute"}]}}
    patch = markcontrolplane.mark_control_plane_changes(node, markcontrolplane.control_plane_labels(),
                                                 [dict(C.CONTROL_PLANE_TAINT)])
    assert patch["metadata"] == {"labels": {C.CONTROL_PLANE_LABEL: "", C.EXCLUDE_LB_LABEL: ""},
                                 "resourceVersion": "7"}
    # markcontrolplane.go: kubeadm's taints first, then the node's other taints
    assert patch["spec"]["taints"] == [dict(C.CONTROL_PLANE_TAINT), {"key": "other", "effect": "NoExecute"}]
    _merge(node, patch)
    assert markcontrolplane.mark_control_plane_changes(node, markcontrolplane.control_plane_labels(),
                                                [dict(C.CONTROL_PLANE_TAINT)]) is None


# --- upload-certs encryption ----------------------------------------------------------------------
KEY = "0123456789abcdef" * 4
PLAIN = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit."


def test_encrypt_roundtrip_and_wrong_key():
    blob = copycerts.encrypt_bytes(PLAIN, KEY)
    assert len(blob) == 12 + len(PLAIN) + 16
    assert copycerts.decrypt_bytes(blob, KEY) == PLAIN
    with pytest.raises(errors.PKIError):
        copycerts.decrypt_bytes(blob, os.urandom(32).hex())
    with pytest.raises(errors.PKIError):
        copycerts.decrypt_bytes(b"short", KEY)
    with pytest.raises(errors.InvalidValue):
        copycerts.encrypt_bytes(PLAIN, "")
    with pytest.raises(errors.InvalidValue):
        copycerts.encrypt_bytes(PLAIN, "zz" * 32)


def test_encrypt_fixed_vector_independent():
    nonce = bytes(range(12))
    key = bytes.fromhex(KEY)
    expected = nonce + AESGCM(key).encrypt(nonce, PLAIN, None)  # the primitive, computed here
    assert copycerts.encrypt_bytes(PLAIN, KEY, nonce=nonce) == expected
    assert copycerts.decrypt_bytes(expected, KEY) == PLAIN


def test_encrypt_certs_secret_data():
    files = {"ca.crt": b"CERT", "ca.key": None, "sa.pub": b""}
    data = copycerts.encrypt_certs(files, KEY)
    assert data["ca.key"] == ""
    assert copycerts.decrypt_certs(data, KEY) == {"ca.crt": b"CERT", "sa.pub": b""}
    with pytest.raises(errors.PKIError):
        copycerts.decrypt_certs(data, "ff" * 32)


def test_certs_to_upload_local_and_external():
    cfg = _cfg()
    assert copycerts.certs_to_upload(cfg) == {
        "ca.crt": "/etc/kubernetes/pki/ca.crt", "ca.key": "/etc/kubernetes/pki/ca.key",
        "front-proxy-ca.crt": "/etc/kubernetes/pki/front-proxy-ca.crt",
        "front-proxy-ca.key": "/etc/kubernetes/pki/front-proxy-ca.key",
        "sa.pub": "/etc/kubernetes/pki/sa.pub", "sa.key": "/etc/kubernetes/pki/sa.key",
        "etcd-ca.crt": "/etc/kubernetes/pki/etcd/ca.crt", "etcd-ca.key": "/etc/kubernetes/pki/etcd/ca.key"}
    cfg.cluster["etcd"] = {"external": {"endpoints": ["https://e:2379"], "caFile": "/e/ca.crt",
                                        "certFile": "/e/c.crt", "keyFile": "/e/c.key"}}
    files = copycerts.certs_to_upload(cfg)
    assert files["external-etcd-ca.crt"] == "/e/ca.crt" and files["external-etcd.key"] == "/e/c.key"
    assert "etcd-ca.crt" not in files


# --- phases on the in-memory client ----------------------------------------------------------------
def _pki(rootfs):
    for name in ("ca.crt", "ca.key", "front-proxy-ca.crt", "front-proxy-ca.key", "sa.pub", "sa.key",
                 "etcd/ca.crt", "etcd/ca.key"):
        path = os.path.join(rootfs, "etc/kubernetes/pki", name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(f"content of {name}".encode())


def test_bootstrap_token_phase_idempotent(client):
    cfg = _cfg()
    first = bootstraptoken.bootstrap_token(ApiWriter(client), cfg, CA_PEM, SERVER, now=NOW)
    assert first["changed"] and tokens.is_valid_token(first["token"])
    secrets = client.list("Secret", "kube-system", field_selector="type=" + C.BOOTSTRAP_TOKEN_SECRET_TYPE)
    assert len(secrets) == 1
    parsed = tokens.parse_token_secret(secrets[0])
    assert parsed["token"] == first["token"] and parsed["usages"] == ["authentication", "signing"]
    assert client.obj("ConfigMap", "cluster-info", "kube-public")
    assert client.obj("RoleBinding", "kubeadm:bootstrap-signer-clusterinfo", "kube-public")
    n = len(client.writes)
    again = bootstraptoken.bootstrap_token(ApiWriter(client), cfg, CA_PEM, SERVER, now=NOW + dt.timedelta(hours=1))
    assert again["changed"] is False and again["token"] == first["token"]
    assert client.writes[n:] == []
    # less than half the TTL left: a fresh token is made
    later = bootstraptoken.bootstrap_token(ApiWriter(client), cfg, CA_PEM, SERVER, now=NOW + dt.timedelta(hours=13))
    assert later["changed"] and later["token"] != first["token"]


def test_bootstrap_token_given_token_and_system_node(client):
    cfg = _cfg()
    cfg.init["bootstrapTokens"] = [{"token": "abcdef.0123456789abcdef", "ttl": "0", "usages": ["authentication"],
                                    "groups": [C.DEFAULT_TOKEN_GROUP], "description": "d"}]
    client.objects["/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/system:node"] = {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "system:node", "resourceVersion": "1"},
        "roleRef": {"apiGroup": G, "kind": "ClusterRole", "name": "system:node"},
        "subjects": [{"apiGroup": G, "kind": "Group", "name": "system:nodes"}]}
    result = bootstraptoken.bootstrap_token(ApiWriter(client), cfg, CA_PEM, SERVER, now=NOW)
    assert result["token"] == "abcdef.0123456789abcdef"
    secret = client.obj("Secret", "bootstrap-token-abcdef", "kube-system")
    data = tokens.secret_strings(secret)
    assert "expiration" not in data and data["description"] == "d"
    assert client.obj("ClusterRoleBinding", "system:node")["subjects"] == []
    assert bootstraptoken.bootstrap_token(ApiWriter(client), cfg, CA_PEM, SERVER, now=NOW)["changed"] is False


def test_upload_config_and_addons_idempotent(client):
    cfg = _cfg("v1.33.2")
    results = [uploadconfig.upload_config_kubeadm(ApiWriter(client), cfg), uploadconfig.upload_config_kubelet(ApiWriter(client), cfg),
               addondns.addon_coredns(ApiWriter(client), cfg), addonproxy.addon_kube_proxy(ApiWriter(client), cfg, SERVER, CA_PEM),
               markcontrolplane.mark_control_plane(ApiWriter(client), cfg, 1)]
    assert all(r["changed"] for r in results)
    node = client.obj("Node", "cp1")
    assert node["metadata"]["labels"] == {"a": "b", C.CONTROL_PLANE_LABEL: "", C.EXCLUDE_LB_LABEL: ""}
    assert node["spec"]["taints"] == [dict(C.CONTROL_PLANE_TAINT)]
    # 1.33: no NodeLocalCRISocket => cri-socket annotation
    assert node["metadata"]["annotations"][C.CRI_SOCKET_ANNOTATION] == C.DEFAULT_CRI_SOCKET
    n = len(client.writes)
    again = [uploadconfig.upload_config_kubeadm(ApiWriter(client), cfg), uploadconfig.upload_config_kubelet(ApiWriter(client), cfg),
             addondns.addon_coredns(ApiWriter(client), cfg), addonproxy.addon_kube_proxy(ApiWriter(client), cfg, SERVER, CA_PEM),
             markcontrolplane.mark_control_plane(ApiWriter(client), cfg, 1)]
    assert [r["changed"] for r in again] == [False] * 5
    assert client.writes[n:] == []


def test_coredns_configmap_is_retained(client):
    cfg = _cfg()
    addondns.addon_coredns(ApiWriter(client), cfg)
    cm = client.obj("ConfigMap", "coredns", "kube-system")
    cm["data"]["Corefile"] = "custom"
    assert addondns.addon_coredns(ApiWriter(client), cfg)["changed"] is False
    assert client.obj("ConfigMap", "coredns", "kube-system")["data"]["Corefile"] == "custom"


def test_coredns_keeps_deployed_replicas_and_updates_default_corefile(client):
    cfg = _cfg()
    addondns.addon_coredns(ApiWriter(client), cfg)
    dep = client.obj("Deployment", "coredns", "kube-system")
    assert dep["spec"]["replicas"] == 2
    dep["spec"]["replicas"] = 5  # scaled by the user: dns.go deployedDNSReplicas keeps it
    cm = client.obj("ConfigMap", "coredns", "kube-system")
    cm["data"]["Corefile"] = addondns.corefile(cfg, cache_options=False)  # an older kubeadm default
    assert addondns.addon_coredns(ApiWriter(client), cfg)["changed"] is True
    assert client.obj("Deployment", "coredns", "kube-system")["spec"]["replicas"] == 5
    assert client.obj("ConfigMap", "coredns", "kube-system")["data"]["Corefile"] == addondns.corefile(cfg)
    assert addondns.addon_coredns(ApiWriter(client), cfg)["changed"] is False


def test_upload_certs_phase(client, rootfs):
    _pki(rootfs)
    cfg = _cfg()
    fs = HostFS(rootfs)
    result = copycerts.upload_certs(ApiWriter(client), cfg, fs, KEY, now=NOW)
    assert result["changed"]
    secret = client.obj("Secret", "kubeadm-certs", "kube-system")
    assert secret["type"] == "Opaque"
    ref = secret["metadata"]["ownerReferences"][0]
    owner = client.obj("Secret", ref["name"], "kube-system")
    assert ref == {"apiVersion": "v1", "kind": "Secret", "name": owner["metadata"]["name"],
                   "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}
    parsed = tokens.parse_token_secret(owner)
    assert parsed["usages"] == [] and parsed["groups"] == []
    assert parsed["description"] == "Proxy for managing TTL for the kubeadm-certs secret"
    assert parsed["expires"] == "2025-03-01T14:00:00Z"
    plain = copycerts.decrypt_certs(secret["data"], KEY)
    assert plain["etcd-ca.key"] == b"content of etcd/ca.key" and len(plain) == 8
    assert client.obj("Role", "kubeadm:kubeadm-certs", "kube-system")
    # rerun: nothing rewritten, no new proxy token
    n = len(client.writes)
    assert copycerts.upload_certs(ApiWriter(client), cfg, fs, KEY, now=NOW + dt.timedelta(minutes=5))["changed"] is False
    assert client.writes[n:] == []
    # a different key or changed file re-uploads
    assert copycerts.upload_certs(ApiWriter(client), cfg, fs, "ab" * 32, now=NOW)["changed"] is True
    with open(os.path.join(rootfs, "etc/kubernetes/pki/sa.pub"), "wb") as handle:
        handle.write(b"new")
    assert copycerts.upload_certs(ApiWriter(client), cfg, fs, "ab" * 32, now=NOW)["changed"] is True


def test_wait_control_plane(client):
    assert waitcontrolplane.wait_control_plane(ApiWriter(client), 1)["healthy"]


def test_ensure_cluster_admins_falls_back_to_super_admin(client):
    class Forbidden(MemClient):
        def request(self, method, path, *a, **kw):
            raise errors.APIError(method, path, 403, "forbidden")
    result = rbac.ensure_cluster_admins(ApiWriter(Forbidden()), ApiWriter(client))
    assert result["changed"] and client.obj("ClusterRoleBinding", "kubeadm:cluster-admins")


def test_kubelet_finalize(rootfs):
    fs, writer = HostFS(rootfs), Writer(HostFS(rootfs))
    cfg = _cfg()
    assert kubelet.kubelet_finalize(cfg, fs, writer)["changed"] is False
    conf = {"apiVersion": "v1", "kind": "Config", "current-context": "system:node:cp1@kubernetes",
            "clusters": [{"name": "kubernetes", "cluster": {"server": SERVER}}],
            "contexts": [{"name": "system:node:cp1@kubernetes",
                          "context": {"cluster": "kubernetes", "user": "system:node:cp1"}}],
            "users": [{"name": "system:node:cp1", "user": {"client-certificate-data": "QQ==",
                                                           "client-key-data": "Qg=="}}]}
    writer.write("/etc/kubernetes/kubelet.conf", yaml.safe_dump(conf), 0o600)
    writer.write(C.KUBELET_CLIENT_CURRENT, "pem", 0o600)
    assert kubelet.kubelet_finalize(cfg, fs, Writer(fs))["changed"] is True
    user = yaml.safe_load(fs.read_text("/etc/kubernetes/kubelet.conf"))["users"][0]["user"]
    assert user == {"client-certificate": C.KUBELET_CLIENT_CURRENT, "client-key": C.KUBELET_CLIENT_CURRENT}
    assert kubelet.kubelet_finalize(cfg, fs, Writer(fs))["changed"] is False


def test_delete_token(client):
    bootstraptoken.ensure_token(ApiWriter(client), BootstrapToken.from_option("abcdef.0123456789abcdef"), now=NOW)
    assert bootstraptoken.delete_token(ApiWriter(client, check_mode=True), "abcdef") is True
    assert bootstraptoken.delete_token(ApiWriter(client), "abcdef.0123456789abcdef") is True
    assert bootstraptoken.delete_token(ApiWriter(client), "abcdef") is False
    with pytest.raises(errors.InvalidValue):
        bootstraptoken.delete_token(ApiWriter(client), "ABC")
