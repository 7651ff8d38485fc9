"""Static Pod manifests: schema-valid per minor, kubeadm's flags/volumes/probes, a real etcd starts.

Independent checks: kubernetes-validate (the Pod JSON schema of each Kubernetes
minor, strict mode), PyYAML for reading the YAML back, and /usr/bin/etcd +
etcdctl with certificates made by the openssl CLI.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time

import kubernetes_validate
import pytest
import yaml

from ansible_collections.kubeboot.cluster.plugins.module_utils import versions
from ansible_collections.kubeboot.cluster.plugins.module_utils import config, files, manifests
from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import InvalidValue

MINORS = {33: "v1.33.13", 34: "v1.34.10", 35: "v1.35.7", 36: "v1.36.3", 37: "v1.37.0"}
NO_ENV: dict = {}


def make_cfg(minor=33, **kw):
    kw.setdefault("paths", {"cluster.networking.podSubnet": "10.244.0.0/16"})
    return config.sample_init_config(version=MINORS[minor], **kw)


def render(component, cfg, fs, environ=NO_ENV) -> dict:
    return yaml.safe_load(manifests.render_static_pod(component, cfg, fs, environ=environ))


def container(pod) -> dict:
    return pod["spec"]["containers"][0]


def flags(pod) -> list:
    return container(pod)["command"][1:]


def flag_map(pod) -> dict:
    out = {}
    for item in flags(pod):
        name, _, value = item[2:].partition("=")
        out[name] = value
    return out


@pytest.fixture
def fs(tmp_path):
    root = tmp_path / "rootfs"
    root.mkdir()
    return files.HostFS(str(root))


# ----------------------------------------------------------------- schema validation
def test_kubernetes_validate_has_every_supported_minor():
    """kubernetes-validate ships schemas 1.25.0 .. 1.37.0: each supported minor validates
    against its own schema (no fallback to a nearer version is needed)."""
    available = {v.rsplit(".", 1)[0] for v in kubernetes_validate.utils.all_versions()}
    for minor in MINORS:
        assert f"1.{minor}" in available


@pytest.mark.parametrize("minor", sorted(MINORS))
@pytest.mark.parametrize("component", manifests.COMPONENTS)
def test_manifest_passes_strict_schema(component, minor, fs):
    fs_dir = fs.path("/etc/ca-certificates")
    os.makedirs(fs_dir)
    cfg = make_cfg(minor)
    cfg.cluster["apiServer"]["extraEnvs"] = [{"name": "GOGC", "value": "50"}]
    pod = render(component, cfg, fs, environ={"HTTPS_PROXY": "http://proxy:3128", "no_proxy": "10.0.0.0/8"})
    validated = kubernetes_validate.validate(pod, f"1.{minor}", strict=True)
    assert validated == f"1.{minor}"


def test_invalid_manifest_is_rejected_by_the_validator(fs):
    """The validator really checks: a broken probe port is refused."""
    pod = render(C.KUBE_SCHEDULER, make_cfg(34), fs)
    container(pod)["livenessProbe"]["httpGet"]["port"] = {"bad": 1}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(pod, "1.34", strict=True)


# ----------------------------------------------------------------- common shape
@pytest.mark.parametrize("component", manifests.COMPONENTS)
def test_common_fields(component, fs):
    text = manifests.render_static_pod(component, make_cfg(33), fs, environ=NO_ENV)
    assert "  creationTimestamp: null\n" in text
    for minor in (34, 35, 36, 37):  # omitted from 1.34 on (kubernetes#130989)
        newer = manifests.render_static_pod(component, make_cfg(minor), fs, environ=NO_ENV)
        assert "creationTimestamp" not in newer and newer.endswith("status: {}\n")
    assert text.endswith("status: {}\n")
    pod = yaml.safe_load(text)
    assert pod["apiVersion"] == "v1" and pod["kind"] == "Pod"
    assert pod["metadata"]["name"] == component
    assert pod["metadata"]["namespace"] == "kube-system"
    assert pod["metadata"]["labels"] == {"component": component, "tier": "control-plane"}
    spec = pod["spec"]
    assert spec["hostNetwork"] is True
    assert spec["priority"] == 2000001000
    assert spec["priorityClassName"] == "system-node-critical"
    assert spec["securityContext"] == {"seccompProfile": {"type": "RuntimeDefault"}}
    assert container(pod)["imagePullPolicy"] == "IfNotPresent"
    assert container(pod)["name"] == component
    assert flags(pod) == sorted(flags(pod))
    names = [v["name"] for v in spec["volumes"]]
    assert names == sorted(names)
    if component != C.ETCD:
        mounts = [m["name"] for m in container(pod)["volumeMounts"]]
        assert mounts == sorted(mounts)


def test_apiserver_defaults(fs):
    pod = render(C.KUBE_APISERVER, make_cfg(33), fs)
    f = flag_map(pod)
    assert f["advertise-address"] == "192.0.2.10"
    assert f["authorization-mode"] == "Node,RBAC"
    assert f["etcd-servers"] == "https://127.0.0.1:2379"
    assert f["etcd-cafile"] == "/etc/kubernetes/pki/etcd/ca.crt"
    assert f["secure-port"] == "6443"
    assert f["service-account-issuer"] == "https://kubernetes.default.svc.cluster.local"
    assert f["service-cluster-ip-range"] == "10.96.0.0/12"
    # the flag set a real kubeadm writes (27 flags, sorted)
    assert sorted(f) == [
        "advertise-address", "allow-privileged", "authorization-mode", "client-ca-file",
        "enable-admission-plugins", "enable-bootstrap-token-auth", "etcd-cafile", "etcd-certfile",
        "etcd-keyfile", "etcd-servers", "kubelet-client-certificate", "kubelet-client-key",
        "kubelet-preferred-address-types", "proxy-client-cert-file", "proxy-client-key-file",
        "requestheader-allowed-names", "requestheader-client-ca-file", "requestheader-extra-headers-prefix",
        "requestheader-group-headers", "requestheader-username-headers", "secure-port",
        "service-account-issuer", "service-account-key-file", "service-account-signing-key-file",
        "service-cluster-ip-range", "tls-cert-file", "tls-private-key-file"]
    assert pod["metadata"]["annotations"] == {
        "kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint": "192.0.2.10:6443"}
    assert container(pod)["image"] == "registry.k8s.io/kube-apiserver:v1.33.13"
    assert container(pod)["resources"] == {"requests": {"cpu": "250m"}}
    assert [v["name"] for v in pod["spec"]["volumes"]] == ["ca-certs", "k8s-certs"]
    probe = container(pod)["livenessProbe"]
    assert probe == {"failureThreshold": 8, "initialDelaySeconds": 10, "periodSeconds": 10, "timeoutSeconds": 15,
                     "httpGet": {"host": "192.0.2.10", "path": "/livez", "port": 6443, "scheme": "HTTPS"}}
    assert container(pod)["readinessProbe"] == {
        "failureThreshold": 3, "periodSeconds": 1, "timeoutSeconds": 15,
        "httpGet": {"host": "192.0.2.10", "path": "/readyz", "port": 6443, "scheme": "HTTPS"}}
    assert container(pod)["startupProbe"]["failureThreshold"] == 24


def test_startup_probe_follows_health_check_timeout(fs):
    cfg = make_cfg(33)
    cfg.init["timeouts"]["controlPlaneComponentHealthCheck"] = "5m5s"
    assert container(render(C.KUBE_APISERVER, cfg, fs))["startupProbe"]["failureThreshold"] == 31


def test_authorization_config_drops_authorization_mode(fs):
    cfg = make_cfg(33)
    cfg.cluster["apiServer"]["extraArgs"] = [{"name": "authorization-config", "value": "/etc/kubernetes/authz.yaml"}]
    f = flag_map(render(C.KUBE_APISERVER, cfg, fs))
    assert "authorization-mode" not in f
    assert f["authorization-config"] == "/etc/kubernetes/authz.yaml"


def test_controller_manager_defaults(fs):
    pod = render(C.KUBE_CONTROLLER_MANAGER, make_cfg(33), fs)
    f = flag_map(pod)
    assert f["allocate-node-cidrs"] == "true"
    assert f["cluster-cidr"] == "10.244.0.0/16"
    assert f["service-cluster-ip-range"] == "10.96.0.0/12"
    assert f["cluster-signing-cert-file"] == "/etc/kubernetes/pki/ca.crt"
    assert f["cluster-signing-key-file"] == "/etc/kubernetes/pki/ca.key"
    assert f["controllers"] == "*,bootstrapsigner,tokencleaner"
    assert f["cluster-name"] == "kubernetes"
    assert "readinessProbe" not in container(pod)
    assert container(pod)["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container(pod)["livenessProbe"]["httpGet"]["port"] == 10257
    assert container(pod)["resources"] == {"requests": {"cpu": "200m"}}
    kubeconfig = [v for v in pod["spec"]["volumes"] if v["name"] == "kubeconfig"][0]
    assert kubeconfig["hostPath"] == {"path": "/etc/kubernetes/controller-manager.conf", "type": "FileOrCreate"}


def test_controller_manager_without_pod_subnet(fs):
    cfg = make_cfg(33, paths={})
    f = flag_map(render(C.KUBE_CONTROLLER_MANAGER, cfg, fs))
    assert "allocate-node-cidrs" not in f and "cluster-cidr" not in f and "service-cluster-ip-range" not in f


def test_external_ca_empties_signing_flags(fs):
    cfg = make_cfg(33)
    os.makedirs(fs.path(C.PKI_DIR))
    open(fs.path(C.PKI_DIR + "/ca.crt"), "w").close()
    f = flag_map(render(C.KUBE_CONTROLLER_MANAGER, cfg, fs))
    assert f["cluster-signing-cert-file"] == "" and f["cluster-signing-key-file"] == ""
    open(fs.path(C.PKI_DIR + "/ca.key"), "w").close()
    f = flag_map(render(C.KUBE_CONTROLLER_MANAGER, cfg, fs))
    assert f["cluster-signing-key-file"] == "/etc/kubernetes/pki/ca.key"


def test_scheduler_defaults(fs):
    pod = render(C.KUBE_SCHEDULER, make_cfg(33), fs)
    assert flags(pod) == [
        "--authentication-kubeconfig=/etc/kubernetes/scheduler.conf",
        "--authorization-kubeconfig=/etc/kubernetes/scheduler.conf",
        "--bind-address=127.0.0.1",
        "--kubeconfig=/etc/kubernetes/scheduler.conf",
        "--leader-elect=true",
    ]
    assert [v["name"] for v in pod["spec"]["volumes"]] == ["kubeconfig"]
    assert container(pod)["resources"] == {"requests": {"cpu": "100m"}}


def test_bind_address_sets_probe_host(fs):
    cfg = make_cfg(33)
    cfg.cluster["scheduler"]["extraArgs"] = [{"name": "bind-address", "value": "0.0.0.0"}]
    cfg.cluster["controllerManager"]["extraArgs"] = [{"name": "bind-address", "value": "192.0.2.10"}]
    sched = container(render(C.KUBE_SCHEDULER, cfg, fs))
    assert "host" not in sched["livenessProbe"]["httpGet"]  # unspecified -> kubelet uses the Pod IP
    kcm = container(render(C.KUBE_CONTROLLER_MANAGER, cfg, fs))
    assert kcm["livenessProbe"]["httpGet"]["host"] == "192.0.2.10"


def test_etcd_defaults(fs):
    pod = render(C.ETCD, make_cfg(33), fs)
    assert flags(pod) == [
        "--advertise-client-urls=https://192.0.2.10:2379",
        "--cert-file=/etc/kubernetes/pki/etcd/server.crt",
        "--client-cert-auth=true",
        "--data-dir=/var/lib/etcd",
        "--experimental-initial-corrupt-check=true",
        "--experimental-watch-progress-notify-interval=5s",
        "--initial-advertise-peer-urls=https://192.0.2.10:2380",
        "--initial-cluster=cp1=https://192.0.2.10:2380",
        "--key-file=/etc/kubernetes/pki/etcd/server.key",
        "--listen-client-urls=https://127.0.0.1:2379,https://192.0.2.10:2379",
        "--listen-metrics-urls=http://127.0.0.1:2381",
        "--listen-peer-urls=https://192.0.2.10:2380",
        "--name=cp1",
        "--peer-cert-file=/etc/kubernetes/pki/etcd/peer.crt",
        "--peer-client-cert-auth=true",
        "--peer-key-file=/etc/kubernetes/pki/etcd/peer.key",
        "--peer-trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt",
        "--snapshot-count=10000",
        "--trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt",
    ]
    c = container(pod)
    assert c["image"] == "registry.k8s.io/etcd:3.5.24-0"
    assert c["resources"] == {"requests": {"cpu": "100m", "memory": "100Mi"}}
    assert c["volumeMounts"] == [{"mountPath": "/var/lib/etcd", "name": "etcd-data"},
                                 {"mountPath": "/etc/kubernetes/pki/etcd", "name": "etcd-certs"}]
    assert pod["spec"]["volumes"] == [
        {"hostPath": {"path": "/etc/kubernetes/pki/etcd", "type": "DirectoryOrCreate"}, "name": "etcd-certs"},
        {"hostPath": {"path": "/var/lib/etcd", "type": "DirectoryOrCreate"}, "name": "etcd-data"}]
    assert c["livenessProbe"]["httpGet"] == {"host": "127.0.0.1", "path": "/livez", "port": 2381, "scheme": "HTTP"}
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["startupProbe"]["httpGet"]["path"] == "/readyz"
    assert pod["metadata"]["annotations"] == {
        "kubeadm.kubernetes.io/etcd.advertise-client-urls": "https://192.0.2.10:2379"}
    assert "env" not in c


def test_etcd_command_for_joining_member():
    cfg = make_cfg(34)
    members = [{"name": "cp0", "peerURL": "https://192.0.2.9:2380"}, ("cp1", "https://192.0.2.10:2380")]
    cmd = manifests.etcd_command(cfg, initial_cluster=members)
    assert "--initial-cluster=cp0=https://192.0.2.9:2380,cp1=https://192.0.2.10:2380" in cmd
    assert "--initial-cluster-state=existing" in cmd
    assert cmd[0] == "etcd"
    cmd = manifests.etcd_command(cfg, initial_cluster_state="new")
    assert "--initial-cluster-state=new" in cmd and "--initial-cluster=cp1=https://192.0.2.10:2380" in cmd


def test_etcd_listen_metrics_extra_arg_moves_probe(fs):
    cfg = make_cfg(33)
    cfg.cluster["etcd"]["local"]["extraArgs"] = [
        {"name": "listen-metrics-urls", "value": "https://192.0.2.10:2382,http://127.0.0.1:2381"}]
    c = container(render(C.ETCD, cfg, fs))
    assert c["livenessProbe"]["httpGet"] == {"host": "192.0.2.10", "path": "/livez", "port": 2382, "scheme": "HTTPS"}


def test_etcd_advertise_client_urls_extra_arg_sets_apiserver_etcd_servers(fs):
    cfg = make_cfg(33)
    cfg.cluster["etcd"]["local"]["extraArgs"] = [{"name": "advertise-client-urls", "value": "https://10.0.0.5:2379"}]
    assert flag_map(render(C.KUBE_APISERVER, cfg, fs))["etcd-servers"] == "https://10.0.0.5:2379"


# ----------------------------------------------------------------- per-minor differences
@pytest.mark.parametrize("minor", sorted(MINORS))
def test_probe_port_named_from_134(minor, fs):
    for component, port in ((C.KUBE_APISERVER, 6443), (C.KUBE_CONTROLLER_MANAGER, 10257),
                            (C.KUBE_SCHEDULER, 10259), (C.ETCD, 2381)):
        c = container(render(component, make_cfg(minor), fs))
        probes = [c[k] for k in ("livenessProbe", "readinessProbe", "startupProbe") if k in c]
        if minor >= 34:
            assert c["ports"] == [{"containerPort": port, "name": "probe-port", "protocol": "TCP"}]
            assert all(p["httpGet"]["port"] == "probe-port" for p in probes)
        else:
            assert "ports" not in c
            assert all(p["httpGet"]["port"] == port for p in probes)


@pytest.mark.parametrize("minor", sorted(MINORS))
def test_flexvolume_mount_removed_in_136(minor, fs):
    pod = render(C.KUBE_CONTROLLER_MANAGER, make_cfg(minor), fs)
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    mounts = {m["name"]: m for m in container(pod)["volumeMounts"]}
    if minor <= 35:
        assert volumes["flexvolume-dir"]["hostPath"] == {"path": C.FLEXVOLUME_DIR, "type": "DirectoryOrCreate"}
        assert mounts["flexvolume-dir"] == {"mountPath": C.FLEXVOLUME_DIR, "name": "flexvolume-dir"}
    else:
        assert "flexvolume-dir" not in volumes and "flexvolume-dir" not in mounts


def test_flexvolume_dir_follows_extra_arg(fs):
    cfg = make_cfg(35)
    cfg.cluster["controllerManager"]["extraArgs"] = [{"name": "flex-volume-plugin-dir", "value": "/opt/flex"}]
    pod = render(C.KUBE_CONTROLLER_MANAGER, cfg, fs)
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["flexvolume-dir"]["hostPath"]["path"] == "/opt/flex"


@pytest.mark.parametrize("minor", sorted(MINORS))
def test_scheduler_probe_paths(minor, fs):
    c = container(render(C.KUBE_SCHEDULER, make_cfg(minor), fs))
    assert c["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["startupProbe"]["httpGet"]["path"] == "/livez"
    assert c["livenessProbe"]["httpGet"]["host"] == "127.0.0.1"


@pytest.mark.parametrize("minor,new_flags", [(33, False), (34, True), (35, True), (36, True), (37, True)])
def test_etcd_36_flags_by_minor(minor, new_flags, fs):
    f = flag_map(render(C.ETCD, make_cfg(minor), fs))
    if new_flags:
        assert f["feature-gates"] == "InitialCorruptCheck=true"
        assert f["watch-progress-notify-interval"] == "5s"
        assert "experimental-initial-corrupt-check" not in f
        assert "experimental-watch-progress-notify-interval" not in f
    else:
        assert f["experimental-initial-corrupt-check"] == "true"
        assert f["experimental-watch-progress-notify-interval"] == "5s"
        assert "feature-gates" not in f and "watch-progress-notify-interval" not in f


def test_etcd_old_flags_with_old_image_tag_until_135(fs):
    for minor, old in ((34, True), (35, True), (36, False)):
        cfg = make_cfg(minor)
        cfg.cluster["etcd"]["local"]["imageTag"] = "3.5.21-0"
        f = flag_map(render(C.ETCD, cfg, fs))
        assert ("experimental-initial-corrupt-check" in f) is old
        assert ("feature-gates" in f) is not old
        assert container(render(C.ETCD, cfg, fs))["image"] == "registry.k8s.io/etcd:3.5.21-0"


def test_etcd_early_134_patch_uses_its_image():
    cfg = config.sample_init_config(version="v1.34.1")
    assert manifests.etcd_uses_36_flags(cfg)


# ----------------------------------------------------------------- extraArgs
def test_extra_args_override_and_duplicates_sorted_before_135400(fs):
    cfg = config.sample_init_config(version="v1.35.0", paths={"cluster.networking.podSubnet": "10.244.0.0/16"})
    cfg.cluster["apiServer"]["extraArgs"] = [
        {"name": "service-account-issuer", "value": "https://new.example"},
        {"name": "service-account-issuer", "value": "https://kubernetes.default.svc.cluster.local"},
        {"name": "enable-admission-plugins", "value": "NodeRestriction,AlwaysPullImages"},
        {"name": "audit-log-maxage", "value": "30"},
    ]
    fl = flags(render(C.KUBE_APISERVER, cfg, fs))
    assert fl == sorted(fl)
    assert [x for x in fl if x.startswith("--service-account-issuer=")] == [
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        "--service-account-issuer=https://new.example"]
    assert [x for x in fl if x.startswith("--enable-admission-plugins=")] == [
        "--enable-admission-plugins=NodeRestriction,AlwaysPullImages"]
    assert "--audit-log-maxage=30" in fl


@pytest.mark.parametrize("version", ["v1.33.8", "v1.34.4", "v1.35.1", "v1.35.7", "v1.36.3", "v1.37.0"])
def test_extra_args_keep_user_order_with_135400(version, fs):
    cfg = config.sample_init_config(version=version, paths={"cluster.networking.podSubnet": "10.244.0.0/16"})
    user = [
        {"name": "service-account-issuer", "value": "https://new.example"},
        {"name": "service-account-issuer", "value": "https://kubernetes.default.svc.cluster.local"},
        {"name": "audit-log-maxage", "value": "30"},
    ]
    cfg.cluster["apiServer"]["extraArgs"] = user
    fl = flags(render(C.KUBE_APISERVER, cfg, fs))
    # kubeadm arguments_test.go "base are sorted and overrides are not": defaults first, then the user's
    assert fl[-3:] == ["--service-account-issuer=https://new.example",
                       "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                       "--audit-log-maxage=30"]
    assert fl[:-3] == sorted(fl[:-3])
    assert not any(x.startswith("--service-account-issuer=") for x in fl[:-3])


def test_extra_args_on_etcd_and_scheduler(fs):
    cfg = config.sample_init_config(version="v1.33.7")
    cfg.cluster["etcd"]["local"]["extraArgs"] = [{"name": "snapshot-count", "value": "5000"}]
    cfg.cluster["scheduler"]["extraArgs"] = [{"name": "v", "value": "4"}]
    assert flag_map(render(C.ETCD, cfg, fs))["snapshot-count"] == "5000"
    assert flags(render(C.KUBE_SCHEDULER, cfg, fs))[-1] == "--v=4"
    cfg = make_cfg(33)  # v1.33.13 has the kubernetes#135400 backport: defaults sorted, then user args
    cfg.cluster["scheduler"]["extraArgs"] = [{"name": "v", "value": "4"}, {"name": "bind-address", "value": "::"}]
    assert flags(render(C.KUBE_SCHEDULER, cfg, fs))[-2:] == ["--v=4", "--bind-address=::"]


@pytest.mark.parametrize("version,keeps", [
    ("v1.33.7", False), ("v1.33.8", True), ("v1.34.3", False), ("v1.34.4", True),
    ("v1.35.0", False), ("v1.35.1", True), ("v1.36.0", True), ("v1.37.0-rc.0", True), (35, False), (36, True)])
def test_overrides_keep_order_versions(version, keeps):
    assert versions.keeps_extra_args_order(version) is keeps


def test_bad_extra_args_are_reported(fs):
    cfg = make_cfg(33)
    cfg.cluster["scheduler"]["extraArgs"] = ["v=4"]
    with pytest.raises(InvalidValue, match="extraArgs"):
        manifests.render_static_pod(C.KUBE_SCHEDULER, cfg, fs, environ=NO_ENV)


# ----------------------------------------------------------------- volumes
def test_extra_ca_mounts_only_when_present(fs):
    cfg = make_cfg(33)
    names = lambda comp: [v["name"] for v in render(comp, cfg, fs)["spec"]["volumes"]]  # noqa: E731
    assert "etc-ca-certificates" not in names(C.KUBE_APISERVER)
    for path in ("/etc/ca-certificates", "/usr/local/share/ca-certificates", "/etc/pki/tls/certs"):
        os.makedirs(fs.path(path))
    api = render(C.KUBE_APISERVER, cfg, fs)
    assert [v["name"] for v in api["spec"]["volumes"]] == [
        "ca-certs", "etc-ca-certificates", "etc-pki-tls-certs", "k8s-certs", "usr-local-share-ca-certificates"]
    for vol in api["spec"]["volumes"]:
        assert vol["hostPath"]["type"] == "DirectoryOrCreate"
    for mount in container(api)["volumeMounts"]:
        assert mount["readOnly"] is True
    kcm = names(C.KUBE_CONTROLLER_MANAGER)
    assert "etc-ca-certificates" in kcm and "usr-local-share-ca-certificates" in kcm
    assert names(C.KUBE_SCHEDULER) == ["kubeconfig"]
    assert "etc-pki-ca-trust" not in kcm and "usr-share-ca-certificates" not in kcm


def test_user_extra_volumes(fs):
    cfg = make_cfg(33)
    cfg.cluster["apiServer"]["extraVolumes"] = [
        {"name": "audit", "hostPath": "/var/log/kubernetes", "mountPath": "/var/log/kubernetes",
         "readOnly": False, "pathType": "DirectoryOrCreate"},
        {"name": "ca-certs", "hostPath": "/opt/certs", "mountPath": "/etc/ssl/certs", "readOnly": True},
    ]
    pod = render(C.KUBE_APISERVER, cfg, fs)
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["audit"]["hostPath"] == {"path": "/var/log/kubernetes", "type": "DirectoryOrCreate"}
    assert volumes["ca-certs"]["hostPath"] == {"path": "/opt/certs", "type": ""}
    mounts = {m["name"]: m for m in container(pod)["volumeMounts"]}
    assert mounts["audit"] == {"mountPath": "/var/log/kubernetes", "name": "audit"}
    assert kubernetes_validate.validate(pod, "1.33", strict=True) == "1.33"


def test_external_etcd(fs, tmp_path):
    cfg = make_cfg(34)
    cfg.cluster["etcd"] = {"external": {
        "endpoints": ["https://10.0.0.1:2379", "https://10.0.0.2:2379"],
        "caFile": "/etc/etcd/pki/ca.crt", "certFile": "/etc/etcd/pki/client/apiserver.crt",
        "keyFile": "/etc/kubernetes/pki/apiserver-etcd-client.key"}}
    pod = render(C.KUBE_APISERVER, cfg, fs)
    f = flag_map(pod)
    assert f["etcd-servers"] == "https://10.0.0.1:2379,https://10.0.0.2:2379"
    assert f["etcd-cafile"] == "/etc/etcd/pki/ca.crt"
    assert f["etcd-certfile"] == "/etc/etcd/pki/client/apiserver.crt"
    assert f["etcd-keyfile"] == "/etc/kubernetes/pki/apiserver-etcd-client.key"
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    # /etc/etcd/pki/client is under /etc/etcd/pki; the key's dir is inside certificatesDir
    assert volumes["etcd-certs-0"]["hostPath"] == {"path": "/etc/etcd/pki", "type": "DirectoryOrCreate"}
    assert "etcd-certs-1" not in volumes
    mounts = {m["name"]: m for m in container(pod)["volumeMounts"]}
    assert mounts["etcd-certs-0"] == {"mountPath": "/etc/etcd/pki", "name": "etcd-certs-0", "readOnly": True}
    kubernetes_validate.validate(pod, "1.34", strict=True)
    with pytest.raises(InvalidValue):
        manifests.render_static_pod(C.ETCD, cfg, fs)
    writer = files.Writer(fs)
    results = manifests.ensure_manifests(cfg, fs, writer)
    assert [r["name"] for r in results] == [C.KUBE_APISERVER, C.KUBE_CONTROLLER_MANAGER, C.KUBE_SCHEDULER]
    assert manifests.ensure_manifests(cfg, fs, writer, only=["etcd"]) == []
    assert not fs.exists("/etc/kubernetes/manifests/etcd.yaml")


def test_external_etcd_without_client_cert(fs):
    cfg = make_cfg(33)
    cfg.cluster["etcd"] = {"external": {"endpoints": ["http://10.0.0.1:2379"]}}
    f = flag_map(render(C.KUBE_APISERVER, cfg, fs))
    assert f["etcd-servers"] == "http://10.0.0.1:2379"
    assert not {"etcd-cafile", "etcd-certfile", "etcd-keyfile"} & set(f)


# ----------------------------------------------------------------- IPv6
def test_ipv6(fs):
    cfg = make_cfg(34, advertise_address="2001:db8::10", paths={})
    cfg.cluster["networking"]["serviceSubnet"] = "fd00:10:96::/108"
    api = render(C.KUBE_APISERVER, cfg, fs)
    assert flag_map(api)["etcd-servers"] == "https://[::1]:2379"
    assert api["metadata"]["annotations"][C.APISERVER_ENDPOINT_ANNOTATION] == "[2001:db8::10]:6443"
    assert container(api)["livenessProbe"]["httpGet"]["host"] == "2001:db8::10"
    etcd = render(C.ETCD, cfg, fs)
    f = flag_map(etcd)
    assert f["listen-client-urls"] == "https://[::1]:2379,https://[2001:db8::10]:2379"
    assert f["listen-metrics-urls"] == "http://[::1]:2381"
    assert f["advertise-client-urls"] == "https://[2001:db8::10]:2379"
    assert f["initial-cluster"] == "cp1=https://[2001:db8::10]:2380"
    assert container(etcd)["livenessProbe"]["httpGet"]["host"] == "::1"
    assert etcd["metadata"]["annotations"][C.ETCD_ENDPOINT_ANNOTATION] == "https://[2001:db8::10]:2379"
    for pod in (api, etcd):
        kubernetes_validate.validate(pod, "1.34", strict=True)


# ----------------------------------------------------------------- env
def test_env_proxy_and_extra_envs_sorted(fs):
    cfg = make_cfg(33)
    cfg.cluster["apiServer"]["extraEnvs"] = [{"name": "GOGC", "value": "50"},
                                             {"name": "HTTPS_PROXY", "value": "http://override:3128"}]
    cfg.cluster["etcd"]["local"]["extraEnvs"] = [{"name": "ETCD_HEARTBEAT_INTERVAL", "value": "100"}]
    environ = {"HTTPS_PROXY": "http://proxy:3128", "no_proxy": "10.0.0.0/8", "HOME": "/root", "ftp_proxy": ""}
    api = container(render(C.KUBE_APISERVER, cfg, fs, environ=environ))
    assert api["env"] == [{"name": "GOGC", "value": "50"},
                          {"name": "HTTPS_PROXY", "value": "http://override:3128"},
                          {"name": "no_proxy", "value": "10.0.0.0/8"}]
    sched = container(render(C.KUBE_SCHEDULER, cfg, fs, environ=environ))
    assert sched["env"] == [{"name": "HTTPS_PROXY", "value": "http://proxy:3128"},
                            {"name": "no_proxy", "value": "10.0.0.0/8"}]
    etcd = container(render(C.ETCD, cfg, fs, environ=environ))
    assert etcd["env"] == [{"name": "ETCD_HEARTBEAT_INTERVAL", "value": "100"}]
    text = manifests.render_static_pod(C.ETCD, cfg, fs, environ=environ)
    assert '      value: "100"\n' in text  # go-yaml style: numeric-looking strings double-quoted


def test_env_defaults_to_process_environment(fs, monkeypatch):
    monkeypatch.setenv("https_proxy", "http://p:1")
    c = container(yaml.safe_load(manifests.render_static_pod(C.KUBE_SCHEDULER, make_cfg(33), fs)))
    assert {"name": "https_proxy", "value": "http://p:1"} in c["env"]


# ----------------------------------------------------------------- ensure_manifests
def test_ensure_manifests_writes_idempotently(fs):
    cfg = make_cfg(34)
    writer = files.Writer(fs)
    results = manifests.ensure_manifests(cfg, fs, writer, environ=NO_ENV)
    assert [(r["name"], r["changed"]) for r in results] == [
        (C.KUBE_APISERVER, True), (C.KUBE_CONTROLLER_MANAGER, True), (C.KUBE_SCHEDULER, True), (C.ETCD, True)]
    assert fs.mode(C.MANIFESTS_DIR) == 0o700
    for r in results:
        assert r["path"] == f"/etc/kubernetes/manifests/{r['name']}.yaml"
        assert fs.mode(r["path"]) == 0o600
        assert fs.read_text(r["path"]) == manifests.render_static_pod(r["name"], cfg, fs, environ=NO_ENV)
    assert {d["after_header"] for d in writer.diffs} == {r["path"] for r in results}
    assert all(d["before"] == "" and "kind: Pod" in d["after"] for d in writer.diffs)
    mtimes = {r["path"]: fs.mtime_ns(r["path"]) for r in results}
    time.sleep(0.01)
    writer2 = files.Writer(fs)
    again = manifests.ensure_manifests(cfg, fs, writer2, environ=NO_ENV)
    assert [r["changed"] for r in again] == [False] * 4
    assert {r["path"]: fs.mtime_ns(r["path"]) for r in again} == mtimes
    assert writer2.diffs == [] and writer2.changed_paths == []


def test_ensure_manifests_rewrites_on_change_with_diff(fs):
    cfg = make_cfg(33)
    manifests.ensure_manifests(cfg, fs, files.Writer(fs), only=["scheduler"], environ=NO_ENV)
    cfg.cluster["scheduler"]["extraArgs"] = [{"name": "v", "value": "2"}]
    writer = files.Writer(fs)
    results = manifests.ensure_manifests(cfg, fs, writer, only=["scheduler"], environ=NO_ENV)
    assert results == [{"name": C.KUBE_SCHEDULER, "path": "/etc/kubernetes/manifests/kube-scheduler.yaml",
                        "changed": True}]
    (diff,) = writer.diffs
    assert "--v=2" not in diff["before"] and "--v=2" in diff["after"]


def test_ensure_manifests_check_mode_writes_nothing(fs):
    writer = files.Writer(fs, check_mode=True)
    results = manifests.ensure_manifests(make_cfg(33), fs, writer, environ=NO_ENV)
    assert all(r["changed"] for r in results) and len(results) == 4
    assert not fs.exists(C.MANIFESTS_DIR)
    assert len(writer.diffs) == 4


def test_ensure_manifests_only_subset_and_bad_name(fs):
    writer = files.Writer(fs)
    results = manifests.ensure_manifests(make_cfg(33), fs, writer, only=["etcd"], environ=NO_ENV)
    assert [r["name"] for r in results] == [C.ETCD]
    assert not fs.exists("/etc/kubernetes/manifests/kube-apiserver.yaml")
    with pytest.raises(InvalidValue, match="only"):
        manifests.ensure_manifests(make_cfg(33), fs, writer, only=["kube-proxy"])


# ----------------------------------------------------------------- a real etcd
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _openssl_etcd_pki(openssl: str, pki: str, node: str, ip: str) -> None:
    """etcd CA, server, peer and healthcheck-client certs made with the openssl CLI."""
    os.makedirs(pki, exist_ok=True)

    def run(*args):
        subprocess.run([openssl, *args], check=True, capture_output=True, cwd=pki)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=etcd-ca",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,digitalSignature,keyEncipherment")
    sans = f"DNS:{node},DNS:localhost,IP:{ip},IP:127.0.0.1,IP:0:0:0:0:0:0:0:1"
    leaves = {
        "server": (node, f"subjectAltName={sans}\nextendedKeyUsage=serverAuth,clientAuth\n"),
        "peer": (node, f"subjectAltName={sans}\nextendedKeyUsage=serverAuth,clientAuth\n"),
        "healthcheck-client": (C.ETCD_HEALTHCHECK_CLIENT_CN, "extendedKeyUsage=clientAuth\n"),
    }
    for base, (cn, ext) in leaves.items():
        with open(os.path.join(pki, base + ".ext"), "w", encoding="ascii") as handle:
            handle.write("keyUsage=critical,digitalSignature,keyEncipherment\n" + ext)
        run("req", "-new", *ec, "-keyout", base + ".key", "-out", base + ".csr", "-subj", "/CN=" + cn)
        run("x509", "-req", "-in", base + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", base + ".crt", "-days", "1", "-extfile", base + ".ext")


def test_etcd_manifest_command_starts_a_real_etcd(fs, tmp_path, openssl):
    """Run /usr/bin/etcd with exactly the flags of the rendered 1.33 etcd.yaml.

    Host paths are mapped into the temp rootfs and ports 2379/2380/2381 to free
    loopback ports; the advertise address is 127.0.0.2 so that the two
    listen-client-urls do not collide. The installed etcd is Debian's 3.4, which
    knows the etcd 3.5-era flags kubeadm writes for 1.33 (experimental-initial-corrupt-check,
    experimental-watch-progress-notify-interval) but not etcd 3.6's
    --feature-gates=InitialCorruptCheck=true / --watch-progress-notify-interval, so the
    1.34+ command is not started here: test_etcd_36_flags_by_minor asserts those flags.
    """
    etcd = shutil.which("etcd") or pytest.fail("etcd is not installed (apt-get install etcd-server)")
    etcdctl = shutil.which("etcdctl") or pytest.fail("etcdctl is not installed (apt-get install etcd-client)")
    cfg = make_cfg(33, advertise_address="127.0.0.2")
    manifests.ensure_manifests(cfg, fs, files.Writer(fs), only=["etcd"], environ=NO_ENV)
    pod = yaml.safe_load(fs.read_text("/etc/kubernetes/manifests/etcd.yaml"))
    command = container(pod)["command"]
    assert command[0] == "etcd"
    _openssl_etcd_pki(openssl, fs.path("/etc/kubernetes/pki/etcd"), "cp1", "127.0.0.2")
    ports = {2379: _free_port(), 2380: _free_port(), 2381: _free_port()}

    def localize(arg: str) -> str:
        for host_path in ("/etc/kubernetes/pki", "/var/lib/etcd"):
            arg = arg.replace(host_path, fs.path(host_path))
        for default, port in ports.items():
            arg = arg.replace(f":{default}", f":{port}")
        return arg

    argv = [etcd] + [localize(a) for a in command[1:]]
    log = open(tmp_path / "etcd.log", "wb")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    try:
        pki = fs.path("/etc/kubernetes/pki/etcd")
        check = [etcdctl, f"--endpoints=https://127.0.0.1:{ports[2379]}", f"--cacert={pki}/ca.crt",
                 f"--cert={pki}/healthcheck-client.crt", f"--key={pki}/healthcheck-client.key",
                 "endpoint", "health"]
        env = dict(os.environ, ETCDCTL_API="3")
        deadline = time.time() + 30
        result = None
        while time.time() < deadline:
            assert proc.poll() is None, (tmp_path / "etcd.log").read_text()
            result = subprocess.run(check, capture_output=True, text=True, env=env)
            if result.returncode == 0:
                break
            time.sleep(0.5)
        assert result is not None and result.returncode == 0, result.stderr
        assert "is healthy" in result.stdout + result.stderr
        # the advertised client URL answers too (second listen-client-url)
        check[1] = f"--endpoints=https://127.0.0.2:{ports[2379]}"
        assert subprocess.run(check, capture_output=True, text=True, env=env).returncode == 0
        assert os.path.isdir(fs.path("/var/lib/etcd/member"))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
