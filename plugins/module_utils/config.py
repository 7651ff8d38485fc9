# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubeadm v1beta4 configuration model: defaults, validation, merge of module options.

The model is kubeadm's own API shape as plain dicts (camelCase keys), fully
defaulted, so every other module reads e.g. cfg.cluster["networking"]["serviceSubnet"]
exactly as kubeadm documents it.
"""
from __future__ import annotations

import copy
import ipaddress
import re
import socket
from dataclasses import dataclass, field


from ansible_collections.kubeboot.cluster.plugins.module_utils.deps import yaml
from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import durations, netutil
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import HIDDEN, ConfigError, InvalidValue


@dataclass
class InitConfig:
    """Everything `kubeadm init` knows after reading flags + config file."""

    init: dict           # InitConfiguration (v1beta4), defaulted, advertiseAddress resolved
    cluster: dict        # ClusterConfiguration (v1beta4), defaulted, kubernetesVersion resolved (vX.Y.Z)
    kubelet: dict = field(default_factory=dict)     # user KubeletConfiguration document ({} if none)
    kube_proxy: dict = field(default_factory=dict)  # user KubeProxyConfiguration document ({} if none)
    warnings: list = field(default_factory=list)
    # kubeadm flags that are not part of the config API: upload_certs, skip_token_print, config
    options: dict = field(default_factory=dict)

    @property
    def version(self) -> str:
        return self.cluster["kubernetesVersion"]

    @property
    def minor(self) -> int:
        return int(self.version.lstrip("v").split(".")[1])

    @property
    def node_name(self) -> str:
        return self.init["nodeRegistration"]["name"]

    @property
    def advertise_address(self) -> str:
        return self.init["localAPIEndpoint"]["advertiseAddress"]

    @property
    def bind_port(self) -> int:
        return self.init["localAPIEndpoint"]["bindPort"]

    @property
    def cert_dir(self) -> str:
        return self.cluster["certificatesDir"]

    @property
    def local_etcd(self) -> bool:
        return "external" not in self.cluster["etcd"]

    def feature_enabled(self, gate: str, default=None) -> bool:
        """The gate's value; when unset: `default` if given, else kubeadm's default for cfg.minor."""
        gates = self.cluster.get("featureGates") or {}
        if gate in gates:
            return bool(gates[gate])
        if default is not None:
            return bool(default)
        return feature_gate_default(gate, self.minor)


def default_cluster_configuration() -> dict:
    return {
        "apiVersion": C.KUBEADM_API_V1BETA4,
        "kind": "ClusterConfiguration",
        "kubernetesVersion": C.DEFAULT_KUBERNETES_VERSION,
        "controlPlaneEndpoint": "",
        "certificatesDir": C.PKI_DIR,
        "imageRepository": C.DEFAULT_IMAGE_REPOSITORY,
        "clusterName": C.CLUSTER_NAME,
        "encryptionAlgorithm": C.DEFAULT_ENCRYPTION_ALGORITHM,
        "certificateValidityPeriod": C.DEFAULT_CERT_VALIDITY,
        "caCertificateValidityPeriod": C.DEFAULT_CA_CERT_VALIDITY,
        "networking": {
            "serviceSubnet": C.DEFAULT_SERVICE_SUBNET,
            "podSubnet": "",
            "dnsDomain": C.DEFAULT_DNS_DOMAIN,
        },
        "etcd": {"local": {
            "dataDir": C.ETCD_DATA_DIR,
            "extraArgs": [], "extraEnvs": [],
            "serverCertSANs": [], "peerCertSANs": [],
        }},
        "apiServer": {"extraArgs": [], "extraEnvs": [], "extraVolumes": [], "certSANs": []},
        "controllerManager": {"extraArgs": [], "extraEnvs": [], "extraVolumes": []},
        "scheduler": {"extraArgs": [], "extraEnvs": [], "extraVolumes": []},
        "dns": {"disabled": False},
        "proxy": {"disabled": False},
        "featureGates": {},
    }


def default_init_configuration() -> dict:
    return {
        "apiVersion": C.KUBEADM_API_V1BETA4,
        "kind": "InitConfiguration",
        "bootstrapTokens": [{
            "token": "",  # empty: generated at bootstrap-token time
            "ttl": C.DEFAULT_TOKEN_TTL,
            "usages": list(C.TOKEN_USAGES),
            "groups": [C.DEFAULT_TOKEN_GROUP],
        }],
        "nodeRegistration": {
            "name": "",
            "criSocket": C.DEFAULT_CRI_SOCKET,
            "taints": None,  # None: the control-plane NoSchedule taint; [] none
            "kubeletExtraArgs": [],
            "ignorePreflightErrors": [],
            "imagePullPolicy": "IfNotPresent",
            "imagePullSerial": True,
        },
        "localAPIEndpoint": {"advertiseAddress": "", "bindPort": C.APISERVER_PORT},
        "certificateKey": "",
        "skipPhases": [],
        "dryRun": False,
        "timeouts": dict(C.DEFAULT_TIMEOUTS),
    }


def sample_init_config(**overrides) -> InitConfig:
    """A fully defaulted InitConfig without reading the host (tests, docs).

    overrides: node_name, advertise_address, version, plus any dotted
    'cluster.networking.podSubnet'-style keys given as a dict in `paths`.
    """
    cluster = default_cluster_configuration()
    init = default_init_configuration()
    cluster["kubernetesVersion"] = overrides.pop("version", "v1.34.10")
    init["nodeRegistration"]["name"] = overrides.pop("node_name", "cp1")
    init["localAPIEndpoint"]["advertiseAddress"] = overrides.pop("advertise_address", "192.0.2.10")
    for dotted, value in overrides.pop("paths", {}).items():
        root, *keys = dotted.split(".")
        target = cluster if root == "cluster" else init
        for key in keys[:-1]:
            target = target.setdefault(key, {})
        target[keys[-1]] = copy.deepcopy(value)
    if overrides:
        raise TypeError(f"unknown overrides {sorted(overrides)}")
    return InitConfig(init=init, cluster=cluster)


# =============================================================================
# kubeadm feature gates per target minor (cmd/kubeadm/app/features/features.go history,
# versions.md §4). stage: alpha | beta | GA (locked to its default) | deprecated.
# Gates removed after GA keep their behaviour: GRADUATED lists them (always on).
# =============================================================================
FEATURE_GATES = {
    "ControlPlaneKubeletLocalMode": {33: ("beta", True), 34: ("beta", True), 35: ("GA", True)},
    "NodeLocalCRISocket": {33: ("alpha", False), 34: ("beta", True), 35: ("beta", True),
                           36: ("GA", True)},
    "WaitForAllControlPlaneComponents": {33: ("beta", True), 34: ("GA", True)},
    "PublicKeysECDSA": {m: ("deprecated", False) for m in (33, 34, 35, 36)},
    # deprecated since 1.31; still listed through 1.37 (removal not seen in the sources)
    "RootlessControlPlane": {m: ("deprecated", False) for m in (33, 34, 35, 36, 37)},
}
# gate -> first minor where it is gone because it graduated (behaviour always on)
GRADUATED = {"ControlPlaneKubeletLocalMode": 36, "NodeLocalCRISocket": 37,
             "WaitForAllControlPlaneComponents": 35}


def kubeadm_feature_gates(minor: int) -> dict:
    """{gate: (stage, default)} kubeadm accepts when deploying 1.<minor>."""
    return {name: spec[minor] for name, spec in FEATURE_GATES.items() if minor in spec}


def feature_gate_default(gate: str, minor: int) -> bool:
    spec = kubeadm_feature_gates(minor).get(gate)
    if spec:
        return spec[1]
    return gate in GRADUATED and minor >= GRADUATED[gate]


# =============================================================================
# small validators
# =============================================================================
_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN_RE = re.compile(r"\A%s(\.%s)*\Z" % (_LABEL, _LABEL))
_HEX64_RE = re.compile(r"\A[0-9a-fA-F]{64}\Z")
_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")
DOCKERSHIM_MESSAGE = (
    "dockershim was removed in Kubernetes 1.24; use containerd "
    "(unix:///var/run/containerd/containerd.sock) or cri-dockerd (unix:///var/run/cri-dockerd.sock)")
KNOWN_DOCS = {
    "InitConfiguration": (C.KUBEADM_API_V1BETA4, C.KUBEADM_API_V1BETA3),
    "ClusterConfiguration": (C.KUBEADM_API_V1BETA4, C.KUBEADM_API_V1BETA3),
    "KubeletConfiguration": (C.KUBELET_API,),
    "KubeProxyConfiguration": (C.KUBEPROXY_API,),
}
IGNORED_KUBEADM_KINDS = ("JoinConfiguration", "ResetConfiguration", "UpgradeConfiguration")
_KNOWN_KEYS = {
    "InitConfiguration": set(default_init_configuration()) | {"patches"},
    "ClusterConfiguration": set(default_cluster_configuration()),
}


def is_dns1123_subdomain(value) -> bool:
    return isinstance(value, str) and len(value) <= 253 and bool(_SUBDOMAIN_RE.match(value))


def is_valid_san(value) -> bool:
    """kubeadm ValidateCertSANs: DNS-1123 subdomain, wildcard '*.foo', or an IP."""
    if not isinstance(value, str):
        return False
    if value.startswith("*.") and is_dns1123_subdomain(value[2:]):
        return True
    return is_dns1123_subdomain(value) or netutil.is_ip(value)


def parse_bool(value, field: str, name: str) -> bool:
    """Go strconv.ParseBool (what kubeadm uses for --feature-gates values)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip() in _TRUE + _FALSE:
        return value.strip() in _TRUE
    raise ConfigError(field, f"{name}={value}", "feature gate values must be true or false")


def parse_feature_gates(value, field: str = "feature_gates") -> dict:
    """A dict, or 'A=true,B=false' -> {name: bool}."""
    if value is None or value == "":
        return {}
    if isinstance(value, dict):
        return {str(k).strip(): parse_bool(v, field, k) for k, v in value.items()}
    if not isinstance(value, str):
        raise ConfigError(field, value, "a mapping of gate name to true/false, or 'A=true,B=false'")
    gates = {}
    for part in [p.strip() for p in value.split(",") if p.strip()]:
        name, sep, raw = part.partition("=")
        if not sep:
            raise ConfigError(field, part, "missing boolean value: use Name=true or Name=false")
        gates[name.strip()] = parse_bool(raw, field, name.strip())
    return gates


def _as_list(value, field: str) -> list:
    """A list, or a comma-separated string -> list of stripped strings."""
    if value is None:
        return []
    if isinstance(value, str):
        return [p.strip() for p in value.split(",") if p.strip()]
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value]
    raise ConfigError(field, value, "a list of strings")


# =============================================================================
# dotted paths into the two kubeadm documents
# =============================================================================
def _get(doc, path: str, default=None):
    node = doc
    for key in path.split("."):
        if isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        elif isinstance(node, dict) and key in node:
            node = node[key]
        else:
            return default
    return node


def _set(doc, path: str, value) -> None:
    *parents, last = path.split(".")
    node = doc
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def deep_merge(base: dict, over: dict) -> dict:
    """`over` onto a copy of `base`: mappings merge, everything else (lists too) replaces."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


# =============================================================================
# config file: read, split, convert v1beta3
# =============================================================================
def read_config_file(path: str) -> list:
    """The YAML documents of a kubeadm config file on the controller/host filesystem (plain open)."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("config", path, f"a readable kubeadm config file ({exc})") from None
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError("config", path, f"valid YAML: parse error{where}: {problem}") from None
    for index, doc in enumerate(docs, 1):
        if not isinstance(doc, dict):
            raise ConfigError("config", path, f"document {index} must be a YAML mapping with "
                                              f"apiVersion and kind, got {type(doc).__name__}")
    return docs


def split_documents(docs: list, path: str, warnings: list) -> dict:
    """{kind: document} for the kinds kubeadm init reads; unknown apiVersion/kind is an error."""
    found = {}
    for index, doc in enumerate(docs, 1):
        api, kind = doc.get("apiVersion"), doc.get("kind")
        label = f"document {index} (apiVersion {api!r}, kind {kind!r})"
        if kind in IGNORED_KUBEADM_KINDS and api in (C.KUBEADM_API_V1BETA4, C.KUBEADM_API_V1BETA3):
            warnings.append(f"config {path}: {label} is not used by init and was ignored")
            continue
        if kind not in KNOWN_DOCS or api not in KNOWN_DOCS[kind]:
            raise ConfigError("config", path, f"{label} is not supported: expected "
                              + "; ".join(f"{k} ({' or '.join(v)})" for k, v in KNOWN_DOCS.items()))
        if kind in found:
            raise ConfigError("config", path, f"{label}: more than one {kind} document")
        found[kind] = doc
    return found


def _args_map_to_list(value, where: str) -> list:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if not isinstance(value, dict):
        raise ConfigError(where, value, "a map of flag name to value (v1beta3)")
    return [{"name": str(k), "value": _arg_text(v)} for k, v in sorted(value.items())]


def convert_v1beta3(kind: str, doc: dict) -> tuple:
    """v1beta3 document -> (v1beta4 document, timeouts moved out of it). Mirrors kubeadm's conversion."""
    doc = copy.deepcopy(doc)
    doc["apiVersion"] = C.KUBEADM_API_V1BETA4
    moved = {}
    if kind == "ClusterConfiguration":
        for comp in ("apiServer", "controllerManager", "scheduler"):
            if isinstance(doc.get(comp), dict) and "extraArgs" in doc[comp]:
                doc[comp]["extraArgs"] = _args_map_to_list(doc[comp]["extraArgs"], f"{comp}.extraArgs")
        local = _get(doc, "etcd.local")
        if isinstance(local, dict) and "extraArgs" in local:
            local["extraArgs"] = _args_map_to_list(local["extraArgs"], "etcd.local.extraArgs")
        api_server = doc.get("apiServer")
        if isinstance(api_server, dict) and "timeoutForControlPlane" in api_server:
            moved["controlPlaneComponentHealthCheck"] = durations.normalize_duration(
                api_server.pop("timeoutForControlPlane"), "apiServer.timeoutForControlPlane")
    reg = doc.get("nodeRegistration")
    if isinstance(reg, dict) and "kubeletExtraArgs" in reg:
        reg["kubeletExtraArgs"] = _args_map_to_list(reg["kubeletExtraArgs"],
                                                    "nodeRegistration.kubeletExtraArgs")
    discovery = doc.get("discovery")
    if kind == "JoinConfiguration" and isinstance(discovery, dict) and "timeout" in discovery:
        doc.setdefault("timeouts", {})["discovery"] = durations.normalize_duration(
            discovery.pop("timeout"), "discovery.timeout")
    return doc, moved


def _load_file_documents(path: str, warnings: list) -> dict:
    """{kind: v1beta4 document} from a config file, v1beta3 converted."""
    found = split_documents(read_config_file(path), path, warnings)
    moved = {}
    for kind in ("InitConfiguration", "ClusterConfiguration"):
        if found.get(kind, {}).get("apiVersion") == C.KUBEADM_API_V1BETA3:
            warnings.append(f"config {path}: {kind} uses the deprecated {C.KUBEADM_API_V1BETA3}; "
                            f"converted to {C.KUBEADM_API_V1BETA4} (migrate with `kubeadm config migrate`)")
            found[kind], part = convert_v1beta3(kind, found[kind])
            moved.update(part)
            found[kind]["_v1beta3"] = True
    if moved:
        init = found.setdefault("InitConfiguration", {"apiVersion": C.KUBEADM_API_V1BETA4,
                                                      "kind": "InitConfiguration"})
        for key, value in moved.items():
            init.setdefault("timeouts", {}).setdefault(key, value)
    for kind in ("InitConfiguration", "ClusterConfiguration"):
        unknown = sorted(set(found.get(kind, {})) - _KNOWN_KEYS[kind] - {"_v1beta3"})
        if unknown:
            warnings.append(f"config {path}: {kind}: unknown field(s) {', '.join(unknown)} ignored")
            for key in unknown:
                found[kind].pop(key)
    return found


# =============================================================================
# build_init_config
# =============================================================================
# module option -> (document, dotted path); feature_gates and ignore_preflight_errors merge instead.
OPTION_PATHS = {
    "image_repository": ("cluster", "imageRepository"),
    "apiserver_advertise_address": ("init", "localAPIEndpoint.advertiseAddress"),
    "apiserver_bind_port": ("init", "localAPIEndpoint.bindPort"),
    "apiserver_cert_extra_sans": ("cluster", "apiServer.certSANs"),
    "cert_dir": ("cluster", "certificatesDir"),
    "cri_socket": ("init", "nodeRegistration.criSocket"),
    "dry_run": ("init", "dryRun"),
    "kubernetes_version": ("cluster", "kubernetesVersion"),
    "node_name": ("init", "nodeRegistration.name"),
    "pod_network_cidr": ("cluster", "networking.podSubnet"),
    "service_cidr": ("cluster", "networking.serviceSubnet"),
    "service_dns_domain": ("cluster", "networking.dnsDomain"),
    "token": ("init", "bootstrapTokens.0.token"),
    "token_ttl": ("init", "bootstrapTokens.0.ttl"),
    "control_plane_endpoint": ("cluster", "controlPlaneEndpoint"),
    "skip_phases": ("init", "skipPhases"),
    "encryption_algorithm": ("cluster", "encryptionAlgorithm"),
    "certificate_validity_period": ("cluster", "certificateValidityPeriod"),
    "ca_certificate_validity_period": ("cluster", "caCertificateValidityPeriod"),
    "certificate_key": ("init", "certificateKey"),
}
FLAG_OPTIONS = ("upload_certs", "skip_token_print", "config")
_SECRET_OPTIONS = ("token", "certificate_key")


class _Builder:
    """Holds the two documents being built and where each value came from (option or file)."""

    def __init__(self, init: dict, cluster: dict, file_docs: dict, warnings: list):
        self.docs = {"init": init, "cluster": cluster}
        self.file = {"init": file_docs.get("InitConfiguration", {}),
                     "cluster": file_docs.get("ClusterConfiguration", {})}
        self.sources = {}
        self.warnings = warnings
        self.config_path = None

    def field(self, doc: str, path: str) -> str:
        """The name the user wrote: the module option, else the config path."""
        return self.sources.get((doc, path), path)

    def get(self, doc: str, path: str, default=None):
        return _get(self.docs[doc], path, default)

    def override(self, option: str, doc: str, path: str, value) -> None:
        missing = object()
        in_file = _get(self.file[doc], path, missing)
        if in_file is not missing and in_file != value:
            if option in _SECRET_OPTIONS:  # never repeat a token or certificate key
                self.warnings.append(f"option {option} overrides {path} from the config file")
            else:
                self.warnings.append(f"option {option}={value!r} overrides {path}={in_file!r} "
                                     f"from the config file")
        _set(self.docs[doc], path, value)
        self.sources[(doc, path)] = option


def _new_documents(file_docs: dict) -> tuple:
    init_file = {k: v for k, v in file_docs.get("InitConfiguration", {}).items() if k != "_v1beta3"}
    cluster_file = {k: v for k, v in file_docs.get("ClusterConfiguration", {}).items() if k != "_v1beta3"}
    cluster_defaults = default_cluster_configuration()
    if "external" in (cluster_file.get("etcd") or {}):
        cluster_defaults["etcd"] = {}
    init = deep_merge(default_init_configuration(), init_file)
    init["bootstrapTokens"] = _default_tokens(init_file.get("bootstrapTokens"))
    cluster = deep_merge(cluster_defaults, cluster_file)
    return init, cluster


def _default_tokens(tokens) -> list:
    if tokens is not None and not isinstance(tokens, list):
        raise ConfigError("bootstrapTokens", HIDDEN, "a list of bootstrap tokens")
    template = default_init_configuration()["bootstrapTokens"][0]
    if not tokens:
        return [template]
    out = []
    for index, token in enumerate(tokens):
        if not isinstance(token, dict):
            raise ConfigError(f"bootstrapTokens[{index}]", HIDDEN, "a mapping (token, ttl, usages, groups)")
        out.append(deep_merge(template, token))
    return out


def _option_value(name: str, value):
    """Normalise one module option to the shape of its config field."""
    if name in ("apiserver_cert_extra_sans", "skip_phases"):
        return _as_list(value, name)
    if name in ("kubernetes_version", "pod_network_cidr", "service_cidr", "image_repository",
                "cert_dir", "cri_socket", "control_plane_endpoint", "service_dns_domain",
                "encryption_algorithm", "token", "certificate_key", "apiserver_advertise_address"):
        return str(value).strip()
    if name == "node_name":
        return str(value).strip().lower()
    return value


def _apply_options(builder: _Builder, params: dict) -> None:
    for name, (doc, path) in OPTION_PATHS.items():
        value = params.get(name)
        if value is None or (name == "token" and value == ""):
            continue
        if name == "dry_run" and value is False:  # the module defaults it to false: not an override
            continue
        builder.override(name, doc, path, _option_value(name, value))
    gates = parse_feature_gates(params.get("feature_gates"))
    for gate, enabled in gates.items():
        builder.override("feature_gates", "cluster", f"featureGates.{gate}", enabled)
    ignore = params.get("ignore_preflight_errors")
    if ignore is not None:
        merged = list(builder.get("init", "nodeRegistration.ignorePreflightErrors") or [])
        merged += _as_list(ignore, "ignore_preflight_errors")
        builder.docs["init"]["nodeRegistration"]["ignorePreflightErrors"] = merged
        builder.sources[("init", "nodeRegistration.ignorePreflightErrors")] = "ignore_preflight_errors"


def build_init_config(params: dict, fs=None) -> InitConfig:
    """kubeadm init's configuration: config file, then module options, then defaults; validated.

    Raises ConfigError (field as the user wrote it) before anything is written.
    `fs` (HostFS) is accepted for symmetry; the config file is a controller/host path read with open().
    """
    params = dict(params or {})
    warnings = []
    file_docs = _load_file_documents(params["config"], warnings) if params.get("config") else {}
    init, cluster = _new_documents(file_docs)
    builder = _Builder(init, cluster, file_docs, warnings)
    builder.config_path = params.get("config")
    _apply_options(builder, params)
    _resolve_version(builder, any(d.get("_v1beta3") for d in file_docs.values()))
    _fill_dynamic_defaults(builder)
    _validate(builder)
    return InitConfig(
        init=init, cluster=cluster,
        kubelet=copy.deepcopy(file_docs.get("KubeletConfiguration", {})),
        kube_proxy=copy.deepcopy(file_docs.get("KubeProxyConfiguration", {})),
        warnings=warnings,
        options={"upload_certs": bool(params.get("upload_certs")),
                 "skip_token_print": bool(params.get("skip_token_print")),
                 "config": params.get("config")})


def _resolve_version(builder: _Builder, from_v1beta3: bool) -> None:
    from ansible_collections.kubeboot.cluster.plugins.module_utils import versions
    field = builder.field("cluster", "kubernetesVersion")
    label = builder.get("cluster", "kubernetesVersion") or C.DEFAULT_KUBERNETES_VERSION
    try:
        version = versions.resolve_version(str(label), field)
    except InvalidValue as exc:
        raise ConfigError(field, label, exc.allowed) from None
    minor = int(version.lstrip("v").split(".")[1])
    if not C.MIN_SUPPORTED_MINOR <= minor <= C.MAX_SUPPORTED_MINOR:
        raise ConfigError(field, label, f"a Kubernetes version from 1.{C.MIN_SUPPORTED_MINOR} to "
                                        f"1.{C.MAX_SUPPORTED_MINOR} (resolved to {version})")
    if from_v1beta3 and minor >= 37:
        raise ConfigError("config", builder.config_path,
                          f"{C.KUBEADM_API_V1BETA3} was removed in kubeadm 1.37 (target {version}); "
                          f"migrate the file to {C.KUBEADM_API_V1BETA4}")
    builder.docs["cluster"]["kubernetesVersion"] = version


def _fill_dynamic_defaults(builder: _Builder) -> None:
    reg = builder.docs["init"]["nodeRegistration"]
    reg["name"] = str(reg.get("name") or socket.gethostname()).strip().lower()
    reg["criSocket"] = _normalize_cri_socket(builder, reg.get("criSocket") or C.DEFAULT_CRI_SOCKET)
    ignore = reg.get("ignorePreflightErrors") or []
    if isinstance(ignore, list):
        reg["ignorePreflightErrors"] = sorted({str(v).strip().lower() for v in ignore if str(v).strip()})
    endpoint = builder.docs["init"]["localAPIEndpoint"]
    address = str(endpoint.get("advertiseAddress") or "").strip()
    field = builder.field("init", "localAPIEndpoint.advertiseAddress")
    if address and not netutil.is_ip(address):
        raise ConfigError(field, address, "an IP address of this node (or 0.0.0.0 to use the "
                                          "default-route interface)")
    if not address or ipaddress.ip_address(address).is_unspecified:
        address = netutil.default_route_address()
    endpoint["advertiseAddress"] = address


def _normalize_cri_socket(builder: _Builder, socket_path) -> str:
    field = builder.field("init", "nodeRegistration.criSocket")
    text = str(socket_path).strip()
    if "dockershim" in text:
        raise ConfigError(field, text, DOCKERSHIM_MESSAGE)
    if "://" not in text:
        if not text.startswith("/"):
            raise ConfigError(field, text, "a CRI endpoint such as " + C.DEFAULT_CRI_SOCKET)
        builder.warnings.append(f"{field}: CRI endpoint {text!r} has no URL scheme; using 'unix://{text}'")
        text = "unix://" + text
    elif not text.startswith(("unix://", "npipe://")):
        raise ConfigError(field, text, "a unix:// (or npipe://) CRI endpoint such as " + C.DEFAULT_CRI_SOCKET)
    return text


# =============================================================================
# validation (kubeadm validation.go + the module's extra checks)
# =============================================================================
def _validate(builder: _Builder) -> None:
    for check in (_check_node, _check_endpoint, _check_networking, _check_tokens,
                  _check_durations, _check_pki, _check_feature_gates, _check_sans,
                  _check_etcd, _check_extra_args, _check_misc):
        check(builder)


def _check_node(b: _Builder) -> None:
    reg = b.docs["init"]["nodeRegistration"]
    if not is_dns1123_subdomain(reg["name"]):
        raise ConfigError(b.field("init", "nodeRegistration.name"), reg["name"],
                          "a lowercase RFC 1123 subdomain (letters, digits, '-' and '.', at most 253 "
                          "characters, starting and ending alphanumeric)")
    ignore = reg.get("ignorePreflightErrors")
    field = b.field("init", "nodeRegistration.ignorePreflightErrors")
    if not isinstance(ignore, list):
        raise ConfigError(field, ignore, "a list of preflight check names, or 'all'")
    if "all" in ignore and len(ignore) > 1:
        raise ConfigError(field, ignore, "'all' ignores every check and cannot be combined with "
                                         "individual check names")
    if reg.get("imagePullPolicy") not in ("Always", "IfNotPresent", "Never"):
        raise ConfigError("nodeRegistration.imagePullPolicy", reg.get("imagePullPolicy"),
                          "one of Always, IfNotPresent, Never")
    if reg.get("taints") is not None and not isinstance(reg["taints"], list):
        raise ConfigError("nodeRegistration.taints", reg["taints"], "a list of taints (or null)")


def _check_port(b: _Builder, doc: str, path: str, value) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise ConfigError(b.field(doc, path), value, "a port number from 1 to 65535")
    return value


def _check_endpoint(b: _Builder) -> None:
    endpoint = b.docs["init"]["localAPIEndpoint"]
    endpoint["bindPort"] = _check_port(b, "init", "localAPIEndpoint.bindPort", endpoint.get("bindPort"))
    cpe = b.get("cluster", "controlPlaneEndpoint") or ""
    field = b.field("cluster", "controlPlaneEndpoint")
    if not isinstance(cpe, str):
        raise ConfigError(field, cpe, "host or host:port")
    if cpe:
        try:
            host, _unused = netutil.split_host_port(cpe)
        except InvalidValue as exc:
            raise ConfigError(field, cpe, exc.allowed) from None
        if not (netutil.is_ip(host) or is_dns1123_subdomain(host)):
            raise ConfigError(field, cpe, "host or host:port where host is an IP address or a DNS name")


def _cidrs(b: _Builder, path: str) -> list:
    field = b.field("cluster", path)
    value = b.get("cluster", path)
    try:
        nets = netutil.parse_cidrs(value, field)
    except InvalidValue as exc:
        raise ConfigError(field, value, exc.allowed) from None
    if len(nets) > 2 or (len(nets) == 2 and nets[0].version == nets[1].version):
        raise ConfigError(field, value, "one CIDR, or two (one IPv4, one IPv6) for dual-stack")
    return nets


def _check_networking(b: _Builder) -> None:
    services = _cidrs(b, "networking.serviceSubnet")
    field = b.field("cluster", "networking.serviceSubnet")
    for net in services:
        host_bits = net.max_prefixlen - net.prefixlen
        if host_bits > 20:
            raise ConfigError(field, b.get("cluster", "networking.serviceSubnet"),
                              "a service subnet of at most 20 host bits (/12 for IPv4, /108 for IPv6)")
        if net.num_addresses < 10:
            raise ConfigError(field, b.get("cluster", "networking.serviceSubnet"),
                              "a service subnet with at least 10 addresses")
    if b.get("cluster", "networking.podSubnet"):
        pods = _cidrs(b, "networking.podSubnet")
        for pod in pods:
            clash = [str(s) for s in services if s.version == pod.version and s.overlaps(pod)]
            if clash:
                raise ConfigError(b.field("cluster", "networking.podSubnet"),
                                  b.get("cluster", "networking.podSubnet"),
                                  f"a pod CIDR that does not overlap the service subnet {clash[0]}")
    domain = b.get("cluster", "networking.dnsDomain")
    if not is_dns1123_subdomain(domain):
        raise ConfigError(b.field("cluster", "networking.dnsDomain"), domain,
                          "a DNS domain (RFC 1123 subdomain) such as cluster.local")


def _check_tokens(b: _Builder) -> None:
    for index, token in enumerate(b.docs["init"]["bootstrapTokens"]):
        base = f"bootstrapTokens.{index}"
        value = token.get("token") or ""
        if value and not re.match(C.TOKEN_RE, str(value)):
            raise ConfigError(b.field("init", base + ".token"), HIDDEN,
                              "a bootstrap token like abcdef.0123456789abcdef ([a-z0-9]{6}.[a-z0-9]{16})")
        token["token"] = value
        ttl_field = b.field("init", base + ".ttl")
        token["ttl"] = _duration(ttl_field, token.get("ttl"))
        bad = [u for u in token.get("usages") or [] if u not in C.TOKEN_USAGES]
        if bad or not isinstance(token.get("usages"), list):
            raise ConfigError(base + ".usages", token.get("usages"),
                              "a list of: " + ", ".join(C.TOKEN_USAGES))
        for group in token.get("groups") or []:
            if not re.match(C.TOKEN_GROUP_RE, str(group)):
                raise ConfigError(base + ".groups", group, "a group matching " + C.TOKEN_GROUP_RE)


def _duration(field: str, value) -> str:
    if isinstance(value, str) and value.strip() == "0":
        return "0s"
    try:
        return durations.normalize_duration(value, field)
    except InvalidValue as exc:
        raise ConfigError(field, value, exc.allowed) from None


def _check_durations(b: _Builder) -> None:
    cluster = b.docs["cluster"]
    for path in ("certificateValidityPeriod", "caCertificateValidityPeriod"):
        cluster[path] = _duration(b.field("cluster", path), cluster.get(path))
    timeouts = b.docs["init"]["timeouts"]
    if not isinstance(timeouts, dict):
        raise ConfigError("timeouts", timeouts, "a mapping of timeout name to duration")
    for key in list(timeouts):
        if key not in C.DEFAULT_TIMEOUTS:
            raise ConfigError("timeouts", key, "one of " + ", ".join(C.DEFAULT_TIMEOUTS))
        timeouts[key] = _duration("timeouts." + key, timeouts[key])
    if durations.parse_duration(cluster["certificateValidityPeriod"]) > \
            durations.parse_duration(cluster["caCertificateValidityPeriod"]):
        b.warnings.append("certificateValidityPeriod is longer than caCertificateValidityPeriod: "
                          "leaf certificates cannot outlive their CA")


def _check_pki(b: _Builder) -> None:
    algo = b.get("cluster", "encryptionAlgorithm")
    field = b.field("cluster", "encryptionAlgorithm")
    minor = int(b.get("cluster", "kubernetesVersion").split(".")[1])
    allowed = [a for a in C.ENCRYPTION_ALGORITHMS if a != "ECDSA-P384" or minor >= 34]
    if algo not in allowed:
        raise ConfigError(field, algo, "one of " + ", ".join(allowed)
                          + ("" if minor >= 34 else " (ECDSA-P384 needs Kubernetes 1.34 or newer)"))
    key = b.get("init", "certificateKey") or ""
    if key and not _HEX64_RE.match(str(key)):
        raise ConfigError(b.field("init", "certificateKey"), HIDDEN,
                          "64 hexadecimal characters (an AES-256 key, e.g. from `kubeadm certs certificate-key`)")
    cert_dir = b.get("cluster", "certificatesDir")
    if not isinstance(cert_dir, str) or not cert_dir.startswith("/"):
        raise ConfigError(b.field("cluster", "certificatesDir"), cert_dir, "an absolute path")
    repo = b.get("cluster", "imageRepository")
    if not isinstance(repo, str) or not repo or any(c.isspace() for c in repo):
        raise ConfigError(b.field("cluster", "imageRepository"), repo, "an image registry such as "
                          + C.DEFAULT_IMAGE_REPOSITORY)


def _check_feature_gates(b: _Builder) -> None:
    gates = b.docs["cluster"].get("featureGates") or {}
    if not isinstance(gates, dict):
        raise ConfigError("featureGates", gates, "a mapping of gate name to true/false")
    version = b.get("cluster", "kubernetesVersion")
    known = kubeadm_feature_gates(int(version.split(".")[1]))
    listing = ", ".join(f"{n} ({s}, default {str(d).lower()})" for n, (s, d) in sorted(known.items()))
    for gate, value in list(gates.items()):
        from_option = b.sources.get(("cluster", f"featureGates.{gate}")) == "feature_gates"
        field = "feature_gates" if from_option else "featureGates"
        if gate not in known:
            raise ConfigError(field, gate, f"not a kubeadm feature gate for {version}; "
                                           f"allowed: {listing or 'none'}")
        if not isinstance(value, bool):
            raise ConfigError(field, f"{gate}={value}", "feature gate values must be true or false")
        stage, default = known[gate]
        if stage == "GA" and value != default:
            raise ConfigError(field, f"{gate}={value}", f"{gate} is GA in {version} and locked to "
                                                        f"{str(default).lower()}")
        if stage == "deprecated":
            b.warnings.append(f"feature gate {gate} is deprecated and will be removed")


def _check_sans(b: _Builder) -> None:
    for path in ("apiServer.certSANs", "etcd.local.serverCertSANs", "etcd.local.peerCertSANs"):
        sans = b.get("cluster", path)
        if sans is None:
            continue
        field = b.field("cluster", path)
        if not isinstance(sans, list):
            raise ConfigError(field, sans, "a list of IP addresses or DNS names")
        for san in sans:
            if not is_valid_san(san):
                raise ConfigError(field, san, "an IP address, a DNS name (RFC 1123 subdomain) or a "
                                              "wildcard DNS name like *.example.com")


def _check_etcd(b: _Builder) -> None:
    etcd = b.docs["cluster"].get("etcd")
    if not isinstance(etcd, dict):
        raise ConfigError("etcd", etcd, "a mapping with either local or external")
    if "local" in etcd and "external" in etcd:
        raise ConfigError("etcd", sorted(etcd), "either etcd.local or etcd.external, not both")
    external = etcd.get("external")
    if external is not None:
        endpoints = external.get("endpoints") if isinstance(external, dict) else None
        if not endpoints or not isinstance(endpoints, list):
            raise ConfigError("etcd.external.endpoints", endpoints,
                              "a non-empty list of etcd client URLs (https://host:2379)")
        return
    local = etcd.get("local")
    if not isinstance(local, dict) or not str(local.get("dataDir", "")).startswith("/"):
        raise ConfigError("etcd.local.dataDir", _get(etcd, "local.dataDir"), "an absolute path")


def _arg_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _check_args(field: str, args) -> list:
    if args is None:
        return []
    if isinstance(args, dict):
        raise ConfigError(field, args, "a list of {name, value} (v1beta4); a map is the v1beta3 form")
    if not isinstance(args, list):
        raise ConfigError(field, args, "a list of {name, value}")
    out = []
    for arg in args:
        if not isinstance(arg, dict) or not isinstance(arg.get("name"), str) or not arg["name"]:
            raise ConfigError(field, arg, "an entry {name: <flag without -->, value: <string>}")
        out.append({"name": arg["name"], "value": _arg_text(arg.get("value"))})
    return out


def _check_extra_args(b: _Builder) -> None:
    cluster = b.docs["cluster"]
    for comp in ("apiServer", "controllerManager", "scheduler"):
        if not isinstance(cluster.get(comp), dict):
            raise ConfigError(comp, cluster.get(comp), "a mapping")
        cluster[comp]["extraArgs"] = _check_args(comp + ".extraArgs", cluster[comp].get("extraArgs"))
    local = cluster["etcd"].get("local")
    if local is not None:
        local["extraArgs"] = _check_args("etcd.local.extraArgs", local.get("extraArgs"))
    reg = b.docs["init"]["nodeRegistration"]
    reg["kubeletExtraArgs"] = _check_args("nodeRegistration.kubeletExtraArgs", reg.get("kubeletExtraArgs"))


def _check_misc(b: _Builder) -> None:
    init = b.docs["init"]
    for path in ("dryRun",):
        if not isinstance(init.get(path), bool):
            raise ConfigError(b.field("init", path), init.get(path), "true or false")
    phases = init.get("skipPhases")
    if not isinstance(phases, list) or not all(isinstance(p, str) for p in phases):
        raise ConfigError(b.field("init", "skipPhases"), phases, "a list of phase names")


# =============================================================================
# output documents
# =============================================================================
_MAP_KEYS = ("featureGates",)  # Go maps: omitted when empty (structs stay as {})


def _omit_empty(value, keep=()):
    """Go `omitempty` as kubeadm marshals its API: drop "", [], false, null and empty maps.

    `keep`: keys written even when empty (nodeRegistration.taints: null and [] differ).
    """
    if isinstance(value, list):
        return [_omit_empty(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        if key.startswith("_"):
            continue
        if key in keep and item in (None, []):
            out[key] = item
            continue
        if key in _MAP_KEYS and isinstance(item, dict):  # map values (false) are data
            if item:
                out[key] = dict(item)
            continue
        item = _omit_empty(item, keep)
        if item in ("", [], False, None) or (item == {} and key in _MAP_KEYS):
            continue
        out[key] = item
    return out


def cluster_configuration_document(cfg: InitConfig) -> dict:
    """The ClusterConfiguration kubeadm uploads to kube-system/kubeadm-config (no node data)."""
    doc = _omit_empty(copy.deepcopy(cfg.cluster))
    doc["apiVersion"] = C.KUBEADM_API_V1BETA4
    doc["kind"] = "ClusterConfiguration"
    return doc


def init_configuration_document(cfg: InitConfig) -> dict:
    doc = _omit_empty(copy.deepcopy(cfg.init), keep=("taints",))
    doc["apiVersion"] = C.KUBEADM_API_V1BETA4
    doc["kind"] = "InitConfiguration"
    return doc


def to_yaml_documents(cfg: InitConfig, component_configs: bool = True) -> str:
    """Multi-document YAML like `kubeadm config print init-defaults` (plus the user's component configs)."""
    docs = [init_configuration_document(cfg), cluster_configuration_document(cfg)]
    if component_configs:
        for doc, api, kind in ((cfg.kubelet, C.KUBELET_API, "KubeletConfiguration"),
                               (cfg.kube_proxy, C.KUBEPROXY_API, "KubeProxyConfiguration")):
            if doc:
                docs.append(dict(doc, apiVersion=api, kind=kind))
    return "---\n".join(yaml.safe_dump(d, default_flow_style=False, sort_keys=True) for d in docs)
