# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`kubeadm token create|delete|list` as plain functions for the kubeadm_token* modules."""
from __future__ import annotations

import base64
import os
import re


from ansible_collections.kubeboot.cluster.plugins.module_utils.deps import yaml
from ansible_collections.kubeboot.cluster.plugins.module_utils import bootstrap
from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import errors, tokens
from ansible_collections.kubeboot.cluster.plugins.module_utils.files import HostFS

DEFAULT_KUBECONFIG = f"{C.KUBERNETES_DIR}/{C.ADMIN_CONF}"
MASK = "*" * 16
CERTIFICATE_KEY_RE = re.compile(r"\A[0-9a-fA-F]{64}\Z")


def load_kubeconfig(fs: HostFS, path: str) -> dict:
    text = fs.read_text(path)
    if text is None:
        raise errors.FileError(f"kubeconfig {path} does not exist (set kubeconfig, or run kubeadm_init first)")
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise errors.FileError(f"kubeconfig {path} is not valid YAML ({errors.yaml_problem(exc)})") from None
    if not isinstance(config, dict):
        raise errors.FileError(f"kubeconfig {path} is not a kubeconfig document")
    return config


def client_for(fs: HostFS, path: str, **kwargs):
    from ansible_collections.kubeboot.cluster.plugins.module_utils.apiclient import Client
    config = load_kubeconfig(fs, path)
    return Client.from_kubeconfig(config, base_dir=os.path.dirname(fs.path(path)), **kwargs)


def current_cluster(config: dict) -> dict:
    current = config.get("current-context", "")
    context = next((c.get("context") or {} for c in config.get("contexts") or [] if c.get("name") == current), None)
    name = context.get("cluster") if context else None
    clusters = config.get("clusters") or []
    cluster = next((c.get("cluster") or {} for c in clusters if c.get("name") == name), None)
    if cluster is None and len(clusters) == 1:
        cluster = clusters[0].get("cluster") or {}
    if not cluster or not cluster.get("server"):
        raise errors.InvalidValue("kubeconfig", current, "a current context whose cluster has a server")
    return cluster


def ca_cert_hashes(ca_pem: bytes) -> list:
    """'sha256:<hex>' SPKI pin of every certificate in a PEM bundle."""
    from ansible_collections.kubeboot.cluster.plugins.module_utils import pki
    try:
        certs = pki.load_certificates(ca_pem)
    except ValueError as exc:
        raise errors.PKIError(f"cannot parse the cluster CA certificate(s): {exc}") from None
    return [pki.spki_pin(cert) for cert in certs]


def check_certificate_key(certificate_key) -> None:
    """InvalidValue (never repeating the value) unless empty or 64 hex characters."""
    if certificate_key and not CERTIFICATE_KEY_RE.match(str(certificate_key)):
        raise errors.InvalidValue("certificate_key", errors.HIDDEN,
                                  "64 hexadecimal characters (from kubeadm_init upload_certs / "
                                  "`kubeadm certs certificate-key`)")


def join_command_for(fs: HostFS, kubeconfig_path: str, token: str, certificate_key=None) -> str:
    """What `kubeadm token create --print-join-command [--certificate-key K]` prints."""
    check_certificate_key(certificate_key)
    cluster = current_cluster(load_kubeconfig(fs, kubeconfig_path))
    if cluster.get("certificate-authority-data"):
        ca_pem = base64.b64decode(cluster["certificate-authority-data"])
    elif cluster.get("certificate-authority"):
        ca_path = cluster["certificate-authority"]
        if not os.path.isabs(ca_path):
            ca_path = os.path.join(os.path.dirname(kubeconfig_path), ca_path)
        ca_pem = fs.read_bytes(ca_path)
        if ca_pem is None:
            raise errors.FileError(f"CA file {ca_path} named by {kubeconfig_path} does not exist")
    else:
        raise errors.PKIError(f"{kubeconfig_path}: the current cluster has no CA certificate")
    return tokens.join_command(cluster["server"], token, ca_cert_hashes(ca_pem),
                               control_plane=bool(certificate_key), certificate_key=certificate_key or None)


def token_present(client, token: str = "", ttl=C.DEFAULT_TOKEN_TTL, usages=C.TOKEN_USAGES,
                  groups=(C.DEFAULT_TOKEN_GROUP,), description: str = "", reuse: bool = True,
                  check_mode: bool = False, now=None) -> dict:
    if token:
        tokens.split_token(token)
    changed, value = bootstrap.ensure_token(client, token, ttl=ttl, usages=usages, groups=groups,
                                            description=description, reuse=reuse, check_mode=check_mode,
                                            now=now)
    result = {"changed": changed, "token_id": value.split(".")[0]}
    if check_mode and changed and not token:
        result["token_id"] = None  # nothing was created: there is no token yet
        value = None
    result["token"] = value
    return result


def token_absent(client, token: str, check_mode: bool = False) -> dict:
    deleted = bootstrap.delete_token(client, token, check_mode=check_mode)
    return {"changed": deleted, "token_id": token.split(".")[0]}


def token_info(client, include_secrets: bool = False, now=None) -> dict:
    """`kubeadm token list` as rows + text; secrets masked unless include_secrets."""
    rows = tokens.token_list_rows(bootstrap.list_token_secrets(client), now)
    if not include_secrets:
        rows = [dict(row, token=f"{row['id']}.{MASK}") for row in rows]
    structured = []
    for row in rows:
        item = dict(row)
        item["usages"] = [] if row["usages"] == "<none>" else row["usages"].split(",")
        item["groups"] = [] if row["groups"] == "<none>" else row["groups"].split(",")
        item["description"] = "" if row["description"] == "<none>" else row["description"]
        item["expires"] = None if row["expires"] == "<never>" else row["expires"]
        structured.append(item)
    return {"changed": False, "tokens": structured, "table": tokens.format_token_rows(rows)}


def token_ids(client) -> list:
    """Ids of the bootstrap tokens in the cluster (never their secrets)."""
    names = (secret.get("metadata", {}).get("name", "") for secret in bootstrap.list_token_secrets(client))
    return sorted(name[len(C.BOOTSTRAP_TOKEN_SECRET_PREFIX):] for name in names
                  if name.startswith(C.BOOTSTRAP_TOKEN_SECRET_PREFIX))


def token_diff(before_ids: list, result: dict, state: str) -> dict:
    """--diff for kubeadm_token: the token ids before and after (a new random token shows as <new>)."""
    after = set(before_ids)
    if result.get("changed"):
        token_id = result.get("token_id") or "<new>"
        if state == "absent":
            after.discard(token_id)
        else:
            after.add(token_id)
    return {"before_header": "bootstrap tokens (ids)", "after_header": "bootstrap tokens (ids)",
            "before": "".join(f"{i}\n" for i in sorted(before_ids)),
            "after": "".join(f"{i}\n" for i in sorted(after))}
