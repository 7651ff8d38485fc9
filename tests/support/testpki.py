"""Tiny test-only PKI (cryptography): a CA, a server cert, client certs, CSRs.

Independent of the collection's own pki.py on purpose (it is the thing under test elsewhere).
"""
from __future__ import annotations

import base64
import datetime
import ipaddress
import math
import os
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
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


# --- damaged RSA keys (OpenSSL's full check refuses them; the cheap consistency checks may not) ---

def _der_int(value: int) -> bytes:
    body = value.to_bytes(value.bit_length() // 8 + 1, "big")
    return b"\x02" + _der_len(len(body)) + body


def _der_len(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def rsa_key_pem(n, e, d, p, q, dp, dq, qinv) -> bytes:
    """A PKCS#1 RSAPrivateKey written by hand: any values, consistent or not."""
    body = b"".join(_der_int(v) for v in (0, n, e, d, p, q, dp, dq, qinv))
    der = b"\x30" + _der_len(len(body)) + body
    b64 = base64.b64encode(der).decode()
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return ("-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END RSA PRIVATE KEY-----\n").encode()


def write_composite_prime_ca(cert_path: str, key_path: str, cn: str = "kubernetes") -> bytes:
    """A CA whose key is consistent (p*q = n, d*e = 1 mod p-1, q-1, CRT values) but whose 'prime' p
    is composite, so OpenSSL's full key check refuses it; its certificate is signed by another key
    (only its public key matters). Writes both files; returns the key PEM."""
    e = 65537
    while True:
        a, b = (rsa.generate_private_key(public_exponent=e, key_size=1024).private_numbers() for _i in range(2))
        p, q = a.p * a.q, b.p
        lam = (p - 1) * (q - 1) // math.gcd(p - 1, q - 1)
        if math.gcd(e, lam) == 1:
            break
    n, d = p * q, pow(e, -1, lam)
    pem = rsa_key_pem(n, e, d, p, q, d % (p - 1), d % (q - 1), pow(q, -1, p))
    other = rsa.generate_private_key(public_exponent=e, key_size=2048)
    name = _name(cn)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(rsa.RSAPublicNumbers(e, n).public_key()).serial_number(7)
            .not_valid_before(_now()).not_valid_after(_now() + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(other, hashes.SHA256()))
    with open(key_path, "wb") as handle:
        handle.write(pem)
    with open(cert_path, "wb") as handle:
        handle.write(cert_pem(cert))
    return pem
