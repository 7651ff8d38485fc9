"""rbac.py: the RBAC table of kubeadm-artifacts §5, and the cluster-admins binding with its super-admin fallback."""
from __future__ import annotations

import pytest

from ansible_collections.kubeboot.cluster.plugins.module_utils import errors, rbac
from ansible_collections.kubeboot.cluster.plugins.module_utils.apiwriter import ApiWriter
from tests.support.memclient import MemClient


@pytest.fixture
def client():
    return MemClient.with_node("cp1")


def _rows():
    out = {}
    for obj in rbac.all_rbac():
        meta = obj["metadata"]
        out[(obj["kind"], meta.get("namespace", ""), meta["name"])] = obj
    return out


G = "rbac.authorization.k8s.io"


TOKEN_GROUP = {"apiGroup": G, "kind": "Group", "name": "system:bootstrappers:kubeadm:default-node-token"}


NODES = {"apiGroup": G, "kind": "Group", "name": "system:nodes"}


@pytest.mark.parametrize("name,role,subjects", [
    ("kubeadm:cluster-admins", "cluster-admin", [{"apiGroup": G, "kind": "Group", "name": "kubeadm:cluster-admins"}]),
    ("kubeadm:kubelet-bootstrap", "system:node-bootstrapper", [TOKEN_GROUP]),
    ("kubeadm:get-nodes", "kubeadm:get-nodes", [TOKEN_GROUP]),
    ("kubeadm:node-autoapprove-bootstrap",
     "system:certificates.k8s.io:certificatesigningrequests:nodeclient", [TOKEN_GROUP]),
    ("kubeadm:node-autoapprove-certificate-rotation",
     "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", [NODES]),
    ("kubeadm:node-proxier", "system:node-proxier",
     [{"kind": "ServiceAccount", "name": "kube-proxy", "namespace": "kube-system"}]),
    ("system:coredns", "system:coredns", [{"kind": "ServiceAccount", "name": "coredns", "namespace": "kube-system"}]),
])
def test_cluster_role_bindings(name, role, subjects):
    crb = _rows()[("ClusterRoleBinding", "", name)]
    assert crb["roleRef"] == {"apiGroup": G, "kind": "ClusterRole", "name": role}
    assert crb["subjects"] == subjects


@pytest.mark.parametrize("name,ns,resource,resource_name,subjects", [
    ("kubeadm:bootstrap-signer-clusterinfo", "kube-public", "configmaps", "cluster-info",
     [{"apiGroup": G, "kind": "User", "name": "system:anonymous"}]),
    ("kubeadm:nodes-kubeadm-config", "kube-system", "configmaps", "kubeadm-config", [TOKEN_GROUP, NODES]),
    ("kubeadm:kubelet-config", "kube-system", "configmaps", "kubelet-config", [NODES, TOKEN_GROUP]),
    ("kubeadm:kubeadm-certs", "kube-system", "secrets", "kubeadm-certs", [TOKEN_GROUP]),
    ("kube-proxy", "kube-system", "configmaps", "kube-proxy", [TOKEN_GROUP]),
])
def test_roles(name, ns, resource, resource_name, subjects):
    rows = _rows()
    role = rows[("Role", ns, name)]
    assert role["rules"] == [{"apiGroups": [""], "resources": [resource], "resourceNames": [resource_name],
                              "verbs": ["get"]}]
    binding = rows[("RoleBinding", ns, name)]
    assert binding["roleRef"] == {"apiGroup": G, "kind": "Role", "name": name}
    assert binding["subjects"] == subjects


def test_cluster_roles():
    rows = _rows()
    assert rows[("ClusterRole", "", "kubeadm:get-nodes")]["rules"] == [
        {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}]
    assert rows[("ClusterRole", "", "system:coredns")]["rules"] == [
        {"apiGroups": [""], "resources": ["endpoints", "services", "pods", "namespaces"], "verbs": ["list", "watch"]},
        {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]}]
    assert len(rows) == 19  # 7 CRB + 2 ClusterRole + 5 Role + 5 RoleBinding


def test_ensure_cluster_admins_falls_back_to_super_admin(client):
    class Forbidden(MemClient):
        def request(self, method, path, *a, **kw):
            raise errors.APIError(method, path, 403, "forbidden")
    result = rbac.ensure_cluster_admins(ApiWriter(Forbidden()), ApiWriter(client))
    assert result["changed"] and client.obj("ClusterRoleBinding", "kubeadm:cluster-admins")
