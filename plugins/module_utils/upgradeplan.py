# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`kubeadm upgrade plan` (kubeadm cmd/upgrade/plan.go, phases/upgrade/compute.go): what runs in
the cluster now (kubeadm-config's version, the control-plane and etcd mirror Pods per node, the
kubelets, kube-proxy, CoreDNS), the upgrades the version table offers (the newest patch of this
minor, the next minor), each checked with the skew rule (upgradepolicy), as rows and as kubeadm's
tables. Read-only."""
from __future__ import annotations

from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import upgradepolicy, versions
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import ConfigError

COMPONENT_CONFIGS = (("kubeproxy.config.k8s.io", "v1alpha1"), ("kubelet.config.k8s.io", "v1beta1"))


def _tag(image: str) -> str:
    last = (image or "").rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else ""


def _container_image(obj: dict) -> str:
    spec = (obj or {}).get("spec") or {}
    spec = (spec.get("template") or {}).get("spec") or spec
    containers = spec.get("containers") or [{}]
    return containers[0].get("image", "")


def empty_state(current_version: str) -> dict:
    """What a worker's kubelet identity may not read: nothing known."""
    return {"version": current_version, "kubelets": {}, "components": {}, "kube_proxy": "", "coredns": ""}


def cluster_state(api, current_version: str) -> dict:
    """{kubelets: {node: version}, components: {component: {node: tag}}, kube_proxy, coredns}."""
    state = empty_state(current_version)
    for node in api.list("Node"):
        version = ((node.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion", "")
        state["kubelets"][(node.get("metadata") or {}).get("name", "")] = version
    for component in C.CONTROL_PLANE_COMPONENTS + (C.ETCD,):
        found = {}
        for pod in api.list("Pod", C.KUBE_SYSTEM, label_selector=f"component={component},tier={C.CONTROL_PLANE_TIER}"):
            node = (pod.get("spec") or {}).get("nodeName") or (pod.get("metadata") or {}).get("name", "")
            found[node] = _tag(_container_image(pod))
        state["components"][component] = found
    state["kube_proxy"] = _tag(_container_image(api.get("DaemonSet", C.KUBE_PROXY, C.KUBE_SYSTEM)))
    state["coredns"] = _tag(_container_image(api.get("Deployment", C.COREDNS, C.KUBE_SYSTEM)))
    return state


def candidates(current: str) -> list:
    """(description, version) of the upgrades the table offers, like kubeadm's GetAvailableUpgrades
    offline: the newest patch of the cluster's minor, the newest patch of the next minor."""
    _major, minor, _patch = versions.split(current)
    out = []
    same = versions.NEWEST_PATCH.get(minor)
    if same and versions.split(same) > versions.split(current):
        out.append((f"version in the v1.{minor} series", same))
    following = versions.NEWEST_PATCH.get(minor + 1)
    if following:
        out.append(("stable version", following))
    return out


def _target_etcd(cfg, version: str) -> str:
    return (cfg.cluster.get("etcd", {}).get("local") or {}).get("imageTag") or versions.etcd_version(version)


def upgrade_rows(cfg, state: dict, target: str) -> tuple:
    """(kubelet rows, component rows) as kubeadm's plan tables list them."""
    kubelets = [{"component": "kubelet", "node": node, "current": version, "target": target}
                for node, version in sorted(state["kubelets"].items())]
    rows = []
    for component in C.CONTROL_PLANE_COMPONENTS:
        for node, tag in sorted(state["components"].get(component, {}).items()) or [("", state["version"])]:
            rows.append({"component": component, "node": node, "current": tag, "target": target})
    rows.append({"component": C.KUBE_PROXY, "node": "", "current": state["kube_proxy"], "target": target})
    dns = (cfg.cluster.get("dns") or {}).get("imageTag") or versions.coredns_version(versions.minor_of(target))
    rows.append({"component": "CoreDNS", "node": "", "current": state["coredns"], "target": dns})
    if cfg.local_etcd:
        for node, tag in sorted(state["components"].get(C.ETCD, {}).items()):
            rows.append({"component": C.ETCD, "node": node, "current": tag, "target": _target_etcd(cfg, target)})
    return kubelets, rows


def table(rows: list, with_node: bool = True) -> str:
    """Rows as kubeadm's tabwriter prints them (columns padded by three spaces)."""
    headers = ["COMPONENT", "NODE", "CURRENT", "TARGET"] if with_node else ["COMPONENT", "CURRENT", "TARGET"]
    keys = [h.lower() for h in headers]
    lines = [headers] + [[str(r.get(k, "")) for k in keys] for r in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(headers))]
    return "\n".join("   ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in lines)


def plan(cfg, api, state: dict, kubelet_versions) -> dict:
    """The plan of an explicit target (refused targets raise ConfigError) or of every candidate."""
    current = cfg.current_version
    current_etcd = next(iter(sorted(state["components"].get(C.ETCD, {}).values())), "")
    explicit = cfg.target
    wanted = [("the version asked for", explicit)] if explicit else candidates(current)
    upgrades = []
    for description, target in wanted:
        skew = upgradepolicy.version_skew(
            current, target, kubelet_versions, current_etcd=current_etcd, target_etcd=_target_etcd(cfg, target),
            allow_experimental=bool(cfg.setting("allowExperimentalUpgrades")),
            allow_rc=bool(cfg.setting("allowRCUpgrades")))
        if explicit and (skew.mandatory or skew.skippable):
            raise ConfigError(cfg.options.get("version_field") or "kubernetes_version", target,
                              f"a version the cluster at {current} can be upgraded to: "
                              + "; ".join(skew.mandatory + skew.skippable) + f" ({upgradepolicy.UPGRADE_HINT})")
        kubelets, rows = upgrade_rows(cfg, state, target)
        upgrades.append({"description": description, "version": target, "allowed": skew.allowed(),
                         "reasons": skew.reasons(), "notes": skew.notes, "kubelets": kubelets, "components": rows,
                         "etcd": {"current": current_etcd, "target": _target_etcd(cfg, target)} if cfg.local_etcd
                         else {}})
    return {"current_version": current, "upgrades": upgrades,
            "component_configs": [{"api_group": g, "current_version": v, "preferred_version": v,
                                   "manual_upgrade_required": False} for g, v in COMPONENT_CONFIGS],
            "table": render(upgrades)}


def render(upgrades: list) -> str:
    """kubeadm upgrade plan's text."""
    if not upgrades:
        return "Awesome, you're up-to-date! Enjoy!\n"
    out = []
    for upgrade in upgrades:
        kubelets = [k for k in upgrade["kubelets"] if k["current"] != k["target"]]
        if kubelets:
            out.append("Components that must be upgraded manually after you have upgraded the control plane with "
                       "'kubeadm upgrade apply':")
            out.append(table(kubelets))
            out.append("")
        out.append(f"Upgrade to the latest {upgrade['description']}:")
        out.append("")
        out.append(table(upgrade["components"]))
        out.append("")
        if upgrade["allowed"]:
            out.append("You can now apply the upgrade by executing the following command:")
            out.append("")
            out.append(f"\tkubeboot.cluster.kubeadm_upgrade: action=apply kubernetes_version={upgrade['version']}")
        else:
            out.append("This upgrade is not possible: " + "; ".join(upgrade["reasons"]))
        out.append("")
        out.append("_" * 69)
        out.append("")
    out.append("API GROUP                 CURRENT VERSION   PREFERRED VERSION   MANUAL UPGRADE REQUIRED")
    for group, version in COMPONENT_CONFIGS:
        out.append(f"{group:<26}{version:<18}{version:<20}no")
    out.append("_" * 69)
    return "\n".join(out) + "\n"
