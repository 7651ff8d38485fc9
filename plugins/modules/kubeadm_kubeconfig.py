#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: kubeadm_kubeconfig
short_description: A kubeconfig for another user, like C(kubeadm kubeconfig user)
version_added: 0.1.0
description:
  - Makes a kubeconfig for O(client_name) with a client certificate signed by the cluster CA (CN = O(client_name),
    O = O(org), for O(validity_period)), or with O(token) instead of a certificate. What the user may do is up to
    RBAC - bind the user or its groups to roles.
  - The server is kubeadm's - C(controlPlaneEndpoint), else C(localAPIEndpoint), of O(config); without O(config),
    the server of this node's C(/etc/kubernetes/admin.conf) (written by kubeadm_init from the same fields).
  - Written to O(path) (mode 0600) - kept as it is while it still fits (same user, groups, server, CA,
    O(validity_period), not expired), so a rerun reports C(changed=false); remove the file to get a new certificate.
  - Without O(path) the kubeconfig is returned in RV(kubeconfig). It holds a private key (or the token), so the task
    must have C(no_log=true); the module refuses otherwise.
author: kubeboot developers (@kubeboot)
options:
  client_name:
    description: The user name (kubeadm's C(--client-name)), the CN of the client certificate.
    type: str
    required: true
  org:
    description: The groups (kubeadm's C(--org)), the O of the client certificate. Not with O(token).
    type: list
    elements: str
    default: []
    aliases: [groups]
  token:
    description:
      - Use this bearer token instead of a client certificate (kubeadm's C(--token)), for example a bootstrap token
        from kubeboot.cluster.kubeadm_token. The CA key is not needed then.
    type: str
  validity_period:
    description: Lifetime of the client certificate as a Go duration (kubeadm's C(--validity-period)).
    type: str
    default: 8760h0m0s
  path:
    description: Where to write the kubeconfig on the managed node (0600). Without it, RV(kubeconfig) is returned.
    type: path
  config:
    description: A kubeadm configuration file on the managed node (server, cluster name, C(certificatesDir)).
    type: path
  cert_dir:
    description: Directory of the cluster CA (C(ca.crt), C(ca.key)); default the configuration's C(certificatesDir).
    type: path
  rootfs:
    description: Prefix for the host paths the module reads and writes.
    type: path
    default: /
attributes:
  check_mode:
    support: full
    description: Nothing is written; C(changed) says whether O(path) would be.
  diff_mode:
    support: full
    description: The file is named, its content (a key or token) never shown.
seealso:
  - module: kubeboot.cluster.kubeadm_certs
  - module: kubeboot.cluster.kubeadm_token
"""

EXAMPLES = r"""
- name: A kubeconfig for alice in group developers
  kubeboot.cluster.kubeadm_kubeconfig:
    client_name: alice
    org: [developers]
    validity_period: 720h
    path: /root/alice.conf

- name: Let the developers group read everything
  ansible.builtin.command: >-
    kubectl --kubeconfig /etc/kubernetes/admin.conf create clusterrolebinding developers-view
    --clusterrole=view --group=developers
  changed_when: true

- name: Returned instead of written (it holds a private key)
  kubeboot.cluster.kubeadm_kubeconfig:
    client_name: ci-bot
  register: ci
  no_log: true
"""

RETURN = r"""
kubeconfig:
  description: The kubeconfig (without O(path)).
  returned: when path is not set
  type: str
path:
  description: The file written (or kept).
  returned: when path is set
  type: str
server:
  description: The API server URL in the kubeconfig.
  returned: always
  type: str
server_from:
  description: Where the server came from - the config file, C(/etc/kubernetes/admin.conf) or C(defaults).
  returned: always
  type: str
client_name:
  description: The user.
  returned: always
  type: str
org:
  description: The groups.
  returned: always
  type: list
  elements: str
cluster_name:
  description: The cluster name in the kubeconfig.
  returned: always
  type: str
expiration_date:
  description: When the client certificate expires (RFC 3339).
  returned: without token
  type: str
"""

from ansible_collections.kubeboot.cluster.plugins.module_utils import options
from ansible_collections.kubeboot.cluster.plugins.module_utils.kubeconfigcmd import run_kubeconfig
from ansible_collections.kubeboot.cluster.plugins.module_utils.module_common import new_module, run_module


def main() -> None:
    # the argument spec is this module's rows of the option table (module_utils/options.py)
    module = new_module(options.KUBECONFIG)
    run_module(module, lambda params, check_mode: run_kubeconfig(params, check_mode, no_log=module.no_log))


if __name__ == "__main__":
    main()
