# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Phase bootstrap-token, and the token lifecycle `kubeadm token` shares with it.

`BootstrapToken` is the one shape of a token between the option (InitConfiguration
bootstrapTokens entry, kubeadm_token parameters) and the Secret: the TTL is parsed once,
`to_secret`/`from_secret` are kubeadm's encode/decode (tokens.py holds the wire format).
The phase writes the token Secrets, the node bootstrap RBAC, kube-public/cluster-info with
its anonymous reader, and drops the system:nodes subject of the system:node binding
(kubeadm phases/bootstraptoken).
"""
from __future__ import annotations

import base64
import dataclasses

from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import errors, rbac, tokens, validators
from ansible_collections.kubeboot.cluster.plugins.module_utils.durations import parse_duration
from ansible_collections.kubeboot.cluster.plugins.module_utils.objects import configmap, pem_text


DEFAULT_TTL = parse_duration(C.DEFAULT_TOKEN_TTL)
REUSE_CLOCK_SLACK = 5.0  # seconds a reused token may outlive the wanted TTL (clocks of node and API server)


@dataclasses.dataclass(frozen=True)
class BootstrapToken:
    """A bootstrap token as kubeadm's BootstrapToken API type: `token` ("" until generated),
    `ttl` in seconds (0 = never expires) or an absolute `expires` (RFC 3339), usages (sorted),
    extra groups, description."""

    token: str = ""
    ttl: float = DEFAULT_TTL
    expires: str = None
    usages: tuple = tuple(sorted(C.TOKEN_USAGES))
    groups: tuple = (C.DEFAULT_TOKEN_GROUP,)
    description: str = ""

    # --- from the option, from the Secret ------------------------------------------------
    @classmethod
    def from_option(cls, token: str = "", ttl=C.DEFAULT_TOKEN_TTL, expires=None, usages=C.TOKEN_USAGES,
                    groups=(C.DEFAULT_TOKEN_GROUP,), description: str = "", now=None) -> "BootstrapToken":
        """Validated settings (kubeadm_token parameters, an InitConfiguration entry), with kubeadm's
        rules: a TTL of 0 or at least 1s, an expiry in the future, groups only with the
        'authentication' usage."""
        if token:
            tokens.split_token(token)
        moment = validators.token_expires("expires", expires, tokens.as_utc(now)) if expires else None
        ttl = validators.token_ttl("ttl", C.DEFAULT_TOKEN_TTL if ttl is None else ttl)
        usages = validators.token_usages("usages", list(usages or []))
        return cls(token=token or "", ttl=parse_duration(ttl, "ttl"), expires=moment, usages=tuple(sorted(usages)),
                   groups=tuple(validators.token_groups("groups", list(groups or []), usages)),
                   description=description or "")

    @classmethod
    def from_entry(cls, entry: dict) -> "BootstrapToken":
        """An InitConfiguration `bootstrapTokens` entry (absent keys take kubeadm's defaults)."""
        return cls.from_option(entry.get("token") or "", entry.get("ttl"), entry.get("expires"),
                               entry.get("usages", list(C.TOKEN_USAGES)),
                               entry.get("groups", [C.DEFAULT_TOKEN_GROUP]), entry.get("description") or "")

    @classmethod
    def from_secret(cls, secret: dict) -> "BootstrapToken":
        """kubeadm BootstrapTokenFromSecret; ValueError when it is not a valid token Secret."""
        parsed = tokens.parse_token_secret(secret)
        return cls(token=parsed["token"], ttl=0, expires=parsed["expires"], usages=tuple(parsed["usages"]),
                   groups=tuple(parsed["groups"]), description=parsed["description"])

    def to_secret(self, now=None) -> dict:
        """The kube-system/bootstrap-token-<id> Secret (expiration = now + ttl unless `expires`)."""
        return tokens.token_secret(self.token, ttl=self.ttl, expires=self.expires, usages=self.usages,
                                   groups=self.groups, description=self.description, now=now)

    def with_token(self, token: str) -> "BootstrapToken":
        return dataclasses.replace(self, token=token)

    # --- facts ------------------------------------------------------------------------------
    @property
    def id(self) -> str:
        return self.token.split(".", 1)[0]

    @property
    def secret_name(self) -> str:
        return tokens.secret_name(self.id)

    def remaining(self, now=None):
        """Seconds until expiration (None: never expires)."""
        if not self.expires:
            return None
        return (tokens.parse_rfc3339(self.expires) - tokens.as_utc(now)).total_seconds()

    def expired(self, now=None) -> bool:
        remaining = self.remaining(now)
        return remaining is not None and remaining <= 0

    def satisfies(self, wanted: "BootstrapToken", now=None) -> bool:
        """Does this existing token have the wanted settings (and is it still valid)?"""
        if (self.usages, self.groups, self.description) != (wanted.usages, wanted.groups, wanted.description):
            return False
        if wanted.expires:
            return self.expires == wanted.expires
        if wanted.ttl == 0:
            return self.expires is None
        return self.expires is not None and not self.expired(now)

    def fresh_enough(self, wanted: "BootstrapToken", now=None) -> bool:
        """A generated token is reused when it keeps at least half of the wanted TTL and expires no
        later than asked (a 24h token is no answer to ttl: 1h)."""
        remaining = self.remaining(now)
        if remaining is None or wanted.expires:
            return True  # satisfies() already matched "never expires" or the exact expiry
        return wanted.ttl / 2 <= remaining <= wanted.ttl + REUSE_CLOCK_SLACK


def cluster_info_kubeconfig(server_url: str, ca_pem) -> str:
    """The `kubeconfig` value of cluster-info as clientcmd.Write prints it: one cluster named ""."""
    ca_data = base64.b64encode(pem_text(ca_pem).encode("ascii")).decode("ascii")
    return ("apiVersion: v1\n"
            "clusters:\n"
            "- cluster:\n"
            f"    certificate-authority-data: {ca_data}\n"
            f"    server: {server_url}\n"
            "  name: \"\"\n"
            "contexts: null\n"
            "current-context: \"\"\n"
            "kind: Config\n"
            "preferences: {}\n"
            "users: null\n")


def cluster_info_configmap(server_url: str, ca_pem) -> dict:
    return configmap(C.CLUSTER_INFO_CM, C.KUBE_PUBLIC,
                     {C.CLUSTER_INFO_KUBECONFIG_KEY: cluster_info_kubeconfig(server_url, ca_pem)})


def ensure_token(api, wanted: BootstrapToken, now=None, reuse: bool = True) -> tuple:
    """Make sure a bootstrap token with these settings exists. Returns (changed, token).

    Given token: its Secret is written unless it exists with the same settings (and is
    unexpired). No token: an existing unexpired token with the same settings and at least
    half its TTL left is reused (reruns create no duplicates), else a new one is generated.
    """
    now = tokens.as_utc(now)
    if wanted.token:
        live = api.get("Secret", wanted.secret_name, C.KUBE_SYSTEM)
        existing = _parsed(live) if live is not None else None
        if live is not None and (existing is None or existing.token != wanted.token):
            # kubeadm: "a token with id ... already exists"; overwriting it would end the live token
            raise errors.InvalidValue("token", errors.HIDDEN,
                                      f"a token whose id is free: the Secret {C.KUBE_SYSTEM}/{wanted.secret_name} "
                                      "already holds a bootstrap token with this id and another secret (delete it "
                                      "first with state: absent, or choose another token)")
        if existing and existing.satisfies(wanted, now):
            return False, wanted.token
    elif reuse:
        candidates = [t for t in map(_parsed, list_token_secrets(api))
                      if t and t.satisfies(wanted, now) and t.fresh_enough(wanted, now)]
        if candidates:
            candidates.sort(key=lambda t: (t.expires is not None, t.expires or ""), reverse=True)
            return False, candidates[0].token
    token = wanted.token or tokens.generate_token()
    api.put(wanted.with_token(token).to_secret(now))
    return True, token


def _parsed(secret: dict):
    try:
        return BootstrapToken.from_secret(secret)
    except ValueError:
        return None


def list_token_secrets(api) -> list:
    return api.list("Secret", C.KUBE_SYSTEM, field_selector="type=" + C.BOOTSTRAP_TOKEN_SECRET_TYPE)


def check_token_reference(token_or_id: str) -> str:
    """A token id, or a full token (whose id is returned); InvalidValue never repeating it."""
    if "." in token_or_id:
        return tokens.split_token(token_or_id)[0]
    if not tokens.is_valid_token_id(token_or_id):
        raise errors.InvalidValue("token", errors.HIDDEN, "a token id ([a-z0-9]{6}) or a full token")
    return token_or_id


def delete_token(api, token_or_id: str) -> bool:
    """`kubeadm token delete`: by id or full token. True when a Secret was (or would be) deleted."""
    token_id = check_token_reference(token_or_id)
    return api.remove("Secret", tokens.secret_name(token_id), C.KUBE_SYSTEM).changed


def remove_system_nodes_subject(api) -> None:
    """kubeadm drops the system:nodes group from the built-in system:node binding."""
    crb = api.get("ClusterRoleBinding", C.CRB_SYSTEM_NODE)
    if crb is None:
        return
    subjects = crb.get("subjects") or []
    kept = [s for s in subjects if not (s.get("kind") == "Group" and s.get("name") == C.NODES_GROUP)]
    if len(kept) != len(subjects):
        api.put(dict(crb, subjects=kept))


def bootstrap_token(api, cfg, ca_pem, server_url: str, now=None) -> dict:
    """Phase bootstrap-token: token Secrets, node bootstrap RBAC, cluster-info + anonymous access.

    Returns `token` (the first token, for the join command; callers must keep it no_log)."""
    mark = api.mark()
    token_ids, first = [], ""
    for entry in cfg.init.get("bootstrapTokens") or [{}]:
        _changed, token = ensure_token(api, BootstrapToken.from_entry(entry), now=now)
        token_ids.append(token.split(".")[0])
        first = first or token
    api.ensure_all(rbac.node_bootstrap_rbac() + [cluster_info_configmap(server_url, ca_pem)]
                   + rbac.cluster_info_rbac())
    remove_system_nodes_subject(api)
    return api.result(mark, token=first, token_ids=token_ids)
