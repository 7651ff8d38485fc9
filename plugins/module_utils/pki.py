# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubeadm's certificate tree as data, and one generic create/verify/re-issue path.

`CERTS` mirrors kubeadm's certlist.go (name, base file name, signing CA, CN,
organizations, usages, SANs from the config); `ensure_certificates` is the
whole `certs` phase set: CAs are never regenerated once they exist, leaves are
reused when they still match what is wanted, re-issued from the existing CA
(with their existing key) when only the SANs moved, and created otherwise.
New keys are generated up front in a thread pool (OpenSSL releases the GIL
during RSA generation).
"""
from __future__ import annotations

import datetime
import hashlib
import ipaddress
import os
import re
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Optional

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
from ansible_collections.kubeboot.cluster.plugins.module_utils import durations, netutil
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import InvalidValue, PKIError

try:  # Go writes printable names as PrintableString; cryptography defaults to UTF8String
    from cryptography.x509.name import _ASN1Type
    _PRINTABLE = _ASN1Type.PrintableString
except ImportError:  # pragma: no cover - very old cryptography
    _PRINTABLE = None

_PRINTABLE_RE = re.compile(r"\A[A-Za-z0-9 '()+,\-./:=?]*\Z")
_DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_RE = re.compile(r"\A" + _DNS1123_LABEL + r"(\." + _DNS1123_LABEL + r")*\Z")
_WILDCARD_RE = re.compile(r"\A\*\." + _DNS1123_LABEL + r"(\." + _DNS1123_LABEL + r")*\Z")

YEAR_SECONDS = 365 * 24 * 3600
MAX_SERIAL = 2 ** 63 - 1  # serial is uniform in [1, MAX_SERIAL)
SA_PHASE = "sa"
USAGE_OIDS = ({"server": ExtendedKeyUsageOID.SERVER_AUTH, "client": ExtendedKeyUsageOID.CLIENT_AUTH}
              if HAS_CRYPTOGRAPHY else {})
_OID_USAGES = {oid.dotted_string: name for name, oid in USAGE_OIDS.items()}


# --- the table -----------------------------------------------------------------

@dataclass(frozen=True)
class CertSpec:
    """One row of kubeadm's certlist: a CA (ca == "") or a leaf signed by CA `ca`."""

    name: str                       # phase name: "apiserver", "etcd-server"
    base: str                       # file base name under certificatesDir: "etcd/server"
    ca: str = ""                    # phase name of the signing CA; "" = self-signed CA
    cn: str = ""                    # "" = the node name
    organizations: tuple = ()
    usages: tuple = ()              # subset of ("server", "client")
    sans: Optional[Callable] = None  # cfg -> (dns list, ip list, warnings)
    etcd: bool = False              # only with local etcd

    @property
    def is_ca(self) -> bool:
        return not self.ca

    def common_name(self, cfg) -> str:
        return self.cn or cfg.node_name


def _add_extra_sans(dns: list, ips: list, extra, cert_name: str, warnings: list) -> None:
    """kubeadm appendSANsToAltNames: IP, else RFC 1123 subdomain, else wildcard, else warn."""
    for item in extra or ():
        text = str(item)
        if netutil.is_ip(text):
            ips.append(text)
        elif len(text) <= 253 and (_DNS1123_SUBDOMAIN_RE.match(text) or _WILDCARD_RE.match(text)):
            dns.append(text)
        else:
            warnings.append(f"'{text}' was not added to the '{cert_name}' SAN, because it is not "
                            "a valid IP or RFC-1123 compliant DNS entry")


def apiserver_sans(cfg) -> tuple:
    """kubeadm GetAPIServerAltNames (before normalisation)."""
    cluster = cfg.cluster
    dns_domain = cluster["networking"]["dnsDomain"]
    dns = [cfg.node_name, "kubernetes", "kubernetes.default", "kubernetes.default.svc",
           f"kubernetes.default.svc.{dns_domain}"]
    ips = [netutil.nth_ip(cluster["networking"]["serviceSubnet"], 1), cfg.advertise_address]
    endpoint = cluster.get("controlPlaneEndpoint") or ""
    if endpoint:
        host, _port = netutil.split_host_port(endpoint)
        (ips if netutil.is_ip(host) else dns).append(host)
    warnings: list = []
    _add_extra_sans(dns, ips, cluster["apiServer"].get("certSANs"), "apiserver", warnings)
    return dns, ips, warnings


def _etcd_sans(key: str, cert_name: str) -> Callable:
    def sans(cfg) -> tuple:
        dns = [cfg.node_name, "localhost"]
        ips = [cfg.advertise_address, "127.0.0.1", "::1"]
        warnings: list = []
        local = cfg.cluster["etcd"].get("local") or {}
        _add_extra_sans(dns, ips, local.get(key), cert_name, warnings)
        return dns, ips, warnings
    return sans


etcd_server_sans = _etcd_sans("serverCertSANs", "etcd/server")
etcd_peer_sans = _etcd_sans("peerCertSANs", "etcd/peer")

CERTS = (
    CertSpec("ca", C.CA_BASE, cn=C.CA_CN),
    CertSpec("apiserver", C.APISERVER_BASE, "ca", C.APISERVER_CN, usages=("server",),
             sans=apiserver_sans),
    CertSpec("apiserver-kubelet-client", C.APISERVER_KUBELET_CLIENT_BASE, "ca",
             C.APISERVER_KUBELET_CLIENT_CN, (C.CLUSTER_ADMINS_GROUP,), ("client",)),
    CertSpec("front-proxy-ca", C.FRONT_PROXY_CA_BASE, cn=C.FRONT_PROXY_CA_CN),
    CertSpec("front-proxy-client", C.FRONT_PROXY_CLIENT_BASE, "front-proxy-ca",
             C.FRONT_PROXY_CLIENT_CN, usages=("client",)),
    CertSpec("etcd-ca", C.ETCD_CA_BASE, cn=C.ETCD_CA_CN, etcd=True),
    CertSpec("etcd-server", C.ETCD_SERVER_BASE, "etcd-ca", usages=("server", "client"),
             sans=etcd_server_sans, etcd=True),
    CertSpec("etcd-peer", C.ETCD_PEER_BASE, "etcd-ca", usages=("server", "client"),
             sans=etcd_peer_sans, etcd=True),
    CertSpec("etcd-healthcheck-client", C.ETCD_HEALTHCHECK_CLIENT_BASE, "etcd-ca",
             C.ETCD_HEALTHCHECK_CLIENT_CN, usages=("client",), etcd=True),
    CertSpec("apiserver-etcd-client", C.APISERVER_ETCD_CLIENT_BASE, "etcd-ca",
             C.APISERVER_ETCD_CLIENT_CN, usages=("client",), etcd=True),
)
CAS = tuple(spec for spec in CERTS if spec.is_ca)
BY_NAME = {spec.name: spec for spec in CERTS}
PHASES = tuple(spec.name for spec in CERTS) + (SA_PHASE,)


def cert_path(cfg, base: str) -> str:
    return f"{cfg.cert_dir}/{base}.crt"


def key_path(cfg, base: str) -> str:
    return f"{cfg.cert_dir}/{base}.key"


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


def wanted(spec: CertSpec, cfg) -> dict:
    """What the certificate for `spec` must contain under `cfg`."""
    dns, ips, warnings = spec.sans(cfg) if spec.sans else ([], [], [])
    if spec.is_ca:
        dns = [spec.common_name(cfg)]
    dns, ips = normalize_sans(dns, ips)
    return {"cn": spec.common_name(cfg), "organizations": list(spec.organizations),
            "usages": list(spec.usages), "dns": dns, "ips": ips, "warnings": warnings}


# --- keys --------------------------------------------------------------------

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


def load_private_key(pem, source: str = "private key"):
    """An RSA or ECDSA private key from PEM (PKCS#1, SEC1 or PKCS#8)."""
    if isinstance(pem, str):
        pem = pem.encode("utf-8")
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise PKIError(f"{source}: not a readable unencrypted PEM private key ({exc})") from None
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise PKIError(f"{source}: the private key is neither RSA nor ECDSA")
    return key


def load_certificate(pem, source: str = "certificate") -> x509.Certificate:
    """The first certificate of a PEM bundle."""
    if isinstance(pem, str):
        pem = pem.encode("utf-8")
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise PKIError(f"{source}: not a readable PEM certificate ({exc})") from None


def cert_to_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _spki_der(public_key) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def check_pair(cert: x509.Certificate, key) -> bool:
    """True when `key` is the private key of `cert`."""
    return _spki_der(cert.public_key()) == _spki_der(key.public_key())


def spki_pin(cert) -> str:
    """RFC 7469 pin 'sha256:<hex>' of a certificate (object, PEM bytes or str)."""
    if not isinstance(cert, x509.Certificate):
        cert = load_certificate(cert)
    return "sha256:" + hashlib.sha256(_spki_der(cert.public_key())).hexdigest()


def ca_cert_hash(fs, cfg) -> str:
    """--discovery-token-ca-cert-hash value of the cluster CA on this host."""
    path = cert_path(cfg, C.CA_BASE)
    pem = fs.read_bytes(path)
    if pem is None:
        raise PKIError(f"{path} does not exist: the certs/ca phase must run first")
    return spki_pin(load_certificate(pem, path))


# --- certificate creation ---------------------------------------------------------

_PEM_CERT_RE = re.compile(rb"-----BEGIN CERTIFICATE-----\r?\n.+?-----END CERTIFICATE-----", re.S)


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


# --- inspection -------------------------------------------------------------------

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


def subject_fields(cert: x509.Certificate) -> tuple:
    """(CN, [O...]) of a certificate."""
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    orgs = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    return (cns[0].value if cns else ""), orgs


def cert_usages(cert: x509.Certificate) -> list:
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return []
    return [_OID_USAGES.get(oid.dotted_string, oid.dotted_string) for oid in eku]


def cert_sans(cert: x509.Certificate) -> tuple:
    """(DNS names, IP strings) of a certificate."""
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


# --- the certs phase set ---------------------------------------------------------------

@dataclass
class CAState:
    spec: CertSpec
    cert: Optional[x509.Certificate] = None
    key: object = None
    cert_pem: Optional[bytes] = None
    key_pem: Optional[bytes] = None
    new: bool = False

    @property
    def external(self) -> bool:
        return self.cert is not None and self.key is None and not self.new


@dataclass
class _Leaf:
    spec: CertSpec
    want: dict
    action: str                       # created / reused / reissued / external
    reason: Optional[str] = None
    cert: Optional[x509.Certificate] = None
    key: object = None                # key to reuse (None => a new one)
    cert_pem: Optional[bytes] = None
    key_pem: Optional[bytes] = None
    warnings: list = field(default_factory=list)


def encryption_algorithm(cfg) -> str:
    value = cfg.cluster.get("encryptionAlgorithm") or C.DEFAULT_ENCRYPTION_ALGORITHM
    if value not in C.ENCRYPTION_ALGORITHMS:
        raise InvalidValue("encryptionAlgorithm", value, "one of " + ", ".join(C.ENCRYPTION_ALGORITHMS))
    return value


def validity(cfg, ca: bool = False) -> float:
    field_name = "caCertificateValidityPeriod" if ca else "certificateValidityPeriod"
    default = C.DEFAULT_CA_CERT_VALIDITY if ca else C.DEFAULT_CERT_VALIDITY
    return durations.parse_duration(cfg.cluster.get(field_name) or default, field_name)


def selected_phases(cfg, only=None) -> list:
    """Phase names to run, in kubeadm order (etcd ones dropped with external etcd)."""
    names = list(PHASES)
    if only is not None:
        wanted_names = {str(n).rsplit("/", 1)[-1] for n in only}
        unknown = sorted(wanted_names - set(PHASES) - {"all", "certs"})
        if unknown:
            raise InvalidValue("certs phases", unknown, "names among " + ", ".join(PHASES))
        if not wanted_names & {"all", "certs"}:
            names = [n for n in names if n in wanted_names]
    if not cfg.local_etcd:
        names = [n for n in names if n == SA_PHASE or not BY_NAME[n].etcd]
    return names


def load_ca(fs, cfg, base: str = C.CA_BASE, name: str = "ca") -> CAState:
    """Existing CA cert (+ key when present) after sanity checks; raises when the cert is missing."""
    state = _read_ca(fs, cfg, BY_NAME.get(name) or CertSpec(name, base, cn=name))
    if state is None:
        raise PKIError(f"{cert_path(cfg, base)} does not exist: the certs/{name} phase must run first")
    return state


def _read_ca(fs, cfg, spec: CertSpec, now=None) -> Optional[CAState]:
    crt, key = cert_path(cfg, spec.base), key_path(cfg, spec.base)
    cert_pem, key_pem = fs.read_bytes(crt), fs.read_bytes(key)
    if cert_pem is None:
        if key_pem is not None:
            raise PKIError(f"{key} exists but {crt} does not: restore the CA certificate or "
                           f"remove the key to create a new '{spec.name}' CA")
        return None
    cert = load_certificate(cert_pem, crt)
    if not is_ca(cert):
        raise PKIError(f"{crt} is not a CA certificate (BasicConstraints CA:TRUE missing)")
    moment = now_utc(now)
    if moment >= not_after(cert):
        raise PKIError(f"CA certificate {crt} expired on {iso(not_after(cert))}: renew the CA")
    state = CAState(spec, cert=cert, cert_pem=cert_pem)
    if key_pem is not None:
        ca_key = load_private_key(key_pem, key)
        if not check_pair(cert, ca_key):
            raise PKIError(f"CA certificate {crt} and key {key} do not match: restore the matching "
                           "pair (a CA is never regenerated over existing files)")
        state.key, state.key_pem = ca_key, key_pem
    return state


def _plan_leaf(fs, cfg, spec: CertSpec, ca: CAState, now) -> _Leaf:
    crt, keyfile = cert_path(cfg, spec.base), key_path(cfg, spec.base)
    want = wanted(spec, cfg)
    leaf = _Leaf(spec, want, "created", warnings=list(want["warnings"]))
    leaf.cert_pem, leaf.key_pem = fs.read_bytes(crt), fs.read_bytes(keyfile)
    if leaf.key_pem is not None:
        try:
            leaf.key = load_private_key(leaf.key_pem, keyfile)
        except PKIError as exc:
            leaf.reason = str(exc)
    if leaf.cert_pem is not None:
        try:
            leaf.cert = load_certificate(leaf.cert_pem, crt)
        except PKIError as exc:
            leaf.reason = str(exc)
    if ca.external:
        if leaf.cert is None or leaf.key is None:
            leaf.reason = leaf.reason or "missing"
        else:
            leaf.reason = needs_regeneration(leaf.cert, leaf.key, ca.cert, want, now, exact_sans=False)
        leaf.action = "external"
        return leaf
    if leaf.cert is not None and leaf.key is not None:
        if ca.new:
            leaf.reason = f"its CA '{ca.spec.name}' is being created"
        else:
            leaf.reason = needs_regeneration(leaf.cert, leaf.key, ca.cert, want, now)
        if leaf.reason is None:
            leaf.action = "reused"
            return leaf
        leaf.action = "reissued"
        if not check_pair(leaf.cert, leaf.key):
            leaf.key = None  # the key does not belong to the cert: start over with a new key
    elif leaf.cert is not None:
        leaf.action, leaf.reason = "reissued", leaf.reason or "its private key is missing"
    return leaf


def ensure_certificates(cfg, fs, writer, only=None) -> list:
    """Run kubeadm's certs phases; returns one result per certificate (and sa)."""
    now = now_utc()
    algorithm = encryption_algorithm(cfg)
    names = selected_phases(cfg, only)
    leaf_validity, ca_validity = validity(cfg), validity(cfg, ca=True)

    # 1. plan: load every involved CA once, decide each leaf
    cas: dict = {}
    for name in names:
        if name == SA_PHASE:
            continue
        spec = BY_NAME[name]
        ca_name = name if spec.is_ca else spec.ca
        if ca_name in cas:
            continue
        state = _read_ca(fs, cfg, BY_NAME[ca_name], now)
        if state is None:
            if ca_name not in names:
                raise PKIError(f"{cert_path(cfg, BY_NAME[ca_name].base)} does not exist: the "
                               f"certs/{ca_name} phase must run before certs/{name}")
            state = CAState(BY_NAME[ca_name], new=True)
        cas[ca_name] = state

    leaves = [_plan_leaf(fs, cfg, BY_NAME[n], cas[BY_NAME[n].ca], now)
              for n in names if n != SA_PHASE and not BY_NAME[n].is_ca]
    problems = [leaf for leaf in leaves if leaf.action == "external" and leaf.reason]
    if problems:
        details = "; ".join(
            f"{cert_path(cfg, leaf.spec.base)} / {key_path(cfg, leaf.spec.base)}: {leaf.reason}"
            for leaf in problems)
        cas_text = ", ".join(sorted({key_path(cfg, cas[leaf.spec.ca].spec.base) for leaf in problems}))
        raise PKIError(f"external CA mode ({cas_text} absent): these certificates are missing or "
                       f"invalid and cannot be created without the CA key: {details}. Provide them "
                       "signed by the external CA, or provide the CA key.")

    sa_key = None
    sa_pem = None
    if SA_PHASE in names:
        sa_pem = fs.read_bytes(key_path(cfg, C.SA_BASE))
        if sa_pem is not None:
            sa_key = load_private_key(sa_pem, key_path(cfg, C.SA_BASE))

    # 2. all new keys at once (parallel for RSA)
    need = sum(1 for ca in cas.values() if ca.new) + sum(
        1 for leaf in leaves if leaf.action in ("created", "reissued") and leaf.key is None)
    need += 1 if SA_PHASE in names and sa_key is None else 0
    pool = generate_keys(algorithm, need)

    # 3. execute in kubeadm order, writing key before cert
    results = []
    by_leaf = {leaf.spec.name: leaf for leaf in leaves}
    for name in names:
        if name == SA_PHASE:
            results.append(_ensure_sa(cfg, writer, sa_key, sa_pem, pool))
            continue
        spec = BY_NAME[name]
        crt, keyfile = cert_path(cfg, spec.base), key_path(cfg, spec.base)
        if spec.is_ca:
            ca = cas[name]
            if ca.new:
                ca.key = pool.pop()
                ca.cert = new_ca(spec.common_name(cfg), ca.key, ca_validity, now)
                ca.key_pem, ca.cert_pem = key_to_pem(ca.key), cert_to_pem(ca.cert)
                action = "created"
            else:
                action = "external" if ca.external else "reused"
            changed = False
            if ca.key_pem is not None:
                changed |= writer.write(keyfile, ca.key_pem, C.MODE_KEY, secret=True)
            changed |= writer.write(crt, ca.cert_pem, C.MODE_CERT)
            results.append(_result(name, crt, ca.cert, changed, action))
            continue
        leaf = by_leaf[name]
        ca = cas[spec.ca]
        if leaf.action in ("created", "reissued"):
            if leaf.key is None:
                leaf.key = pool.pop()
                leaf.key_pem = key_to_pem(leaf.key)
            want = leaf.want
            leaf.cert = issue_certificate(ca.cert, ca.key, leaf.key, want["cn"], want["organizations"],
                                          want["usages"], want["dns"], want["ips"], leaf_validity, now)
            leaf.cert_pem = cert_to_pem(leaf.cert)
        changed = writer.write(keyfile, leaf.key_pem, C.MODE_KEY, secret=True)
        changed |= writer.write(crt, leaf.cert_pem, C.MODE_CERT)
        result = _result(name, crt, leaf.cert, changed, leaf.action)
        if leaf.action == "reissued":
            result["reason"] = leaf.reason
        if leaf.warnings:
            result["warnings"] = leaf.warnings
        results.append(result)
    return results


def _ensure_sa(cfg, writer, sa_key, sa_pem, pool) -> dict:
    keyfile, pubfile = key_path(cfg, C.SA_BASE), f"{cfg.cert_dir}/{C.SA_BASE}.pub"
    action = "reused"
    if sa_key is None:
        sa_key = pool.pop()
        sa_pem = key_to_pem(sa_key)
        action = "created"
    changed = writer.write(keyfile, sa_pem, C.MODE_KEY, secret=True)
    changed |= writer.write(pubfile, public_key_to_pem(sa_key), C.MODE_CERT)
    return {"name": SA_PHASE, "path": keyfile, "expires": None, "changed": changed, "action": action}


def _result(name: str, path: str, cert, changed: bool, action: str) -> dict:
    return {"name": name, "path": path, "expires": iso(not_after(cert)), "changed": bool(changed),
            "action": action}
