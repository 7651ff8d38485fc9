# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Phase addon/kube-proxy: ServiceAccount, the kube-proxy ConfigMap (the full
KubeProxyConfiguration kubeadm marshals, plus an in-cluster kubeconfig), the DaemonSet and
its RBAC (kubeadm phases/addons/proxy)."""
from __future__ import annotations

from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import errors, netutil, patches, rbac, staticpod, versions
from ansible_collections.kubeboot.cluster.plugins.module_utils.docutil import deep_merge, to_yaml
from ansible_collections.kubeboot.cluster.plugins.module_utils.durations import format_duration, parse_duration
from ansible_collections.kubeboot.cluster.plugins.module_utils.objects import config_map_checksum, configmap, service_account


# kubeadm marshals the whole k8s.io/kube-proxy/config/v1alpha1 KubeProxyConfiguration struct
# without applying kube-proxy's own defaults (componentconfigs/kubeproxy.go Default only sets
# bindAddress, clusterCIDR, clientConnection.kubeconfig and, from 1.37, mode), so every field
# without `omitempty` appears with its Go zero value (null for pointers and nil slices).
# Field set as kubeadm 1.29-1.37 writes it (featureGates and windowsRunAsService are omitempty).
_KUBE_PROXY_ZERO = {
    "bindAddress": "",
    "bindAddressHardFail": False,
    "clientConnection": {"acceptContentTypes": "", "burst": 0, "contentType": "", "kubeconfig": "", "qps": 0},
    "clusterCIDR": "",
    "configSyncPeriod": "0s",
    "conntrack": {"maxPerCore": None, "min": None, "tcpBeLiberal": False, "tcpCloseWaitTimeout": None,
                  "tcpEstablishedTimeout": None, "udpStreamTimeout": "0s", "udpTimeout": "0s"},
    "detectLocal": {"bridgeInterface": "", "interfaceNamePrefix": ""},
    "detectLocalMode": "",
    "enableProfiling": False,
    "healthzBindAddress": "",
    "hostnameOverride": "",
    "iptables": {"localhostNodePorts": None, "masqueradeAll": False, "masqueradeBit": None,
                 "minSyncPeriod": "0s", "syncPeriod": "0s"},
    "ipvs": {"excludeCIDRs": None, "minSyncPeriod": "0s", "scheduler": "", "strictARP": False,
             "syncPeriod": "0s", "tcpFinTimeout": "0s", "tcpTimeout": "0s", "udpTimeout": "0s"},
    "logging": {"flushFrequency": 0, "options": {"json": {"infoBufferSize": "0"}, "text": {"infoBufferSize": "0"}},
                "verbosity": 0},
    "metricsBindAddress": "",
    "mode": "",
    "nftables": {"masqueradeAll": False, "masqueradeBit": None, "minSyncPeriod": "0s", "syncPeriod": "0s"},
    "nodePortAddresses": None,
    "oomScoreAdj": None,
    "portRange": "",
    "showHiddenMetricsForVersion": "",
    "winkernel": {"enableDSR": False, "forwardHealthCheckVip": False, "networkName": "",
                  "rootHnsEndpointName": "", "sourceVip": ""},
}


# metav1.Duration fields: Go re-marshals "1m" as "1m0s"
_KUBE_PROXY_DURATIONS = (
    ("configSyncPeriod",), ("conntrack", "udpStreamTimeout"), ("conntrack", "udpTimeout"),
    ("conntrack", "tcpCloseWaitTimeout"), ("conntrack", "tcpEstablishedTimeout"),
    ("iptables", "minSyncPeriod"), ("iptables", "syncPeriod"), ("ipvs", "minSyncPeriod"),
    ("ipvs", "syncPeriod"), ("ipvs", "tcpFinTimeout"), ("ipvs", "tcpTimeout"), ("ipvs", "udpTimeout"),
    ("nftables", "minSyncPeriod"), ("nftables", "syncPeriod"),
)


def _go_duration(value):
    """A duration string as Go's metav1.Duration re-marshals it (whole seconds only; else unchanged)."""
    if not isinstance(value, str) or not value:
        return value
    try:
        seconds = parse_duration(value)
    except errors.InvalidValue:
        return value
    return format_duration(seconds) if float(seconds).is_integer() else value


def kube_proxy_configuration(cfg) -> dict:
    """KubeProxyConfiguration exactly as kubeadm marshals it into the kube-proxy ConfigMap: the
    zero-valued v1alpha1 struct, the user's document over it, then kubeadm's defaults."""
    doc = deep_merge(_KUBE_PROXY_ZERO, {k: v for k, v in (cfg.kube_proxy or {}).items()
                                        if k not in ("apiVersion", "kind")})
    doc["apiVersion"] = C.KUBEPROXY_API
    doc["kind"] = "KubeProxyConfiguration"
    for path in _KUBE_PROXY_DURATIONS:
        parent = doc
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent.get(key), dict) else {}
        if path[-1] in parent:
            parent[path[-1]] = _go_duration(parent[path[-1]])
    if not doc.get("bindAddress"):
        doc["bindAddress"] = "::" if netutil.is_ipv6(cfg.advertise_address) else "0.0.0.0"
    pod_subnet = cfg.cluster["networking"].get("podSubnet") or ""
    if not doc.get("clusterCIDR") and pod_subnet:
        doc["clusterCIDR"] = pod_subnet
    client = doc.setdefault("clientConnection", {})
    if not client.get("kubeconfig"):
        client["kubeconfig"] = f"{C.KUBE_PROXY_DIR}/{C.KUBE_PROXY_KUBECONFIG_KEY}"
    if not doc.get("mode") and versions.behaviour(cfg.minor).kube_proxy_mode:
        doc["mode"] = versions.behaviour(cfg.minor).kube_proxy_mode  # k/k #139777: written explicitly
    if not doc.get("featureGates"):
        doc.pop("featureGates", None)  # map[string]bool `json:",omitempty"`
    if not doc.get("windowsRunAsService"):
        doc.pop("windowsRunAsService", None)  # bool `json:",omitempty"`
    return doc


def kube_proxy_kubeconfig(server_url: str) -> str:
    return ("apiVersion: v1\n"
            "kind: Config\n"
            "clusters:\n"
            "- cluster:\n"
            f"    certificate-authority: {C.SERVICEACCOUNT_CA}\n"
            f"    server: {server_url}\n"
            "  name: default\n"
            "contexts:\n"
            "- context:\n"
            "    cluster: default\n"
            "    namespace: default\n"
            "    user: default\n"
            "  name: default\n"
            "current-context: default\n"
            "users:\n"
            "- name: default\n"
            "  user:\n"
            f"    tokenFile: {C.SERVICEACCOUNT_TOKEN}")


def kube_proxy_configmap(cfg, server_url: str) -> dict:
    data = {
        C.KUBE_PROXY_KUBECONFIG_KEY: kube_proxy_kubeconfig(server_url),
        C.KUBE_PROXY_CONFIG_KEY: to_yaml(kube_proxy_configuration(cfg)).rstrip("\n"),
    }
    # proxy.go createKubeProxyConfigMap: SignConfigMap unless the user supplied the config
    annotations = None if cfg.kube_proxy else {C.COMPONENT_CONFIG_HASH_ANNOTATION: config_map_checksum(data)}
    return configmap(C.KUBE_PROXY_CM, C.KUBE_SYSTEM, data, labels={"app": C.KUBE_PROXY}, annotations=annotations)


def kube_proxy_image(cfg) -> str:
    return versions.images(cfg)[C.KUBE_PROXY]


def kube_proxy_env(environ=None) -> list:
    """NODE_NAME, then the host's *_proxy variables (proxy.go: MergeKubeadmEnvVars(GetProxyEnvVars()))."""
    return ([{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]
            + staticpod.merge_env(staticpod.proxy_env(environ)))


def kube_proxy_daemonset(cfg, environ=None) -> dict:
    """environ: whose *_proxy variables go into the container (default os.environ, like kubeadm)."""
    labels = {"k8s-app": C.KUBE_PROXY}
    return {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": C.KUBE_PROXY, "namespace": C.KUBE_SYSTEM, "labels": dict(labels)},
        "spec": {
            "selector": {"matchLabels": dict(labels)},
            "updateStrategy": {"type": "RollingUpdate"},
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "priorityClassName": "system-node-critical",
                    "containers": [{
                        "name": C.KUBE_PROXY,
                        "image": kube_proxy_image(cfg),
                        "imagePullPolicy": "IfNotPresent",
                        "command": ["/usr/local/bin/kube-proxy",
                                    f"--config={C.KUBE_PROXY_DIR}/{C.KUBE_PROXY_CONFIG_KEY}",
                                    "--hostname-override=$(NODE_NAME)"],
                        "securityContext": {"privileged": True},
                        "volumeMounts": [
                            {"mountPath": C.KUBE_PROXY_DIR, "name": C.KUBE_PROXY},
                            {"mountPath": "/run/xtables.lock", "name": "xtables-lock", "readOnly": False},
                            {"mountPath": "/lib/modules", "name": "lib-modules", "readOnly": True}],
                        "env": kube_proxy_env(environ),
                    }],
                    "hostNetwork": True,
                    "serviceAccountName": C.KUBE_PROXY,
                    "volumes": [
                        {"name": C.KUBE_PROXY, "configMap": {"name": C.KUBE_PROXY_CM}},
                        {"name": "xtables-lock", "hostPath": {"path": "/run/xtables.lock",
                                                              "type": "FileOrCreate"}},
                        {"name": "lib-modules", "hostPath": {"path": "/lib/modules"}}],
                    # only the catch-all toleration since k/k #101966 (1.22)
                    "tolerations": [{"operator": "Exists"}],
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                },
            },
        },
    }


def kube_proxy_objects(cfg, server_url: str, environ=None) -> list:
    daemonset = patches.apply(cfg, patches.KUBE_PROXY_DAEMONSET, kube_proxy_daemonset(cfg, environ))
    return ([service_account(C.KUBE_PROXY), kube_proxy_configmap(cfg, server_url), daemonset]
            + rbac.kube_proxy_rbac())


def addon_kube_proxy(api, cfg, server_url: str, ca_pem=None, environ=None) -> dict:
    mark = api.mark()
    api.ensure_all(kube_proxy_objects(cfg, server_url, environ))
    return api.result(mark, image=kube_proxy_image(cfg))
