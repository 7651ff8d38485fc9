# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Phase upload-certs and its join-side twin download-certs (kubeadm phases/copycerts).

The shared CAs and the service-account key pair (`pki.SHARED`) go to the kube-system/
kubeadm-certs Secret, each AES-256-GCM sealed with the certificate key (nonce || seal, as
kubeadm's util/crypto), owned by a 2-hour proxy token so the garbage collector removes it.

Without a given certificate_key, kubeadm makes a random one per upload, so every rerun uploads
again and the key the joining nodes hold stops working. Here the key is derived instead:
HMAC-SHA256, keyed with this control plane's sa.key, of the uid the API server gave the proxy
token that owns the Secret. A rerun reads the Secret's owner uid, derives the same key, and while
that Secret holds the same files and its owner keeps at least half of its 2 hours, nothing is
uploaded (changed=0) and the same key is returned. Nothing secret is stored: the uid is public,
sa.key never leaves the control planes (and anyone holding it holds what the Secret carries);
each upload (a new owner, a new uid) gets a new key, as with kubeadm.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os

try:  # reported by the module (deps.fail_if_missing) when absent
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
except ImportError:  # pragma: no cover
    InvalidTag = AESGCM = None

from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import errors, pki, rbac, tokens
from ansible_collections.kubeboot.cluster.plugins.module_utils.bootstraptoken import BootstrapToken
from ansible_collections.kubeboot.cluster.plugins.module_utils.durations import parse_duration

NONCE_SIZE = 12
KEY_DERIVATION_LABEL = b"kubeboot.cluster upload-certs certificate key v1\0"


def derived_certificate_key(sa_key_pem: bytes, owner_uid: str) -> str:
    """The upload's certificate key (64 hex): HMAC-SHA256(sa.key, label || owner uid)."""
    return hmac.new(sa_key_pem, KEY_DERIVATION_LABEL + owner_uid.encode("utf-8"), hashlib.sha256).hexdigest()


def secret_key(host_path_base: str, suffix: str) -> str:
    """The kubeadm-certs data key of a file: its base name with "/" as "-" (etcd/ca.key -> etcd-ca.key)."""
    return host_path_base.replace("/", "-") + suffix


def certs_to_upload(cfg) -> dict:
    """Secret data key -> host path (kubeadm copycerts.certsToTransfer), from pki.SHARED."""
    files = {}
    for name in pki.SHARED:
        if name != pki.SA_PHASE and pki.BY_NAME[name].etcd and not cfg.local_etcd:
            continue
        public, private = pki.files(cfg, name)
        for path in (public, private):
            base, suffix = path[len(cfg.cert_dir) + 1:].rsplit(".", 1)
            files[secret_key(base, "." + suffix)] = path
    external = cfg.cluster.get("etcd", {}).get("external")
    if external is not None:
        files[C.EXTERNAL_ETCD_CA_KEY] = external.get("caFile", "")
        files[C.EXTERNAL_ETCD_CERT_KEY] = external.get("certFile", "")
        files[C.EXTERNAL_ETCD_KEY_KEY] = external.get("keyFile", "")
    return files


def aes_key(certificate_key) -> bytes:
    try:
        key = bytes.fromhex(certificate_key) if isinstance(certificate_key, str) else bytes(certificate_key)
    except ValueError:
        raise errors.InvalidValue("certificate_key", "<hidden>", "64 hexadecimal characters") from None
    if len(key) not in (16, 24, 32):
        raise errors.InvalidValue("certificate_key", "<hidden>",
                                  "64 hexadecimal characters (a 32-byte AES-256 key)")
    return key


def encrypt_bytes(plaintext: bytes, certificate_key, nonce: bytes = None) -> bytes:
    """kubeadm util/crypto EncryptBytes: nonce(12) || AES-GCM seal, no additional data."""
    nonce = nonce if nonce is not None else os.urandom(NONCE_SIZE)
    return nonce + AESGCM(aes_key(certificate_key)).encrypt(nonce, plaintext, None)


def decrypt_bytes(data: bytes, certificate_key) -> bytes:
    if len(data) < NONCE_SIZE:
        raise errors.PKIError("size of data is less than the nonce size")
    try:
        return AESGCM(aes_key(certificate_key)).decrypt(data[:NONCE_SIZE], data[NONCE_SIZE:], None)
    except InvalidTag:
        raise errors.PKIError("cannot decrypt the kubeadm-certs data: wrong certificate key") from None


def encrypt_certs(cert_files: dict, certificate_key) -> dict:
    """name -> bytes|None  =>  Secret `data` (base64 of nonce||seal; '' for missing files)."""
    data = {}
    for name, content in cert_files.items():
        if content is None:
            data[name] = ""
        else:
            data[name] = base64.b64encode(encrypt_bytes(content, certificate_key)).decode("ascii")
    return data


def decrypt_certs(secret_data: dict, certificate_key) -> dict:
    """Secret `data` => name -> plaintext bytes (empty values skipped, as download-certs does)."""
    out = {}
    for name, value in (secret_data or {}).items():
        raw = base64.b64decode(value or "")
        if not raw:
            continue
        out[name] = decrypt_bytes(raw, certificate_key)
    return out


def kubeadm_certs_secret(data: dict, owner_secret: dict) -> dict:
    meta = owner_secret.get("metadata") or {}
    return {
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {
            "name": C.KUBEADM_CERTS_SECRET, "namespace": C.KUBE_SYSTEM,
            "ownerReferences": [{"apiVersion": "v1", "kind": "Secret", "name": meta.get("name"),
                                 "uid": meta.get("uid"), "controller": True,
                                 "blockOwnerDeletion": True}],
        },
        "data": data,
    }


def upload_certs(api, cfg, fs, certificate_key: str = None, now=None) -> dict:
    """Phase upload-certs: encrypted kubeadm-certs Secret owned by a 2h proxy token. Without a
    certificate_key the key is derived (see the module docstring). The result carries the key under
    `certificate_key` (None in check mode when a new upload's key cannot be known yet): the caller
    takes it out before the result is shown."""
    paths = certs_to_upload(cfg)
    plain = {name: (fs.read_bytes(path) if path else None) for name, path in paths.items()}
    derive = not certificate_key
    sa_pem = _sa_key(cfg, fs) if derive else None
    mark = api.mark()
    live = api.get("Secret", C.KUBEADM_CERTS_SECRET, C.KUBE_SYSTEM)
    if derive:
        uid = _owner_uid(live)
        certificate_key = derived_certificate_key(sa_pem, uid) if uid else None
    if certificate_key is None or live is None or not _certs_current(api, live, plain, aes_key(certificate_key), now):
        proxy = BootstrapToken.from_option(tokens.generate_token(), C.CERT_TOKEN_TTL, usages=(), groups=(),
                                           description=C.CERT_TOKEN_DESCRIPTION)
        owner = api.put(proxy.to_secret(now)).live
        if not (owner.get("metadata") or {}).get("uid") and not api.check_mode:
            owner = api.get("Secret", proxy.secret_name, C.KUBE_SYSTEM)
        if derive:
            uid = (owner.get("metadata") or {}).get("uid")
            certificate_key = derived_certificate_key(sa_pem, uid) if uid else None
        sealing = certificate_key or os.urandom(32).hex()  # check mode: the plan encrypts with a throwaway key
        api.put(kubeadm_certs_secret(encrypt_certs(plain, aes_key(sealing)), owner))
    api.ensure_all(rbac.kubeadm_certs_rbac())
    return api.result(mark, secret=C.KUBEADM_CERTS_SECRET, files=sorted(k for k, v in plain.items() if v is not None),
                      certificate_key=certificate_key)


def _sa_key(cfg, fs) -> bytes:
    path = pki.key_path(cfg, C.SA_BASE)
    data = fs.read_bytes(path)
    if data is None:
        raise errors.PKIError(f"{path} does not exist: the certs/sa phase must run before upload-certs")
    return data


def _owner_uid(live) -> str:
    refs = ((live or {}).get("metadata") or {}).get("ownerReferences") or []
    return (refs[0].get("uid") or "") if refs else ""


def _certs_current(api, live: dict, plain: dict, key: bytes, now) -> bool:
    """kubeadm-certs holds exactly these files and its owner token is still valid."""
    data = live.get("data") or {}
    if set(data) != set(plain):
        return False
    try:
        decrypted = decrypt_certs(data, key)
    except errors.PKIError:
        return False
    for name, content in plain.items():
        if (content or b"") != decrypted.get(name, b""):
            return False
    refs = (live.get("metadata") or {}).get("ownerReferences") or []
    if not refs:
        return False
    owner = api.get("Secret", refs[0].get("name", ""), C.KUBE_SYSTEM)
    if owner is None or owner["metadata"].get("uid") != refs[0].get("uid"):
        return False
    try:
        proxy = BootstrapToken.from_secret(owner)
    except ValueError:
        return False
    # keep at least half of the 2h window for the joining nodes
    remaining = proxy.remaining(now)
    return remaining is None or remaining >= parse_duration(C.CERT_TOKEN_TTL) / 2
