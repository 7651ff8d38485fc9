"""joinconfig.py: options, config file (v1beta4 and v1beta3), defaults, validation."""
from __future__ import annotations

import pytest

from ansible_collections.kubeboot.cluster.plugins.module_utils import joinconfig
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import ConfigError, InvalidValue

PIN = "sha256:345959acb2c3b2feb87d281961c893f62a314207ef02599f1cc4a5fb255480b3"
TOKEN = "abcdef.0123456789abcdef"


def build(**params):
    base = {"api_server_endpoint": "10.0.0.1:6443", "token": TOKEN, "discovery_token_ca_cert_hash": [PIN],
            "node_name": "w1"}
    base.update(params)
    return joinconfig.build_join_config({k: v for k, v in base.items() if v is not None},
                                        default_address=lambda: "192.0.2.50")


def test_token_sets_both_tokens_and_defaults():
    cfg = build()
    assert cfg.discovery["bootstrapToken"]["token"] == TOKEN
    assert cfg.tls_bootstrap_token == TOKEN
    assert cfg.join["timeouts"]["discovery"] == "5m0s"
    assert cfg.join["caCertPath"] == "/etc/kubernetes/pki/ca.crt"
    assert not cfg.control_plane and cfg.node_name == "w1"
    assert cfg.init["nodeRegistration"] is cfg.join["nodeRegistration"]


def test_specific_tokens_win():
    other = "zzzzzz.0123456789abcdef"
    cfg = build(tls_bootstrap_token=other)
    assert cfg.tls_bootstrap_token == other and cfg.discovery["bootstrapToken"]["token"] == TOKEN


def test_control_plane_view():
    cfg = build(control_plane=True, certificate_key="ab" * 32, apiserver_bind_port=6444)
    assert cfg.control_plane and cfg.certificate_key == "ab" * 32
    assert cfg.advertise_address == "192.0.2.50" and cfg.bind_port == 6444


@pytest.mark.parametrize("params,field", [
    ({"api_server_endpoint": "10.0.0.1"}, "api_server_endpoint"),
    ({"api_server_endpoint": "2001:db8::1:6443"}, "api_server_endpoint"),
    ({"token": "bad"}, "token"),
    ({"discovery_token_ca_cert_hash": ["xyz"]}, "discovery_token_ca_cert_hash"),
    ({"discovery_token_ca_cert_hash": []}, "discovery_token_ca_cert_hash"),
    ({"control_plane": True, "certificate_key": "short"}, "certificate_key"),
    ({"tls_bootstrap_mode": "magic"}, "tls_bootstrap_mode"),
    ({"discovery_timeout": "soon"}, "discovery_timeout"),
    ({"node_name": "Bad_Name"}, "node_name"),
])
def test_invalid(params, field):
    with pytest.raises(InvalidValue) as exc:
        build(**params)
    assert exc.value.field == field


def test_missing_pin_error_explains_openssl():
    with pytest.raises(ConfigError) as exc:
        build(discovery_token_ca_cert_hash=[])
    assert "openssl x509 -pubkey" in str(exc.value)


def test_unsafe_skip_without_pins_ok():
    cfg = build(discovery_token_ca_cert_hash=[], discovery_token_unsafe_skip_ca_verification=True)
    assert cfg.discovery["bootstrapToken"]["unsafeSkipCAVerification"] is True


def test_bare_hex_pin_warns():
    cfg = build(discovery_token_ca_cert_hash=[PIN[7:].upper()])
    assert cfg.discovery["bootstrapToken"]["caCertHashes"] == [PIN]
    assert any("sha256" in w for w in cfg.warnings)


def test_ipv6_endpoint():
    assert build(api_server_endpoint="[2001:db8::1]:6443").discovery["bootstrapToken"]["apiServerEndpoint"] \
        == "[2001:db8::1]:6443"


def test_file_discovery_needs_no_endpoint():
    cfg = joinconfig.build_join_config({"discovery_file": "/tmp/x.conf", "token": TOKEN, "node_name": "w1"})
    assert "bootstrapToken" not in cfg.discovery and cfg.tls_bootstrap_token == TOKEN
    with pytest.raises(ConfigError):
        joinconfig.build_join_config({"discovery_file": "http://x/y", "token": TOKEN, "node_name": "w1"})


def test_v1beta4_file(tmp_path):
    path = tmp_path / "join.yaml"
    path.write_text(f"""apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
discovery:
  bootstrapToken:
    apiServerEndpoint: 10.0.0.1:6443
    token: {TOKEN}
    caCertHashes: ["{PIN}"]
nodeRegistration:
  name: filenode
  kubeletExtraArgs:
  - name: max-pods
    value: "50"
controlPlane:
  localAPIEndpoint:
    advertiseAddress: 10.0.0.2
timeouts:
  discovery: 1m
""")
    cfg = joinconfig.build_join_config({"config": str(path)})
    assert cfg.node_name == "filenode" and cfg.control_plane and cfg.advertise_address == "10.0.0.2"
    assert cfg.tls_bootstrap_token == TOKEN and cfg.join["timeouts"]["discovery"] == "1m0s"
    assert cfg.init["nodeRegistration"]["kubeletExtraArgs"] == [{"name": "max-pods", "value": "50"}]
    over = joinconfig.build_join_config({"config": str(path), "node_name": "opt"})
    assert over.node_name == "opt" and any("overrides" in w for w in over.warnings)


def test_v1beta3_file_converted(tmp_path):
    path = tmp_path / "join.yaml"
    path.write_text(f"""apiVersion: kubeadm.k8s.io/v1beta3
kind: JoinConfiguration
discovery:
  timeout: 2m
  bootstrapToken:
    apiServerEndpoint: 10.0.0.1:6443
    token: {TOKEN}
    unsafeSkipCAVerification: true
nodeRegistration:
  name: old
  kubeletExtraArgs:
    max-pods: "50"
""")
    cfg = joinconfig.build_join_config({"config": str(path)})
    assert cfg.join["timeouts"]["discovery"] == "2m0s"
    assert cfg.init["nodeRegistration"]["kubeletExtraArgs"] == [{"name": "max-pods", "value": "50"}]
    assert any("v1beta3" in w for w in cfg.warnings)


def test_adopt_cluster_configuration():
    cfg = build()
    cfg.adopt_cluster_configuration("apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n"
                                    "kubernetesVersion: v1.33.4\ncontrolPlaneEndpoint: lb:6443\n")
    assert cfg.version == "v1.33.4" and cfg.minor == 33
    assert cfg.cluster["networking"]["serviceSubnet"] == "10.96.0.0/12"
    assert cfg.cert_dir == "/etc/kubernetes/pki" and cfg.local_etcd


def test_discovery_part_that_is_not_a_mapping_is_a_clear_error(tmp_path):
    path = tmp_path / "join.yaml"
    path.write_text("apiVersion: kubeadm.k8s.io/v1beta4\nkind: JoinConfiguration\n"
                    f"discovery:\n  bootstrapToken: {TOKEN}\n")
    with pytest.raises(ConfigError) as err:
        joinconfig.build_join_config({"config": str(path)}, default_address=lambda: "192.0.2.50")
    assert "discovery.bootstrapToken" in str(err.value) and "mapping" in str(err.value)
    assert TOKEN.split(".")[1] not in str(err.value)


def test_inline_join_configuration():
    """kubeadm_join's config_documents: e.g. the node role's taints and node-ip, no file needed."""
    cfg = build(config_documents={"JoinConfiguration": {"nodeRegistration": {
        "taints": [], "kubeletExtraArgs": [{"name": "node-ip", "value": "192.0.2.30"}]}}})
    assert cfg.join["nodeRegistration"]["taints"] == []
    assert cfg.join["nodeRegistration"]["kubeletExtraArgs"] == [{"name": "node-ip", "value": "192.0.2.30"}]
    with pytest.raises(ConfigError) as err:
        build(config_documents=[{"kind": "InitConfiguration"}])
    assert err.value.field == "config_documents" and "JoinConfiguration" in str(err.value)
