"""Kubelet files: config.yaml, kubeadm-flags.env, instance-config.yaml and the systemd drop-in.

Independent checks: the config.yaml a real `kubeadm init` wrote on a node (public
output, pasted below) as a byte-for-byte oracle; bash for parsing the env file;
systemd-analyze for the drop-in; PyYAML for reading YAML back.
kubernetes-validate ships no KubeletConfiguration schema (only core API kinds),
which test_kubernetes_validate_has_no_kubelet_schema pins down.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time

import kubernetes_validate
import pytest
import yaml

from ansible_collections.kubeboot.cluster.plugins.module_utils import config, files, kubelet
from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C

MINORS = {33: "v1.33.13", 34: "v1.34.10", 35: "v1.35.7", 36: "v1.36.3", 37: "v1.37.0"}
SOCKET = "unix:///var/run/containerd/containerd.sock"

# /var/lib/kubelet/config.yaml written by kubeadm init (defaults, systemd-resolved active).
KUBEADM_CONFIG_YAML = """\
apiVersion: kubelet.config.k8s.io/v1beta1
authentication:
  anonymous:
    enabled: false
  webhook:
    cacheTTL: 0s
    enabled: true
  x509:
    clientCAFile: /etc/kubernetes/pki/ca.crt
authorization:
  mode: Webhook
  webhook:
    cacheAuthorizedTTL: 0s
    cacheUnauthorizedTTL: 0s
cgroupDriver: systemd
clusterDNS:
- 10.96.0.10
clusterDomain: cluster.local
containerRuntimeEndpoint: ""
cpuManagerReconcilePeriod: 0s
crashLoopBackOff: {}
evictionPressureTransitionPeriod: 0s
fileCheckFrequency: 0s
healthzBindAddress: 127.0.0.1
healthzPort: 10248
httpCheckFrequency: 0s
imageMaximumGCAge: 0s
imageMinimumGCAge: 0s
kind: KubeletConfiguration
logging:
  flushFrequency: 0
  options:
    json:
      infoBufferSize: "0"
    text:
      infoBufferSize: "0"
  verbosity: 0
memorySwap: {}
nodeStatusReportFrequency: 0s
nodeStatusUpdateFrequency: 0s
resolvConf: /run/systemd/resolve/resolv.conf
rotateCertificates: true
runtimeRequestTimeout: 0s
shutdownGracePeriod: 0s
shutdownGracePeriodCriticalPods: 0s
staticPodPath: /etc/kubernetes/manifests
streamingConnectionIdleTimeout: 0s
syncFrequency: 0s
volumeStatsAggPeriod: 0s
"""


def make_cfg(minor=33, **kw):
    return config.sample_init_config(version=MINORS[minor], **kw)


@pytest.fixture
def fs(tmp_path):
    root = tmp_path / "rootfs"
    root.mkdir()
    return files.HostFS(str(root))


@pytest.fixture
def resolved_fs(fs):
    os.makedirs(fs.path("/run/systemd/resolve"))
    open(fs.path(C.SYSTEMD_RESOLV_CONF), "w").close()
    return fs


def env_args(text: str, tmp_path) -> list:
    """Let bash read the env file the way systemd's EnvironmentFile would hand it to the kubelet."""
    path = tmp_path / "kubeadm-flags.env"
    path.write_text(text)
    out = subprocess.run(["bash", "-c", 'set -e; . "$1"; printf "%s\\n" $KUBELET_KUBEADM_ARGS', "_", str(path)],
                         check=True, capture_output=True, text=True).stdout
    return out.split()


# ----------------------------------------------------------------- config.yaml
def test_cluster_config_matches_real_kubeadm_output(resolved_fs):
    assert kubelet.kubelet_config_yaml(make_cfg(33), resolved_fs) == KUBEADM_CONFIG_YAML


@pytest.mark.parametrize("minor", sorted(MINORS))
def test_node_config_yaml_per_minor(minor, resolved_fs):
    text = kubelet.kubelet_config_yaml(make_cfg(minor), resolved_fs, instance=True)
    if minor >= 34:  # instance-config patched in (NodeLocalCRISocket)
        expected = KUBEADM_CONFIG_YAML.replace('containerRuntimeEndpoint: ""', "containerRuntimeEndpoint: " + SOCKET)
    else:
        expected = KUBEADM_CONFIG_YAML
    assert text == expected
    # the ConfigMap copy never carries the node's socket
    assert yaml.safe_load(kubelet.kubelet_config_yaml(make_cfg(minor), resolved_fs))["containerRuntimeEndpoint"] == ""


def test_kubernetes_validate_has_no_kubelet_schema():
    """kubernetes-validate only has core API kinds: KubeletConfiguration cannot be schema-checked there."""
    doc = kubelet.kubelet_configuration(make_cfg(34), files.HostFS("/nonexistent-root"))
    with pytest.raises(kubernetes_validate.SchemaNotFoundError):
        kubernetes_validate.validate(doc, "1.34", strict=True)


def test_no_resolv_conf_without_systemd_resolved(fs):
    doc = kubelet.kubelet_configuration(make_cfg(33), fs)
    assert "resolvConf" not in doc


def test_cluster_dns_and_domain_follow_networking(fs):
    cfg = make_cfg(33)
    cfg.cluster["networking"]["serviceSubnet"] = "10.100.0.0/16"
    cfg.cluster["networking"]["dnsDomain"] = "corp.example"
    cfg.cluster["certificatesDir"] = "/srv/pki"
    doc = kubelet.kubelet_configuration(cfg, fs)
    assert doc["clusterDNS"] == ["10.100.0.10"]
    assert doc["clusterDomain"] == "corp.example"
    assert doc["authentication"]["x509"]["clientCAFile"] == "/srv/pki/ca.crt"
    cfg.cluster["networking"]["serviceSubnet"] = "fd00:10:96::/108"
    assert kubelet.kubelet_configuration(cfg, fs)["clusterDNS"] == ["fd00:10:96::a"]


def test_user_kubelet_document_is_merged(fs):
    cfg = make_cfg(33)
    cfg.kubelet = {
        "apiVersion": C.KUBELET_API, "kind": "KubeletConfiguration",
        "cgroupDriver": "cgroupfs",
        "authentication": {"webhook": {"cacheTTL": "2m0s"}},
        "rotateCertificates": False,
        "maxPods": 250,
        "clusterDNS": ["169.254.20.10"],
        "resolvConf": "/etc/resolv.conf",
        "featureGates": {"SidecarContainers": True},
    }
    doc = kubelet.kubelet_configuration(cfg, fs)
    assert doc["cgroupDriver"] == "cgroupfs"
    assert doc["authentication"]["webhook"] == {"cacheTTL": "2m0s", "enabled": True}
    assert doc["authentication"]["anonymous"] == {"enabled": False}
    assert doc["rotateCertificates"] is True  # kubeadm forces it
    assert doc["maxPods"] == 250
    assert doc["clusterDNS"] == ["169.254.20.10"]
    assert doc["resolvConf"] == "/etc/resolv.conf"
    assert doc["featureGates"] == {"SidecarContainers": True}
    assert cfg.kubelet["rotateCertificates"] is False  # the input is not mutated


# ----------------------------------------------------------------- kubeadm-flags.env
@pytest.mark.parametrize("minor", sorted(MINORS))
def test_flags_env_per_minor(minor, tmp_path):
    cfg = make_cfg(minor)
    text = kubelet.flags_env(cfg, hostname="cp1")
    assert text.startswith('KUBELET_KUBEADM_ARGS="') and text.endswith('"\n') and text.count("\n") == 1
    args = env_args(text, tmp_path)
    assert args == sorted(args)
    assert ("--container-runtime-endpoint=" + SOCKET in args) is (minor < 34)
    pause = {33: "3.10", 34: "3.10.1"}.get(minor)
    if pause:
        assert "--pod-infra-container-image=registry.k8s.io/pause:" + pause in args
    else:
        assert not any(a.startswith("--pod-infra-container-image") for a in args)
    # kubeadm's buildKubeletArgsCommon never writes --node-ip (phases/kubelet/flags.go)
    assert not any(a.startswith("--node-ip") for a in args)
    assert not any(a.startswith("--hostname-override") for a in args)


def test_node_local_cri_socket_gate_off_keeps_flag_on_134_135(tmp_path):
    for minor, expected in ((34, True), (35, True), (36, False)):
        cfg = make_cfg(minor)
        cfg.cluster["featureGates"] = {"NodeLocalCRISocket": False}
        args = env_args(kubelet.flags_env(cfg, hostname="cp1"), tmp_path)
        assert ("--container-runtime-endpoint=" + SOCKET in args) is expected
        assert (kubelet.instance_config(cfg) is None) is expected


def test_hostname_override_and_extra_args(tmp_path):
    # v1.33.7: before the kubernetes#135400 backport, so the whole list is sorted
    cfg = config.sample_init_config(version="v1.33.7", node_name="node-a")
    cfg.init["nodeRegistration"]["criSocket"] = "unix:///run/crio/crio.sock"
    cfg.init["nodeRegistration"]["kubeletExtraArgs"] = [
        {"name": "node-ip", "value": "10.0.0.5"},
        {"name": "v", "value": "2"},
        {"name": "node-labels", "value": "a=b,c=d"},
    ]
    args = env_args(kubelet.flags_env(cfg, hostname="host-a"), tmp_path)
    assert args == [
        "--container-runtime-endpoint=unix:///run/crio/crio.sock",
        "--hostname-override=node-a",
        "--node-ip=10.0.0.5",
        "--node-labels=a=b,c=d",
        "--pod-infra-container-image=registry.k8s.io/pause:3.10",
        "--v=2",
    ]
    cfg.init["nodeRegistration"]["kubeletExtraArgs"] = [{"name": "hostname-override", "value": "host-a"}]
    args = env_args(kubelet.flags_env(cfg, hostname="host-a"), tmp_path)
    assert "--hostname-override=host-a" in args and "--hostname-override=node-a" not in args


def test_extra_args_keep_user_order_from_136(tmp_path):
    cfg = make_cfg(36)
    cfg.init["nodeRegistration"]["kubeletExtraArgs"] = [{"name": "v", "value": "2"},
                                                        {"name": "node-labels", "value": "x=y"}]
    args = env_args(kubelet.flags_env(cfg, hostname="cp1"), tmp_path)
    assert args == ["--v=2", "--node-labels=x=y"]


def test_no_node_ip_even_with_an_advertise_address(tmp_path):
    """kubeadm leaves the node IP to the kubelet; only kubeletExtraArgs can set --node-ip."""
    for minor in sorted(MINORS):
        cfg = make_cfg(minor)
        assert cfg.advertise_address == "192.0.2.10"
        args = env_args(kubelet.flags_env(cfg, hostname="cp1"), tmp_path)
        assert not any(a.startswith("--node-ip") for a in args)
    cfg = make_cfg(36)
    assert kubelet.flags_env(cfg, hostname="cp1") == 'KUBELET_KUBEADM_ARGS=""\n'


def test_extra_args_order_follows_the_135400_backports(tmp_path):
    extra = [{"name": "v", "value": "2"}, {"name": "node-labels", "value": "x=y"}]
    for version, keeps in (("v1.33.7", False), ("v1.33.8", True), ("v1.34.3", False), ("v1.34.4", True),
                           ("v1.35.0", False), ("v1.35.1", True), ("v1.36.0", True), ("v1.37.0", True)):
        cfg = config.sample_init_config(version=version, node_name="node-a")
        cfg.init["nodeRegistration"]["kubeletExtraArgs"] = extra
        args = env_args(kubelet.flags_env(cfg, hostname="node-a"), tmp_path)
        user = ["--v=2", "--node-labels=x=y"]
        if keeps:
            assert args[-2:] == user and args[:-2] == sorted(args[:-2]), version
        else:
            assert args == sorted(args), version


def test_register_taints_for_worker_join(tmp_path):
    cfg = make_cfg(33)
    cfg.init["nodeRegistration"]["taints"] = [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"},
                                              {"key": "spot", "effect": "PreferNoSchedule"}]
    args = env_args(kubelet.flags_env(cfg, hostname="cp1", register_taints=True), tmp_path)
    assert "--register-with-taints=dedicated=gpu:NoSchedule,spot:PreferNoSchedule" in args
    args = env_args(kubelet.flags_env(cfg, hostname="cp1"), tmp_path)
    assert not any(a.startswith("--register-with-taints") for a in args)


# ----------------------------------------------------------------- instance-config, drop-in
@pytest.mark.parametrize("minor", sorted(MINORS))
def test_instance_config(minor):
    text = kubelet.instance_config(make_cfg(minor))
    if minor < 34:
        assert text is None
    else:
        assert text == 'containerRuntimeEndpoint: "unix:///var/run/containerd/containerd.sock"\n'
        assert yaml.safe_load(text) == {"containerRuntimeEndpoint": SOCKET}


def test_instance_config_on_133_with_alpha_gate():
    cfg = make_cfg(33)
    cfg.cluster["featureGates"] = {"NodeLocalCRISocket": True}
    assert kubelet.instance_config(cfg) is not None


def test_dropin_unit(tmp_path):
    text = kubelet.dropin_unit()
    lines = text.splitlines()
    assert "[Service]" in lines
    assert ('Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf '
            '--kubeconfig=/etc/kubernetes/kubelet.conf"') in lines
    assert 'Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"' in lines
    assert "EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env" in lines
    assert "EnvironmentFile=-/etc/default/kubelet" in lines
    assert lines[-2:] == ["ExecStart=", "ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS "
                                        "$KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS"]


def _systemd_verify(tmp_path, dropin: str) -> str:
    analyze = shutil.which("systemd-analyze") or pytest.fail(
        "systemd-analyze is not installed (apt-get install systemd)")
    unit_dir = tmp_path / "units"
    (unit_dir / "kubelet.service.d").mkdir(parents=True, exist_ok=True)
    (unit_dir / "kubelet.service").write_text(
        "[Unit]\nDescription=kubelet\n[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n")
    (unit_dir / "kubelet.service.d" / "10-kubeadm.conf").write_text(dropin)
    env = dict(os.environ, SYSTEMD_UNIT_PATH=f"{unit_dir}:")
    result = subprocess.run([analyze, "verify", "--man=no", str(unit_dir / "kubelet.service")],
                            capture_output=True, text=True, env=env)
    return result.stdout + result.stderr


def test_dropin_unit_is_accepted_by_systemd(tmp_path):
    """systemd-analyze verify loads kubelet.service with the drop-in applied: its only complaint is
    that /usr/bin/kubelet (the drop-in's ExecStart) is not installed on this machine."""
    out = _systemd_verify(tmp_path, kubelet.dropin_unit())
    lines = [line for line in out.splitlines() if line.strip()]
    if os.access(C.KUBELET_BINARY, os.X_OK):
        assert not lines, out
    else:
        assert lines, "systemd-analyze printed nothing: the drop-in was not applied"
        assert all("/usr/bin/kubelet is not executable" in line for line in lines), out
    # negative control: a bad key in the drop-in is reported
    bad = _systemd_verify(tmp_path / "bad", kubelet.dropin_unit() + "Bogus=1\n")
    assert "Unknown key" in bad and "10-kubeadm.conf" in bad


# ----------------------------------------------------------------- ensure_kubelet_files
def test_ensure_kubelet_files_134(resolved_fs, tmp_path):
    fs = resolved_fs
    cfg = make_cfg(34)
    writer = files.Writer(fs)
    results = kubelet.ensure_kubelet_files(cfg, fs, writer, hostname="cp1")
    assert [(r["name"], r["path"], r["changed"]) for r in results] == [
        ("instance-config", C.KUBELET_INSTANCE_CONFIG_FILE, True),
        ("config", C.KUBELET_CONFIG_FILE, True),
        ("flags-env", C.KUBELET_FLAGS_ENV_FILE, True),
        ("dropin", C.KUBELET_DROPIN_FILE, True),
    ]
    for r in results:
        assert fs.mode(r["path"]) == 0o644
    assert fs.mode(C.KUBELET_DIR) == 0o700
    on_disk = yaml.safe_load(fs.read_text(C.KUBELET_CONFIG_FILE))
    assert on_disk["containerRuntimeEndpoint"] == SOCKET
    assert fs.read_text(C.KUBELET_INSTANCE_CONFIG_FILE) == kubelet.instance_config(cfg)
    assert env_args(fs.read_text(C.KUBELET_FLAGS_ENV_FILE), tmp_path) == [
        "--pod-infra-container-image=registry.k8s.io/pause:3.10.1"]
    assert {d["after_header"] for d in writer.diffs} == {r["path"] for r in results}
    mtimes = {r["path"]: fs.mtime_ns(r["path"]) for r in results}
    time.sleep(0.01)
    writer2 = files.Writer(fs)
    again = kubelet.ensure_kubelet_files(cfg, fs, writer2, hostname="cp1")
    assert [r["changed"] for r in again] == [False] * 4
    assert {r["path"]: fs.mtime_ns(r["path"]) for r in again} == mtimes
    assert writer2.changed_paths == [] and writer2.diffs == []


def test_ensure_kubelet_files_133_has_no_instance_config(fs):
    results = kubelet.ensure_kubelet_files(make_cfg(33), fs, files.Writer(fs), hostname="cp1")
    assert [r["name"] for r in results] == ["config", "flags-env", "dropin"]
    assert not fs.exists(C.KUBELET_INSTANCE_CONFIG_FILE)
    assert yaml.safe_load(fs.read_text(C.KUBELET_CONFIG_FILE))["containerRuntimeEndpoint"] == ""


def test_ensure_kubelet_files_check_mode_writes_nothing(fs):
    writer = files.Writer(fs, check_mode=True)
    results = kubelet.ensure_kubelet_files(make_cfg(35), fs, writer, hostname="cp1")
    assert all(r["changed"] for r in results)
    assert not fs.exists(C.KUBELET_DIR) and not fs.exists(C.KUBELET_DROPIN_FILE)
    assert len(writer.diffs) == 4


def test_ensure_kubelet_files_reports_changed_config(fs):
    cfg = make_cfg(33)
    kubelet.ensure_kubelet_files(cfg, fs, files.Writer(fs), hostname="cp1")
    cfg.kubelet = {"maxPods": 200}
    writer = files.Writer(fs)
    results = {r["name"]: r["changed"] for r in kubelet.ensure_kubelet_files(cfg, fs, writer, hostname="cp1")}
    assert results == {"config": True, "flags-env": False, "dropin": False}
    (diff,) = writer.diffs
    assert "maxPods: 200" in diff["after"] and "maxPods" not in diff["before"]
