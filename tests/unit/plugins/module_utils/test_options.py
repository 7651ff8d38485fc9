"""options.py: the one option table reproduces the modules' argument specs exactly as they were
written by hand (the literals below), names the secrets, and merges options over a config file."""
from __future__ import annotations

import pytest

from ansible_collections.kubeboot.cluster.plugins.module_utils import options
from ansible_collections.kubeboot.cluster.plugins.module_utils.kubeadmconfig import Builder

ALGORITHMS = ["RSA-2048", "RSA-3072", "RSA-4096", "ECDSA-P256", "ECDSA-P384"]
INIT = dict(
    kubernetes_version=dict(type="str"), image_repository=dict(type="str"),
    apiserver_advertise_address=dict(type="str"), apiserver_bind_port=dict(type="int"),
    apiserver_cert_extra_sans=dict(type="list", elements="str"), cert_dir=dict(type="str"),
    config=dict(type="path"), config_documents=dict(type="raw"), control_plane_endpoint=dict(type="str"), cri_socket=dict(type="str"),
    dry_run=dict(type="bool"), feature_gates=dict(type="raw"),
    ignore_preflight_errors=dict(type="list", elements="str"), node_name=dict(type="str"),
    pod_network_cidr=dict(type="str"), service_cidr=dict(type="str"), service_dns_domain=dict(type="str"),
    skip_phases=dict(type="list", elements="str"), skip_token_print=dict(type="bool", default=False),
    token=dict(type="str", no_log=True), token_ttl=dict(type="str", no_log=False),
    upload_certs=dict(type="bool", default=False), certificate_key=dict(type="str", no_log=True),
    encryption_algorithm=dict(type="str", choices=ALGORITHMS), certificate_validity_period=dict(type="str"),
    ca_certificate_validity_period=dict(type="str"), rootfs=dict(type="path", default="/"),
    patches=dict(type="path"))
JOIN = dict(
    api_server_endpoint=dict(type="str"), token=dict(type="str", no_log=True),
    discovery_token=dict(type="str", no_log=True), tls_bootstrap_token=dict(type="str", no_log=True),
    discovery_token_ca_cert_hash=dict(type="list", elements="str", no_log=False),
    discovery_token_unsafe_skip_ca_verification=dict(type="bool", default=False),
    discovery_file=dict(type="str"), discovery_ca_file=dict(type="path"), discovery_timeout=dict(type="str"),
    node_name=dict(type="str"), cri_socket=dict(type="str"), ignore_preflight_errors=dict(type="list", elements="str"),
    skip_phases=dict(type="list", elements="str"), config=dict(type="path"), config_documents=dict(type="raw"),
    control_plane=dict(type="bool", default=False), certificate_key=dict(type="str", no_log=True),
    apiserver_advertise_address=dict(type="str"), apiserver_bind_port=dict(type="int"),
    tls_bootstrap_mode=dict(type="str", choices=["kubelet", "module"], default="kubelet"),
    wait_for_kubelet=dict(type="bool", default=False), rootfs=dict(type="path", default="/"),
    dry_run=dict(type="bool"), patches=dict(type="path"))
TOKEN = dict(
    state=dict(type="str", choices=["present", "absent"], default="present"), token=dict(type="str", no_log=True),
    ttl=dict(type="str", default="24h0m0s"),
    usages=dict(type="list", elements="str", choices=["signing", "authentication"],
                default=["signing", "authentication"]),
    groups=dict(type="list", elements="str", default=["system:bootstrappers:kubeadm:default-node-token"]),
    description=dict(type="str", default=""), reuse=dict(type="bool", default=True),
    print_join_command=dict(type="bool", default=False), certificate_key=dict(type="str", no_log=True),
    kubeconfig=dict(type="path", default="/etc/kubernetes/admin.conf"), rootfs=dict(type="path", default="/"),
    api_timeout=dict(type="int", default=60))
TOKEN_INFO = dict(include_secrets=dict(type="bool", default=False),
                  kubeconfig=dict(type="path", default="/etc/kubernetes/admin.conf"),
                  rootfs=dict(type="path", default="/"), api_timeout=dict(type="int", default=60))


UPGRADE = dict(
    action=dict(type="str", choices=["plan", "apply", "node"], default="plan"), kubernetes_version=dict(type="str"),
    certificate_renewal=dict(type="bool"), etcd_upgrade=dict(type="bool"), force=dict(type="bool"),
    allow_experimental_upgrades=dict(type="bool"), allow_release_candidate_upgrades=dict(type="bool"),
    ignore_preflight_errors=dict(type="list", elements="str"), skip_phases=dict(type="list", elements="str"),
    patches=dict(type="path"), config=dict(type="path"), kubeconfig=dict(type="path"),
    rootfs=dict(type="path", default="/"))
NODE = dict(  # kube_node
    name=dict(type="str", required=True),
    state=dict(type="str", choices=["cordoned", "uncordoned", "drained", "absent"], default="drained"),
    grace_period=dict(type="int", default=-1), timeout=dict(type="int", default=300),
    ignore_daemonsets=dict(type="bool", default=True), delete_emptydir_data=dict(type="bool", default=False),
    force=dict(type="bool", default=False), disable_eviction=dict(type="bool", default=False),
    wait_ready=dict(type="bool", default=False), kubelet_version=dict(type="str"),
    kubeconfig=dict(type="path", default="/etc/kubernetes/admin.conf"), api_timeout=dict(type="int", default=60),
    rootfs=dict(type="path", default="/"))


@pytest.mark.parametrize("module, spec", [(options.INIT, INIT), (options.JOIN, JOIN), (options.TOKEN, TOKEN),
                                          (options.TOKEN_INFO, TOKEN_INFO), (options.UPGRADE, UPGRADE),
                                          (options.NODE, NODE)])
def test_generated_specs_are_the_hand_written_ones(module, spec):
    assert options.argument_spec(module) == spec


def test_secret_options_are_the_no_log_ones():
    assert set(options.secret_options(options.INIT)) == {"token", "certificate_key"}
    assert set(options.secret_options(options.JOIN)) == {"token", "discovery_token", "tls_bootstrap_token",
                                                         "certificate_key"}


def test_apply_lays_options_over_the_file_and_warns_without_repeating_secrets():
    file_doc = {"nodeRegistration": {"name": "from-file"}, "controlPlane": {"certificateKey": "ab" * 32}}
    doc = {"nodeRegistration": {"name": "from-file"}, "discovery": {}, "controlPlane": {"certificateKey": "ab" * 32}}
    warnings = []
    builder = Builder({"join": doc}, {"join": file_doc}, warnings, options.secret_options(options.JOIN))
    options.apply(builder, options.JOIN, {"node_name": " Opt ", "certificate_key": "cd" * 32,
                                          "token": "abcdef.0123456789abcdef", "dry_run": False})
    assert doc["nodeRegistration"]["name"] == "opt" and doc["controlPlane"]["certificateKey"] == "cd" * 32
    assert doc["discovery"] == {"bootstrapToken": {"token": "abcdef.0123456789abcdef"},
                                "tlsBootstrapToken": "abcdef.0123456789abcdef"}
    assert "dryRun" not in doc  # a false bool the module defaults is not an override
    assert builder.field("join", "nodeRegistration.name") == "node_name"
    assert len(warnings) == 2 and not any("ab" * 32 in w or "cd" * 32 in w for w in warnings)


def test_an_option_listed_twice_for_a_module_is_an_internal_error(monkeypatch):
    monkeypatch.setattr(options, "OPTIONS", options.OPTIONS + (options.Option("rootfs", (options.INIT,)),))
    with pytest.raises(KeyError):
        options.argument_spec(options.INIT)
