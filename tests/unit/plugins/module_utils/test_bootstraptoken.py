"""bootstraptoken.py: cluster-info, the bootstrap-token phase (reuse, given token, system:node), token delete."""
from __future__ import annotations

import base64
import datetime as dt

import pytest
import yaml

from ansible_collections.kubeboot.cluster.plugins.module_utils import bootstraptoken, errors, tokens
from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils.apiwriter import ApiWriter
from ansible_collections.kubeboot.cluster.plugins.module_utils.bootstraptoken import BootstrapToken
from ansible_collections.kubeboot.cluster.plugins.module_utils.config import sample_init_config
from tests.support.memclient import MemClient

NOW = dt.datetime(2025, 3, 1, 12, 0, 0, tzinfo=dt.timezone.utc)
CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
SERVER = "https://192.0.2.10:6443"
G = "rbac.authorization.k8s.io"


def _cfg(version="v1.34.10", **paths):
    paths.setdefault("cluster.networking.podSubnet", "10.244.0.0/16")
    return sample_init_config(version=version, paths=paths)


@pytest.fixture
def client():
    return MemClient.with_node("cp1")


def test_cluster_info():
    cm = bootstraptoken.cluster_info_configmap(SERVER, CA_PEM)
    assert cm["metadata"] == {"name": "cluster-info", "namespace": "kube-public"}
    kubeconfig = yaml.safe_load(cm["data"]["kubeconfig"])
    assert kubeconfig["clusters"] == [{"name": "", "cluster": {
        "server": SERVER, "certificate-authority-data": base64.b64encode(CA_PEM.encode()).decode()}}]
    assert kubeconfig["users"] is None and kubeconfig["contexts"] is None
    assert kubeconfig["current-context"] == ""


def test_bootstrap_token_phase_idempotent(client):
    cfg = _cfg()
    first = bootstraptoken.bootstrap_token(ApiWriter(client), cfg, CA_PEM, SERVER, now=NOW)
    assert first["changed"] and tokens.is_valid_token(first["token"])
    secrets = client.list("Secret", "kube-system", field_selector="type=" + C.BOOTSTRAP_TOKEN_SECRET_TYPE)
    assert len(secrets) == 1
    parsed = tokens.parse_token_secret(secrets[0])
    assert parsed["token"] == first["token"] and parsed["usages"] == ["authentication", "signing"]
    assert client.obj("ConfigMap", "cluster-info", "kube-public")
    assert client.obj("RoleBinding", "kubeadm:bootstrap-signer-clusterinfo", "kube-public")
    n = len(client.writes)
    again = bootstraptoken.bootstrap_token(ApiWriter(client), cfg, CA_PEM, SERVER, now=NOW + dt.timedelta(hours=1))
    assert again["changed"] is False and again["token"] == first["token"]
    assert client.writes[n:] == []
    # less than half the TTL left: a fresh token is made
    later = bootstraptoken.bootstrap_token(ApiWriter(client), cfg, CA_PEM, SERVER, now=NOW + dt.timedelta(hours=13))
    assert later["changed"] and later["token"] != first["token"]


def test_bootstrap_token_given_token_and_system_node(client):
    cfg = _cfg()
    cfg.init["bootstrapTokens"] = [{"token": "abcdef.0123456789abcdef", "ttl": "0", "usages": ["authentication"],
                                    "groups": [C.DEFAULT_TOKEN_GROUP], "description": "d"}]
    client.objects["/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/system:node"] = {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "system:node", "resourceVersion": "1"},
        "roleRef": {"apiGroup": G, "kind": "ClusterRole", "name": "system:node"},
        "subjects": [{"apiGroup": G, "kind": "Group", "name": "system:nodes"}]}
    result = bootstraptoken.bootstrap_token(ApiWriter(client), cfg, CA_PEM, SERVER, now=NOW)
    assert result["token"] == "abcdef.0123456789abcdef"
    secret = client.obj("Secret", "bootstrap-token-abcdef", "kube-system")
    data = tokens.secret_strings(secret)
    assert "expiration" not in data and data["description"] == "d"
    assert client.obj("ClusterRoleBinding", "system:node")["subjects"] == []
    assert bootstraptoken.bootstrap_token(ApiWriter(client), cfg, CA_PEM, SERVER, now=NOW)["changed"] is False


def test_delete_token(client):
    bootstraptoken.ensure_token(ApiWriter(client), BootstrapToken.from_option("abcdef.0123456789abcdef"), now=NOW)
    assert bootstraptoken.delete_token(ApiWriter(client, check_mode=True), "abcdef") is True
    assert bootstraptoken.delete_token(ApiWriter(client), "abcdef.0123456789abcdef") is True
    assert bootstraptoken.delete_token(ApiWriter(client), "abcdef") is False
    with pytest.raises(errors.InvalidValue):
        bootstraptoken.delete_token(ApiWriter(client), "ABC")
