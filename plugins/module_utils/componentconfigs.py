# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The component configs a kubeadm config file may carry (kubeadm componentconfigs): the
KubeletConfiguration (kubelet.config.k8s.io/v1beta1) and the KubeProxyConfiguration
(kubeproxy.config.k8s.io/v1alpha1), decoded strictly by type as kubeadm decodes them into the
components' Go types (a wrong type is an error naming the field, an unknown field a warning), then
the checks kubeadm runs (kube-proxy's validation) and warnings for settings that open the kubelet.

The schemas follow k8s.io/kubelet/config/v1beta1/types.go and k8s.io/kube-proxy/config/v1alpha1
(the fields of 1.33-1.37); kubelet.py and addonproxy.py lay kubeadm's defaults over what is
decoded here.
"""
from __future__ import annotations

import ipaddress

from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils.docutil import (
    ANY, BOOL, DURATION, INT, NUMBER, QUANTITY, STRING, decode_typed)
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import ConfigError

_MAP_OF_STRINGS = {"*": STRING}
_LOGGING = {  # k8s.io/component-base/logs/api/v1 LoggingConfiguration
    "format": STRING, "flushFrequency": DURATION, "verbosity": INT,
    "vmodule": [{"filePattern": STRING, "verbosity": INT}],
    "options": {"json": {"splitStream": BOOL, "infoBufferSize": QUANTITY},
                "text": {"splitStream": BOOL, "infoBufferSize": QUANTITY}},
}
_TAINT = {"key": STRING, "value": STRING, "effect": STRING, "timeAdded": ANY}

KUBELET_SCHEMA = {
    "apiVersion": STRING, "kind": STRING,
    "enableServer": BOOL, "staticPodPath": STRING, "podLogsDir": STRING, "syncFrequency": DURATION,
    "fileCheckFrequency": DURATION, "httpCheckFrequency": DURATION, "staticPodURL": STRING,
    "staticPodURLHeader": {"*": [STRING]}, "address": STRING, "port": INT, "readOnlyPort": INT,
    "tlsCertFile": STRING, "tlsPrivateKeyFile": STRING, "tlsCipherSuites": [STRING], "tlsCurvePreferences": [INT],
    "tlsMinVersion": STRING, "rotateCertificates": BOOL, "serverTLSBootstrap": BOOL,
    "authentication": {"x509": {"clientCAFile": STRING},
                       "webhook": {"enabled": BOOL, "cacheTTL": DURATION},
                       "anonymous": {"enabled": BOOL}},
    "authorization": {"mode": STRING,
                      "webhook": {"cacheAuthorizedTTL": DURATION, "cacheUnauthorizedTTL": DURATION}},
    "registryPullQPS": INT, "registryBurst": INT, "imagePullCredentialsVerificationPolicy": STRING,
    "preloadedImagesVerificationAllowlist": [STRING], "eventRecordQPS": INT, "eventBurst": INT,
    "enableDebuggingHandlers": BOOL, "enableContentionProfiling": BOOL, "healthzPort": INT,
    "healthzBindAddress": STRING, "oomScoreAdj": INT, "clusterDomain": STRING, "clusterDNS": [STRING],
    "streamingConnectionIdleTimeout": DURATION, "nodeStatusUpdateFrequency": DURATION,
    "nodeStatusReportFrequency": DURATION, "nodeLeaseDurationSeconds": INT, "imageMinimumGCAge": DURATION,
    "imageMaximumGCAge": DURATION, "imageGCHighThresholdPercent": INT, "imageGCLowThresholdPercent": INT,
    "volumeStatsAggPeriod": DURATION, "kubeletCgroups": STRING, "systemCgroups": STRING, "cgroupRoot": STRING,
    "cgroupsPerQOS": BOOL, "cgroupDriver": STRING, "cpuManagerPolicy": STRING, "singleProcessOOMKill": BOOL,
    "cpuManagerPolicyOptions": _MAP_OF_STRINGS, "cpuManagerReconcilePeriod": DURATION,
    "draManagerReconcilePeriod": DURATION, "memoryManagerPolicy": STRING, "topologyManagerPolicy": STRING,
    "topologyManagerScope": STRING, "topologyManagerPolicyOptions": _MAP_OF_STRINGS,
    "qosReserved": _MAP_OF_STRINGS, "runtimeRequestTimeout": DURATION, "hairpinMode": STRING, "maxPods": INT,
    "podCIDR": STRING, "podPidsLimit": INT, "resolvConf": STRING, "runOnce": BOOL, "cpuCFSQuota": BOOL,
    "cpuCFSQuotaPeriod": DURATION, "nodeStatusMaxImages": INT, "maxOpenFiles": INT, "contentType": STRING,
    "kubeAPIQPS": INT, "kubeAPIBurst": INT, "serializeImagePulls": BOOL, "maxParallelImagePulls": INT,
    "evictionHard": _MAP_OF_STRINGS, "evictionSoft": _MAP_OF_STRINGS, "evictionSoftGracePeriod": _MAP_OF_STRINGS,
    "evictionPressureTransitionPeriod": DURATION, "evictionMaxPodGracePeriod": INT,
    "evictionMinimumReclaim": _MAP_OF_STRINGS, "mergeDefaultEvictionSettings": BOOL, "podsPerCore": INT,
    "enableControllerAttachDetach": BOOL, "protectKernelDefaults": BOOL, "makeIPTablesUtilChains": BOOL,
    "iptablesMasqueradeBit": INT, "iptablesDropBit": INT, "featureGates": {"*": BOOL}, "failSwapOn": BOOL,
    "memorySwap": {"swapBehavior": STRING}, "containerLogMaxSize": STRING, "containerLogMaxFiles": INT,
    "containerLogMaxWorkers": INT, "containerLogMonitorInterval": DURATION,
    "configMapAndSecretChangeDetectionStrategy": STRING, "systemReserved": _MAP_OF_STRINGS,
    "kubeReserved": _MAP_OF_STRINGS, "reservedSystemCPUs": STRING, "showHiddenMetricsForVersion": STRING,
    "systemReservedCgroup": STRING, "kubeReservedCgroup": STRING, "enforceNodeAllocatable": [STRING],
    "allowedUnsafeSysctls": [STRING], "volumePluginDir": STRING, "providerID": STRING,
    "kernelMemcgNotification": BOOL, "logging": _LOGGING, "enableSystemLogHandler": BOOL,
    "enableSystemLogQuery": BOOL, "shutdownGracePeriod": DURATION, "shutdownGracePeriodCriticalPods": DURATION,
    "shutdownGracePeriodByPodPriority": [{"priority": INT, "shutdownGracePeriodSeconds": INT}],
    "crashLoopBackOff": {"maxContainerRestartPeriod": DURATION},
    "reservedMemory": [{"numaNode": INT, "limits": {"*": QUANTITY}}],
    "enableProfilingHandler": BOOL, "enableDebugFlagsHandler": BOOL, "seccompDefault": BOOL,
    "memoryThrottlingFactor": NUMBER, "memoryReservationPolicy": STRING, "registerWithTaints": [_TAINT],
    "registerNode": BOOL, "tracing": {"endpoint": STRING, "samplingRatePerMillion": INT},
    "localStorageCapacityIsolation": BOOL, "containerRuntimeEndpoint": STRING, "imageServiceEndpoint": STRING,
    "failCgroupV1": BOOL, "userNamespaces": {"idsPerPod": INT},
}

KUBE_PROXY_SCHEMA = {
    "apiVersion": STRING, "kind": STRING,
    "bindAddress": STRING, "bindAddressHardFail": BOOL,
    "clientConnection": {"acceptContentTypes": STRING, "burst": INT, "contentType": STRING,
                         "kubeconfig": STRING, "qps": NUMBER},
    "clusterCIDR": STRING, "configSyncPeriod": DURATION,
    "conntrack": {"maxPerCore": INT, "min": INT, "tcpBeLiberal": BOOL, "tcpCloseWaitTimeout": DURATION,
                  "tcpEstablishedTimeout": DURATION, "udpStreamTimeout": DURATION, "udpTimeout": DURATION},
    "detectLocal": {"bridgeInterface": STRING, "interfaceNamePrefix": STRING},
    "detectLocalMode": STRING, "enableProfiling": BOOL, "featureGates": {"*": BOOL},
    "healthzBindAddress": STRING, "hostnameOverride": STRING,
    "iptables": {"localhostNodePorts": BOOL, "masqueradeAll": BOOL, "masqueradeBit": INT,
                 "minSyncPeriod": DURATION, "syncPeriod": DURATION},
    "ipvs": {"excludeCIDRs": [STRING], "minSyncPeriod": DURATION, "scheduler": STRING, "strictARP": BOOL,
             "syncPeriod": DURATION, "tcpFinTimeout": DURATION, "tcpTimeout": DURATION, "udpTimeout": DURATION},
    "logging": _LOGGING, "metricsBindAddress": STRING, "mode": STRING,
    "nftables": {"masqueradeAll": BOOL, "masqueradeBit": INT, "minSyncPeriod": DURATION, "syncPeriod": DURATION},
    "nodePortAddresses": [STRING], "oomScoreAdj": INT, "portRange": STRING, "showHiddenMetricsForVersion": STRING,
    "winkernel": {"enableDSR": BOOL, "forwardHealthCheckVip": BOOL, "networkName": STRING,
                  "rootHnsEndpointName": STRING, "sourceVip": STRING},
    "windowsRunAsService": BOOL,
}

KUBE_PROXY_MODES = ("", "iptables", "ipvs", "nftables", "kernelspace")
DETECT_LOCAL_MODES = ("", "ClusterCIDR", "NodeCIDR", "BridgeInterface", "InterfaceNamePrefix")
CGROUP_DRIVERS = ("", "systemd", "cgroupfs")
KUBELET_AUTHZ_MODES = ("", "Webhook", "AlwaysAllow")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def _one_of(doc: dict, path: str, allowed: tuple, where: str) -> None:
    node = doc
    for key in path.split(".")[:-1]:
        node = node.get(key) or {}
    value = node.get(path.split(".")[-1], "")
    if value not in allowed:
        raise ConfigError(path, value, f"one of {', '.join(repr(a) for a in allowed if a)} ({where})")


def _in_range(doc: dict, key: str, low: int, high: int, where: str) -> None:
    value = doc.get(key)
    if value is not None and not low <= value <= high:
        raise ConfigError(key, value, f"from {low} to {high} ({where})")


def validate_kubelet(doc: dict, where: str, warnings: list) -> dict:
    """Checks of a decoded KubeletConfiguration the kubelet would refuse at start (or that open it)."""
    _one_of(doc, "cgroupDriver", CGROUP_DRIVERS, where)
    _one_of(doc, "authorization.mode", KUBELET_AUTHZ_MODES, where)
    for key in ("port", "readOnlyPort", "healthzPort"):
        _in_range(doc, key, 0, 65535, where)
    for key in ("maxPods", "podsPerCore", "maxOpenFiles", "kubeAPIBurst", "eventBurst", "registryBurst"):
        _in_range(doc, key, 0, 2 ** 31 - 1, where)
    _in_range(doc, "oomScoreAdj", -1000, 1000, where)
    for index, taint in enumerate(doc.get("registerWithTaints") or []):
        if taint.get("effect") not in TAINT_EFFECTS:
            raise ConfigError(f"registerWithTaints.{index}.effect", taint.get("effect"),
                              f"one of {', '.join(TAINT_EFFECTS)} ({where})")
    if ((doc.get("authentication") or {}).get("anonymous") or {}).get("enabled"):
        warnings.append(f"{where}: authentication.anonymous.enabled is true: anyone who reaches the kubelet "
                        f"port ({C.KUBELET_PORT}) is served as system:anonymous")
    if (doc.get("authorization") or {}).get("mode") == "AlwaysAllow":
        warnings.append(f"{where}: authorization.mode is AlwaysAllow: every request the kubelet authenticates "
                        "may exec into, read and stop the Pods of this node")
    return doc


def validate_kube_proxy(doc: dict, where: str, warnings: list) -> dict:
    """kube-proxy's own validation that kubeadm runs (componentconfigs ValidateProxy), for the fields a
    typo breaks: the mode, the local-traffic detection, the OOM score, the CIDRs."""
    _one_of(doc, "mode", KUBE_PROXY_MODES, where)
    _one_of(doc, "detectLocalMode", DETECT_LOCAL_MODES, where)
    _in_range(doc, "oomScoreAdj", -1000, 1000, where)
    for part in [p.strip() for p in str(doc.get("clusterCIDR") or "").split(",") if p.strip()]:
        try:
            ipaddress.ip_network(part, strict=False)
        except ValueError:
            raise ConfigError("clusterCIDR", doc["clusterCIDR"], f"a CIDR, or two separated by a comma ({where})") \
                from None
    if doc.get("bindAddress"):
        try:
            ipaddress.ip_address(doc["bindAddress"])
        except ValueError:
            raise ConfigError("bindAddress", doc["bindAddress"], f"an IP address ({where})") from None
    return doc


def decode_kubelet(doc: dict, where: str, warnings: list) -> dict:
    return validate_kubelet(decode_typed(KUBELET_SCHEMA, doc, where, warnings), where, warnings)


def decode_kube_proxy(doc: dict, where: str, warnings: list) -> dict:
    return validate_kube_proxy(decode_typed(KUBE_PROXY_SCHEMA, doc, where, warnings), where, warnings)
