# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cluster-wide settings of the roles, with kubespray's variable names read as aliases.

A setting is read from its `kubeboot_*` variable, else from the kubespray variable of the same
meaning, else it takes its default. Both given with different values is an error naming both; a
value kubeboot does not support (e.g. `kube_network_plugin: cilium`) is an error listing what is
allowed. The table is the only place these names are written (docs/kubespray.md is checked
against it).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from ansible_collections.kubeboot.cluster.plugins.module_utils import netutil, versions
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import InvalidValue


def _version(field: str, value):
    versions.resolve_version(value, field)  # raises InvalidValue naming the field
    return str(value).strip()


def _cidr(field: str, value):
    netutil.parse_cidrs(value, field)
    return str(value).strip()


def _string(field: str, value):
    if not isinstance(value, str):
        raise InvalidValue(field, value, "a string")
    return value.strip()


def _address(field: str, value):
    text = _string(field, value)
    if text and not netutil.is_ip(text):
        raise InvalidValue(field, value, "an IP address of this host")
    return text


def _endpoint(field: str, value):
    text = _string(field, value)
    if text:
        netutil.split_host_port(text)
    return text


def _string_list(field: str, value):
    if isinstance(value, str):
        value = [v for v in value.split(",") if v.strip()]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise InvalidValue(field, value, "a list of strings")
    return [v.strip() for v in value]


def _bool(field: str, value):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("yes", "true", "1", "on"):
        return True
    if text in ("no", "false", "0", "off"):
        return False
    raise InvalidValue(field, value, "true or false")


def _mirrors(field: str, value):
    """{registry: [mirror URL, ...]}; kubespray's containerd_registries_mirrors list is converted."""
    if isinstance(value, list):
        converted = {}
        for entry in value:
            if not isinstance(entry, dict) or "prefix" not in entry:
                raise InvalidValue(field, entry, "entries {prefix, mirrors: [{host}]} (kubespray's form)")
            converted[entry["prefix"]] = [m["host"] for m in entry.get("mirrors") or [] if "host" in m]
        value = converted
    if not isinstance(value, dict):
        raise InvalidValue(field, value, "a mapping of registry to a list of mirror URLs")
    out = {}
    for registry, mirrors in value.items():
        mirrors = [mirrors] if isinstance(mirrors, str) else mirrors
        if not isinstance(mirrors, list) or not all(isinstance(m, str) and m.startswith(("https://", "http://"))
                                                    for m in mirrors):
            raise InvalidValue(f"{field}.{registry}", mirrors, "a list of mirror URLs (https://...)")
        out[str(registry)] = list(mirrors)
    return out


def _choice(choices: dict) -> Callable:
    """A value among `choices` (alias -> our name)."""
    def check(field: str, value):
        text = str(value).strip().lower()
        if text not in choices:
            raise InvalidValue(field, value, "one of " + ", ".join(sorted(choices)) +
                               " (what kubeboot.cluster supports)")
        return choices[text]
    return check


@dataclass(frozen=True)
class Setting:
    name: str                  # the setting: lookup('kubeboot.cluster.setting', name)
    variable: str              # our variable (group_vars/k8s_cluster)
    alias: Optional[str]       # kubespray's variable of the same meaning
    default: object
    check: Callable            # (field, value) -> normalised value, or InvalidValue
    per_host: bool = False
    description: str = ""


SETTINGS = (
    Setting("kubernetes_version", "kubeboot_kubernetes_version", "kube_version", "stable-1", _version,
            description="Kubernetes version or label (v1.36.3, stable-1.36)"),
    Setting("pod_network_cidr", "kubeboot_pod_network_cidr", "kube_pods_subnet", "10.244.0.0/16", _cidr,
            description="pod network (podSubnet; the CNI's network)"),
    Setting("service_cidr", "kubeboot_service_cidr", "kube_service_addresses", "10.96.0.0/12", _cidr,
            description="service network (serviceSubnet)"),
    Setting("dns_domain", "kubeboot_dns_domain", "dns_domain", "cluster.local", _string,
            description="cluster DNS domain"),
    Setting("image_repository", "kubeboot_image_repository", "kube_image_repo", "registry.k8s.io", _string,
            description="registry of the control-plane, pause and CoreDNS images"),
    Setting("control_plane_endpoint", "kubeboot_control_plane_endpoint", "apiserver_loadbalancer_domain_name",
            "", _endpoint, description="stable API endpoint (load balancer) host[:port]"),
    Setting("apiserver_cert_extra_sans", "kubeboot_apiserver_cert_extra_sans",
            "supplementary_addresses_in_ssl_keys", [], _string_list,
            description="extra names and addresses in the API server certificate"),
    Setting("cni_plugin", "kubeboot_cni_plugin", "kube_network_plugin", "flannel",
            _choice({"flannel": "flannel", "calico": "calico", "none": "none", "cni": "none"}),
            description="flannel, calico, or none (kubespray's `cni`: bring your own)"),
    Setting("container_runtime", "kubeboot_container_runtime", "container_manager", "containerd",
            _choice({"containerd": "containerd"}), description="the container runtime (containerd)"),
    Setting("registry_mirrors", "kubeboot_registry_mirrors", "containerd_registries_mirrors", {}, _mirrors,
            description="registry mirrors for containerd"),
    Setting("kubeconfig_localhost", "kubeboot_kubeconfig_localhost", "kubeconfig_localhost", False, _bool,
            description="fetch admin.conf to the controller"),
    Setting("advertise_address", "kubeboot_advertise_address", "ip", "", _address, per_host=True,
            description="this host's API server / node address (empty: the default-route address)"),
    Setting("access_address", "kubeboot_access_address", "access_ip", "", _address, per_host=True,
            description="the address other hosts reach this one at (empty: advertise_address)"),
)
BY_NAME = {s.name: s for s in SETTINGS}
_MISSING = object()


def resolve(name: str, variables: dict):
    """The value of setting `name` from a host's variables (see the module docstring)."""
    try:
        setting = BY_NAME[name]
    except KeyError:
        raise InvalidValue("setting", name, "one of " + ", ".join(BY_NAME)) from None
    ours = variables.get(setting.variable, _MISSING)
    theirs = variables.get(setting.alias, _MISSING) if setting.alias else _MISSING
    if ours is not _MISSING and ours is not None:
        value = setting.check(setting.variable, ours)
        if theirs is not _MISSING and theirs is not None and setting.check(setting.alias, theirs) != value:
            raise InvalidValue(setting.variable, ours, f"the same value as kubespray's {setting.alias} "
                               f"({theirs!r}), or only one of the two")
        return value
    if theirs is not _MISSING and theirs is not None:
        return setting.check(setting.alias, theirs)
    return setting.check(setting.variable, setting.default)
