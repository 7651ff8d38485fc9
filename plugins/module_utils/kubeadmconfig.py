# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The config layer every kubeadm command shares: the config kinds, their defaults, reading a
kubeadm config file, v1beta3 conversion, and the `Builder` that lays module options over the
file over kubeadm's defaults while remembering where each value came from.

A command (init, join, reset; upgrade next) is a row of READS naming the kinds it reads;
a kind is a row of KINDS (its API versions, a defaults function, extra known fields).
Adding a kind: a defaults function, a KINDS row, its validators (validators.py) and its
options (options.OPTIONS).

Config files are paths on the managed node as the user gives them, read through
`files.NODE`: `rootfs` prefixes the tree the module builds, not the inputs it is handed.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass

from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import componentconfigs, docutil, errors, validators
from ansible_collections.kubeboot.cluster.plugins.module_utils.docutil import (
    ANY, BOOL, DURATION, INT, SCALAR, SECRET, STRING, TIMESTAMP)
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import ConfigError
from ansible_collections.kubeboot.cluster.plugins.module_utils.files import NODE

KUBEADM_APIS = (C.KUBEADM_API_V1BETA4, C.KUBEADM_API_V1BETA3)
_MISSING = object()


# --- kubeadm's defaults per kind ----------------------------------------------------------------

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


def default_node_registration() -> dict:
    return {
        "name": "",
        "criSocket": C.DEFAULT_CRI_SOCKET,
        "taints": None,  # None: the control-plane NoSchedule taint; [] none
        "kubeletExtraArgs": [],
        "ignorePreflightErrors": [],
        "imagePullPolicy": "IfNotPresent",
        "imagePullSerial": True,
    }


def default_bootstrap_token() -> dict:
    return {
        "token": "",  # empty: generated at bootstrap-token time
        "ttl": C.DEFAULT_TOKEN_TTL,
        "usages": list(C.TOKEN_USAGES),
        "groups": [C.DEFAULT_TOKEN_GROUP],
    }


def default_init_configuration() -> dict:
    return {
        "apiVersion": C.KUBEADM_API_V1BETA4,
        "kind": "InitConfiguration",
        "bootstrapTokens": [default_bootstrap_token()],
        "nodeRegistration": default_node_registration(),
        "localAPIEndpoint": {"advertiseAddress": "", "bindPort": C.APISERVER_PORT},
        "certificateKey": "",
        "skipPhases": [],
        "dryRun": False,
        "timeouts": dict(C.DEFAULT_TIMEOUTS),
    }


def default_join_configuration() -> dict:
    return {
        "apiVersion": C.KUBEADM_API_V1BETA4,
        "kind": "JoinConfiguration",
        "caCertPath": C.PKI_DIR + "/" + C.CA_BASE + ".crt",
        "nodeRegistration": default_node_registration(),
        "discovery": {"tlsBootstrapToken": ""},
        "skipPhases": [],
        "dryRun": False,
        "timeouts": dict(C.DEFAULT_TIMEOUTS),
    }


# --- the v1beta4 types, as Go decodes them (kubeadm apis/kubeadm/v1beta4/types.go) ------------------

_ARG = docutil.Hinted([{"name": STRING, "value": SCALAR}],
                      "a list of {name, value} (v1beta4); a map is the v1beta3 form")
_ENV = {"name": STRING, "value": SCALAR, "valueFrom": ANY}
_VOLUME = {"name": STRING, "hostPath": STRING, "mountPath": STRING, "readOnly": BOOL, "pathType": STRING}
_TAINT = {"key": STRING, "value": STRING, "effect": STRING, "timeAdded": ANY}
_NODE_REGISTRATION = {"name": STRING, "criSocket": STRING, "taints": [_TAINT], "kubeletExtraArgs": _ARG,
                      "ignorePreflightErrors": [STRING], "imagePullPolicy": STRING, "imagePullSerial": BOOL}
_API_ENDPOINT = {"advertiseAddress": STRING, "bindPort": INT}
_TIMEOUTS = {name: DURATION for name in C.DEFAULT_TIMEOUTS}
_PATCHES = {"directory": STRING}
_BOOTSTRAP_TOKEN = {"token": SECRET, "description": STRING, "ttl": DURATION, "expires": TIMESTAMP,
                    "usages": [STRING], "groups": [STRING]}
_COMPONENT = {"extraArgs": _ARG, "extraEnvs": [_ENV], "extraVolumes": [_VOLUME]}
_TYPE_META = {"apiVersion": STRING, "kind": STRING}

INIT_SCHEMA = dict(_TYPE_META, bootstrapTokens=[_BOOTSTRAP_TOKEN], nodeRegistration=_NODE_REGISTRATION,
                   localAPIEndpoint=_API_ENDPOINT, certificateKey=SECRET, skipPhases=[STRING], patches=_PATCHES,
                   dryRun=BOOL, timeouts=_TIMEOUTS)
CLUSTER_SCHEMA = dict(
    _TYPE_META,
    etcd={"local": {"imageRepository": STRING, "imageTag": STRING, "dataDir": STRING, "extraArgs": _ARG,
                    "extraEnvs": [_ENV], "serverCertSANs": [STRING], "peerCertSANs": [STRING]},
          "external": {"endpoints": [STRING], "caFile": STRING, "certFile": STRING, "keyFile": STRING}},
    networking={"serviceSubnet": STRING, "podSubnet": STRING, "dnsDomain": STRING},
    kubernetesVersion=STRING, controlPlaneEndpoint=STRING, apiServer=dict(_COMPONENT, certSANs=[STRING]),
    controllerManager=_COMPONENT, scheduler=_COMPONENT,
    dns={"disabled": BOOL, "imageRepository": STRING, "imageTag": STRING}, proxy={"disabled": BOOL},
    certificatesDir=STRING, imageRepository=STRING, featureGates={"*": BOOL}, clusterName=STRING,
    encryptionAlgorithm=STRING, certificateValidityPeriod=DURATION, caCertificateValidityPeriod=DURATION)
JOIN_SCHEMA = dict(
    _TYPE_META, dryRun=BOOL, nodeRegistration=_NODE_REGISTRATION, caCertPath=STRING,
    discovery={"bootstrapToken": {"token": SECRET, "apiServerEndpoint": STRING, "caCertHashes": [STRING],
                                  "unsafeSkipCAVerification": BOOL},
               "file": {"kubeConfigPath": STRING}, "tlsBootstrapToken": SECRET},
    controlPlane={"localAPIEndpoint": _API_ENDPOINT, "certificateKey": SECRET}, skipPhases=[STRING],
    patches=_PATCHES, timeouts=_TIMEOUTS)


def _kubeadm_kind(schema: dict):
    def decode(doc: dict, where: str, warnings: list) -> dict:
        return docutil.decode_typed(schema, doc, where, warnings)
    return decode


def default_reset_configuration() -> dict:
    """v1beta4 ResetConfiguration with kubeadm's defaults (SetDefaults_ResetConfiguration)."""
    return {
        "apiVersion": C.KUBEADM_API_V1BETA4,
        "kind": "ResetConfiguration",
        "certificatesDir": C.PKI_DIR,
        "cleanupTmpDir": False,
        "criSocket": "",
        "dryRun": False,
        "force": False,
        "ignorePreflightErrors": [],
        "skipPhases": [],
        "unmountFlags": [],
        "timeouts": dict(C.DEFAULT_TIMEOUTS),
    }


def default_upgrade_configuration() -> dict:
    """v1beta4 UpgradeConfiguration as kubeadm defaults it (SetDefaults_UpgradeConfiguration; 1.33+:
    plan.etcdUpgrade, kubernetes#130023)."""
    pull = {"imagePullPolicy": "IfNotPresent", "imagePullSerial": True}
    return {
        "apiVersion": C.KUBEADM_API_V1BETA4,
        "kind": "UpgradeConfiguration",
        "apply": dict(pull, certificateRenewal=True, etcdUpgrade=True),
        "diff": {},
        "node": dict(pull, certificateRenewal=True, etcdUpgrade=True),
        "plan": {"etcdUpgrade": True},
        "timeouts": dict(C.DEFAULT_TIMEOUTS),
    }


def cluster_configuration_from_text(text: str, source: str = "kubeadm-config", warnings: list = None) -> dict:
    """The cluster's ClusterConfiguration (`parse_cluster_configuration`) defaulted, with its
    kubernetesVersion required to be resolved (vX.Y.Z): what join and upgrade work from."""
    doc = parse_cluster_configuration(text, source, warnings if warnings is not None else [])
    version = str(doc.get("kubernetesVersion") or "")
    if not re.match(r"\Av\d+\.\d+\.\d+", version):
        raise ConfigError(source, version, "a ClusterConfiguration with a resolved kubernetesVersion")
    defaults = default_cluster_configuration()
    if "external" in (doc.get("etcd") or {}):
        defaults["etcd"] = {}
    return docutil.deep_merge(defaults, doc)


# --- the kinds and who reads them ------------------------------------------------------------------

@dataclass(frozen=True)
class Kind:
    """A config document kind: accepted apiVersions, kubeadm's defaults, extra known fields, and the
    strict decoder of its fields (`decode(doc, where, warnings)`: wrong types are a ConfigError,
    unknown fields dropped with a warning)."""

    name: str
    api_versions: tuple
    defaults: object = None        # callable -> defaulted document; None: passed through as written
    extra_keys: tuple = ()
    decode: object = None          # callable (doc, where, warnings) -> decoded doc

    def known_keys(self) -> set:
        return set(self.defaults()) | set(self.extra_keys) if self.defaults else set()


KINDS = {kind.name: kind for kind in (
    Kind("InitConfiguration", KUBEADM_APIS, default_init_configuration, ("patches",), _kubeadm_kind(INIT_SCHEMA)),
    Kind("ClusterConfiguration", KUBEADM_APIS, default_cluster_configuration, (), _kubeadm_kind(CLUSTER_SCHEMA)),
    Kind("JoinConfiguration", KUBEADM_APIS, default_join_configuration, ("controlPlane", "patches"),
         _kubeadm_kind(JOIN_SCHEMA)),
    Kind("ResetConfiguration", (C.KUBEADM_API_V1BETA4,), default_reset_configuration),  # new in v1beta4
    Kind("UpgradeConfiguration", (C.KUBEADM_API_V1BETA4,), default_upgrade_configuration),  # new in v1beta4
    Kind("KubeletConfiguration", (C.KUBELET_API,), decode=componentconfigs.decode_kubelet),
    Kind("KubeProxyConfiguration", (C.KUBEPROXY_API,), decode=componentconfigs.decode_kube_proxy),
)}
# command -> the kinds it reads (other kubeadm kinds in the file are ignored with a warning)
READS = {
    "init": ("InitConfiguration", "ClusterConfiguration", "KubeletConfiguration", "KubeProxyConfiguration"),
    "join": ("JoinConfiguration",),
    "upgrade": ("UpgradeConfiguration",),
    "reset": ("ResetConfiguration",),
    # kubeadm config migrate/validate: every kind
    "config": tuple(KINDS),
}


# --- the config file ---------------------------------------------------------------------------------

def read_config_file(path: str) -> list:
    """The YAML documents of a kubeadm config file on this node (files.NODE)."""
    try:
        text = NODE.read_text(path) if str(path).startswith("/") else None
    except (errors.FileError, UnicodeDecodeError) as exc:
        raise ConfigError("config", path, f"a readable kubeadm config file ({exc})") from None
    if text is None:
        raise ConfigError("config", path, "a readable kubeadm config file (an absolute path to an existing file)")
    try:
        docs = docutil.parse_yaml(text, all_documents=True)
    except docutil.YAMLInputError as exc:
        raise ConfigError("config", path, f"valid YAML: parse error at {exc}") from None
    for index, doc in enumerate(docs, 1):
        if not isinstance(doc, dict):
            raise ConfigError("config", path, f"document {index} must be a YAML mapping with "
                                              f"apiVersion and kind, got {type(doc).__name__}")
    return docs


INLINE = "config_documents"


def inline_documents(value) -> list:
    """Documents a module gets inline (option config_documents): a list of documents, YAML text, or
    {kind: document} (apiVersion defaults to the kind's newest). Copies; errors name the option."""
    if value in (None, "", [], {}):
        return []
    if isinstance(value, str):
        try:
            value = docutil.parse_yaml(value, all_documents=True)
        except docutil.YAMLInputError as exc:
            raise ConfigError(INLINE, "<YAML>", f"valid YAML: {exc}") from None
    if isinstance(value, dict) and "kind" not in value:
        value = [dict(doc, kind=kind) if isinstance(doc, dict) else doc for kind, doc in value.items()]
    elif isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise ConfigError(INLINE, f"<{type(value).__name__}>", "a list of kubeadm config documents, or a mapping "
                                                               "of kind (InitConfiguration, ...) to document")
    docs = []
    for index, doc in enumerate(value, 1):
        if not isinstance(doc, dict):
            raise ConfigError(INLINE, f"document {index}", f"a mapping, got {type(doc).__name__}")
        doc = copy.deepcopy(doc)
        if doc.get("kind") in KINDS and not doc.get("apiVersion"):
            doc["apiVersion"] = KINDS[doc["kind"]].api_versions[0]
        docs.append(doc)
    return docs


def load_documents(path: str, command: str, warnings: list, inline=()) -> tuple:
    """({kind: document} of the kinds `command` reads, {timeout: value} moved out of v1beta3
    documents), from the config file at `path` (may be empty) and then `inline` documents, each
    merged over the file's document of its kind. v1beta3 is converted (marked "_v1beta3"),
    unknown fields dropped with a warning."""
    wanted = READS[command]
    found = {}
    sources = ([("config", path, read_config_file(path))] if path else []) + \
        ([(INLINE, INLINE, list(inline))] if inline else [])
    for field, where, docs in sources:
        for index, doc in enumerate(docs, 1):
            _take(found, doc, index, field, where, command, warnings)
    return _converted(found, path or INLINE, wanted, warnings)


def _take(found: dict, doc: dict, index: int, field: str, where: str, command: str, warnings: list) -> None:
    """One document of a source into `found` (an inline document merges over the file's)."""
    api, kind = doc.get("apiVersion"), doc.get("kind")
    wanted = READS[command]
    label = f"document {index} (apiVersion {api!r}, kind {kind!r})"
    if kind not in KINDS or api not in KINDS[kind].api_versions:
        expected = "; ".join(f"{k} ({' or '.join(KINDS[k].api_versions)})" for k in wanted)
        raise ConfigError(field, where, f"{label} is not supported: expected {expected}")
    if kind not in wanted:
        warnings.append(f"{field} {where}: {label} is not used by {command} and was ignored")
        return
    if kind in found and field != INLINE:
        raise ConfigError(field, where, f"{label}: more than one {kind} document")
    found[kind] = docutil.deep_merge(found[kind], doc) if kind in found else doc


def _converted(found: dict, path: str, wanted: tuple, warnings: list) -> tuple:
    moved = {}
    for kind in wanted:
        if found.get(kind, {}).get("apiVersion") == C.KUBEADM_API_V1BETA3:
            warnings.append(f"config {path}: {kind} uses the deprecated {C.KUBEADM_API_V1BETA3}; converted "
                            f"to {C.KUBEADM_API_V1BETA4} (migrate with `kubeadm config migrate`)")
            found[kind], part = convert_v1beta3(kind, found[kind])
            found[kind]["_v1beta3"] = True
            moved.update(part)
        if kind in found and KINDS[kind].decode:
            converted = found[kind].pop("_v1beta3", False)
            found[kind] = KINDS[kind].decode(found[kind], f"config {path}: {kind}", warnings)
            if converted:
                found[kind]["_v1beta3"] = True
        elif kind in found and KINDS[kind].defaults:
            unknown = sorted(set(found[kind]) - KINDS[kind].known_keys() - {"_v1beta3"})
            if unknown:
                warnings.append(f"config {path}: {kind}: unknown field(s) {', '.join(unknown)} ignored")
                for key in unknown:
                    found[kind].pop(key)
    return found, moved


def parse_cluster_configuration(text, source: str, warnings: list) -> dict:
    """The ClusterConfiguration document of kube-system/kubeadm-config (its `ClusterConfiguration`
    key) as v1beta4: what kubeadm reads back from a running cluster (FetchInitConfigurationFromCluster)."""
    try:
        doc = docutil.parse_yaml(text or "")
    except docutil.YAMLInputError as exc:
        raise ConfigError(source, "<ClusterConfiguration>", f"valid YAML: {exc}") from None
    if not isinstance(doc, dict) or doc.get("kind") != "ClusterConfiguration" \
            or doc.get("apiVersion") not in KINDS["ClusterConfiguration"].api_versions:
        raise ConfigError(source, "<ClusterConfiguration>", "a ClusterConfiguration document (" +
                          " or ".join(KINDS["ClusterConfiguration"].api_versions) + ")")
    if doc["apiVersion"] == C.KUBEADM_API_V1BETA3:
        doc, _moved = convert_v1beta3("ClusterConfiguration", doc)
    unknown = sorted(set(doc) - KINDS["ClusterConfiguration"].known_keys())
    if unknown:
        warnings.append(f"{source}: ClusterConfiguration: unknown field(s) {', '.join(unknown)} ignored")
    doc = {key: value for key, value in doc.items() if key not in unknown}
    return docutil.decode_typed(CLUSTER_SCHEMA, doc, source, warnings)  # wrong types: one clear error


def convert_v1beta3(kind: str, doc: dict) -> tuple:
    """v1beta3 document -> (v1beta4 document, timeouts moved out of it). Mirrors kubeadm's conversion."""
    doc = copy.deepcopy(doc)
    doc["apiVersion"] = C.KUBEADM_API_V1BETA4
    moved = {}
    if kind == "ClusterConfiguration":
        for comp in ("apiServer", "controllerManager", "scheduler"):
            if isinstance(doc.get(comp), dict) and "extraArgs" in doc[comp]:
                doc[comp]["extraArgs"] = validators.extra_args_from_map(f"{comp}.extraArgs", doc[comp]["extraArgs"])
        local = docutil.get(doc, "etcd.local")
        if isinstance(local, dict) and "extraArgs" in local:
            local["extraArgs"] = validators.extra_args_from_map("etcd.local.extraArgs", local["extraArgs"])
        api_server = doc.get("apiServer")
        if isinstance(api_server, dict) and "timeoutForControlPlane" in api_server:
            moved["controlPlaneComponentHealthCheck"] = validators.duration(
                "apiServer.timeoutForControlPlane", api_server.pop("timeoutForControlPlane"))
    reg = doc.get("nodeRegistration")
    if isinstance(reg, dict) and "kubeletExtraArgs" in reg:
        reg["kubeletExtraArgs"] = validators.extra_args_from_map("nodeRegistration.kubeletExtraArgs",
                                                                 reg["kubeletExtraArgs"])
    discovery = doc.get("discovery")
    if kind == "JoinConfiguration" and isinstance(discovery, dict) and "timeout" in discovery:
        doc.setdefault("timeouts", {})["discovery"] = validators.duration("discovery.timeout",
                                                                          discovery.pop("timeout"))
    control = doc.get("controlPlane")
    if kind == "JoinConfiguration" and isinstance(control, dict) and isinstance(control.get("joinControlPlane"), dict):
        control.update(control.pop("joinControlPlane"))  # a very old spelling
    return doc, moved


# --- building the documents ----------------------------------------------------------------------------

class Builder:
    """The documents being built (by short name: "init", "cluster", "join"), what the file said,
    and where each value came from (module option or config path), for error messages."""

    def __init__(self, docs: dict, file_docs: dict, warnings: list, secrets=()):
        self.docs = docs
        self.file = file_docs
        self.sources = {}
        self.warnings = warnings
        self.secrets = set(secrets)   # options whose values are never repeated
        self.config_path = None

    def field(self, doc: str, path: str) -> str:
        """The name the user wrote: the module option, else the config path."""
        return self.sources.get((doc, path), path)

    def get(self, doc: str, path: str, default=None):
        return docutil.get(self.docs[doc], path, default)

    def put(self, doc: str, path: str, value) -> None:
        docutil.put(self.docs[doc], path, value)

    def override(self, option: str, doc: str, path: str, value) -> None:
        """Set a value from a module option; a different value in the config file gets a warning."""
        in_file = docutil.get(self.file.get(doc) or {}, path, _MISSING)
        if in_file is not _MISSING and in_file != value:
            if option in self.secrets:  # never repeat a token or certificate key
                self.warnings.append(f"option {option} overrides {path} from the config file")
            else:
                self.warnings.append(f"option {option}={value!r} overrides {path}={in_file!r} "
                                     f"from the config file")
        self.put(doc, path, value)
        self.sources[(doc, path)] = option

    def check(self, doc: str, path: str, validator, *args):
        """Run validators.<concept>(field, value, *args) on a document value and store the result."""
        value = validator(self.field(doc, path), self.get(doc, path), *args)
        self.put(doc, path, value)
        return value
