# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The version skew rule of a control-plane version change (kubeadm phases/upgrade/policy.go
EnforceVersionPolicies), in one place: `kubeadm_upgrade` plan and apply enforce it, and
`kubeadm_init` refuses to change the version of an existing control plane with it.

Stricter than kubeadm in one point: kubeadm lets `upgrade apply` go one minor down; here no minor
is ever downgraded (etcd and the API objects a newer minor stored are not readable by an older
one: 1.37 -> 1.36 would take etcd 3.7 back to 3.6). Patch releases of the same minor may go both
ways; etcd itself is never downgraded (kubeadm keeps the running etcd then).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import docutil, versions
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import ConfigError

MAX_MINOR_UPGRADE_SKEW = 1   # kubeadm MaximumAllowedMinorVersionUpgradeSkew
MAX_KUBELET_SKEW = 3         # a kubelet may be up to three minors older than the API server (N-3)
UPGRADE_HINT = ("upgrade one minor at a time with kubeboot.cluster.kubeadm_upgrade (action: apply) or "
                "playbooks/upgrade.yml")


@dataclass
class Skew:
    """What the rule says about current -> target: mandatory errors refuse the change, skippable
    ones are refused unless forced (kubeadm --force), notes are information."""

    current: str
    target: str
    mandatory: list = field(default_factory=list)
    skippable: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    @property
    def refused(self) -> bool:
        return bool(self.mandatory)

    def allowed(self, force: bool = False) -> bool:
        return not self.mandatory and (force or not self.skippable)

    def reasons(self, force: bool = False) -> list:
        return self.mandatory + ([] if force else self.skippable)


def _parts(version: str) -> tuple:
    match = versions.VERSION_RE.match(str(version or ""))
    if not match:
        raise ConfigError("kubernetes_version", version, versions.ALLOWED)
    return int(match.group(1)), int(match.group(2)), int(match.group(3)), (match.group(4) or "").lstrip("-")


def etcd_tag_key(tag: str) -> tuple:
    """'3.6.8-0' -> (3, 6, 8, 0) for comparing etcd image tags."""
    numbers = [int(n) for n in re.findall(r"\d+", tag or "")]
    return tuple(numbers + [0] * (4 - len(numbers)))[:4]


def version_skew(current: str, target: str, kubelet_versions=(), current_etcd: str = "", target_etcd: str = "",
                 allow_experimental: bool = False, allow_rc: bool = False) -> Skew:
    """The rule for changing the control plane from `current` to `target` (both vX.Y.Z)."""
    skew = Skew(current, target)
    _major, cur_minor, cur_patch, _pre = _parts(current)
    _major, new_minor, new_patch, pre = _parts(target)
    unstable = bool(pre)
    if new_minor > cur_minor + MAX_MINOR_UPGRADE_SKEW:
        message = (f"Specified version to upgrade to {target!r} is too high; kubeadm can upgrade only "
                   f"{MAX_MINOR_UPGRADE_SKEW} minor version at a time (the cluster runs {current})")
        (skew.skippable if unstable else skew.mandatory).append(message)
    if new_minor < cur_minor:
        etcd = ""
        if current_etcd and target_etcd and etcd_tag_key(target_etcd) < etcd_tag_key(current_etcd):
            etcd = f", etcd {current_etcd} -> {target_etcd}"
        skew.mandatory.append(f"Specified version to downgrade to {target!r} is lower than the cluster's minor "
                              f"version {current}{etcd}: a minor version is never downgraded (what the newer "
                              "version stored in etcd is not readable by the older one)")
    elif new_minor == cur_minor and new_patch < cur_patch:
        skew.notes.append(f"{target} is a patch downgrade of {current}")
    if new_minor > C.MAX_SUPPORTED_MINOR:
        skew.mandatory.append(f"Specified version to upgrade to {target!r} is newer than the newest version this "
                              f"collection deploys (1.{C.MAX_SUPPORTED_MINOR})")
    if unstable and not allow_experimental and not (pre.startswith("rc") and allow_rc):
        skew.skippable.append(f"Specified version to upgrade to {target!r} is an unstable version and such "
                              "upgrades weren't allowed via setting allow_experimental_upgrades or "
                              "allow_release_candidate_upgrades")
    too_old = sorted({v for v in kubelet_versions if v and versions.VERSION_RE.match(v)
                      and new_minor > _parts(v)[1] + MAX_KUBELET_SKEW})
    if too_old:
        skew.skippable.append(f"There are kubelets in this cluster that are too old that have these versions "
                              f"{too_old} (a kubelet may be at most {MAX_KUBELET_SKEW} minor versions older than "
                              "the control plane)")
    if current_etcd and target_etcd and etcd_tag_key(target_etcd) < etcd_tag_key(current_etcd) \
            and new_minor >= cur_minor:
        skew.notes.append(f"etcd stays at {current_etcd}: the target's etcd {target_etcd} is older and etcd is "
                          "never downgraded")
    return skew


# --- kubeadm_init on a node that already runs a control plane ---------------------------------------

def image_tag(manifest_text):
    """The container image tag of a static Pod manifest (None when unreadable)."""
    try:
        pod = docutil.parse_yaml(manifest_text) if manifest_text else None
        image = pod["spec"]["containers"][0]["image"]
    except (docutil.YAMLInputError, KeyError, IndexError, TypeError):
        return None
    return image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else None


def running_versions(fs) -> tuple:
    """(control-plane version, etcd tag) of the static Pods on this node, from their manifests'
    image tags; (None, None) on a node without a control plane."""
    version = image_tag(fs.read_text(C.manifest_path(C.KUBE_APISERVER)))
    if version is None or not versions.VERSION_RE.match(version):
        return None, None
    return "v" + version.lstrip("v"), image_tag(fs.read_text(C.manifest_path(C.ETCD)))


def guard_existing_control_plane(cfg, fs, field_name: str = "kubernetes_version") -> None:
    """kubeadm_init never changes the version of a running control plane: refused with the rule's
    reason (or, for a change the rule allows, with the way to do it), before anything is written."""
    current, current_etcd = running_versions(fs)
    if current is None or current == cfg.version:
        return
    target_etcd = (cfg.cluster.get("etcd", {}).get("local") or {}).get("imageTag") or versions.etcd_version(cfg.version)
    skew = version_skew(current, cfg.version, current_etcd=current_etcd or "", target_etcd=target_etcd)
    where = f"this node already runs a control plane at {current} ({C.manifest_path(C.KUBE_APISERVER)})"
    if skew.refused:
        raise ConfigError(field_name, cfg.version, f"{where}, and the version skew rule refuses the change: "
                                                   f"{'; '.join(skew.mandatory)}. kubeadm_init never changes the "
                                                   f"version of an existing control plane; {UPGRADE_HINT}")
    raise ConfigError(field_name, cfg.version, f"{where}; kubeadm_init never changes the version of an existing "
                                               f"control plane (it would replace every manifest at once): upgrade "
                                               f"to {cfg.version} with kubeboot.cluster.kubeadm_upgrade (action: "
                                               "apply) or playbooks/upgrade.yml, which replace one component at a "
                                               "time, wait for each and roll back on failure")
