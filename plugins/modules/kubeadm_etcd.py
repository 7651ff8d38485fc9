#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: kubeadm_etcd
short_description: Member list, health, snapshot, restore, defrag and member removal of a kubeadm stacked etcd
version_added: 0.1.0
description:
  - What kubespray and k0sctl users do with C(etcdctl), natively - real etcd through its v3 JSON gateway with the
    node's C(etcd-healthcheck-client) (or C(apiserver-etcd-client)) certificate from O(cert_dir).
  - O(endpoints) default to this node's member (the advertise-client-urls of C(/etc/kubernetes/manifests/etcd.yaml));
    O(action=health) and O(action=defrag) then cover every member of the member list.
  - O(action=snapshot) streams C(/v3/maintenance/snapshot) into a temporary file beside O(path), checks it against
    the SHA-256 etcd appends, and renames it into place (mode 0600 - a snapshot holds every Secret of the cluster);
    RV(sha256) is the checksum of the file. An existing O(path) is kept unless O(force).
  - O(action=restore) restores O(path) into the new directory O(data_dir) the way etcd documents it - with
    C(etcdutl snapshot restore) (C(etcdctl) for etcd 3.4), the one program this module runs, because the restored
    data (a bbolt database with a new membership, a raft WAL and snapshot) has no Python writer; found on C(PATH)
    or given with O(etcdutl). The snapshot's checksum is verified first, the tool writes into a staging directory
    that becomes O(data_dir) only when it succeeded, and the local member must be stopped (its manifest moved out
    of the manifests directory) unless O(force). Then point the etcd manifest's C(etcd-data) volume at O(data_dir).
  - O(action=defrag) defragments member by member, followers first and the leader last, only members with at least
    O(defrag_min_free_bytes) to reclaim - a rerun does nothing.
  - O(action=member_remove) removes the member O(name) (e.g. of a control-plane node that is gone), never the last.
author: kubeboot developers (@kubeboot)
options:
  action:
    description: What to do.
    type: str
    choices: [member_list, health, snapshot, restore, defrag, member_remove]
    default: member_list
  endpoints:
    description: etcd client URLs (C(https://host:2379)); default this node's member.
    type: list
    elements: str
  cert_dir:
    description: The certificates directory holding C(etcd/ca.crt) and the client certificate.
    type: path
    default: /etc/kubernetes/pki
  identity:
    description: Which certificate of kubeadm's table authenticates to etcd.
    type: str
    choices: [etcd-healthcheck-client, apiserver-etcd-client]
    default: etcd-healthcheck-client
  path:
    description: The snapshot file (a path on the managed node) to write (O(action=snapshot)) or restore.
    type: path
  force:
    description:
      - O(action=snapshot) - replace an existing O(path). O(action=restore) - restore although the local member
        still answers.
    type: bool
    default: false
  data_dir:
    description: O(action=restore) - the new, empty or absent etcd data directory (host path under O(rootfs)).
    type: path
  name:
    description:
      - O(action=restore) - the member's name (default the etcd manifest's C(--name)).
      - O(action=member_remove) - the member to remove - its name, hex ID, or peer URL (a member added but never
        started has no name).
    type: str
  initial_cluster:
    description: O(action=restore) - C(--initial-cluster) (default C(<name>=<peer URL>), a one-member cluster).
    type: str
  initial_cluster_token:
    description: O(action=restore) - C(--initial-cluster-token) (default etcd's C(etcd-cluster)).
    type: str
  initial_advertise_peer_urls:
    description: O(action=restore) - the member's peer URL (default the manifest's C(--initial-advertise-peer-urls)).
    type: str
  etcdutl:
    description: O(action=restore) - path of C(etcdutl) (or C(etcdctl) of etcd 3.4); default found on C(PATH).
    type: path
  defrag_min_free_bytes:
    description: O(action=defrag) - defragment only members with at least this many bytes to reclaim.
    type: int
    default: 1048576
  timeout:
    description: Seconds to retry a busy or unreachable etcd (and the bound of a snapshot, defrag or restore).
    type: int
    default: 120
  rootfs:
    description: Prefix for the node's tree (certificates, the etcd manifest, O(data_dir)); O(path) is not prefixed.
    type: path
    default: /
attributes:
  check_mode:
    support: full
    description:
      - member_list and health change nothing. snapshot, restore, defrag and member_remove read etcd (status,
        member list) and verify the snapshot file, and say what they would do; nothing is written or sent.
  diff_mode:
    support: full
    description: The snapshot file or data directory written, the member removed (never any content).
seealso:
  - module: kubeboot.cluster.kubeadm_reset
"""

EXAMPLES = r"""
- name: Who is in the etcd cluster?
  kubeboot.cluster.kubeadm_etcd:
    action: member_list
  register: etcd

- name: Back up etcd (run on a control-plane node)
  kubeboot.cluster.kubeadm_etcd:
    action: snapshot
    path: "/var/backups/etcd-{{ ansible_date_time.iso8601_basic_short }}.db"
  register: backup

- name: Restore it into a new data dir (the etcd manifest moved out first)
  kubeboot.cluster.kubeadm_etcd:
    action: restore
    path: /var/backups/etcd-20260101T000000.db
    data_dir: /var/lib/etcd-restored

- name: Defragment members with more than 64 MiB to reclaim
  kubeboot.cluster.kubeadm_etcd:
    action: defrag
    defrag_min_free_bytes: 67108864

- name: Remove the member of a control-plane node that is gone
  kubeboot.cluster.kubeadm_etcd:
    action: member_remove
    name: cp3
"""

RETURN = r"""
members:
  description: The members (id in hex, name, peer_urls, client_urls, is_learner) - after a removal, those left.
  returned: action is member_list or member_remove
  type: list
  elements: dict
healthy:
  description: Whether every member answered a serializable read.
  returned: action is health
  type: bool
endpoints:
  description: Per member - endpoint, healthy, version, db_size, db_size_in_use, leader, revision; for defrag also
    free and defragmented.
  returned: action is health or defrag
  type: list
  elements: dict
path:
  description: The snapshot file.
  returned: action is snapshot
  type: str
sha256:
  description: SHA-256 of the snapshot file.
  returned: action is snapshot (not in check mode)
  type: str
size:
  description: Bytes of the snapshot file.
  returned: action is snapshot (not in check mode)
  type: int
etcd_hash_ok:
  description: Whether the file's last 32 bytes are the SHA-256 of the rest (etcd's integrity check).
  returned: action is snapshot (not in check mode)
  type: bool
revision:
  description: The etcd revision of the member when the snapshot was taken.
  returned: action is snapshot
  type: int
data_dir:
  description: The restored data directory.
  returned: action is restore
  type: str
restored:
  description: Whether the data was (or, false in check mode, would be) restored now.
  returned: action is restore
  type: bool
snapshot_sha256:
  description: SHA-256 of the restored snapshot file.
  returned: action is restore
  type: str
tool:
  description: The restore program used.
  returned: action is restore
  type: str
removed:
  description: Whether the member was (or would be) removed.
  returned: action is member_remove
  type: bool
changed_objects:
  description: C(EtcdMember/<name>) when a member is removed.
  returned: success
  type: list
  elements: str
changed_files:
  description: The snapshot file or data directory written.
  returned: success
  type: list
  elements: str
notes:
  description: Why nothing was done (an existing snapshot kept, a data dir not empty).
  returned: success
  type: list
  elements: str
"""

from ansible_collections.kubeboot.cluster.plugins.module_utils import options
from ansible_collections.kubeboot.cluster.plugins.module_utils.etcdcmd import run_etcd
from ansible_collections.kubeboot.cluster.plugins.module_utils.module_common import new_module, run_module


def main() -> None:
    # the argument spec is this module's rows of the option table (module_utils/options.py)
    required_if = [("action", "snapshot", ("path",)),
                   ("action", "restore", ("path", "data_dir")),
                   ("action", "member_remove", ("name",))]
    run_module(new_module(options.ETCD, required_if=required_if), run_etcd)


if __name__ == "__main__":
    main()
