# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The node's init system, as kubeadm's util/initsystem uses it in the kubelet-start phase (and
reset's cleanup-node, which stops the kubelet).

kubeadm restarts the kubelet (`systemctl daemon-reload`, `systemctl restart kubelet`) once it has
written the kubelet's files, so the static Pods start and the TLS bootstrap begins at once instead
of at the kubelet's next crash-loop restart. Here the same happens, but only when something the
kubelet reads changed or the kubelet is not running, so a rerun restarts nothing. Only on the real
root (never under `rootfs`, never in check mode); a node without systemd or without a kubelet unit
gets kubeadm's warning instead. There is no Python API for systemd in the standard library, so
this is the one place the modules run a command (kubeadm runs the same two).
"""
from __future__ import annotations

import os
import shutil
import subprocess

from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C

SYSTEMD_RUN_DIR = "/run/systemd/system"
KUBELET_UNIT = "kubelet.service"


def _systemctl(run, *args) -> subprocess.CompletedProcess:
    return run(["systemctl", *args], capture_output=True, text=True, timeout=120, check=False)


def systemd_available(rootfs: str) -> bool:
    return rootfs == "/" and os.path.isdir(SYSTEMD_RUN_DIR) and shutil.which("systemctl") is not None


def kubelet_active(run=subprocess.run) -> bool:
    return _systemctl(run, "is-active", "--quiet", KUBELET_UNIT).returncode == 0


def start_kubelet(rootfs: str, files_changed: bool, check_mode: bool, run=subprocess.run) -> dict:
    """kubeadm TryStartKubelet, made idempotent. Returns {"restarted", "reason"} and a "warning"
    when the kubelet cannot be started here."""
    if rootfs != "/":
        return {"restarted": False, "reason": "rootfs: not the running system"}
    if not systemd_available(rootfs):
        return {"restarted": False, "reason": "no systemd",
                "warning": "the kubelet was not started: this node does not run systemd. "
                           "Start the kubelet with its new configuration manually."}
    listed = _systemctl(run, "list-unit-files", "--no-legend", KUBELET_UNIT)
    if KUBELET_UNIT not in listed.stdout:
        return {"restarted": False, "reason": "no kubelet unit",
                "warning": f"the kubelet was not started: {KUBELET_UNIT} is not installed (install the "
                           "kubelet package, e.g. with the kubeboot.cluster.kube_packages role)"}
    if not files_changed and kubelet_active(run):
        return {"restarted": False, "reason": "kubelet running and its files unchanged"}
    if check_mode:
        return {"restarted": True, "reason": "check mode: would restart the kubelet"}
    for args in (("daemon-reload",), ("restart", KUBELET_UNIT)):
        proc = _systemctl(run, *args)
        if proc.returncode != 0:
            return {"restarted": False, "reason": "systemctl failed",
                    "warning": f"`systemctl {' '.join(args)}` failed ({proc.stderr.strip()[-200:]}): "
                               "ensure the kubelet is reloaded and running"}
    return {"restarted": True, "reason": "the kubelet's files changed" if files_changed else "it was not running"}


def stop_kubelet(rootfs: str, check_mode: bool, run=subprocess.run) -> dict:
    """kubeadm reset's `ServiceStop("kubelet")`: {"stopped", "reason"} and a "warning" when it cannot be
    stopped here. Only a running kubelet is stopped (a rerun stops nothing)."""
    if rootfs != "/":
        return {"stopped": False, "reason": "rootfs: not the running system"}
    if not systemd_available(rootfs):
        return {"stopped": False, "reason": "no systemd",
                "warning": "the kubelet service could not be stopped: unable to detect a supported init system. "
                           "Please ensure the kubelet is stopped manually"}
    if not kubelet_active(run):
        return {"stopped": False, "reason": "the kubelet is not running"}
    if check_mode:
        return {"stopped": True, "reason": "check mode: would stop the kubelet"}
    proc = _systemctl(run, "stop", KUBELET_UNIT)
    if proc.returncode != 0:
        return {"stopped": False, "reason": "systemctl failed",
                "warning": f"the kubelet service could not be stopped ({proc.stderr.strip()[-200:]}): "
                           "please ensure the kubelet is stopped manually"}
    return {"stopped": True, "reason": "it was running"}


# Files whose change needs a kubelet restart (manifests do not: the kubelet watches their directory).
KUBELET_READS = (C.KUBELET_CONFIG_FILE, C.KUBELET_INSTANCE_CONFIG_FILE, C.KUBELET_FLAGS_ENV_FILE,
                 C.KUBELET_DROPIN_FILE, f"{C.KUBERNETES_DIR}/{C.KUBELET_CONF}",
                 f"{C.KUBERNETES_DIR}/{C.BOOTSTRAP_KUBELET_CONF}")


def kubelet_start(ctx) -> None:
    """The end of init's and join's kubelet-start phase: (re)start the kubelet when needed.

    ctx is a phases.PhaseContext. Under a rootfs or a dry run's directory the writer's tree is
    not the running system, so nothing is started; a restart counts as a change of the run."""
    changed = bool(set(ctx.log.paths) & set(KUBELET_READS))
    result = start_kubelet(ctx.writer.fs.rootfs, changed, ctx.check_mode)
    warning = result.pop("warning", None)
    if warning:
        ctx.warnings.append("[kubelet-start] " + warning)
    ctx.report.kubelet_service = result
    if result["restarted"]:
        ctx.log.services.append(KUBELET_UNIT)
