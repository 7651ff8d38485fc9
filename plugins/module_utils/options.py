# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one option table of the modules (community.crypto `_argspec` style).

Each row is an option of one or more modules: where it lands in kubeadm's config
(document + dotted path, or none for a module flag), its Ansible type, elements, choices,
default, whether it is secret (no_log), and how the module value is shaped for the config.
The modules' argument specs (`argument_spec`), the secret list (`secret_options`) and the
merge of module options over the config file (`apply`) are all generated from it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import validators
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import HIDDEN, ConfigError

INIT, JOIN, TOKEN, TOKEN_INFO = "kubeadm_init", "kubeadm_join", "kubeadm_token", "kubeadm_token_info"
APPLY = "kube_apply"
RESET, ETCD, NODE = "kubeadm_reset", "kubeadm_etcd", "kube_node"
UPGRADE = "kubeadm_upgrade"
CERTS, KUBECONFIG, CONFIG, VERSION = "kubeadm_certs", "kubeadm_kubeconfig", "kubeadm_config", "kubeadm_version"
PHASE_MODULES = (INIT, JOIN, RESET)
API_MODULES = (TOKEN, TOKEN_INFO, APPLY, NODE)
ALL = PHASE_MODULES + API_MODULES + (ETCD, UPGRADE)
CONFIG_FILE_MODULES = PHASE_MODULES + (CERTS, KUBECONFIG, CONFIG, UPGRADE)   # read a kubeadm config file
ROOTFS_MODULES = ALL + (CERTS, KUBECONFIG)
DEFAULT_KUBECONFIG = C.kubeconfig_path(C.ADMIN_CONF)
TLS_BOOTSTRAP_MODES = ("kubelet", "module")
ETCD_ACTIONS = ("member_list", "health", "snapshot", "restore", "defrag", "member_remove")
ETCD_IDENTITIES = ("etcd-healthcheck-client", "apiserver-etcd-client")  # pki.CERTS rows with an etcd client cert
NODE_STATES = ("cordoned", "uncordoned", "drained", "absent")
UPGRADE_ACTIONS = ("plan", "apply", "node")


def _strip(_name: str, value):
    return value.strip() if isinstance(value, str) else value


def _lower(name: str, value):
    return str(_strip(name, value)).lower()


def _list(name: str, value):
    return validators.as_list(name, value)


def _secret(name: str, value):
    return validators.secret_text(name, value)


@dataclass(frozen=True)
class Option:
    """One module option. `doc`/`path`: where it lands in kubeadm's config ("" = a module flag)."""

    name: str
    modules: tuple
    doc: str = ""                 # "init" | "cluster" | "join" (InitConfiguration, ...); "" = flag
    path: str = ""
    type: str = "str"
    elements: str = None
    secret: bool = None           # True: no_log; False: said explicitly (the name looks secret)
    choices: tuple = None
    default: object = None
    aliases: tuple = ()
    required: bool = False
    convert: Callable = _strip    # (option, module value) -> config value
    apply: Callable = None        # custom merge: apply(builder, option, value, params)
    unset: tuple = (None,)        # module values that mean "not given"
    required: bool = False

    def spec(self) -> dict:
        out = {"type": self.type}
        if self.required:
            out["required"] = True
        if self.elements:
            out["elements"] = self.elements
        if self.secret is not None:
            out["no_log"] = self.secret
        if self.choices:
            out["choices"] = list(self.choices)
        if self.default is not None:
            out["default"] = list(self.default) if isinstance(self.default, tuple) else self.default
        if self.aliases:
            out["aliases"] = list(self.aliases)
        if self.required:
            out["required"] = True
        return out


# --- custom merges ----------------------------------------------------------------------------------

def _feature_gates(builder, option, value, _params) -> None:
    for gate, enabled in validators.feature_gates(option.name, value).items():
        builder.override(option.name, option.doc, f"featureGates.{gate}", enabled)


def _ignore_preflight_errors(builder, option, value, _params) -> None:
    """Added to the file's list (kubeadm merges --ignore-preflight-errors with the config)."""
    merged = list(builder.get(option.doc, option.path) or []) + validators.as_list(option.name, value)
    builder.put(option.doc, option.path, merged)
    builder.sources[(option.doc, option.path)] = option.name


def _join_token(builder, option, value, params) -> None:
    """--token: both the discovery and the TLS bootstrap token, unless the specific option is given."""
    for path, specific in (("discovery.bootstrapToken.token", "discovery_token"),
                           ("discovery.tlsBootstrapToken", "tls_bootstrap_token")):
        if params.get(specific) or (specific == "discovery_token" and params.get("discovery_file")):
            continue
        builder.put(option.doc, path, _secret(option.name, str(value)))
        builder.sources[(option.doc, path)] = option.name


def _upgrade_section(builder, option, value, params) -> None:
    """kubeadm_upgrade: the option lands in the action's part of the UpgradeConfiguration (apply.*,
    node.*, plan.*); one that the action does not have is ignored with a warning."""
    action = params.get("action") or "plan"
    section = builder.docs["upgrade"][action]
    if option.path.split(".", 1)[0] not in section:
        builder.warnings.append(f"option {option.name} does not apply to action {action} and was ignored")
        return
    builder.override(option.name, "upgrade", f"{action}.{option.path}", option.convert(option.name, value))


def _control_plane(builder, option, value, _params) -> None:
    if value and builder.get(option.doc, "controlPlane") is None:
        builder.put(option.doc, "controlPlane", {})


def _control_plane_only(builder, option, value, params) -> None:
    """A controlPlane setting of a join: only when a control-plane join is asked for (control_plane: true,
    or a JoinConfiguration with controlPlane). Never a promotion of a worker: a control-plane join
    downloads the cluster's CA and service-account keys."""
    if not params.get("control_plane") and (builder.file.get(option.doc) or {}).get("controlPlane") is None:
        raise ConfigError(option.name, HIDDEN if option.secret else value,
                          "a setting of a control-plane join only: set control_plane: true to join this node as "
                          "a control plane, or remove it for a worker")
    builder.override(option.name, option.doc, option.path, option.convert(option.name, value))


_FALSE_IS_UNSET = (None, False)  # bools the module defaults to false: not an override
_EMPTY_IS_UNSET = (None, "")

OPTIONS = (
    # --- kubeadm_init: InitConfiguration / ClusterConfiguration --------------------------------------
    Option("kubernetes_version", (INIT,), "cluster", "kubernetesVersion"),
    Option("image_repository", (INIT,), "cluster", "imageRepository"),
    Option("apiserver_advertise_address", (INIT,), "init", "localAPIEndpoint.advertiseAddress"),
    Option("apiserver_bind_port", (INIT,), "init", "localAPIEndpoint.bindPort", type="int"),
    Option("apiserver_cert_extra_sans", (INIT,), "cluster", "apiServer.certSANs", type="list", elements="str",
           convert=_list),
    Option("cert_dir", (INIT,), "cluster", "certificatesDir"),
    Option("control_plane_endpoint", (INIT,), "cluster", "controlPlaneEndpoint"),
    Option("cri_socket", (INIT,), "init", "nodeRegistration.criSocket"),
    Option("dry_run", (INIT,), "init", "dryRun", type="bool", unset=_FALSE_IS_UNSET),
    Option("feature_gates", (INIT,), "cluster", "featureGates", type="raw", apply=_feature_gates),
    Option("ignore_preflight_errors", (INIT,), "init", "nodeRegistration.ignorePreflightErrors", type="list",
           elements="str", apply=_ignore_preflight_errors),
    Option("node_name", (INIT,), "init", "nodeRegistration.name", convert=_lower),
    Option("pod_network_cidr", (INIT,), "cluster", "networking.podSubnet"),
    Option("service_cidr", (INIT,), "cluster", "networking.serviceSubnet"),
    Option("service_dns_domain", (INIT,), "cluster", "networking.dnsDomain"),
    Option("skip_phases", (INIT,), "init", "skipPhases", type="list", elements="str", convert=_list),
    Option("token", (INIT,), "init", "bootstrapTokens.0.token", secret=True, convert=_secret, unset=(None, "")),
    Option("token_ttl", (INIT,), "init", "bootstrapTokens.0.ttl", secret=False),
    Option("certificate_key", (INIT,), "init", "certificateKey", secret=True, convert=_secret),
    Option("encryption_algorithm", (INIT,), "cluster", "encryptionAlgorithm", choices=C.ENCRYPTION_ALGORITHMS),
    Option("certificate_validity_period", (INIT,), "cluster", "certificateValidityPeriod"),
    Option("ca_certificate_validity_period", (INIT,), "cluster", "caCertificateValidityPeriod"),
    Option("patches", (INIT,), "init", "patches.directory", type="path"),
    Option("skip_token_print", (INIT,), type="bool", default=False),
    Option("upload_certs", (INIT,), type="bool", default=False),
    # --- kubeadm_join: JoinConfiguration (token first: the specific tokens below win) ----------------
    Option("token", (JOIN,), "join", secret=True, apply=_join_token, unset=_EMPTY_IS_UNSET),
    Option("api_server_endpoint", (JOIN,), "join", "discovery.bootstrapToken.apiServerEndpoint",
           unset=_EMPTY_IS_UNSET),
    Option("discovery_token", (JOIN,), "join", "discovery.bootstrapToken.token", secret=True, convert=_secret,
           unset=_EMPTY_IS_UNSET),
    Option("tls_bootstrap_token", (JOIN,), "join", "discovery.tlsBootstrapToken", secret=True, convert=_secret,
           unset=_EMPTY_IS_UNSET),
    Option("discovery_token_ca_cert_hash", (JOIN,), "join", "discovery.bootstrapToken.caCertHashes", type="list",
           elements="str", secret=False, convert=_list, unset=_EMPTY_IS_UNSET),
    Option("discovery_token_unsafe_skip_ca_verification", (JOIN,), "join",
           "discovery.bootstrapToken.unsafeSkipCAVerification", type="bool", default=False, unset=_FALSE_IS_UNSET),
    Option("discovery_file", (JOIN,), "join", "discovery.file.kubeConfigPath", unset=_EMPTY_IS_UNSET),
    Option("discovery_ca_file", (JOIN,), type="path"),
    Option("discovery_timeout", (JOIN,), "join", "timeouts.discovery", unset=_EMPTY_IS_UNSET),
    Option("node_name", (JOIN,), "join", "nodeRegistration.name", convert=_lower, unset=_EMPTY_IS_UNSET),
    Option("cri_socket", (JOIN,), "join", "nodeRegistration.criSocket", unset=_EMPTY_IS_UNSET),
    Option("ignore_preflight_errors", (JOIN,), "join", "nodeRegistration.ignorePreflightErrors", type="list",
           elements="str", apply=_ignore_preflight_errors, unset=(None, "", [])),
    Option("skip_phases", (JOIN,), "join", "skipPhases", type="list", elements="str", convert=_list,
           unset=_EMPTY_IS_UNSET),
    Option("certificate_key", (JOIN,), "join", "controlPlane.certificateKey", secret=True, convert=_secret,
           apply=_control_plane_only, unset=_EMPTY_IS_UNSET),
    Option("apiserver_advertise_address", (JOIN,), "join", "controlPlane.localAPIEndpoint.advertiseAddress",
           apply=_control_plane_only, unset=_EMPTY_IS_UNSET),
    Option("apiserver_bind_port", (JOIN,), "join", "controlPlane.localAPIEndpoint.bindPort", type="int",
           apply=_control_plane_only, unset=_EMPTY_IS_UNSET),
    Option("control_plane", (JOIN,), "join", type="bool", default=False, apply=_control_plane),
    Option("dry_run", (JOIN,), "join", "dryRun", type="bool", unset=_FALSE_IS_UNSET),
    Option("patches", (JOIN,), "join", "patches.directory", type="path", unset=_EMPTY_IS_UNSET),
    Option("tls_bootstrap_mode", (JOIN,), choices=TLS_BOOTSTRAP_MODES, default="kubelet"),
    Option("wait_for_kubelet", (JOIN,), type="bool", default=False),
    # --- kubeadm_upgrade: UpgradeConfiguration (the action's part: apply.*, node.*, plan.*) ----------------
    Option("action", (UPGRADE,), choices=UPGRADE_ACTIONS, default="plan"),
    Option("kubernetes_version", (UPGRADE,), "upgrade", "kubernetesVersion", apply=_upgrade_section),
    Option("certificate_renewal", (UPGRADE,), "upgrade", "certificateRenewal", type="bool", apply=_upgrade_section),
    Option("etcd_upgrade", (UPGRADE,), "upgrade", "etcdUpgrade", type="bool", apply=_upgrade_section),
    Option("force", (UPGRADE,), "upgrade", "forceUpgrade", type="bool", apply=_upgrade_section),
    Option("allow_experimental_upgrades", (UPGRADE,), "upgrade", "allowExperimentalUpgrades", type="bool",
           apply=_upgrade_section),
    Option("allow_release_candidate_upgrades", (UPGRADE,), "upgrade", "allowRCUpgrades", type="bool",
           apply=_upgrade_section),
    Option("ignore_preflight_errors", (UPGRADE,), "upgrade", "ignorePreflightErrors", type="list", elements="str",
           convert=_list, apply=_upgrade_section),
    Option("skip_phases", (UPGRADE,), "upgrade", "skipPhases", type="list", elements="str", convert=_list,
           apply=_upgrade_section),
    Option("patches", (UPGRADE,), "upgrade", "patches.directory", type="path", apply=_upgrade_section),
    Option("kubeconfig", (UPGRADE,), type="path"),
    # --- kubeadm_token / kubeadm_token_info ---------------------------------------------------------------
    Option("state", (TOKEN,), choices=("present", "absent"), default="present"),
    Option("token", (TOKEN,), secret=True),
    Option("ttl", (TOKEN,), default=C.DEFAULT_TOKEN_TTL),
    Option("usages", (TOKEN,), type="list", elements="str", choices=C.TOKEN_USAGES, default=C.TOKEN_USAGES),
    Option("groups", (TOKEN,), type="list", elements="str", default=(C.DEFAULT_TOKEN_GROUP,)),
    Option("description", (TOKEN,), default=""),
    Option("reuse", (TOKEN,), type="bool", default=True),
    Option("print_join_command", (TOKEN,), type="bool", default=False),
    Option("certificate_key", (TOKEN,), secret=True),
    Option("include_secrets", (TOKEN_INFO,), type="bool", default=False),
    # --- kube_apply ----------------------------------------------------------------------------------------
    # YAML text, no_log: objects may be Secrets, and the input is never echoed (a list would make Ansible
    # hide each of its values everywhere in the result)
    Option("objects", (APPLY,), secret=True, required=True),
    Option("state", (APPLY,), choices=("present", "absent"), default="present"),
    Option("wait", (APPLY,), type="bool", default=False),
    Option("wait_timeout", (APPLY,), type="int", default=60),
    # --- kubeadm_reset: ResetConfiguration ----------------------------------------------------------------
    Option("cert_dir", (RESET,), "reset", "certificatesDir", unset=_EMPTY_IS_UNSET),
    Option("cri_socket", (RESET,), "reset", "criSocket", unset=_EMPTY_IS_UNSET),
    Option("cleanup_tmp_dir", (RESET,), "reset", "cleanupTmpDir", type="bool", unset=_FALSE_IS_UNSET),
    Option("force", (RESET,), "reset", "force", type="bool", unset=_FALSE_IS_UNSET),
    Option("dry_run", (RESET,), "reset", "dryRun", type="bool", unset=_FALSE_IS_UNSET),
    Option("ignore_preflight_errors", (RESET,), "reset", "ignorePreflightErrors", type="list", elements="str",
           apply=_ignore_preflight_errors, unset=(None, "", [])),
    Option("skip_phases", (RESET,), "reset", "skipPhases", type="list", elements="str", convert=_list,
           unset=_EMPTY_IS_UNSET),
    Option("node_name", (RESET,)),
    Option("kubeconfig", (RESET,), type="path"),
    Option("cleanup_cni", (RESET,), type="bool", default=False),
    Option("cleanup_iptables", (RESET,), type="bool", default=False),
    # --- kubeadm_etcd ------------------------------------------------------------------------------------------
    Option("action", (ETCD,), choices=ETCD_ACTIONS, default="member_list"),
    Option("endpoints", (ETCD,), type="list", elements="str"),
    Option("cert_dir", (ETCD,), type="path", default=C.PKI_DIR),
    Option("identity", (ETCD,), choices=ETCD_IDENTITIES, default=ETCD_IDENTITIES[0]),
    Option("path", (ETCD,), type="path"),
    Option("force", (ETCD,), type="bool", default=False),
    Option("data_dir", (ETCD,), type="path"),
    Option("name", (ETCD,)),
    Option("initial_cluster", (ETCD,)),
    Option("initial_cluster_token", (ETCD,), secret=False),
    Option("initial_advertise_peer_urls", (ETCD,)),
    Option("etcdutl", (ETCD,), type="path"),
    Option("defrag_min_free_bytes", (ETCD,), type="int", default=1048576),
    Option("timeout", (ETCD,), type="int", default=120),
    # --- kube_node ------------------------------------------------------------------------------------------
    Option("name", (NODE,), required=True),
    Option("state", (NODE,), choices=NODE_STATES, default="drained"),
    Option("grace_period", (NODE,), type="int", default=-1),
    Option("timeout", (NODE,), type="int", default=300),
    Option("ignore_daemonsets", (NODE,), type="bool", default=True),
    Option("delete_emptydir_data", (NODE,), type="bool", default=False),
    Option("force", (NODE,), type="bool", default=False),
    Option("disable_eviction", (NODE,), type="bool", default=False),
    Option("wait_ready", (NODE,), type="bool", default=False),
    Option("kubelet_version", (NODE,)),
    # --- kubeadm_certs (kubeadm certs check-expiration|renew|certificate-key|generate-csr) -------------
    Option("renew", (CERTS,), type="list", elements="str", default=()),
    Option("renew_before", (CERTS,)),
    Option("new_keys", (CERTS,), type="bool", default=False, secret=False),
    Option("restart_static_pods", (CERTS,), type="bool", default=True),
    Option("generate_csr", (CERTS,), type="bool", default=False),
    Option("generate_certificate_key", (CERTS,), type="bool", default=False, secret=False),
    Option("kubeconfig_dir", (CERTS,), type="path", default=C.KUBERNETES_DIR),
    Option("cert_dir", (CERTS, KUBECONFIG), type="path"),
    # --- kubeadm_kubeconfig (kubeadm kubeconfig user) ----------------------------------------------------
    Option("client_name", (KUBECONFIG,), required=True),
    Option("org", (KUBECONFIG,), type="list", elements="str", default=(), aliases=("groups",)),
    Option("token", (KUBECONFIG,), secret=True),
    Option("validity_period", (KUBECONFIG,), default=C.DEFAULT_CERT_VALIDITY),
    Option("path", (KUBECONFIG,), type="path"),
    # --- kubeadm_config (kubeadm config print|migrate|validate|images) -----------------------------------
    Option("print", (CONFIG,), choices=C.CONFIG_PRINT_ACTIONS),
    Option("component_configs", (CONFIG,), type="list", elements="str",
           choices=C.COMPONENT_CONFIG_KINDS, default=()),
    Option("old_config", (CONFIG,), type="path"),
    Option("new_config", (CONFIG,), type="path"),
    Option("validate", (CONFIG,), type="bool", default=False),
    Option("images", (CONFIG,), choices=C.IMAGE_ACTIONS),
    Option("kubernetes_version", (CONFIG,)),
    Option("image_repository", (CONFIG,)),
    Option("cri_socket", (CONFIG,)),
    # --- kubeadm_version ----------------------------------------------------------------------------------
    Option("output", (VERSION,), choices=C.VERSION_OUTPUTS, default="json"),
    # --- shared ------------------------------------------------------------------------------------------
    Option("config", CONFIG_FILE_MODULES, type="path"),
    Option("config_documents", (INIT, JOIN), type="raw"),
    Option("kubeconfig", API_MODULES + (CERTS,), type="path", default=DEFAULT_KUBECONFIG),
    Option("api_timeout", API_MODULES, type="int", default=60),
    Option("rootfs", ROOTFS_MODULES, type="path", default="/"),
)


def options_of(module: str) -> list:
    rows = [option for option in OPTIONS if module in option.modules]
    names = [option.name for option in rows]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise KeyError(f"internal: {module} options listed twice: {duplicates}")
    return rows


def argument_spec(module: str) -> dict:
    """The AnsibleModule argument_spec of a module, from the table."""
    return {option.name: option.spec() for option in options_of(module)}


def secret_options(module: str) -> tuple:
    """Options whose values are never repeated in messages (the no_log ones)."""
    return tuple(option.name for option in options_of(module) if option.secret)


def apply(builder, module: str, params: dict) -> None:
    """Lay the module's config options over the builder's documents (in table order)."""
    for option in options_of(module):
        if not option.doc:
            continue
        value = params.get(option.name)
        if any(value is unset or (value == unset and type(value) is type(unset)) for unset in option.unset):
            continue
        if option.apply is not None:
            option.apply(builder, option, value, params)
        else:
            builder.override(option.name, option.doc, option.path, option.convert(option.name, value))
