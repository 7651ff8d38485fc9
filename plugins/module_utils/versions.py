# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offline version labels and the per-minor image tags kubeadm deploys.

kubeadm resolves labels through dl.k8s.io; managed nodes here may have no
network, so the collection ships the table (newest patch seen per minor) and
resolves labels the way kubeadm does against it.
"""
from __future__ import annotations

import re

from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import InvalidValue

# Newest GA patch per supported minor (versions.md §6). 1.37.0: GA assumed from
# the release schedule; later patches were not in the stored sources.
NEWEST_PATCH = {
    33: "v1.33.13",
    34: "v1.34.10",
    35: "v1.35.7",
    36: "v1.36.3",
    37: "v1.37.0",
}
# Newest build per minor including pre-releases (latest-1.X).
NEWEST_BUILD = dict(NEWEST_PATCH)

# etcd image tag per target minor (kubeadm SupportedEtcdVersion, newest patch line).
ETCD_VERSION = {33: "3.5.24-0", 34: "3.6.5-0", 35: "3.6.6-0", 36: "3.6.8-0", 37: "3.7.0-0"}
# etcd tag before it changed within a minor: (minor, last patch with the old tag, old tag)
ETCD_VERSION_EARLY = {33: (5, "3.5.21-0"), 34: (1, "3.6.4-0")}
COREDNS_VERSION = {33: "v1.12.0", 34: "v1.12.1", 35: "v1.13.1", 36: "v1.14.2", 37: "v1.14.6"}
PAUSE_VERSION = {33: "3.10", 34: "3.10.1", 35: "3.10.1", 36: "3.10.2", 37: "3.10.2"}

LABEL_RE = re.compile(r"^((latest|stable)+(-[1-9](\.[1-9]([0-9])?)?)?)$")
VERSION_RE = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(-[0-9A-Za-z.-]+)?$")
ALLOWED = ("a version like v1.34.2 or 1.34.2, or a label: stable, stable-1, stable-1.34, "
           "latest, latest-1, latest-1.34 (supported minors 1.%d-1.%d)"
           % (C.MIN_SUPPORTED_MINOR, C.MAX_SUPPORTED_MINOR))


def resolve_version(label: str, field: str = "kubernetes_version") -> str:
    """'stable-1.34' -> 'v1.34.10'; 'v1.33.4' -> 'v1.33.4'. Raises InvalidValue."""
    text = str(label).strip()
    if text.startswith("ci/"):
        raise InvalidValue(field, label, "CI build labels need dl.k8s.io, which is not used offline; " + ALLOWED)
    match = VERSION_RE.match(text)
    if match:
        return _check_supported("v" + text.lstrip("v"), int(match.group(1)), int(match.group(2)), field, label)
    if not LABEL_RE.match(text):
        raise InvalidValue(field, label, ALLOWED)
    kind, _unused, rest = text.partition("-")
    table = NEWEST_BUILD if kind == "latest" else NEWEST_PATCH
    if not rest or rest == "1":
        return table[max(table)]
    major, _unused, minor = rest.partition(".")
    if major != "1" or int(minor) not in table:
        raise InvalidValue(field, label, ALLOWED)
    return table[int(minor)]


def _check_supported(version: str, major: int, minor: int, field: str, label) -> str:
    if major != 1 or not C.MIN_SUPPORTED_MINOR <= minor <= C.MAX_SUPPORTED_MINOR:
        raise InvalidValue(field, label, ALLOWED)
    return version


def split(version: str) -> tuple:
    """'v1.34.10' -> (1, 34, 10)."""
    match = VERSION_RE.match(version)
    if not match:
        raise InvalidValue("version", version, ALLOWED)
    return int(match.group(1)), int(match.group(2)), int(match.group(3))


def minor_of(version: str) -> int:
    return split(version)[1]


def _nearest(table: dict, minor: int) -> str:
    if minor in table:
        return table[minor]
    return table[min(table)] if minor < min(table) else table[max(table)]


def etcd_version(version: str) -> str:
    """etcd image tag kubeadm deploys for a control-plane version."""
    _unused, minor, patch = split(version)
    early = ETCD_VERSION_EARLY.get(minor)
    if early and patch <= early[0]:
        return early[1]
    return _nearest(ETCD_VERSION, minor)


def coredns_version(minor: int) -> str:
    return _nearest(COREDNS_VERSION, minor)


def pause_version(minor: int) -> str:
    return _nearest(PAUSE_VERSION, minor)


def etcd_is_36_or_newer(version: str) -> bool:
    tag = etcd_version(version)
    major, minor = (int(x) for x in tag.split(".")[:2])
    return (major, minor) >= (3, 6)


def images(cfg) -> dict:
    """Image references for every component (kubeadm config images list)."""
    repo = cfg.cluster["imageRepository"]
    version = cfg.version
    dns = cfg.cluster.get("dns", {})
    dns_repo = dns.get("imageRepository") or (
        repo + "/coredns" if repo == C.DEFAULT_IMAGE_REPOSITORY else repo)
    etcd_local = cfg.cluster.get("etcd", {}).get("local", {})
    etcd_repo = etcd_local.get("imageRepository") or repo
    return {
        C.KUBE_APISERVER: f"{repo}/{C.KUBE_APISERVER}:{version}",
        C.KUBE_CONTROLLER_MANAGER: f"{repo}/{C.KUBE_CONTROLLER_MANAGER}:{version}",
        C.KUBE_SCHEDULER: f"{repo}/{C.KUBE_SCHEDULER}:{version}",
        C.KUBE_PROXY: f"{repo}/{C.KUBE_PROXY}:{version}",
        C.COREDNS: f"{dns_repo}/coredns:{dns.get('imageTag') or coredns_version(cfg.minor)}",
        "pause": f"{repo}/pause:{pause_version(cfg.minor)}",
        C.ETCD: f"{etcd_repo}/etcd:{etcd_local.get('imageTag') or etcd_version(version)}",
    }
