#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: kubeadm_upgrade
short_description: Plan and apply a Kubernetes version upgrade, like C(kubeadm upgrade plan|apply|node), natively in Python
version_added: 0.2.0
description:
  - O(action=plan) reads the cluster (C(kube-system/kubeadm-config), the control-plane and etcd mirror Pods, the kubelets,
    kube-proxy, CoreDNS) and lists the upgrades the collection's version table offers, with kubeadm's tables. A version
    the skew rule refuses (more than one minor at a time, any minor downgrade, an unstable version not allowed) fails.
  - O(action=apply) upgrades the first control-plane node and the cluster, with kubeadm's phases C(preflight),
    C(control-plane), C(upload-config/kubeadm), C(upload-config/kubelet), C(kubelet-config), C(bootstrap-token),
    C(addon/coredns), C(addon/kube-proxy), C(post-upgrade).
  - O(action=node) upgrades any other node to the version apply uploaded - C(preflight), C(control-plane) (control-plane
    nodes only), C(kubelet-config), C(addon/*), C(post-upgrade).
  - The control plane is upgraded one component at a time - etcd (local etcd, never downgraded), kube-apiserver,
    kube-controller-manager, kube-scheduler. A component whose manifest would not change is left alone. Otherwise its
    certificates are renewed (unless O(certificate_renewal=false)), its manifest is backed up to
    C(/etc/kubernetes/tmp/kubeadm-backup-manifests-<timestamp>/) (etcd's data to C(kubeadm-backup-etcd-<timestamp>/)),
    the new one is written and the module waits, up to C(timeouts.upgradeManifests) (5 minutes), for the kubelet to run
    it - the mirror Pod's C(kubernetes.io/config.hash) changes, its Pods run and are Ready, etcd and the API server answer
    their health checks. When a component does not come up, the manifests this run replaced are restored and the module
    fails with C(kubeadm-config) unchanged.
  - The addons (CoreDNS, kube-proxy) are upgraded once every control-plane node runs the new API server.
  - The kubelet itself is not upgraded - upgrade its package and restart it (C(kubeboot.cluster.upgrade) does, draining
    the node around it).
  - A rerun at the same version changes nothing.
author: kubeboot developers (@kubeboot)
extends_documentation_fragment:
  - kubeboot.cluster.common.patches
options:
  action:
    description: C(plan), C(apply) (the first control-plane node) or C(node) (every other node).
    type: str
    choices: [plan, apply, node]
    default: plan
  kubernetes_version:
    description:
      - The version to upgrade to - C(v1.37.0), C(1.37.0) or a label (C(stable), C(stable-1.37)), resolved offline.
      - Required for O(action=apply) (or C(apply.kubernetesVersion) in O(config)). With O(action=plan) only this version
        is planned. With O(action=node) the version C(kubeadm-config) says is used; a version given here must be that one,
        except in check mode, where apply uploads nothing - there a version one step ahead of C(kubeadm-config) (what apply
        would upload; the skew rule applies) is planned, with a warning, so C(upgrade.yml --check) predicts every node.
    type: str
  certificate_renewal:
    description:
      - Renew the certificates and kubeconfigs of each control-plane component before it is upgraded, keeping their keys,
        then C(admin.conf) and C(super-admin.conf) (C(kubelet.conf) is the kubelet's to rotate; CAs are never renewed).
      - Default true (C(certificateRenewal) in O(config)).
    type: bool
  etcd_upgrade:
    description: Upgrade the local etcd too. Default true (C(etcdUpgrade) in O(config)).
    type: bool
  force:
    description:
      - Accept what the skew rule only warns about (kubelets more than three minors older, an unstable version), like
        C(kubeadm upgrade apply --force). A refused version (two minors, a minor downgrade) stays refused.
    type: bool
  allow_experimental_upgrades:
    description: Accept alpha, beta and rc versions.
    type: bool
  allow_release_candidate_upgrades:
    description: Accept release candidates.
    type: bool
  ignore_preflight_errors:
    description: Upgrade preflight checks to ignore (C(IsPrivilegedUser), C(StaticPodManifest), C(ControlPlaneNodesReady)) or C(all).
    type: list
    elements: str
  skip_phases:
    description: Phases to skip, by kubeadm's names (C(addon/kube-proxy), C(post-upgrade), ...).
    type: list
    elements: str
  config:
    description:
      - A kubeadm config file (host path on the managed node) with an C(UpgradeConfiguration) (C(kubeadm.k8s.io/v1beta4));
        module options override it. Other kinds in it are ignored with a warning.
    type: path
  kubeconfig:
    description:
      - Kubeconfig used to reach the API server. Default C(/etc/kubernetes/admin.conf) on a control-plane node,
        C(/etc/kubernetes/kubelet.conf) on a worker, as kubeadm chooses.
    type: path
  rootfs:
    description: Prefix of every host path the module reads and writes (a node's tree under a directory).
    type: path
    default: /
attributes:
  check_mode:
    support: full
    description: Nothing is written, nothing is waited for and the API is only read; the result lists the manifests,
      certificates, kubelet files, backups and API objects a real run changes.
  diff_mode:
    support: full
    description: The manifests, kubelet files and API objects, before and after; never a private key.
notes:
  - Run O(action=apply) on one control-plane node, then O(action=node) on the others one at a time, then on the workers.
  - The C(upgrade-health-check) Job kubeadm's preflight starts is not run; C(ControlPlaneNodesReady) and
    C(StaticPodManifest) are.
seealso:
  - module: kubeboot.cluster.kubeadm_init
  - module: kubeboot.cluster.kube_node
"""

EXAMPLES = r"""
- name: What can the cluster be upgraded to?
  kubeboot.cluster.kubeadm_upgrade:
    action: plan
  register: plan

- name: Show kubeadm's plan
  ansible.builtin.debug:
    msg: "{{ plan.plan.table }}"

- name: Upgrade the first control-plane node and the cluster to 1.37
  kubeboot.cluster.kubeadm_upgrade:
    action: apply
    kubernetes_version: v1.37.0

- name: Upgrade every other node
  kubeboot.cluster.kubeadm_upgrade:
    action: node
"""

RETURN = r"""
action:
  description: The action run.
  returned: always
  type: str
current_version:
  description: The cluster's version before the run (C(kubeadm-config)).
  returned: always
  type: str
  sample: v1.36.3
kubernetes_version:
  description: The version this run upgrades to (for O(action=plan), the current one unless O(kubernetes_version) is given).
  returned: always
  type: str
  sample: v1.37.0
node_name:
  description: This node (from kubelet.conf's client certificate).
  returned: always
  type: str
control_plane:
  description: Whether this node runs a control plane.
  returned: always
  type: bool
kubelet_version:
  description: This node's kubelet version before the run, as its Node reports it (empty on a worker, which may not read it).
  returned: always
  type: str
plan:
  description:
    - C(current_version); C(upgrades), each with C(version), C(description), C(allowed), C(reasons), C(notes), C(kubelets)
      and C(components) (rows of C(component), C(node), C(current), C(target)) and C(etcd) (C(current), C(target));
      C(component_configs); C(table), kubeadm's text.
  returned: with O(action=plan)
  type: dict
manifests:
  description: Per component - C(name), C(path), C(changed), C(action) (C(upgraded), C(unchanged), C(skipped)), C(backup),
    C(data_backup) (etcd), C(waited_seconds), C(reason).
  returned: always
  type: list
  elements: dict
renewed:
  description: Certificates and kubeconfigs renewed.
  returned: when the control-plane phase ran
  type: list
  elements: str
backup_manifests_dir:
  description: Where the replaced manifests were copied.
  returned: when a manifest was replaced
  type: str
  sample: /etc/kubernetes/tmp/kubeadm-backup-manifests-2026-12-01-10-00-00
backup_etcd_dir:
  description: Where etcd's data directory was copied.
  returned: when etcd was upgraded
  type: str
certificates:
  description: The certificates renewed (name, path, expires, changed, action).
  returned: always
  type: list
  elements: dict
kubeconfigs:
  description: The kubeconfigs renewed (name, path, expires, changed, action).
  returned: always
  type: list
  elements: dict
kubelet_files:
  description: The kubelet files written or kept (path, changed).
  returned: always
  type: list
  elements: dict
phases:
  description: Leaf phases that ran and that were skipped.
  returned: always
  type: dict
api:
  description: Per phase result (changed, changed objects, components, skipped and why).
  returned: always
  type: dict
preflight:
  description: Warnings and ignored errors of the preflight checks.
  returned: always
  type: dict
patches:
  description: The patches directory, its patch files, the files ignored, and each patch applied.
  returned: when a patches directory is configured
  type: dict
changed_files:
  description: Host paths that were (or in check mode would be) written.
  returned: always
  type: list
  elements: str
changed_objects:
  description: API objects that were (or would be) changed, as C(Kind/namespace/name).
  returned: always
  type: list
  elements: str
notes:
  description: What the plan could not know.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.kubeboot.cluster.plugins.module_utils import options
from ansible_collections.kubeboot.cluster.plugins.module_utils.module_common import new_module, run_module
from ansible_collections.kubeboot.cluster.plugins.module_utils.upgrade import run_upgrade


def main() -> None:
    run_module(new_module(options.UPGRADE), run_upgrade)


if __name__ == "__main__":
    main()
