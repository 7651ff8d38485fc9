# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Static Pod manifests of the control plane (kubeadm phases `control-plane` and `etcd/local`).

Mirrors kubeadm's phases/controlplane/{manifests,volumes}.go, phases/etcd/local.go and
util/staticpod/utils.go: the Pod is built as a dict and serialised the way kubeadm's
sigs.k8s.io/yaml does it (keys sorted, `creationTimestamp: null` up to 1.33, `status: {}`,
block lists, strings that would read as another type double-quoted).

Per-minor behaviour comes from the version table (versions.behaviour): the named probe
port, etcd 3.6 flag names, `creationTimestamp: null`, the flex-volume mount, and the order
of user extraArgs (arguments.arguments_to_command). Certificate paths come from pki.
"""
from __future__ import annotations

import os
import urllib.parse

from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import netutil, patches, pki, staticpod, versions
from ansible_collections.kubeboot.cluster.plugins.module_utils.arguments import arg_value, arguments_to_command
from ansible_collections.kubeboot.cluster.plugins.module_utils.docutil import to_yaml
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import InvalidValue

# The component table: sub-phase name (kubeadm `init phase control-plane <name>`) -> component.
CONTROL_PLANE_PHASES = {
    "apiserver": C.KUBE_APISERVER,
    "controller-manager": C.KUBE_CONTROLLER_MANAGER,
    "scheduler": C.KUBE_SCHEDULER,
}
ETCD_PHASE = "local"  # kubeadm `init phase etcd local`
# names ensure_manifests takes: the control-plane sub-phases and "etcd"
PHASE_COMPONENTS = dict(CONTROL_PLANE_PHASES, etcd=C.ETCD)
COMPONENTS = tuple(PHASE_COMPONENTS.values())

_CPU_REQUEST = {C.KUBE_APISERVER: "250m", C.KUBE_CONTROLLER_MANAGER: "200m",
                C.KUBE_SCHEDULER: "100m", C.ETCD: "100m"}
_ETCD_MEMORY_REQUEST = "100Mi"
_VALID_AUTHZ_MODES = ("Node", "RBAC", "Webhook", "ABAC", "AlwaysAllow", "AlwaysDeny")
_DEFAULT_AUTHZ_MODES = "Node,RBAC"


def client_url(cfg) -> str:
    return netutil.https_url(cfg.advertise_address, C.ETCD_CLIENT_PORT)


def peer_url(cfg) -> str:
    return netutil.https_url(cfg.advertise_address, C.ETCD_PEER_PORT)


def using_external_ca(cfg, fs) -> bool:
    """ca.crt present without ca.key: kubeadm's external-CA mode."""
    return fs.exists(pki.cert_path(cfg, C.CA_BASE)) and not fs.exists(pki.key_path(cfg, C.CA_BASE))


def etcd_uses_36_flags(cfg) -> bool:
    """Whether the etcd command uses the etcd 3.6 names (kubernetes#132838, #133023, #135701)."""
    flags = versions.behaviour(cfg.minor).etcd_flags
    if flags != "image":
        return flags == "3.6"
    tag = (cfg.cluster.get("etcd", {}).get("local") or {}).get("imageTag") or ""
    return versions.tag_at_least(tag, (3, 6)) if tag else versions.etcd_is_36_or_newer(cfg.version)


# =============================================================================
# commands
# =============================================================================
def apiserver_command(cfg) -> list:
    net = cfg.cluster["networking"]
    args = {
        "advertise-address": cfg.advertise_address,
        "allow-privileged": "true",
        "client-ca-file": pki.cert_path(cfg, C.CA_BASE),
        "enable-admission-plugins": "NodeRestriction",
        "enable-bootstrap-token-auth": "true",
        "kubelet-client-certificate": pki.cert_path(cfg, C.APISERVER_KUBELET_CLIENT_BASE),
        "kubelet-client-key": pki.key_path(cfg, C.APISERVER_KUBELET_CLIENT_BASE),
        "kubelet-preferred-address-types": "InternalIP,ExternalIP,Hostname",
        "proxy-client-cert-file": pki.cert_path(cfg, C.FRONT_PROXY_CLIENT_BASE),
        "proxy-client-key-file": pki.key_path(cfg, C.FRONT_PROXY_CLIENT_BASE),
        "requestheader-allowed-names": C.FRONT_PROXY_CLIENT_CN,
        "requestheader-client-ca-file": pki.cert_path(cfg, C.FRONT_PROXY_CA_BASE),
        "requestheader-extra-headers-prefix": "X-Remote-Extra-",
        "requestheader-group-headers": "X-Remote-Group",
        "requestheader-username-headers": "X-Remote-User",
        "secure-port": str(cfg.bind_port),
        "service-account-issuer": "https://kubernetes.default.svc." + net["dnsDomain"],
        "service-account-key-file": pki.public_key_path(cfg, C.SA_BASE),
        "service-account-signing-key-file": pki.key_path(cfg, C.SA_BASE),
        "service-cluster-ip-range": net["serviceSubnet"],
        "tls-cert-file": pki.cert_path(cfg, C.APISERVER_BASE),
        "tls-private-key-file": pki.key_path(cfg, C.APISERVER_BASE),
    }
    etcd = cfg.cluster.get("etcd", {})
    external = etcd.get("external")
    if external is not None:
        args["etcd-servers"] = ",".join(external.get("endpoints") or [])
        if external.get("caFile"):
            args["etcd-cafile"] = external["caFile"]
        if external.get("certFile") and external.get("keyFile"):
            args["etcd-certfile"] = external["certFile"]
            args["etcd-keyfile"] = external["keyFile"]
    else:
        args["etcd-servers"] = netutil.https_url(staticpod.localhost(cfg), C.ETCD_CLIENT_PORT)
        args["etcd-cafile"] = pki.cert_path(cfg, C.ETCD_CA_BASE)
        args["etcd-certfile"] = pki.cert_path(cfg, C.APISERVER_ETCD_CLIENT_BASE)
        args["etcd-keyfile"] = pki.key_path(cfg, C.APISERVER_ETCD_CLIENT_BASE)
        advertised = arg_value((etcd.get("local") or {}).get("extraArgs"), "advertise-client-urls")
        if advertised is not None:
            args["etcd-servers"] = advertised
    extra = cfg.cluster["apiServer"].get("extraArgs")
    if arg_value(extra, "authorization-config") is None:
        args["authorization-mode"] = _authz_modes(arg_value(extra, "authorization-mode"))
    return [C.KUBE_APISERVER] + arguments_to_command(args, extra, cfg.version)


def _authz_modes(requested) -> str:
    if requested:
        modes = [m for m in requested.split(",") if m in _VALID_AUTHZ_MODES]
        if modes:
            return ",".join(modes)
    return _DEFAULT_AUTHZ_MODES


def controller_manager_command(cfg, fs) -> list:
    kubeconfig = C.kubeconfig_path(C.CONTROLLER_MANAGER_CONF)
    ca = pki.cert_path(cfg, C.CA_BASE)
    args = {
        "authentication-kubeconfig": kubeconfig,
        "authorization-kubeconfig": kubeconfig,
        "bind-address": "127.0.0.1",
        "client-ca-file": ca,
        "cluster-signing-cert-file": ca,
        "cluster-signing-key-file": pki.key_path(cfg, C.CA_BASE),
        "controllers": "*,bootstrapsigner,tokencleaner",
        "kubeconfig": kubeconfig,
        "leader-elect": "true",
        "requestheader-client-ca-file": pki.cert_path(cfg, C.FRONT_PROXY_CA_BASE),
        "root-ca-file": ca,
        "service-account-private-key-file": pki.key_path(cfg, C.SA_BASE),
        "use-service-account-credentials": "true",
    }
    if using_external_ca(cfg, fs):
        args["cluster-signing-cert-file"] = ""
        args["cluster-signing-key-file"] = ""
    net = cfg.cluster["networking"]
    if net.get("podSubnet"):
        args["allocate-node-cidrs"] = "true"
        args["cluster-cidr"] = net["podSubnet"]
        if net.get("serviceSubnet"):
            args["service-cluster-ip-range"] = net["serviceSubnet"]
    if cfg.cluster.get("clusterName"):
        args["cluster-name"] = cfg.cluster["clusterName"]
    return [C.KUBE_CONTROLLER_MANAGER] + arguments_to_command(
        args, cfg.cluster["controllerManager"].get("extraArgs"), cfg.version)


def scheduler_command(cfg) -> list:
    kubeconfig = C.kubeconfig_path(C.SCHEDULER_CONF)
    args = {
        "authentication-kubeconfig": kubeconfig,
        "authorization-kubeconfig": kubeconfig,
        "bind-address": "127.0.0.1",
        "kubeconfig": kubeconfig,
        "leader-elect": "true",
    }
    return [C.KUBE_SCHEDULER] + arguments_to_command(args, cfg.cluster["scheduler"].get("extraArgs"), cfg.version)


def _initial_cluster_value(initial_cluster) -> str:
    if isinstance(initial_cluster, str):
        return initial_cluster
    parts = []
    for member in initial_cluster:
        if isinstance(member, dict):
            name, url = member.get("name"), member.get("peerURL") or member.get("peer_url")
        else:
            name, url = member
        parts.append(f"{name}={url}")
    return ",".join(parts)


def etcd_command(cfg, initial_cluster=None, initial_cluster_state=None) -> list:
    """The etcd container command (kubeadm getEtcdCommand).

    initial_cluster: None for a new single-member cluster (`<node>=<peerURL>`), or the full
    member list for a joining member: "a=https://..,b=https://.." or a list of
    {"name", "peerURL"} dicts / (name, peerURL) tuples. A joining member gets
    --initial-cluster-state=existing unless initial_cluster_state says otherwise.
    """
    local = cfg.cluster.get("etcd", {}).get("local") or {}
    localhost = staticpod.localhost(cfg)
    args = {
        "advertise-client-urls": client_url(cfg),
        "cert-file": pki.cert_path(cfg, C.ETCD_SERVER_BASE),
        "client-cert-auth": "true",
        "data-dir": local.get("dataDir") or C.ETCD_DATA_DIR,
        "initial-advertise-peer-urls": peer_url(cfg),
        "key-file": pki.key_path(cfg, C.ETCD_SERVER_BASE),
        "listen-client-urls": netutil.https_url(localhost, C.ETCD_CLIENT_PORT) + "," + client_url(cfg),
        "listen-metrics-urls": "http://" + netutil.join_host_port(localhost, C.ETCD_METRICS_PORT),
        "listen-peer-urls": peer_url(cfg),
        "name": cfg.node_name,
        "peer-cert-file": pki.cert_path(cfg, C.ETCD_PEER_BASE),
        "peer-client-cert-auth": "true",
        "peer-key-file": pki.key_path(cfg, C.ETCD_PEER_BASE),
        "peer-trusted-ca-file": pki.cert_path(cfg, C.ETCD_CA_BASE),
        "snapshot-count": C.ETCD_SNAPSHOT_COUNT,
        "trusted-ca-file": pki.cert_path(cfg, C.ETCD_CA_BASE),
    }
    if etcd_uses_36_flags(cfg):
        args["feature-gates"] = C.ETCD_INITIAL_CORRUPT_CHECK_GATE + "=true"
        args["watch-progress-notify-interval"] = C.ETCD_WATCH_PROGRESS_NOTIFY_INTERVAL
    else:
        args["experimental-initial-corrupt-check"] = "true"
        args["experimental-watch-progress-notify-interval"] = C.ETCD_WATCH_PROGRESS_NOTIFY_INTERVAL
    if initial_cluster:
        args["initial-cluster"] = _initial_cluster_value(initial_cluster)
        args["initial-cluster-state"] = initial_cluster_state or "existing"
    else:
        args["initial-cluster"] = f"{cfg.node_name}={peer_url(cfg)}"
        if initial_cluster_state:
            args["initial-cluster-state"] = initial_cluster_state
    return [C.ETCD] + arguments_to_command(args, local.get("extraArgs"), cfg.version)


def _extra_ca_dirs(fs) -> list:
    return [path for path in C.EXTRA_CA_DIRS if fs.exists(path)]


def _etcd_cert_dirs(cfg) -> list:
    """Directories of external etcd CA/cert/key not already mounted (kubeadm getEtcdCertVolumes)."""
    external = cfg.cluster.get("etcd", {}).get("external") or {}
    skip = (C.CA_CERTS_DIR, cfg.cert_dir) + C.EXTRA_CA_DIRS
    dirs = set()
    for path in (external.get("caFile"), external.get("certFile"), external.get("keyFile")):
        if not path:
            continue
        directory = os.path.dirname(path) or "."
        if directory == "." or any(directory.startswith(prefix) for prefix in skip):
            continue
        exists = False
        for known in sorted(dirs):
            if known.startswith(directory):
                dirs.discard(known)
            elif directory.startswith(known):
                exists = True
        if not exists:
            dirs.add(directory)
    return sorted(dirs)


def _control_plane_mounts(component: str, cfg, fs) -> staticpod.Mounts:
    mounts = staticpod.Mounts()
    if component in (C.KUBE_APISERVER, C.KUBE_CONTROLLER_MANAGER):
        mounts.add("k8s-certs", cfg.cert_dir, cfg.cert_dir, True, staticpod.DIR_OR_CREATE)
        mounts.add("ca-certs", C.CA_CERTS_DIR, C.CA_CERTS_DIR, True, staticpod.DIR_OR_CREATE)
        for path in _extra_ca_dirs(fs):
            mounts.add(staticpod.volume_name(path), path, path, True, staticpod.DIR_OR_CREATE)
    if component == C.KUBE_APISERVER and not cfg.local_etcd:
        for index, directory in enumerate(_etcd_cert_dirs(cfg)):
            mounts.add(f"etcd-certs-{index}", directory, directory, True, staticpod.DIR_OR_CREATE)
    if component == C.KUBE_CONTROLLER_MANAGER:
        conf = C.kubeconfig_path(C.CONTROLLER_MANAGER_CONF)
        mounts.add("kubeconfig", conf, conf, True, staticpod.FILE_OR_CREATE)
        if versions.behaviour(cfg.minor).flex_volume_mount:
            flex = arg_value(cfg.cluster["controllerManager"].get("extraArgs"),
                             "flex-volume-plugin-dir") or C.FLEXVOLUME_DIR
            mounts.add("flexvolume-dir", flex, flex, False, staticpod.DIR_OR_CREATE)
    if component == C.KUBE_SCHEDULER:
        conf = C.kubeconfig_path(C.SCHEDULER_CONF)
        mounts.add("kubeconfig", conf, conf, True, staticpod.FILE_OR_CREATE)
    for extra in _section(cfg, component).get("extraVolumes") or []:
        if not isinstance(extra, dict) or not extra.get("name") or not extra.get("hostPath") \
                or not extra.get("mountPath"):
            raise InvalidValue("extraVolumes", extra, "entries with name, hostPath and mountPath")
        mounts.add(extra["name"], extra["hostPath"], extra["mountPath"], bool(extra.get("readOnly")),
                   extra.get("pathType", ""))
    return mounts


def _section(cfg, component: str) -> dict:
    key = {C.KUBE_APISERVER: "apiServer", C.KUBE_CONTROLLER_MANAGER: "controllerManager",
           C.KUBE_SCHEDULER: "scheduler"}[component]
    return cfg.cluster.get(key) or {}


def static_pod(component: str, cfg, fs, environ=None, initial_cluster=None) -> dict:
    """The Pod object kubeadm writes for `component` (one of COMPONENTS), with the user's patches
    for it (patches.directory) applied last, as kubeadm does. initial_cluster: etcd of a member
    joining an existing cluster (see etcd_command)."""
    return patches.apply(cfg, component, _static_pod(component, cfg, fs, environ, initial_cluster))


def _static_pod(component: str, cfg, fs, environ, initial_cluster) -> dict:
    images = versions.images(cfg)
    if component == C.ETCD:
        return _etcd_pod(cfg, images, initial_cluster)
    if component not in C.CONTROL_PLANE_COMPONENTS:
        raise InvalidValue("component", component, "one of " + ", ".join(COMPONENTS))
    section = _section(cfg, component)
    annotations = None
    if component == C.KUBE_APISERVER:
        command = apiserver_command(cfg)
        host = staticpod.probe_address(cfg.advertise_address) if cfg.advertise_address else "127.0.0.1"
        probes = staticpod.probes(cfg, host, cfg.bind_port, "HTTPS", "/livez", "/readyz", "/livez")
        annotations = {C.APISERVER_ENDPOINT_ANNOTATION: netutil.join_host_port(cfg.advertise_address, cfg.bind_port)}
    elif component == C.KUBE_CONTROLLER_MANAGER:
        command = controller_manager_command(cfg, fs)
        host = staticpod.probe_address(arg_value(section.get("extraArgs"), "bind-address") or "127.0.0.1")
        probes = staticpod.probes(cfg, host, C.CONTROLLER_MANAGER_PORT, "HTTPS", "/healthz", None, "/healthz")
    else:
        command = scheduler_command(cfg)
        host = staticpod.probe_address(arg_value(section.get("extraArgs"), "bind-address") or "127.0.0.1")
        probes = staticpod.probes(cfg, host, C.SCHEDULER_PORT, "HTTPS", "/livez", "/readyz", "/livez")
    mounts = _control_plane_mounts(component, cfg, fs)
    container = {
        "command": command,
        "image": images[component],
        "imagePullPolicy": "IfNotPresent",
        "name": component,
        "resources": {"requests": {"cpu": _CPU_REQUEST[component]}},
        "volumeMounts": mounts.mounts(),
    }
    container.update(probes)
    env = staticpod.merge_env(staticpod.proxy_env(environ), section.get("extraEnvs"))
    if env:
        container["env"] = env
    return staticpod.pod(component, container, mounts.volumes(), annotations, cfg.minor)


def _etcd_probe_endpoint(cfg) -> tuple:
    """(host, port, scheme) from the first listen-metrics-urls extraArg (kubeadm GetEtcdProbeEndpoint):
    parsed as a URL the way Go's url.Parse reads it, so a value without a scheme ("10.0.0.5:2381")
    has no host and the probe stays on localhost, as kubeadm's own test vectors expect."""
    localhost = staticpod.localhost(cfg)
    local = cfg.cluster.get("etcd", {}).get("local") or {}
    value = arg_value(local.get("extraArgs"), "listen-metrics-urls")
    if value is None:
        return localhost, C.ETCD_METRICS_PORT, "HTTP"
    try:
        parsed = urllib.parse.urlsplit(value.split(",")[0].strip())
        port = parsed.port
    except ValueError:  # Go: an unparsable URL gives the defaults
        return localhost, C.ETCD_METRICS_PORT, "HTTP"
    scheme = "HTTPS" if parsed.scheme == "https" else "HTTP"
    return parsed.hostname or localhost, port or C.ETCD_METRICS_PORT, scheme


def _etcd_pod(cfg, images, initial_cluster=None) -> dict:
    if not cfg.local_etcd:
        raise InvalidValue("etcd", "external", "no local etcd manifest is written for an external etcd")
    local = cfg.cluster["etcd"].get("local") or {}
    data_dir = local.get("dataDir") or C.ETCD_DATA_DIR
    certs_dir = pki.subdir(cfg, C.ETCD_PKI_SUBDIR)
    host, port, scheme = _etcd_probe_endpoint(cfg)
    container = {
        "command": etcd_command(cfg, initial_cluster, "existing" if initial_cluster else None),
        "image": images[C.ETCD],
        "imagePullPolicy": "IfNotPresent",
        "name": C.ETCD,
        "resources": {"requests": {"cpu": _CPU_REQUEST[C.ETCD], "memory": _ETCD_MEMORY_REQUEST}},
        # kubeadm lists these two in this fixed order (not sorted)
        "volumeMounts": [{"mountPath": data_dir, "name": C.ETCD_DATA_VOLUME},
                         {"mountPath": certs_dir, "name": "etcd-certs"}],
    }
    container.update(staticpod.probes(cfg, host, port, scheme, "/livez", "/readyz", "/readyz"))
    env = staticpod.merge_env(local.get("extraEnvs"))
    if env:
        container["env"] = env
    volumes = [{"hostPath": {"path": certs_dir, "type": staticpod.DIR_OR_CREATE}, "name": "etcd-certs"},
               {"hostPath": {"path": data_dir, "type": staticpod.DIR_OR_CREATE}, "name": C.ETCD_DATA_VOLUME}]
    return staticpod.pod(C.ETCD, container, volumes, {C.ETCD_ENDPOINT_ANNOTATION: client_url(cfg)}, cfg.minor)


def render_static_pod(component: str, cfg, fs, environ=None) -> str:
    """YAML of the static Pod manifest for component (kube-apiserver, ..., etcd).

    environ: the environment whose *_proxy variables go into the control-plane
    containers (default os.environ, as kubeadm reads its own environment).
    """
    return to_yaml(static_pod(component, cfg, fs, environ))


def ensure_manifests(cfg, fs, writer, only=None, environ=None) -> list:
    """Write the static Pod manifests (dir 0700, files 0600) when their content differs.

    only: subset of {"apiserver", "controller-manager", "scheduler", "etcd"}
    (kubeadm's `control-plane/<name>` and `etcd/local` phases); None = all four.
    The etcd manifest is skipped for an external etcd.
    Returns [{"name", "path", "changed"}].
    """
    wanted = list(PHASE_COMPONENTS) if only is None else list(only)
    for name in wanted:
        if name not in PHASE_COMPONENTS:
            raise InvalidValue("only", name, "one of " + ", ".join(PHASE_COMPONENTS))
    results = []
    components = [PHASE_COMPONENTS[name] for name in PHASE_COMPONENTS if name in wanted]
    if not cfg.local_etcd and C.ETCD in components:
        components.remove(C.ETCD)
    if not components:
        return results
    writer.ensure_dir(C.MANIFESTS_DIR, C.MODE_MANIFESTS_DIR)
    for component in components:
        path = C.manifest_path(component)
        pod = static_pod(component, cfg, fs, environ)
        kept = staticpod.kept_annotations(fs.read_text(path))
        if kept:  # a renewal's restart stays (staticpod.with_restart_annotation)
            pod["metadata"].setdefault("annotations", {}).update(kept)
        content = to_yaml(pod)
        changed = writer.write(path, content, C.MODE_MANIFEST)
        results.append({"name": component, "path": path, "changed": changed})
    return results


def manifest_flags(fs, component: str) -> dict:
    """--flag=value pairs of the command of a static Pod manifest on this node ({} when absent)."""
    return staticpod.command_flags(staticpod.read(fs, C.manifest_path(component)) or {})


def existing_initial_cluster(fs):
    """--initial-cluster of this node's etcd manifest when it joined an existing cluster, else None
    (etcd reads it only when its data directory is new; kept so a rewrite changes nothing else)."""
    flags = manifest_flags(fs, C.ETCD)
    return flags.get("initial-cluster") if flags.get("initial-cluster-state") == "existing" else None
