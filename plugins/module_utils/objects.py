# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Builders of the plain API objects several phases share (ConfigMap, ServiceAccount) and
kubeadm's ConfigMap checksum (componentconfigs.ChecksumForConfigMap)."""
from __future__ import annotations

import base64
import hashlib

from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C


def configmap(name: str, namespace: str, data: dict, labels=None, annotations=None) -> dict:
    meta = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = dict(labels)
    if annotations:
        meta["annotations"] = dict(annotations)
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": dict(data)}


def pem_text(ca_pem) -> str:
    return ca_pem.decode("ascii") if isinstance(ca_pem, bytes) else str(ca_pem)


def config_map_checksum(data: dict, binary_data=None) -> str:
    """kubeadm componentconfigs.ChecksumForConfigMap: sha256 over values in sorted-key order."""
    digest = hashlib.sha256()
    for key in sorted(data or {}):
        digest.update(data[key].encode("utf-8"))
    for key in sorted(binary_data or {}):
        digest.update(base64.b64decode(binary_data[key]))
    return "sha256:" + digest.hexdigest()


def service_account(name: str, namespace: str = C.KUBE_SYSTEM) -> dict:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": namespace}}
