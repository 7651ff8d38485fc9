# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`kubeadm token create|delete|list` as plain functions for the kubeadm_token* modules.

Tokens are `bootstraptoken.BootstrapToken`s, written through an `apiwriter.ApiWriter` (so check
mode reads the cluster and writes nothing); the kubeconfig and the files it names are read
through `files.HostFS`.
"""
from __future__ import annotations

import posixpath

from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import (
    apiclient, bootstraptoken, errors, kubeconfigutil, pubkeypin, tokens, validators)
from ansible_collections.kubeboot.cluster.plugins.module_utils.apiclient import Client
from ansible_collections.kubeboot.cluster.plugins.module_utils.apiwriter import ApiWriter
from ansible_collections.kubeboot.cluster.plugins.module_utils.bootstraptoken import BootstrapToken
from ansible_collections.kubeboot.cluster.plugins.module_utils.files import HostFS

DEFAULT_KUBECONFIG = C.kubeconfig_path(C.ADMIN_CONF)
MASK = "*" * 16


load_kubeconfig = apiclient.load_kubeconfig_file


def client_for(fs: HostFS, path: str, **kwargs) -> Client:
    return Client.from_kubeconfig_file(fs, path, **kwargs)


def current_cluster(config: dict) -> dict:
    chosen = kubeconfigutil.select(config)
    if not chosen.cluster.get("server"):
        raise errors.InvalidValue("kubeconfig", config.get("current-context", ""),
                                  "a current context whose cluster has a server")
    return chosen.cluster


def check_certificate_key(certificate_key) -> None:
    """InvalidValue (never repeating the value) unless empty or 64 hex characters."""
    validators.certificate_key("certificate_key", certificate_key)


def join_facts(fs: HostFS, kubeconfig_path: str, token: str, certificate_key=None) -> dict:
    """What a node needs to join with `token`: the API endpoint and CA pins of the cluster that
    `kubeconfig_path` names, and `join_command`, what `kubeadm token create --print-join-command
    [--certificate-key K]` prints."""
    check_certificate_key(certificate_key)
    cluster = current_cluster(load_kubeconfig(fs, kubeconfig_path))
    ca_pem = kubeconfigutil.material(cluster, "certificate-authority-data", "certificate-authority", fs,
                                     posixpath.dirname(kubeconfig_path))
    if not ca_pem:
        raise errors.PKIError(f"{kubeconfig_path}: the current cluster has no CA certificate")
    server, pins = cluster["server"], pubkeypin.bundle_pins(ca_pem)
    facts = {"api_server_endpoint": server.split("://", 1)[-1].rstrip("/"), "token": token,
             "discovery_token_ca_cert_hash": pins,
             "join_command": tokens.join_command(server, token, pins, control_plane=bool(certificate_key),
                                                 certificate_key=certificate_key or None)}
    if certificate_key:
        facts.update(control_plane=True, certificate_key=certificate_key)
    return facts


def join_command_for(fs: HostFS, kubeconfig_path: str, token: str, certificate_key=None) -> str:
    """What `kubeadm token create --print-join-command [--certificate-key K]` prints."""
    return join_facts(fs, kubeconfig_path, token, certificate_key)["join_command"]


def token_present(api, token: str = "", ttl=C.DEFAULT_TOKEN_TTL, usages=C.TOKEN_USAGES,
                  groups=(C.DEFAULT_TOKEN_GROUP,), description: str = "", reuse: bool = True, now=None) -> dict:
    """`kubeadm token create`, idempotent (api: an apiwriter.ApiWriter; its check mode is this one's)."""
    wanted = BootstrapToken.from_option(token, ttl, usages=usages, groups=groups, description=description)
    changed, value = bootstraptoken.ensure_token(api, wanted, now=now, reuse=reuse)
    result = {"changed": changed, "token_id": value.split(".")[0]}
    if api.check_mode and changed and not token:
        result["token_id"] = None  # nothing was created: there is no token yet
        value = None
    result["token"] = value
    return result


def token_absent(api, token: str) -> dict:
    deleted = bootstraptoken.delete_token(api, token)
    return {"changed": deleted, "token_id": token.split(".")[0]}


def token_info(api, include_secrets: bool = False, now=None) -> dict:
    """`kubeadm token list` as rows + text; secrets masked unless include_secrets."""
    rows = tokens.token_list_rows(bootstraptoken.list_token_secrets(api), now)
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


def token_ids(api) -> list:
    """Ids of the bootstrap tokens in the cluster (never their secrets)."""
    names = (secret.get("metadata", {}).get("name", "") for secret in bootstraptoken.list_token_secrets(api))
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


# --- the modules ----------------------------------------------------------------------------------

def _api(params: dict, check_mode: bool) -> tuple:
    fs = HostFS(params.get("rootfs") or "/")
    client = client_for(fs, params.get("kubeconfig") or DEFAULT_KUBECONFIG, retry_timeout=params.get("api_timeout", 60))
    return fs, ApiWriter(client, check_mode=check_mode)


def run_token(params: dict, check_mode: bool = False) -> dict:
    """The kubeadm_token module: state present/absent, optional join command; diff = token ids."""
    if params.get("certificate_key") and not params.get("print_join_command"):
        raise errors.KubebootError("certificate_key can only be used together with print_join_command")
    check_certificate_key(params.get("certificate_key"))  # before any token is created
    fs, api = _api(params, check_mode)
    before_ids = token_ids(api)
    if params.get("state", "present") == "absent":
        result = token_absent(api, params["token"])
    else:
        result = token_present(api, params.get("token") or "", ttl=params.get("ttl", C.DEFAULT_TOKEN_TTL),
                               usages=params.get("usages", C.TOKEN_USAGES),
                               groups=params.get("groups", (C.DEFAULT_TOKEN_GROUP,)),
                               description=params.get("description") or "", reuse=params.get("reuse", True))
        if params.get("print_join_command") and result.get("token"):
            facts = join_facts(fs, params.get("kubeconfig") or DEFAULT_KUBECONFIG, result["token"],
                               params.get("certificate_key"))
            result["join_command"] = facts.pop("join_command")
            result["join"] = facts  # the same, structured, for kubeboot.cluster.kubeadm_join
    result["changed_objects"] = list(api.log.objects)
    result["diff"] = token_diff(before_ids, result, params.get("state", "present"))
    if result.get("token") is None:
        result.pop("token", None)
    return result


def run_token_info(params: dict, check_mode: bool = False) -> dict:
    """The kubeadm_token_info module (read-only)."""
    _fs, api = _api(params, check_mode)
    return token_info(api, include_secrets=bool(params.get("include_secrets")))
