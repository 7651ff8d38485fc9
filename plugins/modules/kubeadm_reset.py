#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: kubeadm_reset
short_description: Undo what kubeadm_init or kubeadm_join did on a node, like C(kubeadm reset)
version_added: 0.1.0
description:
  - Runs kubeadm's C(reset) phases - C(preflight), C(remove-etcd-member), C(cleanup-node) - and, before etcd
    goes, C(delete-node), the deletion of this node's Node object that kubeadm leaves to C(kubectl delete node).
  - C(preflight) reads everything the other phases need while it is still there (this node's credentials and
    name, its stacked etcd member and the cluster's member list) and refuses, before any change, to reset the
    last member of an etcd cluster or a member it cannot remove because etcd does not answer, unless O(force).
    Unlike kubeadm, whose C(force) only skips its prompt (a module never prompts), O(force) here means "go ahead
    where data would be lost".
  - C(delete-node) deletes the Node with O(kubeconfig), else C(/etc/kubernetes/admin.conf), else the kubelet's
    C(kubelet.conf) (a kubelet may delete its own Node); when no API server answers or the identity is not
    allowed, the Node is left and RV(left_to_user) says so.
  - C(remove-etcd-member) removes this node's member from the stacked etcd cluster (never the last one, as
    kubeadm), removes the etcd manifest so the kubelet stops etcd, waits until the member no longer answers, then
    removes the etcd data directory (the C(etcd-data) volume of the manifest).
  - C(cleanup-node) removes the static Pod manifests and waits for the kubelet to stop those Pods, stops the
    kubelet (C(systemctl stop kubelet), only on the real root, never in check mode), removes the CRI's pod
    sandboxes with C(crictl) when it is installed (as kubeadm does), then removes exactly the files init and join
    write, named by kubeadm's tables - the component manifests, the kubeconfig files, the certificates and keys of
    the certificate table, the kubelet's C(config.yaml), C(instance-config.yaml), C(kubeadm-flags.env) and
    C(/var/lib/kubelet/pki). Anything else in C(/etc/kubernetes) (a user's file) is kept and listed in RV(kept);
    symbolic links are removed, never followed, and under O(rootfs) nothing resolves outside the tree.
  - Like kubeadm, iptables/IPVS rules, C(/etc/cni/net.d) and C($HOME/.kube/config) are left to the user
    (RV(left_to_user)); O(cleanup_cni) and O(cleanup_iptables) remove what the CNI and kube-proxy made, and only that.
  - Idempotent - a second reset finds nothing to remove and reports C(changed=false).
author: kubeboot developers (@kubeboot)
options:
  config:
    description:
      - Path (on the managed node) to a kubeadm configuration file with a C(kubeadm.k8s.io/v1beta4)
        C(ResetConfiguration) (other kinds in the file are ignored with a warning).
      - Module options override its values (with a warning when they differ).
    type: path
  cert_dir:
    description:
      - The certificates directory whose kubeadm files are removed (C(certificatesDir)); default
        C(/etc/kubernetes/pki). A non-default directory gets kubeadm's warning.
    type: str
  cri_socket:
    description:
      - CRI endpoint whose pod sandboxes C(crictl) removes (C(criSocket)); default
        C(unix:///var/run/containerd/containerd.sock).
    type: str
  cleanup_tmp_dir:
    description: Also remove C(/etc/kubernetes/tmp), where upgrades keep their backups (C(cleanupTmpDir)).
    type: bool
  force:
    description:
      - Reset even when data would be lost (C(force)) - the last member of an etcd cluster (its data is the
        cluster's only copy), or a member that cannot be removed from its cluster because etcd does not answer
        (it then stays in the member list; remove it with M(kubeboot.cluster.kubeadm_etcd) C(action=member_remove)).
    type: bool
  dry_run:
    description: kubeadm's C(dryRun) - say what would be done and do nothing, as check mode does.
    type: bool
  ignore_preflight_errors:
    description: Preflight checks whose errors become warnings (C(IsPrivilegedUser)), or C(all).
    type: list
    elements: str
  skip_phases:
    description:
      - Phases to skip - C(delete-node), C(remove-etcd-member), C(cleanup-node). C(preflight) cannot be skipped
        (it reads what the other phases need and refuses what would lose data).
    type: list
    elements: str
  node_name:
    description:
      - The Node (and etcd member) this node is; default the kubelet's client certificate
        (C(system:node:<name>)), else the etcd member's name, else C(--hostname-override), else the hostname.
    type: str
  kubeconfig:
    description:
      - Kubeconfig (host path on the node) for deleting the Node object; default C(/etc/kubernetes/admin.conf),
        else C(/etc/kubernetes/kubelet.conf).
    type: path
  cleanup_cni:
    description:
      - Also remove the files of the CNI plugins the collection installs (flannel - C(10-flannel.conflist),
        C(/run/flannel), its IPAM state; calico - C(10-calico.conflist), C(calico-kubeconfig), C(/var/lib/calico)).
        Other files in C(/etc/cni/net.d) (e.g. podman's) are never touched.
    type: bool
    default: false
  cleanup_iptables:
    description:
      - Also remove the packet-filter state of kube-proxy and the CNI - the iptables/ip6tables chains named
        C(KUBE-*), C(CNI-*), C(FLANNEL-*), C(cali-*), the rules jumping to them, and kube-proxy's nftables tables.
      - Never flushes a built-in chain, never changes a policy, never touches another rule (your SSH rules stay).
        Only on the real root (not under O(rootfs)).
    type: bool
    default: false
  rootfs:
    description:
      - Prefix for every host path the module reads or removes. Under a prefix other than C(/), the running
        system (kubelet service, containers, iptables) is not touched.
    type: path
    default: /
attributes:
  check_mode:
    support: full
    description:
      - Nothing is removed, stopped or sent; the result lists what would be removed (RV(changed_files)), deleted
        in the cluster (RV(changed_objects)) and stopped or cleaned (RV(changed_actions)). etcd is only asked for
        its member list.
  diff_mode:
    support: full
    description:
      - One entry per removed file (certificates and manifests with their content, keys and kubeconfigs as a
        placeholder, directories summarised), the Node object and the etcd member.
seealso:
  - module: kubeboot.cluster.kubeadm_init
  - module: kubeboot.cluster.kubeadm_join
  - module: kubeboot.cluster.kubeadm_etcd
  - module: kubeboot.cluster.kube_node
"""

EXAMPLES = r"""
- name: Reset a worker (its Node is deleted with its own kubelet credentials)
  kubeboot.cluster.kubeadm_reset:

- name: Reset the last control-plane node of a cluster (its etcd holds the cluster's only data)
  kubeboot.cluster.kubeadm_reset:
    force: true

- name: What would a reset remove?
  kubeboot.cluster.kubeadm_reset:
  check_mode: true
  register: plan

- name: Also clean kube-proxy's iptables chains and the CNI configuration
  kubeboot.cluster.kubeadm_reset:
    cleanup_iptables: true
    cleanup_cni: true

- name: With a kubeadm ResetConfiguration
  kubeboot.cluster.kubeadm_reset:
    config: /root/reset.yaml
"""

RETURN = r"""
node_name:
  description: The Node (and etcd member) name this reset acted for.
  returned: success
  type: str
removed:
  description: Host paths removed (or in check mode to be removed), in order.
  returned: success
  type: list
  elements: str
kept:
  description: Files in kubeadm's directories that init and join did not write, left in place.
  returned: success
  type: list
  elements: str
left_to_user:
  description:
    - What this reset did not clean, as kubeadm reset prints it (iptables/IPVS, the CNI configuration,
      $HOME/.kube/config), plus what could not be done here (the Node object, containers without crictl).
  returned: success
  type: list
  elements: dict
node:
  description: The Node object - name, deleted, credentials used, or why it was not deleted.
  returned: success
  type: dict
etcd:
  description:
    - This node's etcd member - member, peer_url, last_member, removed_from_cluster, members (after),
      data_dir, data_dir_removed; or skipped (no local etcd).
  returned: success
  type: dict
kubelet_service:
  description: Whether the kubelet was (or would be) stopped, and why.
  returned: success
  type: dict
pod_sandboxes:
  description: The CRI pod sandboxes removed with crictl (ids), or why none were.
  returned: success
  type: dict
cni:
  description: Paths removed by O(cleanup_cni).
  returned: success
  type: list
  elements: str
iptables:
  description: What O(cleanup_iptables) changed (C(changes), one iptables/nft command each).
  returned: success
  type: dict
phases:
  description: Leaf phases that ran and that were skipped.
  returned: success
  type: dict
preflight:
  description: Warnings and ignored errors of the preflight checks.
  returned: success
  type: dict
changed_files:
  description: Host paths that were (or would be) removed.
  returned: success
  type: list
  elements: str
changed_objects:
  description: The Node (C(Node/<name>)) and the etcd member (C(EtcdMember/<name>)) removed from the cluster.
  returned: success
  type: list
  elements: str
changed_actions:
  description: Other changes of the node (pod sandboxes removed, iptables chains removed).
  returned: success
  type: list
  elements: str
notes:
  description: What could not be done or known (no API server, etcd not reachable, the last member kept).
  returned: success
  type: list
  elements: str
"""

from ansible_collections.kubeboot.cluster.plugins.module_utils import options
from ansible_collections.kubeboot.cluster.plugins.module_utils.module_common import new_module, run_module
from ansible_collections.kubeboot.cluster.plugins.module_utils.reset import run_reset


def main() -> None:
    # the argument spec is this module's rows of the option table (module_utils/options.py)
    run_module(new_module(options.RESET), run_reset)


if __name__ == "__main__":
    main()
