"""Cluster-wide role settings: kubeboot variables, kubespray aliases, conflicts and unsupported values."""
from __future__ import annotations

import os
import re

import pytest

from ansible_collections.kubeboot.cluster.plugins.module_utils import settings
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import InvalidValue

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))


def test_defaults_without_any_variable():
    assert settings.resolve("kubernetes_version", {}) == "stable-1"
    assert settings.resolve("cni_plugin", {}) == "flannel"
    assert settings.resolve("apiserver_cert_extra_sans", {}) == []


@pytest.mark.parametrize("name, alias, value, expected", [
    ("kubernetes_version", "kube_version", "v1.35.2", "v1.35.2"),
    ("pod_network_cidr", "kube_pods_subnet", "10.233.64.0/18", "10.233.64.0/18"),
    ("service_cidr", "kube_service_addresses", "10.233.0.0/18", "10.233.0.0/18"),
    ("image_repository", "kube_image_repo", "registry.aliyuncs.com/google_containers",
     "registry.aliyuncs.com/google_containers"),
    ("cni_plugin", "kube_network_plugin", "calico", "calico"),
    ("cni_plugin", "kube_network_plugin", "cni", "none"),
    ("container_runtime", "container_manager", "containerd", "containerd"),
    ("control_plane_endpoint", "apiserver_loadbalancer_domain_name", "lb.example.com", "lb.example.com"),
    ("apiserver_cert_extra_sans", "supplementary_addresses_in_ssl_keys", ["10.0.0.1", "api.example.com"],
     ["10.0.0.1", "api.example.com"]),
    ("advertise_address", "ip", "192.0.2.11", "192.0.2.11"),
    ("access_address", "access_ip", "198.51.100.11", "198.51.100.11"),
    ("registry_mirrors", "containerd_registries_mirrors",
     [{"prefix": "docker.io", "mirrors": [{"host": "https://mirror.example.com", "capabilities": ["pull"]}]}],
     {"docker.io": ["https://mirror.example.com"]}),
])
def test_kubespray_names_are_aliases(name, alias, value, expected):
    assert settings.resolve(name, {alias: value}) == expected


def test_our_variable_wins_when_both_agree():
    assert settings.resolve("kubernetes_version", {"kubeboot_kubernetes_version": "v1.36.3",
                                                   "kube_version": "v1.36.3"}) == "v1.36.3"


def test_conflicting_values_name_both_variables():
    with pytest.raises(InvalidValue) as exc:
        settings.resolve("pod_network_cidr", {"kubeboot_pod_network_cidr": "10.244.0.0/16",
                                              "kube_pods_subnet": "10.233.64.0/18"})
    assert "kubeboot_pod_network_cidr" in str(exc.value) and "kube_pods_subnet" in str(exc.value)


@pytest.mark.parametrize("alias, value, allowed", [
    ("kube_network_plugin", "cilium", "calico, cni, flannel, none"),
    ("container_manager", "crio", "containerd"),
    ("kube_version", "v1.20.0", "supported minors 1.33-1.37"),
    ("kube_pods_subnet", "10.233.64.0/99", "CIDR"),
    ("ip", "not-an-ip", "an IP address"),
])
def test_unsupported_values_are_clear_errors(alias, value, allowed):
    name = next(s.name for s in settings.SETTINGS if s.alias == alias)
    with pytest.raises(InvalidValue) as exc:
        settings.resolve(name, {alias: value})
    assert exc.value.field == alias and allowed in str(exc.value)


def test_the_documented_table_is_the_settings_table():
    """docs/kubespray.md lists every setting with its variable, alias and default (and nothing else)."""
    text = open(os.path.join(REPO, "docs", "kubespray.md"), encoding="utf-8").read()
    rows = re.findall(r"^\| `(\w+)` \| `(\w+)` \| (`\w+`|—) \|", text, re.M)
    assert rows == [(s.name, s.variable, f"`{s.alias}`" if s.alias else "—") for s in settings.SETTINGS]


def test_kubernetes_release_lookup_uses_the_version_table():
    from ansible_collections.kubeboot.cluster.plugins.lookup.kubernetes_release import release
    from ansible_collections.kubeboot.cluster.plugins.module_utils import versions
    got = release("stable-1.36", "registry.aliyuncs.com/google_containers")
    assert got["version"] == versions.NEWEST_PATCH[36] and got["minor"] == 36
    assert got["package_version"] == versions.NEWEST_PATCH[36][1:] and got["repository_minor"] == "v1.36"
    assert got["images"]["pause"] == "registry.aliyuncs.com/google_containers/pause:" + versions.BY_MINOR[36].pause
    assert release("v1.34.2", "registry.k8s.io")["images"]["coredns"] == \
        "registry.k8s.io/coredns/coredns:" + versions.BY_MINOR[34].coredns
