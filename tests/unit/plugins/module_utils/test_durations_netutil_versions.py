from __future__ import annotations

import pytest

from ansible_collections.kubeboot.cluster.plugins.module_utils import durations, netutil, versions
from ansible_collections.kubeboot.cluster.plugins.module_utils.config import sample_init_config
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import InvalidValue


@pytest.mark.parametrize("text, seconds, canonical", [
    ("24h", 86400, "24h0m0s"), ("24h0m0s", 86400, "24h0m0s"), ("90m", 5400, "1h30m0s"),
    ("1.5h", 5400, "1h30m0s"), ("0", 0, "0s"), ("8760h0m0s", 8760 * 3600, "8760h0m0s"), ("45s", 45, "45s"),
])
def test_durations_round_trip_like_go(text, seconds, canonical):
    assert durations.parse_duration(text) == seconds
    assert durations.normalize_duration(text) == canonical


@pytest.mark.parametrize("bad", ["", "1d", "h", "-1h", "10", "1h-5m", "abc", True])
def test_bad_durations_name_the_field(bad):
    with pytest.raises(InvalidValue) as err:
        durations.parse_duration(bad, "token_ttl")
    assert "token_ttl" in str(err.value)


@pytest.mark.parametrize("seconds, text", [(-5, "<invalid>"), (-0.5, "0s"), (59, "59s"), (3599, "59m"),
                                           (7200, "2h"), (86400 * 3, "3d"), (86400 * 800, "2y")])
def test_short_human_duration(seconds, text):
    assert durations.short_human_duration(seconds) == text


def test_netutil_indexes_and_brackets():
    assert netutil.nth_ip("10.96.0.0/12", 10) == "10.96.0.10"
    assert netutil.nth_ip("fd00:10:96::/108,10.96.0.0/12", 1) == "fd00:10:96::1"
    assert netutil.join_host_port("fd00::1", 6443) == "[fd00::1]:6443"
    assert netutil.split_host_port("[fd00::1]:6443") == ("fd00::1", 6443)
    assert netutil.split_host_port("api.example.com", 6443) == ("api.example.com", 6443)
    with pytest.raises(InvalidValue):
        netutil.split_host_port("host:99999")


@pytest.mark.parametrize("label, version", [
    ("stable", "v1.37.0"), ("stable-1", "v1.37.0"), ("stable-1.33", "v1.33.13"), ("stable-1.34", "v1.34.10"),
    ("latest-1.36", "v1.36.3"), ("v1.35.2", "v1.35.2"), ("1.35.2", "v1.35.2"),
])
def test_version_labels_resolve_offline(label, version):
    assert versions.resolve_version(label) == version


@pytest.mark.parametrize("bad", ["stable-1.32", "v1.32.3", "v2.0.0", "stable-2", "newest", "ci/latest", "1.34"])
def test_bad_version_labels(bad):
    with pytest.raises(InvalidValue) as err:
        versions.resolve_version(bad)
    assert "kubernetes_version" in str(err.value) and "1.33-1.37" in str(err.value)


@pytest.mark.parametrize("version, etcd, coredns, pause", [
    ("v1.33.5", "3.5.21-0", "v1.12.0", "3.10"), ("v1.33.13", "3.5.24-0", "v1.12.0", "3.10"),
    ("v1.34.1", "3.6.4-0", "v1.12.1", "3.10.1"), ("v1.34.10", "3.6.5-0", "v1.12.1", "3.10.1"),
    ("v1.36.3", "3.6.8-0", "v1.14.2", "3.10.2"), ("v1.37.0", "3.7.0-0", "v1.14.6", "3.10.2"),
])
def test_image_tags_per_minor(version, etcd, coredns, pause):
    cfg = sample_init_config(version=version)
    imgs = versions.images(cfg)
    assert imgs["etcd"] == f"registry.k8s.io/etcd:{etcd}"
    assert imgs["coredns"] == f"registry.k8s.io/coredns/coredns:{coredns}"
    assert imgs["pause"] == f"registry.k8s.io/pause:{pause}"
    assert imgs["kube-apiserver"] == f"registry.k8s.io/kube-apiserver:{version}"


def test_custom_repository_drops_coredns_subpath():
    cfg = sample_init_config(paths={"cluster.imageRepository": "registry.aliyuncs.com/google_containers"})
    assert versions.images(cfg)["coredns"] == "registry.aliyuncs.com/google_containers/coredns:v1.12.1"
