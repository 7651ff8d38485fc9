#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: kubeadm_config
short_description: Print, migrate and validate kubeadm configuration, list and pull images, like C(kubeadm config)
version_added: 0.1.0
description:
  - O(print) is C(kubeadm config print init-defaults|join-defaults|reset-defaults|upgrade-defaults) - kubeadm's
    C(kubeadm.k8s.io/v1beta4) documents with kubeadm's placeholders (token C(abcdef.0123456789abcdef), address
    C(1.2.3.4), node C(node)) in RV(content), byte for byte as kubeadm marshals them (keys sorted, empty fields
    omitted). The init defaults are accepted back as C(config) by kubeboot.cluster.kubeadm_init.
  - O(old_config) is C(kubeadm config migrate) - the file (v1beta3 or v1beta4) read, defaulted, converted and
    validated as kubeadm_init and kubeadm_join read it, written as v1beta4 to O(new_config) (0644) or returned.
    An unset bootstrap token stays unset (generated at init); kubeadm writes a random one instead, which would
    change the file on every run. Unlike kubeadm, KubeletConfiguration and KubeProxyConfiguration documents are kept.
  - O(validate) is C(kubeadm config validate) - fails with the first problem of O(config) (unknown fields too),
    else returns RV(valid).
  - O(images) is C(kubeadm config images list|pull) for O(kubernetes_version) and O(image_repository) (or
    O(config)). C(pull) pulls what the runtime does not have yet. kubeadm speaks the runtime's CRI API, which is
    gRPC; a node has no gRPC library, so the pull goes through C(crictl) (any CRI runtime) or containerd's C(ctr)
    and RV(pulled_with) says which; without either the module fails and says what to install.
author: kubeboot developers (@kubeboot)
options:
  print:
    description: Which defaults to print.
    type: str
    choices: [init, join, reset, upgrade]
  component_configs:
    description: With O(print=init), also print these component configurations (kubeadm's C(--component-configs)).
    type: list
    elements: str
    choices: [KubeletConfiguration, KubeProxyConfiguration]
    default: []
  old_config:
    description: The configuration file to migrate (kubeadm's C(--old-config)), on the managed node.
    type: path
  new_config:
    description: Where to write the migrated configuration (kubeadm's C(--new-config)); else RV(content) only.
    type: path
  validate:
    description: Validate O(config).
    type: bool
    default: false
  images:
    description: List the images kubeadm deploys, or pull them.
    type: str
    choices: [list, pull]
  kubernetes_version:
    description: Kubernetes version (or label such as C(stable-1.35)) for O(images); default the newest supported.
    type: str
  image_repository:
    description: Registry for O(images) (kubeadm's C(--image-repository)), for example a mirror.
    type: str
  cri_socket:
    description: The runtime's CRI endpoint for O(images=pull).
    type: str
  config:
    description: A kubeadm configuration file on the managed node, for O(validate) and O(images).
    type: path
attributes:
  check_mode:
    support: full
    description: Nothing is written or pulled; RV(pulled) and C(changed) say what would be.
  diff_mode:
    support: full
    description: The migrated file's changes are shown.
seealso:
  - module: kubeboot.cluster.kubeadm_init
  - module: kubeboot.cluster.kubeadm_version
"""

EXAMPLES = r"""
- name: kubeadm config print init-defaults
  kubeboot.cluster.kubeadm_config:
    print: init
    component_configs: [KubeletConfiguration]
  register: defaults

- name: Start from the defaults
  ansible.builtin.copy:
    content: "{{ defaults.content }}"
    dest: /root/kubeadm.yaml
    mode: "0600"

- name: Migrate an old v1beta3 file
  kubeboot.cluster.kubeadm_config:
    old_config: /root/kubeadm-v1beta3.yaml
    new_config: /root/kubeadm.yaml

- name: Validate a file
  kubeboot.cluster.kubeadm_config:
    validate: true
    config: /root/kubeadm.yaml

- name: Pre-pull the control-plane images from a mirror
  kubeboot.cluster.kubeadm_config:
    images: pull
    kubernetes_version: stable-1.35
    image_repository: registry.example.com/k8s
"""

RETURN = r"""
content:
  description: The YAML documents (print, migrate, validate), joined by C(---).
  returned: print, old_config, validate
  type: str
documents:
  description: The same documents as data.
  returned: print, old_config, validate
  type: list
  elements: dict
valid:
  description: True when O(config) is valid (else the module fails).
  returned: validate
  type: bool
images:
  description: The images, in kubeadm's order.
  returned: images
  type: list
  elements: str
pulled:
  description: Images pulled (in check mode, that would be).
  returned: images=pull
  type: list
  elements: str
present:
  description: Images the runtime had already.
  returned: images=pull
  type: list
  elements: str
pulled_with:
  description: The tool that pulled - C(crictl) or C(ctr).
  returned: images=pull
  type: str
"""

from ansible_collections.kubeboot.cluster.plugins.module_utils import options
from ansible_collections.kubeboot.cluster.plugins.module_utils.configcmd import run_config
from ansible_collections.kubeboot.cluster.plugins.module_utils.module_common import new_module, run_module


def main() -> None:
    # the argument spec is this module's rows of the option table (module_utils/options.py)
    run_module(new_module(options.CONFIG), run_config)


if __name__ == "__main__":
    main()
