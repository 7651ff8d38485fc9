# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`kubeadm join` as one call: config -> discovery -> phase selection -> handlers -> result.

Discovery, the token check and reading the cluster's configuration (kubeadm-config,
kubelet-config) all happen before any phase runs, so a refused cluster or token leaves
the node untouched. The module (plugins/modules/kubeadm_join.py) only translates
parameters in and this result out.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass


from ansible_collections.kubeboot.cluster.plugins.module_utils.deps import yaml
from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import discovery as discovery_mod
from ansible_collections.kubeboot.cluster.plugins.module_utils import errors, initsystem, joinconfig, phases, preflight
from ansible_collections.kubeboot.cluster.plugins.module_utils import tlsbootstrap
from ansible_collections.kubeboot.cluster.plugins.module_utils.files import HostFS, Writer


@dataclass
class JoinContext(phases.PhaseContext):
    discovered: object = None
    bootstrap_client: object = None
    kubelet_config_text: str = ""
    already_joined: bool = False
    _admin: object = None

    @property
    def dry(self) -> bool:
        return self.check_mode or bool(self.cfg.join.get("dryRun"))

    def admin_client(self):
        """admin.conf client (control-plane join, after the kubeconfig phase)."""
        if self._admin is None:
            from ansible_collections.kubeboot.cluster.plugins.module_utils import apiclient
            text = self.fs.read_text(f"{C.KUBERNETES_DIR}/{C.ADMIN_CONF}")
            if text is None:
                raise errors.FileError(f"{C.KUBERNETES_DIR}/{C.ADMIN_CONF} is missing: the "
                                       "control-plane-prepare/kubeconfig phase must run first")
            self._admin = apiclient.Client.from_kubeconfig(text)
        return self._admin


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
    ctx.bootstrap_client = client
    what = f"ConfigMap {C.KUBE_SYSTEM}/{C.KUBEADM_CONFIG_CM}"
    try:
        cm = client.get("ConfigMap", C.KUBEADM_CONFIG_CM, C.KUBE_SYSTEM)
    except errors.APIError as exc:
        raise _token_rejected(exc, what) from None
    ctx.cfg.adopt_cluster_configuration((cm.get("data") or {}).get(C.KUBEADM_CONFIG_KEY, ""), what)
    what = f"ConfigMap {C.KUBE_SYSTEM}/{C.KUBELET_CONFIG_CM}"
    try:
        cm = client.get("ConfigMap", C.KUBELET_CONFIG_CM, C.KUBE_SYSTEM)
    except errors.APIError as exc:
        raise _token_rejected(exc, what) from None
    ctx.kubelet_config_text = (cm.get("data") or {}).get(C.KUBELET_CONFIG_KEY, "")
    if not ctx.kubelet_config_text:
        raise errors.DiscoveryError(f"{what} has no '{C.KUBELET_CONFIG_KEY}' key")
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
        ca_path = cfg.join.get("caCertPath") or f"{C.PKI_DIR}/ca.crt"
        ours = fs.read_bytes(ca_path) is not None and _same_pem(fs.read_bytes(ca_path), ctx.discovered.ca_pem)
        checks.append(preflight.check_file_available(fs, ca_path, ours=ours))
        checks += preflight.common_checks(fs, cfg.join["nodeRegistration"].get("criSocket") or C.DEFAULT_CRI_SOCKET)
        host = ctx.discovered.server.split("://", 1)[-1].rsplit(":", 1)[0].strip("[]")
        checks.append(preflight.check_http_proxy(host))
        checks.append(preflight.check_file_content("/proc/sys/net/ipv4/ip_forward", "1"))
    ignore = cfg.join["nodeRegistration"].get("ignorePreflightErrors", [])
    ctx.results["preflight"] = preflight.evaluate(checks, ignore)


def _same_pem(a: bytes, b: bytes) -> bool:
    return (a or b"").strip() == (b or b"").strip()


def _control_plane_prepare(ctx: JoinContext, subs) -> None:
    if not ctx.cfg.control_plane:
        return
    if "download-certs" in subs:
        download_certs(ctx)
    if "certs" in subs:
        from ansible_collections.kubeboot.cluster.plugins.module_utils import pki
        only = [p for p in pki.selected_phases(ctx.cfg) if p not in ("ca", "front-proxy-ca", "etcd-ca", "sa")]
        ctx.results["certificates"] = pki.ensure_certificates(ctx.cfg, ctx.fs, ctx.writer, only=only)
    if "kubeconfig" in subs:
        from ansible_collections.kubeboot.cluster.plugins.module_utils import kubeconfig
        ctx.results["kubeconfigs"] = kubeconfig.ensure_kubeconfigs(
            ctx.cfg, ctx.fs, ctx.writer, only=["admin", "controller-manager", "scheduler"])
    if "control-plane" in subs:
        from ansible_collections.kubeboot.cluster.plugins.module_utils import manifests
        ctx.results.setdefault("manifests", []).extend(manifests.ensure_manifests(
            ctx.cfg, ctx.fs, ctx.writer, only=["apiserver", "controller-manager", "scheduler"]))


def _kubelet_start(ctx: JoinContext, _subs) -> None:
    from ansible_collections.kubeboot.cluster.plugins.module_utils import kubelet
    cfg, writer, disc = ctx.cfg, ctx.writer, ctx.discovered
    if not ctx.already_joined:
        try:
            tlsbootstrap.check_node_name_free(ctx.bootstrap_client, cfg.node_name)
        except errors.APIError as exc:
            raise _token_rejected(exc, f"Node {cfg.node_name}") from None
    files_result = []
    server = _kubelet_server(ctx)
    mode = cfg.options.get("tls_bootstrap_mode") or "kubelet"
    identity = None
    if mode == "module" and not ctx.already_joined and not ctx.dry:
        # the certificate first: nothing is written when the CSR is denied or times out
        cert_pem, key_pem, csr_name = tlsbootstrap.request_certificate(
            ctx.bootstrap_client, cfg.node_name, cfg.timeout("tlsBootstrap"))
        identity = (cert_pem, key_pem)
        ctx.results["csr"] = csr_name
        ctx.results["api_changed"] = True
    # the cluster CA, the kubelet's config and flags
    ca_path = cfg.join.get("caCertPath") or f"{cfg.cert_dir}/ca.crt"
    files_result.append({"path": ca_path, "changed": writer.write(ca_path, disc.ca_pem, C.MODE_CERT)})
    writer.ensure_dir(C.KUBELET_DIR, C.MODE_KUBELET_DIR)
    instance = kubelet.instance_config(cfg)
    if instance is not None:
        files_result.append({"path": C.KUBELET_INSTANCE_CONFIG_FILE, "changed": writer.write(
            C.KUBELET_INSTANCE_CONFIG_FILE, instance, C.MODE_KUBELET_FILE)})
    files_result.append({"path": C.KUBELET_CONFIG_FILE, "changed": writer.write(
        C.KUBELET_CONFIG_FILE, _node_kubelet_config(ctx, instance is not None), C.MODE_KUBELET_FILE)})
    env = kubelet.flags_env(cfg, register_taints=not cfg.control_plane)
    files_result.append({"path": C.KUBELET_FLAGS_ENV_FILE,
                         "changed": writer.write(C.KUBELET_FLAGS_ENV_FILE, env, C.MODE_KUBELET_FILE)})
    # kubeadm's package ships the drop-in; without a kubeadm package the join writes it, as init does
    files_result.append({"path": C.KUBELET_DROPIN_FILE, "changed": writer.write(
        C.KUBELET_DROPIN_FILE, kubelet.dropin_unit(), C.MODE_KUBELET_FILE)})
    if ctx.already_joined:
        ctx.results["tls_bootstrap"] = "already joined: kubelet.conf holds a valid client certificate"
        files_result.append({"path": tlsbootstrap.BOOTSTRAP_CONF, "changed": writer.remove(tlsbootstrap.BOOTSTRAP_CONF)})
    elif mode == "module":
        if identity is None:  # check mode / dry run: say what would be written
            ctx.results["tls_bootstrap"] = "would request a kubelet client certificate (module mode)"
            writer.changed_paths.extend([C.KUBELET_CLIENT_CURRENT, tlsbootstrap.KUBELET_CONF])
        else:
            files_result += tlsbootstrap.write_kubelet_identity(writer, identity[0], identity[1], server, disc.ca_pem)
            ctx.results["tls_bootstrap"] = "kubelet client certificate issued (module mode)"
    else:
        text = tlsbootstrap.bootstrap_kubeconfig(server, disc.ca_pem, disc.token, disc.client_cert_pem,
                                                 disc.client_key_pem)
        files_result.append({"path": tlsbootstrap.BOOTSTRAP_CONF, "changed": writer.write(
            tlsbootstrap.BOOTSTRAP_CONF, text, C.MODE_KUBECONFIG, secret=True)})
        ctx.results["tls_bootstrap"] = "bootstrap-kubelet.conf written; the kubelet does the TLS bootstrap"
        _start_kubelet(ctx)
        if cfg.options.get("wait_for_kubelet") and not ctx.dry:
            tlsbootstrap.wait_for_kubelet_conf(ctx.fs, disc.ca_pem, cfg.timeout("tlsBootstrap"))
            writer.remove(tlsbootstrap.BOOTSTRAP_CONF)  # as kubeadm does once the kubelet has its cert
            ctx.results["tls_bootstrap"] = "kubelet.conf written by the kubelet"
    _start_kubelet(ctx)
    ctx.results["kubelet_files"] = files_result


def _start_kubelet(ctx: JoinContext) -> None:
    """Once per run, after the kubelet's files are in place (never in a dry run)."""
    if "kubelet_service" not in ctx.results and not ctx.cfg.join.get("dryRun"):
        initsystem.kubelet_start(ctx)


def _kubelet_server(ctx: JoinContext) -> str:
    """kubelet.conf / bootstrap-kubelet.conf server: the discovered endpoint, or the local API
    endpoint on a control-plane node with ControlPlaneKubeletLocalMode."""
    from ansible_collections.kubeboot.cluster.plugins.module_utils import netutil
    cfg = ctx.cfg
    if cfg.control_plane and cfg.feature_enabled(C.FEATURE_CONTROL_PLANE_KUBELET_LOCAL_MODE):
        return netutil.https_url(cfg.advertise_address, cfg.bind_port)
    return ctx.discovered.server


def _node_kubelet_config(ctx: JoinContext, instance: bool) -> str:
    text = ctx.kubelet_config_text
    if not instance:
        return text
    from ansible_collections.kubeboot.cluster.plugins.module_utils import kubelet
    doc = yaml.safe_load(text) or {}
    doc["containerRuntimeEndpoint"] = kubelet.cri_socket(ctx.cfg)
    from ansible_collections.kubeboot.cluster.plugins.module_utils.manifests import to_yaml
    return to_yaml(doc)


def _control_plane_join(ctx: JoinContext, subs) -> None:
    if not ctx.cfg.control_plane:
        return
    if "etcd" in subs:
        etcd_join(ctx)
    if "mark-control-plane" in subs and not ctx.dry:
        from ansible_collections.kubeboot.cluster.plugins.module_utils import bootstrap
        timeout = ctx.cfg.timeout("kubernetesAPICall") * 4
        ctx.api_result("mark-control-plane", bootstrap.mark_control_plane(ctx.admin_client(), ctx.cfg, timeout))


def _wait_control_plane(ctx: JoinContext, _subs) -> None:
    if not ctx.cfg.control_plane or ctx.dry:
        return
    from ansible_collections.kubeboot.cluster.plugins.module_utils import apiclient, netutil
    url = netutil.https_url(ctx.cfg.advertise_address, ctx.cfg.bind_port)
    client = apiclient.Client(url, ca_pem=ctx.discovered.ca_pem, timeout=5.0, retry_timeout=0)
    timeout = ctx.cfg.timeout("controlPlaneComponentHealthCheck")
    apiclient.wait_for(lambda: client.healthz("/livez"), timeout, 2.0, what=f"the API server at {url}")
    ctx.results.setdefault("api", {})["wait-control-plane"] = {"changed": False, "healthy": url}


# --- control-plane join -------------------------------------------------------------------------

def download_certs(ctx: JoinContext) -> None:
    """kubeadm-certs (read with the bootstrap token) -> shared CAs and keys on this node."""
    from ansible_collections.kubeboot.cluster.plugins.module_utils import bootstrap
    cfg = ctx.cfg
    if not cfg.certificate_key:
        ctx.results["downloaded_certs"] = []
        return
    what = f"Secret {C.KUBE_SYSTEM}/{C.KUBEADM_CERTS_SECRET}"
    try:
        secret = ctx.bootstrap_client.get("Secret", C.KUBEADM_CERTS_SECRET, C.KUBE_SYSTEM)
    except errors.NotFound:
        raise errors.KubebootError(
            f"{what} not found: it is deleted 2 hours after upload. Upload the certificates again "
            "(kubeboot.cluster.kubeadm_init with upload_certs: true and the same certificate_key, "
            "or `kubeadm init phase upload-certs --upload-certs`)") from None
    except errors.APIError as exc:
        raise _token_rejected(exc, what) from None
    plain = bootstrap.decrypt_certs(secret.get("data") or {}, cfg.certificate_key)
    paths = bootstrap.certs_to_upload(cfg)
    done = []
    for name, content in sorted(plain.items()):
        path = paths.get(name)
        if not path:
            ctx.warnings.append(f"{what}: unknown entry {name!r} ignored")
            continue
        is_key = name.endswith(".key")
        mode = C.MODE_KEY if is_key else C.MODE_CERT
        ctx.writer.ensure_dir(path.rsplit("/", 1)[0], 0o755)
        changed = ctx.writer.write(path, content, mode, secret=is_key)
        done.append({"name": name, "path": path, "changed": changed})
    ctx.results["downloaded_certs"] = done


def etcd_endpoints(ctx: JoinContext) -> list:
    """Client URLs of the existing etcd members, from the etcd mirror Pods' annotation (kubeadm
    etcdutil.NewFromCluster)."""
    pods = ctx.admin_client().list("Pod", C.KUBE_SYSTEM, label_selector=f"component={C.ETCD},tier="
                                   + C.CONTROL_PLANE_TIER)
    urls = []
    for pod in pods:
        value = ((pod.get("metadata") or {}).get("annotations") or {}).get(C.ETCD_ENDPOINT_ANNOTATION)
        if value and value not in urls:
            urls.append(value)
    return urls


def _existing_initial_cluster(ctx: JoinContext):
    from ansible_collections.kubeboot.cluster.plugins.module_utils import manifests
    text = ctx.fs.read_text(manifests.manifest_path(C.ETCD))
    if not text:
        return None
    try:
        command = yaml.safe_load(text)["spec"]["containers"][0]["command"]
    except (yaml.YAMLError, KeyError, IndexError, TypeError):
        return None
    args = dict(a[2:].split("=", 1) for a in command if a.startswith("--") and "=" in a)
    if args.get("initial-cluster-state") != "existing":
        return None
    return args.get("initial-cluster")


def etcd_join(ctx: JoinContext) -> None:
    """Stacked etcd: add this node as a learner, write etcd.yaml (full --initial-cluster,
    --initial-cluster-state=existing), promote it once it has caught up."""
    from ansible_collections.kubeboot.cluster.plugins.module_utils import etcd, manifests
    cfg = ctx.cfg
    if not cfg.local_etcd:
        ctx.results["etcd"] = {"external": cfg.cluster["etcd"]["external"].get("endpoints", [])}
        return
    if ctx.dry:
        ctx.results["etcd"] = {"changed": True, "skipped": "check mode or dry run: would add "
                               f"{manifests.peer_url(cfg)} as an etcd learner"}
        ctx.writer.changed_paths.append(manifests.manifest_path(C.ETCD))
        return
    endpoints = etcd_endpoints(ctx)
    if not endpoints:
        raise errors.KubebootError(
            "no etcd endpoints found: no Pod in kube-system labelled component=etcd carries the "
            f"{C.ETCD_ENDPOINT_ANNOTATION} annotation (is the first control-plane node's etcd running?)")
    pki_dir = cfg.cert_dir
    client = etcd.Client.from_files(endpoints, f"{pki_dir}/etcd/ca.crt", f"{pki_dir}/etcd/healthcheck-client.crt",
                                    f"{pki_dir}/etcd/healthcheck-client.key", read=_reader(ctx.fs),
                                    timeout=cfg.timeout("etcdAPICall"))
    peer = manifests.peer_url(cfg)
    added = etcd.add_learner(client, cfg.node_name, peer, timeout=cfg.timeout("etcdAPICall"))
    member = added["member"]
    initial = _existing_initial_cluster(ctx) if not added["changed"] else None
    initial = initial or added["initial_cluster"]
    pod = manifests.static_pod(C.ETCD, cfg, ctx.fs)
    pod["spec"]["containers"][0]["command"] = manifests.etcd_command(
        cfg, initial_cluster=initial, initial_cluster_state="existing")
    ctx.writer.ensure_dir(C.MANIFESTS_DIR, C.MODE_MANIFESTS_DIR)
    path = manifests.manifest_path(C.ETCD)
    wrote = ctx.writer.write(path, manifests.to_yaml(pod), C.MODE_MANIFEST)
    ctx.results.setdefault("manifests", []).append({"name": C.ETCD, "path": path, "changed": wrote})
    promoted = etcd.promote_when_ready(client, peer, cfg.timeout("etcdAPICall"))
    local = etcd.Client.from_files([manifests.client_url(cfg)], f"{pki_dir}/etcd/ca.crt",
                                   f"{pki_dir}/etcd/healthcheck-client.crt",
                                   f"{pki_dir}/etcd/healthcheck-client.key", read=_reader(ctx.fs))
    local.wait_healthy(cfg.timeout("etcdAPICall"))
    members = client.member_list()
    result = {"changed": added["changed"] or promoted["changed"], "peer_url": peer,
              "member_id": format(member.id, "x") if member.id else "",
              "added": added["changed"], "promoted": promoted["changed"],
              "members": [m.as_dict() for m in members]}
    ctx.api_result("etcd", result)
    ctx.results["etcd"] = result


def _reader(fs):
    def read(path: str) -> bytes:
        data = fs.read_bytes(path)
        if data is None:
            raise errors.FileError(f"{path} is missing (needed to talk to etcd)")
        return data
    return read


HANDLERS = {
    "preflight": _preflight,
    "control-plane-prepare": _control_plane_prepare,
    "kubelet-start": _kubelet_start,
    "control-plane-join": _control_plane_join,
    "wait-control-plane": _wait_control_plane,
}


def run_join(params: dict, check_mode: bool = False, sleep=None) -> dict:
    """Validate, discover, then run the selected phases. Returns the module result."""
    rootfs = params.get("rootfs") or "/"
    cfg = joinconfig.build_join_config(params)
    selection = phases.select(phases.JOIN_PHASES, cfg.join.get("skipPhases") or [])
    dry_run_dir = None
    if cfg.join.get("dryRun"):
        dry_run_dir = tempfile.mkdtemp(prefix="kubeadm-join-dryrun")
        rootfs = dry_run_dir
    fs = HostFS(rootfs)
    ctx = JoinContext(cfg=cfg, fs=fs, writer=Writer(fs, check_mode=check_mode), check_mode=check_mode)
    ctx.warnings.extend(cfg.warnings)
    if dry_run_dir:  # judge "already joined" and preflight on the real node
        ctx.fs = HostFS(params.get("rootfs") or "/")
    prepare(ctx, sleep=sleep)
    ctx.fs = ctx.writer.view()  # check mode: later phases see what earlier ones would write
    if cfg.control_plane and not cfg.certificate_key and "control-plane-prepare/download-certs" \
            not in selection.skipped:
        ctx.warnings.append("control-plane join without certificate_key: the shared CA and service-account "
                            "keys must already be on this node")
    phase_report = phases.run(selection, HANDLERS, ctx)
    return _result(ctx, phase_report, dry_run_dir)


def _result(ctx: JoinContext, phase_report: dict, dry_run_dir) -> dict:
    cfg, disc = ctx.cfg, ctx.discovered
    result = {
        "changed": ctx.changed,
        "node_name": cfg.node_name,
        "control_plane": cfg.control_plane,
        "kubernetes_version": cfg.version,
        "api_server": disc.server,
        "discovery": disc.method,
        "ca_cert_hash": disc.ca_hash,
        "already_joined": ctx.already_joined,
        "tls_bootstrap_mode": cfg.options.get("tls_bootstrap_mode") or "kubelet",
        "tls_bootstrap": ctx.results.get("tls_bootstrap", ""),
        "preflight": ctx.results.get("preflight", {}),
        "phases": phase_report,
        "certificates": ctx.results.get("certificates", []),
        "kubeconfigs": ctx.results.get("kubeconfigs", []),
        "manifests": ctx.results.get("manifests", []),
        "kubelet_files": ctx.results.get("kubelet_files", []),
        "kubelet_service": ctx.results.get("kubelet_service", {}),
        "downloaded_certs": ctx.results.get("downloaded_certs", []),
        "etcd": ctx.results.get("etcd", {}),
        "api": ctx.results.get("api", {}),
        "changed_files": list(ctx.writer.changed_paths),
        "warnings": ctx.warnings,
        "diff": ctx.writer.diffs,
    }
    if ctx.results.get("csr"):
        result["csr"] = ctx.results["csr"]
    if dry_run_dir:
        result["dry_run_dir"] = dry_run_dir
    return result
