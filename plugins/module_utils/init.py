# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`kubeadm init` as one call: config -> phase selection -> phases -> result dict.

`PHASES` is kubeadm's init workflow; each phase calls the module_utils file of its kubeadm
phase. Files go through the run's `files.Writer`, API objects through its
`apiwriter.ApiWriter`: both plan first and write only outside check mode, into one change
log, so check mode and --diff cover every phase. The module (plugins/modules/kubeadm_init.py)
only translates parameters in and this result out.
"""
from __future__ import annotations

import posixpath
import tempfile
from dataclasses import dataclass

from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import config as config_mod
from ansible_collections.kubeboot.cluster.plugins.module_utils import (
    addondns, addonproxy, bootstraptoken, copycerts, initsystem, kubeconfig, kubelet, manifests, markcontrolplane,
    patchtargets, phases, pki, preflight, pubkeypin, rbac, tokens, upgradepolicy, uploadconfig, waitcontrolplane)
from ansible_collections.kubeboot.cluster.plugins.module_utils.files import HostFS, RootfsLock, Writer
from ansible_collections.kubeboot.cluster.plugins.module_utils.phases import Phase


@dataclass
class InitContext(phases.PhaseContext):
    certificate_key: str = ""      # given, or the upload's (derived) key once upload-certs ran
    upload_certs: bool = False
    cluster_admins_done: bool = False


# --- local phases -------------------------------------------------------------------------

def _preflight(ctx: InitContext, _subs) -> None:
    checks = preflight.init_checks(ctx.cfg, ctx.fs)
    ctx.report.preflight = preflight.evaluate(checks, ctx.cfg.init["nodeRegistration"].get("ignorePreflightErrors", []))


def _certs(ctx: InitContext, subs) -> None:
    ctx.report.certificates = ctx.surface(pki.ensure_certificates(ctx.cfg, ctx.fs, ctx.writer, only=subs))


def _kubeconfig(ctx: InitContext, subs) -> None:
    ctx.report.kubeconfigs = ctx.surface(kubeconfig.ensure_kubeconfigs(ctx.cfg, ctx.fs, ctx.writer, only=subs))


def _same_cluster(ctx: InitContext) -> None:
    kubeconfig.check_cluster_ca(ctx.cfg, ctx.fs)


def _pki_dirs(cfg) -> list:
    return [pki.subdir(cfg)] + ([pki.subdir(cfg, C.ETCD_PKI_SUBDIR)] if cfg.local_etcd else [])


def _kubelet_dirs(_cfg) -> list:
    return [C.KUBELET_DIR, posixpath.dirname(C.KUBELET_DROPIN_FILE)]


def _etcd(ctx: InitContext, _subs) -> None:
    if ctx.cfg.local_etcd:
        ctx.report.manifests += manifests.ensure_manifests(ctx.cfg, ctx.fs, ctx.writer, only=[C.ETCD])


def _control_plane(ctx: InitContext, subs) -> None:
    ctx.report.manifests += manifests.ensure_manifests(ctx.cfg, ctx.fs, ctx.writer, only=subs)


def _kubelet_start(ctx: InitContext, _subs) -> None:
    ctx.report.kubelet_files = kubelet.ensure_kubelet_files(ctx.cfg, ctx.fs, ctx.writer)
    initsystem.kubelet_start(ctx)


def _kubelet_finalize(ctx: InitContext, _subs) -> None:
    ctx.api_result(kubelet.kubelet_finalize(ctx.cfg, ctx.fs, ctx.writer))


# --- API phases ------------------------------------------------------------------------------

def _wait_control_plane(ctx: InitContext, _subs) -> None:
    timeout = ctx.cfg.timeout("controlPlaneComponentHealthCheck")
    ctx.api_result(waitcontrolplane.wait_control_plane(ctx.api, timeout))


def _upload_kubeadm_config(ctx: InitContext, _subs) -> None:
    _ensure_cluster_admins(ctx)
    ctx.api_result(uploadconfig.upload_config_kubeadm(ctx.api, ctx.cfg))


def _upload_kubelet_config(ctx: InitContext, _subs) -> None:
    _ensure_cluster_admins(ctx)
    ctx.api_result(uploadconfig.upload_config_kubelet(ctx.api, ctx.cfg))


def _upload_certs(ctx: InitContext, _subs) -> None:
    if ctx.upload_certs:  # opt-in, like kubeadm's --upload-certs
        result = copycerts.upload_certs(ctx.api, ctx.cfg, ctx.fs, ctx.certificate_key or None)
        ctx.certificate_key = result.pop("certificate_key") or ""  # no_log: never in the phase result
        if not ctx.certificate_key:
            ctx.log.note("upload-certs: the certificate key of a new upload is derived from the uid the API server "
                         "gives its owner token: it is known after the real run")
        ctx.api_result(result)


def _mark_control_plane(ctx: InitContext, _subs) -> None:
    timeout = ctx.cfg.timeout("kubernetesAPICall") * 4
    ctx.api_result(markcontrolplane.mark_control_plane(ctx.api, ctx.cfg, timeout))


def _bootstrap_token(ctx: InitContext, _subs) -> None:
    _ensure_cluster_admins(ctx)
    ca_pem = ctx.fs.read_text(pki.cert_path(ctx.cfg, C.CA_BASE))
    result = bootstraptoken.bootstrap_token(ctx.api, ctx.cfg, ca_pem, kubeconfig.control_plane_endpoint(ctx.cfg))
    ctx.report.token = result.pop("token", "") or ctx.report.token
    ctx.api_result(result)


def _coredns(ctx: InitContext, _subs) -> None:
    if not ctx.cfg.cluster.get("dns", {}).get("disabled"):
        ctx.api_result(addondns.addon_coredns(ctx.api, ctx.cfg))


def _kube_proxy(ctx: InitContext, _subs) -> None:
    if not ctx.cfg.cluster.get("proxy", {}).get("disabled"):
        ca_pem = ctx.fs.read_text(pki.cert_path(ctx.cfg, C.CA_BASE))
        ctx.api_result(addonproxy.addon_kube_proxy(ctx.api, ctx.cfg, kubeconfig.control_plane_endpoint(ctx.cfg),
                                                   ca_pem))


def _show_join_command(ctx: InitContext, _subs) -> None:
    ctx.report.show_join_command = True


def _ensure_cluster_admins(ctx: InitContext) -> None:
    """kubeadm:cluster-admins CRB: try admin.conf, fall back to super-admin.conf."""
    if ctx.cluster_admins_done:
        return
    ctx.cluster_admins_done = True
    super_admin = ctx.writer_for(C.kubeconfig_path(C.SUPER_ADMIN_CONF), required=False)
    ctx.api_result(rbac.ensure_cluster_admins(ctx.api, super_admin), name="cluster-admins")


PHASES = (
    Phase("preflight", _preflight),
    Phase("certs", _certs, pki.PHASES, writes=_pki_dirs, check=_same_cluster),
    Phase("kubeconfig", _kubeconfig, kubeconfig.PHASES, writes=lambda _cfg: [C.KUBERNETES_DIR],
          check=_same_cluster),
    Phase("etcd", _etcd, (manifests.ETCD_PHASE,), writes=lambda _cfg: [C.MANIFESTS_DIR]),
    Phase("control-plane", _control_plane, tuple(manifests.CONTROL_PLANE_PHASES),
          writes=lambda _cfg: [C.MANIFESTS_DIR]),
    Phase("kubelet-start", _kubelet_start, writes=_kubelet_dirs),
    Phase("wait-control-plane", _wait_control_plane, needs_api=True),
    Phase("upload-config", children=(Phase("kubeadm", _upload_kubeadm_config, needs_api=True),
                                     Phase("kubelet", _upload_kubelet_config, needs_api=True))),
    Phase("upload-certs", _upload_certs, needs_api=True),
    Phase("mark-control-plane", _mark_control_plane, needs_api=True),
    Phase("bootstrap-token", _bootstrap_token, needs_api=True),
    Phase("kubelet-finalize", children=(Phase("enable-client-cert-rotation", _kubelet_finalize,
                                              writes=lambda _cfg: [C.KUBERNETES_DIR]),)),
    Phase("addon", children=(Phase("coredns", _coredns, needs_api=True),
                             Phase("kube-proxy", _kube_proxy, needs_api=True))),
    Phase("show-join-command", _show_join_command),
)


def run_init(params: dict, check_mode: bool = False) -> dict:
    """Validate everything, then run the selected phases. Returns the module result."""
    cfg = config_mod.build_init_config(params)
    # before anything is written: the version of a running control plane is kubeadm_upgrade's to change
    upgradepolicy.guard_existing_control_plane(cfg, HostFS(params.get("rootfs") or "/"))
    dry_run_dir = None
    if cfg.init.get("dryRun"):
        # Like kubeadm: files go to a fresh temporary directory, the API is only read.
        dry_run_dir = tempfile.mkdtemp(prefix="kubeadm-init-dryrun")
    writer = Writer(HostFS(dry_run_dir or params.get("rootfs") or "/"), check_mode=check_mode)
    selection = phases.select(PHASES, cfg.init.get("skipPhases") or [])
    ctx = InitContext(cfg=cfg, fs=writer.view(), writer=writer, check_mode=check_mode,
                      plan_only=check_mode or bool(dry_run_dir), admin_kubeconfig=C.kubeconfig_path(C.ADMIN_CONF),
                      plan_kubeconfig=C.kubeconfig_path(C.SUPER_ADMIN_CONF),
                      certificate_key=cfg.init.get("certificateKey") or "",
                      upload_certs=bool(params.get("upload_certs")))
    ctx.warnings.extend(cfg.warnings)
    # one run at a time on a tree (two inits at once would each create a CA: a split-brain PKI)
    with RootfsLock(params.get("rootfs") or "/", create=not check_mode):
        patchtargets.check(cfg, ctx.fs)
        phase_report = phases.run(selection, ctx)
        return _result(ctx, phase_report, params, dry_run_dir)


def _planned_only(ctx: InitContext, token: str) -> bool:
    """A token this check mode run would create does not exist: no join command for it."""
    secret = bootstraptoken.BootstrapToken(token=token).secret_name
    return ctx.plan_only and f"Secret/{C.KUBE_SYSTEM}/{secret}" in ctx.log.objects


def _result(ctx: InitContext, phase_report: dict, params: dict, dry_run_dir) -> dict:
    cfg, report = ctx.cfg, ctx.report
    # The real file only: in check mode a CA that would be created has no hash yet.
    ca_pem = ctx.writer.fs.read_bytes(pki.cert_path(cfg, C.CA_BASE))
    ca_hash = pubkeypin.pin(ca_pem) if ca_pem else None
    endpoint = kubeconfig.control_plane_endpoint(cfg)
    result = ctx.result(phase_report)
    result.update(kubernetes_version=cfg.version, node_name=cfg.node_name, advertise_address=cfg.advertise_address,
                  control_plane_endpoint=endpoint, ca_cert_hash=ca_hash)
    if dry_run_dir:
        result["dry_run_dir"] = dry_run_dir
    if cfg.patch_manager is not None:
        result["patches"] = cfg.patch_manager.summary()
    if ctx.certificate_key and ctx.upload_certs:
        result["certificate_key"] = ctx.certificate_key
    if report.show_join_command and report.token and ca_hash and not params.get("skip_token_print") \
            and not _planned_only(ctx, report.token):
        result["join_command"] = tokens.join_command(endpoint, report.token, [ca_hash])
        # The same facts, structured, for roles that call kubeadm_join.
        result["join"] = {"api_server_endpoint": endpoint[len("https://"):],
                          "token": report.token, "discovery_token_ca_cert_hash": [ca_hash]}
        if params.get("token"):  # a given token is a no_log input: returned here on purpose (the join facts)
            result["_returned_secrets"] = [report.token]
    return result
