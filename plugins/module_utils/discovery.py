# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How a joining node finds and trusts its cluster (kubeadm discovery/token, discovery/file).

Token discovery: read kube-public/cluster-info anonymously without TLS verification,
verify the detached JWS the bootstrapsigner put there with the token secret, check the
CA against the pinned public keys, then read cluster-info again over TLS trusting only
the pinned CA certificates and require the same bytes. Retries only while the data is not
there yet (bootstrapsigner lag); a wrong signature or pin fails at once.

Beyond kubeadm: a CA bundle in cluster-info is trusted only for its pinned certificates
(anyone who knows the token can sign a bundle holding the real CA and their own); the
others are dropped with a warning and never reach ca.crt or bootstrap-kubelet.conf. A
discovery file may carry a bootstrap token or a node identity, never other credentials (an
admin.conf would become the kubelet's bootstrap identity). `discovery_timeout` bounds the
whole discovery: every exchange shares its deadline (apiclient.deadline_guard).
"""
from __future__ import annotations

import http.client
import posixpath
import time
import urllib.parse
from dataclasses import dataclass, field

from ansible_collections.kubeboot.cluster.plugins.module_utils import apiclient, kubeconfigutil, poll, pubkeypin
from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import durations, errors, netutil, pkiutil, tlsutil, tokens
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import DiscoveryError
from ansible_collections.kubeboot.cluster.plugins.module_utils.files import NODE

DISCOVERY_RETRY_INTERVAL = 5.0
MAX_DISCOVERY_FILE_BYTES = 1024 * 1024  # a kubeconfig; anything bigger is not one
LAST_EXCHANGE_GRACE = 2.0  # the attempt made when discovery_timeout is reached may take this long


def load_ca_bundle(pem, source: str):
    try:
        certs = pkiutil.load_certificates(pem)
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
        return pubkeypin.pin(load_ca_bundle(self.ca_pem, "cluster CA")[0])

    def client(self, **kwargs):
        """API client with the TLS bootstrap credentials, trusting only the discovered CA."""
        if self.client_cert_pem and self.client_key_pem:
            return apiclient.Client(self.server, ca_pem=self.ca_pem, cert_pem=self.client_cert_pem,
                                    key_pem=self.client_key_pem, **kwargs)
        return apiclient.Client(self.server, ca_pem=self.ca_pem, token=self.token or None, **kwargs)


def parse_cluster_info(text: str, source: str = "cluster-info") -> tuple:
    """(server, ca_pem) of the single cluster of a cluster-info kubeconfig."""
    doc = kubeconfigutil.load(text, f"{source}: the kubeconfig", DiscoveryError)
    cluster = kubeconfigutil.select(doc).cluster
    if not doc.get("clusters") or not isinstance(doc["clusters"], list):
        raise DiscoveryError(f"{source}: the kubeconfig defines no cluster")
    if not cluster.get("server") or not cluster.get("certificate-authority-data"):
        raise DiscoveryError(f"{source}: the cluster needs a server and certificate-authority-data")
    try:
        return cluster["server"], kubeconfigutil.material(cluster, "certificate-authority-data", "")
    except errors.InvalidValue:
        raise DiscoveryError(f"{source}: certificate-authority-data is not base64") from None


# --- token discovery -------------------------------------------------------------------------

_CLUSTER_INFO_PATH = f"/api/v1/namespaces/{C.KUBE_PUBLIC}/configmaps/{C.CLUSTER_INFO_CM}"


def _client(server: str, deadline: float, **kwargs):
    return apiclient.Client(server, timeout=10.0, retry_timeout=0, deadline=deadline, **kwargs)


def _fetch_cluster_info(client) -> dict:
    data = client.request("GET", _CLUSTER_INFO_PATH, retry=False)
    if not isinstance(data, dict):
        raise errors.APIError("GET", _CLUSTER_INFO_PATH, 200, "the answer is not a ConfigMap")
    return data.get("data") or {}


def token_discovery(endpoint: str, token: str, pins=(), unsafe_skip: bool = False,
                    timeout: float = 300.0, interval: float = DISCOVERY_RETRY_INTERVAL,
                    sleep=time.sleep, clock=time.monotonic, warnings=None) -> Discovered:
    """kubeadm discovery/token RetrieveValidatedConfigInfo. Raises DiscoveryError naming the check."""
    warnings = warnings if warnings is not None else []
    token_id, token_secret = tokens.split_token(token, "discovery_token")
    pin_set = pubkeypin.PinSet(pins, warnings)
    if not pin_set and not unsafe_skip:
        raise DiscoveryError("token discovery: no CA pin given. Provide " + pubkeypin.NO_PIN_HELP)
    host, port = netutil.split_host_port(endpoint)
    server = netutil.https_url(host, port)
    deadline = clock() + timeout + LAST_EXCHANGE_GRACE if clock is time.monotonic else None
    insecure = _client(server, deadline, insecure=True)
    jws_key = C.JWS_KEY_PREFIX + token_id

    def signed_cluster_info():
        # retried only while the data is not there yet (bootstrapsigner lag); bad data fails below at once
        try:
            data = _fetch_cluster_info(insecure)
        except errors.APIError as exc:
            raise poll.NotYet(f"cannot read the cluster-info ConfigMap: {exc}") from None
        if jws_key not in data:
            raise poll.NotYet(f"the cluster-info ConfigMap has no JWS signature for token id {token_id!r} "
                              "(the token is unknown, expired, lacks the 'signing' usage, or the bootstrap "
                              "signer has not signed it yet)")
        return data

    def timed_out(last):
        return DiscoveryError(f"token discovery: timed out after {durations.format_duration(timeout)} "
                              f"at {server}: {last}")
    data = poll.wait_for(signed_cluster_info, timeout, interval, retry_on=(), on_timeout=timed_out,
                         cap_to_deadline=True, sleep=sleep, clock=clock)

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
                        f"the cluster CA {pubkeypin.pin(ca_certs[0])} is trusted on the token signature alone")
        return Discovered(server=found_server, ca_pem=ca_pem, method="token", token="",
                          cluster_info=kubeconfig, warnings=warnings)
    pinned = [cert for cert in ca_certs if pin_set.check(cert)]
    if not pinned:
        got = ", ".join(pubkeypin.pin(c) for c in ca_certs)
        raise DiscoveryError(
            f"token discovery: CA pin check failed: the CA in cluster-info at {server} has public key "
            f"{got}, which matches none of the pinned hashes ({', '.join(sorted(pin_set.pins))}); "
            "the cluster was not trusted and nothing was written")
    if len(pinned) < len(ca_certs):
        dropped = ", ".join(pubkeypin.pin(c) for c in ca_certs if c not in pinned)
        warnings.append(f"token discovery: the cluster-info CA bundle at {server} also holds certificate(s) "
                        f"{dropped} that match no pinned hash: they are not trusted (only the pinned CA is used "
                        "for TLS and written to this node); pin them too if they belong to the cluster")
    ca_pem = b"".join(pkiutil.cert_to_pem(cert) for cert in pinned)
    secure = _client(server, deadline, ca_pem=ca_pem)
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
    """The discovery kubeconfig: from an https:// URL (host CA bundle plus discovery_ca_file), or
    a local file on this node (files.NODE: a path the user hands in, not inside the rootfs)."""
    if location.startswith("file://"):
        location = urllib.parse.urlsplit(location).path
    if not location.startswith("https://"):
        try:
            text = NODE.read_text(location) if posixpath.isabs(location) else None
        except (errors.FileError, UnicodeDecodeError) as exc:
            raise DiscoveryError(f"file discovery: cannot read {location}: {exc}") from None
        if text is None:
            raise DiscoveryError(f"file discovery: cannot read {location}: No such file or directory")
        return text
    extra = None
    if discovery_ca_file:
        extra = NODE.read_bytes(discovery_ca_file)
        if extra is None:
            raise DiscoveryError(f"file discovery: discovery_ca_file {discovery_ca_file}: No such file or directory")
    try:
        context = tlsutil.client_context(extra_ca_pem=extra, what="discovery_ca_file")
    except errors.InvalidValue as exc:
        raise DiscoveryError(f"file discovery: discovery_ca_file {discovery_ca_file}: {exc.allowed}") from None
    parsed = urllib.parse.urlsplit(location)
    conn = http.client.HTTPSConnection(parsed.hostname, parsed.port or 443, timeout=timeout, context=context)
    try:
        path = parsed.path + ("?" + parsed.query if parsed.query else "")
        with apiclient.deadline_guard(conn, timeout):
            conn.request("GET", path or "/", headers={"User-Agent": "kubeboot"})
            response = conn.getresponse()
            body = apiclient.read_answer(response, MAX_DISCOVERY_FILE_BYTES)
    except apiclient.AnswerTooLarge as exc:
        raise DiscoveryError(f"file discovery: {location}: {exc}") from None
    except (OSError, http.client.HTTPException) as exc:
        raise DiscoveryError(f"file discovery: cannot fetch {location} (TLS verified with the host "
                             f"CA bundle{' and ' + discovery_ca_file if discovery_ca_file else ''}): "
                             f"{exc}") from None
    finally:
        conn.close()
    if response.status != 200:
        raise DiscoveryError(f"file discovery: GET {location}: HTTP {response.status}")
    return body.decode("utf-8", "replace")


def file_discovery(location: str, tls_bootstrap_token: str = "", discovery_ca_file=None,
                   timeout: float = 300.0, warnings=None) -> Discovered:
    """kubeadm discovery/file: a kubeconfig with server + CA; its credentials, or the token."""
    warnings = warnings if warnings is not None else []
    started = time.monotonic()
    text = _read_discovery_file(location, discovery_ca_file, timeout)
    doc = kubeconfigutil.load(text, f"file discovery: {location}", DiscoveryError)
    if not doc.get("clusters"):
        raise DiscoveryError(f"file discovery: {location} must be a kubeconfig with at least one cluster")
    base_dir = posixpath.dirname(location) if not location.startswith("https://") else ""
    chosen = kubeconfigutil.select(doc)
    cluster, user = chosen.cluster, chosen.user
    if not cluster.get("server"):
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
        token = (_data_or_file(user, "", "tokenFile", base_dir, location) or b"").decode("utf-8", "replace").strip()
    has_credentials = bool(token or (cert and key))
    _check_bootstrap_credentials(location, token, cert if cert and key else None)
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
    deadline = started + timeout + LAST_EXCHANGE_GRACE
    probe = apiclient.Client(server, ca_pem=ca_pem, timeout=10.0, retry_timeout=0, deadline=deadline,
                             cert_pem=result.client_cert_pem, key_pem=result.client_key_pem,
                             token=token if has_credentials and token else None)

    def read_cluster_info():
        try:
            return (_fetch_cluster_info(probe),)
        except errors.APIError as exc:
            if exc.status in (401, 403, 404):
                warnings.append(f"file discovery: cannot read the cluster-info ConfigMap ({exc.status}); "
                                "the TLS connection to the API server is verified, so proceeding")
                return (None,)
            if isinstance(exc.message, str) and "CERTIFICATE_VERIFY_FAILED" in exc.message:
                raise DiscoveryError(f"file discovery: TLS check failed: {server} does not present a "
                                     f"certificate signed by the CA in {location}: {exc}") from None
            raise

    (data,) = poll.wait_for(read_cluster_info, max(0.0, started + timeout - time.monotonic()), DISCOVERY_RETRY_INTERVAL,
                            cap_to_deadline=True,
                            on_timeout=lambda last: DiscoveryError(
                                f"file discovery: timed out reaching {server}: {last}"))
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


def _check_bootstrap_credentials(location: str, token: str, cert_pem) -> None:
    """The credentials of a discovery file become the kubelet's bootstrap identity
    (bootstrap-kubelet.conf): a bootstrap token or a node's own certificate, nothing else."""
    if token and not tokens.is_valid_token(token):
        raise DiscoveryError(
            f"file discovery: credentials check failed: {location} holds a bearer token that is not a bootstrap "
            "token ([a-z0-9]{6}.[a-z0-9]{16}); it would be stored in bootstrap-kubelet.conf. Use a discovery file "
            "without a user (and set tls_bootstrap_token), or one with a bootstrap token")
    if cert_pem is None:
        return
    try:
        cn, groups = pkiutil.subject_fields(pkiutil.load_certificate(cert_pem, f"{location} client certificate"))
    except errors.PKIError as exc:
        raise DiscoveryError(f"file discovery: {exc}") from None
    if not (cn.startswith(C.NODE_USER_PREFIX) and C.NODES_GROUP in groups):
        raise DiscoveryError(
            f"file discovery: credentials check failed: {location} holds a client certificate for {cn!r} (groups "
            f"{', '.join(groups) or 'none'}), not a node identity ({C.NODE_USER_PREFIX}<name> in {C.NODES_GROUP}); "
            "cluster-admin or other credentials are never stored in bootstrap-kubelet.conf. Use a discovery file "
            "without a user (and set tls_bootstrap_token), or one with a bootstrap token")


def _data_or_file(section: dict, data_key: str, file_key: str, base_dir: str, location: str):
    if location.startswith("https://") and section.get(file_key) and not (data_key and section.get(data_key)):
        # a downloaded file must not make this node read its own files and send them to a server it names
        raise DiscoveryError(f"file discovery: {location}: {file_key} names a local file, which a discovery "
                             f"file fetched over HTTPS may not do; embed it ({data_key or 'token'})")
    try:
        return kubeconfigutil.material(section, data_key, file_key, NODE, base_dir)
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
