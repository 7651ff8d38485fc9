"""Tiny test-only PKI (cryptography): a CA, a server cert, client certs, CSRs.

Independent of the collection's own pki.py on purpose (it is the thing under test elsewhere).
"""
from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def new_key():
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def cert_pem(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _name(cn: str, orgs=()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


@dataclass
class CA:
    cert: x509.Certificate
    key: object

    @property
    def cert_pem(self) -> bytes:
        return cert_pem(self.cert)

    @property
    def key_pem(self) -> bytes:
        return key_pem(self.key)

    def issue(self, cn, orgs=(), server=False, client=True, dns=(), ips=(), days=365, key=None):
        key = key or new_key()
        now = _now()
        ekus = []
        if server:
            ekus.append(ExtendedKeyUsageOID.SERVER_AUTH)
        if client:
            ekus.append(ExtendedKeyUsageOID.CLIENT_AUTH)
        b = (x509.CertificateBuilder()
             .subject_name(_name(cn, orgs)).issuer_name(self.cert.subject)
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(minutes=5))
             .not_valid_after(now + datetime.timedelta(days=days))
             .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
             .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False),
                            critical=True)
             .add_extension(x509.ExtendedKeyUsage(ekus), critical=False)
             .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                            critical=False))
        sans = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        if sans:
            b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return b.sign(self.key, hashes.SHA256()), key


def new_ca(cn="kubernetes", days=3650) -> CA:
    key = new_key()
    now = _now()
    cert = (x509.CertificateBuilder()
            .subject_name(_name(cn)).issuer_name(_name(cn))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, True, False, False, True, False, False, False),
                           critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return CA(cert, key)


def load_ca(cert_dir: str, name: str = "ca") -> CA:
    with open(os.path.join(cert_dir, name + ".crt"), "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    with open(os.path.join(cert_dir, name + ".key"), "rb") as f:
        key = serialization.load_pem_private_key(f.read(), None)
    return CA(cert, key)


def _write(path, data: bytes, mode=0o600):
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


def write_cert_dir(cert_dir: str, ca: CA | None = None, hosts=("127.0.0.1", "localhost")) -> CA:
    """Write ca.crt/ca.key/apiserver.crt/apiserver.key (kubeadm layout) and return the CA."""
    os.makedirs(cert_dir, exist_ok=True)
    ca = ca or new_ca()
    ips, dns = [], ["kubernetes", "kubernetes.default", "kubernetes.default.svc"]
    for h in hosts:
        try:
            ipaddress.ip_address(h)
            ips.append(h)
        except ValueError:
            dns.append(h)
    cert, key = ca.issue("kube-apiserver", server=True, client=False, dns=dns, ips=ips)
    _write(os.path.join(cert_dir, "ca.crt"), ca.cert_pem, 0o644)
    _write(os.path.join(cert_dir, "ca.key"), ca.key_pem)
    _write(os.path.join(cert_dir, "apiserver.crt"), cert_pem(cert), 0o644)
    _write(os.path.join(cert_dir, "apiserver.key"), key_pem(key))
    return ca


def client_files(ca: CA, directory: str, cn: str, orgs=()) -> tuple[str, str]:
    """Issue a client cert and write it; returns (cert_path, key_path)."""
    os.makedirs(directory, exist_ok=True)
    cert, key = ca.issue(cn, orgs)
    safe = cn.replace(":", "_")
    cp, kp = os.path.join(directory, safe + ".crt"), os.path.join(directory, safe + ".key")
    _write(cp, cert_pem(cert), 0o644)
    _write(kp, key_pem(key))
    return cp, kp


def make_csr(cn: str, orgs=(), key=None) -> tuple[bytes, object]:
    key = key or new_key()
    csr = (x509.CertificateSigningRequestBuilder().subject_name(_name(cn, orgs))
           .sign(key, hashes.SHA256()))
    return csr.public_bytes(serialization.Encoding.PEM), key
