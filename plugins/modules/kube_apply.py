#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: kube_apply
short_description: Create, update or delete Kubernetes objects through the collection's API client
version_added: 0.2.0
description:
  - Applies objects (an addon's manifest, e.g. the CNI's) with the same plan/apply engine as the kubeadm modules -
    an object is created when missing and updated only when the live object lacks one of the given fields
    (server defaults and other labels are kept); O(state=absent) deletes them.
  - Check mode reads the cluster and writes nothing; C(--diff) shows each object before and after, never a Secret's
    values. A rerun on an unchanged cluster reports C(changed=false).
  - Needs only the Python standard library on the node (no kubernetes client, no kubectl).
author: kubeboot developers (@kubeboot)
extends_documentation_fragment:
  - kubeboot.cluster.api
options:
  objects:
    description:
      - The objects as YAML text, one object a document - a manifest file's content, e.g. from the
        M(ansible.builtin.template) or M(ansible.builtin.file) lookup, or C({{ my_objects | to_yaml }}). Each needs
        C(apiVersion), C(kind) and C(metadata.name).
      - They are applied in the given order (a Namespace before what lives in it) and deleted in reverse order.
      - The text is C(no_log) - it may hold Secrets - so it is never echoed; the diff shows each object without
        Secret values.
    type: str
    required: true
  state:
    description: C(present) creates or updates the objects, C(absent) deletes them.
    type: str
    choices: [present, absent]
    default: present
  wait:
    description: After applying, wait until every object can be read back (what the API can tell; no pods are watched).
    type: bool
    default: false
  wait_timeout:
    description: How long O(wait) waits, in seconds.
    type: int
    default: 60
attributes:
  check_mode:
    support: full
    description: Reads the cluster, writes nothing, reports which objects would change.
  diff_mode:
    support: full
    description: Each changed object before and after, without Secret values.
seealso:
  - module: kubeboot.cluster.kubeadm_init
    description: makes the cluster whose admin.conf this module uses.
"""

EXAMPLES = r"""
- name: flannel, as the cni role applies it
  kubeboot.cluster.kube_apply:
    objects: "{{ lookup('ansible.builtin.template', 'flannel.yml.j2') }}"
    wait: true

- name: Remove an addon
  kubeboot.cluster.kube_apply:
    objects: "{{ lookup('ansible.builtin.file', 'my-addon.yaml') }}"
    state: absent
"""

RETURN = r"""
changed_objects:
  description: The objects that were (in check mode would be) created, updated or deleted, as C(Kind/namespace/name).
  returned: always
  type: list
  elements: str
  sample: ["Namespace/kube-flannel", "DaemonSet/kube-flannel/kube-flannel-ds"]
objects:
  description: Every object of O(objects), as C(Kind/namespace/name).
  returned: always
  type: list
  elements: str
"""

from ansible_collections.kubeboot.cluster.plugins.module_utils import options
from ansible_collections.kubeboot.cluster.plugins.module_utils.kubeapply import run_apply
from ansible_collections.kubeboot.cluster.plugins.module_utils.module_common import new_module, run_module


def main() -> None:
    # the argument spec is this module's rows of the option table (module_utils/options.py)
    run_module(new_module(options.APPLY), run_apply)


if __name__ == "__main__":
    main()
