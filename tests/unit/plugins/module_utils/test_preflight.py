from __future__ import annotations

import socket

import pytest

from ansible_collections.kubeboot.cluster.plugins.module_utils import preflight
from ansible_collections.kubeboot.cluster.plugins.module_utils.config import sample_init_config
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import PreflightError
from ansible_collections.kubeboot.cluster.plugins.module_utils.files import HostFS, Writer


def names(checks):
    return [c.name for c in checks]


def test_init_checks_carry_kubeadm_names():
    checks = preflight.init_checks(sample_init_config(), HostFS("/"))
    got = names(checks)
    for expected in ("IsPrivilegedUser", "NumCPU", "Mem", "Port-6443", "Port-10259", "Port-10257",
                     "FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml",
                     "FileAvailable--etc-kubernetes-manifests-etcd.yaml", "HTTPProxy",
                     "FileContent--proc-sys-net-ipv4-ip_forward", "Port-2379", "Port-2380",
                     "DirAvailable--var-lib-etcd", "Swap", "FileExisting-cp", "FileExisting-losetup",
                     "FileExisting-mount", "Port-10250", "CRI", "Service-Kubelet", "Firewalld",
                     "HTTPProxyCIDR"):
        assert expected in got


def test_busy_port_fails_and_can_be_ignored():
    sock = socket.socket()
    sock.bind(("", 0))
    sock.listen()
    port = sock.getsockname()[1]
    try:
        check = preflight.check_port(port, owned_by_us=False)
        assert check.failed and check.name == f"Port-{port}"
        with pytest.raises(PreflightError) as err:
            preflight.evaluate([check], [])
        assert f"Port-{port}" in str(err.value) and "ignore_preflight_errors" in str(err.value)
        report = preflight.evaluate([check], [f"port-{port}"])  # case-insensitive like kubeadm
        assert report["ignored"] and not report["errors"]
        assert preflight.evaluate([check], ["all"])["ignored"]
        assert not preflight.check_port(port, owned_by_us=True).failed
    finally:
        sock.close()


def test_non_empty_etcd_dir_is_an_error_unless_ours(tmp_path):
    fs = HostFS(str(tmp_path))
    Writer(fs).write("/var/lib/etcd/member/x", "1", 0o600)
    assert preflight.check_dir_available(fs, "/var/lib/etcd", ours=False).failed
    assert not preflight.check_dir_available(fs, "/var/lib/etcd", ours=True).failed


def test_missing_binary_under_rootfs(tmp_path):
    check = preflight.check_executable("losetup", HostFS(str(tmp_path)))
    assert check.failed and check.name == "FileExisting-losetup"


def test_warnings_never_fail():
    warn = preflight.Check("Swap", preflight.WARNING, "swap on")
    assert preflight.evaluate([warn], [])["warnings"] == ["[Swap] swap on"]


def test_rootfs_runs_only_tree_checks(tmp_path):
    got = names(preflight.init_checks(sample_init_config(), HostFS(str(tmp_path))))
    assert "FileExisting-cp" in got and "DirAvailable--var-lib-etcd" in got
    assert not any(n.startswith("Port-") or n in ("NumCPU", "Mem", "Swap") for n in got)


def test_cri_socket_states(tmp_path):
    missing = preflight.check_cri(f"unix://{tmp_path}/nope.sock")
    assert missing.severity == preflight.WARNING and missing.failed
    dead = tmp_path / "dead.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(dead))
    server.close()  # the file stays, nobody listens: connection refused
    refused = preflight.check_cri(f"unix://{dead}")
    assert refused.severity == preflight.ERROR and "not running" in refused.message
    live = tmp_path / "live.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(live))
    server.listen()
    try:
        assert not preflight.check_cri(f"unix://{live}").failed
    finally:
        server.close()


def test_kubelet_service_enabled_under_rootfs(tmp_path):
    fs = HostFS(str(tmp_path))
    assert preflight.check_kubelet_service(fs).failed
    Writer(fs).write("/etc/systemd/system/multi-user.target.wants/kubelet.service", "[Unit]\n", 0o644)
    assert not preflight.check_kubelet_service(fs).failed


def test_http_proxy_cidr(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.delenv("https_proxy", raising=False)
    monkeypatch.setenv("NO_PROXY", "localhost,10.96.0.0/12")
    monkeypatch.delenv("no_proxy", raising=False)
    assert not preflight.check_http_proxy_cidr("10.96.0.0/12").failed
    check = preflight.check_http_proxy_cidr("10.244.0.0/16")
    assert check.failed and check.name == "HTTPProxyCIDR" and check.severity == preflight.WARNING
    monkeypatch.delenv("HTTPS_PROXY")
    assert not preflight.check_http_proxy_cidr("10.244.0.0/16").failed


def test_kubelet_port_and_service_are_common_checks():
    got = names(preflight.common_checks(HostFS("/")))
    assert {"CRI", "Port-10250", "Service-Kubelet", "Swap"} <= set(got)
