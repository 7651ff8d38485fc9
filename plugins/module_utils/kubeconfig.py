# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubeadm's kubeconfig phase: admin, super-admin, kubelet, controller-manager, scheduler.

Each file embeds ca.crt and a client certificate signed by the cluster CA.
An existing file is kept when its CA data is ca.crt and its client
certificate still chains to the CA with the wanted CN/O, matches its key and
has not expired (a different server URL only warns, as kubeadm does).
"""
from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Optional

from ansible_collections.kubeboot.cluster.plugins.module_utils.deps import yaml
from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import kubeconfigutil, netutil, pki, pkiutil
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import InvalidValue, PKIError


@dataclass(frozen=True)
class KubeconfigSpec:
    name: str            # phase name: "admin"
    file: str            # file name under /etc/kubernetes
    user: str            # client cert CN = kubeconfig user name ("" = system:node:<node>)
    organizations: tuple
    server: str          # "endpoint" (controlPlaneEndpoint), "local", "kubelet"
    on_join: bool        # also written by a control-plane join (kubelet.conf comes from TLS bootstrap)
    renewed: bool = True  # `kubeadm certs renew` / check-expiration (the kubelet rotates its own)


KUBECONFIGS = (
    KubeconfigSpec("admin", C.ADMIN_CONF, C.ADMIN_USER, (C.CLUSTER_ADMINS_GROUP,), "endpoint", True),
    KubeconfigSpec("super-admin", C.SUPER_ADMIN_CONF, C.SUPER_ADMIN_USER, (C.SYSTEM_MASTERS,), "endpoint", False),
    KubeconfigSpec("kubelet", C.KUBELET_CONF, "", (C.NODES_GROUP,), "kubelet", False, renewed=False),
    KubeconfigSpec("controller-manager", C.CONTROLLER_MANAGER_CONF, C.CONTROLLER_MANAGER_USER, (), "local", True),
    KubeconfigSpec("scheduler", C.SCHEDULER_CONF, C.SCHEDULER_USER, (), "local", True),
)
BY_NAME = {spec.name: spec for spec in KUBECONFIGS}
PHASES = tuple(spec.name for spec in KUBECONFIGS)  # kubeadm `init phase kubeconfig <name>`
JOIN_PHASES = tuple(spec.name for spec in KUBECONFIGS if spec.on_join)


# --- rendering and parsing -------------------------------------------------------

def _b64(data) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return base64.b64encode(data).decode("ascii")


def render_kubeconfig(server: str, ca_pem, user: str, client_cert_pem=None, client_key_pem=None,
                      token=None, cluster_name: str = C.CLUSTER_NAME, partial: bool = False) -> str:
    """A kubeconfig as kubeadm writes it (clientcmd.Write: keys sorted, preferences {}).

    `partial`: the external-CA form of `kubeadm certs generate-csr` - no CA data and only the
    client key; the signed certificate is added by the user."""
    if token is not None:
        credentials = {"token": token}
    elif client_key_pem is not None and (client_cert_pem is not None or partial):
        credentials = {"client-key-data": _b64(client_key_pem)}
        if client_cert_pem is not None:
            credentials["client-certificate-data"] = _b64(client_cert_pem)
    else:
        raise PKIError(f"kubeconfig for {user!r}: needs a client certificate and key, or a token")
    cluster = {"server": server}
    if ca_pem is not None:
        cluster["certificate-authority-data"] = _b64(ca_pem)
    context = f"{user}@{cluster_name}"
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": cluster}],
        "contexts": [{"name": context, "context": {"cluster": cluster_name, "user": user}}],
        "current-context": context,
        "preferences": {},
        "users": [{"name": user, "user": credentials}],
    }
    return _dump(doc)


def _dump(doc: dict) -> str:
    return yaml.safe_dump(doc, default_flow_style=False, sort_keys=True, width=1 << 30)


def replace_client_credentials(text, cert_pem: bytes, key_pem: bytes, source: str = "kubeconfig") -> str:
    """The kubeconfig with its current user's embedded client certificate and key replaced and
    everything else kept (kubeadm renewal's kubeConfigReadWriter.Write)."""
    doc = kubeconfigutil.load(text, source, PKIError)
    chosen = kubeconfigutil.select(doc)
    if chosen.user_entry is None:
        raise PKIError(f"{source}: its current context names no user")
    user = chosen.user_entry.setdefault("user", {})
    user["client-certificate-data"] = _b64(cert_pem)
    user["client-key-data"] = _b64(key_pem)
    return _dump(doc)


def parse_kubeconfig(text, source: str = "kubeconfig") -> dict:
    """The current context's cluster and user: server, CA PEM, client cert/key PEM, token.

    Returns {"cluster_name", "server", "ca_pem", "user_name", "client_cert_pem",
    "client_key_pem", "token"}; PEMs are bytes or None (only inline `*-data` is read here).
    """
    doc = kubeconfigutil.load(text, source, PKIError)
    chosen = kubeconfigutil.select(doc)

    def inline(section: dict, key: str):
        try:
            return kubeconfigutil.material(section, key, "")
        except InvalidValue:
            raise PKIError(f"{source}: {key} is not valid base64") from None
    return {
        "cluster_name": chosen.cluster_name,
        "server": chosen.cluster.get("server"),
        "ca_pem": inline(chosen.cluster, "certificate-authority-data"),
        "user_name": chosen.user_name,
        "client_cert_pem": inline(chosen.user, "client-certificate-data"),
        "client_key_pem": inline(chosen.user, "client-key-data"),
        "token": chosen.user.get("token"),
    }


# --- server URLs ---------------------------------------------------------------------

def local_endpoint(cfg) -> str:
    """https://<advertiseAddress>:<bindPort> (IPv6 bracketed)."""
    return netutil.https_url(cfg.advertise_address, cfg.bind_port)


def control_plane_endpoint(cfg) -> str:
    """https://<controlPlaneEndpoint> (port defaults to bindPort), else the local endpoint."""
    endpoint = cfg.cluster.get("controlPlaneEndpoint") or ""
    if not endpoint:
        return local_endpoint(cfg)
    host, port = netutil.split_host_port(endpoint, default_port=cfg.bind_port)
    return netutil.https_url(host, port)


def server_for(spec: KubeconfigSpec, cfg) -> str:
    if spec.server == "local":
        return local_endpoint(cfg)
    # ControlPlaneKubeletLocalMode (its stage and default per minor: versions.MINORS)
    if spec.server == "kubelet" and cfg.feature_enabled(C.FEATURE_CONTROL_PLANE_KUBELET_LOCAL_MODE):
        return local_endpoint(cfg)
    return control_plane_endpoint(cfg)


def user_for(spec: KubeconfigSpec, cfg) -> str:
    return spec.user or C.NODE_USER_PREFIX + cfg.node_name


# --- the kubeconfig phase set ----------------------------------------------------------

def selected(only=None) -> list:
    names = [spec.name for spec in KUBECONFIGS]
    if only is None:
        return names
    want = {str(n).rsplit("/", 1)[-1] for n in only}
    want = {n[:-len(".conf")] if n.endswith(".conf") else n for n in want}
    unknown = sorted(want - set(names) - {"all", "kubeconfig"})
    if unknown:
        raise InvalidValue("kubeconfig phases", unknown, "names among " + ", ".join(names))
    if want & {"all", "kubeconfig"}:
        return names
    return [n for n in names if n in want]


def _same_pem(a: bytes, b: bytes) -> bool:
    return (a or b"").strip() == (b or b"").strip()


@dataclass
class _Plan:
    spec: KubeconfigSpec
    path: str
    server: str
    user: str
    action: str = "created"
    reason: Optional[str] = None
    text: Optional[bytes] = None
    cert: object = None
    key: object = None
    warning: Optional[str] = None


def ensure_kubeconfigs(cfg, fs, writer, only=None) -> list:
    """Write (or keep) the kubeconfig files of `kubeadm init phase kubeconfig`."""
    now = pkiutil.now_utc()
    names = selected(only)
    ca_path = pki.cert_path(cfg, C.CA_BASE)
    ca = pki.load_ca(fs, cfg)
    external = ca.key is None
    cluster_name = cfg.cluster.get("clusterName") or C.CLUSTER_NAME

    plans = []
    problems = []
    for name in names:
        spec = BY_NAME[name]
        plan = _Plan(spec, C.kubeconfig_path(spec.file), server_for(spec, cfg), user_for(spec, cfg))
        plan.text = fs.read_bytes(plan.path)
        if plan.text is not None:
            _check_existing(plan, ca, ca_path, now, fs)
        elif external:
            plan.reason = "missing"
        if plan.reason and external:
            problems.append(f"{plan.path}: {plan.reason}")
        elif plan.reason and plan.text is not None:
            plan.action, plan.warning = "reissued", None
        plans.append(plan)
    if problems:
        raise PKIError(f"external CA mode ({pki.key_path(cfg, C.CA_BASE)} absent): these kubeconfig "
                       f"files are missing or invalid and cannot be created without the CA key: "
                       f"{'; '.join(problems)}. Provide them, or provide the CA key.")

    algorithm = pki.encryption_algorithm(cfg)
    todo = [p for p in plans if p.action in ("created", "reissued")]
    signing_key = ca.signing_key() if todo else None  # the CA key's full check, before anything is written
    pool = pkiutil.generate_keys(algorithm, sum(1 for p in todo if p.key is None))
    validity = pki.validity(cfg)

    results = []
    for plan in plans:
        if plan.action in ("created", "reissued"):
            if plan.key is None:
                plan.key = pool.pop()
            orgs = list(plan.spec.organizations)
            plan.cert = pkiutil.issue_certificate(ca.cert, signing_key, plan.key, plan.user, orgs, ("client",),
                                                  validity_seconds=validity, now=now)
            plan.text = render_kubeconfig(plan.server, ca.cert_pem, plan.user,
                                          pkiutil.cert_to_pem(plan.cert), pkiutil.key_to_pem(plan.key),
                                          cluster_name=cluster_name).encode("utf-8")
        changed = writer.write(plan.path, plan.text, C.MODE_KUBECONFIG, secret=True)
        action = "external" if external else plan.action
        result = {"name": plan.spec.name, "path": plan.path, "expires": pkiutil.iso(pkiutil.not_after(plan.cert)),
                  "changed": bool(changed), "action": action}
        if plan.reason and plan.action == "reissued":
            result["reason"] = plan.reason
        if plan.warning:
            result["warnings"] = [plan.warning]
        results.append(result)
    return results


def _check_existing(plan: _Plan, ca, ca_path: str, now, fs=None) -> None:
    """Fill plan.reason (why it must be re-issued) / plan.warning from the file on disk."""
    info = parse_kubeconfig(plan.text.decode("utf-8", "replace"), plan.path)
    if fs is not None and info["client_cert_pem"] is None:
        # Like kubeadm: credentials in files (kubelet.conf after kubelet-finalize points at
        # /var/lib/kubelet/pki/kubelet-client-current.pem) are read from there.
        user = kubeconfigutil.select(kubeconfigutil.load(plan.text, plan.path, PKIError)).user
        if user.get("client-certificate") and user.get("client-key"):
            info["client_cert_pem"] = fs.read_bytes(user["client-certificate"])
            info["client_key_pem"] = fs.read_bytes(user["client-key"])
    if info["ca_pem"] is None or not _same_pem(info["ca_pem"], ca.cert_pem):
        raise PKIError(f"{plan.path} exists but its certificate-authority-data is not {ca_path} "
                       f"(a kubeconfig for another cluster?): remove it or restore the matching CA")
    if info["server"] != plan.server:
        plan.warning = (f"{plan.path} points at {info['server']}, expected {plan.server}; "
                        "kept as it is (kubeadm does the same)")
    if info["client_cert_pem"] is None or info["client_key_pem"] is None:
        plan.reason = "it has no embedded client certificate and key"
        return
    try:
        cert = pkiutil.load_certificate(info["client_cert_pem"], plan.path + " client certificate")
        key = pkiutil.load_private_key(info["client_key_pem"], plan.path + " client key")
    except PKIError as exc:
        plan.reason = str(exc)
        return
    want = {"cn": plan.user, "organizations": list(plan.spec.organizations), "usages": ["client"], "dns": None}
    plan.reason = pkiutil.needs_regeneration(cert, key, ca.cert, want, now)
    plan.cert = cert
    if plan.reason is None:
        plan.action = "reused"
    elif pkiutil.check_pair(cert, key):
        plan.key = key  # re-issue with the key already in the file
