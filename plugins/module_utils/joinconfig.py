# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubeadm v1beta4 JoinConfiguration: defaults, validation, merge of module options.

`build_join_config(params)` returns a `JoinConfig`, an `InitConfig` look-alike (same
properties: node_name, advertise_address, bind_port, cert_dir, version, minor, ...) so the
pki/kubeconfig/manifests/kubelet functions written for init work unchanged on a joining
node. Its `cluster` starts as kubeadm's defaults and is replaced by the cluster's own
ClusterConfiguration (ConfigMap kube-system/kubeadm-config) with `adopt_cluster_configuration`
once discovery has found the cluster. Built on the shared config layer (kubeadmconfig,
options, validators) like config.py.
"""
from __future__ import annotations

import copy
import ipaddress
import socket
from dataclasses import dataclass, field

from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import (
    docutil, netutil, options, pubkeypin, tokens, validators)
from ansible_collections.kubeboot.cluster.plugins.module_utils.config import InitConfig
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import HIDDEN, ConfigError
from ansible_collections.kubeboot.cluster.plugins.module_utils.kubeadmconfig import (
    INLINE, Builder, cluster_configuration_from_text, default_cluster_configuration, default_join_configuration,
    inline_documents, load_documents)

TLS_BOOTSTRAP_MODES = options.TLS_BOOTSTRAP_MODES
# module-only options (not part of kubeadm's config API)
FLAG_OPTIONS = ("discovery_ca_file", "tls_bootstrap_mode", "wait_for_kubelet", "rootfs", "config")


@dataclass
class JoinConfig(InitConfig):
    """InitConfig-compatible view of a join. `join` is the defaulted JoinConfiguration."""

    join: dict = field(default_factory=dict)
    cluster_from_api: bool = False

    @property
    def control_plane(self) -> bool:
        return self.join.get("controlPlane") is not None

    @property
    def discovery(self) -> dict:
        return self.join["discovery"]

    @property
    def tls_bootstrap_token(self) -> str:
        return self.join["discovery"].get("tlsBootstrapToken") or ""

    @property
    def certificate_key(self) -> str:
        return (self.join.get("controlPlane") or {}).get("certificateKey") or ""

    def adopt_cluster_configuration(self, text: str, source: str = "kubeadm-config") -> None:
        """Replace `cluster` with the ClusterConfiguration stored in the cluster (YAML text)."""
        self.cluster = cluster_configuration_from_text(text, source, self.warnings)
        self.cluster_from_api = True


# --- build ------------------------------------------------------------------------------

def build_join_config(params: dict, default_address=None) -> JoinConfig:
    """kubeadm join's configuration: config file, then module options, then defaults; validated.

    `default_address`: callable giving this node's IP when a control-plane join names none
    (default: the default-route interface, like kubeadm).
    """
    params = dict(params or {})
    warnings = []
    file_doc = {}
    inline = inline_documents(params.get("config_documents"))
    if params.get("config") or inline:
        found, _moved = load_documents(params.get("config"), "join", warnings, inline)
        if "JoinConfiguration" not in found:
            source = ("config", params["config"]) if params.get("config") else (INLINE, "config_documents")
            raise ConfigError(*source, "a JoinConfiguration document")
        file_doc = {k: v for k, v in found["JoinConfiguration"].items() if k != "_v1beta3"}
    doc = docutil.deep_merge(default_join_configuration(), file_doc)
    doc["timeouts"] = dict(C.DEFAULT_TIMEOUTS, **(file_doc.get("timeouts") or {}))
    builder = Builder({"join": doc}, {"join": file_doc}, warnings, options.secret_options(options.JOIN))
    options.apply(builder, options.JOIN, params)
    _defaults(builder, default_address or netutil.default_route_address)
    _validate(builder, params)
    cluster = default_cluster_configuration()
    cluster["kubernetesVersion"] = ""  # known only after discovery (kubeadm-config)
    cfg = JoinConfig(init=_init_view(doc), cluster=cluster, warnings=warnings, join=doc,
                     options={k: params.get(k) for k in FLAG_OPTIONS})
    cfg.options["tls_bootstrap_mode"] = params.get("tls_bootstrap_mode") or "kubelet"
    return cfg


def _init_view(doc: dict) -> dict:
    """The InitConfiguration-shaped dict the init-era functions read (shares nodeRegistration)."""
    control = doc.get("controlPlane") or {}
    endpoint = control.get("localAPIEndpoint") or {}
    return {
        "apiVersion": C.KUBEADM_API_V1BETA4,
        "kind": "InitConfiguration",
        "bootstrapTokens": [],
        "nodeRegistration": doc["nodeRegistration"],
        "localAPIEndpoint": {"advertiseAddress": endpoint.get("advertiseAddress", ""),
                             "bindPort": endpoint.get("bindPort", C.APISERVER_PORT)},
        "certificateKey": control.get("certificateKey", ""),
        "skipPhases": doc.get("skipPhases") or [],
        "dryRun": bool(doc.get("dryRun")),
        "timeouts": doc["timeouts"],
        "patches": doc.get("patches"),
    }


def _defaults(b: Builder, default_address) -> None:
    doc = b.docs["join"]
    reg = doc["nodeRegistration"]
    reg["name"] = str(reg.get("name") or socket.gethostname()).strip().lower()
    reg["criSocket"] = validators.cri_socket(b.field("join", "nodeRegistration.criSocket"),
                                             reg.get("criSocket") or C.DEFAULT_CRI_SOCKET, b.warnings)
    reg["ignorePreflightErrors"] = sorted({str(v).strip().lower()
                                           for v in reg.get("ignorePreflightErrors") or [] if str(v).strip()})
    discovery = doc["discovery"]
    bootstrap = discovery.get("bootstrapToken")
    if isinstance(bootstrap, dict):
        bootstrap.setdefault("caCertHashes", [])
        bootstrap.setdefault("unsafeSkipCAVerification", False)
        # kubeadm: tlsBootstrapToken defaults to the discovery token
        if not discovery.get("tlsBootstrapToken") and bootstrap.get("token"):
            discovery["tlsBootstrapToken"] = bootstrap["token"]
    control = doc.get("controlPlane")
    if control is not None:
        if not isinstance(control, dict):
            # not repeated: a mistyped `controlPlane: <certificate key>` would be printed
            raise ConfigError("controlPlane", f"<{type(control).__name__}>",
                              "a mapping (localAPIEndpoint, certificateKey)")
        endpoint = control.setdefault("localAPIEndpoint", {})
        endpoint.setdefault("bindPort", C.APISERVER_PORT)
        address = validators.ip_address(b.field("join", "controlPlane.localAPIEndpoint.advertiseAddress"),
                                        endpoint.get("advertiseAddress"))
        if not address or ipaddress.ip_address(address).is_unspecified:
            address = default_address()
        endpoint["advertiseAddress"] = address
        control.setdefault("certificateKey", "")
    doc["timeouts"] = validators.timeouts("timeouts", doc["timeouts"],
                                          lambda key: b.field("join", "timeouts." + key))
    reg["kubeletExtraArgs"] = validators.extra_args("nodeRegistration.kubeletExtraArgs", reg.get("kubeletExtraArgs"))


def _validate(b: Builder, params: dict) -> None:
    doc = b.docs["join"]
    b.check("join", "nodeRegistration.name", validators.node_name)
    b.check("join", "nodeRegistration.ignorePreflightErrors", validators.ignore_preflight_errors)
    b.check("join", "nodeRegistration.taints", validators.taints)
    b.check("join", "caCertPath", validators.ca_cert_path)
    _validate_discovery(b)
    control = doc.get("controlPlane")
    if control is not None:
        b.check("join", "controlPlane.certificateKey", validators.certificate_key)
        b.check("join", "controlPlane.localAPIEndpoint.bindPort", validators.port)
    mode = params.get("tls_bootstrap_mode") or "kubelet"
    if mode not in TLS_BOOTSTRAP_MODES:
        raise ConfigError("tls_bootstrap_mode", mode, "one of " + ", ".join(TLS_BOOTSTRAP_MODES))
    if not isinstance(doc.get("skipPhases"), list):
        raise ConfigError("skipPhases", doc.get("skipPhases"), "a list of phase names")
    b.check("join", "dryRun", validators.boolean)


def _validate_discovery(b: Builder) -> None:
    discovery = b.docs["join"]["discovery"]
    bootstrap = discovery.get("bootstrapToken")
    file_part = discovery.get("file")
    for name, part in (("bootstrapToken", bootstrap), ("file", file_part)):
        if part is not None and not isinstance(part, dict):
            raise ConfigError(b.field("join", f"discovery.{name}"), f"<{type(part).__name__}>",
                              "a mapping (see kubeadm's JoinConfiguration v1beta4)")
    if bootstrap and file_part:
        raise ConfigError("discovery", "bootstrapToken and file",
                          "either token discovery (api_server_endpoint + token) or discovery_file, not both")
    if not bootstrap and not file_part:
        raise ConfigError("discovery", "<none>",
                          "token discovery (api_server_endpoint, token, discovery_token_ca_cert_hash) "
                          "or file discovery (discovery_file)")
    if bootstrap:
        tokens.split_token(bootstrap.get("token") or "", b.field("join", "discovery.bootstrapToken.token"))
        validators.host_port(b.field("join", "discovery.bootstrapToken.apiServerEndpoint"),
                             bootstrap.get("apiServerEndpoint") or "", port_required=True)
        hashes_field = b.field("join", "discovery.bootstrapToken.caCertHashes")
        hashes = bootstrap.get("caCertHashes") or []
        if not isinstance(hashes, list):
            raise ConfigError(hashes_field, hashes, "a list of sha256:<64 hex> pins")
        bootstrap["caCertHashes"] = [pubkeypin.parse(h, hashes_field, b.warnings) for h in hashes]
        if not bootstrap["caCertHashes"] and not bootstrap.get("unsafeSkipCAVerification"):
            raise ConfigError(hashes_field, [], pubkeypin.NO_PIN_HELP)
    else:
        path = file_part.get("kubeConfigPath")
        path_field = b.field("join", "discovery.file.kubeConfigPath")
        if not path or not isinstance(path, str):
            raise ConfigError(path_field, path, "a local kubeconfig path or an https:// URL")
        if path.startswith("http://"):
            raise ConfigError(path_field, path, "an https:// URL (plain http cannot be trusted) or a local path")
    tls_token = discovery.get("tlsBootstrapToken") or ""
    if tls_token:
        tokens.split_token(tls_token, b.field("join", "discovery.tlsBootstrapToken"))


def join_configuration_document(cfg: JoinConfig) -> dict:
    """The JoinConfiguration as kubeadm would print it (tokens hidden)."""
    doc = copy.deepcopy(cfg.join)
    bootstrap = doc["discovery"].get("bootstrapToken")
    if bootstrap and bootstrap.get("token"):
        bootstrap["token"] = HIDDEN
    if doc["discovery"].get("tlsBootstrapToken"):
        doc["discovery"]["tlsBootstrapToken"] = HIDDEN
    if (doc.get("controlPlane") or {}).get("certificateKey"):
        doc["controlPlane"]["certificateKey"] = HIDDEN
    return doc
