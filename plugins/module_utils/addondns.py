# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Phase addon/coredns: the CoreDNS ServiceAccount, Corefile, RBAC, Deployment and the
kube-dns Service, as kubeadm's phases/addons/dns writes them for the target minor."""
from __future__ import annotations

from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import errors, netutil, patches, rbac, versions
from ansible_collections.kubeboot.cluster.plugins.module_utils.objects import configmap, service_account


def corefile(cfg, cache_options=None) -> str:
    """cache_options: force (True) or omit (False) the 1.32+ `cache 30 { disable ... }` block."""
    domain = cfg.cluster["networking"].get("dnsDomain") or C.DEFAULT_DNS_DOMAIN
    cache = "        cache 30\n"
    if cache_options if cache_options is not None else versions.behaviour(cfg.minor).corefile_cache_options:
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
    return versions.images(cfg)[C.COREDNS]


def dns_ip(cfg) -> str:
    return netutil.nth_ip(cfg.cluster["networking"]["serviceSubnet"], 10)


def coredns_deployment(cfg, replicas: int = 2) -> dict:
    """replicas: kubeadm keeps the count of an existing kube-dns Deployment (dns.go deployedDNSReplicas)."""
    named = versions.behaviour(cfg.minor).probe_port_named  # k/k #131587
    ports = [
        {"containerPort": 53, "name": "dns", "protocol": "UDP"},
        {"containerPort": 53, "name": "dns-tcp", "protocol": "TCP"},
        {"containerPort": 9153, "name": "metrics", "protocol": "TCP"},
    ]
    if named:
        ports += [{"containerPort": 8080, "name": "liveness-probe", "protocol": "TCP"},
                  {"containerPort": 8181, "name": "readiness-probe", "protocol": "TCP"}]
    labels = {"k8s-app": C.KUBE_DNS_SERVICE}
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
                                {"key": "k8s-app", "operator": "In", "values": [C.KUBE_DNS_SERVICE]}]},
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
            "name": C.KUBE_DNS_SERVICE, "namespace": C.KUBE_SYSTEM,
            "labels": {"k8s-app": C.KUBE_DNS_SERVICE, "kubernetes.io/cluster-service": "true",
                       "kubernetes.io/name": "CoreDNS"},
            "annotations": {"prometheus.io/port": "9153", "prometheus.io/scrape": "true"},
        },
        "spec": {
            "clusterIP": dns_ip(cfg),
            "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                      {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                      {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153}],
            "selector": {"k8s-app": C.KUBE_DNS_SERVICE},
        },
    }


def coredns_objects(cfg, replicas: int = 2) -> list:
    """ServiceAccount, ConfigMap, ClusterRole, ClusterRoleBinding, Deployment, Service."""
    return ([service_account(C.COREDNS), configmap(C.COREDNS, C.KUBE_SYSTEM, {"Corefile": corefile(cfg)})]
            + rbac.coredns_rbac()
            + [patches.apply(cfg, patches.COREDNS_DEPLOYMENT, coredns_deployment(cfg, replicas)), coredns_service(cfg)])


def deployed_dns_replicas(api, default: int = 2) -> int:
    """dns.go deployedDNSReplicas: replicas of the one Deployment labelled k8s-app=kube-dns."""
    try:
        items = api.list("Deployment", C.KUBE_SYSTEM, label_selector=f"k8s-app={C.KUBE_DNS_SERVICE}")
    except errors.NotFound:
        items = []
    items = [d for d in items
             if ((d.get("metadata") or {}).get("labels") or {}).get("k8s-app") == C.KUBE_DNS_SERVICE]
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


def addon_coredns(api, cfg) -> dict:
    mark = api.mark()
    for obj in coredns_objects(cfg, deployed_dns_replicas(api)):
        if obj["kind"] != "ConfigMap":
            api.ensure(obj)
            continue
        live = api.get("ConfigMap", C.COREDNS, C.KUBE_SYSTEM)
        if live is not None and is_default_corefile(cfg, (live.get("data") or {}).get("Corefile")):
            api.ensure(obj)  # an empty or kubeadm-default Corefile is replaced by the current default
        else:
            api.create_or_retain(obj)  # CreateOrRetainConfigMap: a user-edited Corefile is kept
    return api.result(mark, image=coredns_image(cfg), cluster_ip=dns_ip(cfg))
