# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Small network helpers: CIDR indexing, host:port with IPv6 brackets, default-route address."""
from __future__ import annotations

import fcntl
import ipaddress
import socket
import struct

from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import FileError, InvalidValue
from ansible_collections.kubeboot.cluster.plugins.module_utils.files import NODE


def parse_cidrs(value: str, field: str) -> list:
    """Comma-separated CIDR list (dual stack allowed) -> list of ip_network."""
    nets = []
    for part in [p.strip() for p in str(value).split(",") if p.strip()]:
        try:
            nets.append(ipaddress.ip_network(part, strict=True))
        except ValueError as exc:
            raise InvalidValue(field, value, f"a CIDR such as 10.96.0.0/12 ({exc})") from None
    if not nets:
        raise InvalidValue(field, value, "a CIDR such as 10.96.0.0/12")
    return nets


def nth_ip(cidr: str, index: int) -> str:
    """The index-th address of the first CIDR in a comma list (10.96.0.0/12, 10 -> 10.96.0.10)."""
    net = ipaddress.ip_network(str(cidr).split(",", 1)[0].strip(), strict=False)
    return str(net.network_address + index)


def is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        return False


def is_ipv6(value: str) -> bool:
    try:
        return ipaddress.ip_address(value).version == 6
    except ValueError:
        return False


def join_host_port(host: str, port) -> str:
    """Go net.JoinHostPort: brackets around IPv6 literals."""
    if ":" in host and not host.startswith("["):
        return f"[{host}]:{port}"
    return f"{host}:{port}"


def split_host_port(endpoint: str, default_port=None) -> tuple:
    """'host:port', '[v6]:port', 'host' -> (host, port or default_port)."""
    text = endpoint.strip()
    if text.startswith("["):
        host, _unused, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else None
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host, port = text, None
    if port in (None, ""):
        return host, default_port
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidValue("endpoint", endpoint, "host:port with a port from 1 to 65535")
    return host, int(port)


def https_url(host: str, port) -> str:
    return "https://" + join_host_port(host, port)


def default_route_address() -> str:
    """IPv4 address of the interface holding the default route (kubeadm's choice for 0.0.0.0)."""
    iface = None
    try:
        table = NODE.read_text("/proc/net/route") or ""
    except FileError:
        table = ""
    for line in table.splitlines()[1:]:
        fields = line.split()
        if len(fields) > 3 and fields[1] == "00000000" and int(fields[3], 16) & 2:
            iface = fields[0]
            break
    if iface:
        address = _interface_ipv4(iface)
        if address:
            return address
    raise InvalidValue("apiserver_advertise_address", "", "no default route found on this host: "
                       "set apiserver_advertise_address to this node's IP")


def _interface_ipv4(iface: str):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        packed = fcntl.ioctl(sock.fileno(), 0x8915,  # SIOCGIFADDR
                             struct.pack("256s", iface[:15].encode()))
        return socket.inet_ntoa(packed[20:24])
    except OSError:
        return None
    finally:
        sock.close()


def tcp_open(host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether something accepts TCP connections on host:port (a component still running)."""
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return True
    except OSError:
        return False
