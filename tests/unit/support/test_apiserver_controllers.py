"""Controllers of the API double: bootstrapsigner (JWS), tokencleaner, CSR approve+sign, GC."""
from __future__ import annotations

import base64
import datetime
import subprocess
import time

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from joserfc import jws as jose_jws
from joserfc.jwk import OctKey

from tests.support import testpki
from tests.support.apiserver import compute_detached, verify_detached
from tests.support.apiserver.testing import call

from . import kubeadm_objects as K

TOKEN = "abcdef.0123456789abcdef"

# test-vectors.md §1 (k/k cluster-bootstrap/token/jws/jws_test.go)
CONTENT = "Hello from the other side. I must have called a thousand times."
VECTORS = [
    (CONTENT, "my voice is my passcode",
     "eyJhbGciOiJIUzI1NiIsImtpZCI6Impvc2h1YSJ9..VShe2taLd-YTrmWuRkcL_8QTNDHYxQIEBsAYYiIj1_8"),
    ("", "my voice is my passcode",
     "eyJhbGciOiJIUzI1NiIsImtpZCI6Impvc2h1YSJ9..7Ui1ALizW4jXphVUB7xUqC9vLYLL9RZeOFfVLoB7Tgk"),
    (CONTENT, "",
     "eyJhbGciOiJIUzI1NiIsImtpZCI6Impvc2h1YSJ9..UfkqvDGiIFxrMnFseDj9LYJOLNrvjW8aHhF71mvvAs8"),
]


@pytest.mark.parametrize("content,secret,expected", VECTORS)
def test_jws_vectors(content, secret, expected):
    assert compute_detached(content, "joshua", secret) == expected
    assert verify_detached(content, "joshua", secret, expected)
    assert not verify_detached(content, "joshua", secret, expected + "foo")


def joserfc_verify(detached: str, content: str, secret: str) -> dict:
    header, empty, sig = detached.split(".")
    assert empty == ""
    payload = base64.urlsafe_b64encode(content.encode()).rstrip(b"=").decode()
    key = OctKey.import_key(secret.encode().ljust(32, b"\0"))
    obj = jose_jws.deserialize_compact(f"{header}.{payload}.{sig}", key, algorithms=["HS256"])
    assert obj.payload == content.encode()
    return obj.protected


def wait_for(pred, timeout=5.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def test_bootstrapsigner_signs_cluster_info(api_double):
    d = api_double(controllers_interval="0.1s")
    d.put(K.token_secret(TOKEN))
    d.put(K.token_secret("zzzzzz.0123456789abcdef", signing=False))
    d.put(K.token_secret("yyyyyy.0123456789abcdef", authentication=False))
    info = d.put(K.cluster_info(d.url, d.ca_pem))
    content = info["data"]["kubeconfig"]

    cm = wait_for(lambda: (c := d.get("configmaps", "kube-public", "cluster-info"))
                  and len([k for k in c["data"] if k.startswith("jws-")]) == 2 and c)
    assert sorted(cm["data"]) == ["jws-kubeconfig-abcdef", "jws-kubeconfig-yyyyyy", "kubeconfig"]
    assert cm["data"]["kubeconfig"] == content
    sig = cm["data"]["jws-kubeconfig-abcdef"]
    assert sig == compute_detached(content, "abcdef", "0123456789abcdef")
    assert joserfc_verify(sig, content, "0123456789abcdef") == {"alg": "HS256", "kid": "abcdef"}
    assert sig.split("..")[0] == base64.urlsafe_b64encode(
        b'{"alg":"HS256","kid":"abcdef"}').rstrip(b"=").decode()

    # token deleted => its signature goes away
    d.api.delete(d.api.res("secrets"), "kube-system", "bootstrap-token-yyyyyy")
    wait_for(lambda: "jws-kubeconfig-yyyyyy" not in d.get("configmaps", "kube-public", "cluster-info")["data"])
    # kubeconfig changed => re-signed over the new content
    cm = d.get("configmaps", "kube-public", "cluster-info")
    cm["data"]["kubeconfig"] = content.replace("server:", "server: ") + "\n"
    d.put(cm)
    new = wait_for(lambda: (c := d.get("configmaps", "kube-public", "cluster-info"))
                   and c["data"]["jws-kubeconfig-abcdef"] != sig and c)
    joserfc_verify(new["data"]["jws-kubeconfig-abcdef"], new["data"]["kubeconfig"], "0123456789abcdef")


def test_anonymous_join_discovery_flow(api_double):
    """What kubeadm join does: anonymous GET of cluster-info, then verify the JWS."""
    d = api_double(controllers_interval="0.1s")
    for obj in K.clusterinfo_rbac():
        d.put(obj)
    d.put(K.token_secret(TOKEN))
    d.put(K.cluster_info(d.url, d.ca_pem))
    body = wait_for(lambda: (r := call(d, "GET", "/api/v1/namespaces/kube-public/configmaps/cluster-info"))
                    and "jws-kubeconfig-abcdef" in r[1].get("data", {}) and r[1])
    assert verify_detached(body["data"]["kubeconfig"], "abcdef", "0123456789abcdef",
                           body["data"]["jws-kubeconfig-abcdef"])


def test_tokencleaner_and_expired_signature_removal(api_double):
    d = api_double(controllers=False)
    d.put(K.cluster_info(d.url, d.ca_pem))
    d.put(K.token_secret(TOKEN, ttl_seconds=3600))
    d.put(K.token_secret("neverx.0123456789abcdef", ttl_seconds=None))
    d.run_controllers()
    assert "jws-kubeconfig-abcdef" in d.get("configmaps", "kube-public", "cluster-info")["data"]
    # expire the token: the signer drops it even before the cleaner runs
    d.put(K.token_secret(TOKEN, ttl_seconds=-1))
    from tests.support.apiserver import controllers
    controllers.bootstrapsigner(d.api)
    assert "jws-kubeconfig-abcdef" not in d.get("configmaps", "kube-public", "cluster-info")["data"]
    assert d.get("secrets", "kube-system", "bootstrap-token-abcdef") is not None
    controllers.tokencleaner(d.api)
    assert d.get("secrets", "kube-system", "bootstrap-token-abcdef") is None
    assert d.get("secrets", "kube-system", "bootstrap-token-neverx") is not None


def test_garbage_collector_removes_kubeadm_certs_with_its_token(api_double):
    d = api_double(controllers=False)
    owner = d.put(K.token_secret("certsx.0123456789abcdef", ttl_seconds=-5, authentication=False,
                                 signing=False, groups=()))
    d.put({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
           "metadata": {"name": "kubeadm-certs", "namespace": "kube-system", "ownerReferences": [
               {"apiVersion": "v1", "kind": "Secret", "name": owner["metadata"]["name"],
                "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}]},
           "data": {"ca.crt": ""}})
    d.put({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "stale-uid", "namespace": "kube-system", "ownerReferences": [
            {"apiVersion": "v1", "kind": "Secret", "name": "bootstrap-token-certsx", "uid": "other"}]}})
    d.run_controllers()  # tokencleaner deletes the expired owner, GC then the dependents
    d.run_controllers()
    assert d.get("secrets", "kube-system", "bootstrap-token-certsx") is None
    assert d.get("secrets", "kube-system", "kubeadm-certs") is None
    assert d.get("configmaps", "kube-system", "stale-uid") is None


def _csr_obj(name, pem, usages=("digital signature", "client auth"), seconds=None,
             signer="kubernetes.io/kube-apiserver-client-kubelet"):
    spec = {"request": base64.b64encode(pem).decode(), "signerName": signer, "usages": list(usages),
            "username": "forged", "groups": ["system:masters"]}
    if seconds:
        spec["expirationSeconds"] = seconds
    return {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
            "metadata": {"name": name}, "spec": spec}


CSRS = "/apis/certificates.k8s.io/v1/certificatesigningrequests"


def test_csr_approve_and_sign_flow(api_double, tmp_path, openssl):
    d = api_double(controllers_interval="0.1s")
    for obj in K.kubeadm_rbac():
        d.put(obj)
    d.put(K.token_secret(TOKEN))
    pem, _key = testpki.make_csr("system:node:worker-1", ["system:nodes"])
    code, created = call(d, "POST", CSRS, _csr_obj("node-csr-1", pem, seconds=3600), token=TOKEN)
    assert code == 201, created
    assert created["spec"]["username"] == "system:bootstrap:abcdef"
    assert created["spec"]["groups"] == ["system:bootstrappers", K.NODE_TOKEN_GROUP, "system:authenticated"]

    def signed():
        c, body = call(d, "GET", CSRS + "/node-csr-1", token=TOKEN)
        return c == 200 and body.get("status", {}).get("certificate") and body
    csr = wait_for(signed)
    cond = csr["status"]["conditions"][0]
    assert (cond["type"], cond["status"], cond["reason"]) == ("Approved", "True", "AutoApproved")
    cert_pem = base64.b64decode(csr["status"]["certificate"])
    cert = x509.load_pem_x509_certificate(cert_pem)
    assert cert.subject.rfc4514_string() == "CN=system:node:worker-1,O=system:nodes"
    assert cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage(
        [ExtendedKeyUsageOID.CLIENT_AUTH])
    lifetime = cert.not_valid_after_utc - datetime.datetime.now(datetime.timezone.utc)
    assert datetime.timedelta(minutes=55) < lifetime <= datetime.timedelta(hours=1)
    (tmp_path / "leaf.pem").write_bytes(cert_pem)
    out = subprocess.run([openssl, "verify", "-CAfile", f"{d.cert_dir}/ca.crt", str(tmp_path / "leaf.pem")],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stdout.strip().endswith("OK"), out.stdout + out.stderr


def test_csr_not_auto_approved_without_rbac_or_with_bad_subject(api_double):
    d = api_double(controllers=False)
    d.put(K.token_secret(TOKEN))
    for obj in K.kubeadm_rbac():
        if obj["metadata"]["name"] != "kubeadm:node-autoapprove-bootstrap":
            d.put(obj)
    good, _ = testpki.make_csr("system:node:w1", ["system:nodes"])
    bad, _ = testpki.make_csr("system:node:w2", ["system:masters"])
    assert call(d, "POST", CSRS, _csr_obj("a", good), token=TOKEN)[0] == 201
    d.run_controllers()
    assert not d.get("certificatesigningrequests", None, "a").get("status", {}).get("conditions")
    # with the nodeclient binding: approved; a CSR with the wrong O or usages is not
    for obj in K.kubeadm_rbac():
        d.put(obj)
    assert call(d, "POST", CSRS, _csr_obj("b", bad), token=TOKEN)[0] == 201
    assert call(d, "POST", CSRS, _csr_obj("c", good, usages=("client auth", "server auth")), token=TOKEN)[0] == 201
    d.run_controllers()
    assert d.get("certificatesigningrequests", None, "a")["status"]["certificate"]
    assert not d.get("certificatesigningrequests", None, "b").get("status", {}).get("conditions")
    assert not d.get("certificatesigningrequests", None, "c").get("status", {}).get("conditions")


def test_csr_selfnodeclient_rotation_and_manual_approval(api_double):
    d = api_double(controllers=False)
    for obj in K.kubeadm_rbac():
        d.put(obj)
    node = d.client_cert("system:node:w1", ["system:nodes"])
    other = d.client_cert("system:node:w2", ["system:nodes"])
    pem, _ = testpki.make_csr("system:node:w1", ["system:nodes"])
    assert call(d, "POST", CSRS, _csr_obj("self", pem), cert=node)[0] == 201
    assert call(d, "POST", CSRS, _csr_obj("foreign", pem), cert=other)[0] == 201
    d.run_controllers()
    assert d.get("certificatesigningrequests", None, "self")["status"]["certificate"]
    assert not d.get("certificatesigningrequests", None, "foreign").get("status", {}).get("conditions")

    # an admin approves through /approval (what `kubectl certificate approve` does); csrsigning signs
    admin = d.client_cert("kubernetes-admin", ["system:masters"])
    code, csr = call(d, "GET", CSRS + "/foreign", cert=admin)
    csr["status"]["conditions"] = [{"type": "Approved", "status": "True", "reason": "Manual", "message": "ok"}]
    code, body = call(d, "PUT", CSRS + "/foreign/approval", csr, cert=admin)
    assert code == 200, body
    assert body["spec"]["username"] == "system:node:w2"  # spec is immutable
    d.run_controllers()
    assert d.get("certificatesigningrequests", None, "foreign")["status"]["certificate"]
