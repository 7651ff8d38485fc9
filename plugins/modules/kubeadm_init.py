#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: kubeadm_init
short_description: Initialise a Kubernetes control-plane node, like C(kubeadm init), natively in Python
version_added: 0.1.0
description:
  - Runs kubeadm's C(init) phases in one call - C(preflight), C(certs/*), C(kubeconfig/*), C(etcd/local),
    C(control-plane/*), C(kubelet-start), then the API phases C(wait-control-plane), C(upload-config/*),
    C(upload-certs), C(mark-control-plane), C(bootstrap-token), C(kubelet-finalize), C(addon/*).
  - Writes the same files, with the same names, subjects, modes and content, as real kubeadm of the
    target version (1.33 to 1.37), so kubeadm, kubectl, the kubelet and kube-apiserver accept them.
  - Idempotent - an existing CA or key is never regenerated; valid certificates and kubeconfigs are kept;
    only a leaf whose SANs changed is re-issued from the existing CA. A rerun reports C(changed=false).
  - Every file is written atomically (temporary file, fsync, rename) with kubeadm's modes.
  - Like kubeadm, the C(kubelet-start) phase ends with C(systemctl daemon-reload) and C(systemctl restart kubelet),
    but only when a file the kubelet reads changed or the kubelet is not running (a rerun restarts nothing), and
    never under O(rootfs) or in check mode. Without systemd or a C(kubelet.service) unit this is a warning.
author: kubeboot developers (@kubeboot)
extends_documentation_fragment:
  - kubeboot.cluster.common
  - kubeboot.cluster.common.patches
options:
  kubernetes_version:
    description:
      - Version or label - C(v1.34.2), C(stable), C(stable-1), C(stable-1.34), C(latest), C(latest-1.34).
      - Labels are resolved offline from the version table shipped with the collection (no network).
      - Default C(stable-1) (from the config file when O(config) sets it).
    type: str
  image_repository:
    description:
      - Registry the control-plane images are pulled from (e.g. C(registry.aliyuncs.com/google_containers)).
      - Default C(registry.k8s.io) (from the config file when O(config) sets it).
    type: str
  apiserver_advertise_address:
    description: IP address the API server advertises. Empty or C(0.0.0.0) means the address of the default-route interface.
    type: str
  apiserver_bind_port:
    description:
      - Port the API server listens on.
      - Default C(6443) (from the config file when O(config) sets it).
    type: int
  apiserver_cert_extra_sans:
    description: Extra Subject Alternative Names (IPs or DNS names) for the API server certificate.
    type: list
    elements: str
  cert_dir:
    description:
      - Where certificates are stored (host path).
      - Default C(/etc/kubernetes/pki) (from the config file when O(config) sets it).
    type: str
  control_plane_endpoint:
    description: Stable IP address or DNS name (optionally with port) for the control plane.
    type: str
  feature_gates:
    description: kubeadm feature gates, as a dict or a C(A=true,B=false) string. Unknown gates are an error.
    type: raw
  node_name:
    description: Node name. Defaults to the host name, lowercased.
    type: str
  pod_network_cidr:
    description: Pod network range. When set, the controller-manager allocates node CIDRs from it.
    type: str
  service_cidr:
    description:
      - Service virtual IP range.
      - Default C(10.96.0.0/12) (from the config file when O(config) sets it).
    type: str
  service_dns_domain:
    description:
      - Cluster DNS domain.
      - Default C(cluster.local) (from the config file when O(config) sets it).
    type: str
  skip_phases:
    description: Phases to skip, by kubeadm's names (C(certs), C(certs/apiserver), C(addon/kube-proxy), ...).
    type: list
    elements: str
  skip_token_print:
    description: Do not return the join command.
    type: bool
    default: false
  token:
    description:
      - Bootstrap token C([a-z0-9]{6}.[a-z0-9]{16}) for joining nodes. Generated when not given.
    type: str
  token_ttl:
    description:
      - Lifetime of the bootstrap token (Go duration); C(0) means it never expires.
      - Default C(24h0m0s) (from the config file when O(config) sets it).
    type: str
  upload_certs:
    description:
      - Upload the control-plane certificates to the C(kubeadm-certs) Secret, encrypted with O(certificate_key)
        (generated and returned when not given).
    type: bool
    default: false
  certificate_key:
    description: 64 hex characters (32 bytes) AES-GCM key for O(upload_certs).
    type: str
  encryption_algorithm:
    description: Key algorithm for every key the module creates.
    type: str
    choices: [RSA-2048, RSA-3072, RSA-4096, ECDSA-P256, ECDSA-P384]
  certificate_validity_period:
    description: Validity of leaf certificates (Go duration).
    type: str
  ca_certificate_validity_period:
    description: Validity of CA certificates (Go duration).
    type: str
notes:
  - Secrets (token, certificate key, private keys) are never shown in results or diffs, except the
    C(join_command) and C(certificate_key) the user asked for.
seealso:
  - module: kubeboot.cluster.kubeadm_join
  - module: kubeboot.cluster.kubeadm_token
"""

EXAMPLES = r"""
- name: Initialise the first control-plane node
  kubeboot.cluster.kubeadm_init:
    kubernetes_version: stable-1.34
    pod_network_cidr: 10.244.0.0/16
    control_plane_endpoint: k8s-api.example.com:6443
    apiserver_cert_extra_sans: [k8s-api.example.com, 203.0.113.10]
  register: init

- name: Show how to join
  ansible.builtin.debug:
    msg: "{{ init.join_command }}"

- name: Use a real kubeadm configuration file as is
  kubeboot.cluster.kubeadm_init:
    config: /etc/kubeadm/kubeadm.yaml

- name: Only the local files (no API server yet), into a directory tree
  kubeboot.cluster.kubeadm_init:
    rootfs: /tmp/node1
    apiserver_advertise_address: 192.0.2.10
    node_name: cp1
    skip_phases: [wait-control-plane, upload-config, upload-certs, mark-control-plane,
                  bootstrap-token, kubelet-finalize, addon, show-join-command]
"""

RETURN = r"""
patches:
  description: The patches directory, its patch files in the order they apply, the files ignored, and each patch applied.
  returned: when a patches directory is configured
  type: dict
  sample: {"directory": "/etc/kubeadm/patches", "files": ["kube-apiserver+merge.yaml"], "ignored": ["README"],
           "applied": ["kube-apiserver+merge.yaml: merge patch to kube-apiserver"]}
kubernetes_version:
  description: The resolved Kubernetes version.
  returned: always
  type: str
  sample: v1.34.10
ca_cert_hash:
  description: SHA-256 pin of the cluster CA's public key (RFC 7469), for C(discovery_token_ca_cert_hash).
  returned: when the CA exists (not for a new CA in check mode)
  type: str
  sample: sha256:345959acb2c3b2feb87d281961c893f62a314207ef02599f1cc4a5fb255480b3
certificates:
  description: One entry per certificate or key pair of the certs phase.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "apiserver", "path": "/etc/kubernetes/pki/apiserver.crt", "expires": "2027-11-26T12:00:00Z",
            "changed": true, "action": "created"}]
kubeconfigs:
  description: One entry per kubeconfig file (name, path, expires, changed, action).
  returned: always
  type: list
  elements: dict
manifests:
  description: Static pod manifests written or kept (name, path, changed).
  returned: always
  type: list
  elements: dict
kubelet_files:
  description: Kubelet files written or kept (path, changed).
  returned: always
  type: list
  elements: dict
phases:
  description: Leaf phases that ran and that were skipped, by kubeadm's names.
  returned: always
  type: dict
  sample: {"run": ["preflight", "certs/ca"], "skipped": ["addon/kube-proxy"]}
preflight:
  description: Warnings and ignored errors of the preflight checks.
  returned: always
  type: dict
api:
  description: Per API phase result (changed, objects).
  returned: always
  type: dict
join_command:
  description: C(kubeadm join ...) line for worker nodes (contains the bootstrap token).
  returned: when the bootstrap-token phase ran and skip_token_print is false
  type: str
join:
  description: The join facts as data (C(api_server_endpoint), C(token), C(discovery_token_ca_cert_hash)),
    ready to pass to M(kubeboot.cluster.kubeadm_join).
  returned: when join_command is returned
  type: dict
certificate_key:
  description: Key protecting the uploaded certificates (for control-plane join).
  returned: when upload_certs is true
  type: str
dry_run_dir:
  description: Directory the files were written to with dry_run.
  returned: when dry_run is true
  type: str
kubelet_service:
  description: Whether the kubelet was (or in check mode would be) restarted at the end of kubelet-start, and why.
  returned: always
  type: dict
  sample: {"restarted": true, "reason": "the kubelet's files changed"}
changed_files:
  description: Host paths that were (or in check mode would be) written.
  returned: always
  type: list
  elements: str
changed_objects:
  description:
    - API objects that were (or in check mode would be) created, changed or deleted, as C(Kind/namespace/name)
      (C(Kind/name) for cluster-scoped ones).
    - In check mode a token the run would generate appears under a random id the real run does not reuse.
  returned: always
  type: list
  elements: str
  sample: ["ConfigMap/kube-system/kubeadm-config", "ClusterRoleBinding/kubeadm:get-nodes", "Node/cp1"]
notes:
  description: What the plan could not know, such as no API server answering in check mode (then the
    API phases report what they would create from the configuration alone). Also returned as warnings.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.kubeboot.cluster.plugins.module_utils import options
from ansible_collections.kubeboot.cluster.plugins.module_utils.module_common import new_module, run_module
from ansible_collections.kubeboot.cluster.plugins.module_utils.init import run_init


def main() -> None:
    # the argument spec is this module's rows of the option table (module_utils/options.py)
    run_module(new_module(options.INIT), run_init)


if __name__ == "__main__":
    main()
