# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bootstrap tokens: format, generation, the Secret kubeadm writes, detached JWS,
`kubeadm token list` output and the join command (cluster-bootstrap + kubeadm cmd/token.go)."""
from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import hmac
import json
import re
import secrets as _secrets

from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import docutil
from ansible_collections.kubeboot.cluster.plugins.module_utils.durations import (
    parse_duration, short_human_duration)
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import InvalidValue

TOKEN_RE = re.compile(C.TOKEN_RE)
TOKEN_ID_RE = re.compile(C.TOKEN_ID_RE)
TOKEN_GROUP_RE = re.compile(C.TOKEN_GROUP_RE)

# Secret data keys (cluster-bootstrap token/api/types.go)
KEY_ID = "token-id"
KEY_SECRET = "token-secret"
KEY_EXPIRATION = "expiration"
KEY_DESCRIPTION = "description"
KEY_GROUPS = "auth-extra-groups"
KEY_USAGE_PREFIX = "usage-bootstrap-"

_LIST_COLUMNS = ("TOKEN", "TTL", "EXPIRES", "USAGES", "DESCRIPTION", "EXTRA GROUPS")


# --- format ------------------------------------------------------------------------
def is_valid_token(token) -> bool:
    return isinstance(token, str) and TOKEN_RE.match(token) is not None


def is_valid_token_id(token_id) -> bool:
    return isinstance(token_id, str) and TOKEN_ID_RE.match(token_id) is not None


def is_valid_group(group) -> bool:
    return isinstance(group, str) and TOKEN_GROUP_RE.match(group) is not None


def split_token(token: str, field: str = "token") -> tuple:
    """'abcdef.0123456789abcdef' -> ('abcdef', '0123456789abcdef'); InvalidValue otherwise."""
    match = TOKEN_RE.match(token) if isinstance(token, str) else None
    if not match:
        # never echo a malformed token back: it may be a real secret with a typo
        raise InvalidValue(field, "<hidden>", "a bootstrap token matching [a-z0-9]{6}.[a-z0-9]{16}")
    return match.group(1), match.group(2)


def validate_groups(groups, field: str = "groups") -> list:
    out = []
    for group in groups or []:
        if not is_valid_group(group):
            raise InvalidValue(field, group, f"groups must match {C.TOKEN_GROUP_RE[2:-2]}")
        out.append(group)
    return out


def validate_usages(usages, field: str = "usages") -> list:
    out = []
    for usage in usages or []:
        if usage not in C.TOKEN_USAGES:
            raise InvalidValue(field, usage, "one of " + ", ".join(C.TOKEN_USAGES))
        out.append(usage)
    return out


def secret_name(token_id: str) -> str:
    return C.BOOTSTRAP_TOKEN_SECRET_PREFIX + token_id


# --- generation ---------------------------------------------------------------------
def _random_string(length: int) -> str:
    """cluster-bootstrap randBytes: CSPRNG bytes, drop >= 252, map byte % 36."""
    out = []
    while len(out) < length:
        for byte in _secrets.token_bytes(length * 2):
            if byte >= 252:  # 252 = 7 * 36: rejection sampling removes modulo bias
                continue
            out.append(C.TOKEN_ALPHABET[byte % len(C.TOKEN_ALPHABET)])
            if len(out) == length:
                break
    return "".join(out)


def generate_token() -> str:
    """`kubeadm token generate`: '<6>.<16>' from [a-z0-9]."""
    return f"{_random_string(6)}.{_random_string(16)}"


def generate_certificate_key() -> str:
    """`kubeadm certs certificate-key`: 32 random bytes as lowercase hex."""
    return _secrets.token_hex(32)


# --- time helpers -------------------------------------------------------------------
def _utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def as_utc(value) -> _dt.datetime:
    if value is None:
        return _utcnow()
    if isinstance(value, (int, float)):
        return _dt.datetime.fromtimestamp(value, _dt.timezone.utc)
    if value.tzinfo is None:
        return value.replace(tzinfo=_dt.timezone.utc)
    return value


def format_rfc3339(moment: _dt.datetime) -> str:
    """Go time.Format(time.RFC3339): seconds precision, 'Z' for UTC, else +hh:mm."""
    moment = as_utc(moment).replace(microsecond=0)
    offset = moment.utcoffset()
    if not offset:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    text = moment.isoformat()
    return text


def parse_rfc3339(text: str) -> _dt.datetime:
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    moment = _dt.datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("RFC3339 time needs a zone")
    return moment


# --- the Secret ---------------------------------------------------------------------
def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def token_secret_data(token: str, ttl=C.DEFAULT_TOKEN_TTL, expires=None,
                      usages=C.TOKEN_USAGES, groups=(C.DEFAULT_TOKEN_GROUP,),
                      description: str = "", now=None) -> dict:
    """kubeadm encodeTokenSecretData as plain strings (before base64)."""
    token_id, token_secret = split_token(token)
    data = {KEY_ID: token_id, KEY_SECRET: token_secret}
    if description:
        data[KEY_DESCRIPTION] = description
    if expires:
        moment = parse_rfc3339(expires) if isinstance(expires, str) else as_utc(expires)
        data[KEY_EXPIRATION] = format_rfc3339(moment.astimezone(_dt.timezone.utc))
    else:
        seconds = parse_duration(ttl if ttl is not None else 0, "ttl")
        if seconds > 0:
            moment = as_utc(now) + _dt.timedelta(seconds=seconds)
            data[KEY_EXPIRATION] = format_rfc3339(moment.astimezone(_dt.timezone.utc))
    for usage in validate_usages(usages):
        data[KEY_USAGE_PREFIX + usage] = "true"
    groups = validate_groups(groups)
    if groups:
        data[KEY_GROUPS] = ",".join(groups)
    return data


def token_secret(token: str, ttl=C.DEFAULT_TOKEN_TTL, expires=None, usages=C.TOKEN_USAGES,
                 groups=(C.DEFAULT_TOKEN_GROUP,), description: str = "", now=None) -> dict:
    """The `kube-system/bootstrap-token-<id>` Secret exactly as kubeadm sends it (`data`, base64)."""
    data = token_secret_data(token, ttl=ttl, expires=expires, usages=usages, groups=groups,
                             description=description, now=now)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": secret_name(data[KEY_ID]), "namespace": C.KUBE_SYSTEM},
        "type": C.BOOTSTRAP_TOKEN_SECRET_TYPE,
        "data": {key: _b64(value) for key, value in data.items()},
    }


def secret_strings(secret: dict) -> dict:
    """Secret data (base64) and stringData merged into plain strings."""
    out = {}
    for key, value in (secret.get("data") or {}).items():
        out[key] = base64.b64decode(value or "").decode("utf-8")
    out.update(secret.get("stringData") or {})
    return out


def parse_token_secret(secret: dict) -> dict:
    """A bootstrap token Secret -> {'id', 'secret', 'token', 'expires' (str|None),
    'usages', 'groups', 'description'}; ValueError when it is not a valid token Secret
    (kubeadm BootstrapTokenFromSecret)."""
    name = (secret.get("metadata") or {}).get("name", "")
    data = secret_strings(secret)
    token_id = data.get(KEY_ID, "")
    if not is_valid_token_id(token_id):
        raise ValueError(f"secret {name!r}: invalid token-id")
    if name != secret_name(token_id):
        raise ValueError(f"secret name {name!r} does not match token-id {token_id!r}")
    token_secret_value = data.get(KEY_SECRET, "")
    token = f"{token_id}.{token_secret_value}"
    if not is_valid_token(token):
        raise ValueError(f"secret {name!r}: invalid token-secret")
    expires = data.get(KEY_EXPIRATION) or None
    if expires is not None:
        try:
            parse_rfc3339(expires)
        except ValueError:
            raise ValueError(f"secret {name!r}: can't parse expiration time") from None
    usages = sorted(key[len(KEY_USAGE_PREFIX):] for key, value in data.items()
                    if key.startswith(KEY_USAGE_PREFIX) and value == "true")
    groups = [g for g in data.get(KEY_GROUPS, "").split(",") if g]
    return {
        "id": token_id, "secret": token_secret_value, "token": token, "expires": expires,
        "usages": usages, "groups": groups, "description": data.get(KEY_DESCRIPTION, ""),
    }


def is_expired(parsed: dict, now=None) -> bool:
    if not parsed.get("expires"):
        return False
    return parse_rfc3339(parsed["expires"]) <= as_utc(now)


# --- detached JWS (cluster-bootstrap token/jws) -------------------------------------------
def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def detached_jws(content, token_id: str, token_secret_value: str) -> str:
    """`<protected header>..<signature>`: HS256 over header.b64url(content), kid = token id."""
    if isinstance(content, str):
        content = content.encode("utf-8")
    header = _b64url(json.dumps({"alg": "HS256", "kid": token_id},
                                separators=(",", ":")).encode("utf-8"))
    signing_input = f"{header}.{_b64url(content)}".encode("ascii")
    # Go pads the key with zeros to 32 bytes; HMAC does the same to its block size anyway.
    key = token_secret_value.encode("utf-8").ljust(32, b"\0")
    signature = hmac.new(key, signing_input, hashlib.sha256).digest()
    return f"{header}..{_b64url(signature)}"


def verify_detached_jws(content, detached: str, token_id: str, token_secret_value: str) -> bool:
    expected = detached_jws(content, token_id, token_secret_value)
    return hmac.compare_digest(expected.encode("utf-8"), str(detached).encode("utf-8"))


# --- kubeadm token list ----------------------------------------------------------------
def token_list_row(parsed: dict, now=None) -> dict:
    """Structured row with kubeadm's column values (unpadded)."""
    now = as_utc(now)
    if parsed.get("expires"):
        moment = parse_rfc3339(parsed["expires"])
        remaining = (moment - now).total_seconds()
        ttl = short_human_duration(int(remaining))  # Go int() truncates toward zero
        expires = format_rfc3339(moment)
        expired = remaining <= 0
    else:
        ttl, expires, expired = "<forever>", "<never>", False
    return {
        "token": parsed["token"], "id": parsed["id"], "ttl": ttl, "expires": expires,
        "usages": ",".join(parsed["usages"]) or "<none>",
        "description": parsed["description"] or "<none>",
        "groups": ",".join(parsed["groups"]) or "<none>",
        "expired": expired,
    }


def _row_line(row: dict) -> str:
    return "\t".join([row["token"], "%-9s" % row["ttl"], row["expires"], "%-22s" % row["usages"],
                      "%-56s" % row["description"], row["groups"]])


def token_list_table(secrets, now=None) -> str:
    """`kubeadm token list` text output for a list of Secrets (invalid ones skipped, like kubeadm)."""
    return format_token_rows(token_list_rows(secrets, now))


def format_token_rows(rows: list) -> str:
    """The text table for rows from token_list_rows (header once, one tabwriter per row)."""
    if not rows:
        return ""
    header = "\t".join(_LIST_COLUMNS)
    text = docutil.tabwriter([header, _row_line(rows[0])])
    for row in rows[1:]:
        text += docutil.tabwriter([_row_line(row)])
    return text


def token_list_rows(secrets, now=None) -> list:
    rows = []
    for secret in secrets:
        if secret.get("type") != C.BOOTSTRAP_TOKEN_SECRET_TYPE:
            continue
        try:
            parsed = parse_token_secret(secret)
        except ValueError:
            continue
        rows.append(token_list_row(parsed, now))
    return rows


# --- join command --------------------------------------------------------------------
def join_command(server_url: str, token: str, ca_hashes, control_plane: bool = False,
                 certificate_key=None) -> str:
    """`kubeadm token create --print-join-command` output (one line, no newline): like kubeadm, the
    init summary form with every backslash-newline and TAB removed."""
    text = join_command_multiline(server_url, token, ca_hashes, control_plane or bool(certificate_key),
                                  certificate_key)
    return text.replace("\\\n", "").replace("\t", "")


def join_command_multiline(server_url: str, token: str, ca_hashes, control_plane: bool = False,
                           certificate_key=None) -> str:
    """The init summary form (backslash-newline + TAB continuation lines)."""
    host_port = server_url.replace("https://", "")
    text = f"kubeadm join {host_port} --token {token} \\\n\t"
    for pin in ca_hashes:
        text += f"--discovery-token-ca-cert-hash {pin} "
    if control_plane:
        text += "\\\n\t--control-plane "
        if certificate_key:
            text += f"--certificate-key {certificate_key}"
    return text
