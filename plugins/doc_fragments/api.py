# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options of the modules that talk to the Kubernetes API with a kubeconfig."""
from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Kubeconfig (host path on the managed node) used to reach the API server, like kubeadm's C(--kubeconfig).
      - Its current context is used - client certificate/key (inline or files), bearer token or token file,
        CA (inline or file) and server. Inline keys are handed to TLS through a private temporary directory
        that is removed right after loading; nothing stays on disk.
    type: path
    default: /etc/kubernetes/admin.conf
  rootfs:
    description:
      - Prefix for host paths read by the module (the kubeconfig and the files it names).
    type: path
    default: /
  api_timeout:
    description:
      - Seconds to keep retrying API calls on refused connections, HTTP 429 and 5xx answers.
    type: int
    default: 60
"""
