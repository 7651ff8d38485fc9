"""containerruntime.py: which tool pulls (crictl, else ctr for containerd), the command lines it
runs, only missing images pulled, and the exact reason when nothing can pull."""
from __future__ import annotations

import subprocess

import pytest

from ansible_collections.kubeboot.cluster.plugins.module_utils import containerruntime, errors

CONTAINERD = "unix:///run/containerd/containerd.sock"
CRIO = "unix:///var/run/crio/crio.sock"


class FakeTool:
    """Records argv; `have` is what the runtime holds already."""

    def __init__(self, have=()):
        self.have, self.calls = set(have), []

    def __call__(self, argv, **kwargs):
        self.calls.append(argv)
        image = argv[-1].replace("name==", "")
        if "inspecti" in argv:
            return subprocess.CompletedProcess(argv, 0 if image in self.have else 1, "", "not found")
        if "ls" in argv:
            return subprocess.CompletedProcess(argv, 0, image + "\n" if image in self.have else "", "")
        self.have.add(image)
        return subprocess.CompletedProcess(argv, 0, "Image is up to date", "")


def _which(*tools):
    return lambda name, path=None: f"/usr/bin/{name}" if name in tools else None


def test_crictl_pulls_only_what_is_missing():
    fake = FakeTool(have=["registry.k8s.io/pause:3.10.1"])
    runtime = containerruntime.connect(CRIO, which=_which("crictl", "ctr"), socket_exists=lambda p: True, run=fake)
    assert runtime.tool == "crictl"
    result = containerruntime.pull_missing(runtime, ["registry.k8s.io/pause:3.10.1", "registry.k8s.io/etcd:3.6.5-0"])
    assert result == {"pulled": ["registry.k8s.io/etcd:3.6.5-0"], "present": ["registry.k8s.io/pause:3.10.1"]}
    assert ["/usr/bin/crictl", "--runtime-endpoint", CRIO, "pull", "registry.k8s.io/etcd:3.6.5-0"] in fake.calls
    again = containerruntime.pull_missing(runtime, ["registry.k8s.io/etcd:3.6.5-0"])
    assert again["pulled"] == []


def test_ctr_in_containerds_k8s_namespace_and_check_mode():
    fake = FakeTool()
    runtime = containerruntime.connect(CONTAINERD, which=_which("ctr"), socket_exists=lambda p: True, run=fake)
    assert runtime.tool == "ctr"
    result = containerruntime.pull_missing(runtime, ["registry.k8s.io/pause:3.10.1"], check_mode=True)
    assert result["pulled"] == ["registry.k8s.io/pause:3.10.1"]
    assert all("pull" not in argv for argv in fake.calls), "check mode pulled"
    containerruntime.pull_missing(runtime, ["registry.k8s.io/pause:3.10.1"])
    assert ["/usr/bin/ctr", "--address", "/run/containerd/containerd.sock", "--namespace", "k8s.io", "images",
            "pull", "registry.k8s.io/pause:3.10.1"] in fake.calls


def test_ctr_cannot_pull_for_another_runtime():
    with pytest.raises(errors.KubebootError) as exc:
        containerruntime.connect(CRIO, which=_which("ctr"), socket_exists=lambda p: True)
    assert "gRPC" in str(exc.value) and "crictl" in str(exc.value)


def test_no_runtime_no_tool():
    with pytest.raises(errors.KubebootError) as exc:
        containerruntime.connect(CONTAINERD, which=_which("crictl"), socket_exists=lambda p: False)
    assert "/run/containerd/containerd.sock" in str(exc.value)
    with pytest.raises(errors.KubebootError) as exc:
        containerruntime.connect("tcp://10.0.0.1:1234", which=_which("crictl"), socket_exists=lambda p: True)
    assert "unix://" in str(exc.value)


def test_a_failed_pull_says_why():
    def failing(argv, **kwargs):
        if "pull" in argv:
            return subprocess.CompletedProcess(argv, 1, "", "E1202 pull failed\nrpc error: not found")
        return subprocess.CompletedProcess(argv, 1, "", "")
    runtime = containerruntime.connect(CRIO, which=_which("crictl"), socket_exists=lambda p: True, run=failing)
    with pytest.raises(errors.KubebootError) as exc:
        containerruntime.pull_missing(runtime, ["registry.k8s.io/nope:1"])
    assert "registry.k8s.io/nope:1" in str(exc.value) and "rpc error: not found" in str(exc.value)
