# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`kubeadm reset` as one call: config -> preflight (everything read, every refusal) -> phases -> result.

kubeadm's phases are preflight, remove-etcd-member and cleanup-node (cmd/kubeadm/app/cmd/reset.go).
One phase is added, before etcd goes: delete-node, the Node object's deletion that kubeadm leaves
to `kubectl delete node` (done with this node's own credentials: admin.conf, else kubelet.conf,
which may delete its own Node; skipped with a note when the API does not answer or refuses).
preflight reads all that later phases need while it is still there (the credentials, this node's
name, its etcd member and the member list) and raises every refusal (the last etcd member, an
unreachable etcd, a non-root user) before anything changes. Files go through the run's
`files.Writer`, the Node through its `apiwriter.ApiWriter`, the etcd member into the same change
log: check mode plans all of it and `--diff` shows it without a secret. A second reset finds
nothing to do (changed=false).
"""
from __future__ import annotations

import socket
from dataclasses import dataclass, field

from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import (
    apiclient, cleanupnode, drain, errors, kubeconfigutil, phases, pkiutil, preflight, removeetcdmember, resetconfig,
    staticpod, tlsbootstrap)
from ansible_collections.kubeboot.cluster.plugins.module_utils.apiwriter import ApiWriter
from ansible_collections.kubeboot.cluster.plugins.module_utils.files import HostFS, Writer
from ansible_collections.kubeboot.cluster.plugins.module_utils.phases import Phase

HOSTNAME_OVERRIDE = "--hostname-override="
PROBE_TIMEOUT = 5.0  # the one /healthz probe before the API is used


@dataclass
class ResetContext(phases.PhaseContext):
    node_name: str = ""
    identity: str = ""             # the kubeconfig the API writer uses ("" = none)
    etcd: object = None            # removeetcdmember.EtcdState
    results: dict = field(default_factory=dict)

    def connect(self):
        """The API writer made by preflight (before the credentials are removed), or None."""
        return self.api


# --- what preflight reads ------------------------------------------------------------------------

def node_name(fs, cfg) -> str:
    """This node's name: the option, the kubelet's client certificate (system:node:<name>), the etcd
    member's name, the kubelet's --hostname-override, the hostname."""
    if cfg.options.get("node_name"):
        return cfg.options["node_name"]
    name = _kubelet_identity(fs)
    if name:
        return name
    pod = staticpod.read(fs, C.manifest_path(C.ETCD))
    if pod is not None and staticpod.command_flags(pod).get("name"):
        return staticpod.command_flags(pod)["name"]
    flags = fs.read_text(C.KUBELET_FLAGS_ENV_FILE) or ""
    for word in flags.replace('"', " ").split():
        if word.startswith(HOSTNAME_OVERRIDE):
            return word[len(HOSTNAME_OVERRIDE):].lower()
    return socket.gethostname().strip().lower()


def _kubelet_identity(fs) -> str:
    text = fs.read_text(tlsbootstrap.KUBELET_CONF)
    if not text:
        return ""
    try:
        chosen = kubeconfigutil.select(kubeconfigutil.load(text, tlsbootstrap.KUBELET_CONF, errors.FileError))
        pem = kubeconfigutil.material(chosen.user, "client-certificate-data", "client-certificate", fs,
                                      C.KUBERNETES_DIR)
        cn, _orgs = pkiutil.subject_fields(pkiutil.load_certificates(pem)[0]) if pem else ("", ())
    except (errors.KubebootError, ValueError):
        return ""
    return cn[len(C.NODE_USER_PREFIX):] if cn and cn.startswith(C.NODE_USER_PREFIX) else ""


def _credentials(ctx: ResetContext) -> None:
    """The API writer, with the kubeconfig option, else admin.conf, else kubelet.conf: made once, by
    preflight, while the files exist; None (and a note) when no API server answers."""
    wanted = ctx.cfg.options.get("kubeconfig")
    candidates = [wanted] if wanted else [C.kubeconfig_path(C.ADMIN_CONF), tlsbootstrap.KUBELET_CONF]
    present = [path for path in candidates if ctx.fs.exists(path)]
    if wanted and not present:
        raise errors.InvalidValue("kubeconfig", wanted, "an existing kubeconfig file on this node")
    for path in present:
        try:
            client = apiclient.Client.from_kubeconfig_file(ctx.fs, path, timeout=PROBE_TIMEOUT, retry_timeout=0)
        except errors.KubebootError as exc:
            ctx.log.note(f"{path} cannot be used to reach the API server ({exc})")
            continue
        if not client.healthz():
            ctx.log.note(f"no API server answered at {client.server} ({path}): the Node object is not deleted")
            return
        client.timeout, client.retry_timeout = 30.0, ctx.cfg.timeout("kubernetesAPICall")
        ctx.api, ctx.identity = ApiWriter(client, check_mode=ctx.check_mode, log=ctx.log), path
        return


# --- phases ------------------------------------------------------------------------------------------

def _preflight(ctx: ResetContext, _subs) -> None:
    cfg = ctx.cfg
    ctx.report.preflight = preflight.evaluate([preflight.check_privileged(ctx.fs)], cfg.ignore_preflight_errors)
    ctx.node_name = node_name(ctx.fs, cfg)
    _credentials(ctx)
    ctx.etcd = removeetcdmember.inspect(ctx.fs, cfg, ctx.api, ctx.node_name)
    refused = removeetcdmember.refusal(ctx.etcd, cfg.force)
    if refused is not None:
        raise refused


def _delete_node(ctx: ResetContext, _subs) -> None:
    if ctx.api is None:
        ctx.results["node"] = {"name": ctx.node_name, "deleted": False,
                               "reason": "no credentials of this node reach the API server"}
        return
    try:
        done = drain.delete_node(ctx.api, ctx.node_name)
    except errors.APIError as exc:
        if exc.status not in (401, 403):
            raise
        ctx.log.note(f"{ctx.identity} may not delete Node {ctx.node_name} ({exc.status}): "
                     f"delete it with kubectl delete node {ctx.node_name}")
        done = {"deleted": False, "reason": f"forbidden for {ctx.identity}"}
    ctx.results["node"] = dict(done, name=ctx.node_name, credentials=ctx.identity)


def _remove_etcd_member(ctx: ResetContext, _subs) -> None:
    result = removeetcdmember.remove_etcd_member(ctx.etcd, ctx.writer, ctx.check_mode, ctx.cfg.timeout("etcdAPICall"))
    for text in ctx.etcd.notes:
        ctx.log.note(text)
    ctx.results["etcd"] = result


def _cleanup_node(ctx: ResetContext, _subs) -> None:
    ctx.results.update(cleanupnode.cleanup_node(ctx, ctx.cfg, ctx.cfg.timeout("controlPlaneComponentHealthCheck")))


PHASES = (
    Phase("preflight", _preflight),
    Phase("delete-node", _delete_node, needs_api=True),
    Phase("remove-etcd-member", _remove_etcd_member),
    Phase("cleanup-node", _cleanup_node),
)


def run_reset(params: dict, check_mode: bool = False) -> dict:
    """Validate, read the node, then run the selected phases. Returns the module result."""
    cfg = resetconfig.build_reset_config(params)
    check_mode = check_mode or cfg.dry_run  # kubeadm's dryRun: say what would be done, do nothing
    selection = phases.select(PHASES, cfg.skip_phases)
    writer = Writer(HostFS(params.get("rootfs") or "/"), check_mode=check_mode)
    ctx = ResetContext(cfg=cfg, fs=writer.view(), writer=writer, check_mode=check_mode, plan_only=check_mode)
    ctx.warnings.extend(cfg.warnings)
    if not selection.runs("preflight"):
        raise errors.InvalidValue("skip_phases", "preflight", "the reset phases but preflight: it reads what the "
                                                              "others need and refuses what would lose data")
    phase_report = phases.run(selection, ctx)
    return _result(ctx, phase_report)


def _result(ctx: ResetContext, phase_report: dict) -> dict:
    log, results = ctx.log, ctx.results
    view = ctx.writer.view()
    if "kept" not in results:
        results["kept"] = cleanupnode.kept_files(view, ctx.cfg)
    left = cleanupnode.left_to_user(view, ctx.cfg, results)
    node = results.get("node") or {"name": ctx.node_name, "deleted": False, "reason": "phase skipped"}
    if not node.get("deleted") and node.get("reason"):  # not asked, or not allowed: the API was not told
        left.append({"what": f"the Node object {node['name']}, if it still exists",
                     "how": f"kubectl delete node {node['name']} ({node.get('reason')})"})
    return {
        "changed": log.changed,
        "node_name": ctx.node_name,
        "removed": list(log.paths),
        "kept": results["kept"],
        "left_to_user": left,
        "node": node,
        "etcd": results.get("etcd", {}),
        "kubelet_service": results.get("kubelet", {}),
        "pod_sandboxes": results.get("pod_sandboxes", {}),
        "cni": results.get("cni", []),
        "iptables": results.get("iptables", {}),
        "preflight": ctx.report.preflight,
        "phases": phase_report,
        "changed_files": list(log.paths),
        "changed_objects": list(log.objects),
        "changed_actions": list(log.actions),
        "notes": list(log.notes),
        "warnings": ctx.warnings + log.notes,
        "diff": log.diffs,
    }
