#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: kubeadm_token_info
short_description: List bootstrap tokens, like C(kubeadm token list)
version_added: 0.1.0
description:
  - Reads the C(bootstrap.kubernetes.io/token) Secrets of C(kube-system) and returns kubeadm's columns
    (TOKEN, TTL, EXPIRES, USAGES, DESCRIPTION, EXTRA GROUPS) as data, plus RV(table), the text
    C(kubeadm token list) prints.
  - Like kubeadm, expired tokens are listed (TTL C(<invalid>)) until the token cleaner removes them;
    they are marked with RV(tokens[].expired=true).
  - The secret half of each token is replaced by C(****************) unless O(include_secrets=true).
author: kubeboot developers (@kubeboot)
extends_documentation_fragment:
  - kubeboot.cluster.api
options:
  include_secrets:
    description: Return full tokens (then RV(table) is exactly kubeadm's output).
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Read-only module.
  diff_mode:
    support: N/A
    description: An information module changes nothing.
seealso:
  - module: kubeboot.cluster.kubeadm_token
"""

EXAMPLES = r"""
- name: List tokens
  kubeboot.cluster.kubeadm_token_info:
  register: tokens

- name: Show them like kubeadm
  ansible.builtin.debug:
    msg: "{{ tokens.table }}"

- name: Ids of expired tokens
  ansible.builtin.debug:
    msg: "{{ tokens.tokens | selectattr('expired') | map(attribute='id') | list }}"
"""

RETURN = r"""
tokens:
  description: One entry per valid token Secret, in API order.
  returned: always
  type: list
  elements: dict
  contains:
    token:
      description: C(<id>.<secret>), the secret masked unless O(include_secrets).
      type: str
    id:
      description: Token id.
      type: str
    ttl:
      description: Time left as kubeadm shows it (C(23h), C(<forever>), C(<invalid>) when expired).
      type: str
    expires:
      description: RFC3339 expiration, or null for tokens that never expire.
      type: str
    usages:
      description: Usages, sorted.
      type: list
      elements: str
    groups:
      description: Extra groups.
      type: list
      elements: str
    description:
      description: Description (empty string if none).
      type: str
    expired:
      description: Whether the token has expired.
      type: bool
table:
  description: C(kubeadm token list) text output (empty when there are no tokens).
  returned: always
  type: str
  sample: "TOKEN                     TTL         EXPIRES                USAGES                   DESCRIPTION   EXTRA GROUPS\n\
    abcdef.****************   23h         2026-01-02T10:00:00Z   authentication,signing   <none>        \
    system:bootstrappers:kubeadm:default-node-token\n"
"""

from ansible_collections.kubeboot.cluster.plugins.module_utils import options
from ansible_collections.kubeboot.cluster.plugins.module_utils.module_common import new_module, run_module
from ansible_collections.kubeboot.cluster.plugins.module_utils.tokencmd import run_token_info


def main() -> None:
    # the argument spec is this module's rows of the option table (module_utils/options.py)
    run_module(new_module(options.TOKEN_INFO), run_token_info)


if __name__ == "__main__":
    main()
