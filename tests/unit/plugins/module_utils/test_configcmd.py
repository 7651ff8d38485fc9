"""configcmd.py: `kubeadm config print` byte for byte as kubeadm writes v1beta4, migrate from v1beta3,
validate, and the image list in kubeadm's order."""
from __future__ import annotations

import socket
import textwrap

import pytest
import yaml

from ansible_collections.kubeboot.cluster.plugins.module_utils import configcmd, errors, versions

TIMEOUTS = """\
timeouts:
  controlPlaneComponentHealthCheck: 4m0s
  discovery: 5m0s
  etcdAPICall: 2m0s
  kubeletHealthCheck: 4m0s
  kubernetesAPICall: 1m0s
  tlsBootstrap: 5m0s
  upgradeManifests: 5m0s
"""

# `kubeadm config print init-defaults` of kubeadm 1.31+ (v1beta4): DefaultedStaticInitConfiguration
# marshalled by sigs.k8s.io/yaml (keys sorted, omitempty; nodeRegistration.taints has no omitempty,
# so it is `null`; the structs apiServer/controllerManager/dns/proxy/scheduler are never omitted);
# kubernetesVersion is CurrentKubernetesVersion.String(), without "v".
INIT_DEFAULTS = """\
apiVersion: kubeadm.k8s.io/v1beta4
bootstrapTokens:
- groups:
  - system:bootstrappers:kubeadm:default-node-token
  token: abcdef.0123456789abcdef
  ttl: 24h0m0s
  usages:
  - signing
  - authentication
kind: InitConfiguration
localAPIEndpoint:
  advertiseAddress: 1.2.3.4
  bindPort: 6443
nodeRegistration:
  criSocket: unix:///var/run/containerd/containerd.sock
  imagePullPolicy: IfNotPresent
  imagePullSerial: true
  name: node
  taints: null
""" + TIMEOUTS + """\
---
apiServer: {}
apiVersion: kubeadm.k8s.io/v1beta4
caCertificateValidityPeriod: 87600h0m0s
certificateValidityPeriod: 8760h0m0s
certificatesDir: /etc/kubernetes/pki
clusterName: kubernetes
controllerManager: {}
dns: {}
encryptionAlgorithm: RSA-2048
etcd:
  local:
    dataDir: /var/lib/etcd
imageRepository: registry.k8s.io
kind: ClusterConfiguration
kubernetesVersion: 1.%d.0
networking:
  dnsDomain: cluster.local
  serviceSubnet: 10.96.0.0/12
proxy: {}
scheduler: {}
""" % versions.MINORS[-1].minor

# join-defaults: the placeholder token discovery; the join dynamic defaults name the node after
# the host and leave taints nil (a worker)
JOIN_DEFAULTS = """\
apiVersion: kubeadm.k8s.io/v1beta4
caCertPath: /etc/kubernetes/pki/ca.crt
discovery:
  bootstrapToken:
    apiServerEndpoint: kube-apiserver:6443
    token: abcdef.0123456789abcdef
    unsafeSkipCAVerification: true
  tlsBootstrapToken: abcdef.0123456789abcdef
kind: JoinConfiguration
nodeRegistration:
  criSocket: unix:///var/run/containerd/containerd.sock
  imagePullPolicy: IfNotPresent
  imagePullSerial: true
  name: %s
  taints: null
""" + TIMEOUTS

# reset-defaults: SetDefaults_ResetConfiguration + SetResetDynamicDefaults without CRI detection
RESET_DEFAULTS = """\
apiVersion: kubeadm.k8s.io/v1beta4
certificatesDir: /etc/kubernetes/pki
criSocket: unix:///var/run/containerd/containerd.sock
kind: ResetConfiguration
""" + TIMEOUTS

# upgrade-defaults: as kubeadm's own cmd/upgrade/apply_test.go spells the defaulted document, with
# plan.etcdUpgrade (defaulted since 1.33, kubernetes#130023)
UPGRADE_DEFAULTS = """\
apiVersion: kubeadm.k8s.io/v1beta4
apply:
  certificateRenewal: true
  etcdUpgrade: true
  imagePullPolicy: IfNotPresent
  imagePullSerial: true
diff: {}
kind: UpgradeConfiguration
node:
  certificateRenewal: true
  etcdUpgrade: true
  imagePullPolicy: IfNotPresent
  imagePullSerial: true
plan:
  etcdUpgrade: true
""" + TIMEOUTS


@pytest.mark.parametrize("action, expected", [
    ("init", INIT_DEFAULTS),
    ("join", JOIN_DEFAULTS % socket.gethostname().lower()),
    ("reset", RESET_DEFAULTS),
    ("upgrade", UPGRADE_DEFAULTS),
])
def test_print_defaults_byte_for_byte(action, expected):
    result = configcmd.run_config({"print": action})
    assert result["content"] == expected
    assert result["changed"] is False
    assert result["documents"] == [d for d in yaml.safe_load_all(expected)]


def test_print_component_configs():
    result = configcmd.run_config({"print": "init", "component_configs": ["KubeletConfiguration",
                                                                         "KubeProxyConfiguration"]})
    kinds = [doc["kind"] for doc in result["documents"]]
    assert kinds == ["InitConfiguration", "ClusterConfiguration", "KubeletConfiguration", "KubeProxyConfiguration"]
    kubelet = result["documents"][2]
    assert kubelet["apiVersion"] == "kubelet.config.k8s.io/v1beta1" and kubelet["clusterDNS"] == ["10.96.0.10"]
    assert kubelet["cgroupDriver"] == "systemd"
    assert result["documents"][3]["apiVersion"] == "kubeproxy.config.k8s.io/v1alpha1"
    with pytest.raises(errors.InvalidValue):
        configcmd.run_config({"print": "join", "component_configs": ["KubeletConfiguration"]})


@pytest.mark.parametrize("params", [{}, {"print": "init", "validate": True}, {"validate": True}])
def test_one_action_at_a_time(params):
    with pytest.raises(errors.InvalidValue):
        configcmd.run_config(params)


V1BETA3 = """\
apiVersion: kubeadm.k8s.io/v1beta3
kind: InitConfiguration
localAPIEndpoint:
  advertiseAddress: 192.0.2.30
nodeRegistration:
  name: Old-Node
  kubeletExtraArgs:
    max-pods: "120"
---
apiVersion: kubeadm.k8s.io/v1beta3
kind: ClusterConfiguration
kubernetesVersion: v1.33.4
apiServer:
  timeoutForControlPlane: 6m0s
  extraArgs:
    audit-log-maxage: "30"
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
maxPods: 120
"""


def test_migrate_v1beta3_to_v1beta4(tmp_path):
    old = tmp_path / "old.yaml"
    old.write_text(V1BETA3)
    new = tmp_path / "new.yaml"
    result = configcmd.run_config({"old_config": str(old), "new_config": str(new)})
    assert result["changed"] is True and new.read_text() == result["content"]
    init, cluster, kubelet = result["documents"]
    assert init["apiVersion"] == cluster["apiVersion"] == "kubeadm.k8s.io/v1beta4"
    assert init["nodeRegistration"]["kubeletExtraArgs"] == [{"name": "max-pods", "value": "120"}]
    assert init["nodeRegistration"]["name"] == "old-node"
    assert init["nodeRegistration"]["taints"] == [{"effect": "NoSchedule",
                                                   "key": "node-role.kubernetes.io/control-plane"}]
    assert init["timeouts"]["controlPlaneComponentHealthCheck"] == "6m0s"
    assert "token" not in init["bootstrapTokens"][0], "an unset token stays unset (generated at init)"
    assert cluster["apiServer"] == {"extraArgs": [{"name": "audit-log-maxage", "value": "30"}]}
    assert cluster["kubernetesVersion"] == "v1.33.4" and "timeoutForControlPlane" not in str(cluster)
    assert kubelet == {"apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration", "maxPods": 120}
    again = configcmd.run_config({"old_config": str(old), "new_config": str(new)})
    assert again["changed"] is False
    # what migrate wrote is read back as it is
    assert configcmd.run_config({"old_config": str(new)})["content"] == result["content"]


def test_migrate_join_and_reset(tmp_path):
    old = tmp_path / "join.yaml"
    old.write_text(textwrap.dedent("""\
        apiVersion: kubeadm.k8s.io/v1beta3
        kind: JoinConfiguration
        discovery:
          bootstrapToken:
            apiServerEndpoint: 192.0.2.1:6443
            token: abcdef.0123456789abcdef
            unsafeSkipCAVerification: true
          timeout: 7m0s
        nodeRegistration:
          name: w1
        ---
        apiVersion: kubeadm.k8s.io/v1beta4
        kind: ResetConfiguration
        cleanupTmpDir: true
        """))
    join, reset = configcmd.run_config({"old_config": str(old)})["documents"]
    assert join["apiVersion"] == "kubeadm.k8s.io/v1beta4" and join["timeouts"]["discovery"] == "7m0s"
    assert join["discovery"]["tlsBootstrapToken"] == "abcdef.0123456789abcdef"
    assert join["nodeRegistration"]["taints"] is None
    assert reset["cleanupTmpDir"] is True and reset["criSocket"] == "unix:///var/run/containerd/containerd.sock"


def test_validate(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text(INIT_DEFAULTS)
    assert configcmd.run_config({"validate": True, "config": str(good)})["valid"] is True
    bad = tmp_path / "bad.yaml"
    bad.write_text(INIT_DEFAULTS.replace("clusterName: kubernetes", "clusterName: kubernetes\nbogusField: 1"))
    with pytest.raises(errors.ConfigError) as exc:
        configcmd.run_config({"validate": True, "config": str(bad)})
    assert "bogusField" in str(exc.value)
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(INIT_DEFAULTS.replace("serviceSubnet: 10.96.0.0/12", "serviceSubnet: 10.96.0.0/33"))
    with pytest.raises(errors.ConfigError) as exc:
        configcmd.run_config({"validate": True, "config": str(wrong)})
    assert "serviceSubnet" in str(exc.value)


def test_images_list_in_kubeadms_order(tmp_path):
    result = configcmd.run_config({"images": "list", "kubernetes_version": "v1.34.3",
                                   "image_repository": "mirror.example.test/k8s"})
    assert result["images"] == [
        "mirror.example.test/k8s/kube-apiserver:v1.34.3", "mirror.example.test/k8s/kube-controller-manager:v1.34.3",
        "mirror.example.test/k8s/kube-scheduler:v1.34.3", "mirror.example.test/k8s/kube-proxy:v1.34.3",
        "mirror.example.test/k8s/coredns:v1.12.1", "mirror.example.test/k8s/pause:3.10.1",
        "mirror.example.test/k8s/etcd:3.6.5-0"]
    path = tmp_path / "c.yaml"
    path.write_text("apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nkubernetesVersion: v1.35.1\n"
                    "proxy: {disabled: true}\ndns: {disabled: true}\n"
                    "etcd: {external: {endpoints: ['https://192.0.2.9:2379']}}\n")
    images = configcmd.run_config({"images": "list", "config": str(path)})["images"]
    assert images == ["registry.k8s.io/kube-apiserver:v1.35.1", "registry.k8s.io/kube-controller-manager:v1.35.1",
                      "registry.k8s.io/kube-scheduler:v1.35.1", "registry.k8s.io/pause:3.10.1"]
    with pytest.raises(errors.ConfigError):
        configcmd.run_config({"images": "list", "kubernetes_version": "v1.20.0"})
