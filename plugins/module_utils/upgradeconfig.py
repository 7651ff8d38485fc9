# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubeadm upgrade's configuration: UpgradeConfiguration (v1beta4), the node being upgraded, and
the cluster's own ClusterConfiguration (kube-system/kubeadm-config) at the target version.

`build_upgrade_config(params)` validates the module options and the config file before anything
is read from the cluster. `UpgradeConfig` is an `InitConfig` (the manifests, certificates,
kubeconfigs and kubelet files of init are rendered from it unchanged) whose `cluster` becomes
the cluster's ClusterConfiguration with the target version (`adopt`), and whose
InitConfiguration part is this node's: its name (kubelet.conf's client certificate), its API
endpoint (the kube-apiserver manifest's flags), its CRI socket (instance-config.yaml or
kubeadm-flags.env), with the UpgradeConfiguration's timeouts and patches.
"""
from __future__ import annotations

import copy
import re
import shlex
import socket
from dataclasses import dataclass, field

from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import (
    docutil, errors, kubeconfigutil, manifests, options, pkiutil, validators, versions)
from ansible_collections.kubeboot.cluster.plugins.module_utils.config import InitConfig, load_patches
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import ConfigError, InvalidValue
from ansible_collections.kubeboot.cluster.plugins.module_utils.objects import config_map_checksum
from ansible_collections.kubeboot.cluster.plugins.module_utils.kubeadmconfig import (
    Builder, cluster_configuration_from_text, default_cluster_configuration, default_init_configuration,
    default_upgrade_configuration, load_documents)

ACTIONS = options.UPGRADE_ACTIONS
# The fields of each part of a v1beta4 UpgradeConfiguration at their Go zero values (omitted when
# kubeadm prints a document); kubeadm's own defaults (kubeadmconfig.default_upgrade_configuration)
# and the config file go over them. A module option lands only in a part that has its field.
_COMMON = {"dryRun": False, "ignorePreflightErrors": [], "patches": {"directory": ""}, "skipPhases": []}
_VERSIONED = {"kubernetesVersion": "", "allowExperimentalUpgrades": False, "allowRCUpgrades": False,
              "printConfig": False}
FIELDS = {
    "apply": dict(_COMMON, **_VERSIONED, certificateRenewal=False, etcdUpgrade=False, forceUpgrade=False),
    "node": dict(_COMMON, certificateRenewal=False, etcdUpgrade=False),
    "plan": dict(_VERSIONED, dryRun=False, ignorePreflightErrors=[], etcdUpgrade=False),
    "diff": {"kubernetesVersion": "", "contextLines": 3},
}


@dataclass
class NodeFacts:
    """What this node is, read from its own files."""

    name: str
    control_plane: bool            # a kube-apiserver manifest exists
    advertise_address: str = ""
    bind_port: int = C.APISERVER_PORT
    cri_socket: str = C.DEFAULT_CRI_SOCKET


@dataclass
class UpgradeConfig(InitConfig):
    upgrade: dict = field(default_factory=dict)    # UpgradeConfiguration, defaulted and validated
    action: str = "plan"
    current_version: str = ""                      # the cluster's version before (kubeadm-config)
    node: NodeFacts = None

    @property
    def section(self) -> dict:
        """The UpgradeConfiguration part of this action (apply, node, plan)."""
        return self.upgrade[self.action]

    @property
    def target(self) -> str:
        """The version asked for (plan/apply: kubernetesVersion, resolved; node: the cluster's)."""
        return self.section.get("kubernetesVersion") or ""

    def setting(self, key: str, default=None):
        return self.section.get(key, default)

    def adopt(self, cluster_text: str, node: NodeFacts, version: str = "") -> None:
        """The cluster's ClusterConfiguration at `version` (default: the target; node: the cluster's
        own) and this node's InitConfiguration part."""
        self.cluster = cluster_configuration_from_text(cluster_text, f"ConfigMap {C.KUBE_SYSTEM}/"
                                                                     f"{C.KUBEADM_CONFIG_CM}")
        self.current_version = self.cluster["kubernetesVersion"]
        self.cluster["kubernetesVersion"] = version or self.target or self.current_version
        self.node = node
        reg = self.init["nodeRegistration"]
        reg["name"], reg["criSocket"] = node.name, node.cri_socket
        self.init["localAPIEndpoint"] = {"advertiseAddress": node.advertise_address, "bindPort": node.bind_port}
        self.init["patches"] = self.section.get("patches") or {}
        self.patch_manager = load_patches(self.init, self.minor)


# --- build --------------------------------------------------------------------------------------

def build_upgrade_config(params: dict) -> UpgradeConfig:
    """Module options over the config file over kubeadm's defaults; validated, nothing read yet."""
    params = dict(params or {})
    action = params.get("action") or "plan"
    if action not in ACTIONS:
        raise ConfigError("action", action, "one of " + ", ".join(ACTIONS))
    warnings = []
    file_doc = {}
    if params.get("config"):
        found, _moved = load_documents(params["config"], "upgrade", warnings)
        file_doc = found.get("UpgradeConfiguration") or {}
    doc = docutil.deep_merge(docutil.deep_merge(copy.deepcopy(FIELDS), default_upgrade_configuration()), file_doc)
    builder = Builder({"upgrade": doc}, {"upgrade": file_doc}, warnings, options.secret_options(options.UPGRADE))
    expected = ""
    if action == "node" and params.get("kubernetes_version"):
        # upgrade node takes the version apply uploaded; a version given here is what the caller expects it is
        expected = versions.resolve_version(str(params.pop("kubernetes_version")).strip(), "kubernetes_version")
    options.apply(builder, options.UPGRADE, dict(params, action=action))
    _validate(builder, action)
    init = default_init_configuration()
    init["timeouts"] = doc["timeouts"]
    init["skipPhases"] = doc[action].get("skipPhases") or []
    init["nodeRegistration"]["ignorePreflightErrors"] = doc[action].get("ignorePreflightErrors") or []
    cluster = default_cluster_configuration()
    cluster["kubernetesVersion"] = doc[action].get("kubernetesVersion") or ""
    return UpgradeConfig(init=init, cluster=cluster, warnings=warnings, upgrade=doc, action=action,
                         options={"kubeconfig": params.get("kubeconfig"), "config": params.get("config"),
                                  "expected_version": expected})


def _validate(b: Builder, action: str) -> None:
    doc = b.docs["upgrade"]
    for name in ACTIONS + ("diff", "timeouts"):
        if not isinstance(doc.get(name), dict):
            raise ConfigError(name, doc.get(name), "a mapping (see kubeadm's UpgradeConfiguration v1beta4)")
    for key, value in list(doc["timeouts"].items()):
        if key not in C.DEFAULT_TIMEOUTS:
            raise ConfigError("timeouts", key, "one of " + ", ".join(C.DEFAULT_TIMEOUTS))
        doc["timeouts"][key] = validators.duration(b.field("upgrade", "timeouts." + key), value)
    section = doc[action]
    for key in ("certificateRenewal", "dryRun", "etcdUpgrade", "forceUpgrade", "allowExperimentalUpgrades",
                "allowRCUpgrades", "printConfig", "imagePullSerial"):
        if key in section:
            b.check("upgrade", f"{action}.{key}", validators.boolean)
    if "ignorePreflightErrors" in section:
        b.check("upgrade", f"{action}.ignorePreflightErrors", validators.ignore_preflight_errors)
    if "skipPhases" in section and not isinstance(section["skipPhases"], list):
        raise ConfigError(b.field("upgrade", f"{action}.skipPhases"), section["skipPhases"], "a list of phase names")
    if section.get("dryRun"):
        raise ConfigError(b.field("upgrade", f"{action}.dryRun"), True,
                          "false: use check mode (--check --diff), which plans the files and API objects")
    version_path = f"{action}.kubernetesVersion"
    label = section.get("kubernetesVersion") or ""
    if action == "apply" and not label:
        raise ConfigError("kubernetes_version", label, "the version to upgrade to: " + versions.ALLOWED)
    if label:
        field_name = b.field("upgrade", version_path)
        try:
            section["kubernetesVersion"] = versions.resolve_version(str(label), field_name)
        except InvalidValue as exc:
            raise ConfigError(field_name, label, exc.allowed) from None


# --- this node ------------------------------------------------------------------------------------

def node_name(fs) -> str:
    """The node's name from kubelet.conf's client certificate (CN system:node:<name>), as kubeadm
    upgrade finds it; the host name when there is none."""
    path = C.kubeconfig_path(C.KUBELET_CONF)
    text = fs.read_text(path)
    if text:
        try:
            user = kubeconfigutil.select(kubeconfigutil.load(text, path)).user
            pem = kubeconfigutil.material(user, "client-certificate-data", "client-certificate", fs, C.KUBERNETES_DIR)
            cn = pkiutil.subject_fields(pkiutil.load_certificate(pem, path))[0] if pem else ""
        except (errors.KubebootError, ValueError):
            cn = ""
        if cn.startswith(C.NODE_USER_PREFIX):
            return cn[len(C.NODE_USER_PREFIX):]
    return socket.gethostname().strip().lower()


def cri_socket(fs) -> str:
    """instance-config.yaml's containerRuntimeEndpoint, else kubeadm-flags.env's
    --container-runtime-endpoint, else kubeadm's default."""
    text = fs.read_text(C.KUBELET_INSTANCE_CONFIG_FILE)
    try:
        endpoint = (docutil.parse_yaml(text) or {}).get("containerRuntimeEndpoint") if text else None
    except (docutil.YAMLInputError, AttributeError):
        endpoint = None
    if endpoint:
        return endpoint
    flags = kubelet_flags(fs.read_text(C.KUBELET_FLAGS_ENV_FILE) or "")
    return flags.get("container-runtime-endpoint") or C.DEFAULT_CRI_SOCKET


def kubelet_flags(env_text: str) -> dict:
    """The --flag=value pairs of kubeadm-flags.env's KUBELET_KUBEADM_ARGS."""
    match = re.search(r'^%s=(.*)$' % C.KUBELET_ENV_VARIABLE, env_text, re.M)
    if not match:
        return {}
    try:
        words = shlex.split(match.group(1))
    except ValueError:
        return {}
    words = shlex.split(words[0]) if len(words) == 1 else words
    return dict(w[2:].split("=", 1) for w in words if w.startswith("--") and "=" in w)


def local_node(fs) -> NodeFacts:
    api = manifests.manifest_flags(fs, C.KUBE_APISERVER)
    facts = NodeFacts(name=node_name(fs), control_plane=fs.exists(C.manifest_path(C.KUBE_APISERVER)),
                      cri_socket=cri_socket(fs))
    if api:
        facts.advertise_address = api.get("advertise-address", "")
        try:
            facts.bind_port = int(api.get("secure-port", C.APISERVER_PORT))
        except ValueError:
            facts.bind_port = C.APISERVER_PORT
    if facts.control_plane and not facts.advertise_address:
        raise errors.KubebootError(f"{C.manifest_path(C.KUBE_APISERVER)} has no --advertise-address: this node's "
                                   "API endpoint is unknown")
    return facts


def component_configs(kubelet_cm, proxy_cm) -> tuple:
    """(kubelet, kube-proxy) user documents as init would have had them: a ConfigMap kubeadm signed
    (component-config.hash matches) is kubeadm's own and is generated again for the target; an
    unsigned or edited one is the user's and is kept."""
    def user_doc(cm, key):
        if not cm:
            return {}
        data = cm.get("data") or {}
        signed = ((cm.get("metadata") or {}).get("annotations") or {}).get(C.COMPONENT_CONFIG_HASH_ANNOTATION)
        if signed and signed == config_map_checksum(data):
            return {}
        try:
            doc = docutil.parse_yaml(data.get(key) or "") or {}
        except docutil.YAMLInputError as exc:
            raise ConfigError(f"ConfigMap {C.KUBE_SYSTEM}/{cm['metadata'].get('name')}", key,
                              f"valid YAML ({exc})") from None
        return copy.deepcopy(doc) if isinstance(doc, dict) else {}
    return user_doc(kubelet_cm, C.KUBELET_CONFIG_KEY), user_doc(proxy_cm, C.KUBE_PROXY_CONFIG_KEY)
