# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`kubeadm config`: print init/join/reset/upgrade defaults, migrate, validate and images
list/pull, as the kubeadm_config module body.

Every document comes from the config layer (`kubeadmconfig` defaults, `config.build_init_config`,
`joinconfig.build_join_config`) and is written like kubeadm marshals v1beta4: Go omitempty
(`docutil.omit_empty`; `nodeRegistration.taints: null` kept), keys sorted, documents joined by
"---\\n". `config print` uses kubeadm's placeholders (token abcdef.0123456789abcdef, address
1.2.3.4, node "node", kubernetesVersion of this kubeadm without the "v") and is accepted back
by kubeadm_init as `config`. Images are `versions.images`, pulled through
`containerruntime`.
"""
from __future__ import annotations

import copy
import socket

from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import (
    addonproxy, config, containerruntime, docutil, errors, joinconfig, kubeadmconfig, kubelet, validators, versions)
from ansible_collections.kubeboot.cluster.plugins.module_utils.files import NODE, Writer

COMPONENT_CONFIGS = C.COMPONENT_CONFIG_KINDS
SEPARATOR = "---\n"
KUBEADM_KINDS = ("InitConfiguration", "ClusterConfiguration", "JoinConfiguration", "ResetConfiguration",
                 "UpgradeConfiguration")
_NOT_USED = "is not used by"   # load_documents' note on kinds another command reads


def current_version() -> str:
    """kubeadm's CurrentKubernetesVersion.String(): "1.<newest minor>.0" (no "v")."""
    return f"1.{versions.MINORS[-1].minor}.0"


def _document(doc: dict, api: str, kind: str, keep=("taints",)) -> dict:
    out = docutil.omit_empty(copy.deepcopy(doc), keep=keep)
    out["apiVersion"], out["kind"] = api, kind
    return out


def render(docs: list) -> str:
    return SEPARATOR.join(docutil.to_yaml(doc) for doc in docs)


# --- print -------------------------------------------------------------------------------------------

def print_defaults(action: str, component_configs=()) -> list:
    """The documents of `kubeadm config print <action>-defaults`."""
    if action == "init":
        cfg = placeholder_init_config()
        docs = [config.init_configuration_document(cfg), config.cluster_configuration_document(cfg)]
        for kind in component_configs:
            doc = kubelet.kubelet_configuration(cfg) if kind == COMPONENT_CONFIGS[0] \
                else addonproxy.kube_proxy_configuration(cfg)
            docs.append(doc)
        return docs
    if component_configs:
        raise errors.InvalidValue("component_configs", list(component_configs), "only with print: init "
                                                                                "(kubeadm's --component-configs)")
    if action == "join":
        return [_join_defaults()]
    if action == "reset":
        doc = kubeadmconfig.default_reset_configuration()
        doc["criSocket"] = C.DEFAULT_CRI_SOCKET  # kubeadm without CRI detection
        return [_document(doc, C.KUBEADM_API_V1BETA4, "ResetConfiguration", keep=())]
    return [_document(kubeadmconfig.default_upgrade_configuration(), C.KUBEADM_API_V1BETA4, "UpgradeConfiguration",
                      keep=())]


def placeholder_init_config() -> config.InitConfig:
    """kubeadm's DefaultedStaticInitConfiguration: static defaults and placeholders, no host lookups."""
    init = kubeadmconfig.default_init_configuration()
    init["bootstrapTokens"][0]["token"] = C.PLACEHOLDER_TOKEN
    init["localAPIEndpoint"]["advertiseAddress"] = C.PLACEHOLDER_ADVERTISE_ADDRESS
    init["nodeRegistration"]["name"] = C.PLACEHOLDER_NODE_NAME
    cluster = kubeadmconfig.default_cluster_configuration()
    cluster["kubernetesVersion"] = current_version()
    return config.InitConfig(init=init, cluster=cluster)


def _join_defaults() -> dict:
    """kubeadm's join defaults: the placeholder token discovery, this host's name (kubeadm runs the
    join dynamic defaults for them)."""
    doc = kubeadmconfig.default_join_configuration()
    doc["discovery"] = {"bootstrapToken": {"token": C.PLACEHOLDER_TOKEN,
                                           "apiServerEndpoint": C.PLACEHOLDER_JOIN_ENDPOINT,
                                           "unsafeSkipCAVerification": True},
                        "tlsBootstrapToken": C.PLACEHOLDER_TOKEN}
    doc["nodeRegistration"]["name"] = socket.gethostname().strip().lower()
    return _document(doc, C.KUBEADM_API_V1BETA4, "JoinConfiguration")


# --- migrate / validate ---------------------------------------------------------------------------

def _kinds_in(path: str, warnings: list) -> dict:
    found, _moved = kubeadmconfig.load_documents(path, "config", warnings)
    return found


def migrate(path: str, warnings: list) -> list:
    """`kubeadm config migrate`: the file's documents read, defaulted, converted and validated, as
    v1beta4 - what kubeadm_init/kubeadm_join would read. Like kubeadm, an unset bootstrap token
    stays to be generated at init (kubeadm writes a random one here) and nodeRegistration.taints
    is resolved. Beyond kubeadm, component configs in the file are kept as they are (kubeadm
    drops them)."""
    found = _kinds_in(path, warnings)
    if not set(found) & set(KUBEADM_KINDS):
        raise errors.ConfigError("old_config", path, "a kubeadm config file with at least one of "
                                                     + ", ".join(KUBEADM_KINDS))
    docs = []
    if "InitConfiguration" in found or "ClusterConfiguration" in found:
        cfg = config.build_init_config({"config": path})
        warnings.extend(w for w in cfg.warnings if _NOT_USED not in w)
        init = config.init_configuration_document(cfg)
        init["nodeRegistration"]["taints"] = _taints(cfg.init["nodeRegistration"].get("taints"), True)
        for token in init.get("bootstrapTokens") or []:
            if not token.get("token"):
                token.pop("token", None)
        docs += [init, config.cluster_configuration_document(cfg)]
    if "JoinConfiguration" in found:
        join = joinconfig.build_join_config({"config": path})
        warnings.extend(w for w in join.warnings if _NOT_USED not in w)
        doc = _document(join.join, C.KUBEADM_API_V1BETA4, "JoinConfiguration")
        doc["nodeRegistration"]["taints"] = _taints(join.join["nodeRegistration"].get("taints"),
                                                    "controlPlane" in join.join)
        docs.append(doc)
    for kind in ("ResetConfiguration", "UpgradeConfiguration"):
        if kind in found:
            doc = docutil.deep_merge(kubeadmconfig.KINDS[kind].defaults(), found[kind])
            if kind == "ResetConfiguration" and not doc.get("criSocket"):
                doc["criSocket"] = C.DEFAULT_CRI_SOCKET
            docs.append(_document(doc, C.KUBEADM_API_V1BETA4, kind, keep=()))
    for kind in COMPONENT_CONFIGS:
        if kind in found:
            docs.append(found[kind])
    return docs


def _taints(taints, control_plane: bool):
    """kubeadm's dynamic default: nil taints on a control plane become its NoSchedule taint."""
    if taints is None and control_plane:
        return [dict(C.CONTROL_PLANE_TAINT)]
    return taints


def validate(path: str, warnings: list) -> list:
    """`kubeadm config validate`: what kubeadm_init/kubeadm_join would refuse is an error here; unknown
    fields too (kubeadm decodes strictly; init and join only warn)."""
    notes: list = []
    docs = migrate(path, notes)
    unknown = [note for note in notes if "unknown field" in note]
    if unknown:
        raise errors.ConfigError("config", path, "known fields only (kubeadm decodes strictly): " + "; ".join(unknown))
    warnings.extend(notes)
    return docs


# --- images ------------------------------------------------------------------------------------------

def image_list(params: dict, warnings: list) -> list:
    """`kubeadm config images list`, in kubeadm's order (GetControlPlaneImages): no kube-proxy or
    CoreDNS when those addons are disabled, no etcd with an external one."""
    doc = {}
    if params.get("config"):
        doc = _kinds_in(params["config"], warnings).get("ClusterConfiguration", {})
    doc = copy.deepcopy(doc)
    for option, key in (("kubernetes_version", "kubernetesVersion"), ("image_repository", "imageRepository")):
        if params.get(option):
            doc[key] = str(params[option]).strip()
    cfg = config.cluster_init_config(doc, warnings)
    images = versions.images(cfg)
    skip = set()
    if (cfg.cluster.get("proxy") or {}).get("disabled"):
        skip.add(C.KUBE_PROXY)
    if (cfg.cluster.get("dns") or {}).get("disabled"):
        skip.add(C.COREDNS)
    if not cfg.local_etcd:
        skip.add(C.ETCD)
    return [image for name, image in images.items() if name not in skip]


# --- the module ----------------------------------------------------------------------------------

def _action(params: dict) -> str:
    chosen = [name for name in ("print", "old_config", "validate", "images") if params.get(name)]
    if len(chosen) != 1:
        raise errors.InvalidValue("print/old_config/validate/images", chosen or None,
                                  "exactly one of print (init, join, reset, upgrade), old_config (migrate), "
                                  "validate: true (with config) or images (list, pull)")
    if chosen[0] == "validate" and not params.get("config"):
        raise errors.InvalidValue("config", None, "the kubeadm config file to validate")
    return chosen[0]


def run_config(params: dict, check_mode: bool = False) -> dict:
    """The kubeadm_config module."""
    action = _action(params)
    warnings: list = []
    result = {"changed": False}
    if action == "print":
        docs = print_defaults(params["print"], params.get("component_configs") or ())
    elif action == "old_config":
        docs = migrate(params["old_config"], warnings)
    elif action == "validate":
        docs = validate(params["config"], warnings)
        result["valid"] = True
    else:
        result["images"] = image_list(params, warnings)
        if params["images"] == "pull":
            result.update(_pull(params, result["images"], check_mode))
        result["warnings"] = warnings
        return result
    content = render(docs)
    result.update(content=content, documents=docs, warnings=warnings)
    if action == "old_config" and params.get("new_config"):
        writer = Writer(NODE, check_mode=check_mode)
        writer.write(params["new_config"], content, C.MODE_PUBLIC_FILE)  # kubeadm writes 0644
        result.update(changed=writer.changed, diff=writer.log.diffs, new_config=params["new_config"])
    return result


def _pull(params: dict, images: list, check_mode: bool) -> dict:
    socket_value = validators.cri_socket("cri_socket", params.get("cri_socket") or C.DEFAULT_CRI_SOCKET, [])
    runtime = containerruntime.connect(socket_value)
    pulled = containerruntime.pull_missing(runtime, images, check_mode)
    return {"changed": bool(pulled["pulled"]), "pulled": pulled["pulled"], "present": pulled["present"],
            "pulled_with": runtime.tool}
