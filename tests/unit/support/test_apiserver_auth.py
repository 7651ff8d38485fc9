"""Authentication and authorization decisions of the API double, with kubeadm's own bindings."""
from __future__ import annotations

import pytest

from tests.support.apiserver import APIServer, Attributes, MemoryStore, UserInfo
from tests.support.apiserver.auth import Unauthorized
from tests.support.apiserver.testing import call

from . import kubeadm_objects as K

TOKEN = "abcdef.0123456789abcdef"
BOOT_USER = "system:bootstrap:abcdef"


@pytest.fixture
def api():
    return APIServer(MemoryStore())


@pytest.fixture
def kubeadm_api(api):
    for obj in K.kubeadm_rbac():
        api.put_object(obj)
    api.put_object(K.token_secret(TOKEN))
    return api


def can(api, user, verb, resource="", group="", ns="", name="", sub="", path=None):
    if path is not None:
        return api.authorizer.allowed(Attributes(user, verb, path=path, resource_request=False))
    return api.authorizer.allowed(Attributes(user, verb, group, resource, sub, ns, name))


def token_user(api, token=TOKEN):
    return api.authenticate(None, f"Bearer {token}")


# ------------------------------------------------------------------ authentication
def test_bootstrap_token_authenticates_as_bootstrap_user(kubeadm_api):
    user = token_user(kubeadm_api)
    assert user.name == BOOT_USER
    assert user.groups == ["system:bootstrappers", K.NODE_TOKEN_GROUP, "system:authenticated"]


@pytest.mark.parametrize("secret_kwargs,token", [
    ({"ttl_seconds": -60}, TOKEN),                       # expired
    ({}, "abcdef.0123456789abcdee"),                     # wrong secret
    ({"authentication": False}, TOKEN),                  # no usage-bootstrap-authentication
    ({}, "zzzzzz.0123456789abcdef"),                     # no such token Secret
])
def test_invalid_bootstrap_tokens_are_unauthorized(api, secret_kwargs, token):
    api.put_object(K.token_secret(TOKEN, **secret_kwargs))
    with pytest.raises(Unauthorized):
        api.authenticate(None, f"Bearer {token}")


def test_token_secret_of_wrong_type_does_not_authenticate(api):
    secret = K.token_secret(TOKEN)
    secret["type"] = "Opaque"
    api.put_object(secret)
    with pytest.raises(Unauthorized):
        token_user(api)


def test_no_credentials_is_anonymous(api):
    user = api.authenticate(None, None)
    assert (user.name, user.groups) == ("system:anonymous", ["system:unauthenticated"])


def test_client_certificate_subject_maps_to_user_and_groups(api):
    peer = {"subject": ((("organizationName", "system:masters"),), (("organizationName", "team"),),
                        (("commonName", "kubernetes-admin"),))}
    user = api.authenticate(peer, "Bearer garbage")  # x509 wins over a bearer token
    assert user.name == "kubernetes-admin"
    assert user.groups == ["system:masters", "team", "system:authenticated"]


# ------------------------------------------------------------------ authorization
def test_bootstrap_token_user_permissions_with_kubeadm_bindings(kubeadm_api):
    u = token_user(kubeadm_api)
    csr = "certificates.k8s.io"
    assert can(kubeadm_api, u, "create", "certificatesigningrequests", csr)
    assert can(kubeadm_api, u, "get", "certificatesigningrequests", csr, name="node-csr-x")
    assert can(kubeadm_api, u, "create", "certificatesigningrequests", csr, sub="nodeclient")
    assert not can(kubeadm_api, u, "create", "certificatesigningrequests", csr, sub="selfnodeclient")
    assert can(kubeadm_api, u, "get", "nodes", name="worker-1")
    assert not can(kubeadm_api, u, "list", "nodes")
    assert not can(kubeadm_api, u, "patch", "nodes", name="worker-1")
    assert can(kubeadm_api, u, "get", "configmaps", ns="kube-system", name="kubeadm-config")
    assert can(kubeadm_api, u, "get", "configmaps", ns="kube-system", name="kubelet-config")
    assert can(kubeadm_api, u, "get", "configmaps", ns="kube-system", name="kube-proxy")
    assert can(kubeadm_api, u, "get", "secrets", ns="kube-system", name="kubeadm-certs")
    # ... and nothing else
    assert not can(kubeadm_api, u, "get", "configmaps", ns="kube-system", name="coredns")
    assert not can(kubeadm_api, u, "list", "configmaps", ns="kube-system")
    assert not can(kubeadm_api, u, "get", "configmaps", ns="default", name="kubeadm-config")
    assert not can(kubeadm_api, u, "update", "configmaps", ns="kube-system", name="kubeadm-config")
    assert not can(kubeadm_api, u, "get", "secrets", ns="kube-system", name="bootstrap-token-abcdef")
    assert not can(kubeadm_api, u, "list", "secrets", ns="kube-system")
    assert not can(kubeadm_api, u, "create", "clusterrolebindings", "rbac.authorization.k8s.io")


def test_bootstrap_token_user_cannot_read_kubeadm_config_before_bindings(api):
    api.put_object(K.token_secret(TOKEN))
    u = token_user(api)
    assert not can(api, u, "get", "configmaps", ns="kube-system", name="kubeadm-config")
    assert not can(api, u, "create", "certificatesigningrequests", "certificates.k8s.io")
    # system:basic-user / system:discovery / public-info-viewer still apply to any authenticated user
    assert can(api, u, "create", "selfsubjectaccessreviews", "authorization.k8s.io")
    assert can(api, u, "create", "selfsubjectreviews", "authentication.k8s.io")
    assert can(api, u, "get", path="/api/v1")
    assert can(api, u, "get", path="/healthz")


def test_anonymous_only_reads_cluster_info_after_kubeadm_role(api):
    anon = api.authenticate(None, None)
    assert not can(api, anon, "get", "configmaps", ns="kube-public", name="cluster-info")
    for obj in K.clusterinfo_rbac():
        api.put_object(obj)
    assert can(api, anon, "get", "configmaps", ns="kube-public", name="cluster-info")
    assert not can(api, anon, "get", "configmaps", ns="kube-public", name="other")
    assert not can(api, anon, "list", "configmaps", ns="kube-public")
    assert not can(api, anon, "get", "configmaps", ns="kube-system", name="cluster-info")
    assert not can(api, anon, "get", "secrets", ns="kube-public", name="cluster-info")
    assert not can(api, anon, "get", "nodes", name="n1")
    assert not can(api, anon, "get", path="/api")  # no discovery for anonymous
    assert can(api, anon, "get", path="/version")
    assert can(api, anon, "get", path="/readyz")
    assert not can(api, anon, "post", path="/version")


def test_system_masters_can_do_anything(api):
    admin = UserInfo("kubernetes-admin", ["system:masters", "system:authenticated"])
    assert can(api, admin, "delete", "secrets", ns="kube-system", name="anything")
    assert can(api, admin, "escalate", "clusterroles", "rbac.authorization.k8s.io")
    assert can(api, admin, "get", path="/metrics")


def test_kubeadm_cluster_admins_group_via_crb(kubeadm_api):
    u = UserInfo("kubernetes-super", ["kubeadm:cluster-admins", "system:authenticated"])
    assert can(kubeadm_api, u, "delete", "nodes", name="x")
    other = UserInfo("someone", ["system:authenticated"])
    assert not can(kubeadm_api, other, "delete", "nodes", name="x")


def test_node_user_simplified_node_authorizer(kubeadm_api):
    node = UserInfo("system:node:w1", ["system:nodes", "system:authenticated"])
    assert can(kubeadm_api, node, "create", "nodes")
    assert can(kubeadm_api, node, "list", "nodes")
    assert can(kubeadm_api, node, "patch", "nodes", name="w1", sub="status")
    assert can(kubeadm_api, node, "update", "nodes", name="w1")
    assert not can(kubeadm_api, node, "patch", "nodes", name="w2")
    assert not can(kubeadm_api, node, "patch", "nodes", name="w2", sub="status")
    assert can(kubeadm_api, node, "create", "certificatesigningrequests", "certificates.k8s.io",
               sub="selfnodeclient")
    assert not can(kubeadm_api, node, "create", "certificatesigningrequests", "certificates.k8s.io",
                   sub="nodeclient")
    assert can(kubeadm_api, node, "get", "configmaps", ns="kube-system", name="kubelet-config")
    assert not can(kubeadm_api, node, "get", "secrets", ns="kube-system", name="kubeadm-certs")


def test_rule_matching_details(api):
    api.put_object({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                    "metadata": {"name": "r"},
                    "rules": [{"apiGroups": ["apps"], "resources": ["deployments/*"], "verbs": ["*"]},
                              {"apiGroups": ["*"], "resources": ["leases"], "verbs": ["get"]},
                              {"nonResourceURLs": ["/custom/*"], "verbs": ["get"]}]})
    api.put_object(K.crb("r", "r", [{"kind": "User", "name": "u", "apiGroup": "rbac.authorization.k8s.io"}]))
    api.put_object({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                    "metadata": {"name": "sa", "namespace": "default"},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "r"},
                    "subjects": [{"kind": "ServiceAccount", "name": "bot"}]})
    u = UserInfo("u", ["system:authenticated"])
    assert can(api, u, "patch", "deployments", "apps", ns="x", name="d", sub="scale")
    assert not can(api, u, "patch", "deployments", "apps", ns="x", name="d")
    assert can(api, u, "get", "leases", "coordination.k8s.io", ns="kube-node-lease", name="n")
    assert can(api, u, "get", path="/custom/a/b")
    assert not can(api, u, "get", path="/customer")
    sa = UserInfo("system:serviceaccount:default:bot", ["system:serviceaccounts", "system:authenticated"])
    assert can(api, sa, "get", "leases", "coordination.k8s.io", ns="default", name="n")
    assert not can(api, sa, "get", "leases", "coordination.k8s.io", ns="kube-system", name="n")
    assert not can(api, sa, "get", path="/custom/a")  # RoleBindings never grant non-resource URLs


# ------------------------------------------------------------------ over HTTPS
def test_https_status_objects_for_auth_failures(api_double):
    d = api_double(controllers=False)
    for obj in K.kubeadm_rbac() + K.clusterinfo_rbac():
        d.put(obj)
    d.put(K.token_secret(TOKEN))
    d.put(K.cluster_info(d.url, d.ca_pem))

    code, body = call(d, "GET", "/api/v1/namespaces/kube-system/configmaps/x", token="abcdef.bbbbbbbbbbbbbbbb")
    assert code == 401
    assert body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": "Unauthorized", "reason": "Unauthorized", "code": 401}

    code, body = call(d, "GET", "/api/v1/namespaces/kube-public/configmaps/cluster-info")
    assert code == 200 and "kubeconfig" in body["data"]

    code, body = call(d, "GET", "/api/v1/namespaces/kube-public/configmaps/x")
    assert code == 403
    assert body["reason"] == "Forbidden"
    assert body["message"] == ('configmaps "x" is forbidden: User "system:anonymous" cannot get resource '
                               '"configmaps" in API group "" in the namespace "kube-public"')
    assert body["details"] == {"name": "x", "kind": "configmaps"}

    code, body = call(d, "GET", "/api/v1/namespaces/kube-system/secrets", token=TOKEN)
    assert code == 403
    assert body["message"] == (f'secrets is forbidden: User "{BOOT_USER}" cannot list resource "secrets" '
                               'in API group "" in the namespace "kube-system"')
    code, body = call(d, "GET", "/apis/certificates.k8s.io/v1/certificatesigningrequests/y/status",
                      token="abcdef.0123456789abcdef")
    assert code == 403
    assert body["message"] == ('certificatesigningrequests.certificates.k8s.io "y" is forbidden: User '
                               f'"{BOOT_USER}" cannot get resource "certificatesigningrequests/status" in '
                               'API group "certificates.k8s.io" at the cluster scope')

    code, body = call(d, "GET", "/api/v1/namespaces/kube-system/configmaps/kubeadm-config", token=TOKEN)
    assert (code, body["reason"]) == (404, "NotFound")
    assert body["message"] == 'configmaps "kubeadm-config" not found'

    code, body = call(d, "GET", "/api")
    assert code == 403 and body["message"] == 'forbidden: User "system:anonymous" cannot get path "/api"'
    assert call(d, "GET", "/healthz") == (200, "ok")
    code, body = call(d, "GET", "/version")
    assert code == 200 and body["gitVersion"] == "v1.34.10" and body["minor"] == "34"

    admin = d.client_cert("kubernetes-admin", ["system:masters"])
    code, body = call(d, "GET", "/api/v1/namespaces/kube-system/secrets", cert=admin)
    assert code == 200 and [i["metadata"]["name"] for i in body["items"]] == ["bootstrap-token-abcdef"]


def test_client_cert_from_another_ca_is_rejected(api_double, tmp_path):
    from tests.support import testpki

    d = api_double(controllers=False)
    rogue = testpki.new_ca("rogue")
    cert, key = testpki.client_files(rogue, str(tmp_path / "rogue"), "kubernetes-admin", ["system:masters"])
    import ssl

    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        call(d, "GET", "/api/v1/namespaces", cert=(cert, key))
