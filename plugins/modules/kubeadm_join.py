#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: kubeadm_join
short_description: Join a node to a Kubernetes cluster, like C(kubeadm join), natively in Python
version_added: 0.1.0
description:
  - Finds and authenticates the cluster (token discovery with CA public key pins, or file discovery), then
    runs kubeadm's C(join) phases - C(preflight), C(control-plane-prepare/*) (control-plane join only),
    C(kubelet-start), C(control-plane-join/*) (control-plane join only), C(wait-control-plane).
  - Token discovery reads C(kube-public/cluster-info) without TLS verification, checks the detached JWS
    signature with the token secret, checks the CA against O(discovery_token_ca_cert_hash), then reads
    cluster-info again over TLS trusting only that CA. A wrong signature or pin fails at once, naming
    the check; nothing is written to the node before the cluster is trusted and the token accepted.
  - The cluster's own ClusterConfiguration (C(kube-system/kubeadm-config)) and kubelet configuration
    (C(kube-system/kubelet-config)) are read with the bootstrap token.
  - TLS bootstrap either the kubeadm way (O(tls_bootstrap_mode=kubelet) - write C(bootstrap-kubelet.conf) for
    the kubelet) or done by the module (O(tls_bootstrap_mode=module) - a CSR signed by the cluster, then
    C(kubelet.conf) and C(/var/lib/kubelet/pki/kubelet-client-current.pem)).
  - Control-plane join (O(control_plane=true)) downloads the shared CAs from C(kubeadm-certs) with
    O(certificate_key), creates this node's certificates, kubeconfigs and static Pod manifests, adds the node
    to the stacked etcd cluster as a learner and promotes it, and labels/taints the Node.
  - Idempotent - a node whose C(kubelet.conf) already holds a valid certificate of the discovered CA is
    not bootstrapped again; a rerun reports C(changed=false).
  - Like kubeadm, the C(kubelet-start) phase ends with C(systemctl daemon-reload) and C(systemctl restart kubelet),
    but only when a file the kubelet reads changed or the kubelet is not running (a rerun restarts nothing), and
    never under O(rootfs) or in check mode. Without systemd or a C(kubelet.service) unit this is a warning.
author: kubeboot developers (@kubeboot)
extends_documentation_fragment:
  - kubeboot.cluster.common
  - kubeboot.cluster.common.patches
options:
  api_server_endpoint:
    description:
      - API server C(host:port) for token discovery (IPv6 in brackets, C([2001:db8::1]:6443)).
    type: str
  token:
    description:
      - Bootstrap token C([a-z0-9]{6}.[a-z0-9]{16}) used for both discovery and TLS bootstrap, unless
        O(discovery_token) / O(tls_bootstrap_token) are given.
    type: str
  discovery_token:
    description: Token for token discovery (validates the cluster-info signature).
    type: str
  tls_bootstrap_token:
    description: Token the kubelet (or the module) authenticates with for the TLS bootstrap.
    type: str
  discovery_token_ca_cert_hash:
    description:
      - Pins of the cluster CA's public key, C(sha256:<64 hex>) (RFC 7469 SubjectPublicKeyInfo hash); any
        match is enough.
      - A bare 64-hex value is taken as sha256 (with a warning); anything else is an error.
      - "Get it on a control-plane node with
        C(openssl x509 -pubkey -in /etc/kubernetes/pki/ca.crt | openssl rsa -pubin -outform der 2>/dev/null |
        openssl dgst -sha256 -hex | sed 's/^.* //'), from M(kubeboot.cluster.kubeadm_token) with
        C(print_join_command), or from the C(ca_cert_hash) result of M(kubeboot.cluster.kubeadm_init)."
    type: list
    elements: str
  discovery_token_unsafe_skip_ca_verification:
    description:
      - Trust the CA found in cluster-info without a pin (the JWS signature is still required). Not recommended.
    type: bool
    default: false
  discovery_file:
    description:
      - File discovery - a local kubeconfig path or an C(https://) URL (verified with the host CA bundle plus
        O(discovery_ca_file)) with the cluster's C(server) and C(certificate-authority-data).
      - Credentials in it are used for the TLS bootstrap; without credentials O(tls_bootstrap_token) (or O(token))
        is required.
    type: str
  discovery_ca_file:
    description: Extra CA bundle trusted when fetching an C(https://) O(discovery_file).
    type: path
  discovery_timeout:
    description:
      - How long discovery waits for the cluster-info ConfigMap and its signature (Go duration).
      - Default C(5m0s) (or C(timeouts.discovery) from O(config)).
    type: str
  node_name:
    description: Node name. Defaults to the host name, lowercased.
    type: str
  skip_phases:
    description: Join phases to skip, by kubeadm's names (C(preflight), C(control-plane-join/etcd), ...).
    type: list
    elements: str
  control_plane:
    description: Join as a control-plane node (kubeadm's C(--control-plane)).
    type: bool
    default: false
  certificate_key:
    description:
      - 64 hex characters; decrypts the C(kubeadm-certs) Secret uploaded by init (C(upload_certs)).
    type: str
  apiserver_advertise_address:
    description:
      - Control-plane join - the IP this node's API server and etcd advertise. Default the default-route address.
    type: str
  apiserver_bind_port:
    description: Control-plane join - the API server port on this node. Default C(6443).
    type: int
  tls_bootstrap_mode:
    description:
      - C(kubelet) - write C(bootstrap-kubelet.conf) and let the kubelet request its certificate (kubeadm's way).
      - C(module) - request, wait for and install the kubelet client certificate here (the node's key never
        leaves it); nothing is written when the request is denied or times out.
    type: str
    choices: [kubelet, module]
    default: kubelet
  wait_for_kubelet:
    description:
      - With O(tls_bootstrap_mode=kubelet), wait (up to C(timeouts.tlsBootstrap), 5 minutes) for the kubelet
        to write C(/etc/kubernetes/kubelet.conf).
    type: bool
    default: false
notes:
  - Tokens and the certificate key are never shown in results or diffs.
  - Check mode performs discovery and reads from the API (to report what would change) but writes nothing
    and creates nothing.
seealso:
  - module: kubeboot.cluster.kubeadm_init
  - module: kubeboot.cluster.kubeadm_token
"""

EXAMPLES = r"""
- name: Join a worker (token discovery with a pinned CA)
  kubeboot.cluster.kubeadm_join:
    api_server_endpoint: k8s-api.example.com:6443
    token: "{{ join_token }}"
    discovery_token_ca_cert_hash:
      - sha256:345959acb2c3b2feb87d281961c893f62a314207ef02599f1cc4a5fb255480b3

- name: Join a worker and get its client certificate without waiting for the kubelet
  kubeboot.cluster.kubeadm_join:
    api_server_endpoint: "[2001:db8::10]:6443"
    token: "{{ join_token }}"
    discovery_token_ca_cert_hash: ["{{ hostvars['cp1'].init.ca_cert_hash }}"]
    tls_bootstrap_mode: module

- name: Join a second control-plane node (stacked etcd)
  kubeboot.cluster.kubeadm_join:
    api_server_endpoint: k8s-api.example.com:6443
    token: "{{ join_token }}"
    discovery_token_ca_cert_hash: ["{{ ca_hash }}"]
    control_plane: true
    certificate_key: "{{ certificate_key }}"
    apiserver_advertise_address: 192.0.2.11

- name: File discovery from an HTTPS URL
  kubeboot.cluster.kubeadm_join:
    discovery_file: https://config.example.com/cluster-info.yaml
    discovery_ca_file: /etc/pki/internal-ca.pem
    tls_bootstrap_token: "{{ join_token }}"

- name: A real kubeadm JoinConfiguration file
  kubeboot.cluster.kubeadm_join:
    config: /etc/kubeadm/join.yaml
"""

RETURN = r"""
patches:
  description: The patches directory, its patch files in the order they apply, the files ignored, and each patch applied.
  returned: when a patches directory is configured
  type: dict
  sample: {"directory": "/etc/kubeadm/patches", "files": ["kube-apiserver+merge.yaml"], "ignored": ["README"],
           "applied": ["kube-apiserver+merge.yaml: merge patch to kube-apiserver"]}
api_server:
  description: The API server URL the node uses (from cluster-info).
  returned: success
  type: str
  sample: https://192.0.2.10:6443
discovery:
  description: How the cluster was found - C(token) or C(file).
  returned: success
  type: str
ca_cert_hash:
  description: Pin of the discovered cluster CA.
  returned: success
  type: str
kubernetes_version:
  description: The cluster's version (from kubeadm-config).
  returned: success
  type: str
already_joined:
  description: The node already had a valid kubelet.conf for this cluster (no TLS bootstrap done).
  returned: success
  type: bool
tls_bootstrap:
  description: What the kubelet-start phase did.
  returned: success
  type: str
csr:
  description: Name of the CertificateSigningRequest created in C(module) mode.
  returned: when a certificate was requested
  type: str
kubelet_service:
  description: Whether the kubelet was (or in check mode would be) restarted at the end of kubelet-start, and why.
  returned: always
  type: dict
  sample: {"restarted": true, "reason": "the kubelet's files changed"}
kubelet_files:
  description: Files of the kubelet-start phase (path, changed).
  returned: success
  type: list
  elements: dict
certificates:
  description: This node's certificates (control-plane join).
  returned: success
  type: list
  elements: dict
kubeconfigs:
  description: admin/controller-manager/scheduler kubeconfigs (control-plane join).
  returned: success
  type: list
  elements: dict
manifests:
  description: Static Pod manifests written (control-plane join).
  returned: success
  type: list
  elements: dict
downloaded_certs:
  description: Files written from the kubeadm-certs Secret (name, path, changed).
  returned: success
  type: list
  elements: dict
etcd:
  description: Stacked etcd membership (peer_url, member_id, added, promoted, members).
  returned: success
  type: dict
phases:
  description: Leaf phases that ran and that were skipped.
  returned: success
  type: dict
preflight:
  description: Warnings and ignored errors of the preflight checks.
  returned: success
  type: dict
changed_files:
  description: Host paths that were (or in check mode would be) written or removed.
  returned: success
  type: list
  elements: str
changed_objects:
  description:
    - What was (or in check mode would be) changed in the cluster - API objects as C(Kind/namespace/name)
      (the CSR of O(tls_bootstrap_mode=module), the Node marked as control plane) and the stacked etcd
      membership as C(EtcdMember/<node>).
    - In check mode the CSR is named after a key generated for the plan; the real run uses a new key.
  returned: success
  type: list
  elements: str
notes:
  description: What the plan could not know (for example a Node that does not exist yet in check mode).
  returned: success
  type: list
  elements: str
dry_run_dir:
  description: Directory the files were written to with dry_run.
  returned: when dry_run is true
  type: str
"""

from ansible_collections.kubeboot.cluster.plugins.module_utils import options
from ansible_collections.kubeboot.cluster.plugins.module_utils.module_common import new_module, run_module
from ansible_collections.kubeboot.cluster.plugins.module_utils.join import run_join


def main() -> None:
    # the argument spec is this module's rows of the option table (module_utils/options.py)
    run_module(new_module(options.JOIN, mutually_exclusive=[("discovery_file", "api_server_endpoint")]), run_join)


if __name__ == "__main__":
    main()
