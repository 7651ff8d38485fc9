# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: setting
short_description: A cluster-wide setting of the kubeboot.cluster roles, read from kubeboot or kubespray variables
version_added: 0.2.0
description:
  - Returns the setting from its C(kubeboot_*) variable, else from the kubespray variable of the same meaning
    (C(kube_version), C(kube_pods_subnet), C(kube_service_addresses), C(kube_image_repo), C(kube_network_plugin),
    C(container_manager), C(apiserver_loadbalancer_domain_name), C(supplementary_addresses_in_ssl_keys), C(ip),
    C(access_ip), ...), else the default. The roles' defaults are built from it, so a kubespray inventory works
    as is.
  - Both variables set to different values, or a value the collection does not support, is an error that names
    the variable, the value and what is allowed. The table is in docs/kubespray.md.
author: kubeboot developers (@kubeboot)
options:
  _terms:
    description: Setting names (C(kubernetes_version), C(pod_network_cidr), C(cni_plugin), ...).
    required: true
    type: list
    elements: str
"""

EXAMPLES = r"""
- name: The CNI the cluster uses (kubeboot_cni_plugin, or kubespray's kube_network_plugin)
  ansible.builtin.debug:
    msg: "{{ lookup('kubeboot.cluster.setting', 'cni_plugin') }}"
"""

RETURN = r"""
_raw:
  description: One value per setting name.
  type: list
  elements: raw
"""

from ansible.errors import AnsibleError
from ansible.plugins.lookup import LookupBase

from ansible_collections.kubeboot.cluster.plugins.module_utils import settings
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import KubebootError


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        variables = variables or {}
        out = []
        for term in terms:
            setting = settings.BY_NAME.get(str(term))
            names = [setting.variable, setting.alias] if setting else []
            try:
                plain = {name: self._templar.template(variables[name]) for name in names
                         if name and name in variables}
                out.append(settings.resolve(str(term), plain))
            except KubebootError as exc:
                raise AnsibleError(f"kubeboot.cluster setting {term}: {exc}") from None
        return out
