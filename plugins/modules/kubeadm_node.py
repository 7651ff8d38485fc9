#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: kubeadm_node
short_description: Cordon, drain or uncordon a Node, like C(kubectl cordon|drain|uncordon), through the API
version_added: 0.2.0
description:
  - O(state=cordon) marks the Node unschedulable; O(state=uncordon) schedulable again.
  - O(state=drain) cordons it and evicts every Pod bound to it through the Eviction API, so PodDisruptionBudgets are
    honoured (an eviction they forbid is retried every 5 seconds until O(timeout)), then waits until the Pods are gone.
    Mirror Pods of static Pods are left alone, and DaemonSet Pods with O(ignore_daemonsets=true).
  - Pods that would be lost - without a controller, or with C(emptyDir) data - are refused unless O(force) or
    O(delete_emptydir_data) allows them; all of them are named in one error before anything is evicted.
  - O(wait_ready) / O(kubelet_version) first wait until the Node is Ready (and its kubelet reports that version), then change it.
  - Idempotent - a cordoned Node without Pods to evict reports C(changed=false).
author: kubeboot developers (@kubeboot)
extends_documentation_fragment:
  - kubeboot.cluster.api
options:
  name:
    description: The Node.
    type: str
    required: true
  state:
    description: C(drain), C(cordon) or C(uncordon).
    type: str
    choices: [drain, cordon, uncordon]
    default: drain
  ignore_daemonsets:
    description: Leave DaemonSet Pods on the Node (else a drain refuses them), like C(--ignore-daemonsets).
    type: bool
    default: true
  delete_emptydir_data:
    description: Evict Pods with C(emptyDir) volumes (their data is lost), like C(--delete-emptydir-data).
    type: bool
    default: false
  force:
    description: Evict Pods that no controller recreates, like C(--force).
    type: bool
    default: false
  disable_eviction:
    description: Delete the Pods instead of evicting them (ignores PodDisruptionBudgets), like C(--disable-eviction).
    type: bool
    default: false
  grace_period:
    description: Seconds each Pod gets to terminate (default - the Pod's own).
    type: int
  timeout:
    description: Seconds the drain (and the wait for the Node) may take.
    type: int
    default: 300
  wait_ready:
    description: Wait until the Node is Ready.
    type: bool
    default: false
  kubelet_version:
    description: Wait until the Node's kubelet reports this version (e.g. C(v1.37.0)); implies O(wait_ready).
    type: str
attributes:
  check_mode:
    support: full
    description: The cordon and the evictions are planned (RV(changed_objects)), nothing is sent; nothing is waited for.
  diff_mode:
    support: full
    description: The Node and the Pods that would be evicted, before and after.
seealso:
  - module: kubeboot.cluster.kubeadm_upgrade
"""

EXAMPLES = r"""
- name: Drain a node before upgrading its kubelet (from a control-plane node)
  kubeboot.cluster.kubeadm_node:
    name: worker-1
    state: drain
  delegate_to: "{{ groups['kube_control_plane'][0] }}"

- name: Let Pods come back once its kubelet reports the new version
  kubeboot.cluster.kubeadm_node:
    name: worker-1
    state: uncordon
    kubelet_version: v1.37.0
  delegate_to: "{{ groups['kube_control_plane'][0] }}"
"""

RETURN = r"""
name:
  description: The Node.
  returned: always
  type: str
state:
  description: The state asked for.
  returned: always
  type: str
cordoned:
  description: Whether this run marked the Node unschedulable.
  returned: always
  type: bool
uncordoned:
  description: Whether this run marked the Node schedulable again.
  returned: with O(state=uncordon)
  type: bool
evicted:
  description: The Pods evicted (or deleted), as C(namespace/name).
  returned: always
  type: list
  elements: str
skipped:
  description: The Pods left on the Node, and why (mirror Pod, DaemonSet-managed).
  returned: always
  type: list
  elements: str
node:
  description: C(ready) and C(kubelet_version) of the Node after the wait.
  returned: with O(wait_ready) or O(kubelet_version)
  type: dict
changed_objects:
  description: The Node and the Pods changed (or that would be), as C(Kind/namespace/name).
  returned: always
  type: list
  elements: str
"""

from ansible_collections.kubeboot.cluster.plugins.module_utils import options
from ansible_collections.kubeboot.cluster.plugins.module_utils.drain import run_node
from ansible_collections.kubeboot.cluster.plugins.module_utils.module_common import new_module, run_module


def main() -> None:
    run_module(new_module(options.NODE), run_node)


if __name__ == "__main__":
    main()
