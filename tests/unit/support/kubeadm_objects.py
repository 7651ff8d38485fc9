"""The API objects kubeadm init creates (artifacts reference §5/§6), as plain dicts for tests."""
from __future__ import annotations

import base64
import datetime

RBAC = "rbac.authorization.k8s.io"
NODE_TOKEN_GROUP = "system:bootstrappers:kubeadm:default-node-token"


def _group(name):
    return {"apiGroup": RBAC, "kind": "Group", "name": name}


def _user(name):
    return {"apiGroup": RBAC, "kind": "User", "name": name}


def crb(name, role, subjects):
    return {"apiVersion": f"{RBAC}/v1", "kind": "ClusterRoleBinding", "metadata": {"name": name},
            "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": role}, "subjects": subjects}


def role_and_binding(name, ns, resource, names, subjects):
    role = {"apiVersion": f"{RBAC}/v1", "kind": "Role", "metadata": {"name": name, "namespace": ns},
            "rules": [{"apiGroups": [""], "resources": [resource], "resourceNames": names,
                       "verbs": ["get"]}]}
    rb = {"apiVersion": f"{RBAC}/v1", "kind": "RoleBinding", "metadata": {"name": name, "namespace": ns},
          "roleRef": {"apiGroup": RBAC, "kind": "Role", "name": name}, "subjects": subjects}
    return [role, rb]


def clusterinfo_rbac():
    return role_and_binding("kubeadm:bootstrap-signer-clusterinfo", "kube-public", "configmaps",
                            ["cluster-info"], [_user("system:anonymous")])


def kubeadm_rbac():
    """Every RBAC object of §5 except the cluster-info ones."""
    objs = [
        crb("kubeadm:cluster-admins", "cluster-admin", [_group("kubeadm:cluster-admins")]),
        crb("kubeadm:kubelet-bootstrap", "system:node-bootstrapper", [_group(NODE_TOKEN_GROUP)]),
        {"apiVersion": f"{RBAC}/v1", "kind": "ClusterRole", "metadata": {"name": "kubeadm:get-nodes"},
         "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}]},
        crb("kubeadm:get-nodes", "kubeadm:get-nodes", [_group(NODE_TOKEN_GROUP)]),
        crb("kubeadm:node-autoapprove-bootstrap",
            "system:certificates.k8s.io:certificatesigningrequests:nodeclient", [_group(NODE_TOKEN_GROUP)]),
        crb("kubeadm:node-autoapprove-certificate-rotation",
            "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", [_group("system:nodes")]),
    ]
    objs += role_and_binding("kubeadm:nodes-kubeadm-config", "kube-system", "configmaps", ["kubeadm-config"],
                             [_group(NODE_TOKEN_GROUP), _group("system:nodes")])
    objs += role_and_binding("kubeadm:kubelet-config", "kube-system", "configmaps", ["kubelet-config"],
                             [_group("system:nodes"), _group(NODE_TOKEN_GROUP)])
    objs += role_and_binding("kubeadm:kubeadm-certs", "kube-system", "secrets", ["kubeadm-certs"],
                             [_group(NODE_TOKEN_GROUP)])
    objs += role_and_binding("kube-proxy", "kube-system", "configmaps", ["kube-proxy"],
                             [_group(NODE_TOKEN_GROUP)])
    return objs


def _b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


def rfc3339(dt: datetime.datetime) -> str:
    return dt.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def token_secret(token: str, *, ttl_seconds: int | None = 86400, authentication=True, signing=True,
                 groups=(NODE_TOKEN_GROUP,), description=None):
    tid, tsecret = token.split(".")
    data = {"token-id": _b64(tid), "token-secret": _b64(tsecret)}
    if ttl_seconds is not None:
        exp = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=ttl_seconds)
        data["expiration"] = _b64(rfc3339(exp))
    if authentication:
        data["usage-bootstrap-authentication"] = _b64("true")
    if signing:
        data["usage-bootstrap-signing"] = _b64("true")
    if groups:
        data["auth-extra-groups"] = _b64(",".join(groups))
    if description:
        data["description"] = _b64(description)
    return {"apiVersion": "v1", "kind": "Secret", "type": "bootstrap.kubernetes.io/token",
            "metadata": {"name": f"bootstrap-token-{tid}", "namespace": "kube-system"}, "data": data}


def configmap(ns, name, data):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns},
            "data": data}


def cluster_info(server: str, ca_pem: bytes) -> dict:
    kubeconfig = (
        "apiVersion: v1\nclusters:\n- cluster:\n"
        f"    certificate-authority-data: {base64.b64encode(ca_pem).decode()}\n"
        f"    server: {server}\n  name: \"\"\ncontexts: null\ncurrent-context: \"\"\nkind: Config\n"
        "preferences: {}\nusers: null\n")
    return configmap("kube-public", "cluster-info", {"kubeconfig": kubeconfig})
