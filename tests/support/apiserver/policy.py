"""Seed objects: default namespaces and the bootstrap RBAC policy (subset of
plugin/pkg/auth/authorizer/rbac/bootstrappolicy in kubernetes/kubernetes)."""
from __future__ import annotations

from .auth import NODE_RULES

NAMESPACES = ["default", "kube-system", "kube-public", "kube-node-lease"]

RO = ["get", "list", "watch"]


def _cr(name, rules, labels=None):
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": name, "labels": {"kubernetes.io/bootstrapping": "rbac-defaults",
                                                  **(labels or {})},
                         "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"}},
            "rules": rules}


def _crb(name, role, subjects):
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": name, "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
                         "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"}},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": subjects}


def _group(name):
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": name}


def _user(name):
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": name}


CSR = "certificates.k8s.io"

CLUSTER_ROLES = [
    _cr("cluster-admin", [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                          {"nonResourceURLs": ["*"], "verbs": ["*"]}]),
    _cr("system:discovery", [{"nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/healthz",
                                                  "/livez", "/openapi", "/openapi/*", "/readyz",
                                                  "/version", "/version/"], "verbs": ["get"]}]),
    _cr("system:public-info-viewer", [{"nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version",
                                                           "/version/"], "verbs": ["get"]}]),
    _cr("system:basic-user", [
        {"apiGroups": ["authorization.k8s.io"],
         "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], "verbs": ["create"]},
        {"apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"], "verbs": ["create"]},
    ]),
    _cr("system:node-bootstrapper", [
        {"apiGroups": [CSR], "resources": ["certificatesigningrequests"],
         "verbs": ["create", "get", "list", "watch"]}]),
    _cr("system:certificates.k8s.io:certificatesigningrequests:nodeclient", [
        {"apiGroups": [CSR], "resources": ["certificatesigningrequests/nodeclient"], "verbs": ["create"]}]),
    _cr("system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", [
        {"apiGroups": [CSR], "resources": ["certificatesigningrequests/selfnodeclient"],
         "verbs": ["create"]}]),
    _cr("system:node", NODE_RULES),
    _cr("system:node-proxier", [
        {"apiGroups": [""], "resources": ["endpoints", "services"], "verbs": ["list", "watch"]},
        {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch", "update"]},
        {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]},
    ]),
    _cr("system:kube-controller-manager", [
        {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]),  # simplified: broad
    _cr("system:kube-scheduler", [
        {"apiGroups": [""], "resources": ["nodes", "pods", "namespaces", "services", "configmaps"],
         "verbs": RO},
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
         "verbs": ["create", "get", "update"]}]),
    _cr("view", [{"apiGroups": ["", "apps"], "resources": ["configmaps", "endpoints", "pods", "services",
                                                           "serviceaccounts", "namespaces",
                                                           "deployments", "daemonsets", "events"],
                  "verbs": RO}]),
]

CLUSTER_ROLE_BINDINGS = [
    _crb("cluster-admin", "cluster-admin", [_group("system:masters")]),
    _crb("system:discovery", "system:discovery", [_group("system:authenticated")]),
    _crb("system:basic-user", "system:basic-user", [_group("system:authenticated")]),
    _crb("system:public-info-viewer", "system:public-info-viewer",
         [_group("system:authenticated"), _group("system:unauthenticated")]),
    _crb("system:node", "system:node", []),
    _crb("system:node-proxier", "system:node-proxier", [_user("system:kube-proxy")]),
    _crb("system:kube-controller-manager", "system:kube-controller-manager",
         [_user("system:kube-controller-manager")]),
    _crb("system:kube-scheduler", "system:kube-scheduler", [_user("system:kube-scheduler")]),
]


def namespace(name):
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}
