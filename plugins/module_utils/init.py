# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`kubeadm init` as one call: config -> phase selection -> handlers -> result dict.

The module (plugins/modules/kubeadm_init.py) only translates parameters in and
this result out.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import config as config_mod
from ansible_collections.kubeboot.cluster.plugins.module_utils import phases
from ansible_collections.kubeboot.cluster.plugins.module_utils import preflight
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import FileError
from ansible_collections.kubeboot.cluster.plugins.module_utils.files import HostFS, Writer


@dataclass
class InitContext(phases.PhaseContext):
    _client: object = None
    certificate_key: str = ""
    token: str = ""

    def client(self):
        """API client from admin.conf (lazily: local-only runs never need it)."""
        if self._client is None:
            from ansible_collections.kubeboot.cluster.plugins.module_utils import apiclient
            text = self.fs.read_text(f"{C.KUBERNETES_DIR}/{C.ADMIN_CONF}")
            if text is None:
                raise FileError(f"{C.KUBERNETES_DIR}/{C.ADMIN_CONF} is missing: "
                                "the kubeconfig/admin phase must run first")
            self._client = apiclient.Client.from_kubeconfig(text)
        return self._client

    def super_admin_client(self):
        from ansible_collections.kubeboot.cluster.plugins.module_utils import apiclient
        text = self.fs.read_text(f"{C.KUBERNETES_DIR}/{C.SUPER_ADMIN_CONF}")
        return apiclient.Client.from_kubeconfig(text) if text else None


# --- local phases -------------------------------------------------------------

def _preflight(ctx: InitContext, _subs) -> None:
    checks = preflight.init_checks(ctx.cfg, ctx.fs)
    ignore = ctx.cfg.init["nodeRegistration"].get("ignorePreflightErrors", [])
    ctx.results["preflight"] = preflight.evaluate(checks, ignore)


def _certs(ctx: InitContext, subs) -> None:
    from ansible_collections.kubeboot.cluster.plugins.module_utils import pki
    ctx.results["certificates"] = pki.ensure_certificates(ctx.cfg, ctx.fs, ctx.writer, only=subs)


def _kubeconfig(ctx: InitContext, subs) -> None:
    from ansible_collections.kubeboot.cluster.plugins.module_utils import kubeconfig
    ctx.results["kubeconfigs"] = kubeconfig.ensure_kubeconfigs(ctx.cfg, ctx.fs, ctx.writer, only=subs)


def _etcd(ctx: InitContext, _subs) -> None:
    if not ctx.cfg.local_etcd:
        return
    from ansible_collections.kubeboot.cluster.plugins.module_utils import manifests
    ctx.results.setdefault("manifests", []).extend(
        manifests.ensure_manifests(ctx.cfg, ctx.fs, ctx.writer, only=["etcd"]))


def _control_plane(ctx: InitContext, subs) -> None:
    from ansible_collections.kubeboot.cluster.plugins.module_utils import manifests
    ctx.results.setdefault("manifests", []).extend(
        manifests.ensure_manifests(ctx.cfg, ctx.fs, ctx.writer, only=subs))


def _kubelet_start(ctx: InitContext, _subs) -> None:
    from ansible_collections.kubeboot.cluster.plugins.module_utils import kubelet
    ctx.results["kubelet_files"] = kubelet.ensure_kubelet_files(ctx.cfg, ctx.fs, ctx.writer)
    if not ctx.cfg.init.get("dryRun"):
        from ansible_collections.kubeboot.cluster.plugins.module_utils import initsystem
        initsystem.kubelet_start(ctx)


# --- API phases -----------------------------------------------------------------

def _bootstrap():
    from ansible_collections.kubeboot.cluster.plugins.module_utils import bootstrap
    return bootstrap


def _api_allowed(ctx: InitContext, name: str) -> bool:
    """Check mode and dry-run never talk to the API (nothing may change)."""
    if ctx.check_mode or ctx.cfg.init.get("dryRun"):
        ctx.results.setdefault("api", {})[name] = {"changed": False, "skipped": "check mode or dry run"}
        return False
    return True


def _wait_control_plane(ctx: InitContext, _subs) -> None:
    if _api_allowed(ctx, "wait-control-plane"):
        timeout = _timeout(ctx.cfg, "controlPlaneComponentHealthCheck")
        ctx.api_result("wait-control-plane", _bootstrap().wait_control_plane(ctx.client(), timeout))


def _upload_config(ctx: InitContext, subs) -> None:
    if not _api_allowed(ctx, "upload-config"):
        return
    _ensure_cluster_admins(ctx)
    if "kubeadm" in subs:
        ctx.api_result("upload-config/kubeadm", _bootstrap().upload_config_kubeadm(ctx.client(), ctx.cfg))
    if "kubelet" in subs:
        ctx.api_result("upload-config/kubelet", _bootstrap().upload_config_kubelet(ctx.client(), ctx.cfg))


def _upload_certs(ctx: InitContext, _subs) -> None:
    # Opt-in, like kubeadm's --upload-certs.
    if not ctx.certificate_key or not _api_allowed(ctx, "upload-certs"):
        return
    ctx.api_result("upload-certs", _bootstrap().upload_certs(ctx.client(), ctx.cfg, ctx.fs, ctx.certificate_key))


def _mark_control_plane(ctx: InitContext, _subs) -> None:
    if _api_allowed(ctx, "mark-control-plane"):
        timeout = _timeout(ctx.cfg, "kubernetesAPICall") * 4
        ctx.api_result("mark-control-plane", _bootstrap().mark_control_plane(ctx.client(), ctx.cfg, timeout))


def _bootstrap_token(ctx: InitContext, _subs) -> None:
    if not _api_allowed(ctx, "bootstrap-token"):
        return
    _ensure_cluster_admins(ctx)
    ca_pem = ctx.fs.read_text(f"{ctx.cfg.cert_dir}/ca.crt")
    result = _bootstrap().bootstrap_token(ctx.client(), ctx.cfg, ca_pem, control_plane_url(ctx.cfg))
    ctx.token = result.pop("token", "") or ctx.token
    ctx.api_result("bootstrap-token", result)


def _kubelet_finalize(ctx: InitContext, _subs) -> None:
    if ctx.check_mode:
        return
    result = _bootstrap().kubelet_finalize(ctx.cfg, ctx.fs, ctx.writer)
    ctx.results.setdefault("api", {})["kubelet-finalize"] = result


def _addon(ctx: InitContext, subs) -> None:
    if not _api_allowed(ctx, "addon"):
        return
    if "coredns" in subs and not ctx.cfg.cluster.get("dns", {}).get("disabled"):
        ctx.api_result("addon/coredns", _bootstrap().addon_coredns(ctx.client(), ctx.cfg))
    if "kube-proxy" in subs and not ctx.cfg.cluster.get("proxy", {}).get("disabled"):
        ca_pem = ctx.fs.read_text(f"{ctx.cfg.cert_dir}/ca.crt")
        ctx.api_result("addon/kube-proxy", _bootstrap().addon_kube_proxy(
            ctx.client(), ctx.cfg, control_plane_url(ctx.cfg), ca_pem))


def _show_join_command(ctx: InitContext, _subs) -> None:
    ctx.results["show_join_command"] = True


def _ensure_cluster_admins(ctx: InitContext) -> None:
    """kubeadm:cluster-admins CRB: try admin.conf, fall back to super-admin.conf."""
    if ctx.results.get("_cluster_admins_done"):
        return
    ctx.results["_cluster_admins_done"] = True
    result = _bootstrap().ensure_cluster_admins(ctx.client(), ctx.super_admin_client())
    ctx.api_result("cluster-admins", result)


HANDLERS = {
    "preflight": _preflight,
    "certs": _certs,
    "kubeconfig": _kubeconfig,
    "etcd": _etcd,
    "control-plane": _control_plane,
    "kubelet-start": _kubelet_start,
    "wait-control-plane": _wait_control_plane,
    "upload-config": _upload_config,
    "upload-certs": _upload_certs,
    "mark-control-plane": _mark_control_plane,
    "bootstrap-token": _bootstrap_token,
    "kubelet-finalize": _kubelet_finalize,
    "addon": _addon,
    "show-join-command": _show_join_command,
}


def _timeout(cfg, name: str) -> float:
    from ansible_collections.kubeboot.cluster.plugins.module_utils.durations import parse_duration
    return parse_duration(cfg.init.get("timeouts", {}).get(name, C.DEFAULT_TIMEOUTS[name]))


def control_plane_url(cfg) -> str:
    """https://<controlPlaneEndpoint> (default port bindPort) or the local endpoint."""
    from ansible_collections.kubeboot.cluster.plugins.module_utils import netutil
    endpoint = cfg.cluster.get("controlPlaneEndpoint") or ""
    if endpoint:
        host, port = netutil.split_host_port(endpoint, cfg.bind_port)
        return netutil.https_url(host, port)
    return netutil.https_url(cfg.advertise_address, cfg.bind_port)


def run_init(params: dict, check_mode: bool = False) -> dict:
    """Validate everything, then run the selected phases. Returns the module result."""
    cfg = config_mod.build_init_config(params, HostFS(params.get("rootfs") or "/"))
    rootfs = params.get("rootfs") or "/"
    dry_run_dir = None
    if cfg.init.get("dryRun"):
        # Like kubeadm: everything goes to a fresh temporary directory instead of the node.
        dry_run_dir = tempfile.mkdtemp(prefix="kubeadm-init-dryrun")
        rootfs = dry_run_dir
    writer = Writer(HostFS(rootfs), check_mode=check_mode)
    selection = phases.select(phases.INIT_PHASES, cfg.init.get("skipPhases") or [])
    ctx = InitContext(cfg=cfg, fs=writer.view(), writer=writer, check_mode=check_mode,
                      certificate_key=_certificate_key(cfg, params))
    ctx.warnings.extend(cfg.warnings)
    phase_report = phases.run(selection, HANDLERS, ctx)
    return _result(ctx, phase_report, params, dry_run_dir)


def _certificate_key(cfg, params: dict) -> str:
    """The key for upload-certs: the given one, or a new one (returned no_log)."""
    if not params.get("upload_certs"):
        return ""
    return cfg.init.get("certificateKey") or os.urandom(32).hex()


def _result(ctx: InitContext, phase_report: dict, params: dict, dry_run_dir) -> dict:
    from ansible_collections.kubeboot.cluster.plugins.module_utils import pki
    cfg = ctx.cfg
    # The real file only: in check mode a CA that would be created has no hash yet.
    ca_pem = ctx.writer.fs.read_bytes(f"{cfg.cert_dir}/ca.crt")
    ca_hash = pki.spki_pin(ca_pem) if ca_pem else None
    result = {
        "changed": ctx.changed,
        "kubernetes_version": cfg.version,
        "node_name": cfg.node_name,
        "advertise_address": cfg.advertise_address,
        "control_plane_endpoint": control_plane_url(cfg),
        "ca_cert_hash": ca_hash,
        "certificates": ctx.results.get("certificates", []),
        "kubeconfigs": ctx.results.get("kubeconfigs", []),
        "manifests": ctx.results.get("manifests", []),
        "kubelet_files": ctx.results.get("kubelet_files", []),
        "kubelet_service": ctx.results.get("kubelet_service", {}),
        "preflight": ctx.results.get("preflight", {}),
        "phases": phase_report,
        "api": ctx.results.get("api", {}),
        "changed_files": list(ctx.writer.changed_paths),
        "warnings": ctx.warnings,
        "diff": ctx.writer.diffs,
    }
    if dry_run_dir:
        result["dry_run_dir"] = dry_run_dir
    if ctx.certificate_key:
        result["certificate_key"] = ctx.certificate_key
    if ctx.results.get("show_join_command") and ctx.token and ca_hash and not params.get("skip_token_print"):
        from ansible_collections.kubeboot.cluster.plugins.module_utils import tokens
        result["join_command"] = tokens.join_command(control_plane_url(cfg), ctx.token, [ca_hash])
        # The same facts, structured, for roles that call kubeadm_join.
        result["join"] = {"api_server_endpoint": control_plane_url(cfg)[len("https://"):],
                          "token": ctx.token, "discovery_token_ca_cert_hash": [ca_hash]}
    return result
