# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Static Pod building blocks (kubeadm util/staticpod): the Pod skeleton, probes, host-path
mounts, environment, and the restart annotation a certificate renewal sets (kept when the
manifest is rendered again). What goes into each component's Pod is manifests.py."""
from __future__ import annotations

import math
import os

from ansible_collections.kubeboot.cluster.plugins.module_utils.deps import yaml
from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import docutil, netutil, versions
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import InvalidValue

DIR_OR_CREATE = "DirectoryOrCreate"
FILE_OR_CREATE = "FileOrCreate"


# =============================================================================
# small helpers
# =============================================================================
def localhost(cfg) -> str:
    return "::1" if netutil.is_ipv6(cfg.advertise_address) else "127.0.0.1"


def probe_address(addr) -> str:
    """kubeadm getProbeAddress: an unspecified bind address means 'use the Pod IP' (empty host)."""
    return "" if addr in ("0.0.0.0", "::") else addr


# =============================================================================
# probes, env, volumes
# =============================================================================
def http_get(host, path, port, scheme) -> dict:
    action = {"path": path, "port": port, "scheme": scheme}
    if host:
        action["host"] = host
    return action


def probes(cfg, host, port, scheme, live, ready, start) -> tuple:
    """(container fields, ports) for the component's probes (kubeadm staticpod LivenessProbe & co)."""
    named = versions.behaviour(cfg.minor).probe_port_named
    target = C.PROBE_PORT_NAME if named else port
    fields = {}
    if live:
        fields["livenessProbe"] = {"failureThreshold": 8, "httpGet": http_get(host, live, target, scheme),
                                   "initialDelaySeconds": 10, "periodSeconds": 10, "timeoutSeconds": 15}
    if ready:
        fields["readinessProbe"] = {"failureThreshold": 3, "httpGet": http_get(host, ready, target, scheme),
                                    "periodSeconds": 1, "timeoutSeconds": 15}
    if start:
        period = 10
        fields["startupProbe"] = {
            "failureThreshold": int(math.ceil(cfg.timeout("controlPlaneComponentHealthCheck") / period)),
            "httpGet": http_get(host, start, target, scheme),
            "initialDelaySeconds": 10, "periodSeconds": period, "timeoutSeconds": 15}
    if named:
        fields["ports"] = [{"containerPort": port, "name": C.PROBE_PORT_NAME, "protocol": "TCP"}]
    return fields


def proxy_env(environ=None) -> list:
    """Host variables ending in _proxy (any case) with a value (kubeadm GetProxyEnvVars)."""
    environ = os.environ if environ is None else environ
    return [{"name": k, "value": v} for k, v in environ.items() if k.lower().endswith("_proxy") and v]


def merge_env(*lists) -> list:
    """Later entries win by name; result sorted by name (kubeadm MergeKubeadmEnvVars, 1.32+)."""
    merged = {}
    for entries in lists:
        for entry in entries or []:
            if not isinstance(entry, dict) or not entry.get("name"):
                raise InvalidValue("extraEnvs", entry, "a list of {name: ..., value: ...} entries")
            merged[entry["name"]] = dict(entry)
    return [merged[name] for name in sorted(merged)]


def volume_name(path: str) -> str:
    return path.strip("/").replace("/", "-")


class Mounts:
    """name -> (volume, mount); a later entry with the same name replaces the earlier one."""

    def __init__(self):
        self.items = {}

    def add(self, name, host_path, mount_path, read_only, path_type):
        volume = {"hostPath": {"path": host_path}, "name": name}
        if path_type is not None:
            volume["hostPath"]["type"] = path_type
        mount = {"mountPath": mount_path, "name": name}
        if read_only:
            mount["readOnly"] = True
        self.items[name] = (volume, mount)

    def volumes(self) -> list:
        return [self.items[n][0] for n in sorted(self.items)]

    def mounts(self) -> list:
        return [self.items[n][1] for n in sorted(self.items)]


# =============================================================================
# Pods
# =============================================================================
def pod(component: str, container: dict, volumes: list, annotations=None, minor: int = 34) -> dict:
    metadata = {"labels": {"component": component, "tier": C.CONTROL_PLANE_TIER},
                "name": component, "namespace": C.KUBE_SYSTEM}
    if versions.behaviour(minor).creation_timestamp:
        # apimachinery omits a zero creationTimestamp from 1.34 on (kubernetes#130989,
        # CHANGELOG-1.34 alpha.1); kubeadm 1.33 still writes `creationTimestamp: null`.
        metadata["creationTimestamp"] = None
    if annotations:
        metadata["annotations"] = annotations
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {
            "containers": [container],
            "hostNetwork": True,
            "priority": C.STATIC_POD_PRIORITY,
            "priorityClassName": C.STATIC_POD_PRIORITY_CLASS,
            "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
            "volumes": volumes,
        },
        "status": {},
    }


# =============================================================================
# reading a manifest back (reset, join: kubeadm ReadStaticPodFromDisk)
# =============================================================================
def read(fs, path: str):
    """The Pod of a static Pod manifest on this node, or None when absent or not a Pod."""
    doc = _load(fs.read_text(path))
    return doc if doc and doc.get("kind") == "Pod" else None


def command_flags(pod_doc: dict) -> dict:
    """--name=value flags of the Pod's first container command."""
    try:
        command = pod_doc["spec"]["containers"][0].get("command") or []
    except (KeyError, IndexError, TypeError, AttributeError):
        return {}
    return dict(arg[2:].split("=", 1) for arg in command if isinstance(arg, str) and arg.startswith("--") and "=" in arg)


def host_path(pod_doc: dict, volume: str):
    """hostPath.path of a named volume, or None."""
    for item in (pod_doc.get("spec") or {}).get("volumes") or []:
        if item.get("name") == volume:
            return (item.get("hostPath") or {}).get("path")
    return None


def liveness_endpoint(pod_doc: dict):
    """(host, port) the kubelet probes the component's liveness at, or None (a named probe port
    resolved through the container's ports)."""
    try:
        container = pod_doc["spec"]["containers"][0]
        get = container["livenessProbe"]["httpGet"]
    except (KeyError, IndexError, TypeError):
        return None
    port = get.get("port")
    if isinstance(port, str) and not port.isdigit():
        port = next((p.get("containerPort") for p in container.get("ports") or [] if p.get("name") == port), None)
    return (get.get("host") or "127.0.0.1", int(port)) if port else None


# =============================================================================
# restarts (certificate renewal)
# =============================================================================
def _load(text):
    try:
        pod = yaml.safe_load(text) if text else None
    except yaml.YAMLError:
        return None
    return pod if isinstance(pod, dict) else None


def reads_any(text, paths) -> bool:
    """Whether a manifest's containers name one of `paths` as a flag value (--tls-cert-file=<path>)."""
    pod = _load(text) or {}
    wanted = set(paths)
    for container in (pod.get("spec") or {}).get("containers") or []:
        for arg in list(container.get("command") or []) + list(container.get("args") or []):
            if str(arg).partition("=")[2] in wanted:
                return True
    return False


def with_restart_annotation(text, stamp: str) -> str:
    """The manifest with C.RESTARTED_AT_ANNOTATION set to `stamp`: a changed manifest makes the
    kubelet recreate the Pod (a static Pod's identity is the hash of its manifest)."""
    pod = _load(text)
    if pod is None:
        return text
    pod.setdefault("metadata", {}).setdefault("annotations", {})[C.RESTARTED_AT_ANNOTATION] = stamp
    return docutil.to_yaml(pod)


def kept_annotations(text) -> dict:
    """The restart annotation of an existing manifest, to carry into a re-rendered one (a rerun
    of init/join must not undo a renewal's restart, nor restart the Pod once more)."""
    annotations = ((_load(text) or {}).get("metadata") or {}).get("annotations") or {}
    return {key: annotations[key] for key in (C.RESTARTED_AT_ANNOTATION,) if annotations.get(key)}
