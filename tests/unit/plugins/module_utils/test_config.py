# -*- coding: utf-8 -*-
"""config.py: kubeadm init configuration = file, then module options, then defaults; validated."""
from __future__ import annotations

import textwrap

import pytest
import yaml

from ansible_collections.kubeboot.cluster.plugins.module_utils import kubeadmconfig
from ansible_collections.kubeboot.cluster.plugins.module_utils import config, netutil, versions
from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import ConfigError
from ansible_collections.kubeboot.cluster.plugins.module_utils.files import HostFS

ADDR = "192.0.2.10"


def build(**params):
    params.setdefault("apiserver_advertise_address", ADDR)
    params.setdefault("node_name", "cp1")
    return config.build_init_config(params, HostFS("/"))


def write(tmp_path, text, name="kubeadm.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


V1BETA4 = """\
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
bootstrapTokens:
- token: "9a08jv.c0izixklcxtmnze7"
  description: "kubeadm bootstrap token"
  ttl: "24h"
nodeRegistration:
  name: "ec2-10-100-0-1"
  criSocket: "unix:///var/run/containerd/containerd.sock"
  taints:
  - key: "kubeadmNode"
    value: "someValue"
    effect: "NoSchedule"
  kubeletExtraArgs:
  - name: v
    value: "5"
  ignorePreflightErrors:
  - IsPrivilegedUser
  imagePullPolicy: "IfNotPresent"
localAPIEndpoint:
  advertiseAddress: "10.100.0.1"
  bindPort: 6443
certificateKey: "e6a2eb8581237ab72a4f494f30285ec12a9694d750b9785706a83bfcbbbd2204"
skipPhases:
- addon/kube-proxy
timeouts:
  controlPlaneComponentHealthCheck: 60s
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
etcd:
  local:
    imageRepository: "registry.k8s.io"
    imageTag: "3.2.24"
    dataDir: "/var/lib/etcd"
    extraArgs:
    - name: listen-client-urls
      value: "http://10.100.0.1:2379"
    serverCertSANs:
    - "ec2-10-100-0-1.compute-1.amazonaws.com"
    peerCertSANs:
    - "10.100.0.1"
networking:
  serviceSubnet: "10.96.0.0/16"
  podSubnet: "10.244.0.0/24"
  dnsDomain: "cluster.local"
kubernetesVersion: "v1.34.2"
controlPlaneEndpoint: "10.100.0.1:6443"
apiServer:
  extraArgs:
  - name: authorization-mode
    value: "Node,RBAC"
  - name: enable-admission-plugins
    value: NodeRestriction
  extraVolumes:
  - name: "some-volume"
    hostPath: "/etc/some-path"
    mountPath: "/etc/some-pod-path"
    readOnly: false
    pathType: File
  certSANs:
  - "10.100.1.1"
  - "ec2-10-100-0-1.compute-1.amazonaws.com"
controllerManager:
  extraArgs:
  - name: node-cidr-mask-size
    value: "28"
scheduler:
  extraArgs:
  - name: bind-address
    value: "10.100.0.1"
certificatesDir: "/etc/kubernetes/pki"
imageRepository: "registry.k8s.io"
clusterName: "example-cluster"
encryptionAlgorithm: ECDSA-P256
featureGates:
  NodeLocalCRISocket: false
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: systemd
maxPods: 50
---
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: ipvs
"""

V1BETA3 = """\
apiVersion: kubeadm.k8s.io/v1beta3
kind: InitConfiguration
nodeRegistration:
  kubeletExtraArgs:
    node-ip: 10.0.0.5
    cgroup-driver: systemd
---
apiVersion: kubeadm.k8s.io/v1beta3
kind: ClusterConfiguration
kubernetesVersion: v1.33.4
apiServer:
  timeoutForControlPlane: 6m
  extraArgs:
    service-node-port-range: "30000-32767"
    audit-log-maxage: "30"
controllerManager:
  extraArgs:
    bind-address: 0.0.0.0
etcd:
  local:
    extraArgs:
      election-timeout: "1500"
"""


# --- defaults -------------------------------------------------------------------

def test_defaults_match_kubeadm(monkeypatch):
    monkeypatch.setattr(config.socket, "gethostname", lambda: "Node-A.Example")
    cfg = config.build_init_config({"apiserver_advertise_address": ADDR}, HostFS("/"))
    assert cfg.node_name == "node-a.example"
    assert cfg.version == versions.resolve_version("stable-1")
    assert cfg.cluster["networking"] == {"serviceSubnet": "10.96.0.0/12", "podSubnet": "",
                                         "dnsDomain": "cluster.local"}
    assert cfg.cluster["controlPlaneEndpoint"] == ""
    assert cfg.cluster["etcd"]["local"]["dataDir"] == "/var/lib/etcd"
    assert cfg.cluster["certificateValidityPeriod"] == "8760h0m0s"
    assert cfg.cluster["caCertificateValidityPeriod"] == "87600h0m0s"
    assert cfg.cluster["encryptionAlgorithm"] == "RSA-2048"
    token = cfg.init["bootstrapTokens"][0]
    assert token == {"token": "", "ttl": "24h0m0s", "usages": ["signing", "authentication"],
                     "groups": ["system:bootstrappers:kubeadm:default-node-token"]}
    reg = cfg.init["nodeRegistration"]
    assert reg["criSocket"] == "unix:///var/run/containerd/containerd.sock"
    assert reg["taints"] is None and reg["imagePullPolicy"] == "IfNotPresent"
    assert cfg.init["localAPIEndpoint"] == {"advertiseAddress": ADDR, "bindPort": 6443}
    assert cfg.init["timeouts"]["controlPlaneComponentHealthCheck"] == "4m0s"
    assert cfg.kubelet == {} and cfg.kube_proxy == {} and cfg.warnings == []


def test_unspecified_advertise_address_uses_default_route(monkeypatch):
    monkeypatch.setattr(netutil, "default_route_address", lambda: "198.51.100.7")
    assert build(apiserver_advertise_address="0.0.0.0").advertise_address == "198.51.100.7"
    assert build(apiserver_advertise_address="").advertise_address == "198.51.100.7"


def test_options_fill_their_fields():
    cfg = build(kubernetes_version="stable-1.33", pod_network_cidr="10.244.0.0/16",
                apiserver_cert_extra_sans="lb.example.com,10.0.0.100", token="abcdef.0123456789abcdef",
                token_ttl="0", dry_run=True, skip_phases=["addon/kube-proxy"],
                certificate_key="a" * 64, control_plane_endpoint="lb.example.com:6443",
                feature_gates="NodeLocalCRISocket=true", ignore_preflight_errors=["NumCPU", "Mem"],
                cri_socket="/run/containerd/containerd.sock", apiserver_bind_port=8443,
                upload_certs=True)
    assert cfg.version.startswith("v1.33.")
    assert cfg.cluster["networking"]["podSubnet"] == "10.244.0.0/16"
    assert cfg.cluster["apiServer"]["certSANs"] == ["lb.example.com", "10.0.0.100"]
    assert cfg.init["bootstrapTokens"][0]["token"] == "abcdef.0123456789abcdef"
    assert cfg.init["bootstrapTokens"][0]["ttl"] == "0s"
    assert cfg.init["dryRun"] is True and cfg.init["skipPhases"] == ["addon/kube-proxy"]
    assert cfg.init["certificateKey"] == "a" * 64 and cfg.bind_port == 8443
    assert cfg.feature_enabled("NodeLocalCRISocket") is True
    assert cfg.init["nodeRegistration"]["ignorePreflightErrors"] == ["mem", "numcpu"]
    assert cfg.init["nodeRegistration"]["criSocket"] == "unix:///run/containerd/containerd.sock"
    assert any("no URL scheme" in w for w in cfg.warnings)
    assert cfg.options["upload_certs"] is True


def test_feature_gate_defaults_follow_minor():
    assert build(kubernetes_version="v1.33.1").feature_enabled("NodeLocalCRISocket") is False
    assert build(kubernetes_version="v1.34.1").feature_enabled("NodeLocalCRISocket") is True
    # removed after GA: behaviour stays on
    assert build(kubernetes_version="v1.37.0").feature_enabled("ControlPlaneKubeletLocalMode") is True
    assert build(kubernetes_version="v1.34.1").feature_enabled("RootlessControlPlane") is False


# --- config files ----------------------------------------------------------------

def test_v1beta4_file_accepted_as_is(tmp_path):
    cfg = build(config=write(tmp_path, V1BETA4), node_name=None, apiserver_advertise_address=None)
    assert cfg.version == "v1.34.2" and cfg.node_name == "ec2-10-100-0-1"
    assert cfg.advertise_address == "10.100.0.1"
    assert cfg.cluster["apiServer"]["extraArgs"] == [
        {"name": "authorization-mode", "value": "Node,RBAC"},
        {"name": "enable-admission-plugins", "value": "NodeRestriction"}]
    assert cfg.cluster["apiServer"]["extraVolumes"][0]["pathType"] == "File"
    assert cfg.cluster["etcd"]["local"]["extraArgs"] == [
        {"name": "listen-client-urls", "value": "http://10.100.0.1:2379"}]
    assert cfg.cluster["etcd"]["local"]["imageTag"] == "3.2.24"
    assert cfg.init["nodeRegistration"]["kubeletExtraArgs"] == [{"name": "v", "value": "5"}]
    assert cfg.init["nodeRegistration"]["taints"][0]["key"] == "kubeadmNode"
    assert cfg.init["nodeRegistration"]["ignorePreflightErrors"] == ["isprivilegeduser"]
    assert cfg.init["bootstrapTokens"][0] == {
        "token": "9a08jv.c0izixklcxtmnze7", "description": "kubeadm bootstrap token", "ttl": "24h0m0s",
        "usages": ["signing", "authentication"], "groups": [C.DEFAULT_TOKEN_GROUP]}
    assert cfg.init["timeouts"]["controlPlaneComponentHealthCheck"] == "1m0s"
    assert cfg.init["timeouts"]["discovery"] == "5m0s"  # defaulted beside the user's value
    assert cfg.cluster["clusterName"] == "example-cluster"
    assert cfg.feature_enabled("NodeLocalCRISocket") is False
    assert cfg.kubelet["maxPods"] == 50 and cfg.kube_proxy["mode"] == "ipvs"
    assert cfg.warnings == []


def test_v1beta3_file_converted(tmp_path):
    cfg = build(config=write(tmp_path, V1BETA3))
    assert cfg.cluster["apiVersion"] == C.KUBEADM_API_V1BETA4
    assert cfg.cluster["apiServer"]["extraArgs"] == [
        {"name": "audit-log-maxage", "value": "30"},
        {"name": "service-node-port-range", "value": "30000-32767"}]
    assert cfg.cluster["controllerManager"]["extraArgs"] == [{"name": "bind-address", "value": "0.0.0.0"}]
    assert cfg.cluster["etcd"]["local"]["extraArgs"] == [{"name": "election-timeout", "value": "1500"}]
    assert "timeoutForControlPlane" not in cfg.cluster["apiServer"]
    assert cfg.init["timeouts"]["controlPlaneComponentHealthCheck"] == "6m0s"
    assert cfg.init["nodeRegistration"]["kubeletExtraArgs"] == [
        {"name": "cgroup-driver", "value": "systemd"}, {"name": "node-ip", "value": "10.0.0.5"}]
    assert any("v1beta3" in w for w in cfg.warnings)


def test_v1beta3_join_discovery_timeout_moves():
    doc, moved = kubeadmconfig.convert_v1beta3("JoinConfiguration", {
        "apiVersion": C.KUBEADM_API_V1BETA3, "kind": "JoinConfiguration",
        "discovery": {"timeout": "10m", "bootstrapToken": {"token": "abcdef.0123456789abcdef"}}})
    assert doc["timeouts"]["discovery"] == "10m0s" and "timeout" not in doc["discovery"]
    assert moved == {}


def test_v1beta3_rejected_for_1_37(tmp_path):
    path = write(tmp_path, V1BETA3.replace("v1.33.4", "v1.37.0"))
    with pytest.raises(ConfigError, match="v1beta3 was removed in kubeadm 1.37"):
        build(config=path)


def test_option_overrides_file_with_warning(tmp_path):
    cfg = build(config=write(tmp_path, V1BETA4), service_cidr="10.112.0.0/12",
                feature_gates={"NodeLocalCRISocket": "true"})
    assert cfg.cluster["networking"]["serviceSubnet"] == "10.112.0.0/12"
    assert cfg.feature_enabled("NodeLocalCRISocket") is True
    assert any("service_cidr" in w and "10.96.0.0/16" in w for w in cfg.warnings)
    assert any("feature_gates" in w for w in cfg.warnings)
    # options equal to the file are silent; file values not overridden stay
    cfg = build(config=write(tmp_path, V1BETA4), service_cidr="10.96.0.0/16")
    assert not any("service_cidr" in w for w in cfg.warnings)
    assert cfg.cluster["networking"]["podSubnet"] == "10.244.0.0/24"


def test_false_dry_run_option_keeps_file_value(tmp_path):
    path = write(tmp_path, "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\ndryRun: true\n")
    cfg = build(config=path, dry_run=False)
    assert cfg.init["dryRun"] is True and cfg.warnings == []


def test_ignore_preflight_errors_merge_option_and_file(tmp_path):
    cfg = build(config=write(tmp_path, V1BETA4), ignore_preflight_errors="Swap")
    assert cfg.init["nodeRegistration"]["ignorePreflightErrors"] == ["isprivilegeduser", "swap"]


def test_external_etcd_gets_no_local_defaults(tmp_path):
    path = write(tmp_path, """\
        apiVersion: kubeadm.k8s.io/v1beta4
        kind: ClusterConfiguration
        kubernetesVersion: v1.35.0
        etcd:
          external:
            endpoints: ["https://10.0.0.2:2379"]
            caFile: /etc/etcd/ca.crt
            certFile: /etc/etcd/client.crt
            keyFile: /etc/etcd/client.key
        """)
    cfg = build(config=path)
    assert not cfg.local_etcd and "local" not in cfg.cluster["etcd"]


@pytest.mark.parametrize("text, expected", [
    ("apiVersion: kubeadm.k8s.io/v1beta2\nkind: InitConfiguration\n", "document 1"),
    ("apiVersion: kubeadm.k8s.io/v1beta4\nkind: Foo\n", "kind 'Foo'"),
    ("apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\n---\n- a\n", "document 2 must be a YAML mapping"),
    ("apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nnetworking: [\n", "line 4"),
    ("apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\napiServer:\n  extraArgs:\n    a: b\n",
     "v1beta3 form"),
])
def test_bad_config_files(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        build(config=path)
    assert err.value.field == "config" or "extraArgs" in err.value.field
    assert expected in str(err.value)
    if err.value.field == "config":
        assert path in str(err.value)


def test_unreadable_config_file(tmp_path):
    missing = str(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="nope.yaml"):
        build(config=missing)


# --- validation ---------------------------------------------------------------------

@pytest.mark.parametrize("params, field, value", [
    ({"pod_network_cidr": "10.244.0.0/33"}, "pod_network_cidr", "10.244.0.0/33"),
    ({"service_cidr": "10.96.0.1/12"}, "service_cidr", "10.96.0.1/12"),
    ({"pod_network_cidr": "10.96.0.0/16"}, "pod_network_cidr", "10.96.0.0/16"),  # overlaps services
    ({"service_cidr": "10.0.0.0/8"}, "service_cidr", "10.0.0.0/8"),
    ({"service_cidr": "fd00::/100"}, "service_cidr", "fd00::/100"),
    ({"service_cidr": "10.96.0.0/29"}, "service_cidr", "10.96.0.0/29"),
    ({"service_cidr": "10.96.0.0/16,10.97.0.0/16"}, "service_cidr", "10.96.0.0/16,10.97.0.0/16"),
    ({"token": "abcdef.0123456789ABCDEF"}, "token", "<hidden>"),  # secrets never repeated
    ({"token_ttl": "1 day"}, "token_ttl", "1 day"),
    ({"certificate_validity_period": "-5h"}, "certificate_validity_period", "-5h"),
    ({"kubernetes_version": "v1.32.5"}, "kubernetes_version", "v1.32.5"),
    ({"kubernetes_version": "banana"}, "kubernetes_version", "banana"),
    ({"feature_gates": {"EtcdLearnerMode": True}}, "feature_gates", "EtcdLearnerMode"),
    ({"feature_gates": "NodeLocalCRISocket=maybe"}, "feature_gates", "NodeLocalCRISocket=maybe"),
    ({"feature_gates": "NodeLocalCRISocket"}, "feature_gates", "NodeLocalCRISocket"),
    ({"apiserver_cert_extra_sans": ["ok.example.com", "bad_name!"]}, "apiserver_cert_extra_sans", "bad_name!"),
    ({"apiserver_cert_extra_sans": ["*.*.example.com"]}, "apiserver_cert_extra_sans", "*.*.example.com"),
    ({"apiserver_bind_port": 0}, "apiserver_bind_port", 0),
    ({"apiserver_bind_port": 70000}, "apiserver_bind_port", 70000),
    ({"apiserver_advertise_address": "10.0.0.300"}, "apiserver_advertise_address", "10.0.0.300"),
    ({"encryption_algorithm": "RSA-1024"}, "encryption_algorithm", "RSA-1024"),
    ({"encryption_algorithm": "ECDSA-P384", "kubernetes_version": "v1.33.2"}, "encryption_algorithm", "ECDSA-P384"),
    ({"certificate_key": "abc123"}, "certificate_key", "<hidden>"),
    ({"certificate_key": "g" * 64}, "certificate_key", "<hidden>"),
    ({"node_name": "cp_1"}, "node_name", "cp_1"),
    ({"ignore_preflight_errors": ["all", "NumCPU"]}, "ignore_preflight_errors", ["all", "numcpu"]),
    ({"control_plane_endpoint": "lb.example.com:99999"}, "control_plane_endpoint", "lb.example.com:99999"),
    ({"service_dns_domain": "Cluster_Local"}, "service_dns_domain", "Cluster_Local"),
    ({"cri_socket": "tcp://10.0.0.1:1234"}, "cri_socket", "tcp://10.0.0.1:1234"),
])
def test_bad_options_raise_config_error(params, field, value):
    with pytest.raises(ConfigError) as err:
        build(**params)
    assert err.value.field == field
    assert err.value.value == value
    assert repr(value) in str(err.value)


def test_ecdsa_p384_allowed_from_1_34():
    assert build(encryption_algorithm="ECDSA-P384", kubernetes_version="v1.34.1").cluster[
        "encryptionAlgorithm"] == "ECDSA-P384"


def test_unknown_feature_gate_lists_allowed_gates():
    with pytest.raises(ConfigError) as err:
        build(kubernetes_version="v1.34.1", feature_gates={"EtcdLearnerMode": True})
    assert "NodeLocalCRISocket" in err.value.allowed
    assert "ControlPlaneKubeletLocalMode" in err.value.allowed
    # removed gates are refused on the minors where kubeadm no longer has them
    with pytest.raises(ConfigError, match="WaitForAllControlPlaneComponents"):
        build(kubernetes_version="v1.35.0", feature_gates={"WaitForAllControlPlaneComponents": True})
    with pytest.raises(ConfigError, match="PublicKeysECDSA"):
        build(kubernetes_version="v1.37.0", feature_gates={"PublicKeysECDSA": True})


def test_ga_gate_is_locked():
    with pytest.raises(ConfigError, match="locked to true"):
        build(kubernetes_version="v1.34.1", feature_gates={"WaitForAllControlPlaneComponents": False})


@pytest.mark.parametrize("sock", ["unix:///var/run/dockershim.sock", "/var/run/dockershim.sock",
                                  "unix:///run/custom/dockershim/x.sock"])
def test_dockershim_refused_with_migration_hint(sock):
    with pytest.raises(ConfigError) as err:
        build(cri_socket=sock)
    msg = str(err.value)
    assert err.value.field == "cri_socket"
    assert "removed in Kubernetes 1.24" in msg
    assert "unix:///var/run/containerd/containerd.sock" in msg
    assert "unix:///var/run/cri-dockerd.sock" in msg


def test_file_value_errors_name_config_path(tmp_path):
    path = write(tmp_path, V1BETA4.replace('podSubnet: "10.244.0.0/24"', 'podSubnet: "10.96.5.0/24"'))
    with pytest.raises(ConfigError) as err:
        build(config=path)
    assert err.value.field == "networking.podSubnet"
    path = write(tmp_path, V1BETA4.replace("NodeLocalCRISocket: false", "NoSuchGate: true"))
    with pytest.raises(ConfigError) as err:
        build(config=path)
    assert err.value.field == "featureGates" and err.value.value == "NoSuchGate"
    path = write(tmp_path, V1BETA4.replace('- "10.100.1.1"', '- "not a san"'))
    with pytest.raises(ConfigError) as err:
        build(config=path)
    assert err.value.field == "apiServer.certSANs" and err.value.value == "not a san"


def test_wildcard_and_ip_sans_accepted():
    cfg = build(apiserver_cert_extra_sans=["*.apps.example.com", "2001:db8::1", "k8s.local"])
    assert cfg.cluster["apiServer"]["certSANs"] == ["*.apps.example.com", "2001:db8::1", "k8s.local"]


# --- output documents ---------------------------------------------------------------

def test_cluster_configuration_document_has_no_node_data(tmp_path):
    cfg = build(config=write(tmp_path, V1BETA4))
    doc = config.cluster_configuration_document(cfg)
    assert doc["kind"] == "ClusterConfiguration" and doc["apiVersion"] == C.KUBEADM_API_V1BETA4
    assert doc["kubernetesVersion"] == "v1.34.2"
    text = yaml.safe_dump(doc)
    for node_data in ("bootstrapTokens", "nodeRegistration", "localAPIEndpoint", "certificateKey",
                      "9a08jv", "ec2-10-100-0-1\n"):
        assert node_data not in text
    # omitempty like kubeadm: no empty lists / empty feature gate map
    plain = config.cluster_configuration_document(build())
    assert plain["dns"] == {} and "featureGates" not in plain and "controlPlaneEndpoint" not in plain
    assert plain["etcd"] == {"local": {"dataDir": "/var/lib/etcd"}}


def test_to_yaml_documents_round_trips(tmp_path):
    cfg = build(config=write(tmp_path, V1BETA4))
    text = config.to_yaml_documents(cfg)
    docs = list(yaml.safe_load_all(text))
    assert [d["kind"] for d in docs] == ["InitConfiguration", "ClusterConfiguration",
                                         "KubeletConfiguration", "KubeProxyConfiguration"]
    again = build(config=write(tmp_path, text, "again.yaml"))
    # omitempty drops `readOnly: false`, which means the same
    cfg.cluster["apiServer"]["extraVolumes"][0].pop("readOnly")
    assert again.init == cfg.init and again.cluster == cfg.cluster
    assert again.cluster["featureGates"] == {"NodeLocalCRISocket": False}
    assert again.kubelet == cfg.kubelet


def test_empty_taints_survive_output(tmp_path):
    path = write(tmp_path, "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\n"
                           "nodeRegistration:\n  taints: []\n")
    cfg = build(config=path)
    assert cfg.init["nodeRegistration"]["taints"] == []
    init_doc = next(yaml.safe_load_all(config.to_yaml_documents(cfg)))
    assert init_doc["nodeRegistration"]["taints"] == []
    assert next(yaml.safe_load_all(config.to_yaml_documents(build())))["nodeRegistration"]["taints"] is None


def test_sample_init_config_still_works():
    cfg = config.sample_init_config(paths={"cluster.networking.podSubnet": "10.244.0.0/16"})
    assert cfg.minor == 34 and cfg.cluster["networking"]["podSubnet"] == "10.244.0.0/16"
    assert cfg.feature_enabled("NodeLocalCRISocket") is True
    assert cfg.feature_enabled("RootlessControlPlane", True) is True


# --- config_documents: kubeadm documents given inline ----------------------------------------------

def test_inline_documents_merge_over_the_file_by_kind(tmp_path):
    """The roles pass taints, node-ip and the user's extra config inline; a file still works beside it."""
    inline = {"InitConfiguration": {"nodeRegistration": {"taints": [], "kubeletExtraArgs": [
                  {"name": "node-ip", "value": "192.0.2.77"}]}},
              "ClusterConfiguration": {"networking": {"podSubnet": "10.32.0.0/16"}},
              "KubeletConfiguration": {"maxPods": 50}}
    cfg = build(config=write(tmp_path, V1BETA4), config_documents=inline)
    assert cfg.init["nodeRegistration"]["taints"] == []
    assert cfg.init["nodeRegistration"]["kubeletExtraArgs"] == [{"name": "node-ip", "value": "192.0.2.77"}]
    assert cfg.init["nodeRegistration"]["criSocket"] == "unix:///var/run/containerd/containerd.sock"  # file
    assert cfg.cluster["networking"]["podSubnet"] == "10.32.0.0/16"
    assert cfg.kubelet == {"apiVersion": C.KUBELET_API, "kind": "KubeletConfiguration", "maxPods": 50,
                           "cgroupDriver": "systemd"}  # merged over the file's document
    alone = build(config_documents=[{"apiVersion": C.KUBEADM_API_V1BETA4, "kind": "ClusterConfiguration",
                                     "networking": {"serviceSubnet": "10.112.0.0/12"}}])
    assert alone.cluster["networking"]["serviceSubnet"] == "10.112.0.0/12"
    text = build(config_documents="kind: InitConfiguration\nnodeRegistration:\n  taints: []\n")
    assert text.init["nodeRegistration"]["taints"] == []


@pytest.mark.parametrize("value, expected", [
    (["not a mapping"], "document 1"),
    ({"FooConfiguration": {}}, "kind 'FooConfiguration'"),
    (5, "a list of kubeadm config documents"),
    ("kind: [", "valid YAML"),
])
def test_bad_inline_documents_name_the_option(value, expected):
    with pytest.raises(ConfigError) as err:
        build(config_documents=value)
    assert err.value.field == "config_documents" and expected in str(err.value)
