# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The join's `kubelet-start` phase: the kubelet's client certificate via TLS bootstrap.

Two modes:
- `kubelet` (kubeadm's way): write bootstrap-kubelet.conf, the CA, the kubelet config and
  flags; the kubelet (started by the role) creates the CSR, gets it approved and writes
  kubelet.conf. Optionally wait for kubelet.conf.
- `module`: do the kubelet's part here - a key, a CSR authenticated with the bootstrap token,
  wait for approval, then write kubelet-client-<ts>.pem + kubelet-client-current.pem and
  kubelet.conf. Nothing is written before the certificate is in hand.
"""
from __future__ import annotations

import base64
import datetime
import hashlib
import time

try:  # reported by the module (deps.fail_if_missing) when absent
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID
    HAS_CRYPTOGRAPHY = True
except ImportError:  # pragma: no cover
    HAS_CRYPTOGRAPHY = False

from ansible_collections.kubeboot.cluster.plugins.module_utils.deps import yaml
from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import errors, kubeconfig, kubeconfigutil, pkiutil, poll

KUBELET_CONF = C.kubeconfig_path(C.KUBELET_CONF)
BOOTSTRAP_CONF = C.kubeconfig_path(C.BOOTSTRAP_KUBELET_CONF)
KUBELET_CLUSTER = "default-cluster"
KUBELET_USER = "default-auth"
KUBELET_CONTEXT = "default-context"
CSR_KEY_ALGORITHM = "ECDSA-P256"  # what the kubelet generates
FIRST_POLL_SECONDS = 0.1  # then doubling up to the poll interval


class TLSBootstrapError(errors.KubebootError):
    """The CSR was denied, failed, or not signed in time."""


# --- files ----------------------------------------------------------------------------------

def bootstrap_kubeconfig(server: str, ca_pem, token: str = "", cert_pem=None, key_pem=None) -> str:
    """bootstrap-kubelet.conf: cluster `kubernetes`, user `tls-bootstrap-token-user`."""
    if cert_pem and key_pem:
        return kubeconfig.render_kubeconfig(server, ca_pem, C.TLS_BOOTSTRAP_USER,
                                            client_cert_pem=cert_pem, client_key_pem=key_pem)
    return kubeconfig.render_kubeconfig(server, ca_pem, C.TLS_BOOTSTRAP_USER, token=token)


def kubelet_kubeconfig(server: str, ca_pem) -> str:
    """kubelet.conf as the kubelet writes it after TLS bootstrap (cert/key = kubelet-client-current.pem)."""
    ca = ca_pem if isinstance(ca_pem, bytes) else str(ca_pem).encode()
    doc = {
        "apiVersion": "v1",
        "clusters": [{"cluster": {"certificate-authority-data": base64.b64encode(ca).decode("ascii"),
                                  "server": server}, "name": KUBELET_CLUSTER}],
        "contexts": [{"context": {"cluster": KUBELET_CLUSTER, "namespace": "default", "user": KUBELET_USER},
                      "name": KUBELET_CONTEXT}],
        "current-context": KUBELET_CONTEXT,
        "kind": "Config",
        "preferences": {},
        "users": [{"name": KUBELET_USER, "user": {"client-certificate": C.KUBELET_CLIENT_CURRENT,
                                                  "client-key": C.KUBELET_CLIENT_CURRENT}}],
    }
    return yaml.safe_dump(doc, default_flow_style=False, sort_keys=True)


def existing_kubelet_identity(fs, ca_pem, server: str = ""):
    """The node's current kubelet client cert when kubelet.conf is valid: its cert chains to the
    cluster CA, is not expired, matches its key, and (when given) talks to `server`. Else None."""
    text = fs.read_text(KUBELET_CONF)
    if not text:
        return None
    try:  # an unusable kubelet.conf means "not joined yet", never a traceback
        chosen = kubeconfigutil.select(kubeconfigutil.load(text, KUBELET_CONF), strict=True)
        if chosen.context is None or (server and chosen.cluster.get("server") != server):
            return None
        user = chosen.user
        cert_pem = kubeconfigutil.material(user, "client-certificate-data", "client-certificate", fs)
        key_pem = kubeconfigutil.material(user, "client-key-data", "client-key", fs)
        cert = x509.load_pem_x509_certificate(cert_pem or b"")
        key = serialization.load_pem_private_key(key_pem or b"", None)
        cas = pkiutil.load_certificates(ca_pem)
    except (errors.KubebootError, ValueError, TypeError):
        return None
    if not pkiutil.check_pair(cert, key) or not any(pkiutil.signed_by(cert, ca) for ca in cas):
        return None
    if pkiutil.not_after(cert) <= datetime.datetime.now(datetime.timezone.utc):
        return None
    return cert


# --- CSR (module mode) ------------------------------------------------------------------------

def make_csr(node_name: str, key) -> bytes:
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, C.NODES_GROUP),
                         x509.NameAttribute(NameOID.COMMON_NAME, C.NODE_USER_PREFIX + node_name)])
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM)


def csr_usages(key) -> list:
    usages = ["digital signature"]
    if isinstance(key, rsa.RSAPrivateKey):
        usages.append("key encipherment")
    usages.append("client auth")
    return usages


def csr_object(node_name: str, csr_pem: bytes, key) -> dict:
    # kubelet names it node-csr-<digest of the request> (deterministic per key + subject)
    digest = base64.urlsafe_b64encode(hashlib.sha512(csr_pem).digest()).decode().rstrip("=")[:43]
    return {
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"name": "node-csr-" + digest.replace("_", "-").lower()[:43]},
        "spec": {
            "request": base64.b64encode(csr_pem).decode("ascii"),
            "signerName": C.CSR_SIGNER_KUBELET_CLIENT,
            "usages": csr_usages(key),
        },
    }


def _condition(csr: dict, kind: str):
    for cond in (csr.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind and cond.get("status", "True") == "True":
            return cond
    return None


def request_certificate(api, node_name: str, timeout: float, interval: float = 1.0,
                        key_algorithm: str = CSR_KEY_ALGORITHM, sleep=time.sleep, clock=time.monotonic):
    """Create the CSR with the bootstrap credentials (`api`: an apiwriter.ApiWriter) and wait for the
    signed certificate. Returns (cert_pem, key_pem, csr_name); in check mode the CSR is only planned
    and cert_pem is None. Raises TLSBootstrapError on denial/failure/timeout.

    The kubelet watches its CSR; here it is polled, first after FIRST_POLL_SECONDS, doubling up to
    `interval`: a cluster that signs at once costs the join no idle second, a slow one few requests."""
    key = pkiutil.generate_key(key_algorithm)
    obj = csr_object(node_name, make_csr(node_name, key), key)
    name = obj["metadata"]["name"]
    try:
        api.put(obj)
    except errors.APIError as exc:
        raise TLSBootstrapError(f"TLS bootstrap: cannot create the CertificateSigningRequest {name} with the "
                                f"bootstrap token: {exc}") from None
    if api.check_mode:
        return None, pkiutil.key_to_pem(key), name

    def signed():
        live = api.client.get("CertificateSigningRequest", name)
        cond = _condition(live, "Denied") or _condition(live, "Failed")
        if cond:
            raise TLSBootstrapError(
                f"TLS bootstrap: the CertificateSigningRequest {name} for system:node:{node_name} was "
                f"{'denied' if cond.get('type') == 'Denied' else 'marked failed'} ({cond.get('reason', '')}: "
                f"{cond.get('message', '')}); nothing was written")
        cert_b64 = (live.get("status") or {}).get("certificate")
        return _issued_certificate(cert_b64, key, name) if cert_b64 and _condition(live, "Approved") else None

    def timed_out(last):
        detail = (f" (last error: {last})" if last else
                  " (not approved/signed: is the csrapprover running and kubeadm:node-autoapprove-bootstrap bound?)")
        return TLSBootstrapError(f"TLS bootstrap: timed out after {timeout:g}s waiting for the "
                                 f"CertificateSigningRequest {name} to be approved and signed{detail}; "
                                 "nothing was written")
    cert_pem = poll.wait_for(signed, timeout, min(FIRST_POLL_SECONDS, interval), backoff=2, max_interval=interval,
                             on_timeout=timed_out, sleep=sleep, clock=clock)
    return cert_pem, pkiutil.key_to_pem(key), name


def _issued_certificate(cert_b64, key, name: str) -> bytes:
    """The signed certificate, only when it is a PEM certificate for our key (else nothing is written)."""
    try:
        cert_pem = base64.b64decode(cert_b64)
        cert = x509.load_pem_x509_certificate(cert_pem)
    except (ValueError, TypeError):
        raise TLSBootstrapError(f"TLS bootstrap: the CertificateSigningRequest {name} holds no readable PEM "
                                "certificate; nothing was written") from None
    if not pkiutil.check_pair(cert, key):
        raise TLSBootstrapError(f"TLS bootstrap: the certificate issued for CertificateSigningRequest {name} "
                                "is not for this node's key; nothing was written")
    return cert_pem


def client_pem_path(now=None) -> str:
    stamp = time.strftime("%Y-%m-%d-%H-%M-%S", time.localtime(now))
    return f"{C.KUBELET_PKI_DIR}/kubelet-client-{stamp}.pem"


def write_kubelet_identity(writer, cert_pem: bytes, key_pem: bytes, server: str, ca_pem) -> list:
    """kubelet-client-<ts>.pem (cert+key, 0600), the -current symlink, kubelet.conf; drop bootstrap conf."""
    path = client_pem_path()
    writer.ensure_dir(C.KUBELET_PKI_DIR, 0o755)
    data = cert_pem.rstrip(b"\n") + b"\n" + key_pem
    changed = [writer.write(path, data, C.MODE_KEY, secret=True)]
    changed.append(writer.symlink(C.KUBELET_CLIENT_CURRENT, path))
    changed.append(writer.write(KUBELET_CONF, kubelet_kubeconfig(server, ca_pem), C.MODE_KUBECONFIG, secret=True))
    changed.append(writer.remove(BOOTSTRAP_CONF))
    return [{"path": path, "changed": changed[0]},
            {"path": C.KUBELET_CLIENT_CURRENT, "changed": changed[1]},
            {"path": KUBELET_CONF, "changed": changed[2]},
            {"path": BOOTSTRAP_CONF, "changed": changed[3], "removed": changed[3]}]


def wait_for_kubelet_conf(fs, ca_pem, timeout: float, interval: float = 1.0, sleep=time.sleep,
                          clock=time.monotonic):
    def timed_out(_last):
        return TLSBootstrapError(
            f"TLS bootstrap: {KUBELET_CONF} did not appear within {timeout:g}s. Is the kubelet running "
            f"(systemctl status kubelet; journalctl -u kubelet)? It reads {BOOTSTRAP_CONF}.")
    return poll.wait_for(lambda: existing_kubelet_identity(fs, ca_pem), timeout, interval,
                         on_timeout=timed_out, sleep=sleep, clock=clock)


def check_node_name_free(client, node_name: str) -> None:
    """kubeadm: refuse to join when a Ready Node with this name already exists."""
    try:
        node = client.get("Node", node_name)
    except errors.NotFound:
        return
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready" and cond.get("status") == "True":
            raise errors.KubebootError(
                f"a Node with name {node_name!r} and status Ready already exists in the cluster. You must "
                "delete the existing Node or change the name of this new joining Node (node_name)")
