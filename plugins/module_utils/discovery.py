# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How a joining node finds and trusts its cluster (kubeadm discovery/token, discovery/file).

Token discovery: read kube-public/cluster-info anonymously without TLS verification,
verify the detached JWS the bootstrapsigner put there with the token secret, check the
CA against the pinned public keys, then read cluster-info again over TLS trusting only
that CA and require the same bytes. Retries only while the data is not there yet
(bootstrapsigner lag); a wrong signature or pin fails at once.
"""
from __future__ import annotations

import base64
import http.client
import os
import re
import ssl
import time
import urllib.parse
from dataclasses import dataclass, field

try:  # reported by the module (deps.fail_if_missing) when absent
    from cryptography import x509
    HAS_CRYPTOGRAPHY = True
except ImportError:  # pragma: no cover
    HAS_CRYPTOGRAPHY = False

from ansible_collections.kubeboot.cluster.plugins.module_utils.deps import yaml
from ansible_collections.kubeboot.cluster.plugins.module_utils import apiclient, pki
from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import durations, errors, netutil
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import ConfigError, DiscoveryError

PIN_RE = re.compile(r"\A([A-Za-z0-9]+):([0-9a-fA-F]*)\Z")
HEX64_RE = re.compile(r"\A[0-9a-fA-F]{64}\Z")
DISCOVERY_RETRY_INTERVAL = 5.0

HASH_COMMAND = ("openssl x509 -pubkey -in /etc/kubernetes/pki/ca.crt | openssl rsa -pubin -outform der "
                "2>/dev/null | openssl dgst -sha256 -hex | sed 's/^.* //'")
NO_PIN_HELP = (
    "at least one CA public key pin (sha256:<64 hex>), or discovery_token_unsafe_skip_ca_verification: true "
    "(not recommended). Get the pin on a control-plane node with: " + HASH_COMMAND
    + " (prefix the result with sha256:), or from kubeboot.cluster.kubeadm_token with "
      "print_join_command: true, or the ca_cert_hash returned by kubeboot.cluster.kubeadm_init")


# --- pins (kubeadm util/pubkeypin) -----------------------------------------------------------

def parse_pin(value, field: str = "discovery_token_ca_cert_hash", warnings=None) -> str:
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
    """A set of allowed SPKI pins; `check(certs)` passes when any cert matches any pin."""

    def __init__(self, pins=(), warnings=None):
        self.pins = set()
        for pin in pins:
            self.allow(pin, warnings)

    def allow(self, pin, warnings=None) -> None:
        self.pins.add(parse_pin(pin, warnings=warnings))

    def __len__(self) -> int:
        return len(self.pins)

    def check(self, certs) -> bool:
        if isinstance(certs, x509.Certificate):
            certs = [certs]
        return any(pki.spki_pin(cert) in self.pins for cert in certs)


def load_ca_bundle(pem, source: str):
    try:
        certs = pki.load_certificates(pem)
    except ValueError as exc:
        raise DiscoveryError(f"{source}: certificate-authority-data holds no valid PEM certificate ({exc})") \
            from None
    if not certs:
        raise DiscoveryError(f"{source}: certificate-authority-data holds no certificate")
    return certs


# --- result ------------------------------------------------------------------------------

@dataclass
class Discovered:
    """What discovery found: where the cluster is and which CA it presents."""

    server: str
    ca_pem: bytes
    method: str                      # token | file
    token: str = ""                  # credential for TLS bootstrap (may be empty with client certs)
    client_cert_pem: bytes = None
    client_key_pem: bytes = None
    cluster_info: str = ""
    warnings: list = field(default_factory=list)

    @property
    def ca_hash(self) -> str:
        return pki.spki_pin(load_ca_bundle(self.ca_pem, "cluster CA")[0])

    def client(self, **kwargs):
        """API client with the TLS bootstrap credentials, trusting only the discovered CA."""
        if self.client_cert_pem and self.client_key_pem:
            return apiclient.Client(self.server, ca_pem=self.ca_pem, cert_pem=self.client_cert_pem,
                                    key_pem=self.client_key_pem, **kwargs)
        return apiclient.Client(self.server, ca_pem=self.ca_pem, token=self.token or None, **kwargs)


def parse_cluster_info(text: str, source: str = "cluster-info") -> tuple:
    """(server, ca_pem) of the single cluster of a cluster-info kubeconfig."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DiscoveryError(f"{source}: the kubeconfig is not valid YAML ({errors.yaml_problem(exc)})") from None
    clusters = (doc or {}).get("clusters") if isinstance(doc, dict) else None
    if not clusters or not isinstance(clusters, list):
        raise DiscoveryError(f"{source}: the kubeconfig defines no cluster")
    cluster = (clusters[0] or {}).get("cluster") or {}
    server = cluster.get("server")
    data = cluster.get("certificate-authority-data")
    if not server or not data:
        raise DiscoveryError(f"{source}: the cluster needs a server and certificate-authority-data")
    try:
        ca_pem = base64.b64decode(data)
    except (ValueError, TypeError):
        raise DiscoveryError(f"{source}: certificate-authority-data is not base64") from None
    return server, ca_pem


# --- token discovery -------------------------------------------------------------------------

_CLUSTER_INFO_PATH = f"/api/v1/namespaces/{C.KUBE_PUBLIC}/configmaps/{C.CLUSTER_INFO_CM}"


def _client(server: str, **kwargs):
    return apiclient.Client(server, timeout=10.0, retry_timeout=0, **kwargs)


def _fetch_cluster_info(client) -> dict:
    data = client.request("GET", _CLUSTER_INFO_PATH, retry=False)
    if not isinstance(data, dict):
        raise errors.APIError("GET", _CLUSTER_INFO_PATH, 200, "the answer is not a ConfigMap")
    return data.get("data") or {}


def token_discovery(endpoint: str, token: str, pins=(), unsafe_skip: bool = False,
                    timeout: float = 300.0, interval: float = DISCOVERY_RETRY_INTERVAL,
                    sleep=time.sleep, clock=time.monotonic, warnings=None) -> Discovered:
    """kubeadm discovery/token RetrieveValidatedConfigInfo. Raises DiscoveryError naming the check."""
    from ansible_collections.kubeboot.cluster.plugins.module_utils import tokens
    warnings = warnings if warnings is not None else []
    token_id, token_secret = tokens.split_token(token, "discovery_token")
    pin_set = PinSet(pins, warnings)
    if not pin_set and not unsafe_skip:
        raise DiscoveryError("token discovery: no CA pin given. Provide " + NO_PIN_HELP)
    host, port = netutil.split_host_port(endpoint)
    server = netutil.https_url(host, port)
    insecure = _client(server, insecure=True)
    jws_key = C.JWS_KEY_PREFIX + token_id

    deadline = clock() + timeout
    last = ""
    while True:
        try:
            data = _fetch_cluster_info(insecure)
            if jws_key in data:
                break
            last = (f"the cluster-info ConfigMap has no JWS signature for token id {token_id!r} "
                    "(the token is unknown, expired, lacks the 'signing' usage, or the bootstrap signer "
                    "has not signed it yet)")
        except errors.APIError as exc:
            last = f"cannot read the cluster-info ConfigMap: {exc}"
        if clock() >= deadline:
            raise DiscoveryError(f"token discovery: timed out after {durations.format_duration(timeout)} "
                                 f"at {server}: {last}")
        sleep(min(interval, max(0.0, deadline - clock())) or interval)

    kubeconfig = data.get(C.CLUSTER_INFO_KUBECONFIG_KEY) or ""
    if not kubeconfig:
        raise DiscoveryError(f"token discovery: the cluster-info ConfigMap at {server} has an empty kubeconfig")
    if not tokens.verify_detached_jws(kubeconfig, data[jws_key], token_id, token_secret):
        raise DiscoveryError(
            f"token discovery: JWS signature check failed: the cluster-info signature for token id "
            f"{token_id!r} at {server} was not made with this token's secret (wrong token, or a server "
            "impersonating the cluster); the cluster was not trusted and nothing was written")
    found_server, ca_pem = parse_cluster_info(kubeconfig)
    ca_certs = load_ca_bundle(ca_pem, "cluster-info")
    if not pin_set:
        warnings.append("token discovery: CA pinning was skipped (discovery_token_unsafe_skip_ca_verification); "
                        f"the cluster CA {pki.spki_pin(ca_certs[0])} is trusted on the token signature alone")
        return Discovered(server=found_server, ca_pem=ca_pem, method="token", token="",
                          cluster_info=kubeconfig, warnings=warnings)
    if not pin_set.check(ca_certs):
        got = ", ".join(pki.spki_pin(c) for c in ca_certs)
        raise DiscoveryError(
            f"token discovery: CA pin check failed: the CA in cluster-info at {server} has public key "
            f"{got}, which matches none of the pinned hashes ({', '.join(sorted(pin_set.pins))}); "
            "the cluster was not trusted and nothing was written")
    secure = _client(server, ca_pem=ca_pem)
    try:
        second = _fetch_cluster_info(secure).get(C.CLUSTER_INFO_KUBECONFIG_KEY) or ""
    except errors.APIError as exc:
        raise DiscoveryError(f"token discovery: TLS re-fetch check failed: cannot read cluster-info from "
                             f"{server} trusting only the pinned CA: {exc}") from None
    if second != kubeconfig:
        raise DiscoveryError(f"token discovery: TLS re-fetch check failed: the cluster-info read over "
                             f"verified TLS from {server} differs from the signed one")
    return Discovered(server=found_server, ca_pem=ca_pem, method="token", cluster_info=kubeconfig,
                      warnings=warnings)


# --- file discovery ------------------------------------------------------------------------

def _read_discovery_file(location: str, discovery_ca_file=None, timeout: float = 30.0) -> str:
    if location.startswith("file://"):
        location = urllib.parse.urlsplit(location).path
    if location.startswith("https://"):
        parsed = urllib.parse.urlsplit(location)
        context = ssl.create_default_context()
        if discovery_ca_file:
            try:
                context.load_verify_locations(cafile=discovery_ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise DiscoveryError(f"file discovery: discovery_ca_file {discovery_ca_file}: {exc}") from None
        conn = http.client.HTTPSConnection(parsed.hostname, parsed.port or 443, timeout=timeout,
                                           context=context)
        try:
            path = parsed.path + ("?" + parsed.query if parsed.query else "")
            conn.request("GET", path or "/", headers={"User-Agent": "kubeboot"})
            response = conn.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise DiscoveryError(f"file discovery: cannot fetch {location} (TLS verified with the host "
                                 f"CA bundle{' and ' + discovery_ca_file if discovery_ca_file else ''}): "
                                 f"{exc}") from None
        finally:
            conn.close()
        if response.status != 200:
            raise DiscoveryError(f"file discovery: GET {location}: HTTP {response.status}")
        return body.decode("utf-8", "replace")
    try:
        with open(location, encoding="utf-8") as handle:
            return handle.read()
    except OSError as exc:
        raise DiscoveryError(f"file discovery: cannot read {location}: {exc.strerror}") from None


def file_discovery(location: str, tls_bootstrap_token: str = "", discovery_ca_file=None,
                   timeout: float = 300.0, warnings=None) -> Discovered:
    """kubeadm discovery/file: a kubeconfig with server + CA; its credentials, or the token."""
    warnings = warnings if warnings is not None else []
    text = _read_discovery_file(location, discovery_ca_file)
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DiscoveryError(f"file discovery: {location} is not valid YAML ({errors.yaml_problem(exc)})") \
            from None
    if not isinstance(doc, dict) or not doc.get("clusters"):
        raise DiscoveryError(f"file discovery: {location} must be a kubeconfig with at least one cluster")
    base_dir = os.path.dirname(location) if not location.startswith("https://") else ""
    contexts = {c.get("name"): c.get("context") or {} for c in doc.get("contexts") or []}
    clusters = {c.get("name"): c.get("cluster") or {} for c in doc.get("clusters") or []}
    users = {u.get("name"): u.get("user") or {} for u in doc.get("users") or []}
    context = contexts.get(doc.get("current-context"))
    if context is not None:
        cluster, user = clusters.get(context.get("cluster")), users.get(context.get("user")) or {}
    elif len(clusters) == 1:
        cluster, user = next(iter(clusters.values())), (next(iter(users.values())) if len(users) == 1 else {})
    else:
        cluster, user = None, {}
    if not cluster or not cluster.get("server"):
        raise DiscoveryError(f"file discovery: {location} needs an unnamed cluster or a current-context "
                             "whose cluster has a server")
    ca_pem = _data_or_file(cluster, "certificate-authority-data", "certificate-authority", base_dir, location)
    if not ca_pem:
        raise DiscoveryError(f"file discovery: {location}: the cluster has no certificate-authority-data "
                             "(the CA the node must trust)")
    load_ca_bundle(ca_pem, location)
    cert = _data_or_file(user, "client-certificate-data", "client-certificate", base_dir, location)
    key = _data_or_file(user, "client-key-data", "client-key", base_dir, location)
    token = user.get("token") or ""
    if not token and user.get("tokenFile"):
        token = (_data_or_file(user, "", "tokenFile", base_dir, location) or b"").decode().strip()
    has_credentials = bool(token or (cert and key))
    if not has_credentials:
        token = tls_bootstrap_token
        if not token:
            raise DiscoveryError(f"file discovery: {location} holds no credentials: set tls_bootstrap_token "
                                 "(or token) for the TLS bootstrap")
    server = cluster["server"]
    result = Discovered(server=server, ca_pem=ca_pem, method="file", token=token,
                        client_cert_pem=cert if cert and key else None,
                        client_key_pem=key if cert and key else None, warnings=warnings)
    # Validate the TLS connection early and refresh from cluster-info when readable (anonymous,
    # or with the file's own credentials), as kubeadm does.
    probe = apiclient.Client(server, ca_pem=ca_pem, timeout=10.0, retry_timeout=0,
                             cert_pem=result.client_cert_pem, key_pem=result.client_key_pem,
                             token=token if has_credentials and token else None)
    deadline = time.monotonic() + timeout
    data = None
    while True:
        try:
            data = _fetch_cluster_info(probe)
            break
        except errors.APIError as exc:
            if exc.status in (401, 403, 404):
                warnings.append(f"file discovery: cannot read the cluster-info ConfigMap ({exc.status}); "
                                "the TLS connection to the API server is verified, so proceeding")
                break
            if isinstance(exc.message, str) and "CERTIFICATE_VERIFY_FAILED" in exc.message:
                raise DiscoveryError(f"file discovery: TLS check failed: {server} does not present a "
                                     f"certificate signed by the CA in {location}: {exc}") from None
            if time.monotonic() >= deadline:
                raise DiscoveryError(f"file discovery: timed out reaching {server}: {exc}") from None
            time.sleep(min(DISCOVERY_RETRY_INTERVAL, max(0.1, deadline - time.monotonic())))
    if data and data.get(C.CLUSTER_INFO_KUBECONFIG_KEY):
        try:
            refreshed_server, refreshed_ca = parse_cluster_info(data[C.CLUSTER_INFO_KUBECONFIG_KEY])
        except DiscoveryError as exc:
            warnings.append(f"file discovery: cluster-info is not usable ({exc}); keeping {location}")
        else:
            result.cluster_info = data[C.CLUSTER_INFO_KUBECONFIG_KEY]
            if refreshed_server != server:
                warnings.append(f"file discovery: the API server endpoint {server} in {location} differs from "
                                f"{refreshed_server} in the cluster-info ConfigMap; using {refreshed_server}")
                result.server = refreshed_server
            if refreshed_ca.strip() != ca_pem.strip():
                warnings.append(f"file discovery: the CA in {location} differs from the one in cluster-info; "
                                f"keeping the CA of {location}")
    return result


def _data_or_file(section: dict, data_key: str, file_key: str, base_dir: str, location: str):
    if location.startswith("https://") and section.get(file_key) and not (data_key and section.get(data_key)):
        # a downloaded file must not make this node read its own files and send them to a server it names
        raise DiscoveryError(f"file discovery: {location}: {file_key} names a local file, which a discovery "
                             f"file fetched over HTTPS may not do; embed it ({data_key or 'token'})")
    try:
        return apiclient.kubeconfig_material(section, data_key, file_key, base_dir)
    except errors.KubebootError as exc:
        raise DiscoveryError(f"file discovery: {location}: {exc}") from None


def discover(cfg, warnings=None, sleep=time.sleep, interval: float = DISCOVERY_RETRY_INTERVAL) -> Discovered:
    """Run the discovery the JoinConfig asks for."""
    discovery = cfg.discovery
    timeout = cfg.timeout("discovery")
    bootstrap = discovery.get("bootstrapToken")
    if bootstrap:
        result = token_discovery(bootstrap["apiServerEndpoint"], bootstrap["token"],
                                 bootstrap.get("caCertHashes") or [],
                                 bool(bootstrap.get("unsafeSkipCAVerification")), timeout=timeout,
                                 interval=interval, sleep=sleep, warnings=warnings)
        result.token = cfg.tls_bootstrap_token or bootstrap["token"]
        return result
    return file_discovery(discovery["file"]["kubeConfigPath"], cfg.tls_bootstrap_token,
                          (cfg.options or {}).get("discovery_ca_file"), timeout=timeout, warnings=warnings)
