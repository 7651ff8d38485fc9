# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One validator per concept (kubeadm apis/kubeadm/validation), shared by every config kind.

Each takes the field as the user wrote it (module option or config path) and the value,
returns the normalised value, and raises `ConfigError(field, value, allowed)`; secret
values (tokens, certificate keys) are reported as `<hidden>`, never repeated.
"""
from __future__ import annotations

import re

from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import durations, netutil
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import HIDDEN, ConfigError, InvalidValue

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN_RE = re.compile(r"\A%s(\.%s)*\Z" % (_LABEL, _LABEL))
_HEX64_RE = re.compile(r"\A[0-9a-fA-F]{64}\Z")
_TOKEN_RE = re.compile(C.TOKEN_RE)
_TOKEN_GROUP_RE = re.compile(C.TOKEN_GROUP_RE)
NODE_NAME_ALLOWED = ("a lowercase RFC 1123 subdomain (letters, digits, '-' and '.', at most 253 "
                     "characters, starting and ending alphanumeric)")
TOKEN_ALLOWED = "a bootstrap token like abcdef.0123456789abcdef ([a-z0-9]{6}.[a-z0-9]{16})"
CERTIFICATE_KEY_ALLOWED = ("64 hexadecimal characters (an AES-256 key, from kubeadm_init upload_certs or "
                           "`kubeadm certs certificate-key`)")
DOCKERSHIM_MESSAGE = (
    "dockershim was removed in Kubernetes 1.24; use containerd "
    "(unix:///var/run/containerd/containerd.sock) or cri-dockerd (unix:///var/run/cri-dockerd.sock)")


# --- names ------------------------------------------------------------------------------------

def is_dns1123_subdomain(value) -> bool:
    return isinstance(value, str) and len(value) <= 253 and bool(_SUBDOMAIN_RE.match(value))


def san_kind(value):
    """kubeadm's SAN rules: "ip", "dns" (RFC 1123 subdomain or wildcard `*.sub`), or None."""
    if not isinstance(value, str):
        return None
    if netutil.is_ip(value):
        return "ip"
    if is_dns1123_subdomain(value) or (value.startswith("*.") and is_dns1123_subdomain(value[2:])):
        return "dns"
    return None


def sans(field: str, value) -> list:
    if not isinstance(value, list):
        raise ConfigError(field, value, "a list of IP addresses or DNS names")
    for san in value:
        if san_kind(san) is None:
            raise ConfigError(field, san, "an IP address, a DNS name (RFC 1123 subdomain) or a "
                                          "wildcard DNS name like *.example.com")
    return value


def node_name(field: str, value) -> str:
    if not is_dns1123_subdomain(value):
        raise ConfigError(field, value, NODE_NAME_ALLOWED)
    return value


def host_port(field: str, value, port_required: bool = False) -> tuple:
    """`host`, `host:port` or `[v6]:port` where host is an IP or a DNS name -> (host, port or None).
    With `port_required` (an API server endpoint to dial) an IPv6 host must be bracketed."""
    if not isinstance(value, str) or not value:
        raise ConfigError(field, value, "host:port (IPv6 as [addr]:port)" if port_required else "host or host:port")
    try:
        host, port = netutil.split_host_port(value)
    except InvalidValue:
        raise ConfigError(field, value, "host:port with a port from 1 to 65535") from None
    if port_required and port is None:
        raise ConfigError(field, value, "host:port (the port is required, e.g. 10.0.0.1:6443)")
    if port_required and ":" in host and not value.startswith("["):
        raise ConfigError(field, value, "an IPv6 address in brackets: [2001:db8::1]:6443")
    if not (netutil.is_ip(host) or is_dns1123_subdomain(host)):
        raise ConfigError(field, value, "host or host:port where host is an IP address or a DNS name")
    return host, port


def ip_address(field: str, value, allowed: str = "an IP address of this node") -> str:
    text = str(value or "").strip()
    if text and not netutil.is_ip(text):
        raise ConfigError(field, text, allowed)
    return text


# --- numbers, durations, networks -------------------------------------------------------------

def port(field: str, value) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise ConfigError(field, value, "a port number from 1 to 65535")
    return value


def duration(field: str, value) -> str:
    """A Go duration in its canonical form ("24h" -> "24h0m0s", "0" -> "0s")."""
    if isinstance(value, str) and value.strip() == "0":
        return "0s"
    try:
        return durations.normalize_duration(value, field)
    except InvalidValue as exc:
        raise ConfigError(field, value, exc.allowed) from None


def timeouts(field: str, value, field_of=None) -> dict:
    """kubeadm's v1beta4 `timeouts` mapping: known names only, each a Go duration (canonical form).
    `field_of(name)`: how the user wrote one timeout (a module option), default `<field>.<name>`."""
    if not isinstance(value, dict):
        raise ConfigError(field, value, "a mapping of timeout name to duration")
    out = {}
    for key, item in value.items():
        if key not in C.DEFAULT_TIMEOUTS:
            raise ConfigError(field, key, "one of " + ", ".join(C.DEFAULT_TIMEOUTS))
        out[key] = duration(field_of(key) if field_of else f"{field}.{key}", item)
    return out


def cidrs(field: str, value) -> list:
    """One CIDR, or two of different families (dual stack) -> [ip_network]."""
    try:
        nets = netutil.parse_cidrs(value, field)
    except InvalidValue as exc:
        raise ConfigError(field, value, exc.allowed) from None
    if len(nets) > 2 or (len(nets) == 2 and nets[0].version == nets[1].version):
        raise ConfigError(field, value, "one CIDR, or two (one IPv4, one IPv6) for dual-stack")
    return nets


def dns_domain(field: str, value) -> str:
    if not is_dns1123_subdomain(value):
        raise ConfigError(field, value, "a DNS domain (RFC 1123 subdomain) such as cluster.local")
    return value


# --- node settings -----------------------------------------------------------------------------

def cri_socket(field: str, value, warnings: list) -> str:
    """A CRI endpoint URL; a bare path gets unix:// (with a warning); dockershim is refused."""
    text = str(value).strip()
    if "dockershim" in text:
        raise ConfigError(field, text, DOCKERSHIM_MESSAGE)
    if "://" not in text:
        if not text.startswith("/"):
            raise ConfigError(field, text, "a CRI endpoint such as " + C.DEFAULT_CRI_SOCKET)
        warnings.append(f"{field}: CRI endpoint {text!r} has no URL scheme; using 'unix://{text}'")
        return "unix://" + text
    if not text.startswith(("unix://", "npipe://")):
        raise ConfigError(field, text, "a unix:// (or npipe://) CRI endpoint such as " + C.DEFAULT_CRI_SOCKET)
    return text


def ignore_preflight_errors(field: str, value) -> list:
    """Check names, lowercased, deduplicated, sorted; 'all' alone."""
    if not isinstance(value, list):
        raise ConfigError(field, value, "a list of preflight check names, or 'all'")
    names = sorted({str(v).strip().lower() for v in value if str(v).strip()})
    if "all" in names and len(names) > 1:
        raise ConfigError(field, names, "'all' ignores every check and cannot be combined with "
                                        "individual check names")
    return names


def arg_text(value) -> str:
    """A flag value as kubeadm stores it (Go bool spelling, null as empty)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def extra_args(field: str, value) -> list:
    """v1beta4 extraArgs: a list of {name, value} with string values."""
    if value is None:
        return []
    if isinstance(value, dict):
        raise ConfigError(field, value, "a list of {name, value} (v1beta4); a map is the v1beta3 form")
    if not isinstance(value, list):
        raise ConfigError(field, value, "a list of {name, value}")
    out = []
    for arg in value:
        if not isinstance(arg, dict) or not isinstance(arg.get("name"), str) or not arg["name"]:
            raise ConfigError(field, arg, "an entry {name: <flag without -->, value: <string>}")
        out.append({"name": arg["name"], "value": arg_text(arg.get("value"))})
    return out


def extra_args_from_map(field: str, value) -> list:
    """v1beta3 extraArgs (a map) -> the v1beta4 list, sorted by name as kubeadm converts it."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if not isinstance(value, dict):
        raise ConfigError(field, value, "a map of flag name to value (v1beta3)")
    return [{"name": str(k), "value": arg_text(v)} for k, v in sorted(value.items())]


# --- secrets -------------------------------------------------------------------------------------

def token(field: str, value) -> str:
    """A bootstrap token (or empty); never echoed."""
    text = value or ""
    if text and not _TOKEN_RE.match(str(text)):
        raise ConfigError(field, HIDDEN, TOKEN_ALLOWED)
    return text


_BEARER_RE = re.compile(r"\A[A-Za-z0-9._~+/-]+=*\Z")


def bearer_token(field: str, value) -> str:
    """A bearer token for a kubeconfig (RFC 6750 token characters: a bootstrap token, a service
    account token, ...); never echoed."""
    text = "" if value is None else str(value)
    if not _BEARER_RE.match(text):
        raise ConfigError(field, HIDDEN, "a bearer token such as a bootstrap token abcdef.0123456789abcdef "
                                         "(letters, digits and - . _ ~ + / only)")
    return text


def is_token_group(value) -> bool:
    return isinstance(value, str) and bool(_TOKEN_GROUP_RE.match(value))


def certificate_key(field: str, value) -> str:
    """The upload-certs AES key: empty or 64 hex characters; never echoed."""
    text = value or ""
    if text and not _HEX64_RE.match(str(text)):
        raise ConfigError(field, HIDDEN, CERTIFICATE_KEY_ALLOWED)
    return text


# --- feature gates ------------------------------------------------------------------------------

_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")


def parse_bool(field: str, value, name: str) -> bool:
    """Go strconv.ParseBool (what kubeadm uses for --feature-gates values)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip() in _TRUE + _FALSE:
        return value.strip() in _TRUE
    raise ConfigError(field, f"{name}={value}", "feature gate values must be true or false")


def feature_gates(field: str, value) -> dict:
    """A dict, or 'A=true,B=false' -> {name: bool}."""
    if value is None or value == "":
        return {}
    if isinstance(value, dict):
        return {str(k).strip(): parse_bool(field, v, k) for k, v in value.items()}
    if not isinstance(value, str):
        raise ConfigError(field, value, "a mapping of gate name to true/false, or 'A=true,B=false'")
    gates = {}
    for part in [p.strip() for p in value.split(",") if p.strip()]:
        name, sep, raw = part.partition("=")
        if not sep:
            raise ConfigError(field, part, "missing boolean value: use Name=true or Name=false")
        gates[name.strip()] = parse_bool(field, raw, name.strip())
    return gates


# --- plain shapes ------------------------------------------------------------------------------

def as_list(field: str, value) -> list:
    """A list, or a comma-separated string -> list of stripped strings."""
    if value is None:
        return []
    if isinstance(value, str):
        return [p.strip() for p in value.split(",") if p.strip()]
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value if v.strip()]
    raise ConfigError(field, value, "a list of strings")


def boolean(field: str, value) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(field, value, "true or false")
    return value


def absolute_path(field: str, value) -> str:
    if not isinstance(value, str) or not value.startswith("/"):
        raise ConfigError(field, value, "an absolute path")
    return value
