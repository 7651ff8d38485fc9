# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubelet files kubeadm writes: config.yaml, kubeadm-flags.env, instance-config.yaml, the drop-in,
and phase kubelet-finalize (kubelet.conf pointed at the rotated client certificate).

Mirrors kubeadm's componentconfigs/kubelet.go (defaults over the user's
KubeletConfiguration), phases/kubelet/flags.go (KUBELET_KUBEADM_ARGS) and
phases/kubelet/config.go (instance config patched into config.yaml).
Starting the kubelet service is the roles' job, not this module's.
"""
from __future__ import annotations

import json
import socket

from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import (
    errors, files, kubeconfigutil, netutil, patches, pki, versions)
from ansible_collections.kubeboot.cluster.plugins.module_utils.arguments import arg_value, arguments_to_command
from ansible_collections.kubeboot.cluster.plugins.module_utils.docutil import deep_merge, parse_yaml, to_yaml

# What kubeadm's marshalled KubeletConfiguration holds besides the values it defaults:
# the v1beta1 fields without omitempty, at their zero value (as a real config.yaml shows).
_ZERO_FIELDS = {
    "authentication": {"webhook": {"cacheTTL": "0s"}, "x509": {}, "anonymous": {}},
    "authorization": {"webhook": {"cacheAuthorizedTTL": "0s", "cacheUnauthorizedTTL": "0s"}},
    "containerRuntimeEndpoint": "",
    "cpuManagerReconcilePeriod": "0s",
    "crashLoopBackOff": {},
    "evictionPressureTransitionPeriod": "0s",
    "fileCheckFrequency": "0s",
    "httpCheckFrequency": "0s",
    "imageMaximumGCAge": "0s",
    "imageMinimumGCAge": "0s",
    "logging": {"flushFrequency": 0, "options": {"json": {"infoBufferSize": "0"},
                                                 "text": {"infoBufferSize": "0"}},
                "verbosity": 0},
    "memorySwap": {},
    "nodeStatusReportFrequency": "0s",
    "nodeStatusUpdateFrequency": "0s",
    "runtimeRequestTimeout": "0s",
    "shutdownGracePeriod": "0s",
    "shutdownGracePeriodCriticalPods": "0s",
    "streamingConnectionIdleTimeout": "0s",
    "syncFrequency": "0s",
    "volumeStatsAggPeriod": "0s",
}


def _fill(doc: dict, key: str, value) -> None:
    """Set doc[key] only when the user left it unset (kubeadm's 'if empty then default')."""
    if doc.get(key) in (None, "", []):
        doc[key] = value


def node_local_cri_socket(cfg) -> bool:
    """NodeLocalCRISocket (its stage and default per minor: versions.MINORS)."""
    return cfg.feature_enabled(C.FEATURE_NODE_LOCAL_CRI_SOCKET)


def cri_socket(cfg) -> str:
    return cfg.init["nodeRegistration"].get("criSocket") or C.DEFAULT_CRI_SOCKET


def kubelet_configuration(cfg, fs=None) -> dict:
    """The cluster-wide KubeletConfiguration (the `kubelet-config` ConfigMap content).

    kubeadm's defaults merged under the user's cfg.kubelet document. resolvConf is
    set to systemd-resolved's file when that file exists on the host (fs; default
    the real root).
    """
    fs = fs or files.HostFS("/")
    doc = deep_merge(_ZERO_FIELDS, cfg.kubelet or {})
    doc["apiVersion"] = C.KUBELET_API
    doc["kind"] = "KubeletConfiguration"
    net = cfg.cluster["networking"]
    _fill(doc, "staticPodPath", C.MANIFESTS_DIR)
    if doc.get("clusterDNS") is None:
        doc["clusterDNS"] = [netutil.nth_ip(net["serviceSubnet"], 10)]
    _fill(doc, "clusterDomain", net["dnsDomain"])
    authn = doc.setdefault("authentication", {})
    _fill(authn.setdefault("x509", {}), "clientCAFile", pki.cert_path(cfg, C.CA_BASE))
    if authn.setdefault("anonymous", {}).get("enabled") is None:
        authn["anonymous"]["enabled"] = False
    if authn.setdefault("webhook", {}).get("enabled") is None:
        authn["webhook"]["enabled"] = True
    _fill(doc.setdefault("authorization", {}), "mode", "Webhook")
    _fill(doc, "healthzBindAddress", C.KUBELET_HEALTHZ_BIND_ADDRESS)
    if doc.get("healthzPort") is None:
        doc["healthzPort"] = C.KUBELET_HEALTHZ_PORT
    doc["rotateCertificates"] = True  # kubeadm hardcodes it
    _fill(doc, "cgroupDriver", C.CGROUP_DRIVER_SYSTEMD)
    if "resolvConf" not in doc and fs.exists(C.SYSTEMD_RESOLV_CONF):
        doc["resolvConf"] = C.SYSTEMD_RESOLV_CONF
    return doc


def instance_config(cfg):
    """instance-config.yaml content (1.34+ with NodeLocalCRISocket), else None."""
    if not node_local_cri_socket(cfg):
        return None
    # Go's %q quoting; json.dumps gives the same for socket paths
    return "containerRuntimeEndpoint: %s\n" % json.dumps(cri_socket(cfg))


def kubelet_config_yaml(cfg, fs=None, instance: bool = False) -> str:
    """KubeletConfiguration YAML.

    instance=False: the cluster-wide document (ConfigMap `kubelet-config`).
    instance=True: what goes to /var/lib/kubelet/config.yaml on this node, i.e. with
    the instance configuration (containerRuntimeEndpoint) applied as kubeadm does.
    """
    doc = kubelet_configuration(cfg, fs)
    return to_yaml(node_config(cfg, doc) if instance else doc)


def node_config(cfg, doc: dict) -> dict:
    """This node's /var/lib/kubelet/config.yaml from the cluster's KubeletConfiguration: the instance
    configuration (containerRuntimeEndpoint, with NodeLocalCRISocket) merged in, then the user's
    `kubeletconfiguration` patches (kubeadm phases/kubelet WriteConfigToDisk)."""
    doc = dict(doc)
    if instance_config(cfg) is not None:
        doc["containerRuntimeEndpoint"] = cri_socket(cfg)
    return patches.apply(cfg, patches.KUBELET_CONFIGURATION, doc)


def node_config_yaml(cfg, cluster_text: str) -> str:
    """node_config of the kubelet-config ConfigMap's text; the text itself when nothing applies."""
    manager = getattr(cfg, "patch_manager", None)
    if instance_config(cfg) is None and (manager is None or not manager.has(patches.KUBELET_CONFIGURATION)):
        return cluster_text
    return to_yaml(node_config(cfg, parse_yaml(cluster_text) or {}))


def _hostname() -> str:
    return socket.gethostname().strip().lower()


def kubelet_flags(cfg, hostname=None, register_taints: bool = False) -> list:
    """The --flag=value list for KUBELET_KUBEADM_ARGS (kubeadm buildKubeletArgs + extra args)."""
    node_reg = cfg.init["nodeRegistration"]
    extra = node_reg.get("kubeletExtraArgs")
    args = {}
    if not node_local_cri_socket(cfg):
        args["container-runtime-endpoint"] = cri_socket(cfg)
    if versions.behaviour(cfg.minor).pause_image_flag:
        args["pod-infra-container-image"] = versions.images(cfg)["pause"]
    # kubeadm never writes --node-ip (phases/kubelet/flags.go buildKubeletArgsCommon): the kubelet
    # picks the node IP itself; users set it through nodeRegistration.kubeletExtraArgs.
    taints = node_reg.get("taints")
    if register_taints and taints:
        args["register-with-taints"] = ",".join(_taint_str(t) for t in taints)
    hostname = _hostname() if hostname is None else hostname
    node_name = arg_value(extra, "hostname-override") or cfg.node_name or hostname
    if node_name != hostname:
        args["hostname-override"] = node_name
    return arguments_to_command(args, extra, cfg.version)


def _taint_str(taint: dict) -> str:
    value = taint.get("value")
    key = taint["key"] + ("=" + value if value else "")
    return f"{key}:{taint['effect']}" if taint.get("effect") else key


def flags_env(cfg, hostname=None, register_taints: bool = False) -> str:
    """kubeadm-flags.env: KUBELET_KUBEADM_ARGS="..." (Go %q quoting)."""
    return "%s=%s\n" % (C.KUBELET_ENV_VARIABLE, json.dumps(" ".join(kubelet_flags(cfg, hostname, register_taints))))


def dropin_unit() -> str:
    """10-kubeadm.conf as the kubeadm packages ship it."""
    kubeconfig_args = (f"--bootstrap-kubeconfig={C.KUBERNETES_DIR}/{C.BOOTSTRAP_KUBELET_CONF} "
                       f"--kubeconfig={C.KUBERNETES_DIR}/{C.KUBELET_CONF}")
    return (
        "# Note: This dropin only works with kubeadm and kubelet v1.11+\n"
        "[Service]\n"
        f'Environment="KUBELET_KUBECONFIG_ARGS={kubeconfig_args}"\n'
        f'Environment="KUBELET_CONFIG_ARGS=--config={C.KUBELET_CONFIG_FILE}"\n'
        "# This is a file that \"kubeadm init\" and \"kubeadm join\" generates at runtime, populating "
        "the KUBELET_KUBEADM_ARGS variable dynamically\n"
        f"EnvironmentFile=-{C.KUBELET_FLAGS_ENV_FILE}\n"
        "# This is a file that the user can use for overrides of the kubelet args as a last resort. "
        "Preferably, the user should use\n"
        "# the .NodeRegistration.KubeletExtraArgs object in the configuration files instead. "
        "KUBELET_EXTRA_ARGS should be sourced from this file.\n"
        f"EnvironmentFile=-{C.KUBELET_DEFAULTS_FILE}\n"
        "ExecStart=\n"
        f"ExecStart={C.KUBELET_BINARY} $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS "
        "$KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS\n"
    )


def ensure_kubelet_files(cfg, fs, writer, hostname=None, register_taints: bool = False) -> list:
    """Write config.yaml, instance-config.yaml (when applicable), kubeadm-flags.env and the drop-in.

    Returns [{"name", "path", "changed"}]. Files are 0644, /var/lib/kubelet is created 0700.
    """
    writer.ensure_dir(C.KUBELET_DIR, C.MODE_KUBELET_DIR)
    wanted = []
    instance = instance_config(cfg)
    if instance is not None:
        wanted.append(("instance-config", C.KUBELET_INSTANCE_CONFIG_FILE, instance))
    wanted.append(("config", C.KUBELET_CONFIG_FILE, kubelet_config_yaml(cfg, fs, instance=True)))
    wanted.append(("flags-env", C.KUBELET_FLAGS_ENV_FILE, flags_env(cfg, hostname, register_taints)))
    wanted.append(("dropin", C.KUBELET_DROPIN_FILE, dropin_unit()))
    results = []
    if instance is None:
        results += remove_stale_instance_config(writer)
    for name, path, content in wanted:
        changed = writer.write(path, content, C.MODE_KUBELET_FILE)
        results.append({"name": name, "path": path, "changed": changed})
    return results


def remove_stale_instance_config(writer) -> list:
    """Without NodeLocalCRISocket kubeadm writes no instance-config.yaml: one left by an earlier run
    (another version or gate setting) would still steer the kubelet, so it goes (the result rows)."""
    if not writer.remove(C.KUBELET_INSTANCE_CONFIG_FILE):
        return []
    return [{"name": "instance-config", "path": C.KUBELET_INSTANCE_CONFIG_FILE, "changed": True, "removed": True}]


def kubelet_finalize(cfg, fs, writer) -> dict:
    """kubelet-finalize/enable-client-cert-rotation: kubelet.conf user -> kubelet-client-current.pem."""
    pem = C.KUBELET_CLIENT_CURRENT
    path = f"{C.KUBERNETES_DIR}/{C.KUBELET_CONF}"
    if not fs.exists(pem):
        return {"changed": False, "skipped": f"{pem} does not exist (external CA or kubelet not bootstrapped)"}
    text = fs.read_text(path)
    if text is None:
        return {"changed": False, "skipped": f"{path} does not exist"}
    config = kubeconfigutil.load(text, path, errors.FileError)
    entry = kubeconfigutil.select(config, strict=True).user_entry
    if entry is None:
        raise errors.FileError(f"{path}: current context {config.get('current-context', '')!r} has no user")
    info = entry.get("user") or {}
    entry["user"] = info
    if (info.get("client-certificate") == pem and info.get("client-key") == pem
            and not info.get("client-certificate-data") and not info.get("client-key-data")):
        return {"changed": False, "path": path}
    info.pop("client-certificate-data", None)
    info.pop("client-key-data", None)
    info["client-certificate"] = pem
    info["client-key"] = pem
    changed = writer.write(path, to_yaml(config), C.MODE_KUBECONFIG, secret=True)
    return {"changed": changed, "path": path}
