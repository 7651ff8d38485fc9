"""addondns.py: the CoreDNS objects per minor, a retained Corefile, kept replicas."""
from __future__ import annotations

import pytest

from ansible_collections.kubeboot.cluster.plugins.module_utils import addondns
from ansible_collections.kubeboot.cluster.plugins.module_utils.apiwriter import ApiWriter
from ansible_collections.kubeboot.cluster.plugins.module_utils.config import sample_init_config
from tests.support.memclient import MemClient


def _cfg(version="v1.34.10", **paths):
    paths.setdefault("cluster.networking.podSubnet", "10.244.0.0/16")
    return sample_init_config(version=version, paths=paths)


@pytest.fixture
def client():
    return MemClient.with_node("cp1")


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
