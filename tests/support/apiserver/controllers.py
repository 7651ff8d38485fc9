"""kube-controller-manager look-alikes: bootstrapsigner, tokencleaner, csrapproving, csrsigning,
garbagecollector (ownerReferences, simple). Each runs in its own thread on a short interval;
`run_once()` runs them all synchronously (for tests)."""
from __future__ import annotations

import base64
import datetime
import logging
import threading

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from . import resources as R
from .api import APIServer, StatusError, now_rfc3339
from .auth import (BOOTSTRAP_TOKEN_TYPE, Attributes, UserInfo, secret_data, token_expired)
from .jws import compute_detached

log = logging.getLogger("apiserver-double.controllers")

KUBELET_CLIENT_SIGNER = "kubernetes.io/kube-apiserver-client-kubelet"
SIGNERS = {KUBELET_CLIENT_SIGNER, "kubernetes.io/kube-apiserver-client", "kubernetes.io/kubelet-serving"}
DEFAULT_DURATION = 365 * 24 * 3600  # --cluster-signing-duration default 8760h
JWS_PREFIX = "jws-kubeconfig-"


def parse_interval(value) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    s = str(value).strip()
    for suffix, mult in (("ms", 0.001), ("s", 1.0), ("m", 60.0)):
        if s.endswith(suffix):
            return float(s[: -len(suffix)]) * mult
    return float(s)


def _token_secrets(api: APIServer):
    for s in api._list_plain("secrets", "kube-system"):
        if s.get("type") == BOOTSTRAP_TOKEN_TYPE:
            yield s, secret_data(s)


# ---------------------------------------------------------------- bootstrapsigner
def bootstrapsigner(api: APIServer):
    cms = api.res("configmaps")
    try:
        cm = api.get(cms, "kube-public", "cluster-info")
    except StatusError:
        return
    data = cm.get("data") or {}
    content = data.get("kubeconfig")
    if content is None:
        return
    wanted = {}
    for secret, d in _token_secrets(api):
        tid = d.get("token-id", "")
        name = secret["metadata"]["name"]
        if not tid or name != "bootstrap-token-" + tid or d.get("usage-bootstrap-signing") != "true":
            continue
        if token_expired(d) or secret["metadata"].get("deletionTimestamp"):
            continue
        wanted[JWS_PREFIX + tid] = compute_detached(content, tid, d.get("token-secret", ""))
    new_data = {k: v for k, v in data.items() if not k.startswith(JWS_PREFIX)}
    new_data.update(wanted)
    if new_data != data:
        cm["data"] = new_data
        try:
            api.update(cms, "kube-public", "cluster-info", cm)
        except StatusError as exc:
            log.debug("bootstrapsigner: %s", exc.message)


# ---------------------------------------------------------------- tokencleaner
def tokencleaner(api: APIServer):
    for secret, d in _token_secrets(api):
        if token_expired(d):
            try:
                api.delete(api.res("secrets"), "kube-system", secret["metadata"]["name"])
            except StatusError:
                pass


# ---------------------------------------------------------------- csrapproving
def _condition(csr, ctype):
    return next((c for c in (csr.get("status") or {}).get("conditions") or [] if c.get("type") == ctype),
                None)


def _parse_csr(csr_obj):
    try:
        return x509.load_pem_x509_csr(base64.b64decode(csr_obj["spec"]["request"]))
    except Exception:  # noqa: BLE001
        return None


def _subject(req):
    cns = [a.value for a in req.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    orgs = [a.value for a in req.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    return (cns[0] if cns else ""), orgs


def is_kubelet_client_csr(csr_obj, req) -> bool:
    """k8s.io/kubernetes/pkg/apis/certificates ValidateKubeletClientCSR (the relevant checks)."""
    cn, orgs = _subject(req)
    if orgs != ["system:nodes"] or not cn.startswith("system:node:") or len(cn) <= len("system:node:"):
        return False
    try:
        san = req.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        if len(san):
            return False
    except x509.ExtensionNotFound:
        pass
    usages = set(csr_obj["spec"].get("usages") or [])
    return usages in ({"digital signature", "client auth"},
                      {"digital signature", "key encipherment", "client auth"})


def csrapproving(api: APIServer):
    csrs = api.res("certificatesigningrequests")
    for csr in api._list_plain("certificatesigningrequests", None):
        spec = csr.get("spec") or {}
        if spec.get("signerName") != KUBELET_CLIENT_SIGNER:
            continue
        if _condition(csr, "Approved") or _condition(csr, "Denied") or (csr.get("status") or {}).get(
                "certificate"):
            continue
        req = _parse_csr(csr)
        if req is None or not is_kubelet_client_csr(csr, req):
            continue
        cn, _ = _subject(req)
        requester = UserInfo(spec.get("username", ""), list(spec.get("groups") or []), spec.get("uid", ""))
        sub = "selfnodeclient" if spec.get("username") == cn else "nodeclient"
        a = Attributes(requester, "create", "certificates.k8s.io", "certificatesigningrequests", sub)
        if not api.authorizer.allowed(a):
            continue
        now = now_rfc3339()
        csr.setdefault("status", {}).setdefault("conditions", []).append({
            "type": "Approved", "status": "True", "reason": "AutoApproved",
            "message": "Auto approving kubelet client certificate after SubjectAccessReview.",
            "lastUpdateTime": now, "lastTransitionTime": now})
        try:
            api.update(csrs, None, csr["metadata"]["name"], csr, "approval")
        except StatusError as exc:
            log.debug("csrapproving: %s", exc.message)


# ---------------------------------------------------------------- csrsigning
def sign_request(req, usages, ca_cert, ca_key, seconds: int):
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_not_after = getattr(ca_cert, "not_valid_after_utc", None)  # cryptography 42+; Debian 12 has 38
    if ca_not_after is None:
        ca_not_after = ca_cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)
    not_after = min(now + datetime.timedelta(seconds=seconds), ca_not_after)
    ku = set(usages)
    ekus = []
    if "client auth" in ku:
        ekus.append(ExtendedKeyUsageOID.CLIENT_AUTH)
    if "server auth" in ku:
        ekus.append(ExtendedKeyUsageOID.SERVER_AUTH)
    b = (x509.CertificateBuilder().subject_name(req.subject).issuer_name(ca_cert.subject)
         .public_key(req.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(not_after)
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
         .add_extension(x509.KeyUsage("digital signature" in ku, False, "key encipherment" in ku,
                                      False, False, False, False, False, False), critical=True)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                        critical=False))
    if ekus:
        b = b.add_extension(x509.ExtendedKeyUsage(ekus), critical=False)
    try:
        san = req.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        b = b.add_extension(san, critical=False)
    except x509.ExtensionNotFound:
        pass
    return b.sign(ca_key, hashes.SHA256())


def csrsigning(api: APIServer):
    if not api.ca_cert_pem or not api.ca_key_pem:
        return
    ca_cert = x509.load_pem_x509_certificate(api.ca_cert_pem)
    ca_key = serialization.load_pem_private_key(api.ca_key_pem, None)
    csrs = api.res("certificatesigningrequests")
    for csr in api._list_plain("certificatesigningrequests", None):
        spec = csr.get("spec") or {}
        status = csr.get("status") or {}
        if spec.get("signerName") not in SIGNERS or status.get("certificate"):
            continue
        if not _condition(csr, "Approved") or _condition(csr, "Denied") or _condition(csr, "Failed"):
            continue
        req = _parse_csr(csr)
        if req is None:
            continue
        seconds = DEFAULT_DURATION
        if spec.get("expirationSeconds"):
            seconds = min(max(int(spec["expirationSeconds"]), 600), DEFAULT_DURATION)
        cert = sign_request(req, spec.get("usages") or [], ca_cert, ca_key, seconds)
        csr.setdefault("status", {})["certificate"] = base64.b64encode(
            cert.public_bytes(serialization.Encoding.PEM)).decode()
        try:
            api.update(csrs, None, csr["metadata"]["name"], csr, "status")
        except StatusError as exc:
            log.debug("csrsigning: %s", exc.message)


# ---------------------------------------------------------------- garbage collector
def garbagecollector(api: APIServer):
    """Delete namespaced objects all of whose owners (same namespace, matched by uid) are gone."""
    for res in R.RESOURCES:
        if res.virtual or not res.namespaced:
            continue
        for obj in api._list_plain(res.plural, None):
            refs = obj.get("metadata", {}).get("ownerReferences") or []
            if not refs:
                continue
            ns = obj["metadata"].get("namespace")
            alive = False
            for ref in refs:
                owner_res = R.by_kind(ref.get("apiVersion", ""), ref.get("kind", ""))
                if owner_res is None:
                    alive = True  # unknown kinds: never collect
                    break
                owner = api.store.get(api._key(owner_res, ns if owner_res.namespaced else None,
                                                ref.get("name", "")))
                if owner is not None and owner["metadata"].get("uid") == ref.get("uid"):
                    alive = True
                    break
            if not alive:
                try:
                    api.delete(res, ns, obj["metadata"]["name"])
                except StatusError:
                    pass


# ---------------------------------------------------------------- namespace
NAMESPACE_GRACE = 2.0  # seconds a namespace stays Terminating (lets `kubectl delete -f` finish)


def namespace(api: APIServer, grace: float = NAMESPACE_GRACE):
    now = datetime.datetime.now(datetime.timezone.utc)
    for ns in api._list_plain("namespaces", None):
        ts = ns["metadata"].get("deletionTimestamp")
        if ts:
            when = datetime.datetime.fromisoformat(ts.replace("Z", "+00:00"))
            if (now - when).total_seconds() >= grace:
                api.finalize_namespace(ns["metadata"]["name"])


CONTROLLERS = {
    "namespace": namespace,
    "tokencleaner": tokencleaner,
    "bootstrapsigner": bootstrapsigner,
    "csrapproving": csrapproving,
    "csrsigning": csrsigning,
    "garbagecollector": garbagecollector,
}


def run_once(api: APIServer):
    for fn in CONTROLLERS.values():
        fn(api)


class ControllerManager:
    def __init__(self, api: APIServer, interval=1.0, enabled=None):
        self.api = api
        self.interval = parse_interval(interval)
        self.enabled = list(enabled or CONTROLLERS)
        self._stop = threading.Event()
        self._threads = []

    def _loop(self, name):
        fn = CONTROLLERS[name]
        while not self._stop.is_set():
            try:
                fn(self.api)
            except Exception:  # noqa: BLE001 - a controller must never die
                log.exception("controller %s failed", name)
            self._stop.wait(self.interval)

    def start(self):
        for name in self.enabled:
            t = threading.Thread(target=self._loop, args=(name,), name=f"ctrl-{name}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(timeout=5)
        self._threads = []
