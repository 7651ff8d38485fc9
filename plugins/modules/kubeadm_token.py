#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: kubeadm_token
short_description: Create or delete bootstrap tokens, like C(kubeadm token create|delete)
version_added: 0.1.0
description:
  - Manages C(kube-system/bootstrap-token-<id>) Secrets exactly as kubeadm writes them
    (type C(bootstrap.kubernetes.io/token); C(token-id), C(token-secret), C(expiration), C(usage-bootstrap-*),
    C(auth-extra-groups), C(description)).
  - Idempotent - a given O(token) that already exists with the same usages, groups, description and TTL kind
    (expiring or not) and is not expired is left alone; its expiration is not pushed back.
  - Without O(token), an existing unexpired token with the same settings and at least half of O(ttl) left is
    reused (C(changed=false)); set O(reuse=false) to always create a new one, like C(kubeadm token create).
  - With O(print_join_command=true) returns RV(join_command), byte for byte what
    C(kubeadm token create --print-join-command) prints (without the final newline).
author: kubeboot developers (@kubeboot)
extends_documentation_fragment:
  - kubeboot.cluster.api
options:
  state:
    description: C(present) creates the token, C(absent) deletes it (by id or full token).
    type: str
    choices: [present, absent]
    default: present
  token:
    description:
      - The token, C([a-z0-9]{6}.[a-z0-9]{16}). Generated with a CSPRNG when omitted (state C(present)).
      - With O(state=absent) either the 6-character token id or the full token.
      - Ansible hides the value of this option everywhere in the result, so when you pass it the returned
        RV(token) and RV(join_command) show it as C(********); omit it to get a generated token back in clear.
    type: str
  ttl:
    description:
      - Lifetime as a Go duration (C(24h0m0s), C(2h), C(30m)). C(0) means the token never expires.
    type: str
    default: 24h0m0s
  usages:
    description: Ways the token may be used.
    type: list
    elements: str
    choices: [signing, authentication]
    default: [signing, authentication]
  groups:
    description:
      - Extra groups the token authenticates as; each must match C(system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]).
    type: list
    elements: str
    default: [system:bootstrappers:kubeadm:default-node-token]
  description:
    description: Human-readable description stored in the Secret.
    type: str
    default: ''
  reuse:
    description: Reuse an existing matching token when O(token) is omitted (see above).
    type: bool
    default: true
  print_join_command:
    description: Return RV(join_command) for the token (server and CA pins from O(kubeconfig)).
    type: bool
    default: false
  certificate_key:
    description:
      - With O(print_join_command), make it the control-plane join command with
        C(--control-plane --certificate-key <key>) (kubeadm's C(--certificate-key)).
      - Only allowed together with O(print_join_command), as in kubeadm.
    type: str
attributes:
  check_mode:
    support: full
    description: Nothing is created or deleted; the result says whether it would be.
  diff_mode:
    support: full
    description: Shows the token ids before and after; never a token secret.
notes:
  - Token secrets are never logged by the module; only the RV(token) and RV(join_command) you asked for are returned.
seealso:
  - module: kubeboot.cluster.kubeadm_token_info
  - plugin: kubeboot.cluster.bootstrap_token
    plugin_type: lookup
"""

EXAMPLES = r"""
- name: Get a join command for workers (reuses a matching valid token)
  kubeboot.cluster.kubeadm_token:
    print_join_command: true
  register: join
  no_log: true

- name: Join a worker
  ansible.builtin.command: "{{ join.join_command }}"
  delegate_to: worker1
  no_log: true

- name: A token that never expires, for authentication only
  kubeboot.cluster.kubeadm_token:
    token: "{{ lookup('kubeboot.cluster.bootstrap_token') }}"
    ttl: "0"
    usages: [authentication]
    description: long-lived CI token

- name: Delete a token by id
  kubeboot.cluster.kubeadm_token:
    token: abcdef
    state: absent
"""

RETURN = r"""
token:
  description: The token (C(<id>.<secret>)). Not returned in check mode for a token that would be generated.
  returned: state=present
  type: str
  sample: abcdef.0123456789abcdef
token_id:
  description: The token id (public part).
  returned: always
  type: str
  sample: abcdef
changed_objects:
  description: The token Secret that was (or in check mode would be) created or deleted, as C(Secret/kube-system/<name>).
  returned: always
  type: list
  elements: str
join:
  description:
    - The join command's facts, structured for M(kubeboot.cluster.kubeadm_join) - C(api_server_endpoint),
      C(token), C(discovery_token_ca_cert_hash) (a list), and with O(certificate_key) also C(control_plane)
      and C(certificate_key).
  returned: when print_join_command is true and a token exists
  type: dict
  sample: {"api_server_endpoint": "10.0.0.10:6443", "token": "abcdef.0123456789abcdef",
           "discovery_token_ca_cert_hash": ["sha256:345959acb2c3b2feb87d281961c893f62a314207ef02599f1cc4a5fb255480b3"]}
join_command:
  description: C(kubeadm token create --print-join-command) output, one line (note the trailing space of the worker form).
  returned: print_join_command and a token exists
  type: str
  sample: "kubeadm join 10.0.0.1:6443 --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash sha256:8f0c... "
"""

from ansible_collections.kubeboot.cluster.plugins.module_utils import options
from ansible_collections.kubeboot.cluster.plugins.module_utils.module_common import new_module, run_module
from ansible_collections.kubeboot.cluster.plugins.module_utils.tokencmd import run_token


def main() -> None:
    # the argument spec is this module's rows of the option table (module_utils/options.py)
    run_module(new_module(options.TOKEN, required_if=[("state", "absent", ("token",))]), run_token)


if __name__ == "__main__":
    main()
