# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""CA public key pins, `sha256:<hex>` of the DER SubjectPublicKeyInfo (RFC 7469), as kubeadm's
util/pubkeypin computes, parses and checks them (--discovery-token-ca-cert-hash)."""
from __future__ import annotations

import hashlib
import re

from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import ConfigError, PKIError
from ansible_collections.kubeboot.cluster.plugins.module_utils.pkiutil import (
    load_certificate, load_certificates, spki_der)

PIN_RE = re.compile(r"\A([A-Za-z0-9]+):([0-9a-fA-F]*)\Z")
HEX64_RE = re.compile(r"\A[0-9a-fA-F]{64}\Z")
FIELD = "discovery_token_ca_cert_hash"
HASH_COMMAND = ("openssl x509 -pubkey -in /etc/kubernetes/pki/ca.crt | openssl rsa -pubin -outform der "
                "2>/dev/null | openssl dgst -sha256 -hex | sed 's/^.* //'")
NO_PIN_HELP = (
    "at least one CA public key pin (sha256:<64 hex>), or discovery_token_unsafe_skip_ca_verification: true "
    "(not recommended). Get the pin on a control-plane node with: " + HASH_COMMAND
    + " (prefix the result with sha256:), or from kubeboot.cluster.kubeadm_token with "
      "print_join_command: true, or the ca_cert_hash returned by kubeboot.cluster.kubeadm_init")


def pin(cert) -> str:
    """The pin of a certificate (cryptography object, PEM bytes or str)."""
    if isinstance(cert, (bytes, str)):
        cert = load_certificate(cert)
    return "sha256:" + hashlib.sha256(spki_der(cert.public_key())).hexdigest()


def bundle_pins(pem) -> list:
    """The pin of every certificate of a PEM bundle."""
    try:
        certs = load_certificates(pem)
    except ValueError as exc:
        raise PKIError(f"cannot parse the cluster CA certificate(s): {exc}") from None
    return [pin(cert) for cert in certs]


def parse(value, field: str = FIELD, warnings=None) -> str:
    """'sha256:<64 hex>' (prefix and hex case-insensitive) -> 'sha256:<lowercase hex>'.

    A bare 64-hex value is taken as sha256 (with a warning appended to `warnings`).
    """
    text = str(value).strip() if value is not None else ""
    if HEX64_RE.match(text):
        if warnings is not None:
            warnings.append(f"{field}: {text[:8]}... has no hash type; taken as sha256:{text.lower()[:8]}... "
                            "(write it as sha256:<hex>)")
        return "sha256:" + text.lower()
    match = PIN_RE.match(text)
    if not match:
        raise ConfigError(field, text, "sha256:<64 hex characters>, the SHA-256 of the CA's public key; "
                                       "get it with: " + HASH_COMMAND)
    kind, digest = match.group(1).lower(), match.group(2)
    if kind != "sha256":
        raise ConfigError(field, text, f"a sha256 pin (hash type {kind!r} is not supported)")
    if len(digest) != 64:
        raise ConfigError(field, text, f"sha256: followed by exactly 64 hex characters (got {len(digest)})")
    return "sha256:" + digest.lower()


class PinSet:
    """A set of allowed pins; `check(certs)` passes when any cert matches any pin."""

    def __init__(self, pins=(), warnings=None):
        self.pins = set()
        for value in pins:
            self.allow(value, warnings)

    def allow(self, value, warnings=None) -> None:
        self.pins.add(parse(value, warnings=warnings))

    def __len__(self) -> int:
        return len(self.pins)

    def check(self, certs) -> bool:
        if not isinstance(certs, (list, tuple)):
            certs = [certs]
        return any(pin(cert) in self.pins for cert in certs)
