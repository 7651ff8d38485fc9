#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: kubeadm_version
short_description: The kubeadm this collection stands in for, like C(kubeadm version)
version_added: 0.1.0
description:
  - RV(version) is C(kubeadm version -o json) - C(clientVersion) with C(major), C(minor), C(gitVersion), ...
    The collection does what kubeadm of its newest supported Kubernetes minor does, so C(gitVersion) is that
    kubeadm's version. The fields that describe a Go build (C(gitCommit), C(buildDate), C(goVersion)) are empty
    and C(compiler) is C(python) - there is no kubeadm binary.
  - RV(supported_versions) lists the Kubernetes versions the collection deploys (the newest patch of each
    supported minor, what labels such as C(stable-1.35) resolve to) and RV(components) the etcd, CoreDNS and pause
    tags it deploys with each.
author: kubeboot developers (@kubeboot)
options:
  output:
    description: The form of RV(output) - what C(kubeadm version -o json|yaml|short) prints.
    type: str
    choices: [json, yaml, short]
    default: json
attributes:
  check_mode:
    support: full
    description: Read-only module.
  diff_mode:
    support: N/A
    description: An information module changes nothing.
seealso:
  - module: kubeboot.cluster.kubeadm_config
"""

EXAMPLES = r"""
- name: Which kubeadm, which Kubernetes versions
  kubeboot.cluster.kubeadm_version:
  register: kubeadm

- name: Refuse a version the collection does not deploy
  ansible.builtin.assert:
    that: kube_version in kubeadm.supported_versions
"""

RETURN = r"""
version:
  description: C(kubeadm version -o json) as data.
  returned: always
  type: dict
  sample: {"clientVersion": {"major": "1", "minor": "37", "gitVersion": "v1.37.0", "gitCommit": "",
           "gitTreeState": "", "buildDate": "", "goVersion": "", "compiler": "python", "platform": "linux/amd64"}}
output:
  description: The text C(kubeadm version -o <output>) prints.
  returned: always
  type: str
collection_version:
  description: The version of this collection.
  returned: always
  type: str
supported_minors:
  description: Kubernetes minors the collection deploys (C(1.33), ...).
  returned: always
  type: list
  elements: str
supported_versions:
  description: The newest patch of each supported minor (C(v1.33.13), ...).
  returned: always
  type: list
  elements: str
components:
  description: Per supported version, the C(etcd), C(coredns) and C(pause) tags deployed with it.
  returned: always
  type: dict
"""

from ansible_collections.kubeboot.cluster.plugins.module_utils import options
from ansible_collections.kubeboot.cluster.plugins.module_utils.module_common import new_module, run_module
from ansible_collections.kubeboot.cluster.plugins.module_utils.versioncmd import run_version


def main() -> None:
    # the argument spec is this module's rows of the option table (module_utils/options.py)
    run_module(new_module(options.VERSION), run_version)


if __name__ == "__main__":
    main()
