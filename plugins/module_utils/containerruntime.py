# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pulling images into the container runtime (kubeadm util/runtime, `kubeadm config images pull`).

kubeadm talks to the runtime's CRI API, which is gRPC over the runtime's unix socket; a managed
node has no gRPC library (and the module may use only the standard library, cryptography and
PyYAML), so images are pulled through the runtime's own command-line clients when one is there:
`crictl` (cri-tools, any CRI runtime) first, else containerd's `ctr` in the `k8s.io` namespace
(the one the CRI plugin uses). What is present already is not pulled again, so a rerun changes
nothing. Without either tool the error says so, and what to install.
"""
from __future__ import annotations

import os
import shutil
import subprocess

from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import KubebootError

TOOLS = ("crictl", "ctr")
CONTAINERD_NAMESPACE = "k8s.io"
PULL_TIMEOUT = 900   # seconds for one image (kubeadm's defaultImagePullTimeout is 15 minutes)
CHECK_TIMEOUT = 60
SEARCH_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class Runtime:
    """One runtime reached through its CLI: `tool` (crictl/ctr), its path, the CRI socket."""

    def __init__(self, tool: str, path: str, cri_socket: str, run=subprocess.run):
        self.tool, self.path, self.cri_socket, self._run = tool, path, cri_socket, run

    @property
    def socket_path(self) -> str:
        return self.cri_socket[len("unix://"):] if self.cri_socket.startswith("unix://") else self.cri_socket

    def _argv(self, *args) -> list:
        if self.tool == "crictl":
            return [self.path, "--runtime-endpoint", self.cri_socket, *args]
        return [self.path, "--address", self.socket_path, "--namespace", CONTAINERD_NAMESPACE, *args]

    def exists(self, image: str) -> bool:
        """Whether the runtime has the image (crictl inspecti / ctr images ls name==)."""
        args = ("inspecti", "-q", image) if self.tool == "crictl" else ("images", "ls", "-q", f"name=={image}")
        proc = self._call(self._argv(*args), CHECK_TIMEOUT)
        return proc.returncode == 0 and (self.tool == "crictl" or image in proc.stdout.split())

    def pull(self, image: str) -> None:
        args = ("pull", image) if self.tool == "crictl" else ("images", "pull", image)
        proc = self._call(self._argv(*args), PULL_TIMEOUT)
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout or "").strip().splitlines()
            raise KubebootError(f"failed to pull image {image!r} with {self.tool}: "
                                f"{detail[-1] if detail else 'exit status %d' % proc.returncode}")

    def _call(self, argv: list, timeout: int):
        try:
            return self._run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise KubebootError(f"{self.tool} did not answer within {timeout}s: {' '.join(argv[1:])}") from None
        except OSError as exc:
            raise KubebootError(f"cannot run {argv[0]}: {exc.strerror}") from None


def connect(cri_socket: str, which=shutil.which, socket_exists=os.path.exists, run=subprocess.run) -> Runtime:
    """The runtime behind `cri_socket` through crictl or ctr; KubebootError saying exactly why not."""
    if not cri_socket.startswith("unix://"):
        raise KubebootError(f"cannot pull images through {cri_socket}: only unix:// CRI sockets are supported")
    path = cri_socket[len("unix://"):]
    if not socket_exists(path):
        raise KubebootError(f"no container runtime is listening at {path}: install and start containerd or "
                            "CRI-O (the containerd role does), or set cri_socket")
    for tool in TOOLS:
        found = which(tool, path=SEARCH_PATH + os.pathsep + os.environ.get("PATH", ""))
        if found and (tool == "crictl" or "containerd" in path):
            return Runtime(tool, found, cri_socket, run)
    raise KubebootError(
        "cannot pull images: the CRI API of the runtime is gRPC, which this module cannot speak (no gRPC "
        "library on the node), and neither crictl nor ctr was found on PATH. Install cri-tools (crictl), or "
        "with containerd its ctr, or pull with your runtime's own tool; kubeadm_init pulls nothing itself and "
        "the kubelet pulls missing images when it starts the static Pods")


def pull_missing(runtime: Runtime, images: list, check_mode: bool = False) -> dict:
    """Pull each image the runtime does not have (none in check mode); {"pulled", "present"}."""
    present = [image for image in images if runtime.exists(image)]
    missing = [image for image in images if image not in present]
    if not check_mode:
        for image in missing:
            runtime.pull(image)
    return {"pulled": missing, "present": present}
