# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Preflight checks with kubeadm's names, so `ignore_preflight_errors` works the same.

Unlike kubeadm, a node that is already set up by us passes: a port held by our
own component, or a manifest we wrote, is not an error on a rerun (idempotence).
"""
from __future__ import annotations

import ipaddress
import os
import shutil
import socket
from dataclasses import dataclass

from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import FileError, PreflightError
from ansible_collections.kubeboot.cluster.plugins.module_utils.files import NODE

ERROR = "error"
WARNING = "warning"


@dataclass
class Check:
    name: str
    severity: str  # error | warning
    message: str   # empty when the check passed

    @property
    def failed(self) -> bool:
        return bool(self.message)


def path_check_name(prefix: str, path: str) -> str:
    """kubeadm's naming: FileAvailable--etc-kubernetes-manifests-etcd.yaml."""
    return prefix + path.replace("/", "-")


def check_privileged(fs) -> Check:
    # With a rootfs prefix the module writes into a directory tree: no root needed.
    if fs.rootfs != "/" or os.geteuid() == 0:
        return Check("IsPrivilegedUser", ERROR, "")
    return Check("IsPrivilegedUser", ERROR, "user is not running as root")


def check_num_cpu(minimum: int = 2) -> Check:
    count = os.cpu_count() or 1
    msg = "" if count >= minimum else f"the number of available CPUs {count} is less than the required {minimum}"
    return Check("NumCPU", ERROR, msg)


def _live(path: str):
    """A kernel interface of the running machine (/proc is the host's, never under rootfs)."""
    try:
        return NODE.read_text(path)
    except (FileError, UnicodeDecodeError):
        return None


def check_memory(minimum_mb: int = 1700) -> Check:
    try:
        total_kb = int((_live("/proc/meminfo") or "").splitlines()[0].split()[1])
    except (ValueError, IndexError):
        return Check("Mem", ERROR, "")
    total_mb = total_kb // 1024
    msg = "" if total_mb >= minimum_mb else f"the system RAM ({total_mb} MB) is less than the minimum {minimum_mb} MB"
    return Check("Mem", ERROR, msg)


def port_in_use(port: int, host: str = "") -> bool:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((host, port))
        return False
    except OSError:
        return True
    finally:
        sock.close()


def check_port(port: int, owned_by_us: bool) -> Check:
    msg = ""
    if not owned_by_us and port_in_use(port):
        msg = f"Port {port} is in use"
    return Check(f"Port-{port}", ERROR, msg)


def check_file_available(fs, path: str, ours: bool) -> Check:
    msg = ""
    if fs.exists(path) and not ours:
        msg = f"{path} already exists"
    return Check(path_check_name("FileAvailable-", path), ERROR, msg)


def check_dir_available(fs, path: str, ours: bool) -> Check:
    msg = ""
    real = fs.path(path)
    if os.path.isdir(real) and os.listdir(real) and not ours:
        msg = f"{path} is not empty"
    return Check(path_check_name("DirAvailable-", path), ERROR, msg)


def check_executable(name: str, fs, severity: str = ERROR) -> Check:
    found = shutil.which(name) if fs.rootfs == "/" else any(
        os.access(fs.resolve(os.path.join(d, name)), os.X_OK)
        for d in ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"))
    msg = "" if found else f"{name} not found in system path"
    return Check(f"FileExisting-{name}", severity, msg)


def check_file_content(path: str, wanted: str) -> Check:
    """Reads the live kernel setting (not under rootfs: /proc is the host's)."""
    value = _live(path)
    value = value.strip() if value is not None else None
    msg = "" if value == wanted else f"{path} contents are not set to {wanted}"
    return Check(path_check_name("FileContent-", path), ERROR, msg)


def check_swap() -> Check:
    active = len((_live("/proc/swaps") or "").splitlines()) > 1
    return Check("Swap", WARNING, "swap is supported for cgroup v2 only; the kubelet must be properly "
                 "configured to use swap" if active else "")


def check_http_proxy(endpoint_host: str) -> Check:
    proxy = os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy")
    no_proxy = os.environ.get("NO_PROXY") or os.environ.get("no_proxy") or ""
    msg = ""
    if proxy and endpoint_host not in no_proxy:
        msg = f"Connection to https://{endpoint_host} uses proxy {proxy}; this may not be intended"
    return Check("HTTPProxy", WARNING, msg)


def check_cri(cri_socket: str) -> Check:
    """CRI: the runtime must answer on its socket. A socket that is not there yet (runtime not
    installed, e.g. while building an image) is a warning; one that refuses connections is an error."""
    if not cri_socket.startswith("unix://"):
        return Check("CRI", ERROR, "")
    path = cri_socket[len("unix://"):]
    if not os.path.exists(path):
        return Check("CRI", WARNING, f"no container runtime socket at {path}: the kubelet needs a running "
                                     "runtime (containerd, CRI-O)")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(2)
    try:
        sock.connect(path)
        return Check("CRI", ERROR, "")
    except OSError as exc:
        return Check("CRI", ERROR, f"container runtime is not running: cannot connect to {cri_socket}: "
                                   f"{exc.strerror or exc}")
    finally:
        sock.close()


def check_kubelet_service(fs) -> Check:
    """Service-Kubelet (warning): the kubelet unit should be enabled so it survives reboots."""
    wants = [d for d in ("/etc/systemd/system/multi-user.target.wants", "/lib/systemd/system/multi-user.target.wants")
             if fs.exists(f"{d}/kubelet.service")]
    msg = "" if wants else "kubelet service is not enabled, please run 'systemctl enable kubelet.service'"
    return Check("Service-Kubelet", WARNING, msg)


def check_firewalld() -> Check:
    """Firewalld (warning): an active firewalld may block the API and kubelet ports."""
    active = os.path.exists("/var/run/firewalld/firewalld.pid") or os.path.exists("/run/firewalld/firewalld.pid")
    msg = (f"firewalld is active, please ensure ports [{C.APISERVER_PORT} {C.KUBELET_PORT}] are open or your "
           "cluster may not function correctly") if active else ""
    return Check("Firewalld", WARNING, msg)


def check_http_proxy_cidr(cidr: str) -> Check:
    """HTTPProxyCIDR (warning): traffic to a cluster range must not go through an HTTP proxy."""
    proxy = os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy")
    if not cidr or not proxy:
        return Check("HTTPProxyCIDR", WARNING, "")
    first = ipaddress.ip_network(cidr.split(",", 1)[0].strip(), strict=False).network_address + 1
    for entry in (os.environ.get("NO_PROXY") or os.environ.get("no_proxy") or "").split(","):
        entry = entry.strip()
        try:
            if entry and first in ipaddress.ip_network(entry, strict=False):
                return Check("HTTPProxyCIDR", WARNING, "")
        except ValueError:
            continue
    return Check("HTTPProxyCIDR", WARNING, f"connection to {cidr} uses proxy {proxy}; this may lead to a "
                                           "malfunctional cluster setup: add it to NO_PROXY")


def live_host(fs) -> bool:
    """Checks of the running machine (ports, CPUs, kernel settings) only mean something when the
    files go to this machine's root; with a rootfs prefix the target is a directory tree."""
    return fs.rootfs == "/"


def init_checks(cfg, fs) -> list:
    """The checks `kubeadm init` runs for cfg on this host (kubeadm-artifacts.md §11)."""
    manifests = {c: C.manifest_path(c) for c in (*C.CONTROL_PLANE_COMPONENTS, C.ETCD)}
    ours = {c: fs.exists(p) for c, p in manifests.items()}
    checks = [check_privileged(fs)]
    if live_host(fs):
        checks += [
            check_num_cpu(),
            check_memory(),
            check_port(cfg.bind_port, ours[C.KUBE_APISERVER]),
            check_port(C.SCHEDULER_PORT, ours[C.KUBE_SCHEDULER]),
            check_port(C.CONTROLLER_MANAGER_PORT, ours[C.KUBE_CONTROLLER_MANAGER]),
            check_http_proxy(cfg.advertise_address),
            check_http_proxy_cidr(cfg.cluster["networking"].get("serviceSubnet", "")),
            check_http_proxy_cidr(cfg.cluster["networking"].get("podSubnet", "")),
            check_firewalld(),
            check_file_content("/proc/sys/net/ipv6/conf/default/forwarding" if ":" in cfg.advertise_address
                               else "/proc/sys/net/ipv4/ip_forward", "1"),
        ]
        if cfg.local_etcd:
            checks.append(check_port(C.ETCD_CLIENT_PORT, ours[C.ETCD]))
            checks.append(check_port(C.ETCD_PEER_PORT, ours[C.ETCD]))
    checks += [check_file_available(fs, path, ours=True) for path in manifests.values()]
    if cfg.local_etcd:
        checks.append(check_dir_available(fs, cfg.cluster["etcd"]["local"]["dataDir"], ours[C.ETCD]))
    checks += common_checks(fs, cfg.init["nodeRegistration"].get("criSocket") or C.DEFAULT_CRI_SOCKET)
    return checks


def common_checks(fs, cri_socket: str = C.DEFAULT_CRI_SOCKET) -> list:
    """The checks init and join share."""
    checks = []
    if live_host(fs):
        kubelet_ours = fs.exists(C.kubeconfig_path(C.KUBELET_CONF))
        checks += [check_cri(cri_socket), check_swap(), check_port(C.KUBELET_PORT, kubelet_ours)]
    checks.append(check_kubelet_service(fs))
    for name in ("cp", "losetup", "mount"):
        checks.append(check_executable(name, fs))
    return checks


def evaluate(checks, ignore) -> dict:
    """Raise PreflightError for failed, non-ignored errors; return a report."""
    ignore = {str(i).lower() for i in (ignore or [])}
    ignore_all = "all" in ignore
    report = {"errors": [], "warnings": [], "ignored": []}
    failures = []
    for check in checks:
        if not check.failed:
            continue
        if check.severity == WARNING:
            report["warnings"].append(f"[{check.name}] {check.message}")
        elif ignore_all or check.name.lower() in ignore:
            report["ignored"].append(f"[{check.name}] {check.message}")
        else:
            failures.append((check.name, check.message))
    if failures:
        raise PreflightError(failures)
    return report
