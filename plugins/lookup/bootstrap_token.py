# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: bootstrap_token
short_description: Generate a random bootstrap token, like C(kubeadm token generate)
version_added: 0.1.0
description:
  - Returns a new random token C([a-z0-9]{6}.[a-z0-9]{16}) drawn from a CSPRNG with kubeadm's algorithm
    (rejection sampling, 36-character alphabet). Nothing is stored and no API is called.
  - Each call returns a new token; store it (e.g. with M(ansible.builtin.set_fact)) to use it twice.
author: kubeboot developers (@kubeboot)
options:
  count:
    description: How many tokens to return (the lookup returns a list of that length).
    type: int
    default: 1
"""

EXAMPLES = r"""
- name: Create a token with a value chosen in the play
  kubeboot.cluster.kubeadm_token:
    token: "{{ my_token }}"
  vars:
    my_token: "{{ lookup('kubeboot.cluster.bootstrap_token') }}"

- name: Three tokens
  ansible.builtin.set_fact:
    tokens: "{{ query('kubeboot.cluster.bootstrap_token', count=3) }}"
  no_log: true
"""

RETURN = r"""
_raw:
  description: The generated token(s).
  type: list
  elements: str
"""

from ansible.errors import AnsibleError
from ansible.plugins.lookup import LookupBase

from ansible_collections.kubeboot.cluster.plugins.module_utils.tokens import generate_token


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        count = self.get_option("count")
        if count < 1:
            raise AnsibleError(f"bootstrap_token: count must be at least 1, got {count}")
        return [generate_token() for _unused in range(count)]
