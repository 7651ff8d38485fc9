"""addonproxy.py: the KubeProxyConfiguration kubeadm marshals, the ConfigMap and the DaemonSet."""
from __future__ import annotations

import yaml

from ansible_collections.kubeboot.cluster.plugins.module_utils import addonproxy
from ansible_collections.kubeboot.cluster.plugins.module_utils.config import sample_init_config


def _cfg(version="v1.34.10", **paths):
    paths.setdefault("cluster.networking.podSubnet", "10.244.0.0/16")
    return sample_init_config(version=version, paths=paths)


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
