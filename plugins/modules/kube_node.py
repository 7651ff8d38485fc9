#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: kube_node
short_description: Cordon, uncordon, drain or delete a Node through the API, like kubectl
version_added: 0.1.0
description:
  - O(state=drained) does what C(kubectl drain) does, without kubectl - it first decides about every Pod on the
    Node with kubectl's rules (mirror Pods skipped, DaemonSet Pods skipped with O(ignore_daemonsets), Pods without
    a controller refused unless O(force), Pods with C(emptyDir) data refused unless O(delete_emptydir_data)), so a
    refused drain changes nothing; then it cordons the Node, evicts the Pods through the eviction subresource
    (PodDisruptionBudgets apply; a refused eviction is retried until O(timeout)) or deletes them
    (O(disable_eviction)), and waits until they are gone.
  - O(state=cordoned) / O(state=uncordoned) set or clear C(spec.unschedulable) (C(kubectl cordon|uncordon));
    O(state=absent) deletes the Node object (C(kubectl delete node)).
  - O(wait_ready) / O(kubelet_version) first wait until the Node is Ready (with that kubelet version), then change it.
  - Idempotent - a cordoned Node is not patched again, an empty drained Node changes nothing, an absent Node is
    no change.
author: kubeboot developers (@kubeboot)
extends_documentation_fragment:
  - kubeboot.cluster.api
options:
  name:
    description: The Node's name.
    type: str
    required: true
  state:
    description: What the Node must be.
    type: str
    choices: [cordoned, uncordoned, drained, absent]
    default: drained
  grace_period:
    description: Seconds each Pod gets to terminate; C(-1) uses the Pod's own terminationGracePeriodSeconds.
    type: int
    default: -1
  timeout:
    description: Seconds to keep retrying refused evictions and to wait for the Pods to be gone.
    type: int
    default: 300
  ignore_daemonsets:
    description: Leave DaemonSet-managed Pods in place (the DaemonSet would recreate them); false refuses the drain.
    type: bool
    default: true
  delete_emptydir_data:
    description: Drain Pods with C(emptyDir) volumes (their data is lost).
    type: bool
    default: false
  force:
    description: Drain Pods that declare no controller (they do not come back).
    type: bool
    default: false
  disable_eviction:
    description: Delete the Pods instead of evicting them (PodDisruptionBudgets do not apply).
    type: bool
    default: false
  wait_ready:
    description:
      - Before changing the Node, wait up to O(timeout) until it is C(Ready) (C(kubeboot.cluster.upgrade) does this
        after the kubelet restart, before the uncordon). A Node that does not become Ready fails the task unchanged.
      - In check mode the Node is read once and nothing is waited for.
    type: bool
    default: false
  kubelet_version:
    description: Wait as O(wait_ready) does, and until the Node's kubelet reports this version (C(v1.37.0)).
    type: str
attributes:
  check_mode:
    support: full
    description: The Node and its Pods are read; the cordon, the evictions and the deletion are only planned.
  diff_mode:
    support: full
    description: The Node before and after, and each evicted Pod.
seealso:
  - module: kubeboot.cluster.kubeadm_reset
  - module: kubeboot.cluster.kubeadm_upgrade
"""

EXAMPLES = r"""
- name: Drain a node before maintenance
  kubeboot.cluster.kube_node:
    name: w1
    state: drained
    delete_emptydir_data: true

- name: Back in service
  kubeboot.cluster.kube_node:
    name: w1
    state: uncordoned

- name: Back in service once its upgraded kubelet is Ready
  kubeboot.cluster.kube_node:
    name: w1
    state: uncordoned
    kubelet_version: v1.37.0
    timeout: 300

- name: Remove the Node object
  kubeboot.cluster.kube_node:
    name: w1
    state: absent
"""

RETURN = r"""
node:
  description: The Node's name.
  returned: success
  type: str
state:
  description: The state asked for.
  returned: success
  type: str
unschedulable:
  description: Whether the Node is cordoned now (cordoned, uncordoned, drained).
  returned: when state is not absent
  type: bool
evicted:
  description: The Pods evicted (C(namespace/name)).
  returned: when state is drained and disable_eviction is false
  type: list
  elements: str
deleted:
  description: The Pods deleted (with O(disable_eviction)); for O(state=absent), whether the Node was deleted.
  returned: when state is drained with disable_eviction, or absent
  type: raw
skipped_pods:
  description: Pods left on the Node and why (mirror Pods, DaemonSet Pods).
  returned: when state is drained
  type: dict
ready:
  description: Whether the Node was Ready when the wait ended (in check mode, when it was read).
  returned: with O(wait_ready) or O(kubelet_version)
  type: bool
kubelet_version:
  description: The version the Node's kubelet reported when the wait ended.
  returned: with O(wait_ready) or O(kubelet_version)
  type: str
changed_objects:
  description: The Node and the Pods changed (or in check mode to be changed), as C(Kind/namespace/name).
  returned: success
  type: list
  elements: str
"""

from ansible_collections.kubeboot.cluster.plugins.module_utils import options
from ansible_collections.kubeboot.cluster.plugins.module_utils.drain import run_node
from ansible_collections.kubeboot.cluster.plugins.module_utils.module_common import new_module, run_module


def main() -> None:
    # the argument spec is this module's rows of the option table (module_utils/options.py)
    run_module(new_module(options.NODE), run_node)


if __name__ == "__main__":
    main()
