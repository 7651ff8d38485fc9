# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The RBAC objects kubeadm creates (kubeadm-artifacts §5), as one table of builders.

Each phase applies its own rows (bootstrap-token the node bootstrap rules, upload-config
the ConfigMap readers, ...); `all_rbac()` is the whole table for tests and docs.
"""
from __future__ import annotations

from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import errors

RBAC_GROUP = "rbac.authorization.k8s.io"
RBAC_API = RBAC_GROUP + "/v1"


def group(name: str) -> dict:
    return {"apiGroup": RBAC_GROUP, "kind": "Group", "name": name}


def user(name: str) -> dict:
    return {"apiGroup": RBAC_GROUP, "kind": "User", "name": name}


def service_account_subject(name: str, namespace: str = C.KUBE_SYSTEM) -> dict:
    return {"kind": "ServiceAccount", "name": name, "namespace": namespace}


def cluster_role_binding(name: str, cluster_role: str, subjects: list) -> dict:
    return {"apiVersion": RBAC_API, "kind": "ClusterRoleBinding", "metadata": {"name": name},
            "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": cluster_role},
            "subjects": subjects}


def cluster_role(name: str, rules: list) -> dict:
    return {"apiVersion": RBAC_API, "kind": "ClusterRole", "metadata": {"name": name}, "rules": rules}


def get_role(name: str, namespace: str, resource: str, resource_name: str) -> dict:
    """Role granting `get` on one named object (all kubeadm Roles look like this)."""
    return {"apiVersion": RBAC_API, "kind": "Role",
            "metadata": {"name": name, "namespace": namespace},
            "rules": [{"apiGroups": [""], "resources": [resource], "resourceNames": [resource_name],
                       "verbs": ["get"]}]}


def role_binding(name: str, namespace: str, role: str, subjects: list) -> dict:
    return {"apiVersion": RBAC_API, "kind": "RoleBinding",
            "metadata": {"name": name, "namespace": namespace},
            "roleRef": {"apiGroup": RBAC_GROUP, "kind": "Role", "name": role}, "subjects": subjects}


def cluster_admins_rbac() -> list:
    return [cluster_role_binding(C.CRB_CLUSTER_ADMINS, C.CR_CLUSTER_ADMIN, [group(C.CLUSTER_ADMINS_GROUP)])]


def node_bootstrap_rbac() -> list:
    """bootstraptoken/node: kubelet-bootstrap, get-nodes, CSR auto-approval."""
    token_group = [group(C.DEFAULT_TOKEN_GROUP)]
    return [
        cluster_role_binding(C.CRB_KUBELET_BOOTSTRAP, C.CR_NODE_BOOTSTRAPPER, token_group),
        cluster_role(C.CR_GET_NODES, [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}]),
        cluster_role_binding(C.CR_GET_NODES, C.CR_GET_NODES, token_group),
        cluster_role_binding(C.CRB_NODE_AUTOAPPROVE_BOOTSTRAP, C.CR_NODECLIENT, token_group),
        cluster_role_binding(C.CRB_NODE_AUTOAPPROVE_ROTATION, C.CR_SELFNODECLIENT, [group(C.NODES_GROUP)]),
    ]


def cluster_info_rbac() -> list:
    return [get_role(C.ROLE_CLUSTER_INFO, C.KUBE_PUBLIC, "configmaps", C.CLUSTER_INFO_CM),
            role_binding(C.ROLE_CLUSTER_INFO, C.KUBE_PUBLIC, C.ROLE_CLUSTER_INFO, [user(C.ANONYMOUS_USER)])]


def kubeadm_config_rbac() -> list:
    return [get_role(C.ROLE_NODES_KUBEADM_CONFIG, C.KUBE_SYSTEM, "configmaps", C.KUBEADM_CONFIG_CM),
            role_binding(C.ROLE_NODES_KUBEADM_CONFIG, C.KUBE_SYSTEM, C.ROLE_NODES_KUBEADM_CONFIG,
                         [group(C.DEFAULT_TOKEN_GROUP), group(C.NODES_GROUP)])]


def kubelet_config_rbac() -> list:
    return [get_role(C.ROLE_KUBELET_CONFIG, C.KUBE_SYSTEM, "configmaps", C.KUBELET_CONFIG_CM),
            role_binding(C.ROLE_KUBELET_CONFIG, C.KUBE_SYSTEM, C.ROLE_KUBELET_CONFIG,
                         [group(C.NODES_GROUP), group(C.DEFAULT_TOKEN_GROUP)])]


def kubeadm_certs_rbac() -> list:
    return [get_role(C.ROLE_KUBEADM_CERTS, C.KUBE_SYSTEM, "secrets", C.KUBEADM_CERTS_SECRET),
            role_binding(C.ROLE_KUBEADM_CERTS, C.KUBE_SYSTEM, C.ROLE_KUBEADM_CERTS,
                         [group(C.DEFAULT_TOKEN_GROUP)])]


def kube_proxy_rbac() -> list:
    return [
        cluster_role_binding(C.CRB_NODE_PROXIER, C.CR_NODE_PROXIER, [service_account_subject(C.KUBE_PROXY)]),
        get_role(C.KUBE_PROXY_CM, C.KUBE_SYSTEM, "configmaps", C.KUBE_PROXY_CM),
        role_binding(C.KUBE_PROXY_CM, C.KUBE_SYSTEM, C.KUBE_PROXY_CM, [group(C.DEFAULT_TOKEN_GROUP)]),
    ]


def coredns_rbac() -> list:
    return [
        cluster_role(C.CR_COREDNS, [
            {"apiGroups": [""], "resources": ["endpoints", "services", "pods", "namespaces"],
             "verbs": ["list", "watch"]},
            {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"],
             "verbs": ["list", "watch"]},
        ]),
        cluster_role_binding(C.CR_COREDNS, C.CR_COREDNS, [service_account_subject(C.COREDNS)]),
    ]


def all_rbac() -> list:
    """The whole RBAC table of kubeadm-artifacts §5 (for tests and docs)."""
    return (cluster_admins_rbac() + node_bootstrap_rbac() + cluster_info_rbac() + kubeadm_config_rbac()
            + kubelet_config_rbac() + kubeadm_certs_rbac() + kube_proxy_rbac() + coredns_rbac())


def ensure_cluster_admins(api, super_admin_api=None) -> dict:
    """kubeadm:cluster-admins CRB; created with super-admin.conf when admin.conf may not yet
    (kubeadm EnsureAdminClusterRoleBinding). `api`/`super_admin_api`: apiwriter.ApiWriter."""
    mark = api.mark()
    try:
        api.ensure_all(cluster_admins_rbac())
        return api.result(mark)
    except errors.APIError as exc:
        if exc.status != 403 or super_admin_api is None:
            raise
    mark = super_admin_api.mark()
    super_admin_api.ensure_all(cluster_admins_rbac())
    return super_admin_api.result(mark)
