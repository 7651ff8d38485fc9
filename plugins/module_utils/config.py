# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubeadm init's configuration (InitConfiguration + ClusterConfiguration, v1beta4).

The model is kubeadm's own API shape as plain dicts (camelCase keys), fully defaulted, so
every other module reads e.g. cfg.cluster["networking"]["serviceSubnet"] exactly as kubeadm
documents it. Built on the shared layer: kubeadmconfig (kinds, defaults, file, Builder),
options (the module options), validators (one per concept), versions (per-minor facts).
"""
from __future__ import annotations

import copy
import ipaddress
import socket
from dataclasses import dataclass, field

from ansible_collections.kubeboot.cluster.plugins.module_utils.deps import yaml
from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import (
    docutil, durations, netutil, options, patches, validators, versions)
from ansible_collections.kubeboot.cluster.plugins.module_utils.arguments import arg_value
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import HIDDEN, ConfigError, InvalidValue
from ansible_collections.kubeboot.cluster.plugins.module_utils.kubeadmconfig import (
    Builder, default_bootstrap_token, default_cluster_configuration, default_init_configuration, inline_documents,
    load_documents)

FLAG_OPTIONS = ("upload_certs", "skip_token_print", "config")


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
    patch_manager: object = None  # patches.PatchManager of patches.directory (read once, before any write)

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
        """The gate for cfg.minor: the configured value, else `default` if given, else kubeadm's
        default. A GA gate is locked to its default and a graduated one is always on (a stray value
        cannot turn them off)."""
        stage = versions.feature_gates(self.minor).get(gate, ("",))[0]
        if stage == "GA" or gate in versions.behaviour(self.minor).graduated:
            return versions.feature_gate_default(gate, self.minor)
        gates = self.cluster.get("featureGates") or {}
        if gate in gates:
            return bool(gates[gate])
        return bool(default) if default is not None else versions.feature_gate_default(gate, self.minor)

    def timeout(self, name: str) -> float:
        """A kubeadm timeout (timeouts.<name>) in seconds."""
        return durations.parse_duration((self.init.get("timeouts") or {}).get(name, C.DEFAULT_TIMEOUTS[name]))


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
        root, _sep, path = dotted.partition(".")
        docutil.put(cluster if root == "cluster" else init, path, copy.deepcopy(value))
    if overrides:
        raise TypeError(f"unknown overrides {sorted(overrides)}")
    return InitConfig(init=init, cluster=cluster)


# =============================================================================
# build_init_config
# =============================================================================
def build_init_config(params: dict, fs=None) -> InitConfig:
    """kubeadm init's configuration: config file, then module options, then defaults; validated.

    Raises ConfigError (field as the user wrote it) before anything is written. The config file
    is a path on this node (kubeadmconfig reads it through files.NODE); `fs` is not used.
    """
    params = dict(params or {})
    warnings = []
    inline = inline_documents(params.get("config_documents"))
    file_docs, moved = load_documents(params.get("config"), "init", warnings, inline) \
        if params.get("config") or inline else ({}, {})
    if moved:
        init_doc = file_docs.setdefault("InitConfiguration", {"apiVersion": C.KUBEADM_API_V1BETA4,
                                                              "kind": "InitConfiguration"})
        for key, value in moved.items():
            init_doc.setdefault("timeouts", {}).setdefault(key, value)
    init, cluster = _new_documents(file_docs)
    builder = Builder({"init": init, "cluster": cluster},
                      {"init": file_docs.get("InitConfiguration", {}),
                       "cluster": file_docs.get("ClusterConfiguration", {})},
                      warnings, options.secret_options(options.INIT))
    builder.config_path = params.get("config")
    options.apply(builder, options.INIT, params)
    _resolve_version(builder, any(d.get("_v1beta3") for d in file_docs.values()))
    _fill_dynamic_defaults(builder)
    for check in (_check_node, _check_endpoint, _check_extra_args, _check_networking, _check_tokens,
                  _check_durations, _check_pki, _check_feature_gates, _check_sans, _check_etcd, _check_misc):
        check(builder)
    return InitConfig(
        init=init, cluster=cluster,
        kubelet=copy.deepcopy(file_docs.get("KubeletConfiguration", {})),
        kube_proxy=copy.deepcopy(file_docs.get("KubeProxyConfiguration", {})),
        warnings=warnings,
        options={"upload_certs": bool(params.get("upload_certs")),
                 "skip_token_print": bool(params.get("skip_token_print")),
                 "config": params.get("config")},
        patch_manager=load_patches(init, versions.minor_of(cluster["kubernetesVersion"])))


def load_patches(doc: dict, minor: int):
    """The patch manager of a config document's patches.directory (None without one)."""
    part = doc.get("patches")
    if part is not None and not isinstance(part, dict):
        raise ConfigError("patches", part, "a mapping with a directory: " + patches.allowed(minor))
    return patches.load((part or {}).get("directory"), minor)


def cluster_init_config(cluster_doc: dict, warnings: list = None, cert_dir: str = None) -> InitConfig:
    """What commands that act on the cluster's files and not on this node read (kubeadm's
    getInternalCfg for `certs renew` and `check-expiration`): a ClusterConfiguration from the
    cluster's kubeadm-config or a config file, over kubeadm's defaults, validated like init's;
    the InitConfiguration is kubeadm's defaults (no host lookups). `cert_dir` is --cert-dir."""
    warnings = [] if warnings is None else warnings
    init, cluster = _new_documents({"ClusterConfiguration": dict(cluster_doc or {})})
    builder = Builder({"init": init, "cluster": cluster}, {"init": {}, "cluster": {}}, warnings)
    if cert_dir:
        builder.override("cert_dir", "cluster", "certificatesDir", cert_dir)
    _resolve_version(builder, False)
    for check in (_check_durations, _check_pki, _check_etcd):
        check(builder)
    return InitConfig(init=init, cluster=cluster, warnings=warnings)


def _new_documents(file_docs: dict) -> tuple:
    init_file = {k: v for k, v in file_docs.get("InitConfiguration", {}).items() if k != "_v1beta3"}
    cluster_file = {k: v for k, v in file_docs.get("ClusterConfiguration", {}).items() if k != "_v1beta3"}
    cluster_defaults = default_cluster_configuration()
    if "external" in (cluster_file.get("etcd") or {}):
        cluster_defaults["etcd"] = {}
    init = docutil.deep_merge(default_init_configuration(), init_file)
    init["bootstrapTokens"] = _default_tokens(init_file.get("bootstrapTokens"))
    return init, docutil.deep_merge(cluster_defaults, cluster_file)


def _default_tokens(tokens) -> list:
    if tokens is not None and not isinstance(tokens, list):
        raise ConfigError("bootstrapTokens", HIDDEN, "a list of bootstrap tokens")
    if not tokens:
        return [default_bootstrap_token()]
    out = []
    for index, token in enumerate(tokens):
        if not isinstance(token, dict):
            raise ConfigError(f"bootstrapTokens.{index}", HIDDEN, "a mapping (token, ttl, usages, groups)")
        if token.get("expires") is not None and token.get("ttl") is not None:
            raise ConfigError(f"bootstrapTokens.{index}", "ttl and expires", "the BootstrapToken ttl and expires "
                                                                             "fields are mutually exclusive")
        defaults = default_bootstrap_token()
        if token.get("expires") is not None:
            defaults.pop("ttl")
        out.append(docutil.deep_merge(defaults, token))
    return out


def _resolve_version(builder: Builder, from_v1beta3: bool) -> None:
    field_name = builder.field("cluster", "kubernetesVersion")
    label = builder.get("cluster", "kubernetesVersion") or C.DEFAULT_KUBERNETES_VERSION
    try:
        version = versions.resolve_version(str(label), field_name)
    except InvalidValue as exc:
        raise ConfigError(field_name, label, exc.allowed) from None
    minor = versions.minor_of(version)
    if not C.MIN_SUPPORTED_MINOR <= minor <= C.MAX_SUPPORTED_MINOR:
        raise ConfigError(field_name, label, f"a Kubernetes version from 1.{C.MIN_SUPPORTED_MINOR} to "
                                             f"1.{C.MAX_SUPPORTED_MINOR} (resolved to {version})")
    if from_v1beta3 and not versions.behaviour(minor).v1beta3:
        raise ConfigError("config", builder.config_path,
                          f"{C.KUBEADM_API_V1BETA3} was removed in kubeadm 1.{minor} (target {version}); "
                          f"migrate the file to {C.KUBEADM_API_V1BETA4}")
    builder.put("cluster", "kubernetesVersion", version)


def _fill_dynamic_defaults(b: Builder) -> None:
    reg = b.docs["init"]["nodeRegistration"]
    reg["name"] = str(reg.get("name") or socket.gethostname()).strip().lower()
    reg["criSocket"] = validators.cri_socket(b.field("init", "nodeRegistration.criSocket"),
                                             reg.get("criSocket") or C.DEFAULT_CRI_SOCKET, b.warnings)
    endpoint = b.docs["init"]["localAPIEndpoint"]
    address = validators.ip_address(b.field("init", "localAPIEndpoint.advertiseAddress"),
                                    endpoint.get("advertiseAddress"),
                                    "an IP address of this node (or 0.0.0.0 to use the default-route interface)")
    if not address or ipaddress.ip_address(address).is_unspecified:
        address = netutil.default_route_address()
    endpoint["advertiseAddress"] = address


# =============================================================================
# validation (kubeadm validation.go + the module's extra checks)
# =============================================================================
def _check_node(b: Builder) -> None:
    b.check("init", "nodeRegistration.name", validators.node_name)
    b.check("init", "nodeRegistration.ignorePreflightErrors", validators.ignore_preflight_errors)
    reg = b.docs["init"]["nodeRegistration"]
    if reg.get("imagePullPolicy") not in ("Always", "IfNotPresent", "Never"):
        raise ConfigError("nodeRegistration.imagePullPolicy", reg.get("imagePullPolicy"),
                          "one of Always, IfNotPresent, Never")
    b.check("init", "nodeRegistration.taints", validators.taints)


def _check_endpoint(b: Builder) -> None:
    b.check("init", "localAPIEndpoint.bindPort", validators.port)
    cpe = b.get("cluster", "controlPlaneEndpoint") or ""
    if cpe or not isinstance(cpe, str):
        validators.host_port(b.field("cluster", "controlPlaneEndpoint"), cpe)


def _node_mask(b: Builder):
    """kubeadm getClusterNodeMask: the controller-manager's node CIDR mask per family, or None for
    every family when it does not allocate node CIDRs (allocate-node-cidrs=false)."""
    extra = b.docs["cluster"]["controllerManager"]["extraArgs"]
    if arg_value(extra, "allocate-node-cidrs") == "false":
        return None

    def mask(version: int) -> int:
        flag = f"node-cidr-mask-size-ipv{version}"
        return validators.node_cidr_mask(f"controllerManager.extraArgs {flag}", arg_value(extra, flag), version)
    return mask


def _check_networking(b: Builder) -> None:
    service_field = b.field("cluster", "networking.serviceSubnet")
    service_value = b.get("cluster", "networking.serviceSubnet")
    services = validators.service_subnet(service_field, service_value)
    pod_value = b.get("cluster", "networking.podSubnet")
    if pod_value:
        for pod in validators.pod_subnet(b.field("cluster", "networking.podSubnet"), pod_value, _node_mask(b)):
            clash = [str(s) for s in services if s.version == pod.version and s.overlaps(pod)]
            if clash:
                raise ConfigError(b.field("cluster", "networking.podSubnet"), pod_value,
                                  f"a pod CIDR that does not overlap the service subnet {clash[0]}")
    b.check("cluster", "networking.dnsDomain", validators.dns_domain)


def _check_tokens(b: Builder) -> None:
    for index, token in enumerate(b.docs["init"]["bootstrapTokens"]):
        base = f"bootstrapTokens.{index}"
        token["token"] = validators.token(b.field("init", base + ".token"), token.get("token"))
        if token.get("expires") is not None:
            token["expires"] = validators.token_expires(base + ".expires", token["expires"])
        else:
            token["ttl"] = validators.token_ttl(b.field("init", base + ".ttl"), token.get("ttl"))
        usages = validators.token_usages(base + ".usages", token.get("usages"))
        validators.token_groups(base + ".groups", token.get("groups") or [], usages)


def _check_durations(b: Builder) -> None:
    for path in ("certificateValidityPeriod", "caCertificateValidityPeriod"):
        b.check("cluster", path, validators.cert_validity)
    b.docs["init"]["timeouts"] = validators.timeouts("timeouts", b.docs["init"]["timeouts"])
    cluster = b.docs["cluster"]
    if durations.parse_duration(cluster["certificateValidityPeriod"]) > \
            durations.parse_duration(cluster["caCertificateValidityPeriod"]):
        b.warnings.append("certificateValidityPeriod is longer than caCertificateValidityPeriod: "
                          "leaf certificates cannot outlive their CA")


def _check_pki(b: Builder) -> None:
    algo = b.get("cluster", "encryptionAlgorithm")
    p384 = versions.behaviour(versions.minor_of(b.get("cluster", "kubernetesVersion"))).ecdsa_p384
    allowed = [a for a in C.ENCRYPTION_ALGORITHMS if a != "ECDSA-P384" or p384]
    if algo not in allowed:
        raise ConfigError(b.field("cluster", "encryptionAlgorithm"), algo, "one of " + ", ".join(allowed)
                          + ("" if p384 else " (ECDSA-P384 needs Kubernetes 1.34 or newer)"))
    b.check("init", "certificateKey", validators.certificate_key)
    b.check("cluster", "certificatesDir", validators.absolute_path)
    b.check("cluster", "imageRepository", validators.image_repository)
    for path in ("dns.imageRepository", "etcd.local.imageRepository"):
        if b.get("cluster", path):
            b.check("cluster", path, validators.image_repository)


def _check_feature_gates(b: Builder) -> None:
    gates = b.docs["cluster"].get("featureGates") or {}
    if not isinstance(gates, dict):
        raise ConfigError("featureGates", gates, "a mapping of gate name to true/false")
    version = b.get("cluster", "kubernetesVersion")
    known = versions.feature_gates(versions.minor_of(version))
    listing = ", ".join(f"{n} ({s}, default {str(d).lower()})" for n, (s, d) in sorted(known.items()))
    for gate, value in list(gates.items()):
        from_option = b.sources.get(("cluster", f"featureGates.{gate}")) == "feature_gates"
        field_name = "feature_gates" if from_option else "featureGates"
        if gate not in known:
            removed = versions.REMOVED_FEATURE_GATES.get(gate)
            note = f" ({removed})" if removed else ""
            raise ConfigError(field_name, gate, f"not a kubeadm feature gate for {version}{note}; "
                                                f"allowed: {listing or 'none'}")
        if not isinstance(value, bool):
            raise ConfigError(field_name, f"{gate}={value}", "feature gate values must be true or false")
        stage, default = known[gate]
        if stage == "GA" and value != default:
            raise ConfigError(field_name, f"{gate}={value}", f"{gate} is GA in {version} and locked to "
                                                             f"{str(default).lower()}")
        if stage == "deprecated":
            b.warnings.append(f"feature gate {gate} is deprecated and will be removed")


def _check_sans(b: Builder) -> None:
    for path in ("apiServer.certSANs", "etcd.local.serverCertSANs", "etcd.local.peerCertSANs"):
        if b.get("cluster", path) is not None:
            b.check("cluster", path, validators.sans)


def _check_etcd(b: Builder) -> None:
    etcd = b.docs["cluster"].get("etcd")
    if not isinstance(etcd, dict):
        raise ConfigError("etcd", etcd, "a mapping with either local or external")
    if "local" in etcd and "external" in etcd:
        raise ConfigError("etcd", sorted(etcd), "either etcd.local or etcd.external, not both")
    external = etcd.get("external")
    if external is not None:
        validators.external_etcd("etcd.external", external)
        return
    local = etcd.get("local")
    if not isinstance(local, dict) or not str(local.get("dataDir", "")).startswith("/"):
        raise ConfigError("etcd.local.dataDir", docutil.get(etcd, "local.dataDir"), "an absolute path")


def _check_extra_args(b: Builder) -> None:
    cluster = b.docs["cluster"]
    for comp in ("apiServer", "controllerManager", "scheduler"):
        if not isinstance(cluster.get(comp), dict):
            raise ConfigError(comp, cluster.get(comp), "a mapping")
        cluster[comp]["extraArgs"] = validators.extra_args(comp + ".extraArgs", cluster[comp].get("extraArgs"))
        cluster[comp]["extraEnvs"] = validators.extra_envs(comp + ".extraEnvs", cluster[comp].get("extraEnvs"))
        cluster[comp]["extraVolumes"] = validators.extra_volumes(comp + ".extraVolumes",
                                                                 cluster[comp].get("extraVolumes"))
    local = (cluster.get("etcd") or {}).get("local")
    if local is not None:
        local["extraArgs"] = validators.extra_args("etcd.local.extraArgs", local.get("extraArgs"))
        local["extraEnvs"] = validators.extra_envs("etcd.local.extraEnvs", local.get("extraEnvs"))
    reg = b.docs["init"]["nodeRegistration"]
    reg["kubeletExtraArgs"] = validators.extra_args("nodeRegistration.kubeletExtraArgs", reg.get("kubeletExtraArgs"))


def _check_misc(b: Builder) -> None:
    b.check("init", "dryRun", validators.boolean)
    phases = b.get("init", "skipPhases")
    if not isinstance(phases, list) or not all(isinstance(p, str) for p in phases):
        raise ConfigError(b.field("init", "skipPhases"), phases, "a list of phase names")


# =============================================================================
# output documents
# =============================================================================
def cluster_configuration_document(cfg: InitConfig) -> dict:
    """The ClusterConfiguration kubeadm uploads to kube-system/kubeadm-config (no node data)."""
    doc = docutil.omit_empty(copy.deepcopy(cfg.cluster))
    doc["apiVersion"] = C.KUBEADM_API_V1BETA4
    doc["kind"] = "ClusterConfiguration"
    return doc


def init_configuration_document(cfg: InitConfig) -> dict:
    doc = docutil.omit_empty(copy.deepcopy(cfg.init), keep=("taints",))
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
