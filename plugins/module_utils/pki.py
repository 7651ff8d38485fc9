# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubeadm's certificate tree as data, and one generic create/verify/re-issue path.

`CERTS` mirrors kubeadm's certlist.go (name, base file name, signing CA, CN,
organizations, usages, SANs from the config); with the service-account key pair it
is the only source of PKI file names (`cert_path`, `key_path`, `files`), of the
`certs/*` sub-phases (`PHASES`) and of the files upload-certs shares (`SHARED`).
`ensure_certificates` is the whole `certs` phase set: CAs are never regenerated once
they exist, leaves are reused when they still match what is wanted, re-issued from the
existing CA (with their existing key) when only the SANs moved, and created otherwise.
New keys are generated up front in a thread pool (pkiutil.generate_keys).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import durations, netutil, pubkeypin, validators
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import InvalidValue, PKIError
from ansible_collections.kubeboot.cluster.plugins.module_utils.pkiutil import (
    SKIP_RSA_CHECK, check_pair, cert_to_pem, generate_keys, is_ca, iso, issue_certificate, key_to_pem,
    load_certificate, load_private_key, needs_regeneration, new_ca, normalize_sans, not_after, now_utc,
    public_key_to_pem)

SA_PHASE = "sa"


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
        kind = validators.san_kind(text)
        if kind == "ip":
            ips.append(text)
        elif kind == "dns":
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


def subdir(cfg, name: str = "") -> str:
    """Host path of certificatesDir (or a directory in it, such as etcd/)."""
    root = cfg.cert_dir.rstrip("/")
    return f"{root}/{name}" if name else root


def cert_path(cfg, base: str) -> str:
    """Host path of a certificate, by its kubeadm base name (constants *_BASE)."""
    return f"{subdir(cfg)}/{base}.crt"


def key_path(cfg, base: str) -> str:
    return f"{subdir(cfg)}/{base}.key"


def public_key_path(cfg, base: str = C.SA_BASE) -> str:
    return f"{subdir(cfg)}/{base}.pub"


def files(cfg, name: str) -> tuple:
    """(certificate or public key, private key) host paths of a `certs/<name>` phase."""
    if name == SA_PHASE:
        return public_key_path(cfg, C.SA_BASE), key_path(cfg, C.SA_BASE)
    base = BY_NAME[name].base
    return cert_path(cfg, base), key_path(cfg, base)


def identity_files(cfg, name: str) -> tuple:
    """(CA certificate, certificate, key) host paths of the client identity `certs/<name>` (e.g.
    etcd-healthcheck-client: etcd/ca.crt, etcd/healthcheck-client.crt, etcd/healthcheck-client.key)."""
    spec = BY_NAME[name]
    return (cert_path(cfg, BY_NAME[spec.ca or name].base),) + files(cfg, name)


# What control-plane nodes share (kubeadm copycerts.certsToTransfer): the CAs, the SA pair.
SHARED = tuple(spec.name for spec in CERTS if spec.is_ca) + (SA_PHASE,)


def wanted(spec: CertSpec, cfg) -> dict:
    """What the certificate for `spec` must contain under `cfg`."""
    dns, ips, warnings = spec.sans(cfg) if spec.sans else ([], [], [])
    if spec.is_ca:
        dns = [spec.common_name(cfg)]
    dns, ips = normalize_sans(dns, ips)
    return {"cn": spec.common_name(cfg), "organizations": list(spec.organizations),
            "usages": list(spec.usages), "dns": dns, "ips": ips, "warnings": warnings}


def ca_cert_hash(fs, cfg) -> str:
    """--discovery-token-ca-cert-hash value of the cluster CA on this host."""
    path = cert_path(cfg, C.CA_BASE)
    pem = fs.read_bytes(path)
    if pem is None:
        raise PKIError(f"{path} does not exist: the certs/ca phase must run first")
    return pubkeypin.pin(load_certificate(pem, path))


# --- the certs phase set ---------------------------------------------------------------

@dataclass
class CAState:
    spec: CertSpec
    cert: object = None
    key: object = None
    cert_pem: Optional[bytes] = None
    key_pem: Optional[bytes] = None
    new: bool = False
    key_file: str = ""
    key_checked: bool = False         # the key passed OpenSSL's full check

    @property
    def external(self) -> bool:
        return self.cert is not None and self.key is None and not self.new

    def signing_key(self):
        """The CA key for signing: a key read from disk gets OpenSSL's full check once, here."""
        if not (self.new or self.key_checked) and self.key_pem is not None:
            self.key = load_private_key(self.key_pem, self.key_file, will_sign=True)
            self.key_checked = True
        return self.key


@dataclass
class _Leaf:
    spec: CertSpec
    want: dict
    action: str                       # created / reused / reissued / external
    reason: Optional[str] = None
    cert: object = None
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
        state.key, state.key_pem, state.key_file = ca_key, key_pem, key
        state.key_checked = not SKIP_RSA_CHECK  # without the skip the load was the full check
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

    for leaf in leaves:  # a CA key that will sign gets its full check before anything is written
        if leaf.action in ("created", "reissued"):
            cas[leaf.spec.ca].signing_key()

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
            leaf.cert = issue_certificate(ca.cert, ca.signing_key(), leaf.key, want["cn"], want["organizations"],
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
