# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`kubeadm version`: which kubeadm this collection stands in for, as the kubeadm_version module body.

The collection does what kubeadm of the newest supported minor does (and, like that kubeadm,
deploys the minors of `versions.MINORS`), so `clientVersion` is that kubeadm's version in
apimachinery's version.Info shape (`kubeadm version -o json`). Fields that describe a Go build
say what this is instead: no git commit of Kubernetes, compiler "python", the Python version.
"""
from __future__ import annotations

import json
import platform

from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import docutil, versions

_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm",
         "ppc64le": "ppc64le", "s390x": "s390x"}


def client_version() -> dict:
    """version.Info of the kubeadm this collection implements (field order as Go marshals it)."""
    git_version = versions.MINORS[-1].newest_patch
    major, minor, _patch = versions.split(git_version)
    machine = platform.machine().lower()
    return {
        "major": str(major),
        "minor": str(minor),
        "gitVersion": git_version,
        "gitCommit": "",
        "gitTreeState": "",
        "buildDate": "",
        "goVersion": "",
        "compiler": "python",
        "platform": f"{platform.system().lower()}/{_ARCH.get(machine, machine)}",
    }


def text(info: dict, output: str) -> str:
    """What `kubeadm version -o <output>` prints (json: Go's MarshalIndent with two spaces)."""
    if output == "short":
        return info["clientVersion"]["gitVersion"] + "\n"
    if output == "yaml":
        return docutil.to_yaml(info) + "\n"
    return json.dumps(info, indent=2) + "\n"


def run_version(params: dict, check_mode: bool = False) -> dict:  # noqa: ARG001 - nothing to change
    """The kubeadm_version module (read-only)."""
    output = params.get("output") or "json"
    info = {"clientVersion": client_version()}
    return {
        "changed": False,
        "version": info,
        "output": text(info, output),
        "collection_version": C.COLLECTION_VERSION,
        "supported_minors": [f"1.{row.minor}" for row in versions.MINORS],
        "supported_versions": [row.newest_patch for row in versions.MINORS],
        "components": {row.newest_patch: {"etcd": versions.etcd_version(row.newest_patch), "coredns": row.coredns,
                                          "pause": row.pause} for row in versions.MINORS},
    }
