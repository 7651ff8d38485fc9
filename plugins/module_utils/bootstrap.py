# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every API object `kubeadm init` creates, as plain dicts, and the API phases that
apply them idempotently (kubeadm phases bootstraptoken, uploadconfig, copycerts,
markcontrolplane, addons/dns, addons/proxy, kubelet-finalize).

Builders are pure (cfg in, dicts out). Phase functions take an `apiclient.Client`
and return a result dict with `changed`; a rerun against an unchanged cluster
writes nothing and creates no new token.
"""
from __future__ import annotations

import base64
import copy
import datetime as _dt
import hashlib
import os
import time


from ansible_collections.kubeboot.cluster.plugins.module_utils.deps import yaml
from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import errors
from ansible_collections.kubeboot.cluster.plugins.module_utils import netutil
from ansible_collections.kubeboot.cluster.plugins.module_utils import tokens
from ansible_collections.kubeboot.cluster.plugins.module_utils.config import deep_merge
from ansible_collections.kubeboot.cluster.plugins.module_utils.durations import parse_duration

RBAC_GROUP = "rbac.authorization.k8s.io"
RBAC_API = RBAC_GROUP + "/v1"

KUBE_PROXY_CM = C.KUBE_PROXY_CM
KUBE_PROXY_CONFIG_KEY = C.KUBE_PROXY_CONFIG_KEY
KUBE_PROXY_KUBECONFIG_KEY = C.KUBE_PROXY_KUBECONFIG_KEY
KUBE_PROXY_DIR = C.KUBE_PROXY_DIR
SA_DIR = C.SERVICEACCOUNT_DIR
KUBE_DNS_SERVICE = C.KUBE_DNS_SERVICE
CERT_TOKEN_DESCRIPTION = C.CERT_TOKEN_DESCRIPTION
SYSTEM_NODE_CRB = C.CRB_SYSTEM_NODE
NONCE_SIZE = 12


def dump_yaml(obj) -> str:
    """YAML the way sigs.k8s.io/yaml writes it: keys sorted, block style, and go-yaml's quoting
    (`""`, `"0"`, `"true"` in double quotes, where PyYAML would write `''`, `'0'`, `'true'`)."""
    from ansible_collections.kubeboot.cluster.plugins.module_utils import manifests
    return manifests.to_yaml(obj)


# --- RBAC building blocks -----------------------------------------------------------
def group(name: str) -> dict:
    return {"apiGroup": RBAC_GROUP, "kind": "Group", "name": name}


def user(name: str) -> dict:
    return {"apiGroup": RBAC_GROUP, "kind": "User", "name": name}


def service_account(name: str, namespace: str = C.KUBE_SYSTEM) -> dict:
    return {"kind": "ServiceAccount", "name": name, "namespace": namespace}


def cluster_role_binding(name: str, cluster_role: str, subjects: list) -> dict:
    return {"apiVersion": RBAC_API, "kind": "ClusterRoleBinding", "metadata": {"name": name},
            "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": cluster_role},
            "subjects": subjects}


def cluster_role(name: str, rules: list) -> dict:
    return {"apiVersion": RBAC_API, "kind": "ClusterRole", "metadata": {"name": name}, "rules": rules}


def get_role(name: str, namespace: str, resource: str, resource_name: str) -> dict:
    """Role granting `get` on one named object (all kubeadm Roles look like this)."""
    return {"apiVersion": RBAC_API, "kind": "Role",
            "metadata": {"name": name, "namespace": namespace},
            "rules": [{"apiGroups": [""], "resources": [resource], "resourceNames": [resource_name],
                       "verbs": ["get"]}]}


def role_binding(name: str, namespace: str, role: str, subjects: list) -> dict:
    return {"apiVersion": RBAC_API, "kind": "RoleBinding",
            "metadata": {"name": name, "namespace": namespace},
            "roleRef": {"apiGroup": RBAC_GROUP, "kind": "Role", "name": role}, "subjects": subjects}


def cluster_admins_rbac() -> list:
    return [cluster_role_binding(C.CRB_CLUSTER_ADMINS, C.CR_CLUSTER_ADMIN, [group(C.CLUSTER_ADMINS_GROUP)])]


def node_bootstrap_rbac() -> list:
    """bootstraptoken/node: kubelet-bootstrap, get-nodes, CSR auto-approval."""
    token_group = [group(C.DEFAULT_TOKEN_GROUP)]
    return [
        cluster_role_binding(C.CRB_KUBELET_BOOTSTRAP, C.CR_NODE_BOOTSTRAPPER, token_group),
        cluster_role(C.CR_GET_NODES, [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}]),
        cluster_role_binding(C.CR_GET_NODES, C.CR_GET_NODES, token_group),
        cluster_role_binding(C.CRB_NODE_AUTOAPPROVE_BOOTSTRAP, C.CR_NODECLIENT, token_group),
        cluster_role_binding(C.CRB_NODE_AUTOAPPROVE_ROTATION, C.CR_SELFNODECLIENT, [group(C.NODES_GROUP)]),
    ]


def cluster_info_rbac() -> list:
    return [get_role(C.ROLE_CLUSTER_INFO, C.KUBE_PUBLIC, "configmaps", C.CLUSTER_INFO_CM),
            role_binding(C.ROLE_CLUSTER_INFO, C.KUBE_PUBLIC, C.ROLE_CLUSTER_INFO, [user(C.ANONYMOUS_USER)])]


def kubeadm_config_rbac() -> list:
    return [get_role(C.ROLE_NODES_KUBEADM_CONFIG, C.KUBE_SYSTEM, "configmaps", C.KUBEADM_CONFIG_CM),
            role_binding(C.ROLE_NODES_KUBEADM_CONFIG, C.KUBE_SYSTEM, C.ROLE_NODES_KUBEADM_CONFIG,
                         [group(C.DEFAULT_TOKEN_GROUP), group(C.NODES_GROUP)])]


def kubelet_config_rbac() -> list:
    return [get_role(C.ROLE_KUBELET_CONFIG, C.KUBE_SYSTEM, "configmaps", C.KUBELET_CONFIG_CM),
            role_binding(C.ROLE_KUBELET_CONFIG, C.KUBE_SYSTEM, C.ROLE_KUBELET_CONFIG,
                         [group(C.NODES_GROUP), group(C.DEFAULT_TOKEN_GROUP)])]


def kubeadm_certs_rbac() -> list:
    return [get_role(C.ROLE_KUBEADM_CERTS, C.KUBE_SYSTEM, "secrets", C.KUBEADM_CERTS_SECRET),
            role_binding(C.ROLE_KUBEADM_CERTS, C.KUBE_SYSTEM, C.ROLE_KUBEADM_CERTS,
                         [group(C.DEFAULT_TOKEN_GROUP)])]


def kube_proxy_rbac() -> list:
    return [
        cluster_role_binding(C.CRB_NODE_PROXIER, C.CR_NODE_PROXIER, [service_account(C.KUBE_PROXY)]),
        get_role(KUBE_PROXY_CM, C.KUBE_SYSTEM, "configmaps", KUBE_PROXY_CM),
        role_binding(KUBE_PROXY_CM, C.KUBE_SYSTEM, KUBE_PROXY_CM, [group(C.DEFAULT_TOKEN_GROUP)]),
    ]


def coredns_rbac() -> list:
    return [
        cluster_role(C.CR_COREDNS, [
            {"apiGroups": [""], "resources": ["endpoints", "services", "pods", "namespaces"],
             "verbs": ["list", "watch"]},
            {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"],
             "verbs": ["list", "watch"]},
        ]),
        cluster_role_binding(C.CR_COREDNS, C.CR_COREDNS, [service_account(C.COREDNS)]),
    ]


def all_rbac() -> list:
    """The whole RBAC table of kubeadm-artifacts §5 (for tests and docs)."""
    return (cluster_admins_rbac() + node_bootstrap_rbac() + cluster_info_rbac() + kubeadm_config_rbac()
            + kubelet_config_rbac() + kubeadm_certs_rbac() + kube_proxy_rbac() + coredns_rbac())


# --- ConfigMaps --------------------------------------------------------------------
def configmap(name: str, namespace: str, data: dict, labels=None, annotations=None) -> dict:
    meta = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = dict(labels)
    if annotations:
        meta["annotations"] = dict(annotations)
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": dict(data)}


def _pem_text(ca_pem) -> str:
    return ca_pem.decode("ascii") if isinstance(ca_pem, bytes) else str(ca_pem)


def cluster_info_kubeconfig(server_url: str, ca_pem) -> str:
    """The `kubeconfig` value of cluster-info as clientcmd.Write prints it: one cluster named ""."""
    ca_data = base64.b64encode(_pem_text(ca_pem).encode("ascii")).decode("ascii")
    return ("apiVersion: v1\n"
            "clusters:\n"
            "- cluster:\n"
            f"    certificate-authority-data: {ca_data}\n"
            f"    server: {server_url}\n"
            "  name: \"\"\n"
            "contexts: null\n"
            "current-context: \"\"\n"
            "kind: Config\n"
            "preferences: {}\n"
            "users: null\n")


def cluster_info_configmap(server_url: str, ca_pem) -> dict:
    return configmap(C.CLUSTER_INFO_CM, C.KUBE_PUBLIC,
                     {C.CLUSTER_INFO_KUBECONFIG_KEY: cluster_info_kubeconfig(server_url, ca_pem)})


def cluster_configuration_yaml(cfg) -> str:
    """The ClusterConfiguration document stored in kubeadm-config."""
    from ansible_collections.kubeboot.cluster.plugins.module_utils import config as config_mod
    builder = getattr(config_mod, "cluster_configuration_document", None)
    if builder is not None:
        doc = builder(cfg)
        return doc if isinstance(doc, str) else dump_yaml(doc)
    doc = copy.deepcopy(cfg.cluster)
    doc["apiVersion"] = C.KUBEADM_API_V1BETA4
    doc["kind"] = "ClusterConfiguration"
    return dump_yaml(doc)


def kubeadm_config_configmap(cfg) -> dict:
    return configmap(C.KUBEADM_CONFIG_CM, C.KUBE_SYSTEM, {C.KUBEADM_CONFIG_KEY: cluster_configuration_yaml(cfg)})


def config_map_checksum(data: dict, binary_data=None) -> str:
    """kubeadm componentconfigs.ChecksumForConfigMap: sha256 over values in sorted-key order."""
    digest = hashlib.sha256()
    for key in sorted(data or {}):
        digest.update(data[key].encode("utf-8"))
    for key in sorted(binary_data or {}):
        digest.update(base64.b64decode(binary_data[key]))
    return "sha256:" + digest.hexdigest()


def kubelet_config_yaml(cfg) -> str:
    from ansible_collections.kubeboot.cluster.plugins.module_utils import kubelet
    doc = kubelet.kubelet_configuration(cfg)
    return doc if isinstance(doc, str) else dump_yaml(doc)


def kubelet_config_configmap(cfg, kubelet_yaml: str = None) -> dict:
    data = {C.KUBELET_CONFIG_KEY: kubelet_yaml if kubelet_yaml is not None else kubelet_config_yaml(cfg)}
    # kubelet/config.go CreateConfigMap: SignConfigMap only when the config is not user supplied
    annotations = None if cfg.kubelet else {C.COMPONENT_CONFIG_HASH_ANNOTATION: config_map_checksum(data)}
    return configmap(C.KUBELET_CONFIG_CM, C.KUBE_SYSTEM, data, annotations=annotations)


# --- CoreDNS -------------------------------------------------------------------------
def corefile(cfg, cache_options=None) -> str:
    """cache_options: force (True) or omit (False) the 1.32+ `cache 30 { disable ... }` block."""
    domain = cfg.cluster["networking"].get("dnsDomain") or C.DEFAULT_DNS_DOMAIN
    cache = "        cache 30\n"
    if cache_options if cache_options is not None else cfg.minor >= 32:
        cache = ("        cache 30 {\n"
                 f"           disable success {domain}\n"
                 f"           disable denial {domain}\n"
                 "        }\n")
    return (".:53 {\n"
            "        errors\n"
            "        health {\n"
            "           lameduck 5s\n"
            "        }\n"
            "        ready\n"
            f"        kubernetes {domain} in-addr.arpa ip6.arpa {{\n"
            "           pods insecure\n"
            "           fallthrough in-addr.arpa ip6.arpa\n"
            "           ttl 30\n"
            "        }\n"
            "        prometheus :9153\n"
            "        forward . /etc/resolv.conf {\n"
            "           max_concurrent 1000\n"
            "        }\n"
            + cache +
            "        loop\n"
            "        reload\n"
            "        loadbalance\n"
            "}\n").replace("\n        ", "\n    ")


def coredns_image(cfg) -> str:
    from ansible_collections.kubeboot.cluster.plugins.module_utils import versions
    return versions.images(cfg)[C.COREDNS]


def dns_ip(cfg) -> str:
    return netutil.nth_ip(cfg.cluster["networking"]["serviceSubnet"], 10)


def coredns_deployment(cfg, replicas: int = 2) -> dict:
    """replicas: kubeadm keeps the count of an existing kube-dns Deployment (dns.go deployedDNSReplicas)."""
    named = cfg.minor >= 34  # probes on named ports since 1.34 (k/k #131587)
    ports = [
        {"containerPort": 53, "name": "dns", "protocol": "UDP"},
        {"containerPort": 53, "name": "dns-tcp", "protocol": "TCP"},
        {"containerPort": 9153, "name": "metrics", "protocol": "TCP"},
    ]
    if named:
        ports += [{"containerPort": 8080, "name": "liveness-probe", "protocol": "TCP"},
                  {"containerPort": 8181, "name": "readiness-probe", "protocol": "TCP"}]
    labels = {"k8s-app": KUBE_DNS_SERVICE}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": C.COREDNS, "namespace": C.KUBE_SYSTEM, "labels": dict(labels)},
        "spec": {
            "replicas": replicas,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
            "selector": {"matchLabels": dict(labels)},
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "priorityClassName": "system-cluster-critical",
                    "serviceAccountName": C.COREDNS,
                    "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
                        "weight": 100,
                        "podAffinityTerm": {
                            "labelSelector": {"matchExpressions": [
                                {"key": "k8s-app", "operator": "In", "values": [KUBE_DNS_SERVICE]}]},
                            "topologyKey": "kubernetes.io/hostname"}}]}},
                    "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"},
                                    {"key": C.CONTROL_PLANE_LABEL, "effect": "NoSchedule"}],
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                    "containers": [{
                        "name": C.COREDNS,
                        "image": coredns_image(cfg),
                        "imagePullPolicy": "IfNotPresent",
                        "resources": {"limits": {"memory": "170Mi"},
                                      "requests": {"cpu": "100m", "memory": "70Mi"}},
                        "args": ["-conf", "/etc/coredns/Corefile"],
                        "volumeMounts": [{"name": "config-volume", "mountPath": "/etc/coredns",
                                          "readOnly": True}],
                        "ports": ports,
                        "livenessProbe": {
                            "httpGet": {"path": "/health", "port": "liveness-probe" if named else 8080,
                                        "scheme": "HTTP"},
                            "initialDelaySeconds": 60, "timeoutSeconds": 5, "successThreshold": 1,
                            "failureThreshold": 5},
                        "readinessProbe": {
                            "httpGet": {"path": "/ready", "port": "readiness-probe" if named else 8181,
                                        "scheme": "HTTP"}},
                        "securityContext": {
                            "allowPrivilegeEscalation": False,
                            "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]},
                            "readOnlyRootFilesystem": True},
                    }],
                    "dnsPolicy": "Default",
                    "volumes": [{"name": "config-volume", "configMap": {
                        "name": C.COREDNS, "items": [{"key": "Corefile", "path": "Corefile"}]}}],
                },
            },
        },
    }


def coredns_service(cfg) -> dict:
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {
            "name": KUBE_DNS_SERVICE, "namespace": C.KUBE_SYSTEM,
            "labels": {"k8s-app": KUBE_DNS_SERVICE, "kubernetes.io/cluster-service": "true",
                       "kubernetes.io/name": "CoreDNS"},
            "annotations": {"prometheus.io/port": "9153", "prometheus.io/scrape": "true"},
        },
        "spec": {
            "clusterIP": dns_ip(cfg),
            "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                      {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                      {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153}],
            "selector": {"k8s-app": KUBE_DNS_SERVICE},
        },
    }


def coredns_objects(cfg, replicas: int = 2) -> list:
    """ServiceAccount, ConfigMap, ClusterRole, ClusterRoleBinding, Deployment, Service."""
    return ([{"apiVersion": "v1", "kind": "ServiceAccount",
              "metadata": {"name": C.COREDNS, "namespace": C.KUBE_SYSTEM}},
             configmap(C.COREDNS, C.KUBE_SYSTEM, {"Corefile": corefile(cfg)})]
            + coredns_rbac() + [coredns_deployment(cfg, replicas), coredns_service(cfg)])


def deployed_dns_replicas(client, default: int = 2) -> int:
    """dns.go deployedDNSReplicas: replicas of the one Deployment labelled k8s-app=kube-dns."""
    try:
        items = client.list("Deployment", C.KUBE_SYSTEM, label_selector=f"k8s-app={KUBE_DNS_SERVICE}")
    except errors.NotFound:
        items = []
    items = [d for d in items
             if ((d.get("metadata") or {}).get("labels") or {}).get("k8s-app") == KUBE_DNS_SERVICE]
    if not items:
        return default
    if len(items) > 1:
        names = ", ".join(sorted((d.get("metadata") or {}).get("name", "") for d in items))
        raise errors.APIError("GET", "/apis/apps/v1/namespaces/kube-system/deployments", 409,
                              f"multiple DNS addon deployments found: {names}")
    replicas = (items[0].get("spec") or {}).get("replicas")
    return default if replicas is None else int(replicas)


def is_default_corefile(cfg, text) -> bool:
    """Empty, or a Corefile kubeadm itself writes (with or without the 1.32+ cache options):
    kubeadm then applies its current default instead of retaining it (dns.go createCoreDNSAddon)."""
    if not text:
        return True
    norm = str(text).strip()
    return norm in (corefile(cfg, True).strip(), corefile(cfg, False).strip())


# --- kube-proxy ----------------------------------------------------------------------
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
    from ansible_collections.kubeboot.cluster.plugins.module_utils.durations import format_duration
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
        client["kubeconfig"] = f"{KUBE_PROXY_DIR}/{KUBE_PROXY_KUBECONFIG_KEY}"
    if cfg.minor >= 37 and not doc.get("mode"):
        doc["mode"] = "iptables"  # k/k #139777: written explicitly from 1.37
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
            f"    certificate-authority: {SA_DIR}/ca.crt\n"
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
            f"    tokenFile: {SA_DIR}/token")


def kube_proxy_configmap(cfg, server_url: str) -> dict:
    data = {
        KUBE_PROXY_KUBECONFIG_KEY: kube_proxy_kubeconfig(server_url),
        KUBE_PROXY_CONFIG_KEY: dump_yaml(kube_proxy_configuration(cfg)).rstrip("\n"),
    }
    # proxy.go createKubeProxyConfigMap: SignConfigMap unless the user supplied the config
    annotations = None if cfg.kube_proxy else {C.COMPONENT_CONFIG_HASH_ANNOTATION: config_map_checksum(data)}
    return configmap(KUBE_PROXY_CM, C.KUBE_SYSTEM, data, labels={"app": C.KUBE_PROXY}, annotations=annotations)


def kube_proxy_image(cfg) -> str:
    from ansible_collections.kubeboot.cluster.plugins.module_utils import versions
    return versions.images(cfg)[C.KUBE_PROXY]


def kube_proxy_env(environ=None) -> list:
    """NODE_NAME, then the host's *_proxy variables (proxy.go: MergeKubeadmEnvVars(GetProxyEnvVars()))."""
    from ansible_collections.kubeboot.cluster.plugins.module_utils import manifests
    return ([{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]
            + manifests.merge_env(manifests.proxy_env(environ)))


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
                                    f"--config={KUBE_PROXY_DIR}/{KUBE_PROXY_CONFIG_KEY}",
                                    "--hostname-override=$(NODE_NAME)"],
                        "securityContext": {"privileged": True},
                        "volumeMounts": [
                            {"mountPath": KUBE_PROXY_DIR, "name": C.KUBE_PROXY},
                            {"mountPath": "/run/xtables.lock", "name": "xtables-lock", "readOnly": False},
                            {"mountPath": "/lib/modules", "name": "lib-modules", "readOnly": True}],
                        "env": kube_proxy_env(environ),
                    }],
                    "hostNetwork": True,
                    "serviceAccountName": C.KUBE_PROXY,
                    "volumes": [
                        {"name": C.KUBE_PROXY, "configMap": {"name": KUBE_PROXY_CM}},
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
    return ([{"apiVersion": "v1", "kind": "ServiceAccount",
              "metadata": {"name": C.KUBE_PROXY, "namespace": C.KUBE_SYSTEM}},
             kube_proxy_configmap(cfg, server_url), kube_proxy_daemonset(cfg, environ)] + kube_proxy_rbac())


# --- mark-control-plane --------------------------------------------------------------
def control_plane_labels() -> dict:
    return {C.CONTROL_PLANE_LABEL: "", C.EXCLUDE_LB_LABEL: ""}


def control_plane_taints(cfg) -> list:
    """nodeRegistration.taints: None => the control-plane NoSchedule taint; [] => none."""
    taints = cfg.init["nodeRegistration"].get("taints")
    if taints is None:
        return [dict(C.CONTROL_PLANE_TAINT)]
    return [dict(t) for t in taints]


def mark_control_plane_changes(node: dict, labels: dict, taints: list):
    """A merge patch adding missing labels/taints (None when nothing is missing)."""
    live_labels = (node.get("metadata") or {}).get("labels") or {}
    live_taints = list((node.get("spec") or {}).get("taints") or [])
    patch = {}
    missing = {k: v for k, v in labels.items() if live_labels.get(k) != v}
    if missing:
        patch["metadata"] = {"labels": missing}
    added = [t for t in taints if not any(_taint_equal(t, lt) for lt in live_taints)]
    if added:
        # markcontrolplane.go markControlPlaneNode: wanted taints first, then the node's others
        kept = [lt for lt in live_taints if not any(_taint_equal(t, lt) for t in taints)]
        patch["spec"] = {"taints": [dict(t) for t in taints] + kept}
    if not patch:
        return None
    patch.setdefault("metadata", {})["resourceVersion"] = (node.get("metadata") or {}).get("resourceVersion")
    return patch


def _taint_equal(a: dict, b: dict) -> bool:
    return all((a.get(k) or "") == (b.get(k) or "") for k in ("key", "value", "effect", "timeAdded"))


# --- upload-certs --------------------------------------------------------------------
def certs_to_upload(cfg) -> dict:
    """Secret data key -> host path (kubeadm copycerts.certsToTransfer)."""
    pki = cfg.cert_dir
    files = {name: f"{pki}/{name}" for name in
             ("ca.crt", "ca.key", "front-proxy-ca.crt", "front-proxy-ca.key", "sa.pub", "sa.key")}
    external = cfg.cluster.get("etcd", {}).get("external")
    if external is None:
        files["etcd-ca.crt"] = f"{pki}/etcd/ca.crt"
        files["etcd-ca.key"] = f"{pki}/etcd/ca.key"
    else:
        files["external-etcd-ca.crt"] = external.get("caFile", "")
        files["external-etcd.crt"] = external.get("certFile", "")
        files["external-etcd.key"] = external.get("keyFile", "")
    return files


def _aes_key(certificate_key) -> bytes:
    try:
        key = bytes.fromhex(certificate_key) if isinstance(certificate_key, str) else bytes(certificate_key)
    except ValueError:
        raise errors.InvalidValue("certificate_key", "<hidden>", "64 hexadecimal characters") from None
    if len(key) not in (16, 24, 32):
        raise errors.InvalidValue("certificate_key", "<hidden>",
                                  "64 hexadecimal characters (a 32-byte AES-256 key)")
    return key


def encrypt_bytes(plaintext: bytes, certificate_key, nonce: bytes = None) -> bytes:
    """kubeadm util/crypto EncryptBytes: nonce(12) || AES-GCM seal, no additional data."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    nonce = nonce if nonce is not None else os.urandom(NONCE_SIZE)
    return nonce + AESGCM(_aes_key(certificate_key)).encrypt(nonce, plaintext, None)


def decrypt_bytes(data: bytes, certificate_key) -> bytes:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    if len(data) < NONCE_SIZE:
        raise errors.PKIError("size of data is less than the nonce size")
    try:
        return AESGCM(_aes_key(certificate_key)).decrypt(data[:NONCE_SIZE], data[NONCE_SIZE:], None)
    except InvalidTag:
        raise errors.PKIError("cannot decrypt the kubeadm-certs data: wrong certificate key") from None


def encrypt_certs(cert_files: dict, certificate_key) -> dict:
    """name -> bytes|None  =>  Secret `data` (base64 of nonce||seal; '' for missing files)."""
    data = {}
    for name, content in cert_files.items():
        if content is None:
            data[name] = ""
        else:
            data[name] = base64.b64encode(encrypt_bytes(content, certificate_key)).decode("ascii")
    return data


def decrypt_certs(secret_data: dict, certificate_key) -> dict:
    """Secret `data` => name -> plaintext bytes (empty values skipped, as download-certs does)."""
    out = {}
    for name, value in (secret_data or {}).items():
        raw = base64.b64decode(value or "")
        if not raw:
            continue
        out[name] = decrypt_bytes(raw, certificate_key)
    return out


def kubeadm_certs_secret(data: dict, owner_secret: dict) -> dict:
    meta = owner_secret.get("metadata") or {}
    return {
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {
            "name": C.KUBEADM_CERTS_SECRET, "namespace": C.KUBE_SYSTEM,
            "ownerReferences": [{"apiVersion": "v1", "kind": "Secret", "name": meta.get("name"),
                                 "uid": meta.get("uid"), "controller": True,
                                 "blockOwnerDeletion": True}],
        },
        "data": data,
    }


# --- phase helpers -------------------------------------------------------------------
def _apply_all(client, objects, check_mode: bool = False) -> tuple:
    changed, names = False, []
    for obj in objects:
        did, _unused = client.apply_object(obj, check_mode=check_mode)
        changed = changed or did
        if did:
            meta = obj["metadata"]
            names.append(f"{obj['kind']}/{meta.get('namespace') + '/' if meta.get('namespace') else ''}"
                         f"{meta['name']}")
    return changed, names


def _create_or_retain(client, obj) -> bool:
    meta = obj["metadata"]
    if client.get_or_none(obj["kind"], meta["name"], meta.get("namespace", "")) is not None:
        return False
    try:
        client.create(obj)
    except errors.Conflict:
        return False
    return True


def _result(changed: bool, objects: list, **extra) -> dict:
    out = {"changed": bool(changed), "changed_objects": objects}
    out.update(extra)
    return out


def wait_control_plane(client, timeout: float, interval: float = 1.0) -> dict:
    """Poll the API server's /healthz until it answers 'ok'."""
    from ansible_collections.kubeboot.cluster.plugins.module_utils.apiclient import wait_for
    start = time.monotonic()
    wait_for(client.healthz, timeout, interval, what=f"the API server at {client.server} to be healthy")
    return {"changed": False, "healthy": True, "waited_seconds": round(time.monotonic() - start, 1)}


def ensure_cluster_admins(client, super_admin_client=None) -> dict:
    """kubeadm:cluster-admins CRB; created with super-admin.conf when admin.conf may not yet."""
    objects = cluster_admins_rbac()
    try:
        changed, names = _apply_all(client, objects)
    except errors.APIError as exc:
        if exc.status != 403 or super_admin_client is None:
            raise
        changed, names = _apply_all(super_admin_client, objects)
    return _result(changed, names)


def upload_config_kubeadm(client, cfg) -> dict:
    changed, names = _apply_all(client, [kubeadm_config_configmap(cfg)] + kubeadm_config_rbac())
    return _result(changed, names)


def upload_config_kubelet(client, cfg, node_timeout: float = 60.0) -> dict:
    changed, names = _apply_all(client, [kubelet_config_configmap(cfg)] + kubelet_config_rbac())
    # Before NodeLocalCRISocket (default on from 1.34) kubeadm annotates the Node with the CRI socket.
    if not cfg.feature_enabled("NodeLocalCRISocket", cfg.minor >= 34):
        socket = cfg.init["nodeRegistration"].get("criSocket") or C.DEFAULT_CRI_SOCKET
        did = _patch_node(client, cfg.node_name, node_timeout,
                          lambda node: _annotation_patch(node, C.CRI_SOCKET_ANNOTATION, socket))
        if did:
            changed = True
            names.append(f"Node/{cfg.node_name}")
    return _result(changed, names)


def _annotation_patch(node: dict, key: str, value: str):
    if ((node.get("metadata") or {}).get("annotations") or {}).get(key) == value:
        return None
    return {"metadata": {"annotations": {key: value}}}


def _patch_node(client, name: str, timeout: float, make_patch) -> bool:
    """Wait for the Node, then apply make_patch(node) (None = nothing to do); retries conflicts."""
    from ansible_collections.kubeboot.cluster.plugins.module_utils.apiclient import wait_for
    node = wait_for(lambda: client.get_or_none("Node", name), timeout, 1.0, what=f"Node {name!r} to register")
    for _unused in range(5):
        patch = make_patch(node)
        if patch is None:
            return False
        try:
            client.patch("Node", name, patch, patch_type="merge")
            return True
        except errors.Conflict:
            node = client.get("Node", name)
    raise errors.Conflict("PATCH", f"/api/v1/nodes/{name}", 409, "Node kept changing while being patched")


def mark_control_plane(client, cfg, timeout: float) -> dict:
    labels, taints = control_plane_labels(), control_plane_taints(cfg)
    changed = _patch_node(client, cfg.node_name, timeout,
                          lambda node: mark_control_plane_changes(node, labels, taints))
    return _result(changed, [f"Node/{cfg.node_name}"] if changed else [],
                   labels=sorted(labels), taints=taints)


def _token_spec(entry: dict) -> dict:
    return {
        "ttl": entry.get("ttl", C.DEFAULT_TOKEN_TTL) if entry.get("ttl") is not None else C.DEFAULT_TOKEN_TTL,
        "expires": entry.get("expires") or None,
        "usages": sorted(tokens.validate_usages(entry.get("usages", list(C.TOKEN_USAGES)))),
        "groups": tokens.validate_groups(entry.get("groups", [C.DEFAULT_TOKEN_GROUP])),
        "description": entry.get("description") or "",
    }


def token_matches(parsed: dict, spec: dict, now=None) -> bool:
    """Does an existing token (parse_token_secret) satisfy the wanted settings?"""
    if parsed["usages"] != sorted(spec["usages"]) or parsed["groups"] != list(spec["groups"]):
        return False
    if parsed["description"] != spec["description"]:
        return False
    if spec.get("expires"):
        wanted = tokens.token_secret_data(f"{parsed['id']}.{parsed['secret']}", expires=spec["expires"],
                                          usages=(), groups=())
        return parsed["expires"] == wanted.get(tokens.KEY_EXPIRATION)
    ttl = parse_duration(spec["ttl"], "ttl")
    if ttl == 0:
        return parsed["expires"] is None
    return parsed["expires"] is not None and not tokens.is_expired(parsed, now)


def _fresh_enough(parsed: dict, spec: dict, now) -> bool:
    """A reused generated token must keep at least half of the wanted TTL."""
    if not parsed["expires"]:
        return True
    ttl = parse_duration(spec["ttl"], "ttl")
    remaining = (tokens.parse_rfc3339(parsed["expires"]) - now).total_seconds()
    return remaining >= ttl / 2


def ensure_token(client, token: str = "", ttl=C.DEFAULT_TOKEN_TTL, expires=None,
                 usages=C.TOKEN_USAGES, groups=(C.DEFAULT_TOKEN_GROUP,), description: str = "",
                 now=None, check_mode: bool = False, reuse: bool = True) -> tuple:
    """Make sure a bootstrap token with these settings exists. Returns (changed, token).

    Given token: its Secret is written unless it exists with the same settings (and is
    unexpired). No token: an existing unexpired token with the same settings and at least
    half its TTL left is reused (reruns create no duplicates), else a new one is generated.
    """
    now = tokens.as_utc(now)
    spec = _token_spec({"ttl": ttl, "expires": expires, "usages": list(usages), "groups": list(groups),
                        "description": description})
    if token:
        token_id, _unused = tokens.split_token(token)
        live = client.get_or_none("Secret", tokens.secret_name(token_id), C.KUBE_SYSTEM)
        if live is not None:
            try:
                parsed = tokens.parse_token_secret(live)
            except ValueError:
                parsed = None
            if parsed and parsed["token"] == token and token_matches(parsed, spec, now):
                return False, token
    elif reuse:
        candidates = []
        for secret in list_token_secrets(client):
            try:
                parsed = tokens.parse_token_secret(secret)
            except ValueError:
                continue
            if token_matches(parsed, spec, now) and _fresh_enough(parsed, spec, now):
                candidates.append(parsed)
        if candidates:
            candidates.sort(key=lambda p: (p["expires"] is not None, p["expires"] or ""), reverse=True)
            return False, candidates[0]["token"]
    if not token:
        token = tokens.generate_token()
    obj = tokens.token_secret(token, ttl=spec["ttl"], expires=spec["expires"], usages=spec["usages"],
                              groups=spec["groups"], description=spec["description"], now=now)
    if check_mode:
        return True, token
    try:
        client.create(obj)
    except errors.Conflict:
        live = client.get("Secret", obj["metadata"]["name"], C.KUBE_SYSTEM)
        obj["metadata"]["resourceVersion"] = live["metadata"].get("resourceVersion")
        client.update(obj)
    return True, token


def list_token_secrets(client) -> list:
    return client.list("Secret", C.KUBE_SYSTEM, field_selector="type=" + C.BOOTSTRAP_TOKEN_SECRET_TYPE)


def delete_token(client, token_or_id: str, check_mode: bool = False) -> bool:
    """`kubeadm token delete`: by id or full token. True when a Secret was deleted."""
    token_id = token_or_id.split(".")[0] if "." in token_or_id else token_or_id
    if "." in token_or_id:
        tokens.split_token(token_or_id)
    elif not tokens.is_valid_token_id(token_id):
        raise errors.InvalidValue("token", errors.HIDDEN, "a token id ([a-z0-9]{6}) or a full token")
    name = tokens.secret_name(token_id)
    if check_mode:
        return client.get_or_none("Secret", name, C.KUBE_SYSTEM) is not None
    return client.delete("Secret", name, C.KUBE_SYSTEM)


def _remove_system_nodes_subject(client) -> bool:
    crb = client.get_or_none("ClusterRoleBinding", SYSTEM_NODE_CRB)
    if crb is None:
        return False
    subjects = crb.get("subjects") or []
    kept = [s for s in subjects if not (s.get("kind") == "Group" and s.get("name") == C.NODES_GROUP)]
    if len(kept) == len(subjects):
        return False
    crb["subjects"] = kept
    client.update(crb)
    return True


def bootstrap_token(client, cfg, ca_pem, server_url: str, now=None) -> dict:
    """Phase bootstrap-token: token Secrets, node bootstrap RBAC, cluster-info + anonymous access.

    Returns `token` (the first token, for the join command; callers must keep it no_log)."""
    changed, names, token_ids, first = False, [], [], ""
    for entry in cfg.init.get("bootstrapTokens") or [{}]:
        spec = _token_spec(entry)
        did, token = ensure_token(client, entry.get("token") or "", ttl=spec["ttl"], expires=spec["expires"],
                                  usages=spec["usages"], groups=spec["groups"],
                                  description=spec["description"], now=now)
        token_id = token.split(".")[0]
        token_ids.append(token_id)
        first = first or token
        if did:
            changed = True
            names.append(f"Secret/{C.KUBE_SYSTEM}/{tokens.secret_name(token_id)}")
    objects = node_bootstrap_rbac() + [cluster_info_configmap(server_url, ca_pem)] + cluster_info_rbac()
    did, applied = _apply_all(client, objects)
    changed, names = changed or did, names + applied
    if _remove_system_nodes_subject(client):
        changed = True
        names.append(f"ClusterRoleBinding/{SYSTEM_NODE_CRB}")
    return _result(changed, names, token=first, token_ids=token_ids)


def upload_certs(client, cfg, fs, certificate_key: str, now=None) -> dict:
    """Phase upload-certs: encrypted kubeadm-certs Secret owned by a 2h proxy token."""
    paths = certs_to_upload(cfg)
    plain = {name: (fs.read_bytes(path) if path else None) for name, path in paths.items()}
    key = _aes_key(certificate_key)
    live = client.get_or_none("Secret", C.KUBEADM_CERTS_SECRET, C.KUBE_SYSTEM)
    names = []
    if live is None or not _certs_current(client, live, plain, key, now):
        token = tokens.generate_token()
        owner = client.create(tokens.token_secret(token, ttl=C.CERT_TOKEN_TTL, usages=(), groups=(),
                                                  description=CERT_TOKEN_DESCRIPTION, now=now))
        if not (owner.get("metadata") or {}).get("uid"):
            owner = client.get("Secret", tokens.secret_name(token.split(".", 1)[0]), C.KUBE_SYSTEM)
        secret = kubeadm_certs_secret(encrypt_certs(plain, key), owner)
        if live is None:
            client.create(secret)
        else:
            secret["metadata"]["resourceVersion"] = live["metadata"].get("resourceVersion")
            client.update(secret)
        names += [f"Secret/{C.KUBE_SYSTEM}/{owner['metadata']['name']}",
                  f"Secret/{C.KUBE_SYSTEM}/{C.KUBEADM_CERTS_SECRET}"]
    did, applied = _apply_all(client, kubeadm_certs_rbac())
    names += applied
    return _result(bool(names), names, secret=C.KUBEADM_CERTS_SECRET,
                   files=sorted(k for k, v in plain.items() if v is not None))


def _certs_current(client, live: dict, plain: dict, key: bytes, now) -> bool:
    """kubeadm-certs holds exactly these files and its owner token is still valid."""
    data = live.get("data") or {}
    if set(data) != set(plain):
        return False
    try:
        decrypted = decrypt_certs(data, key)
    except errors.PKIError:
        return False
    for name, content in plain.items():
        if (content or b"") != decrypted.get(name, b""):
            return False
    refs = (live.get("metadata") or {}).get("ownerReferences") or []
    if not refs:
        return False
    owner = client.get_or_none("Secret", refs[0].get("name", ""), C.KUBE_SYSTEM)
    if owner is None or owner["metadata"].get("uid") != refs[0].get("uid"):
        return False
    try:
        parsed = tokens.parse_token_secret(owner)
    except ValueError:
        return False
    if tokens.is_expired(parsed, now):
        return False
    # keep at least half of the 2h window for the joining nodes
    remaining = (tokens.parse_rfc3339(parsed["expires"]) - tokens.as_utc(now)).total_seconds() \
        if parsed["expires"] else float("inf")
    return remaining >= parse_duration(C.CERT_TOKEN_TTL) / 2


def addon_coredns(client, cfg) -> dict:
    objects = coredns_objects(cfg, deployed_dns_replicas(client))
    changed, names = False, []
    for obj in objects:
        if obj["kind"] == "ConfigMap":
            live = client.get_or_none("ConfigMap", C.COREDNS, C.KUBE_SYSTEM)
            if live is not None and is_default_corefile(cfg, (live.get("data") or {}).get("Corefile")):
                # an empty or kubeadm-default Corefile is replaced by the current default
                did, _unused = client.apply_object(obj)
            else:
                # CreateOrRetainConfigMap: a user-edited Corefile is kept
                did = _create_or_retain(client, obj)
        else:
            did, _unused = client.apply_object(obj)
        if did:
            changed = True
            names.append(f"{obj['kind']}/{obj['metadata']['name']}")
    return _result(changed, names, image=coredns_image(cfg), cluster_ip=dns_ip(cfg))


def addon_kube_proxy(client, cfg, server_url: str, ca_pem=None, environ=None) -> dict:
    changed, names = _apply_all(client, kube_proxy_objects(cfg, server_url, environ))
    return _result(changed, names, image=kube_proxy_image(cfg))


def kubelet_finalize(cfg, fs, writer) -> dict:
    """kubelet-finalize/enable-client-cert-rotation: kubelet.conf user -> kubelet-client-current.pem."""
    pem = C.KUBELET_CLIENT_CURRENT
    path = f"{C.KUBERNETES_DIR}/{C.KUBELET_CONF}"
    if not fs.exists(pem):
        return {"changed": False, "skipped": f"{pem} does not exist (external CA or kubelet not bootstrapped)"}
    text = fs.read_text(path)
    if text is None:
        return {"changed": False, "skipped": f"{path} does not exist"}
    try:
        config = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise errors.FileError(f"{path}: not valid YAML ({errors.yaml_problem(exc)})") from None
    current = config.get("current-context", "")
    context = next((c.get("context") or {} for c in config.get("contexts") or [] if c.get("name") == current), {})
    entry = next((u for u in config.get("users") or [] if u.get("name") == context.get("user")), None)
    if entry is None:
        raise errors.FileError(f"{path}: current context {current!r} has no user")
    info = entry.setdefault("user", {}) or {}
    entry["user"] = info
    if (info.get("client-certificate") == pem and info.get("client-key") == pem
            and not info.get("client-certificate-data") and not info.get("client-key-data")):
        return {"changed": False, "path": path}
    info.pop("client-certificate-data", None)
    info.pop("client-key-data", None)
    info["client-certificate"] = pem
    info["client-key"] = pem
    changed = writer.write(path, dump_yaml(config), C.MODE_KUBECONFIG, secret=True)
    return {"changed": changed, "path": path}


def now_utc() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)
