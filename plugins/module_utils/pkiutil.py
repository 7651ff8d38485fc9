# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keys and certificates as kubeadm's util/pkiutil makes and checks them.

Key generation (RSA, ECDSA), PEM in and out the way Go's keyutil writes it, self-signed CAs
and signed leaves like client-go's cert helpers (backdated 5 minutes, SKI/AKI, PrintableString
names), inspection, and `needs_regeneration`: why an existing certificate cannot be kept.
The certificate tree itself (which certificates, which names) is `pki.CERTS`.
"""
from __future__ import annotations

import datetime
import inspect
import ipaddress
import os
import re
import secrets
from concurrent.futures import ThreadPoolExecutor
from typing import Optional

try:  # reported by the module (deps.fail_if_missing) when absent
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    HAS_CRYPTOGRAPHY = True
except ImportError:  # pragma: no cover
    HAS_CRYPTOGRAPHY = False

from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import InvalidValue, PKIError

try:  # Go writes printable names as PrintableString; cryptography defaults to UTF8String
    from cryptography.x509.name import _ASN1Type
    _PRINTABLE = _ASN1Type.PrintableString
except ImportError:  # pragma: no cover - very old cryptography
    _PRINTABLE = None

_PRINTABLE_RE = re.compile(r"\A[A-Za-z0-9 '()+,\-./:=?]*\Z")
_PEM_CERT_RE = re.compile(rb"-----BEGIN CERTIFICATE-----\r?\n.+?-----END CERTIFICATE-----", re.S)

YEAR_SECONDS = 365 * 24 * 3600
MAX_SERIAL = 2 ** 63 - 1  # serial is uniform in [1, MAX_SERIAL)
USAGE_OIDS = ({"server": ExtendedKeyUsageOID.SERVER_AUTH, "client": ExtendedKeyUsageOID.CLIENT_AUTH}
              if HAS_CRYPTOGRAPHY else {})
_OID_USAGES = {oid.dotted_string: name for name, oid in USAGE_OIDS.items()}


def normalize_sans(dns, ips) -> tuple:
    """kubeadm RemoveDuplicateAltNames: DNS deduplicated + sorted, IPs deduplicated in order."""
    seen = set()
    out_ips = []
    for item in ips:
        addr = ipaddress.ip_address(str(item))
        if addr not in seen:
            seen.add(addr)
            out_ips.append(str(addr))
    return sorted(set(dns)), out_ips


def generate_key(algorithm: str = C.DEFAULT_ENCRYPTION_ALGORITHM):
    """A new private key for kubeadm's encryptionAlgorithm value."""
    if algorithm in ("RSA-2048", "RSA-3072", "RSA-4096"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(algorithm[4:]))
    if algorithm == "ECDSA-P256":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == "ECDSA-P384":
        return ec.generate_private_key(ec.SECP384R1())
    raise InvalidValue("encryptionAlgorithm", algorithm, "one of " + ", ".join(C.ENCRYPTION_ALGORITHMS))


def generate_keys(algorithm: str, count: int) -> list:
    """`count` new keys; RSA ones in parallel threads (OpenSSL drops the GIL while generating)."""
    if count <= 0:
        return []
    if algorithm not in C.ENCRYPTION_ALGORITHMS:
        raise InvalidValue("encryptionAlgorithm", algorithm, "one of " + ", ".join(C.ENCRYPTION_ALGORITHMS))
    workers = min(count, os.cpu_count() or 1)
    if count == 1 or workers == 1 or not algorithm.startswith("RSA-"):
        return [generate_key(algorithm) for _unused in range(count)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda _i: generate_key(algorithm), range(count)))


def key_to_pem(key) -> bytes:
    """PKCS#1 'RSA PRIVATE KEY' or SEC1 'EC PRIVATE KEY', as Go's keyutil writes them."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


def public_key_to_pem(key) -> bytes:
    """PKIX 'PUBLIC KEY' PEM (sa.pub) of a private or public key."""
    public = key.public_key() if hasattr(key, "public_key") else key
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _rsa_check_skippable() -> bool:
    """cryptography >= 39 can load an RSA key without OpenSSL's full check; 38 (Debian 12) cannot."""
    try:
        return "unsafe_skip_rsa_key_validation" in inspect.signature(serialization.load_pem_private_key).parameters
    except (TypeError, ValueError):  # pragma: no cover - no introspectable signature
        return False


SKIP_RSA_CHECK = HAS_CRYPTOGRAPHY and _rsa_check_skippable()


def _rsa_consistent(key) -> bool:
    """The checks Go's rsa.PrivateKey.Validate makes when kubeadm loads a key (p*q = n, d*e = 1
    mod p-1 and q-1), plus the CRT values OpenSSL signs with; no primality tests."""
    numbers = key.private_numbers()
    p, q, d, e = numbers.p, numbers.q, numbers.d, numbers.public_numbers.e
    return (p > 1 and q > 1 and p * q == numbers.public_numbers.n
            and d * e % (p - 1) == 1 and d * e % (q - 1) == 1
            and numbers.dmp1 == d % (p - 1) and numbers.dmq1 == d % (q - 1) and numbers.iqmp * q % p == 1)


def load_private_key(pem, source: str = "private key", will_sign: bool = False):
    """An RSA or ECDSA private key from PEM (PKCS#1, SEC1 or PKCS#8).

    A key loaded to compare (or derive) its public half skips OpenSSL's RSA key check where
    cryptography allows it (SKIP_RSA_CHECK, >= 39): the check tests p and q for primality, about
    40 ms a 2048-bit key, most of a no-op rerun. The cheap consistency checks kubeadm makes still
    reject a damaged key. A key that will sign (`will_sign`, see pki.CAState.signing_key) gets
    OpenSSL's full check.
    """
    if isinstance(pem, str):
        pem = pem.encode("utf-8")
    skip = SKIP_RSA_CHECK and not will_sign
    try:
        if skip:
            key = serialization.load_pem_private_key(pem, password=None, unsafe_skip_rsa_key_validation=True)
        else:
            key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise PKIError(f"{source}: not a readable unencrypted PEM private key ({exc})") from None
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise PKIError(f"{source}: the private key is neither RSA nor ECDSA")
    if skip and isinstance(key, rsa.RSAPrivateKey) and not _rsa_consistent(key):
        raise PKIError(f"{source}: not a readable unencrypted PEM private key (invalid RSA key: "
                       "its values are inconsistent)")
    return key


def load_certificate(pem, source: str = "certificate") -> x509.Certificate:
    """The first certificate of a PEM bundle."""
    return _load_pem(x509.load_pem_x509_certificate, pem, source, "certificate")


def cert_to_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def spki_der(public_key) -> bytes:
    """DER SubjectPublicKeyInfo (what SPKI pins hash)."""
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def check_pair(cert: x509.Certificate, key) -> bool:
    """True when `key` is the private key of `cert`."""
    return spki_der(cert.public_key()) == spki_der(key.public_key())


def load_certificates(pem) -> list:
    """Every certificate of a PEM bundle. x509.load_pem_x509_certificates needs cryptography 39+;
    Debian 12's python3-cryptography is 38: split the blocks there. ValueError when none."""
    data = pem if isinstance(pem, bytes) else str(pem).encode()
    loader = getattr(x509, "load_pem_x509_certificates", None)
    if loader is not None:
        return loader(data)
    blocks = _PEM_CERT_RE.findall(data)
    if not blocks:
        raise ValueError("no PEM certificate found")
    return [x509.load_pem_x509_certificate(block) for block in blocks]


def now_utc(now=None) -> datetime.datetime:
    now = now or datetime.datetime.now(datetime.timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=datetime.timezone.utc)
    return now.astimezone(datetime.timezone.utc).replace(microsecond=0)


def _name(cn: str, organizations=()) -> x509.Name:
    def attr(oid, value):
        if _PRINTABLE is not None and _PRINTABLE_RE.match(value):
            return x509.NameAttribute(oid, value, _type=_PRINTABLE)
        return x509.NameAttribute(oid, value)
    attrs = [attr(NameOID.ORGANIZATION_NAME, org) for org in organizations]
    attrs.append(attr(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def _hash_for(signing_key):
    if isinstance(signing_key, ec.EllipticCurvePrivateKey):
        size = signing_key.curve.key_size
        return hashes.SHA512() if size > 384 else hashes.SHA384() if size > 256 else hashes.SHA256()
    return hashes.SHA256()


def _public(key):
    return key.public_key() if hasattr(key, "private_bytes") else key


def _builder(subject, issuer, public_key, is_ca, usages, dns, ips, not_before, not_after):
    builder = (x509.CertificateBuilder()
               .subject_name(subject).issuer_name(issuer).public_key(public_key)
               .serial_number(secrets.randbelow(MAX_SERIAL - 1) + 1)
               .not_valid_before(not_before).not_valid_after(not_after)
               .add_extension(x509.KeyUsage(
                   digital_signature=True, content_commitment=False, key_encipherment=True,
                   data_encipherment=False, key_agreement=False, key_cert_sign=is_ca, crl_sign=False,
                   encipher_only=False, decipher_only=False), critical=True))
    if usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage([USAGE_OIDS[u] for u in usages]), critical=False)
    builder = builder.add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
    return builder


def _san(dns, ips):
    names = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    return x509.SubjectAlternativeName(names)


def new_ca(cn: str, key, validity_seconds: float = 10 * YEAR_SECONDS, now=None,
           organizations=()) -> x509.Certificate:
    """Self-signed CA like client-go NewSelfSignedCACert: DNS SAN = CN, SKI, no AKI, backdated 5m."""
    now = now_utc(now)
    name = _name(cn, organizations)
    builder = _builder(name, name, key.public_key(), True, (), [cn], [],
                       now - datetime.timedelta(seconds=C.CERTIFICATE_BACKDATE_SECONDS),
                       now + datetime.timedelta(seconds=validity_seconds))
    builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    builder = builder.add_extension(_san([cn], []), critical=False)
    return builder.sign(key, _hash_for(key))


def issue_certificate(ca_cert: x509.Certificate, ca_key, key, cn: str, organizations=(),
                      usages=("client",), dns=(), ips=(), validity_seconds: float = YEAR_SECONDS,
                      now=None) -> x509.Certificate:
    """A leaf signed by the CA, as kubeadm NewSignedCert (SANs normalised, AKI = CA's SKI)."""
    now = now_utc(now)
    dns, ips = normalize_sans(dns, ips)
    builder = _builder(_name(cn, organizations), ca_cert.subject, _public(key), False, tuple(usages),
                       dns, ips, now - datetime.timedelta(seconds=C.CERTIFICATE_BACKDATE_SECONDS),
                       now + datetime.timedelta(seconds=validity_seconds))
    try:
        ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
    except x509.ExtensionNotFound:
        pass
    if dns or ips:
        builder = builder.add_extension(_san(dns, ips), critical=False)
    return builder.sign(ca_key, _hash_for(ca_key))


def new_csr(key, cn: str, organizations=(), dns=(), ips=()) -> x509.CertificateSigningRequest:
    """A CSR like kubeadm pkiutil.NewCSR: subject CN + O, SANs deduplicated; no extensions besides
    the SANs (the signer decides usages)."""
    dns, ips = normalize_sans(dns, ips)
    builder = x509.CertificateSigningRequestBuilder().subject_name(_name(cn, organizations))
    if dns or ips:
        builder = builder.add_extension(_san(dns, ips), critical=False)
    return builder.sign(key, _hash_for(key))


def csr_to_pem(csr: x509.CertificateSigningRequest) -> bytes:
    return csr.public_bytes(serialization.Encoding.PEM)


def load_csr(pem, source: str = "certificate request") -> x509.CertificateSigningRequest:
    return _load_pem(x509.load_pem_x509_csr, pem, source, "certificate request")


def _load_pem(loader, pem, source: str, what: str):
    if isinstance(pem, str):
        pem = pem.encode("utf-8")
    try:
        return loader(pem)
    except ValueError as exc:
        raise PKIError(f"{source}: not a readable PEM {what} ({exc})") from None


def csr_matches(csr: x509.CertificateSigningRequest, key, cn: str, organizations=(), dns=(), ips=()) -> bool:
    """Whether an existing CSR was made for `key` with this subject and these SANs."""
    if spki_der(csr.public_key()) != spki_der(key.public_key()):
        return False
    have_cn, have_orgs = subject_fields(csr)
    if have_cn != cn or sorted(have_orgs) != sorted(organizations):
        return False
    have_dns, have_ips = cert_sans(csr)
    want_dns, want_ips = normalize_sans(dns, ips)
    return sorted(have_dns) == want_dns and sorted(have_ips) == sorted(want_ips)


def serial_hex(cert: x509.Certificate) -> str:
    """The serial as `openssl x509 -serial` prints it (upper-case hex, even length)."""
    text = "%X" % cert.serial_number
    return text if len(text) % 2 == 0 else "0" + text


def not_after(cert: x509.Certificate) -> datetime.datetime:
    value = getattr(cert, "not_valid_after_utc", None)
    return value if value is not None else cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)


def not_before(cert: x509.Certificate) -> datetime.datetime:
    value = getattr(cert, "not_valid_before_utc", None)
    return value if value is not None else cert.not_valid_before.replace(tzinfo=datetime.timezone.utc)


def iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def signed_by(cert: x509.Certificate, ca_cert: x509.Certificate) -> bool:
    """True when `ca_cert` issued `cert` (issuer name + signature)."""
    if cert.issuer != ca_cert.subject:
        return False
    verify = getattr(cert, "verify_directly_issued_by", None)
    try:
        if verify is not None:
            verify(ca_cert)
            return True
        public = ca_cert.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            public.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(),
                          cert.signature_hash_algorithm)
        elif isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
        else:
            return False
        return True
    except (InvalidSignature, ValueError, TypeError):
        return False


def subject_fields(cert) -> tuple:
    """(CN, [O...]) of a certificate (or CSR)."""
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    orgs = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    return (cns[0].value if cns else ""), orgs


def cert_usages(cert: x509.Certificate) -> list:
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return []
    return [_OID_USAGES.get(oid.dotted_string, oid.dotted_string) for oid in eku]


def cert_sans(cert) -> tuple:
    """(DNS names, IP strings) of a certificate (or CSR)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    return (list(san.get_values_for_type(x509.DNSName)),
            [str(ip) for ip in san.get_values_for_type(x509.IPAddress)])


def needs_regeneration(cert: x509.Certificate, key, ca_cert: x509.Certificate, want: dict,
                       now=None, exact_sans: bool = True) -> Optional[str]:
    """Why an existing cert/key cannot be kept as it is, or None when it can.

    `want` is `wanted(spec, cfg)`-shaped; want["dns"] None skips the SAN check.
    With exact_sans False extra SANs are accepted (certificates from an external CA).
    A reason starting with "SANs" means only the SANs differ.
    """
    now = now_utc(now)
    if key is None:
        return "its private key is missing"
    if not check_pair(cert, key):
        return "the certificate does not match its private key"
    if not signed_by(cert, ca_cert):
        return f"it is not signed by the CA '{subject_fields(ca_cert)[0]}'"
    if now < not_before(cert):
        return f"it is not valid before {iso(not_before(cert))}"
    if now >= not_after(cert):
        return f"it expired on {iso(not_after(cert))}"
    have_cn, have_orgs = subject_fields(cert)
    if have_cn != want["cn"]:
        return f"its CN is {have_cn!r}, wanted {want['cn']!r}"
    if sorted(have_orgs) != sorted(want.get("organizations") or []):
        return f"its organizations are {have_orgs}, wanted {list(want.get('organizations') or [])}"
    if sorted(cert_usages(cert)) != sorted(want.get("usages") or []):
        return f"its extended key usages are {cert_usages(cert)}, wanted {list(want.get('usages') or [])}"
    if want.get("dns") is not None:
        have_dns, have_ips = cert_sans(cert)
        have = set(have_dns) | {ipaddress.ip_address(i) for i in have_ips}
        need = set(want["dns"]) | {ipaddress.ip_address(i) for i in want.get("ips") or []}
        missing = sorted(str(x) for x in need - have)
        extra = sorted(str(x) for x in have - need) if exact_sans else []
        if missing or extra:
            parts = []
            if missing:
                parts.append("missing " + ", ".join(missing))
            if extra:
                parts.append("not wanted " + ", ".join(extra))
            return "SANs differ: " + "; ".join(parts)
    return None
