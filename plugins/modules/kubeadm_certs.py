#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: kubeadm_certs
short_description: Check, renew and prepare certificates, like C(kubeadm certs)
version_added: 0.1.0
description:
  - Always returns C(kubeadm certs check-expiration) - RV(table), byte for byte what kubeadm prints (the
    certificates, then the certificate authorities), and the same as data in RV(certificates) and
    RV(certificate_authorities). The certificates embedded in C(admin.conf), C(super-admin.conf),
    C(controller-manager.conf) and C(scheduler.conf) are listed; C(kubelet.conf) is not (the kubelet rotates
    its own certificate), as in kubeadm.
  - O(renew) is C(kubeadm certs renew) - C(all) or kubeadm's names. Each renewed certificate keeps what the
    existing one says (CN, O, SANs, usages), is signed by the existing CA for the cluster's
    C(certificateValidityPeriod), and keeps its private key unless O(new_keys=true). CAs are never renewed.
    Without the CA key (external CA) a certificate is reported, not renewed.
  - O(renew_before) renews only what expires within that window, so a daily run (the
    C(kubeboot.cluster.certs_renewal) timer, C(playbooks/certs.yml)) renews once and then reports
    C(changed=false) until the next window.
  - Like kubeadm, the components must restart to use renewed files - kubeadm prints "You must restart the
    kube-apiserver, kube-controller-manager, kube-scheduler and etcd". With O(restart_static_pods=true) the
    module does it the way the kubelet allows for static Pods - it sets the annotation
    C(kubeboot.cluster/restartedAt) of each control-plane manifest in C(/etc/kubernetes/manifests) whose command
    names a renewed file, and the kubelet recreates that Pod. kubeadm_init and kubeadm_join keep the annotation
    when they render a manifest again.
  - The configuration is kubeadm's - O(config) if given, else the cluster's C(kube-system/kubeadm-config) read
    with O(kubeconfig) (one short try), else kubeadm's defaults; RV(config_source) says which.
  - O(generate_csr) is C(kubeadm certs generate-csr) for an external CA - a key and a CSR for every certificate
    (C(<cert_dir>/<name>.key) and C(.csr)) and for every kubeconfig (C(<kubeconfig_dir>/<file>) holding only the
    client key, and C(<file>.csr)). What exists and still fits (a matching CSR, or the signed certificate) is kept.
  - O(generate_certificate_key) is C(kubeadm certs certificate-key).
author: kubeboot developers (@kubeboot)
options:
  renew:
    description:
      - Certificates to renew - C(all), or kubeadm's names C(admin.conf), C(apiserver), C(apiserver-etcd-client),
        C(apiserver-kubelet-client), C(controller-manager.conf), C(etcd-healthcheck-client), C(etcd-peer),
        C(etcd-server), C(front-proxy-client), C(scheduler.conf), C(super-admin.conf) (no etcd ones with an
        external etcd).
      - Default none (only the report). With O(renew_before) alone, C(all).
    type: list
    elements: str
    default: []
  renew_before:
    description:
      - Renew only certificates that expire within this Go duration (C(720h) is 30 days). Must be shorter than
        C(certificateValidityPeriod).
    type: str
  new_keys:
    description: Give renewed certificates new private keys (kubeadm's behaviour) instead of keeping them.
    type: bool
    default: false
  restart_static_pods:
    description: Make the kubelet restart the control-plane static Pods that read a renewed file (see above).
    type: bool
    default: true
  generate_csr:
    description: Write keys and CSRs for an external CA (C(kubeadm certs generate-csr)); not with O(renew).
    type: bool
    default: false
  generate_certificate_key:
    description:
      - Return a new RV(certificate_key) (C(kubeadm certs certificate-key)) for C(upload_certs) of kubeadm_init.
      - The key decrypts the cluster's CA keys in C(kube-system/kubeadm-certs), so the task must have
        C(no_log=true) (the module refuses otherwise).
    type: bool
    default: false
  cert_dir:
    description: The certificates directory (kubeadm's C(--cert-dir)); default the configuration's C(certificatesDir).
    type: path
  kubeconfig_dir:
    description: Where O(generate_csr) writes the kubeconfig files and their CSRs (kubeadm's C(--kubeconfig-dir)).
    type: path
    default: /etc/kubernetes
  config:
    description:
      - A kubeadm configuration file on the managed node (its ClusterConfiguration is used; with O(generate_csr)
        its InitConfiguration too, for the node's names and addresses).
    type: path
  kubeconfig:
    description: Kubeconfig used to read C(kube-system/kubeadm-config) when O(config) is not given.
    type: path
    default: /etc/kubernetes/admin.conf
  rootfs:
    description: Prefix for every host path the module reads or writes (paths inside files stay host paths).
    type: path
    default: /
attributes:
  check_mode:
    support: full
    description: Nothing is written; RV(renewed), RV(changed_files) and the report say what would be.
  diff_mode:
    support: full
    description: Certificates and manifests are shown; private keys and kubeconfigs never are.
notes:
  - "Run it on one control-plane node at a time (C(serial=1)): renewing etcd's certificates restarts etcd."
seealso:
  - module: kubeboot.cluster.kubeadm_init
  - module: kubeboot.cluster.kubeadm_kubeconfig
"""

EXAMPLES = r"""
- name: Check expiration (kubeadm certs check-expiration)
  kubeboot.cluster.kubeadm_certs:
  register: certs

- name: Show it as kubeadm prints it
  ansible.builtin.debug:
    msg: "{{ certs.table }}"

- name: Renew what expires within 30 days; the control-plane Pods restart with the new files
  kubeboot.cluster.kubeadm_certs:
    renew_before: 720h

- name: Renew everything now, with new keys (kubeadm certs renew all)
  kubeboot.cluster.kubeadm_certs:
    renew: [all]
    new_keys: true

- name: Keys and CSRs for an external CA
  kubeboot.cluster.kubeadm_certs:
    generate_csr: true
    config: /root/kubeadm.yaml

- name: A certificate key for upload_certs
  kubeboot.cluster.kubeadm_certs:
    generate_certificate_key: true
  register: key
  no_log: true
"""

RETURN = r"""
table:
  description: The text C(kubeadm certs check-expiration) prints (after any renewal of this run).
  returned: always
  type: str
certificates:
  description:
    - One entry per certificate, in kubeadm's order - C(name), C(path), C(missing), C(expiration_date) (RFC 3339),
      C(residual_time) (seconds, negative when expired), C(ca_name), C(externally_managed), C(serial) (hex, as
      C(openssl x509 -serial) prints it).
  returned: always
  type: list
  elements: dict
certificate_authorities:
  description: The CAs, with the same fields (no C(ca_name)).
  returned: always
  type: list
  elements: dict
renewed:
  description: Names of the certificates renewed (in check mode, that would be).
  returned: when renewing
  type: list
  elements: str
renewal:
  description:
    - Per certificate asked for - C(action) C(renewed), C(valid) (outside O(renew_before)), C(missing) or
      C(external) (no CA key), with C(reason), C(serial) and C(previous_serial), C(key) (C(kept) or C(new)).
  returned: when renewing
  type: list
  elements: dict
restarted:
  description: Control-plane static Pods whose restart annotation was set.
  returned: when renewing
  type: list
  elements: str
csr:
  description: Per certificate and kubeconfig - C(name), C(csr), C(key) (the file holding the key), C(action)
    (C(created), C(updated) or C(kept)).
  returned: generate_csr
  type: list
  elements: dict
certificate_key:
  description: A new certificate key (64 hex characters).
  returned: generate_certificate_key
  type: str
config_source:
  description: Where the configuration came from - C(config), C(cluster) or C(defaults).
  returned: always
  type: str
cert_dir:
  description: The certificates directory used.
  returned: always
  type: str
changed_files:
  description: Host paths written (in check mode, that would be).
  returned: always
  type: list
  elements: str
"""

from ansible_collections.kubeboot.cluster.plugins.module_utils import options
from ansible_collections.kubeboot.cluster.plugins.module_utils.certscmd import run_certs
from ansible_collections.kubeboot.cluster.plugins.module_utils.module_common import new_module, run_module


def main() -> None:
    # the argument spec is this module's rows of the option table (module_utils/options.py)
    module = new_module(options.CERTS)
    run_module(module, lambda params, check_mode: run_certs(params, check_mode, no_log=module.no_log))


if __name__ == "__main__":
    main()
