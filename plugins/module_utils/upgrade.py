# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`kubeadm upgrade plan | apply | node` as one call (kubeadm cmd/upgrade, phases/upgrade).

Before any phase runs, the cluster is read (kube-system/kubeadm-config, kubelet-config,
kube-proxy, the Nodes and mirror Pods), this node is identified from its own files, the
configuration is built at the target version and the skew rule (upgradepolicy) is enforced:
a refused version changes nothing. `apply` (the first control-plane node) runs kubeadm's phases
preflight, control-plane, upload-config, kubelet-config, bootstrap-token, addon, post-upgrade;
`node` (the other control planes and the workers, at the version apply uploaded) runs preflight,
control-plane (control planes only), kubelet-config, addon, post-upgrade. The addons are
upgraded once every control-plane node runs the new API server, as kubeadm does since 1.31.
Files and API objects go through the run's Writer and ApiWriter, so check mode and --diff
predict the manifests, certificates, kubelet files and API objects a real run changes.
"""
from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import (
    addondns, addonproxy, bootstraptoken, errors, kubeconfig, patchtargets, phases, pki, postupgrade, preflight,
    rbac, staticpodupgrade, upgradeconfig, upgradeplan, upgradepolicy, uploadconfig, versions)
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import ConfigError
from ansible_collections.kubeboot.cluster.plugins.module_utils.files import HostFS, RootfsLock, Writer
from ansible_collections.kubeboot.cluster.plugins.module_utils.kubeadmconfig import cluster_configuration_from_text
from ansible_collections.kubeboot.cluster.plugins.module_utils.phases import Phase


@dataclass
class UpgradeContext(phases.PhaseContext):
    state: dict = None            # upgradeplan.cluster_state of the cluster before
    stamp: str = ""               # the run's backup directories' timestamp
    kubelet_version: str = ""     # this node's kubelet before the run
    static_pods: object = None    # staticpodupgrade.Upgrade
    sleep: object = None          # the waits' sleep (tests)

    def connect(self):
        return self.api  # connected in prepare(), before any phase

    @property
    def ahead_of_apply(self) -> bool:
        """node in check mode, planned at the version apply would upload (kubeadm-config says the one before)."""
        return self.cfg.action == "node" and self.cfg.version != self.cfg.current_version


# --- before the phases -----------------------------------------------------------------------------

def _kubeconfig_path(cfg, node) -> str:
    """kubeadm upgrade: --kubeconfig, else admin.conf on a control-plane node, kubelet.conf on a worker."""
    given = cfg.options.get("kubeconfig")
    if given:
        return given
    return C.kubeconfig_path(C.ADMIN_CONF if node.control_plane or cfg.action != "node" else C.KUBELET_CONF)


def prepare(ctx: UpgradeContext) -> None:
    cfg = ctx.cfg
    node = upgradeconfig.local_node(ctx.fs)
    if cfg.action == "apply" and not node.control_plane:
        raise errors.KubebootError(f"action apply upgrades the control plane of this node, which has none "
                                   f"({C.manifest_path(C.KUBE_APISERVER)} is missing): run it on the first "
                                   "control-plane node, and action node on the others")
    ctx.admin_kubeconfig = _kubeconfig_path(cfg, node)
    ctx.api = ctx.writer_for(ctx.admin_kubeconfig)
    what = f"ConfigMap {C.KUBE_SYSTEM}/{C.KUBEADM_CONFIG_CM}"
    kubeadm_cm = ctx.api.get("ConfigMap", C.KUBEADM_CONFIG_CM, C.KUBE_SYSTEM)
    if kubeadm_cm is None:
        why = "; ".join(ctx.log.notes) or "it does not exist"
        raise errors.KubebootError(f"cannot read {what} ({why}): kubeadm_upgrade needs the cluster's configuration")
    text = (kubeadm_cm.get("data") or {}).get(C.KUBEADM_CONFIG_KEY, "")
    cluster_version = cluster_configuration_from_text(text, what)["kubernetesVersion"]
    target = cfg.target or cluster_version
    if cfg.action == "node":
        target = _node_target(ctx, cluster_version, what)
    cfg.adopt(text, node, version=target)
    # kube-proxy's ConfigMap matters to the addon phase, which runs on control-plane nodes only (a
    # worker's kubelet identity may not read it)
    proxy_cm = ctx.api.get("ConfigMap", C.KUBE_PROXY_CM, C.KUBE_SYSTEM) if node.control_plane else None
    cfg.kubelet, cfg.kube_proxy = upgradeconfig.component_configs(
        ctx.api.get("ConfigMap", C.KUBELET_CONFIG_CM, C.KUBE_SYSTEM), proxy_cm)
    # a worker's kubelet identity reads only its own objects (kubeadm upgrade node needs no more)
    ctx.state = upgradeplan.cluster_state(ctx.api, cfg.current_version) if node.control_plane or \
        cfg.action != "node" else upgradeplan.empty_state(cfg.current_version)
    ctx.kubelet_version = ctx.state["kubelets"].get(node.name, "") or _own_kubelet_version(ctx.api, node.name)
    if cfg.action == "apply":
        _enforce(cfg, cfg.current_version, ctx.state)
    elif cfg.action == "node" and node.control_plane:
        running, _etcd = upgradepolicy.running_versions(ctx.fs)
        if running:
            _enforce(cfg, running, ctx.state)
    if ctx.ahead_of_apply:
        _enforce(cfg, cfg.current_version, ctx.state)  # the step apply would have taken
    patchtargets.check(cfg, ctx.fs)


def _node_target(ctx: UpgradeContext, cluster_version: str, what: str) -> str:
    """The version action node upgrades to: the one apply uploaded. In check mode apply uploads
    nothing, so a caller's version one step ahead (upgrade.yml --check) is planned as apply would
    leave it (the skew rule still applies, in prepare)."""
    expected = ctx.cfg.options.get("expected_version")
    if not expected or expected == cluster_version:
        return cluster_version
    if ctx.check_mode:
        ctx.warnings.append(f"check mode: planned at {expected}, the version action apply would upload ({what} "
                            f"says {cluster_version}: apply uploaded nothing in check mode)")
        return expected
    raise ConfigError("kubernetes_version", expected,
                      f"the version in {what} ({cluster_version}): action node upgrades a node to the "
                      "version action apply uploaded; run apply on the first control-plane node first")


def _own_kubelet_version(api, name: str) -> str:
    """This node's kubelet version from its Node (a worker's kubelet identity may read its own Node)."""
    try:
        node = api.get("Node", name)
    except errors.APIError:
        return ""
    return (((node or {}).get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion", "")


def _enforce(cfg, current: str, state: dict) -> None:
    skew = upgradepolicy.version_skew(
        current, cfg.version, [v for v in state["kubelets"].values() if v],
        current_etcd=next(iter(sorted(state["components"].get(C.ETCD, {}).values())), ""),
        target_etcd=(cfg.cluster["etcd"].get("local") or {}).get("imageTag") or versions.etcd_version(cfg.version),
        allow_experimental=bool(cfg.setting("allowExperimentalUpgrades")), allow_rc=bool(cfg.setting("allowRCUpgrades")))
    force = bool(cfg.setting("forceUpgrade"))
    if not skew.allowed(force):
        extra = "" if skew.mandatory else " (force: true accepts these)"
        raise ConfigError("kubernetes_version", cfg.version,
                          f"a version the control plane at {current} can be upgraded to: "
                          + "; ".join(skew.reasons(force)) + extra + f"; {upgradepolicy.UPGRADE_HINT}")
    cfg.warnings.extend(skew.notes + (skew.skippable if force else []))


# --- phases ----------------------------------------------------------------------------------------

def _preflight(ctx: UpgradeContext, _subs) -> None:
    cfg = ctx.cfg
    checks = [preflight.check_privileged(ctx.fs)]
    if cfg.node.control_plane:
        missing = [C.manifest_path(c) for c in (C.CONTROL_PLANE_COMPONENTS + ((C.ETCD,) if cfg.local_etcd else ()))
                   if not ctx.fs.exists(C.manifest_path(c))]
        checks.append(preflight.Check("StaticPodManifest", preflight.ERROR,
                                      f"missing static Pod manifests: {', '.join(missing)}" if missing else ""))
        not_ready = [n for n, ready in _control_plane_nodes(ctx).items() if not ready]
        checks.append(preflight.Check("ControlPlaneNodesReady", preflight.ERROR,
                                      f"there are NotReady control-planes in the cluster: {not_ready}"
                                      if not_ready else ""))
    ctx.report.preflight = preflight.evaluate(checks, cfg.init["nodeRegistration"].get("ignorePreflightErrors", []))


def _control_plane_nodes(ctx) -> dict:
    out = {}
    for node in ctx.api.list("Node"):
        labels = (node.get("metadata") or {}).get("labels") or {}
        if C.CONTROL_PLANE_LABEL in labels:
            conditions = (node.get("status") or {}).get("conditions") or []
            out[node["metadata"]["name"]] = any(c.get("type") == "Ready" and c.get("status") == "True"
                                                for c in conditions)
    return out


def _control_plane(ctx: UpgradeContext, _subs) -> None:
    cfg = ctx.cfg
    if not cfg.node.control_plane:
        ctx.api_result({"changed": False, "skipped": "not a control-plane node"})
        return
    ctx.static_pods = staticpodupgrade.Upgrade(
        ctx, renew=bool(cfg.setting("certificateRenewal", True)), etcd_upgrade=bool(cfg.setting("etcdUpgrade", True)),
        backups=staticpodupgrade.Backups(ctx.writer, ctx.stamp), **({"sleep": ctx.sleep} if ctx.sleep else {}))
    components = ctx.static_pods.run()
    ctx.api_result({"changed": any(c["changed"] for c in components), "components": components,
                    "renewed": ctx.static_pods.renewed})


def _upload_kubeadm_config(ctx: UpgradeContext, _subs) -> None:
    ctx.api_result(uploadconfig.upload_config_kubeadm(ctx.api, ctx.cfg))


def _upload_kubelet_config(ctx: UpgradeContext, _subs) -> None:
    ctx.api_result(uploadconfig.upload_config_kubelet(ctx.api, ctx.cfg, ctx.cfg.timeout("kubernetesAPICall")))


def _kubelet_config(ctx: UpgradeContext, _subs) -> None:
    cm = ctx.api.get("ConfigMap", C.KUBELET_CONFIG_CM, C.KUBE_SYSTEM)  # in check mode as upload-config left it
    text = ((cm or {}).get("data") or {}).get(C.KUBELET_CONFIG_KEY)
    if ctx.ahead_of_apply or not text:  # ahead: what apply's upload-config would write
        text = uploadconfig.kubelet_config_yaml(ctx.cfg)
    ctx.report.kubelet_files = postupgrade.write_kubelet_config(ctx, text, ctx.stamp)


def _bootstrap_token(ctx: UpgradeContext, _subs) -> None:
    mark = ctx.api.mark()
    ctx.api.ensure_all(rbac.node_bootstrap_rbac() + rbac.cluster_info_rbac())
    bootstraptoken.remove_system_nodes_subject(ctx.api)
    ctx.api_result(ctx.api.result(mark))


def _not_upgraded_control_planes(ctx: UpgradeContext) -> list:
    """Control-plane nodes whose kube-apiserver does not run the target (this node counts as done)."""
    tags = ctx.api.list("Pod", C.KUBE_SYSTEM, label_selector=f"component={C.KUBE_APISERVER},tier={C.CONTROL_PLANE_TIER}")
    behind = []
    for pod in tags:
        node = (pod.get("spec") or {}).get("nodeName", "")
        image = ((pod.get("spec") or {}).get("containers") or [{}])[0].get("image", "")
        if node != ctx.cfg.node_name and not image.endswith(":" + ctx.cfg.version):
            behind.append(node)
    return sorted(behind)


def _addon_gate(ctx: UpgradeContext, name: str, disabled: bool):
    """Why addon/<name> is skipped on this node, or None."""
    if not ctx.cfg.node.control_plane:
        return "addons are upgraded from a control-plane node"
    if disabled:
        return f"{name} is disabled in the ClusterConfiguration"
    behind = _not_upgraded_control_planes(ctx)
    if behind:
        return f"not all control plane instances have been upgraded: {', '.join(behind)}"
    return None


def _coredns(ctx: UpgradeContext, _subs) -> None:
    skip = _addon_gate(ctx, "CoreDNS", bool((ctx.cfg.cluster.get("dns") or {}).get("disabled")))
    ctx.api_result({"changed": False, "skipped": skip} if skip else addondns.addon_coredns(ctx.api, ctx.cfg))


def _kube_proxy(ctx: UpgradeContext, _subs) -> None:
    cfg = ctx.cfg
    skip = _addon_gate(ctx, "kube-proxy", bool((cfg.cluster.get("proxy") or {}).get("disabled")))
    if skip:
        ctx.api_result({"changed": False, "skipped": skip})
        return
    ca_pem = ctx.fs.read_text(pki.cert_path(cfg, C.CA_BASE))
    ctx.api_result(addonproxy.addon_kube_proxy(ctx.api, cfg, kubeconfig.control_plane_endpoint(cfg), ca_pem))


def _post_upgrade(ctx: UpgradeContext, _subs) -> None:
    flags = postupgrade.clean_flags_env(ctx)
    ctx.report.kubelet_files.append(flags)
    result = postupgrade.remove_cri_socket_annotation(ctx.api, ctx.cfg, ctx.cfg.timeout("kubernetesAPICall"))
    ctx.api_result(dict(result, kubelet_flags=flags))


ADDONS = Phase("addon", children=(Phase("coredns", _coredns, needs_api=True),
                                  Phase("kube-proxy", _kube_proxy, needs_api=True)))
APPLY_PHASES = (
    Phase("preflight", _preflight),
    Phase("control-plane", _control_plane, needs_api=True),
    Phase("upload-config", children=(Phase("kubeadm", _upload_kubeadm_config, needs_api=True),
                                     Phase("kubelet", _upload_kubelet_config, needs_api=True))),
    Phase("kubelet-config", _kubelet_config, needs_api=True),
    Phase("bootstrap-token", _bootstrap_token, needs_api=True),
    ADDONS,
    Phase("post-upgrade", _post_upgrade, needs_api=True),
)
NODE_PHASES = (
    Phase("preflight", _preflight),
    Phase("control-plane", _control_plane, needs_api=True),
    Phase("kubelet-config", _kubelet_config, needs_api=True),
    ADDONS,
    Phase("post-upgrade", _post_upgrade, needs_api=True),
)
WORKFLOWS = {"apply": APPLY_PHASES, "node": NODE_PHASES}


def run_upgrade(params: dict, check_mode: bool = False, sleep=None) -> dict:
    """Validate, read the cluster, then plan (read-only) or run the selected phases."""
    cfg = upgradeconfig.build_upgrade_config(params)
    rootfs = params.get("rootfs") or "/"
    selection = phases.select(WORKFLOWS[cfg.action], cfg.init.get("skipPhases") or []) \
        if cfg.action in WORKFLOWS else None
    writer = Writer(HostFS(rootfs), check_mode=check_mode)
    ctx = UpgradeContext(cfg=cfg, fs=writer.view(), writer=writer, check_mode=check_mode, plan_only=check_mode,
                         stamp=staticpodupgrade.timestamp(), sleep=sleep)
    prepare(ctx)
    if cfg.action == "plan":
        result = ctx.result({"run": [], "skipped": []})
        result["plan"] = upgradeplan.plan(cfg, ctx.api, ctx.state, [v for v in ctx.state["kubelets"].values() if v])
        return _result(ctx, result)
    with RootfsLock(rootfs, create=False):  # one run at a time on a tree (init, join, reset, certs)
        phase_report = phases.run(selection, ctx)
    return _result(ctx, ctx.result(phase_report))


def _result(ctx: UpgradeContext, result: dict) -> dict:
    cfg = ctx.cfg
    result.update(action=cfg.action, current_version=cfg.current_version, kubernetes_version=cfg.version,
                  node_name=cfg.node_name, control_plane=cfg.node.control_plane, kubelet_version=ctx.kubelet_version,
                  warnings=list(dict.fromkeys(cfg.warnings + ctx.warnings + ctx.log.notes)))
    static_pods = ctx.static_pods
    if static_pods is not None:
        result["renewed"] = static_pods.renewed
        if static_pods.backups.manifests_dir_made:
            result["backup_manifests_dir"] = static_pods.backups.manifests_dir
        if any(c.get("data_backup") for c in static_pods.results):
            result["backup_etcd_dir"] = static_pods.backups.etcd_dir
    if cfg.patch_manager is not None:
        result["patches"] = cfg.patch_manager.summary()
    return result
