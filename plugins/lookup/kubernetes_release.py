# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: kubernetes_release
short_description: What a Kubernetes version or label resolves to, offline, from the collection's version table
version_added: 0.2.0
description:
  - Resolves C(stable-1.36), C(v1.36.3), C(latest) ... the way M(kubeboot.cluster.kubeadm_init) does (no network),
    and returns the version, its minor, the package version and the images kubeadm deploys for it, so roles
    (container runtime sandbox image, kubelet packages, image pre-pulls) use the same table as the modules.
author: kubeboot developers (@kubeboot)
options:
  _terms:
    description: One version or label.
    required: true
    type: list
    elements: str
  image_repository:
    description: Registry of the images (C(registry.k8s.io) by default; e.g. C(registry.aliyuncs.com/google_containers)).
    type: str
    default: registry.k8s.io
"""

EXAMPLES = r"""
- name: The pause image containerd must use as sandbox image
  ansible.builtin.debug:
    msg: "{{ lookup('kubeboot.cluster.kubernetes_release', 'stable-1.36').images.pause }}"
"""

RETURN = r"""
_raw:
  description: One dict per term.
  type: list
  elements: dict
  contains:
    version:
      description: The resolved version.
      type: str
      sample: v1.36.3
    minor:
      description: The minor as a number.
      type: int
      sample: 36
    package_version:
      description: The version without the leading C(v), as the packages name it.
      type: str
      sample: 1.36.3
    repository_minor:
      description: The pkgs.k8s.io repository of the minor.
      type: str
      sample: v1.36
    images:
      description: Image per component (kube-apiserver ... etcd, coredns, pause).
      type: dict
"""

from ansible.errors import AnsibleError
from ansible.plugins.lookup import LookupBase

from ansible_collections.kubeboot.cluster.plugins.module_utils import config as config_mod
from ansible_collections.kubeboot.cluster.plugins.module_utils import versions
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import KubebootError


def release(label: str, image_repository: str) -> dict:
    version = versions.resolve_version(label)
    cfg = config_mod.sample_init_config(version=version,
                                        paths={"cluster.imageRepository": image_repository})
    return {"version": version, "minor": cfg.minor, "package_version": version.lstrip("v"),
            "repository_minor": "v1.%d" % cfg.minor, "images": versions.images(cfg)}


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        try:
            return [release(str(term), self.get_option("image_repository")) for term in terms]
        except KubebootError as exc:
            raise AnsibleError(f"kubernetes_release: {exc}") from None
