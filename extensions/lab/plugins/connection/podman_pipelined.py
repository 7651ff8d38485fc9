# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's connection: containers.podman's podman connection with pipelining.

The upstream plugin disables pipelining because `podman exec` without `-i` does not pass stdin
to the command. With `-i` whenever Ansible sends data, a module runs in one `podman exec` instead
of four (mkdir, put, chmod, run, rm), which is most of a lab run's time.
"""
from __future__ import annotations

DOCUMENTATION = r"""
name: podman_pipelined
short_description: containers.podman.podman with pipelining (kubeboot lab only)
description:
  - Runs tasks in podman containers like C(containers.podman.podman), sending the module on stdin
    (C(podman exec -i)) when Ansible pipelines.
author: kubeboot developers (@kubeboot)
options:
  remote_addr:
    description: The container (its name).
    default: inventory_hostname
    vars:
      - name: ansible_host
      - name: inventory_hostname
  remote_user:
    description: User to run as inside the container (default the container's).
    vars:
      - name: ansible_user
  podman_extra_args:
    description: Extra arguments for the podman command line.
    default: ''
  podman_executable:
    description: The podman executable.
    default: podman
  pipelining:
    description: Send modules on stdin.
    type: bool
    default: true
    ini:
      - section: connection
        key: pipelining
    env:
      - name: ANSIBLE_PIPELINING
    vars:
      - name: ansible_pipelining
"""

import shlex

from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.connection import ensure_connect

from ansible_collections.containers.podman.plugins.connection.podman import Connection as PodmanConnection


class Connection(PodmanConnection):
    transport = "podman_pipelined"
    has_pipelining = True

    @ensure_connect
    def exec_command(self, cmd, in_data=None, sudoable=False):
        if in_data is None:
            return super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        args = ["exec", "-i"] + (["--user", self.user] if self.user else [])
        return self._podman(args, shlex.split(to_native(cmd, errors="surrogate_or_strict")), in_data)
