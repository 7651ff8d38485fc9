# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One validator per concept (kubeadm apis/kubeadm/validation), shared by every config kind.

Each takes the field as the user wrote it (module option or config path) and the value,
returns the normalised value, and raises `ConfigError(field, value, allowed)`; secret
values (tokens, certificate keys) are reported as `<hidden>`, never repeated.
"""
from __future__ import annotations

import datetime
import posixpath
import re
import urllib.parse

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
# github.com/distribution/reference ReferenceRegexp, which kubeadm's ValidateImageRepository applies to
# "<imageRepository>/name:tag": lowercase path components, a domain (any case) with an optional port.
_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_IMAGE_NAME_RE = re.compile(rf"\A(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*\Z")
IMAGE_REPOSITORY_ALLOWED = ("a registry and path such as registry.k8s.io or registry.example.com:5000/k8s "
                            "(no scheme, no trailing slash, lowercase path)")
# kubeadm constants: subnet sizes it validates
MIN_SERVICE_SUBNET_ADDRESSES = 10
MAX_SERVICE_SUBNET_HOST_BITS = 20
MIN_POD_SUBNET_ADDRESSES = 4
POD_SUBNET_NODE_MASK_MAX_DIFF = 16
DEFAULT_NODE_CIDR_MASK = {4: 24, 6: 64}
# the shortest certificate validity accepted: what Kubernetes' CSR API signs at least (600 s), so a
# certificate outlives the run that writes it
MIN_CERT_VALIDITY = 600.0
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
VOLUME_PATH_TYPES = ("", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice",
                     "BlockDevice")
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
        raise ConfigError(field, text, allowed + " (an IPv6 address without a %zone)" if "%" in text else allowed)
    return text


def image_repository(field: str, value) -> str:
    """kubeadm ValidateImageRepository: "<value>/name:tag" must be a valid image reference."""
    if not isinstance(value, str) or not _IMAGE_NAME_RE.match(value + "/name"):
        raise ConfigError(field, value, IMAGE_REPOSITORY_ALLOWED)
    return value


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


def cidrs(field: str, value, min_addresses: int = 1) -> list:
    """kubeadm ValidateIPNetFromString: one CIDR, or two of different families (dual stack), each
    with a prefix length (host bits are accepted, as Go's ParseCIDR does) -> [ip_network]."""
    try:
        nets = netutil.parse_cidrs(value, field)
    except InvalidValue as exc:
        raise ConfigError(field, value, exc.allowed) from None
    if len(nets) > 2 or (len(nets) == 2 and nets[0].version == nets[1].version):
        raise ConfigError(field, value, "one CIDR, or two (one IPv4, one IPv6) for dual-stack")
    for net in nets:
        if net.num_addresses < min_addresses:
            raise ConfigError(field, value, f"a subnet of at least {min_addresses} addresses ({net} has "
                                            f"{net.num_addresses})")
    return nets


def service_subnet(field: str, value) -> list:
    """kubeadm: at least 10 addresses, at most 20 host bits (the API server's limit)."""
    nets = cidrs(field, value, MIN_SERVICE_SUBNET_ADDRESSES)
    for net in nets:
        if net.max_prefixlen - net.prefixlen > MAX_SERVICE_SUBNET_HOST_BITS:
            raise ConfigError(field, value, f"a service subnet of at most {MAX_SERVICE_SUBNET_HOST_BITS} host bits "
                                            f"(/{net.max_prefixlen - MAX_SERVICE_SUBNET_HOST_BITS} or longer for "
                                            f"IPv{net.version})")
    return nets


def pod_subnet(field: str, value, node_mask=None) -> list:
    """kubeadm ValidatePodSubnetNodeMask: at least 4 addresses; the node mask (controller-manager
    node-cidr-mask-size-ipv4/ipv6, default 24/64; None when allocate-node-cidrs is false) fits
    inside it, at most 16 bits longer."""
    nets = cidrs(field, value, MIN_POD_SUBNET_ADDRESSES)
    for net in nets:
        mask = node_mask(net.version) if node_mask else None
        if mask is None:
            continue
        if net.prefixlen > mask:
            raise ConfigError(field, value, f"a pod subnet at least as large as the node subnet: /{net.prefixlen} "
                                            f"is smaller than the node mask /{mask}")
        if mask - net.prefixlen > POD_SUBNET_NODE_MASK_MAX_DIFF:
            raise ConfigError(field, value, f"a pod subnet whose mask (/{net.prefixlen}) is at most "
                                            f"{POD_SUBNET_NODE_MASK_MAX_DIFF} bits shorter than the node mask "
                                            f"(/{mask})")
    return nets


def node_cidr_mask(field: str, value, version: int) -> int:
    """A kube-controller-manager node-cidr-mask-size-ipv4/ipv6 value (an integer prefix length)."""
    if value is None or value == "":
        return DEFAULT_NODE_CIDR_MASK[version]
    text = str(value).strip()
    if not text.isdigit() or not 0 < int(text) <= (32 if version == 4 else 128):
        raise ConfigError(field, value, f"an IPv{version} prefix length (the kube-controller-manager flag is "
                                        "parsed as an integer)")
    return int(text)


def cert_validity(field: str, value) -> str:
    """A certificate validity period: a Go duration of at least MIN_CERT_VALIDITY."""
    text = duration(field, value)
    if durations.parse_duration(text) < MIN_CERT_VALIDITY:
        raise ConfigError(field, value, f"at least {durations.format_duration(MIN_CERT_VALIDITY)} (a shorter "
                                        "certificate would expire before the cluster could use it)")
    return text


def token_ttl(field: str, value) -> str:
    """A bootstrap token TTL: 0 (never expires) or at least 1s (the Secret stores whole seconds)."""
    text = duration(field, value)
    if 0 < durations.parse_duration(0 if str(value).strip() == "0" else value) < 1:
        raise ConfigError(field, value, "0 (never expires) or at least 1s: the token's expiration is stored in "
                                        "whole seconds, so a shorter TTL creates an expired token")
    return text


def token_expires(field: str, value, now=None) -> str:
    """An absolute token expiry: RFC 3339 with a zone, in the future -> its UTC RFC 3339 form."""
    if isinstance(value, datetime.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
    else:
        text = str(value).strip()
        try:
            moment = datetime.datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in "Zz" else text)
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            raise ConfigError(field, value, "an RFC 3339 time with a zone, such as 2030-01-02T15:04:05Z")
    now = now or datetime.datetime.now(datetime.timezone.utc)
    if moment <= now:
        raise ConfigError(field, value, "a time in the future (the token would be created expired)")
    return moment.astimezone(datetime.timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def token_usages(field: str, value) -> list:
    if not isinstance(value, (list, tuple)) or any(u not in C.TOKEN_USAGES for u in value):
        raise ConfigError(field, value, "a list of: " + ", ".join(C.TOKEN_USAGES))
    return list(value)


def token_groups(field: str, value, usages) -> list:
    """kubeadm ValidateTokenGroups: names matching system:bootstrappers:*, only with the
    'authentication' usage (a token that cannot authenticate has no use for groups)."""
    if not isinstance(value, (list, tuple)):
        raise ConfigError(field, value, "a list of groups matching " + C.TOKEN_GROUP_RE)
    for group in value:
        if not is_token_group(group):
            raise ConfigError(field, group, "a group matching " + C.TOKEN_GROUP_RE)
    if value and "authentication" not in usages:
        raise ConfigError(field, list(value), "token groups cannot be specified unless usages includes "
                                              "'authentication'")
    return list(value)


def external_etcd(field: str, value) -> dict:
    """kubeadm ValidateEtcd for etcd.external: client URLs with a scheme, https when any client file
    is set, certFile and keyFile together and with caFile, absolute file paths."""
    files = {key: value.get(key) or "" for key in ("caFile", "certFile", "keyFile")}
    if bool(files["certFile"]) != bool(files["keyFile"]):
        raise ConfigError(field, "certFile/keyFile", "either both or none of certFile and keyFile")
    if files["certFile"] and not files["caFile"]:
        raise ConfigError(f"{field}.caFile", "", "the CA of the etcd servers when certFile and keyFile are set")
    for key, path in files.items():
        if path and not posixpath.isabs(path):
            raise ConfigError(f"{field}.{key}", path, "an absolute path")
    endpoints = value.get("endpoints")
    if not endpoints or not isinstance(endpoints, list):
        raise ConfigError(f"{field}.endpoints", endpoints, "a non-empty list of etcd client URLs (https://host:2379)")
    need_https = any(files.values())
    for url in endpoints:
        parsed = urllib.parse.urlsplit(str(url))
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ConfigError(f"{field}.endpoints", url, "an etcd client URL with a scheme, such as https://10.0.0.5:2379")
        if need_https and parsed.scheme != "https":
            raise ConfigError(f"{field}.endpoints", url,
                              "an https:// URL: the client certificate and CA files are for TLS")
    return value


def ca_cert_path(field: str, value) -> str:
    """kubeadm: the joining node's CA path is absolute and ends in .crt."""
    if not isinstance(value, str) or not posixpath.isabs(value) or not value.endswith(".crt"):
        raise ConfigError(field, value, "an absolute path ending in .crt")
    return value


def dns_domain(field: str, value) -> str:
    if not is_dns1123_subdomain(value):
        raise ConfigError(field, value, "a DNS domain (RFC 1123 subdomain) such as cluster.local")
    return value


# --- node settings -----------------------------------------------------------------------------

def cri_socket(field: str, value, warnings: list) -> str:
    """A CRI endpoint URL; a bare path gets unix:// (with a warning); dockershim is refused."""
    text = str(value).strip()
    if not text or any(ord(c) < 0x20 or ord(c) == 0x7f for c in text):
        raise ConfigError(field, text, "a CRI endpoint such as " + C.DEFAULT_CRI_SOCKET
                                       + " (no control characters: Go's URL parsing refuses them)")
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


def extra_volumes(field: str, value) -> list:
    """Control-plane extraVolumes: entries with name, hostPath, mountPath (absolute), readOnly, pathType."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError(field, value, "a list of {name, hostPath, mountPath, readOnly, pathType}")
    names = set()
    for index, volume in enumerate(value):
        where = f"{field}.{index}"
        if not isinstance(volume, dict) or not all(isinstance(volume.get(k), str) and volume.get(k)
                                                   for k in ("name", "hostPath", "mountPath")):
            raise ConfigError(where, volume, "an entry with name, hostPath and mountPath")
        for key in ("hostPath", "mountPath"):
            if not posixpath.isabs(volume[key]):
                raise ConfigError(f"{where}.{key}", volume[key], "an absolute path")
        if not isinstance(volume.get("readOnly", False), bool):
            raise ConfigError(f"{where}.readOnly", volume.get("readOnly"), "true or false")
        if volume.get("pathType", "") not in VOLUME_PATH_TYPES:
            raise ConfigError(f"{where}.pathType", volume.get("pathType"),
                              "one of " + ", ".join(t for t in VOLUME_PATH_TYPES if t))
        if volume["name"] in names:
            raise ConfigError(f"{where}.name", volume["name"], "a name used by one volume only")
        names.add(volume["name"])
    return value


def extra_envs(field: str, value) -> list:
    """extraEnvs: entries with a name and a value (or valueFrom)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError(field, value, "a list of {name, value}")
    for index, env in enumerate(value):
        if not isinstance(env, dict) or not isinstance(env.get("name"), str) or not env["name"]:
            raise ConfigError(f"{field}.{index}", env, "an entry {name: <variable>, value: <string>}")
        if "value" in env and not isinstance(env["value"], (str, int, float, bool)):
            raise ConfigError(f"{field}.{index}.value", env["value"], "a string")
    return value


def taints(field: str, value):
    """nodeRegistration.taints: null (kubeadm's default) or a list of {key, value, effect}."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise ConfigError(field, value, "a list of taints {key, value, effect} (or null)")
    for index, taint in enumerate(value):
        if not isinstance(taint, dict) or not isinstance(taint.get("key"), str) or not taint["key"]:
            raise ConfigError(f"{field}.{index}", taint, "a taint {key, value, effect}")
        if taint.get("effect") not in TAINT_EFFECTS:
            raise ConfigError(f"{field}.{index}.effect", taint.get("effect"), "one of " + ", ".join(TAINT_EFFECTS))
    return value


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


def secret_text(field: str, value):
    """A secret option as given: surrounding blanks stripped, but a blank-only value is an error
    (never silently taken as "not given", which would replace it with a random one)."""
    if isinstance(value, str):
        if value and not value.strip():
            raise ConfigError(field, HIDDEN, "a value, not only blanks (omit the option to have one generated)")
        return value.strip()
    return value


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
