# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`kubeadm kubeconfig user`: a kubeconfig for another user, as the kubeadm_kubeconfig module body.

A client certificate (CN = client_name, O = org) signed by the cluster CA for validity_period
(kubeadm phases/kubeconfig WriteKubeConfigWithClientCert, through `pkiutil.issue_certificate` and
`kubeconfig.render_kubeconfig`), or a token instead of the certificate (WriteKubeConfigWithToken).
The server is kubeadm's: controlPlaneEndpoint, else localAPIEndpoint, of `config`; without a config
file, the server of this node's admin.conf (which init wrote from the same fields).

Written to `path` (0600, through `files.Writer`: check mode, diff without secrets, kept when it
still fits) or returned. A returned kubeconfig holds a private key or token: it is returned only
to a task with `no_log: true` (a module cannot hide its own result from the callbacks).
"""
from __future__ import annotations

import posixpath

from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import (
    config, durations, errors, kubeconfig, kubeconfigutil, pki, pkiutil, validators)
from ansible_collections.kubeboot.cluster.plugins.module_utils.files import HostFS, Writer

ADMIN_KUBECONFIG = C.kubeconfig_path(C.ADMIN_CONF)
DEFAULT_VALIDITY = durations.parse_duration(C.DEFAULT_CERT_VALIDITY)


def _check(params: dict, warnings: list) -> dict:
    """The validated request; one clear error per bad value, before anything is read or written."""
    name = params.get("client_name")
    if not isinstance(name, str) or not name.strip() or name != name.strip():
        raise errors.InvalidValue("client_name", name, "the user name (the certificate's CN), without "
                                                       "leading or trailing spaces")
    orgs = [str(org) for org in params.get("org") or []]
    for org in orgs:
        if not org.strip():
            raise errors.InvalidValue("org", org, "non-empty group names (the certificate's O)")
    validity = durations.parse_duration(params.get("validity_period") or C.DEFAULT_CERT_VALIDITY, "validity_period")
    if validity <= 0:
        raise errors.InvalidValue("validity_period", params.get("validity_period"), "a positive Go duration")
    if validity > DEFAULT_VALIDITY:  # kubeadm's own warning
        warnings.append(f"the specified certificate validity period {durations.format_duration(validity)} is "
                        f"longer than the default duration {C.DEFAULT_CERT_VALIDITY}, this may increase "
                        "security risks.")
    token = params.get("token")
    if token not in (None, ""):
        token = validators.bearer_token("token", token)
        if orgs:
            raise errors.InvalidValue("org", orgs, "no groups with token: a token's groups come from the "
                                                   "token itself")
    path = params.get("path")
    if path and not posixpath.isabs(path):
        raise errors.InvalidValue("path", path, "an absolute path on the managed node")
    return {"name": name, "orgs": orgs, "validity": validity, "token": token or None, "path": path or None}


def _cluster(params: dict, fs, warnings: list) -> dict:
    """server, cluster name and CA paths: from `config` (kubeadm's way), else from admin.conf."""
    admin = fs.read_text(ADMIN_KUBECONFIG)
    if not params.get("config") and admin is not None:
        chosen = kubeconfigutil.select(kubeconfigutil.load(admin, ADMIN_KUBECONFIG, errors.FileError))
        if chosen.cluster.get("server"):
            cert_dir = params.get("cert_dir") or C.PKI_DIR
            return {"server": chosen.cluster["server"], "cluster_name": chosen.cluster_name or C.CLUSTER_NAME,
                    "ca": posixpath.join(cert_dir, C.CA_BASE), "source": ADMIN_KUBECONFIG,
                    "algorithm": C.DEFAULT_ENCRYPTION_ALGORITHM}
    try:
        cfg = config.build_init_config({"config": params.get("config"), "cert_dir": params.get("cert_dir")})
    except errors.InvalidValue as exc:
        if exc.field != "apiserver_advertise_address":
            raise
        raise errors.InvalidValue("config", params.get("config"), "a kubeadm config with controlPlaneEndpoint or "
                                  "localAPIEndpoint.advertiseAddress (there is no admin.conf to take the server "
                                  "from, and this host has no default route)") from None
    warnings.extend(cfg.warnings)
    return {"server": kubeconfig.control_plane_endpoint(cfg), "cluster_name": cfg.cluster.get("clusterName")
            or C.CLUSTER_NAME, "ca": pki.subdir(cfg) + "/" + C.CA_BASE, "source": params.get("config") or "defaults",
            "algorithm": pki.encryption_algorithm(cfg)}


def _ca(fs, base_path: str, need_key: bool):
    crt, key = base_path + ".crt", base_path + ".key"
    cert_pem, key_pem = fs.read_bytes(crt), fs.read_bytes(key)
    if cert_pem is None:
        raise errors.PKIError(f"{crt} does not exist: run this on a control-plane node (or set cert_dir)")
    if need_key and key_pem is None:
        raise errors.PKIError(f"{key} does not exist: a client certificate needs the cluster CA's key "
                              "(external CA: use token, or sign the user's CSR with that CA)")
    ca_cert = pkiutil.load_certificate(cert_pem, crt)
    ca_key = pkiutil.load_private_key(key_pem, key) if need_key else None
    if ca_key is not None and not pkiutil.check_pair(ca_cert, ca_key):
        raise errors.PKIError(f"{crt} and {key} do not match")
    return cert_pem, ca_cert, ca_key


def _still_fits(text, want: dict, cluster: dict, ca_pem: bytes, ca_cert, validity: float) -> bool:
    """Whether an existing user kubeconfig is the one asked for (certificate mode)."""
    try:
        info = kubeconfig.parse_kubeconfig(text, want["path"])
        cert = pkiutil.load_certificate(info["client_cert_pem"] or b"")
        key = pkiutil.load_private_key(info["client_key_pem"] or b"")
    except errors.KubebootError:
        return False
    if info["server"] != cluster["server"] or info["user_name"] != want["name"] \
            or (info["ca_pem"] or b"").strip() != ca_pem.strip() or info["cluster_name"] != cluster["cluster_name"]:
        return False
    wanted = {"cn": want["name"], "organizations": want["orgs"], "usages": ["client"], "dns": None}
    if pkiutil.needs_regeneration(cert, key, ca_cert, wanted) is not None:
        return False
    lifetime = (pkiutil.not_after(cert) - pkiutil.not_before(cert)).total_seconds() - C.CERTIFICATE_BACKDATE_SECONDS
    return abs(lifetime - validity) < 1


def run_kubeconfig(params: dict, check_mode: bool = False, no_log: bool = False) -> dict:
    """The kubeadm_kubeconfig module (`no_log`: the task's no_log, required to return the file)."""
    warnings: list = []
    want = _check(params, warnings)
    if not want["path"] and not no_log:
        raise errors.InvalidValue("path", None, "a path to write the kubeconfig to, or no_log: true on the task "
                                                "to have it returned (it holds a private key or token)")
    fs = HostFS(params.get("rootfs") or "/")
    writer = Writer(fs, check_mode=check_mode)
    cluster = _cluster(params, fs, warnings)
    ca_pem, ca_cert, ca_key = _ca(fs, cluster["ca"], need_key=want["token"] is None)
    result = {"client_name": want["name"], "org": want["orgs"], "server": cluster["server"],
              "cluster_name": cluster["cluster_name"], "server_from": cluster["source"]}
    existing = fs.read_text(want["path"]) if want["path"] else None
    if want["token"] is not None:
        text = kubeconfig.render_kubeconfig(cluster["server"], ca_pem, want["name"], token=want["token"],
                                            cluster_name=cluster["cluster_name"])
    elif existing is not None and _still_fits(existing, want, cluster, ca_pem, ca_cert, want["validity"]):
        text = existing
    else:
        key = pkiutil.generate_key(cluster["algorithm"])
        cert = pkiutil.issue_certificate(ca_cert, ca_key, key, want["name"], want["orgs"], ("client",),
                                         validity_seconds=want["validity"])
        text = kubeconfig.render_kubeconfig(cluster["server"], ca_pem, want["name"], pkiutil.cert_to_pem(cert),
                                            pkiutil.key_to_pem(key), cluster_name=cluster["cluster_name"])
    if want["token"] is None:
        cert = pkiutil.load_certificate(kubeconfig.parse_kubeconfig(text)["client_cert_pem"])
        result["expiration_date"] = pkiutil.iso(pkiutil.not_after(cert))
    if want["path"]:
        writer.write(want["path"], text, C.MODE_KUBECONFIG, secret=True)
        result["path"] = want["path"]
    else:
        result["kubeconfig"] = text
    result.update(changed=writer.changed, diff=writer.log.diffs, warnings=warnings)
    return result
