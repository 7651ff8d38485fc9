# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubeadm v1beta4 JoinConfiguration: defaults, validation, merge of module options.

`build_join_config(params)` returns a `JoinConfig`, an `InitConfig` look-alike (same
properties: node_name, advertise_address, bind_port, cert_dir, version, minor, ...) so the
pki/kubeconfig/manifests/kubelet functions written for init work unchanged on a joining
node. Its `cluster` starts as kubeadm's defaults and is replaced by the cluster's own
ClusterConfiguration (ConfigMap kube-system/kubeadm-config) with `adopt_cluster_configuration`
once discovery has found the cluster.
"""
from __future__ import annotations

import copy
import ipaddress
import re
from dataclasses import dataclass, field


from ansible_collections.kubeboot.cluster.plugins.module_utils.deps import yaml
from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import config as config_mod
from ansible_collections.kubeboot.cluster.plugins.module_utils import durations, netutil
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import ConfigError, InvalidValue

_HEX64_RE = re.compile(r"\A[0-9a-fA-F]{64}\Z")
TLS_BOOTSTRAP_MODES = ("kubelet", "module")

# module-only options (not part of kubeadm's config API)
FLAG_OPTIONS = ("discovery_ca_file", "tls_bootstrap_mode", "wait_for_kubelet", "rootfs", "config")


def default_join_configuration() -> dict:
    return {
        "apiVersion": C.KUBEADM_API_V1BETA4,
        "kind": "JoinConfiguration",
        "caCertPath": C.PKI_DIR + "/" + C.CA_BASE + ".crt",
        "nodeRegistration": {
            "name": "",
            "criSocket": C.DEFAULT_CRI_SOCKET,
            "taints": None,
            "kubeletExtraArgs": [],
            "ignorePreflightErrors": [],
            "imagePullPolicy": "IfNotPresent",
            "imagePullSerial": True,
        },
        "discovery": {"tlsBootstrapToken": ""},
        "skipPhases": [],
        "dryRun": False,
        "timeouts": dict(C.DEFAULT_TIMEOUTS),
    }


@dataclass
class JoinConfig(config_mod.InitConfig):
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

    def timeout(self, name: str) -> float:
        return durations.parse_duration(self.join["timeouts"].get(name, C.DEFAULT_TIMEOUTS[name]))

    def adopt_cluster_configuration(self, text: str, source: str = "kubeadm-config") -> None:
        """Replace `cluster` with the ClusterConfiguration stored in the cluster (YAML text)."""
        try:
            doc = yaml.safe_load(text) if text else None
        except yaml.YAMLError as exc:
            raise ConfigError(source, "ClusterConfiguration", f"valid YAML ({exc})") from None
        if not isinstance(doc, dict):
            raise ConfigError(source, "ClusterConfiguration", "a ClusterConfiguration YAML mapping")
        if doc.get("apiVersion") == C.KUBEADM_API_V1BETA3:
            doc, _unused = config_mod.convert_v1beta3("ClusterConfiguration", doc)
        version = str(doc.get("kubernetesVersion") or "")
        if not re.match(r"\Av\d+\.\d+\.\d+", version):
            raise ConfigError(source, version, "a ClusterConfiguration with a resolved kubernetesVersion")
        defaults = config_mod.default_cluster_configuration()
        if "external" in (doc.get("etcd") or {}):
            defaults["etcd"] = {}
        self.cluster = config_mod.deep_merge(defaults, doc)
        self.cluster_from_api = True


# --- config file ---------------------------------------------------------------------

def _load_file(path: str, warnings: list) -> dict:
    """The JoinConfiguration of a kubeadm config file (v1beta3 converted); other kinds ignored."""
    docs = config_mod.read_config_file(path)
    found = None
    for index, doc in enumerate(docs, 1):
        api, kind = doc.get("apiVersion"), doc.get("kind")
        if kind == "JoinConfiguration" and api in (C.KUBEADM_API_V1BETA4, C.KUBEADM_API_V1BETA3):
            if found is not None:
                raise ConfigError("config", path, f"document {index}: more than one JoinConfiguration")
            found = doc
        elif kind in ("InitConfiguration", "ClusterConfiguration", "KubeletConfiguration",
                      "KubeProxyConfiguration", "ResetConfiguration", "UpgradeConfiguration"):
            warnings.append(f"config {path}: document {index} ({kind}) is not used by join and was ignored")
        else:
            raise ConfigError("config", path, f"document {index} (apiVersion {api!r}, kind {kind!r}) "
                                              f"is not supported: expected JoinConfiguration "
                                              f"({C.KUBEADM_API_V1BETA4} or {C.KUBEADM_API_V1BETA3})")
    if found is None:
        raise ConfigError("config", path, "a file with a JoinConfiguration document")
    if found.get("apiVersion") == C.KUBEADM_API_V1BETA3:
        warnings.append(f"config {path}: JoinConfiguration uses the deprecated {C.KUBEADM_API_V1BETA3}; "
                        f"converted to {C.KUBEADM_API_V1BETA4}")
        found, _unused = config_mod.convert_v1beta3("JoinConfiguration", found)
        control = found.get("controlPlane")
        if isinstance(control, dict) and "joinControlPlane" in control:  # very old spelling
            control.update(control.pop("joinControlPlane") or {})
    known = set(default_join_configuration()) | {"controlPlane", "patches"}
    unknown = sorted(set(found) - known)
    if unknown:
        warnings.append(f"config {path}: JoinConfiguration: unknown field(s) {', '.join(unknown)} ignored")
        for key in unknown:
            found.pop(key)
    return found


# --- options ---------------------------------------------------------------------------

def _set(doc: dict, path: str, value) -> None:
    *parents, last = path.split(".")
    node = doc
    for key in parents:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[last] = value


def _get(doc: dict, path: str, default=None):
    node = doc
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            return default
        node = node[key]
    return node


OPTION_PATHS = {
    "api_server_endpoint": "discovery.bootstrapToken.apiServerEndpoint",
    "discovery_token": "discovery.bootstrapToken.token",
    "tls_bootstrap_token": "discovery.tlsBootstrapToken",
    "discovery_token_ca_cert_hash": "discovery.bootstrapToken.caCertHashes",
    "discovery_token_unsafe_skip_ca_verification": "discovery.bootstrapToken.unsafeSkipCAVerification",
    "discovery_file": "discovery.file.kubeConfigPath",
    "discovery_timeout": "timeouts.discovery",
    "node_name": "nodeRegistration.name",
    "cri_socket": "nodeRegistration.criSocket",
    "skip_phases": "skipPhases",
    "certificate_key": "controlPlane.certificateKey",
    "apiserver_advertise_address": "controlPlane.localAPIEndpoint.advertiseAddress",
    "apiserver_bind_port": "controlPlane.localAPIEndpoint.bindPort",
    "dry_run": "dryRun",
}


class _Sources:
    def __init__(self):
        self.by_path = {}

    def field(self, path: str) -> str:
        return self.by_path.get(path, path)


def _apply_options(doc: dict, file_doc: dict, params: dict, sources: _Sources, warnings: list) -> None:
    token = params.get("token")
    if token:
        # --token: both tokens, unless the specific option is given too
        for path, specific in (("discovery.bootstrapToken.token", "discovery_token"),
                               ("discovery.tlsBootstrapToken", "tls_bootstrap_token")):
            if not params.get(specific) and not (path == "discovery.bootstrapToken.token"
                                                 and params.get("discovery_file")):
                _set(doc, path, str(token).strip())
                sources.by_path[path] = "token"
    for option, path in OPTION_PATHS.items():
        value = params.get(option)
        if value is None or value == "":
            continue
        if option in ("dry_run", "discovery_token_unsafe_skip_ca_verification") and value is False:
            continue
        if isinstance(value, str):
            value = value.strip()
        if option == "node_name":
            value = value.lower()
        if option in ("discovery_token_ca_cert_hash", "skip_phases"):
            value = _as_list(value, option)
        missing = object()
        in_file = _get(file_doc, path, missing)
        if in_file is not missing and in_file != value:
            shown = "<hidden>" if option in ("discovery_token", "tls_bootstrap_token", "certificate_key") \
                else repr(value)
            warnings.append(f"option {option}={shown} overrides {path} from the config file")
        _set(doc, path, value)
        sources.by_path[path] = option
    if params.get("control_plane") and doc.get("controlPlane") is None:
        doc["controlPlane"] = {}
    ignore = params.get("ignore_preflight_errors")
    if ignore:
        reg = doc["nodeRegistration"]
        reg["ignorePreflightErrors"] = list(reg.get("ignorePreflightErrors") or []) + _as_list(
            ignore, "ignore_preflight_errors")
        sources.by_path["nodeRegistration.ignorePreflightErrors"] = "ignore_preflight_errors"


def _as_list(value, option: str) -> list:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    raise ConfigError(option, value, "a list of strings")


# --- build ------------------------------------------------------------------------------

def build_join_config(params: dict, default_address=None) -> JoinConfig:
    """kubeadm join's configuration: config file, then module options, then defaults; validated.

    `default_address`: callable giving this node's IP when a control-plane join names none
    (default: the default-route interface, like kubeadm).
    """
    params = dict(params or {})
    warnings = []
    file_doc = _load_file(params["config"], warnings) if params.get("config") else {}
    doc = config_mod.deep_merge(default_join_configuration(), file_doc)
    timeouts = dict(C.DEFAULT_TIMEOUTS)
    timeouts.update(file_doc.get("timeouts") or {})
    doc["timeouts"] = timeouts
    sources = _Sources()
    _apply_options(doc, file_doc, params, sources, warnings)
    _defaults(doc, sources, warnings, default_address or netutil.default_route_address)
    _validate(doc, sources, params, warnings)
    cluster = config_mod.default_cluster_configuration()
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


def _defaults(doc: dict, sources: _Sources, warnings: list, default_address) -> None:
    import socket
    reg = doc["nodeRegistration"]
    reg["name"] = str(reg.get("name") or socket.gethostname()).strip().lower()
    reg["criSocket"] = _cri_socket(sources.field("nodeRegistration.criSocket"),
                                   reg.get("criSocket") or C.DEFAULT_CRI_SOCKET, warnings)
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
        address = str(endpoint.get("advertiseAddress") or "").strip()
        field_name = sources.field("controlPlane.localAPIEndpoint.advertiseAddress")
        if address and not netutil.is_ip(address):
            raise ConfigError(field_name, address, "an IP address of this node")
        if not address or ipaddress.ip_address(address).is_unspecified:
            address = default_address()
        endpoint["advertiseAddress"] = address
        control.setdefault("certificateKey", "")
    for key, value in list(doc["timeouts"].items()):
        if key not in C.DEFAULT_TIMEOUTS:
            raise ConfigError("timeouts", key, "one of " + ", ".join(C.DEFAULT_TIMEOUTS))
        doc["timeouts"][key] = _duration(sources.field("timeouts." + key), value)
    reg["kubeletExtraArgs"] = _args(reg.get("kubeletExtraArgs"))


def _duration(field_name: str, value) -> str:
    try:
        return durations.normalize_duration(value, field_name)
    except InvalidValue as exc:
        raise ConfigError(field_name, value, exc.allowed) from None


def _args(args) -> list:
    if args is None:
        return []
    if isinstance(args, dict):
        raise ConfigError("nodeRegistration.kubeletExtraArgs", args,
                          "a list of {name, value} (v1beta4); a map is the v1beta3 form")
    if not isinstance(args, list):
        raise ConfigError("nodeRegistration.kubeletExtraArgs", args, "a list of {name, value}")
    out = []
    for arg in args:
        if not isinstance(arg, dict) or not arg.get("name"):
            raise ConfigError("nodeRegistration.kubeletExtraArgs", arg, "an entry {name, value}")
        value = arg.get("value")
        value = ("true" if value else "false") if isinstance(value, bool) else "" if value is None else str(value)
        out.append({"name": str(arg["name"]), "value": value})
    return out


def _cri_socket(field_name: str, value, warnings: list) -> str:
    text = str(value).strip()
    if "dockershim" in text:
        raise ConfigError(field_name, text, config_mod.DOCKERSHIM_MESSAGE)
    if "://" not in text:
        if not text.startswith("/"):
            raise ConfigError(field_name, text, "a CRI endpoint such as " + C.DEFAULT_CRI_SOCKET)
        warnings.append(f"{field_name}: CRI endpoint {text!r} has no URL scheme; using 'unix://{text}'")
        text = "unix://" + text
    elif not text.startswith(("unix://", "npipe://")):
        raise ConfigError(field_name, text, "a unix:// CRI endpoint such as " + C.DEFAULT_CRI_SOCKET)
    return text


def _validate(doc: dict, sources: _Sources, params: dict, warnings: list) -> None:
    from ansible_collections.kubeboot.cluster.plugins.module_utils import discovery as discovery_mod
    from ansible_collections.kubeboot.cluster.plugins.module_utils import tokens
    reg = doc["nodeRegistration"]
    if not config_mod.is_dns1123_subdomain(reg["name"]):
        raise ConfigError(sources.field("nodeRegistration.name"), reg["name"],
                          "a lowercase RFC 1123 subdomain (letters, digits, '-' and '.')")
    if "all" in reg["ignorePreflightErrors"] and len(reg["ignorePreflightErrors"]) > 1:
        raise ConfigError(sources.field("nodeRegistration.ignorePreflightErrors"),
                          reg["ignorePreflightErrors"], "'all' cannot be combined with check names")
    discovery = doc["discovery"]
    bootstrap = discovery.get("bootstrapToken")
    file_part = discovery.get("file")
    for name, part in (("bootstrapToken", bootstrap), ("file", file_part)):
        if part is not None and not isinstance(part, dict):
            raise ConfigError(sources.field(f"discovery.{name}"), f"<{type(part).__name__}>",
                              "a mapping (see kubeadm's JoinConfiguration v1beta4)")
    if bootstrap and file_part:
        raise ConfigError("discovery", "bootstrapToken and file",
                          "either token discovery (api_server_endpoint + token) or discovery_file, not both")
    if not bootstrap and not file_part:
        raise ConfigError("discovery", "<none>",
                          "token discovery (api_server_endpoint, token, discovery_token_ca_cert_hash) "
                          "or file discovery (discovery_file)")
    if bootstrap:
        token_field = sources.field("discovery.bootstrapToken.token")
        tokens.split_token(bootstrap.get("token") or "", token_field)
        endpoint = bootstrap.get("apiServerEndpoint") or ""
        endpoint_field = sources.field("discovery.bootstrapToken.apiServerEndpoint")
        _check_endpoint(endpoint_field, endpoint)
        hashes_field = sources.field("discovery.bootstrapToken.caCertHashes")
        hashes = bootstrap.get("caCertHashes") or []
        if not isinstance(hashes, list):
            raise ConfigError(hashes_field, hashes, "a list of sha256:<64 hex> pins")
        bootstrap["caCertHashes"] = [discovery_mod.parse_pin(h, hashes_field, warnings) for h in hashes]
        if not bootstrap["caCertHashes"] and not bootstrap.get("unsafeSkipCAVerification"):
            raise ConfigError(hashes_field, [], discovery_mod.NO_PIN_HELP)
    else:
        path = (file_part or {}).get("kubeConfigPath") if isinstance(file_part, dict) else None
        if not path or not isinstance(path, str):
            raise ConfigError(sources.field("discovery.file.kubeConfigPath"), path,
                              "a local kubeconfig path or an https:// URL")
        if path.startswith("http://"):
            raise ConfigError(sources.field("discovery.file.kubeConfigPath"), path,
                              "an https:// URL (plain http cannot be trusted) or a local path")
    tls_token = discovery.get("tlsBootstrapToken") or ""
    if tls_token:
        tokens.split_token(tls_token, sources.field("discovery.tlsBootstrapToken"))
    control = doc.get("controlPlane")
    if control is not None:
        key = control.get("certificateKey") or ""
        if key and not _HEX64_RE.match(str(key)):
            raise ConfigError(sources.field("controlPlane.certificateKey"), "<hidden>",
                              "64 hexadecimal characters (from kubeadm_init upload_certs / "
                              "`kubeadm certs certificate-key`)")
        port = control["localAPIEndpoint"].get("bindPort")
        if isinstance(port, str) and port.isdigit():
            port = int(port)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ConfigError(sources.field("controlPlane.localAPIEndpoint.bindPort"), port,
                              "a port number from 1 to 65535")
        control["localAPIEndpoint"]["bindPort"] = port
    elif params.get("certificate_key") or params.get("apiserver_advertise_address"):
        warnings.append("certificate_key / apiserver_advertise_address only apply to a control-plane "
                        "join (control_plane: true); ignored")
    mode = params.get("tls_bootstrap_mode") or "kubelet"
    if mode not in TLS_BOOTSTRAP_MODES:
        raise ConfigError("tls_bootstrap_mode", mode, "one of " + ", ".join(TLS_BOOTSTRAP_MODES))
    if not isinstance(doc.get("skipPhases"), list):
        raise ConfigError("skipPhases", doc.get("skipPhases"), "a list of phase names")
    if not isinstance(doc.get("dryRun"), bool):
        raise ConfigError(sources.field("dryRun"), doc.get("dryRun"), "true or false")


def _check_endpoint(field_name: str, endpoint: str) -> None:
    if not endpoint:
        raise ConfigError(field_name, endpoint, "the API server endpoint host:port (IPv6 as [addr]:port)")
    try:
        host, port = netutil.split_host_port(endpoint)
    except InvalidValue:
        raise ConfigError(field_name, endpoint, "host:port with a port from 1 to 65535") from None
    if port is None:
        raise ConfigError(field_name, endpoint, "host:port (the port is required, e.g. 10.0.0.1:6443)")
    if ":" in host and not endpoint.startswith("["):
        raise ConfigError(field_name, endpoint, "an IPv6 address in brackets: [2001:db8::1]:6443")
    if not (netutil.is_ip(host) or config_mod.is_dns1123_subdomain(host)):
        raise ConfigError(field_name, endpoint, "host:port where host is an IP address or a DNS name")


def join_configuration_document(cfg: JoinConfig) -> dict:
    """The JoinConfiguration as kubeadm would print it (tokens hidden)."""
    doc = copy.deepcopy(cfg.join)
    bootstrap = doc["discovery"].get("bootstrapToken")
    if bootstrap and bootstrap.get("token"):
        bootstrap["token"] = "<hidden>"
    if doc["discovery"].get("tlsBootstrapToken"):
        doc["discovery"]["tlsBootstrapToken"] = "<hidden>"
    if (doc.get("controlPlane") or {}).get("certificateKey"):
        doc["controlPlane"]["certificateKey"] = "<hidden>"
    return doc
