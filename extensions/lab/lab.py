#!/usr/bin/env python3
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The podman lab: `make lab` builds the node image, starts cp1/w1/w2, runs playbooks/site.yml.

    lab.py host    install what the lab needs on this Debian machine (as root), write containers.conf
    lab.py image   build localhost/kubeboot-node:bookworm with debootstrap (only when missing)
    lab.py up      host + image + packages + nodes + site.yml + show, with the time of each step
    lab.py show    nodes, endpoint, CA hash, certificate expiry, `kubectl get nodes -o wide`
    lab.py check   verify the running lab from outside (CI): kubectl, podman exec, etcdctl
    lab.py add N   start one more worker node N and run site.yml --limit N (a scale-out)
    lab.py scenarios [NAME ...]  run extensions/lab/scenarios/NN_NAME.py on the running lab (CI)
    lab.py down    remove the nodes and the network
    lab.py env     shell exports for molecule (CONTAINERS_CONF, ANSIBLE_COLLECTIONS_PATH, PATH)

Standard library only (`host` and `down` run before/without the venv). Everything it makes lives
in ./lab (containers.conf, inventory, packages, admin.conf, run records) and ./build (image
rootfs, wheels, collections); nothing in /etc is touched except the Debian packages it installs.
"""
from __future__ import annotations

import base64
import datetime
import fcntl
import glob
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAB = os.path.join(REPO, "lab")
BUILD = os.path.join(REPO, "build")
HERE = os.path.join(REPO, "extensions", "lab")
COLLECTIONS = os.path.join(BUILD, "collections")
CONTAINERS_CONF = os.path.join(LAB, "containers.conf")
# KUBEBOOT_LAB_IMAGE=<repository:tag> builds and uses another node image (make bench times a build
# from nothing under its own tag, so the image other labs share is never removed).
IMAGE = os.environ.get("KUBEBOOT_LAB_IMAGE") or "localhost/kubeboot-node:bookworm"
if not re.match(r"\A[a-z0-9./_-]+:[A-Za-z0-9._-]+\Z", IMAGE):
    sys.exit(f"KUBEBOOT_LAB_IMAGE={IMAGE!r}: an image name with a tag, such as localhost/kubeboot-node:mine")
# KUBEBOOT_LAB=<name> runs a second lab beside the default one (nodes <name>-cp1 ..., network
# kubeboot-<name>), e.g. one per work tree; the image is shared.
LAB_NAME = os.environ.get("KUBEBOOT_LAB", "")
if LAB_NAME and not re.match(r"\A[a-z0-9]{1,8}\Z", LAB_NAME):
    sys.exit(f"KUBEBOOT_LAB={LAB_NAME!r}: up to 8 lowercase letters and digits")
PREFIX = LAB_NAME + "-" if LAB_NAME else ""
# KUBEBOOT_LAB_CHECK_FRESH=0 skips the site.yml --check pass on fresh nodes (make bench times converges)
CHECK_FRESH = os.environ.get("KUBEBOOT_LAB_CHECK_FRESH", "1") != "0"
NETWORK = "kubeboot" + ("-" + LAB_NAME if LAB_NAME else "")
STATE = os.path.join(LAB, LAB_NAME) if LAB_NAME else LAB  # inventory, admin.conf, run records
LABEL = "kubeboot.lab=" + (LAB_NAME or "1")
NODES = {PREFIX + "cp1": ["kube_control_plane", "etcd"], PREFIX + "w1": ["kube_node"], PREFIX + "w2": ["kube_node"]}
# The lab deploys this minor and can upgrade to the next one (packages are built for both).
LAB_MINORS = (36, 37)
# The cluster's pod network (the collection's default; the flannel ConfigMap must carry it).
LAB_POD_CIDR = "10.244.0.0/16"
# The podman connection plugin and the profile_tasks callback (from the PyPI ansible wheel).
LAB_COLLECTIONS = ["containers.podman", "ansible.posix"]
HOST_PACKAGES = ("podman", "runc", "debootstrap", "python3-venv", "openssl", "make", "git", "iptables")
# Baked into the node image, so the roles find them installed and no node needs a network
# (debootstrap does not resolve virtual packages: python3-cffi-backend is named for cryptography).
NODE_PACKAGES = ("python3", "systemd", "systemd-sysv", "dbus", "iproute2", "openssl", "ca-certificates",
                 "python3-cryptography", "python3-cffi-backend", "python3-yaml", "containerd", "runc", "etcd-server", "etcd-client",
                 "conntrack", "socat", "ipset", "ebtables", "iptables", "kmod", "procps", "apt-utils", "sudo")
CONTAINERS_CONF_TEXT = """\
# Written by extensions/lab/lab.py (shared/lab/podman.md): crun fails on this cgroup layout and
# podman's default rlimits are refused, so runc, cgroupfs and explicit ulimits.
[containers]
default_ulimits = ["nofile=1024:4096", "nproc=4096:4096"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
"""


class LabError(Exception):
    """One clear line: what failed or what is missing."""


# --- small helpers -----------------------------------------------------------------------------
def env() -> dict:
    out = dict(os.environ, CONTAINERS_CONF=CONTAINERS_CONF, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS)
    venv_bin = os.path.join(REPO, ".venv", "bin")
    if os.path.isdir(venv_bin):
        out["PATH"] = venv_bin + os.pathsep + out.get("PATH", "")
    return out


def run(argv, check=True, capture=False, quiet=False, **kwargs) -> subprocess.CompletedProcess:
    if not quiet and not capture:
        print("+ " + " ".join(argv), flush=True)
    proc = subprocess.run(argv, env=env(), text=True, capture_output=capture, **kwargs)
    if check and proc.returncode != 0:
        detail = (proc.stderr or "").strip().splitlines()[-1:] if capture else []
        raise LabError(f"`{' '.join(argv[:4])}{' ...' if len(argv) > 4 else ''}` exited {proc.returncode}"
                       + (f": {detail[0]}" if detail else " (see the output above)"))
    return proc


def podman(*args, **kwargs) -> subprocess.CompletedProcess:
    return run(["podman", *args], **kwargs)


def node_exec(node: str, *argv, check=True) -> str:
    return podman("exec", node, *argv, capture=True, check=check).stdout


class Timer:
    """Records how long each step of `up` takes, for the summary and lab/last-run.json."""

    def __init__(self):
        self.steps = []

    def step(self, name: str, func, *args):
        start = time.monotonic()
        print(f"\n== {name}", flush=True)
        try:
            return func(*args)
        except subprocess.CalledProcessError as exc:
            raise LabError(f"step '{name}' failed: {exc}") from None
        except LabError as exc:
            raise LabError(f"step '{name}' failed: {exc}") from None
        finally:
            self.steps.append((name, time.monotonic() - start))

    def lines(self) -> list:
        total = sum(seconds for _name, seconds in self.steps)
        return [f"  {name:<28} {seconds:7.1f} s" for name, seconds in self.steps] + [f"  {'total':<28} {total:7.1f} s"]


# --- host --------------------------------------------------------------------------------------
def require_root() -> None:
    if os.geteuid() != 0:
        raise LabError("make lab needs root (rootful podman with privileged systemd nodes, apt-get): "
                       "run it as root, e.g. `sudo make lab`")


def missing_packages() -> list:
    missing = []
    for package in HOST_PACKAGES:
        status = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True)
        if "install ok installed" not in status.stdout:
            missing.append(package)
    return missing


def host() -> None:
    require_root()
    if not shutil.which("apt-get") or not shutil.which("dpkg-query"):
        raise LabError("make lab sets itself up on Debian/Ubuntu (apt-get); install podman, runc and "
                       "debootstrap by hand on other systems")
    missing = missing_packages()
    if missing:
        print("installing from Debian: " + " ".join(missing), flush=True)
        apt_env = dict(env(), DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], env=apt_env, check=True)
        proc = subprocess.run(["apt-get", "install", "-y", "-qq", *missing], env=apt_env)
        if proc.returncode != 0:
            raise LabError("apt-get could not install " + " ".join(missing))
    else:
        print("host packages present: " + " ".join(HOST_PACKAGES))
    if not shutil.which("kubectl"):
        print("note: kubectl is not installed; `make lab` will not print `kubectl get nodes`", flush=True)
    write_containers_conf()
    inotify = "/proc/sys/fs/inotify/max_user_instances"
    if os.path.exists(inotify) and int(open(inotify).read()) < 8192:
        with open(inotify, "w") as handle:  # systemd in every node wants inotify instances
            handle.write("8192")


# --- the node image -------------------------------------------------------------------------
def image_recipe() -> str:
    """What the image is built from; a different recipe (e.g. a new package) rebuilds the image."""
    return hashlib.sha256(json.dumps(["bookworm", NODE_PACKAGES]).encode()).hexdigest()[:16]


def image_exists() -> bool:
    """The image exists and was built from today's recipe."""
    proc = podman("image", "inspect", "--format", "{{index .Labels \"kubeboot.recipe\"}}", IMAGE,
                  capture=True, check=False)
    return proc.returncode == 0 and proc.stdout.strip() == image_recipe()


def debian_mirror() -> str:
    """The host's own Debian mirror (an offline or local mirror keeps working), else deb.debian.org."""
    for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*")):
        try:
            text = open(path, encoding="utf-8").read()
        except OSError:
            continue
        match = re.search(r"^(?:URIs:\s*|deb\s+(?:\[[^\]]*\]\s+)?)(\S+/debian)/?\s", text, re.M)
        if match:
            return match.group(1)
    return "http://deb.debian.org/debian"


def image() -> None:
    require_root()
    os.makedirs(BUILD, exist_ok=True)
    with open("/tmp/kubeboot-lab-image.lock", "w") as lock:  # labs of other work trees share the image
        fcntl.flock(lock, fcntl.LOCK_EX)
        _build_image()


def _build_image() -> None:
    if image_exists():
        print(f"{IMAGE} exists, recipe {image_recipe()} (cached; `podman rmi {IMAGE}` rebuilds it)")
        return
    if running_nodes():
        raise LabError(f"the node image recipe changed: remove the old nodes first (make lab-down)")
    rootfs = os.path.join(BUILD, "rootfs")  # under build/ of this work tree
    shutil.rmtree(rootfs, ignore_errors=True)
    run(["debootstrap", "--variant=minbase", "--include=" + ",".join(NODE_PACKAGES), "bookworm", rootfs,
         debian_mirror()])
    # Debian's etcd-server starts its own etcd on 127.0.0.1:2379; in the nodes etcd is the static Pod.
    os.symlink("/dev/null", os.path.join(rootfs, "etc/systemd/system/etcd.service"))
    with open(os.path.join(rootfs, "etc/hostname"), "w") as handle:
        handle.write("kubeboot-node\n")
    tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
    podman("import", "--change", "CMD=/lib/systemd/systemd", "--change", "LABEL=kubeboot.recipe=" + image_recipe(),
           "-", IMAGE, stdin=tar.stdout)
    tar.wait()
    shutil.rmtree(rootfs, ignore_errors=True)


# --- the lab's packages ---------------------------------------------------------------------------
def lab_versions() -> list:
    """The Kubernetes versions the lab packages are built for, from the collection's version table."""
    sys.path.insert(0, COLLECTIONS)
    from ansible_collections.kubeboot.cluster.plugins.module_utils import versions  # noqa: E402
    return [versions.NEWEST_PATCH[minor] for minor in LAB_MINORS]


def package_dir() -> str:
    return os.path.join(LAB, "packages")


def package_sources() -> list:
    sources = [os.path.join(HERE, "standins", name) for name in ("kubelet", "kubelet.service")]
    return sources + sorted(glob.glob(os.path.join(REPO, "tests", "support", "apiserver", "*.py")))


def build_kubelet_package(version: str) -> str:
    """kubelet_<version>-1kubebootlab.<stamp>_all.deb: the lab's kubelet stand-in, its unit and the API
    double. The stamp is the newest source's mtime, so an edited stand-in is a newer package that
    kube_packages installs over the old one, and an unchanged one is the same file (no change)."""
    sources = package_sources()
    newest = int(max(os.path.getmtime(p) for p in sources))
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(newest))
    deb_version = f"{version.lstrip('v')}-1kubebootlab.{stamp}"
    out = os.path.join(package_dir(), f"kubelet_{deb_version}_all.deb")
    if os.path.exists(out):
        return out
    os.makedirs(package_dir(), exist_ok=True)
    for old in glob.glob(os.path.join(package_dir(), f"kubelet_{version.lstrip('v')}-*_all.deb")):
        os.unlink(old)
    with tempfile.TemporaryDirectory() as root:
        _install(sources[0], root, "usr/bin/kubelet", 0o755, lambda text: text.replace("@KUBELET_VERSION@", version))
        _install(sources[1], root, "usr/lib/systemd/system/kubelet.service", 0o644)
        for path in sources[2:]:
            if os.path.basename(path) != "testing.py":  # pytest helpers: not needed in a node
                _install(path, root, "usr/lib/kubeboot-lab/apiserver/" + os.path.basename(path), 0o644)
        control = os.path.join(root, "DEBIAN")
        os.makedirs(control)
        with open(os.path.join(control, "control"), "w") as handle:
            handle.write(CONTROL.format(version=deb_version))
        for script, text in (("postinst", POSTINST), ("prerm", PRERM)):
            with open(os.path.join(control, script), "w") as handle:
                handle.write(text)
            os.chmod(os.path.join(control, script), 0o755)
        for directory, _dirs, names in os.walk(root):  # the same sources give the same bytes
            for name in names + [""]:
                os.utime(os.path.join(directory, name), (newest, newest))
        build_env = dict(env(), SOURCE_DATE_EPOCH=str(newest))
        proc = subprocess.run(["dpkg-deb", "--root-owner-group", "--build", root, out], env=build_env,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise LabError(f"dpkg-deb could not build {os.path.basename(out)}: {proc.stderr.strip()}")
    return out


def _install(source: str, root: str, target: str, mode: int, transform=None) -> None:
    path = os.path.join(root, target)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    text = open(source, encoding="utf-8").read()
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(transform(text) if transform else text)
    os.chmod(path, mode)


CONTROL = """\
Package: kubelet
Version: {version}
Architecture: all
Maintainer: kubeboot developers
Depends: python3, python3-cryptography, python3-yaml
Recommends: etcd-server
Section: admin
Priority: optional
Description: kubeboot LAB STAND-IN for the kubelet (not the Kubernetes kubelet)
 Built by the kubeboot.cluster lab (extensions/lab/lab.py) because no kubelet can be installed on
 the lab machines. /usr/bin/kubelet is a Python program that runs the static Pods of the lab
 (real etcd; the kubeboot API double as kube-apiserver), does the TLS bootstrap, registers the
 Node and reports it Ready. It runs no containers.
"""
# What the pkgs.k8s.io kubelet package does: enable the unit and start it; it restarts every 10 s
# until kubeadm (here: kubeadm_init / kubeadm_join) has written its configuration.
POSTINST = """#!/bin/sh
set -e
if [ "$1" = "configure" ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl enable kubelet.service >/dev/null 2>&1 || true
  systemctl restart kubelet.service || true
fi
"""
PRERM = """#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
  systemctl stop kubelet.service || true
fi
"""


def packages() -> list:
    built = [build_kubelet_package(version) for version in lab_versions()]
    for path in built:
        print("package: " + os.path.relpath(path, REPO))
    return built


# --- collections for the controller ------------------------------------------------------------
def collections() -> None:
    sys.path.insert(0, os.path.join(REPO, "tests", "tools"))
    import wheel_collections  # noqa: E402
    done = wheel_collections.extract(COLLECTIONS, LAB_COLLECTIONS, python=python())
    print(", ".join(LAB_COLLECTIONS) + (": extracted from the PyPI ansible wheel" if done else ": present"))


def python() -> str:
    venv = os.path.join(REPO, ".venv", "bin", "python")
    return venv if os.path.exists(venv) else sys.executable


# --- nodes ------------------------------------------------------------------------------------
def running_nodes() -> list:
    out = podman("ps", "-a", "--filter", "label=" + LABEL, "--format", "{{.Names}}", capture=True).stdout
    return sorted(out.split())


def start_node(name: str) -> None:
    # ip_forward=0 as on a fresh Debian machine (podman's default varies): the prereqs role sets it,
    # and site.yml --check on fresh nodes must plan around it
    podman("run", "-d", "--name", name, "--hostname", name, "--network", NETWORK, "--privileged",
           "--sysctl", "net.ipv4.ip_forward=0", "--systemd=always", "--tmpfs", "/var/lib/containerd",
           "--label", LABEL, IMAGE, "/lib/systemd/systemd")


def wait_for_systemd(name: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        state = podman("exec", name, "systemctl", "is-system-running", capture=True, check=False).stdout.strip()
        if state in ("running", "degraded"):
            return
        time.sleep(1)
    raise LabError(f"systemd in node {name} did not come up within {timeout:.0f} s (state {state!r})")


def nodes(names=None) -> list:
    """Start the nodes that do not exist yet; returns the ones started now."""
    if podman("network", "exists", NETWORK, check=False, quiet=True).returncode != 0:
        podman("network", "create", NETWORK)
    existing = running_nodes()
    started = []
    for name in names or NODES:
        if name in existing:
            if podman("inspect", "-f", "{{.State.Running}}", name, capture=True).stdout.strip() != "true":
                podman("start", name)
            continue
        start_node(name)
        started.append(name)
    for name in names or NODES:
        wait_for_systemd(name)
    return started


def inventory(extra_workers=()) -> str:
    """lab/inventory.yml: the nodes as a kubespray-style inventory, with the lab's settings."""
    os.makedirs(STATE, exist_ok=True)
    path = os.path.join(STATE, "inventory.yml")
    groups = {"kube_control_plane": [], "etcd": [], "kube_node": []}
    for name, member_of in NODES.items():
        for group in member_of:
            groups[group].append(name)
    groups["kube_node"] += [n for n in extra_workers if n not in groups["kube_node"]]
    lab_vars = {
        "ansible_connection": "podman_pipelined",
        "ansible_python_interpreter": "/usr/bin/python3",
        "kubeboot_kubernetes_version": lab_versions()[0],
        # the lab's kubelet package (the stand-in) through kube_packages' offline path
        "kube_packages_source": "offline",
        "kube_packages_offline_dir": package_dir(),
        "kube_packages_names": ["kubelet"],
        "kube_packages_crictl": False,
        # the kubelet is running before the join: wait for its TLS bootstrap
        "node_wait_for_kubelet": True,
    }
    document = {"all": {"children": {
        **{group: {"hosts": {h: None for h in members}} for group, members in groups.items()},
        "k8s_cluster": {"children": {"kube_control_plane": None, "kube_node": None}, "vars": lab_vars}}}}
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("# Written by extensions/lab/lab.py: the lab's nodes as a kubespray-style inventory.\n")
        json.dump(document, handle, indent=2)  # JSON is YAML
    return path


def extra_workers() -> list:
    return [n for n in running_nodes() if n not in NODES]


# --- the playbook -----------------------------------------------------------------------------
RECAP_RE = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


# What of a -vvv run is printed; everything goes to the logs, which `check` scans for secrets.
SHOWN = re.compile(r"^(PLAY |TASK |RUNNING HANDLER|ok: |changed: |skipping: |fatal: |failed: |\.\.\.ignoring|"
                   r"\[WARNING|\[ERROR|\[DEPRECATION|\S+\s+: ok=|[A-Za-z].* -{3,} [0-9.]+s$|=+ ?$|\w+day \d\d)")
RESULT_JSON = re.compile(r" => \{$")  # -vvv's result follows in the log only


def playbook(limit=None, check=False, path=None, extra_vars=None, tags=None) -> dict:
    """ansible-playbook -vvv of `path` (default the lab's play: site.yml) over the lab inventory; the
    recap. The full -vvv output goes to lab/last-playbook.log and ANSIBLE_LOG_PATH (lab/ansible.log),
    both scanned for secrets by `check`; the terminal gets the usual summary lines."""
    argv = ["ansible-playbook", "-vvv", "-i", inventory(extra_workers()), path or os.path.join(HERE, "site-lab.yml")]
    if limit:
        argv += ["--limit", limit]
    if check:
        argv += ["--check", "--diff"]
    if tags:
        argv += ["--tags", tags]
    for key, value in (extra_vars or {}).items():
        argv += ["-e", json.dumps({key: value})]
    lab_env = dict(env(), ANSIBLE_CONFIG=os.path.join(HERE, "ansible.cfg"),
                   ANSIBLE_LOG_PATH=os.path.join(STATE, "ansible.log"))
    print("+ " + " ".join(argv), flush=True)
    log_path = os.path.join(STATE, "last-playbook.log")
    with open(log_path, "w", encoding="utf-8") as log, \
            open(os.path.join(STATE, "all-playbooks.log"), "a", encoding="utf-8") as every:
        # no stdin: a lab playbook never waits for an answer (reset.yml's question is refused instead)
        proc = subprocess.Popen(argv, env=lab_env, text=True, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        output = []
        for line in proc.stdout:
            if SHOWN.match(line) or line.startswith(("fatal", "failed")):
                sys.stdout.write(RESULT_JSON.sub("", line))
            log.write(line)
            every.write(line)
            output.append(line)
        proc.wait()
    recap = {m.group(1): {"ok": int(m.group(2)), "changed": int(m.group(3)), "unreachable": int(m.group(4)),
                          "failed": int(m.group(5))} for m in RECAP_RE.finditer("".join(output))}
    if proc.returncode != 0:
        tail = "".join(line for line in output[-60:] if not SHOWN.match(line))[-3000:]
        print(tail, flush=True)
        raise LabError(f"ansible-playbook exited {proc.returncode} (log: {os.path.relpath(log_path, REPO)})")
    return recap


# --- show and check -------------------------------------------------------------------------------
def control_plane_node() -> str:
    return next(name for name, groups in NODES.items() if "kube_control_plane" in groups)


def fetch_admin_conf() -> str:
    """cp1's admin.conf, as it is (its server is cp1's address, reachable from this host)."""
    path = os.path.join(STATE, "admin.conf")
    text = node_exec(control_plane_node(), "cat", "/etc/kubernetes/admin.conf")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return path


def kubectl(*args, check=True) -> subprocess.CompletedProcess:
    cache = os.path.join(STATE, "kubectl-cache")
    return run(["kubectl", "--kubeconfig", os.path.join(STATE, "admin.conf"), "--cache-dir", cache,
                "--request-timeout", "15s", *args], capture=True, check=check)


CA_HASH_PIPELINE = ("openssl x509 -pubkey -in /etc/kubernetes/pki/ca.crt | openssl pkey -pubin -outform der "
                    "| openssl dgst -sha256 -hex | sed 's/^.* //'")


def show(timer=None, recap=None) -> None:
    cp = control_plane_node()
    admin = fetch_admin_conf()
    server = re.search(r"server:\s*(\S+)", open(admin).read()).group(1)
    print("\n== the lab cluster")
    print(podman("ps", "--filter", "label=" + LABEL, "--format", "{{.Names}}\t{{.Status}}\t{{.Networks}}",
                 capture=True).stdout.rstrip())
    print(f"endpoint:   {server}")
    print("CA hash:    sha256:" + node_exec(cp, "sh", "-c", CA_HASH_PIPELINE).strip())
    print("certificates (openssl x509 -enddate):")
    for crt in sorted(node_exec(cp, "sh", "-c", "ls /etc/kubernetes/pki/*.crt /etc/kubernetes/pki/etcd/*.crt").split()):
        end = node_exec(cp, "openssl", "x509", "-noout", "-enddate", "-in", crt).strip().split("=", 1)[1]
        print(f"  {crt:<52} {end}")
    if shutil.which("kubectl"):
        print("kubectl get nodes -o wide:")
        print(kubectl("get", "nodes", "-o", "wide").stdout.rstrip())
    print(f"admin.conf: {os.path.relpath(admin, os.getcwd())}  (kubectl --kubeconfig {os.path.relpath(admin, os.getcwd())} ...)")
    if recap:
        print("ansible recap: " + ", ".join(f"{h} changed={r['changed']}" for h, r in sorted(recap.items())))
    if timer:
        print("timings:")
        print("\n".join(timer.lines()))


def wait_ready(names, timeout: float = 120) -> list:
    deadline = time.monotonic() + timeout
    lines = []
    while time.monotonic() < deadline:
        out = kubectl("get", "nodes", "--no-headers", check=False)
        lines = [line.split() for line in out.stdout.splitlines() if line.strip()]
        ready = {cols[0] for cols in lines if len(cols) > 1 and cols[1] == "Ready"}
        if set(names) <= ready:
            return lines
        time.sleep(2)
    raise LabError(f"nodes not Ready within {timeout:.0f} s: {lines}")


def check(idempotent=False) -> None:
    """What CI checks from outside: real kubectl, podman exec into the nodes, etcdctl, the recap."""
    fetch_admin_conf()
    names = sorted(set(NODES) | set(extra_workers()))
    rows = wait_ready(names)
    print("kubectl get nodes: " + "; ".join(" ".join(cols[:3]) for cols in rows))
    roles = {cols[0]: cols[2] for cols in rows}
    if roles.get(control_plane_node()) != "control-plane":
        raise LabError(f"{control_plane_node()} has roles {roles.get(control_plane_node())!r}, wanted control-plane")
    for name in names:
        for unit in ("containerd", "kubelet"):
            state = node_exec(name, "systemctl", "is-active", unit, check=False).strip()
            if state != "active":
                raise LabError(f"{unit} is {state!r} on {name}")
        node_exec(name, "ctr", "version")
        forward = node_exec(name, "cat", "/proc/sys/net/ipv4/ip_forward").strip()
        if forward != "1":  # the nodes start with 0: the prereqs role must have applied its sysctl file
            raise LabError(f"net.ipv4.ip_forward is {forward!r} on {name}, wanted 1")
    print("net.ipv4.ip_forward: 1 on every node (the nodes start with 0)")
    cp = control_plane_node()
    members = json.loads(node_exec(cp, "etcdctl", "--endpoints=https://127.0.0.1:2379",
                                   "--cacert=/etc/kubernetes/pki/etcd/ca.crt",
                                   "--cert=/etc/kubernetes/pki/apiserver-etcd-client.crt",
                                   "--key=/etc/kubernetes/pki/apiserver-etcd-client.key",
                                   "member", "list", "-w", "json"))["members"]
    print("etcd members: " + ", ".join(m["name"] for m in members))
    for item in ("kube-system/kubeadm-config", "kube-public/cluster-info", "kube-system/kubelet-config"):
        namespace, name = item.split("/")
        kubectl("get", "configmap", "-n", namespace, name, "-o", "name")
    print("configmaps kubeadm-config, cluster-info, kubelet-config: present")
    net_conf = json.loads(kubectl("get", "configmap", "-n", "kube-flannel", "kube-flannel-cfg", "-o", "json").stdout)
    network = json.loads(net_conf["data"]["net-conf.json"])["Network"]
    kubectl("get", "daemonset", "-n", "kube-flannel", "kube-flannel-ds", "-o", "name")
    if network != LAB_POD_CIDR:
        raise LabError(f"flannel's net-conf.json has Network {network}, wanted the pod CIDR {LAB_POD_CIDR}")
    print(f"CNI: DaemonSet kube-flannel/kube-flannel-ds, net-conf.json Network {network}")
    secrets_scan(names)
    if idempotent:
        last = last_run()
        changed = {host: r["changed"] for host, r in last.get("recap", {}).items()}
        if not last.get("rerun") or not last.get("ok") or any(changed.values()):
            raise LabError(f"the rerun was not idempotent: changed per host {changed}")
        print(f"rerun idempotent: changed=0 on {', '.join(sorted(changed))}")
    print("lab check: OK")


KEY_FILES = ("find /etc/kubernetes /var/lib/kubelet/pki -xdev -type f \\( -name '*.key' -o -name '*.pem' "
             "-o -name '*.conf' \\) 2>/dev/null")


def cluster_secrets(names) -> dict:
    """What must never be in a log: bootstrap token secrets (from the API) and a fingerprint line of
    every private key on the nodes (key files, kubelet pems, keys embedded in kubeconfigs)."""
    found = {}
    secrets = json.loads(kubectl("get", "secrets", "-n", "kube-system", "-o", "json").stdout)["items"]
    for secret in secrets:
        if secret.get("type") == "bootstrap.kubernetes.io/token":
            value = base64.b64decode(secret["data"]["token-secret"]).decode()
            found[f"token {secret['metadata']['name']}"] = value
    for node in names:
        for path in node_exec(node, "sh", "-c", KEY_FILES).split():
            text = node_exec(node, "cat", path, check=False)
            for key_b64 in re.findall(r"client-key-data:\s*(\S+)", text):
                text += "\n" + base64.b64decode(key_b64).decode("utf-8", "replace")
                found[f"{node}:{path} client-key-data"] = key_b64[:64]
            for body in re.findall(r"-----BEGIN [A-Z ]*PRIVATE KEY-----\n(.+?)\n", text):
                found[f"{node}:{path} private key"] = body
    return found


def secrets_scan(names) -> None:
    """No secret of the cluster in any playbook log of this lab (-vvv, --diff, ANSIBLE_LOG_PATH)."""
    logs = [p for p in (os.path.join(STATE, "all-playbooks.log"), os.path.join(STATE, "ansible.log"))
            if os.path.exists(p)]
    if not logs:
        raise LabError(f"no playbook logs in {os.path.relpath(STATE, REPO)} to scan for secrets (run make lab)")
    text = "".join(open(p, encoding="utf-8", errors="replace").read() for p in logs)
    secrets = cluster_secrets(names)
    leaked = sorted(what for what, value in secrets.items() if value and value in text)
    if "PRIVATE KEY-----" in text:
        leaked.append("a PEM private key block")
    if leaked:
        raise LabError(f"secrets in the playbook logs ({', '.join(os.path.relpath(p, REPO) for p in logs)}): "
                       + "; ".join(leaked))
    size = sum(os.path.getsize(p) for p in logs) // 1024
    print(f"secrets: none of {len(secrets)} (tokens, private keys) in {len(logs)} -vvv logs ({size} KiB)")


# --- commands ---------------------------------------------------------------------------------
def last_run() -> dict:
    try:
        with open(os.path.join(STATE, "last-run.json"), encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {}


def record_run(timer, had_image: bool, rerun: bool, recap: dict, ok: bool) -> None:
    record = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), "ok": ok,
              "image_built": not had_image, "rerun": rerun, "recap": recap,
              "steps": [{"step": name, "seconds": round(seconds, 1)} for name, seconds in timer.steps]}
    os.makedirs(STATE, exist_ok=True)
    with open(os.path.join(STATE, "last-run.json"), "w", encoding="utf-8") as handle:
        json.dump(record, handle, indent=2)


def up() -> None:
    """A rerun (the nodes exist and the last run completed) must change nothing on any host."""
    timer = Timer()
    timer.step("host packages", host)
    had_image = image_exists()
    timer.step("node image" + ("" if had_image else " (build)"), image)
    timer.step("lab packages", packages)
    timer.step("collections", collections)
    previous = last_run()
    started = timer.step("nodes", nodes)
    rerun = not started and bool(previous.get("ok"))
    recap = {}
    try:
        if set(started) == set(NODES) and CHECK_FRESH:
            timer.step("site.yml --check (fresh nodes)", check_fresh)
        recap = timer.step("site.yml", playbook)
        timer.step("show", show)
    except LabError:
        record_run(timer, had_image, rerun, recap, ok=False)
        raise
    record_run(timer, had_image, rerun, recap, ok=True)
    print("\ntimings:\n" + "\n".join(timer.lines()))
    changed = {host_name: r["changed"] for host_name, r in recap.items()}
    if rerun:
        verdict = "idempotent (changed=0 on every host)" if not any(changed.values()) else \
            f"NOT idempotent: {changed}"
        print(f"rerun on existing nodes: {verdict}")
        if any(changed.values()):
            raise LabError(f"the rerun changed something: {changed}")


def check_fresh() -> None:
    """site.yml --check --diff on nodes that have nothing yet runs to the end and writes nothing."""
    recap = playbook(check=True)  # --check --diff
    failed = {h: r for h, r in recap.items() if r["failed"] or r["unreachable"]}
    if failed or set(recap) != set(NODES):
        raise LabError(f"site.yml --check on fresh nodes: {recap}")
    cp = next(name for name, groups in NODES.items() if "kube_control_plane" in groups)
    written = node_exec(cp, "sh", "-c", "find /etc/kubernetes -type f 2>/dev/null", check=False).split()
    if written:
        raise LabError(f"site.yml --check wrote into {cp}:/etc/kubernetes: {written}")
    forward = node_exec(cp, "cat", "/proc/sys/net/ipv4/ip_forward").strip()
    if forward != "0":
        raise LabError(f"site.yml --check changed net.ipv4.ip_forward on {cp} to {forward!r}")
    would = ", ".join(f"{h} changed={r['changed']}" for h, r in sorted(recap.items()))
    print(f"site.yml --check --diff on fresh nodes: ran to the end, nothing written ({would})")


def add(name: str) -> None:
    name = PREFIX + name
    if not re.match(r"\A[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z", name) or name in NODES:
        raise LabError(f"node name {name!r}: a new lowercase DNS label other than {', '.join(NODES)}")
    nodes([name])
    recap = playbook(limit=name)
    print("ansible recap: " + ", ".join(f"{h} changed={r['changed']}" for h, r in sorted(recap.items())))


def write_containers_conf() -> None:
    """lab/containers.conf (runc, cgroupfs, ulimits): every podman call of the lab reads it."""
    os.makedirs(LAB, exist_ok=True)
    with open(CONTAINERS_CONF, "w", encoding="utf-8") as handle:
        handle.write(CONTAINERS_CONF_TEXT)


def down() -> None:
    require_root()
    write_containers_conf()  # `down` before any `up` in this clone (CI's cleanup, make bench) works too
    names = running_nodes()
    if names:
        podman("rm", "-f", "-t", "2", *names)
    if podman("network", "exists", NETWORK, check=False, quiet=True).returncode == 0:
        podman("network", "rm", NETWORK)
    for name in ("admin.conf", "last-run.json", "inventory.yml", "all-playbooks.log", "ansible.log"):
        if os.path.exists(os.path.join(STATE, name)):
            os.unlink(os.path.join(STATE, name))
    print("lab removed (the image stays cached)")


# --- scenarios: what CI proves on the running lab after `make lab` ------------------------------
SCENARIOS = os.path.join(HERE, "scenarios")


class Lab:
    """What a scenario (extensions/lab/scenarios/<NN>_<name>.py, `run(lab)`) may use."""

    Error = LabError
    repo = REPO
    playbooks = os.path.join(REPO, "playbooks")
    nodes = NODES
    prefix = PREFIX
    state = STATE  # the lab's records: last-playbook.log, admin.conf

    @staticmethod
    def playbook(path=None, **kwargs) -> dict:
        return playbook(path=path, **kwargs)

    @staticmethod
    def exec(node: str, *argv, check=True) -> str:
        return node_exec(node, *argv, check=check)

    @staticmethod
    def kubectl(*args, check=True) -> subprocess.CompletedProcess:
        fetch_admin_conf()
        return kubectl(*args, check=check)

    @staticmethod
    def add_node(name: str) -> str:
        """Start one more (empty) node; its inventory name, which is in kube_node from now on."""
        full = PREFIX + name
        nodes([full])
        return full

    @staticmethod
    def remove_container(name: str) -> None:
        """Remove a node's container (if it exists); its Node object stays in the API."""
        podman("rm", "-f", "-t", "2", "--ignore", name)

    control_plane = staticmethod(control_plane_node)
    wait_ready = staticmethod(wait_ready)
    check = staticmethod(check)


def scenarios(names=()) -> None:
    """Run the scenarios in their file order (all, or those named); each failure is one clear line."""
    found = sorted(glob.glob(os.path.join(SCENARIOS, "[0-9]*_*.py")))
    chosen = [p for p in found if not names or os.path.basename(p)[3:-3] in names]
    if names and len(chosen) != len(names):
        raise LabError(f"unknown scenario(s): {sorted(set(names) - {os.path.basename(p)[3:-3] for p in found})}")
    timings = []
    for path in chosen:
        name = os.path.basename(path)[:-3]
        spec = importlib.util.spec_from_file_location("kubeboot_lab_scenario_" + name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        print(f"\n== scenario {name}: {(module.__doc__ or '').strip().splitlines()[0]}", flush=True)
        start = time.monotonic()
        try:
            module.run(Lab)
        except LabError as exc:
            raise LabError(f"scenario {name}: {exc}") from None
        timings.append((name, time.monotonic() - start))
        print(f"== scenario {name}: OK ({timings[-1][1]:.0f} s)", flush=True)
    print("\nscenario timings:\n" + "\n".join(f"  {n:<28} {t:7.1f} s" for n, t in timings))


def print_env() -> None:
    print(f"export CONTAINERS_CONF={CONTAINERS_CONF}")
    print(f"export ANSIBLE_COLLECTIONS_PATH={COLLECTIONS}")
    print(f"export PATH={os.path.join(REPO, '.venv', 'bin')}:$PATH")


COMMANDS = {"host": host, "image": image, "up": up, "show": show, "down": down, "env": print_env,
            "check": lambda: check("--idempotent" in sys.argv), "packages": packages,
            "scenarios": lambda: scenarios(tuple(sys.argv[2:]))}


def main(argv) -> int:
    if not argv or (argv[0] not in COMMANDS and argv[0] != "add"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        if argv[0] == "add":
            if len(argv) != 2:
                raise LabError("usage: lab.py add NAME")
            add(argv[1])
        else:
            if argv[0] not in ("env", "host", "down"):
                require_root()
            COMMANDS[argv[0]]()
    except LabError as exc:
        print(f"lab: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
