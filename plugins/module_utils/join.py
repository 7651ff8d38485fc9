# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`kubeadm join` as one call: config -> discovery -> phase selection -> phases -> result.

Discovery, the token check and reading the cluster's configuration (kubeadm-config,
kubelet-config) all happen before any phase runs, so a refused cluster or token leaves
the node untouched. Files go through the run's `files.Writer`, API objects (the CSR of a
module-mode TLS bootstrap, the Node's control-plane marks) and the etcd membership are
planned and recorded in the same change log, so check mode reports what a real run does.
The module (plugins/modules/kubeadm_join.py) only translates parameters in and this result out.
"""
from __future__ import annotations

import posixpath
import tempfile
from dataclasses import dataclass

from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import config as config_mod
from ansible_collections.kubeboot.cluster.plugins.module_utils import discovery as discovery_mod
from ansible_collections.kubeboot.cluster.plugins.module_utils import (
    apiclient, copycerts, docutil, errors, etcd, initsystem, joinconfig, kubeconfig, kubelet, manifests,
    markcontrolplane, patchtargets, phases, pki, preflight, tlsbootstrap, waitcontrolplane)
from ansible_collections.kubeboot.cluster.plugins.module_utils.apiwriter import ApiWriter
from ansible_collections.kubeboot.cluster.plugins.module_utils.docutil import to_yaml
from ansible_collections.kubeboot.cluster.plugins.module_utils.files import HostFS, RootfsLock, Writer
from ansible_collections.kubeboot.cluster.plugins.module_utils.phases import Phase


@dataclass
class JoinContext(phases.PhaseContext):
    discovered: object = None
    bootstrap: ApiWriter = None      # the TLS bootstrap identity (token or discovery-file credentials)
    kubelet_config_text: str = ""
    already_joined: bool = False

    def connect(self):
        """admin.conf is this node's only after control-plane-prepare/kubeconfig: workers never connect."""
        return super().connect() if self.cfg.control_plane else None


# --- before the phases: discovery and the cluster's configuration ---------------------------

def _token_rejected(exc: errors.APIError, what: str) -> errors.DiscoveryError:
    if exc.status == 401:
        return errors.DiscoveryError(
            f"TLS bootstrap token check failed: the API server rejected the token (HTTP 401) while reading "
            f"{what}: the token is unknown, expired, or lacks the 'authentication' usage; nothing was written")
    if exc.status == 403:
        return errors.DiscoveryError(
            f"TLS bootstrap token check failed: the token may not read {what} (HTTP 403): is it in the "
            f"{C.DEFAULT_TOKEN_GROUP} group and were kubeadm's RBAC rules created by init?")
    return errors.DiscoveryError(f"cannot read {what} with the TLS bootstrap credentials: {exc}")


def prepare(ctx: JoinContext, sleep=None) -> None:
    """Discover the cluster, then read kubeadm-config (+ kubelet-config) with the bootstrap credentials."""
    kwargs = {"warnings": ctx.warnings}
    if sleep is not None:
        kwargs["sleep"] = sleep
    ctx.discovered = discovery_mod.discover(ctx.cfg, **kwargs)
    client = ctx.discovered.client(timeout=15.0, retry_timeout=20.0)
    ctx.bootstrap = ApiWriter(client, check_mode=ctx.plan_only, log=ctx.log)
    what = f"ConfigMap {C.KUBE_SYSTEM}/{C.KUBEADM_CONFIG_CM}"
    try:
        cm = client.get("ConfigMap", C.KUBEADM_CONFIG_CM, C.KUBE_SYSTEM)
    except errors.APIError as exc:
        raise _token_rejected(exc, what) from None
    ctx.cfg.adopt_cluster_configuration((cm.get("data") or {}).get(C.KUBEADM_CONFIG_KEY, ""), what)
    ctx.cfg.patch_manager = config_mod.load_patches(ctx.cfg.join, ctx.cfg.minor)  # targets follow the version
    what = f"ConfigMap {C.KUBE_SYSTEM}/{C.KUBELET_CONFIG_CM}"
    try:
        cm = client.get("ConfigMap", C.KUBELET_CONFIG_CM, C.KUBE_SYSTEM)
    except errors.APIError as exc:
        raise _token_rejected(exc, what) from None
    ctx.kubelet_config_text = (cm.get("data") or {}).get(C.KUBELET_CONFIG_KEY, "")
    if not ctx.kubelet_config_text:
        raise errors.DiscoveryError(f"{what} has no '{C.KUBELET_CONFIG_KEY}' key")
    try:
        kubelet_doc = docutil.parse_yaml(ctx.kubelet_config_text)
    except docutil.YAMLInputError as exc:
        raise errors.DiscoveryError(f"{what}: the '{C.KUBELET_CONFIG_KEY}' key is not valid YAML ({exc})") from None
    if not isinstance(kubelet_doc, dict):
        raise errors.DiscoveryError(f"{what}: the '{C.KUBELET_CONFIG_KEY}' key is not a KubeletConfiguration")
    ctx.already_joined = tlsbootstrap.existing_kubelet_identity(ctx.fs, ctx.discovered.ca_pem) is not None


# --- phases -------------------------------------------------------------------------------------

def _preflight(ctx: JoinContext, _subs) -> None:
    cfg, fs = ctx.cfg, ctx.fs
    checks = [preflight.check_privileged(fs)]
    if cfg.control_plane:
        if not cfg.cluster.get("controlPlaneEndpoint"):
            raise errors.PreflightError([(
                "ControlPlaneEndpoint",
                "unable to add a new control plane instance to a cluster that doesn't have a stable "
                "controlPlaneEndpoint address (set controlPlaneEndpoint in the ClusterConfiguration at init)")])
        checks += preflight.init_checks(cfg, fs)
    joined = ctx.already_joined
    checks.append(preflight.check_file_available(fs, tlsbootstrap.KUBELET_CONF, ours=joined))
    checks.append(preflight.check_file_available(fs, tlsbootstrap.BOOTSTRAP_CONF, ours=True))
    if not cfg.control_plane:
        ca_path = _ca_path(cfg)
        ours = fs.read_bytes(ca_path) is not None and _same_pem(fs.read_bytes(ca_path), ctx.discovered.ca_pem)
        checks.append(preflight.check_file_available(fs, ca_path, ours=ours))
        checks += preflight.common_checks(fs, kubelet.cri_socket(cfg))
        host = ctx.discovered.server.split("://", 1)[-1].rsplit(":", 1)[0].strip("[]")
        checks.append(preflight.check_http_proxy(host))
        checks.append(preflight.check_file_content("/proc/sys/net/ipv4/ip_forward", "1"))
    ctx.report.preflight = preflight.evaluate(checks, cfg.join["nodeRegistration"].get("ignorePreflightErrors", []))


def _ca_path(cfg) -> str:
    return cfg.join.get("caCertPath") or pki.cert_path(cfg, C.CA_BASE)


def _same_pem(a: bytes, b: bytes) -> bool:
    return (a or b"").strip() == (b or b"").strip()


# control-plane-prepare/*: this node's files of a control-plane join (a worker has none)

def _download_certs(ctx: JoinContext, _subs) -> None:
    if ctx.cfg.control_plane:
        download_certs(ctx)


def _certs(ctx: JoinContext, _subs) -> None:
    if ctx.cfg.control_plane:  # this node's own leaves; the shared CAs and SA key come from download-certs
        only = [name for name in pki.selected_phases(ctx.cfg) if name not in pki.SHARED]
        ctx.report.certificates = ctx.surface(pki.ensure_certificates(ctx.cfg, ctx.fs, ctx.writer, only=only))


def _kubeconfig(ctx: JoinContext, _subs) -> None:
    if ctx.cfg.control_plane:
        ctx.report.kubeconfigs = ctx.surface(kubeconfig.ensure_kubeconfigs(ctx.cfg, ctx.fs, ctx.writer,
                                                                           only=kubeconfig.JOIN_PHASES))


def _control_plane(ctx: JoinContext, _subs) -> None:
    if ctx.cfg.control_plane:
        ctx.report.manifests += manifests.ensure_manifests(ctx.cfg, ctx.fs, ctx.writer,
                                                           only=list(manifests.CONTROL_PLANE_PHASES))


def _kubelet_start(ctx: JoinContext, _subs) -> None:
    cfg, writer, disc = ctx.cfg, ctx.writer, ctx.discovered
    if not ctx.already_joined:
        try:
            tlsbootstrap.check_node_name_free(ctx.bootstrap.client, cfg.node_name)
        except errors.APIError as exc:
            raise _token_rejected(exc, f"Node {cfg.node_name}") from None
    server = _kubelet_server(ctx)
    mode = cfg.options.get("tls_bootstrap_mode") or "kubelet"
    identity = None
    if mode == "module" and not ctx.already_joined:
        # the certificate first: nothing is written when the CSR is denied or times out
        cert_pem, key_pem, ctx.report.csr = tlsbootstrap.request_certificate(
            ctx.bootstrap, cfg.node_name, cfg.timeout("tlsBootstrap"))
        identity = (cert_pem or b"", key_pem)
    # the cluster CA, the kubelet's config and flags
    ca_path = _ca_path(cfg)
    files_result = [{"path": ca_path, "changed": writer.write(ca_path, disc.ca_pem, C.MODE_CERT)}]
    writer.ensure_dir(C.KUBELET_DIR, C.MODE_KUBELET_DIR)
    instance = kubelet.instance_config(cfg)
    if instance is not None:
        files_result.append({"path": C.KUBELET_INSTANCE_CONFIG_FILE, "changed": writer.write(
            C.KUBELET_INSTANCE_CONFIG_FILE, instance, C.MODE_KUBELET_FILE)})
    else:
        files_result += kubelet.remove_stale_instance_config(writer)
    files_result.append({"path": C.KUBELET_CONFIG_FILE, "changed": writer.write(
        C.KUBELET_CONFIG_FILE, kubelet.node_config_yaml(cfg, ctx.kubelet_config_text), C.MODE_KUBELET_FILE)})
    env = kubelet.flags_env(cfg, register_taints=not cfg.control_plane)
    files_result.append({"path": C.KUBELET_FLAGS_ENV_FILE,
                         "changed": writer.write(C.KUBELET_FLAGS_ENV_FILE, env, C.MODE_KUBELET_FILE)})
    # kubeadm's package ships the drop-in; without a kubeadm package the join writes it, as init does
    files_result.append({"path": C.KUBELET_DROPIN_FILE, "changed": writer.write(
        C.KUBELET_DROPIN_FILE, kubelet.dropin_unit(), C.MODE_KUBELET_FILE)})
    if ctx.already_joined:
        ctx.report.tls_bootstrap = "already joined: kubelet.conf holds a valid client certificate"
        files_result.append({"path": tlsbootstrap.BOOTSTRAP_CONF, "changed": writer.remove(tlsbootstrap.BOOTSTRAP_CONF)})
    elif identity is not None:
        # in check mode the certificate is not issued yet: the files are planned with the new key only
        files_result += tlsbootstrap.write_kubelet_identity(writer, identity[0], identity[1], server, disc.ca_pem)
        ctx.report.tls_bootstrap = ("would request a kubelet client certificate (module mode)" if ctx.plan_only
                                    else "kubelet client certificate issued (module mode)")
    else:
        text = tlsbootstrap.bootstrap_kubeconfig(server, disc.ca_pem, disc.token, disc.client_cert_pem,
                                                 disc.client_key_pem)
        files_result.append({"path": tlsbootstrap.BOOTSTRAP_CONF, "changed": writer.write(
            tlsbootstrap.BOOTSTRAP_CONF, text, C.MODE_KUBECONFIG, secret=True)})
        ctx.report.tls_bootstrap = "bootstrap-kubelet.conf written; the kubelet does the TLS bootstrap"
        initsystem.kubelet_start(ctx)  # before waiting: the kubelet must read its new files
        if cfg.options.get("wait_for_kubelet") and not ctx.plan_only:
            tlsbootstrap.wait_for_kubelet_conf(ctx.fs, disc.ca_pem, cfg.timeout("tlsBootstrap"))
            writer.remove(tlsbootstrap.BOOTSTRAP_CONF)  # as kubeadm does once the kubelet has its cert
            ctx.report.tls_bootstrap = "kubelet.conf written by the kubelet"
    if not ctx.report.kubelet_service:
        initsystem.kubelet_start(ctx)
    ctx.report.kubelet_files = files_result


def _kubelet_server(ctx: JoinContext) -> str:
    """kubelet.conf / bootstrap-kubelet.conf server: the discovered endpoint, or the local API
    endpoint on a control-plane node with ControlPlaneKubeletLocalMode."""
    cfg = ctx.cfg
    if cfg.control_plane and cfg.feature_enabled(C.FEATURE_CONTROL_PLANE_KUBELET_LOCAL_MODE):
        return kubeconfig.local_endpoint(cfg)
    return ctx.discovered.server


def _etcd(ctx: JoinContext, _subs) -> None:
    if ctx.cfg.control_plane:
        etcd_join(ctx)


def _mark_control_plane(ctx: JoinContext, _subs) -> None:
    if ctx.cfg.control_plane:
        timeout = ctx.cfg.timeout("kubernetesAPICall") * 4
        ctx.api_result(markcontrolplane.mark_control_plane(ctx.api, ctx.cfg, timeout))


def _wait_control_plane(ctx: JoinContext, _subs) -> None:
    if not ctx.cfg.control_plane:
        return
    url = kubeconfig.local_endpoint(ctx.cfg)
    local = ApiWriter(apiclient.Client(url, ca_pem=ctx.discovered.ca_pem, timeout=5.0, retry_timeout=0),
                      check_mode=ctx.plan_only, log=ctx.log)
    result = waitcontrolplane.wait_control_plane(local, ctx.cfg.timeout("controlPlaneComponentHealthCheck"),
                                                 interval=2.0, path="/livez")
    ctx.api_result(dict(result, url=url))


# --- control-plane join -------------------------------------------------------------------------

def download_certs(ctx: JoinContext) -> None:
    """kubeadm-certs (read with the bootstrap token) -> shared CAs and keys on this node."""
    cfg = ctx.cfg
    if not cfg.certificate_key:
        ctx.warnings.append("control-plane join without certificate_key: the shared CA and service-account "
                            "keys must already be on this node")
        ctx.report.downloaded_certs = []
        return
    what = f"Secret {C.KUBE_SYSTEM}/{C.KUBEADM_CERTS_SECRET}"
    try:
        secret = ctx.bootstrap.client.get("Secret", C.KUBEADM_CERTS_SECRET, C.KUBE_SYSTEM)
    except errors.NotFound:
        raise errors.KubebootError(
            f"{what} not found: it is deleted 2 hours after upload. Upload the certificates again "
            "(kubeboot.cluster.kubeadm_init with upload_certs: true and the same certificate_key, "
            "or `kubeadm init phase upload-certs --upload-certs`)") from None
    except errors.APIError as exc:
        raise _token_rejected(exc, what) from None
    plain = copycerts.decrypt_certs(secret.get("data") or {}, cfg.certificate_key)
    paths = copycerts.certs_to_upload(cfg)
    done = []
    for name, content in sorted(plain.items()):
        path = paths.get(name)
        if not path:
            ctx.warnings.append(f"{what}: unknown entry {name!r} ignored")
            continue
        is_key = name.endswith(".key")
        ctx.writer.ensure_dir(path.rsplit("/", 1)[0], 0o755)
        changed = ctx.writer.write(path, content, C.MODE_KEY if is_key else C.MODE_CERT, secret=is_key)
        done.append({"name": name, "path": path, "changed": changed})
    ctx.report.downloaded_certs = done


def etcd_endpoints(ctx: JoinContext) -> list:
    """Client URLs of the existing etcd members, from the etcd mirror Pods' annotation (kubeadm
    etcdutil.NewFromCluster)."""
    pods = ctx.api.list("Pod", C.KUBE_SYSTEM, label_selector=f"component={C.ETCD},tier={C.CONTROL_PLANE_TIER}")
    urls = []
    for pod in pods:
        value = ((pod.get("metadata") or {}).get("annotations") or {}).get(C.ETCD_ENDPOINT_ANNOTATION)
        if value and value not in urls:
            urls.append(value)
    return urls


def _etcd_client(ctx: JoinContext, endpoints, **kwargs) -> etcd.Client:
    """An etcd client with this node's healthcheck-client identity (read through the writer's view)."""
    return etcd.healthcheck_client(ctx.cfg, ctx.fs, endpoints, **kwargs)


def etcd_join(ctx: JoinContext) -> None:
    """Stacked etcd: add this node as a learner, write etcd.yaml (full --initial-cluster,
    --initial-cluster-state=existing), promote it once it has caught up. In check mode the member
    list is read, the member add and the manifest are planned, nothing is promoted."""
    cfg = ctx.cfg
    if not cfg.local_etcd:
        ctx.report.etcd = {"external": cfg.cluster["etcd"]["external"].get("endpoints", [])}
        return
    endpoints = etcd_endpoints(ctx)
    if not endpoints:
        raise errors.KubebootError(
            "no etcd endpoints found: no Pod in kube-system labelled component=etcd carries the "
            f"{C.ETCD_ENDPOINT_ANNOTATION} annotation (is the first control-plane node's etcd running?)")
    client = _etcd_client(ctx, endpoints, timeout=cfg.timeout("etcdAPICall"))
    peer = manifests.peer_url(cfg)
    added = etcd.add_learner(client, cfg.node_name, peer, check_mode=ctx.plan_only, timeout=cfg.timeout("etcdAPICall"))
    if added["changed"]:
        member_id = f"EtcdMember/{cfg.node_name}"
        ctx.log.objects.append(member_id)
        ctx.log.diff(member_id, "", to_yaml({"name": cfg.node_name, "peerURLs": [peer], "isLearner": True}))
    initial = (None if added["changed"] else manifests.existing_initial_cluster(ctx.fs)) or added["initial_cluster"]
    pod = manifests.static_pod(C.ETCD, cfg, ctx.fs, initial_cluster=initial)
    ctx.writer.ensure_dir(C.MANIFESTS_DIR, C.MODE_MANIFESTS_DIR)
    path = C.manifest_path(C.ETCD)
    ctx.report.manifests.append({"name": C.ETCD, "path": path,
                                 "changed": ctx.writer.write(path, to_yaml(pod), C.MODE_MANIFEST)})
    member = added["member"]
    result = {"changed": added["changed"], "peer_url": peer, "added": added["changed"],
              "member_id": format(member.id, "x") if member.id else ""}
    if ctx.plan_only:
        result.update(promoted=False, members=[m.as_dict() for m in added["members"]],
                      skipped="check mode: the new member is not started, so it is not promoted")
    else:
        promoted = etcd.promote_when_ready(client, peer, cfg.timeout("etcdAPICall"))
        _etcd_client(ctx, [manifests.client_url(cfg)]).wait_healthy(cfg.timeout("etcdAPICall"))
        result.update(changed=added["changed"] or promoted["changed"], promoted=promoted["changed"],
                      members=[m.as_dict() for m in client.member_list()])
        if promoted["changed"] and not added["changed"]:
            ctx.log.objects.append(f"EtcdMember/{cfg.node_name}")
    ctx.api_result(result)
    ctx.report.etcd = result


def _control_plane_dirs(*dirs):
    """The directories a control-plane-only phase writes (a worker's cfg: none)."""
    def writes(cfg) -> list:
        return [d(cfg) if callable(d) else d for d in dirs] if cfg.control_plane else []
    return writes


def _kubelet_start_dirs(cfg) -> list:
    return [C.KUBELET_DIR, C.KUBERNETES_DIR, posixpath.dirname(_ca_path(cfg)),
            posixpath.dirname(C.KUBELET_DROPIN_FILE)]


_PKI_DIRS = (pki.subdir, lambda cfg: pki.subdir(cfg, C.ETCD_PKI_SUBDIR))

PHASES = (
    Phase("preflight", _preflight),
    Phase("control-plane-prepare", children=(
        Phase("download-certs", _download_certs, writes=_control_plane_dirs(*_PKI_DIRS)),
        Phase("certs", _certs, writes=_control_plane_dirs(*_PKI_DIRS)),
        Phase("kubeconfig", _kubeconfig, writes=_control_plane_dirs(C.KUBERNETES_DIR)),
        Phase("control-plane", _control_plane, writes=_control_plane_dirs(C.MANIFESTS_DIR)))),
    Phase("kubelet-start", _kubelet_start, writes=_kubelet_start_dirs),
    Phase("control-plane-join", children=(Phase("etcd", _etcd, needs_api=True,
                                                writes=_control_plane_dirs(C.MANIFESTS_DIR)),
                                          Phase("mark-control-plane", _mark_control_plane, needs_api=True))),
    Phase("wait-control-plane", _wait_control_plane),
)


def run_join(params: dict, check_mode: bool = False, sleep=None) -> dict:
    """Validate, discover, then run the selected phases. Returns the module result."""
    rootfs = params.get("rootfs") or "/"
    cfg = joinconfig.build_join_config(params)
    selection = phases.select(PHASES, cfg.join.get("skipPhases") or [])
    dry_run_dir = tempfile.mkdtemp(prefix="kubeadm-join-dryrun") if cfg.join.get("dryRun") else None
    writer = Writer(HostFS(dry_run_dir or rootfs), check_mode=check_mode)
    # "already joined" and preflight are judged on the real node, also with dry_run
    ctx = JoinContext(cfg=cfg, fs=HostFS(rootfs), writer=writer, check_mode=check_mode,
                      plan_only=check_mode or bool(dry_run_dir), admin_kubeconfig=C.kubeconfig_path(C.ADMIN_CONF))
    ctx.warnings.extend(cfg.warnings)
    with RootfsLock(rootfs, create=not check_mode):  # one run at a time on a tree
        prepare(ctx, sleep=sleep)
        ctx.fs = writer.view()  # check mode: later phases see what earlier ones would write
        patchtargets.check(cfg, ctx.fs)
        phase_report = phases.run(selection, ctx)
        return _result(ctx, phase_report, dry_run_dir)


def _result(ctx: JoinContext, phase_report: dict, dry_run_dir) -> dict:
    cfg, disc, report = ctx.cfg, ctx.discovered, ctx.report
    result = ctx.result(phase_report)
    result.update({
        "node_name": cfg.node_name,
        "control_plane": cfg.control_plane,
        "kubernetes_version": cfg.version,
        "api_server": disc.server,
        "discovery": disc.method,
        "ca_cert_hash": disc.ca_hash,
        "already_joined": ctx.already_joined,
        "tls_bootstrap_mode": cfg.options.get("tls_bootstrap_mode") or "kubelet",
        "tls_bootstrap": report.tls_bootstrap,
        "downloaded_certs": report.downloaded_certs,
        "etcd": report.etcd,
    })
    if report.csr:
        result["csr"] = report.csr
    if cfg.patch_manager is not None:
        result["patches"] = cfg.patch_manager.summary()
    if dry_run_dir:
        result["dry_run_dir"] = dry_run_dir
    return result
