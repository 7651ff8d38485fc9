# -*- coding: utf-8 -*-
"""Security review: secrets (tokens, certificate keys, private keys) never reach error messages,
warnings or diffs, and bad input is refused before anything is written."""
from __future__ import annotations

import base64
import textwrap

import pytest
import yaml

from ansible_collections.kubeboot.cluster.plugins.module_utils import bootstraptoken, kubelet, pkiutil
from ansible_collections.kubeboot.cluster.plugins.module_utils import (
    apiclient, config, discovery, errors, kubeconfig, tlsbootstrap, tokencmd)
from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils.apiwriter import ApiWriter
from ansible_collections.kubeboot.cluster.plugins.module_utils.files import HostFS, SECRET_PLACEHOLDER, Writer


ADDR = "192.0.2.10"
# distinctive values: any of them showing up in a message is a leak
FILE_TOKEN = "zzzzzz.leakleakleakleak"
OPTION_TOKEN = "yyyyyy.secretsecretsecr"
KEY_MARKER = "TOPSECRETKEYMATERIAL"
CERT_KEY = "ab" * 32


def _init(**params):
    params.setdefault("apiserver_advertise_address", ADDR)
    params.setdefault("node_name", "cp1")
    return config.build_init_config(params, HostFS("/"))


def _write(tmp_path, text, name="kubeadm.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


# A kubeconfig whose second user line is broken YAML right next to key material.
BROKEN_KUBECONFIG = (
    "apiVersion: v1\nkind: Config\nclusters:\n- cluster: {server: 'https://10.0.0.1:6443'}\n  name: k\n"
    "users:\n- name: admin\n  user:\n"
    f"    client-key-data: {KEY_MARKER}\n"
    f"    token: '{KEY_MARKER}\n"          # unterminated quote: a parse error on a secret line
    "current-context: x\n")


# --- config errors and warnings (init) ---------------------------------------------------------

def test_init_invalid_token_in_config_file_is_not_echoed(tmp_path):
    path = _write(tmp_path, f"""\
        apiVersion: kubeadm.k8s.io/v1beta4
        kind: InitConfiguration
        bootstrapTokens:
        - token: "{FILE_TOKEN}X"
        """)
    with pytest.raises(errors.ConfigError) as exc:
        _init(config=path)
    assert "bootstrapTokens" in str(exc.value)
    assert FILE_TOKEN not in str(exc.value)


def test_init_invalid_token_option_is_not_echoed():
    with pytest.raises(errors.ConfigError) as exc:
        _init(token=" " + OPTION_TOKEN.upper() + " ")
    assert OPTION_TOKEN.upper() not in str(exc.value) and "token" in str(exc.value)


def test_init_token_entry_not_a_mapping_is_not_echoed(tmp_path):
    path = _write(tmp_path, f"""\
        apiVersion: kubeadm.k8s.io/v1beta4
        kind: InitConfiguration
        bootstrapTokens:
        - "{FILE_TOKEN}"
        """)
    with pytest.raises(errors.ConfigError) as exc:
        _init(config=path)
    assert FILE_TOKEN not in str(exc.value)
    path = _write(tmp_path, f"""\
        apiVersion: kubeadm.k8s.io/v1beta4
        kind: InitConfiguration
        bootstrapTokens: "{FILE_TOKEN}"
        """, "other.yaml")
    with pytest.raises(errors.ConfigError) as exc:
        _init(config=path)
    assert FILE_TOKEN not in str(exc.value)


def test_init_invalid_certificate_key_is_not_echoed(tmp_path):
    bad = "cd" * 31 + "zz"
    with pytest.raises(errors.ConfigError) as exc:
        _init(certificate_key=bad)
    assert bad not in str(exc.value) and "certificateKey" in str(exc.value) or "certificate_key" in str(exc.value)
    assert bad not in str(exc.value)


def test_init_option_override_warning_hides_token_and_certificate_key(tmp_path):
    path = _write(tmp_path, f"""\
        apiVersion: kubeadm.k8s.io/v1beta4
        kind: InitConfiguration
        certificateKey: "{'ef' * 32}"
        bootstrapTokens:
        - token: "{FILE_TOKEN}"
        """)
    cfg = _init(config=path, token=OPTION_TOKEN, certificate_key=CERT_KEY)
    assert cfg.init["bootstrapTokens"][0]["token"] == OPTION_TOKEN
    text = "\n".join(cfg.warnings)
    assert "overrides" in text  # still warned about
    for secret in (FILE_TOKEN, OPTION_TOKEN, CERT_KEY, "ef" * 32):
        assert secret not in text


# --- kubeadm token delete -------------------------------------------------------------------

def test_delete_token_malformed_value_is_not_echoed():
    typo = "abcdef0123456789abcdef"  # a real token with the dot missing
    with pytest.raises(errors.InvalidValue) as exc:
        bootstraptoken.delete_token(api=None, token_or_id=typo)
    assert typo not in str(exc.value) and "0123456789abcdef" not in str(exc.value)


# --- YAML parse errors never quote the file --------------------------------------------------

def _assert_no_snippet(message: str):
    assert KEY_MARKER not in message
    assert "line" in message  # still says where


def test_file_discovery_yaml_error_does_not_quote_the_file(tmp_path):
    path = tmp_path / "discovery.conf"
    path.write_text(BROKEN_KUBECONFIG)
    with pytest.raises(errors.DiscoveryError) as exc:
        discovery.file_discovery(str(path), timeout=0)
    _assert_no_snippet(str(exc.value))


def test_token_module_kubeconfig_yaml_error_is_clean(tmp_path):
    (tmp_path / "etc/kubernetes").mkdir(parents=True)
    (tmp_path / "etc/kubernetes/admin.conf").write_text(BROKEN_KUBECONFIG)
    with pytest.raises(errors.KubebootError) as exc:  # not a bare yaml.YAMLError traceback
        tokencmd.client_for(HostFS(str(tmp_path)), "/etc/kubernetes/admin.conf")
    _assert_no_snippet(str(exc.value))


def test_client_from_kubeconfig_yaml_error_is_clean():
    with pytest.raises(errors.KubebootError) as exc:
        apiclient.Client.from_kubeconfig(BROKEN_KUBECONFIG)
    _assert_no_snippet(str(exc.value))


def test_parse_kubeconfig_yaml_error_is_clean():
    with pytest.raises(errors.KubebootError) as exc:
        kubeconfig.parse_kubeconfig(BROKEN_KUBECONFIG, "/etc/kubernetes/admin.conf")
    _assert_no_snippet(str(exc.value))


def test_kubelet_finalize_yaml_error_is_clean(tmp_path):
    fs = HostFS(str(tmp_path))
    writer = Writer(fs)
    writer.write(C.KUBELET_CLIENT_CURRENT, "pem", 0o600)
    writer.write("/etc/kubernetes/kubelet.conf", BROKEN_KUBECONFIG, 0o600)
    with pytest.raises(errors.KubebootError) as exc:
        kubelet.kubelet_finalize(config.sample_init_config(), fs, Writer(fs))
    _assert_no_snippet(str(exc.value))


# --- diffs ------------------------------------------------------------------------------------

def test_module_mode_kubelet_conf_diff_never_shows_the_old_embedded_key(tmp_path):
    fs = HostFS(str(tmp_path))
    old = yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "users": [{"name": "u", "user": {
        "client-key-data": base64.b64encode(KEY_MARKER.encode()).decode(), "token": KEY_MARKER}}]})
    Writer(fs).write(tlsbootstrap.KUBELET_CONF, old, 0o600)
    ca_pem = pkiutil.cert_to_pem(pkiutil.new_ca("kubernetes", pkiutil.generate_key("ECDSA-P256"), 3600))
    writer = Writer(fs, check_mode=True)
    tlsbootstrap.write_kubelet_identity(writer, b"CERT\n", ("KEY" + KEY_MARKER).encode(),
                                        "https://10.0.0.1:6443", ca_pem)
    text = repr(writer.diffs)
    assert KEY_MARKER not in text and base64.b64encode(KEY_MARKER.encode()).decode() not in text
    conf = [d for d in writer.diffs if d["after_header"] == tlsbootstrap.KUBELET_CONF][0]
    assert conf["before"] == SECRET_PLACEHOLDER


# --- kubeadm_token print_join_command --certificate-key ---------------------------------------------

def test_join_command_refuses_a_malformed_certificate_key_without_echoing_it(tmp_path):
    ca_key = pkiutil.generate_key("ECDSA-P256")
    ca = pkiutil.new_ca("kubernetes", ca_key, 3600)
    conf = kubeconfig.render_kubeconfig("https://10.0.0.1:6443", pkiutil.cert_to_pem(ca), "admin",
                                        token="x")
    (tmp_path / "etc/kubernetes").mkdir(parents=True)
    (tmp_path / "etc/kubernetes/admin.conf").write_text(conf)
    fs = HostFS(str(tmp_path))
    good = tokencmd.join_command_for(fs, "/etc/kubernetes/admin.conf", "abcdef.0123456789abcdef", CERT_KEY)
    assert good.endswith("--control-plane --certificate-key " + CERT_KEY)
    bad = CERT_KEY[:-1] + " --ignore-preflight-errors=all"
    with pytest.raises(errors.InvalidValue) as exc:
        tokencmd.join_command_for(fs, "/etc/kubernetes/admin.conf", "abcdef.0123456789abcdef", bad)
    assert CERT_KEY[:-1] not in str(exc.value) and "certificate_key" in str(exc.value)


# --- TLS bootstrap (module mode) --------------------------------------------------------------

class _CSRDouble:
    """Approves every CSR with a certificate for some other key."""

    def __init__(self, certificate: bytes):
        self.certificate = certificate
        self.created = None

    def create(self, obj):
        self.created = obj
        return obj

    def get_or_none(self, kind, name, namespace=""):
        return None if self.created is None else self.get(kind, name, namespace)

    def get(self, kind, name, namespace=""):
        return dict(self.created, status={
            "conditions": [{"type": "Approved", "status": "True"}],
            "certificate": base64.b64encode(self.certificate).decode()})


@pytest.mark.parametrize("certificate", ["other-key", "garbage"])
def test_module_mode_refuses_a_certificate_not_for_its_key(certificate):
    ca_key = pkiutil.generate_key("ECDSA-P256")
    ca = pkiutil.new_ca("kubernetes", ca_key, 3600)
    other = pkiutil.issue_certificate(ca, ca_key, pkiutil.generate_key("ECDSA-P256"), "system:node:w1",
                                      [C.NODES_GROUP], ("client",), validity_seconds=3600)
    data = pkiutil.cert_to_pem(other) if certificate == "other-key" else b"not a certificate"
    with pytest.raises(tlsbootstrap.TLSBootstrapError, match="nothing was written"):
        tlsbootstrap.request_certificate(ApiWriter(_CSRDouble(data)), "w1", timeout=1, sleep=lambda _s: None)


def test_join_control_plane_not_a_mapping_is_not_echoed(tmp_path):
    from ansible_collections.kubeboot.cluster.plugins.module_utils import joinconfig
    path = _write(tmp_path, f"""\
        apiVersion: kubeadm.k8s.io/v1beta4
        kind: JoinConfiguration
        controlPlane: "{CERT_KEY}"
        discovery:
          bootstrapToken:
            apiServerEndpoint: 10.0.0.1:6443
            token: abcdef.0123456789abcdef
            unsafeSkipCAVerification: true
        """, "join.yaml")
    with pytest.raises(errors.ConfigError) as exc:
        joinconfig.build_join_config({"config": path, "node_name": "w1"}, default_address=lambda: ADDR)
    assert "controlPlane" in str(exc.value) and CERT_KEY not in str(exc.value)


def test_unusable_kubelet_conf_means_not_joined(tmp_path):
    from ansible_collections.kubeboot.cluster.plugins.module_utils import tlsbootstrap
    from ansible_collections.kubeboot.cluster.plugins.module_utils.files import HostFS, Writer
    fs = HostFS(str(tmp_path))
    Writer(fs).write("/etc/kubernetes/kubelet.conf", (
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: k, cluster: {server: 'https://10.0.0.1:6443'}}]\n"
        "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
        "users: [{name: u, user: {client-certificate-data: '%%%not base64', client-key-data: 'x'}}]\n"),
        0o600, secret=True)
    assert tlsbootstrap.existing_kubelet_identity(fs, b"", "https://10.0.0.1:6443") is None
