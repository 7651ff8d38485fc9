# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubeadm v1beta4 ResetConfiguration: defaults, config file, module options, validation.

`build_reset_config(params)` returns a `ResetConfig`: the defaulted ResetConfiguration (`reset`),
the warnings of the merge, and the module's flags (`node_name`, `kubeconfig`, `cleanup_cni`,
`cleanup_iptables`). Built on the shared config layer like config.py and
joinconfig.py: defaults <- config file <- module options, every value checked by a validator
before the reset touches anything.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import docutil, durations, options, validators
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import ConfigError
from ansible_collections.kubeboot.cluster.plugins.module_utils.kubeadmconfig import (
    Builder, default_reset_configuration, load_documents)

FLAG_OPTIONS = ("node_name", "kubeconfig", "cleanup_cni", "cleanup_iptables", "rootfs", "config")


@dataclass
class ResetConfig:
    """The defaulted ResetConfiguration and the module's flags."""

    reset: dict
    warnings: list = field(default_factory=list)
    options: dict = field(default_factory=dict)

    @property
    def cert_dir(self) -> str:
        return self.reset["certificatesDir"].rstrip("/") or "/"

    @property
    def force(self) -> bool:
        return bool(self.reset["force"])

    @property
    def dry_run(self) -> bool:
        return bool(self.reset["dryRun"])

    @property
    def cri_socket(self) -> str:
        return self.reset["criSocket"] or C.DEFAULT_CRI_SOCKET

    @property
    def cleanup_tmp_dir(self) -> bool:
        return bool(self.reset["cleanupTmpDir"])

    @property
    def skip_phases(self) -> list:
        return list(self.reset["skipPhases"])

    @property
    def ignore_preflight_errors(self) -> list:
        return list(self.reset["ignorePreflightErrors"])

    def timeout(self, name: str) -> float:
        """A kubeadm timeout (timeouts.<name>) in seconds."""
        return durations.parse_duration(self.reset["timeouts"].get(name, C.DEFAULT_TIMEOUTS[name]))


def build_reset_config(params: dict) -> ResetConfig:
    """kubeadm reset's configuration: config file, then module options, then defaults; validated."""
    params = dict(params or {})
    warnings: list = []
    file_doc = {}
    if params.get("config"):
        found, _moved = load_documents(params["config"], "reset", warnings)
        if "ResetConfiguration" not in found:
            warnings.append(f"config {params['config']}: no ResetConfiguration document; kubeadm's defaults are used")
        file_doc = found.get("ResetConfiguration", {})
    doc = docutil.deep_merge(default_reset_configuration(), file_doc)
    doc["timeouts"] = dict(C.DEFAULT_TIMEOUTS, **(file_doc.get("timeouts") or {}))
    builder = Builder({"reset": doc}, {"reset": file_doc}, warnings, options.secret_options(options.RESET))
    options.apply(builder, options.RESET, params)
    _validate(builder)
    flags = {name: params.get(name) for name in FLAG_OPTIONS}
    if flags["node_name"]:
        flags["node_name"] = validators.node_name("node_name", str(flags["node_name"]).strip().lower())
    return ResetConfig(reset=doc, warnings=warnings, options=flags)


def _validate(b: Builder) -> None:
    doc = b.docs["reset"]
    b.check("reset", "certificatesDir", validators.absolute_path)
    for path in ("cleanupTmpDir", "force", "dryRun"):
        b.check("reset", path, validators.boolean)
    if doc.get("criSocket"):
        doc["criSocket"] = validators.cri_socket(b.field("reset", "criSocket"), doc["criSocket"], b.warnings)
    b.check("reset", "ignorePreflightErrors", validators.ignore_preflight_errors)
    if not isinstance(doc.get("skipPhases"), list):
        raise ConfigError(b.field("reset", "skipPhases"), doc.get("skipPhases"), "a list of phase names")
    doc["unmountFlags"] = _unmount_flags(b.field("reset", "unmountFlags"), doc.get("unmountFlags"), b.warnings)
    doc["timeouts"] = validators.timeouts("timeouts", doc["timeouts"], lambda key: b.field("reset", "timeouts." + key))
    if doc["certificatesDir"].rstrip("/") != C.PKI_DIR:
        b.warnings.append(f"[reset] cleaning a non-default certificates directory: {doc['certificatesDir']!r}")


def _unmount_flags(field_name: str, value, warnings: list) -> list:
    """kubeadm's unmount2() flags; accepted, but this reset never unmounts (it removes only the kubelet
    files init and join wrote, never /var/lib/kubelet/pods where the mounts are)."""
    flags = value or []
    if not isinstance(flags, list):
        raise ConfigError(field_name, flags, "a list of " + ", ".join(C.UNMOUNT_FLAGS))
    for flag in flags:
        if flag not in C.UNMOUNT_FLAGS:
            raise ConfigError(field_name, flag, "one of " + ", ".join(C.UNMOUNT_FLAGS))
    if flags:
        warnings.append(f"{field_name} has no effect: this reset unmounts nothing (it leaves /var/lib/kubelet/pods "
                        "and the kubelet's mounts alone)")
    return flags
