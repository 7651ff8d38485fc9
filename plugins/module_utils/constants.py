# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every Kubernetes/kubeadm name in one place (kubeadm's constants.go).

No other module spells a host path, CN, group, ConfigMap name or port
literally: they import it from here.
"""
from __future__ import annotations

# --- host paths -------------------------------------------------------------
KUBERNETES_DIR = "/etc/kubernetes"
KUBERNETES_TMP_DIR = KUBERNETES_DIR + "/tmp"
PKI_DIR = KUBERNETES_DIR + "/pki"
MANIFESTS_DIR = KUBERNETES_DIR + "/manifests"
KUBELET_DIR = "/var/lib/kubelet"
KUBELET_CONFIG_FILE = KUBELET_DIR + "/config.yaml"
KUBELET_INSTANCE_CONFIG_FILE = KUBELET_DIR + "/instance-config.yaml"
KUBELET_FLAGS_ENV_FILE = KUBELET_DIR + "/kubeadm-flags.env"
KUBELET_PKI_DIR = KUBELET_DIR + "/pki"
KUBELET_CLIENT_CURRENT = KUBELET_PKI_DIR + "/kubelet-client-current.pem"
KUBELET_DROPIN_FILE = "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf"
KUBELET_DEFAULTS_FILE = "/etc/default/kubelet"
ETCD_DATA_DIR = "/var/lib/etcd"
ETCD_DATA_VOLUME = "etcd-data"  # the etcd static Pod's volume of its data dir (kubeadm etcdVolumeName)
VAR_RUN_KUBERNETES = "/var/run/kubernetes"
SYSTEMD_RESOLV_CONF = "/run/systemd/resolve/resolv.conf"
FLEXVOLUME_DIR = "/usr/libexec/kubernetes/kubelet-plugins/volume/exec"
CA_CERTS_DIR = "/etc/ssl/certs"
# Mounted into apiserver / controller-manager only when they exist on the host.
EXTRA_CA_DIRS = (
    "/etc/pki/ca-trust",
    "/etc/pki/tls/certs",
    "/etc/ca-certificates",
    "/usr/share/ca-certificates",
    "/usr/local/share/ca-certificates",
)

# --- what kubeadm reset leaves to the user (reset.py, cleanupnode.py) ---------
CNI_CONFIG_DIR = "/etc/cni/net.d"
CNI_STATE_DIR = "/var/lib/cni"
USER_KUBECONFIG = ".kube/config"  # under a user's $HOME: a copy of admin.conf
# What the network plugins the cni role installs write on a node (reset's opt-in cleanup_cni removes
# these and nothing else: other files in /etc/cni/net.d, e.g. podman's, are not Kubernetes')
CNI_FILES = {
    "flannel": (CNI_CONFIG_DIR + "/10-flannel.conflist", "/run/flannel", CNI_STATE_DIR + "/flannel",
                CNI_STATE_DIR + "/networks/cbr0"),
    "calico": (CNI_CONFIG_DIR + "/10-calico.conflist", CNI_CONFIG_DIR + "/calico-kubeconfig", "/var/lib/calico",
               "/var/run/calico", CNI_STATE_DIR + "/networks/k8s-pod-network"),
}
# unmount2() flags ResetConfiguration.unmountFlags may name (kubeadm's list)
UNMOUNT_FLAGS = ("MNT_FORCE", "MNT_DETACH", "MNT_EXPIRE", "UMOUNT_NOFOLLOW")

# --- kubeconfig files -------------------------------------------------------
ADMIN_CONF = "admin.conf"
SUPER_ADMIN_CONF = "super-admin.conf"
KUBELET_CONF = "kubelet.conf"
BOOTSTRAP_KUBELET_CONF = "bootstrap-kubelet.conf"
CONTROLLER_MANAGER_CONF = "controller-manager.conf"
SCHEDULER_CONF = "scheduler.conf"
KUBECONFIG_FILES = (ADMIN_CONF, SUPER_ADMIN_CONF, KUBELET_CONF, BOOTSTRAP_KUBELET_CONF,
                    CONTROLLER_MANAGER_CONF, SCHEDULER_CONF)


def kubeconfig_path(name: str) -> str:
    """/etc/kubernetes/<name> (kubeadm's kubeconfig files live there)."""
    return f"{KUBERNETES_DIR}/{name}"


# --- component names ---------------------------------------------------------
KUBE_APISERVER = "kube-apiserver"
KUBE_CONTROLLER_MANAGER = "kube-controller-manager"
KUBE_SCHEDULER = "kube-scheduler"
KUBE_PROXY = "kube-proxy"
ETCD = "etcd"
COREDNS = "coredns"
CONTROL_PLANE_COMPONENTS = (KUBE_APISERVER, KUBE_CONTROLLER_MANAGER, KUBE_SCHEDULER)


def manifest_path(component: str) -> str:
    """Static Pod manifest of a component (kubeadm GetStaticPodFilepath)."""
    return f"{MANIFESTS_DIR}/{component}.yaml"


# --- ports ------------------------------------------------------------------
APISERVER_PORT = 6443
ETCD_CLIENT_PORT = 2379
ETCD_PEER_PORT = 2380
ETCD_METRICS_PORT = 2381
KUBELET_PORT = 10250
KUBELET_HEALTHZ_PORT = 10248
CONTROLLER_MANAGER_PORT = 10257
SCHEDULER_PORT = 10259

# --- identities -------------------------------------------------------------
CLUSTER_NAME = "kubernetes"
CA_CN = "kubernetes"
APISERVER_CN = "kube-apiserver"
APISERVER_KUBELET_CLIENT_CN = "kube-apiserver-kubelet-client"
FRONT_PROXY_CA_CN = "front-proxy-ca"
FRONT_PROXY_CLIENT_CN = "front-proxy-client"
ETCD_CA_CN = "etcd-ca"
ETCD_HEALTHCHECK_CLIENT_CN = "kube-etcd-healthcheck-client"
APISERVER_ETCD_CLIENT_CN = "kube-apiserver-etcd-client"
ADMIN_USER = "kubernetes-admin"
SUPER_ADMIN_USER = "kubernetes-super-admin"
CONTROLLER_MANAGER_USER = "system:kube-controller-manager"
SCHEDULER_USER = "system:kube-scheduler"
NODE_USER_PREFIX = "system:node:"
TLS_BOOTSTRAP_USER = "tls-bootstrap-token-user"

# --- certificate base names under certificatesDir (kubeadm *CertAndKeyBaseName) ---
CA_BASE = "ca"
APISERVER_BASE = "apiserver"
APISERVER_KUBELET_CLIENT_BASE = "apiserver-kubelet-client"
FRONT_PROXY_CA_BASE = "front-proxy-ca"
FRONT_PROXY_CLIENT_BASE = "front-proxy-client"
ETCD_PKI_SUBDIR = "etcd"  # the etcd certificates' directory under certificatesDir
ETCD_CA_BASE = "etcd/ca"
ETCD_SERVER_BASE = "etcd/server"
ETCD_PEER_BASE = "etcd/peer"
ETCD_HEALTHCHECK_CLIENT_BASE = "etcd/healthcheck-client"
APISERVER_ETCD_CLIENT_BASE = "apiserver-etcd-client"
SA_BASE = "sa"
# feature gate: kubelet.conf on a control-plane node talks to the local apiserver
FEATURE_CONTROL_PLANE_KUBELET_LOCAL_MODE = "ControlPlaneKubeletLocalMode"

SYSTEM_MASTERS = "system:masters"
CLUSTER_ADMINS_GROUP = "kubeadm:cluster-admins"
NODES_GROUP = "system:nodes"
BOOTSTRAPPERS_GROUP = "system:bootstrappers"
DEFAULT_TOKEN_GROUP = "system:bootstrappers:kubeadm:default-node-token"
BOOTSTRAP_USER_PREFIX = "system:bootstrap:"
ANONYMOUS_USER = "system:anonymous"
UNAUTHENTICATED_GROUP = "system:unauthenticated"
AUTHENTICATED_GROUP = "system:authenticated"

# --- API objects --------------------------------------------------------------
KUBE_SYSTEM = "kube-system"
KUBE_PUBLIC = "kube-public"
KUBEADM_CONFIG_CM = "kubeadm-config"
KUBEADM_CONFIG_KEY = "ClusterConfiguration"
KUBELET_CONFIG_CM = "kubelet-config"
KUBELET_CONFIG_KEY = "kubelet"
CLUSTER_INFO_CM = "cluster-info"
CLUSTER_INFO_KUBECONFIG_KEY = "kubeconfig"
JWS_KEY_PREFIX = "jws-kubeconfig-"
KUBEADM_CERTS_SECRET = "kubeadm-certs"
COMPONENT_CONFIG_HASH_ANNOTATION = "kubeadm.kubernetes.io/component-config.hash"
CRI_SOCKET_ANNOTATION = "kubeadm.alpha.kubernetes.io/cri-socket"
APISERVER_ENDPOINT_ANNOTATION = "kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint"
ETCD_ENDPOINT_ANNOTATION = "kubeadm.kubernetes.io/etcd.advertise-client-urls"
CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"
MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"  # a static Pod's mirror in the API
EXCLUDE_LB_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"
CONTROL_PLANE_TAINT = {"key": CONTROL_PLANE_LABEL, "effect": "NoSchedule"}

# bootstrap tokens
BOOTSTRAP_TOKEN_SECRET_PREFIX = "bootstrap-token-"
BOOTSTRAP_TOKEN_SECRET_TYPE = "bootstrap.kubernetes.io/token"
TOKEN_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
TOKEN_RE = r"\A([a-z0-9]{6})\.([a-z0-9]{16})\Z"
TOKEN_ID_RE = r"\A([a-z0-9]{6})\Z"
TOKEN_GROUP_RE = r"\Asystem:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]\Z"
TOKEN_USAGES = ("signing", "authentication")
DEFAULT_TOKEN_TTL = "24h0m0s"
CERT_TOKEN_TTL = "2h0m0s"
CSR_SIGNER_KUBELET_CLIENT = "kubernetes.io/kube-apiserver-client-kubelet"

# RBAC names kubeadm creates
CRB_CLUSTER_ADMINS = "kubeadm:cluster-admins"
CRB_KUBELET_BOOTSTRAP = "kubeadm:kubelet-bootstrap"
CR_GET_NODES = "kubeadm:get-nodes"
CRB_NODE_AUTOAPPROVE_BOOTSTRAP = "kubeadm:node-autoapprove-bootstrap"
CRB_NODE_AUTOAPPROVE_ROTATION = "kubeadm:node-autoapprove-certificate-rotation"
ROLE_CLUSTER_INFO = "kubeadm:bootstrap-signer-clusterinfo"
ROLE_NODES_KUBEADM_CONFIG = "kubeadm:nodes-kubeadm-config"
ROLE_KUBELET_CONFIG = "kubeadm:kubelet-config"
ROLE_KUBEADM_CERTS = "kubeadm:kubeadm-certs"
CRB_NODE_PROXIER = "kubeadm:node-proxier"
CR_NODE_BOOTSTRAPPER = "system:node-bootstrapper"
CR_NODECLIENT = "system:certificates.k8s.io:certificatesigningrequests:nodeclient"
CR_SELFNODECLIENT = "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient"
CR_NODE_PROXIER = "system:node-proxier"
CR_CLUSTER_ADMIN = "cluster-admin"
CR_COREDNS = "system:coredns"
CRB_SYSTEM_NODE = "system:node"  # built-in; kubeadm drops its system:nodes subject

# addons / upload-certs (kubeadm addons/proxy, addons/dns, copycerts)
KUBE_PROXY_CM = "kube-proxy"
KUBE_PROXY_CONFIG_KEY = "config.conf"
KUBE_PROXY_KUBECONFIG_KEY = "kubeconfig.conf"
KUBE_PROXY_DIR = "/var/lib/kube-proxy"
SERVICEACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
SERVICEACCOUNT_CA = SERVICEACCOUNT_DIR + "/ca.crt"
SERVICEACCOUNT_TOKEN = SERVICEACCOUNT_DIR + "/token"
KUBE_DNS_SERVICE = "kube-dns"
CERT_TOKEN_DESCRIPTION = "Proxy for managing TTL for the kubeadm-certs secret"

# --- kubeadm certs / kubeconfig / config / version --------------------------------------
# A control-plane static Pod reads its certificates at start: after a renewal the manifest gets
# this annotation (the renewal time), which makes the kubelet recreate the Pod (kubeadm leaves
# that restart to the user). Re-rendered manifests keep it, so a rerun changes nothing.
RESTARTED_AT_ANNOTATION = "kubeboot.cluster/restartedAt"
CSR_SUFFIX = ".csr"
# `kubeadm config print`: kubeadm's placeholders (configutil.PlaceholderToken, DefaultedStatic...)
PLACEHOLDER_TOKEN = "abcdef.0123456789abcdef"
PLACEHOLDER_ADVERTISE_ADDRESS = "1.2.3.4"
PLACEHOLDER_NODE_NAME = "node"
PLACEHOLDER_JOIN_ENDPOINT = "kube-apiserver:6443"
CONFIG_PRINT_ACTIONS = ("init", "join", "reset", "upgrade")           # kubeadm config print <x>-defaults
COMPONENT_CONFIG_KINDS = ("KubeletConfiguration", "KubeProxyConfiguration")  # --component-configs
IMAGE_ACTIONS = ("list", "pull")                                       # kubeadm config images <x>
VERSION_OUTPUTS = ("json", "yaml", "short")                            # kubeadm version -o <x>
# this collection (galaxy.yml `version`; a test keeps them equal)
COLLECTION_VERSION = "0.1.0"

# --- defaults -----------------------------------------------------------------
DEFAULT_IMAGE_REPOSITORY = "registry.k8s.io"
DEFAULT_CRI_SOCKET = "unix:///var/run/containerd/containerd.sock"
DEFAULT_SERVICE_SUBNET = "10.96.0.0/12"
DEFAULT_DNS_DOMAIN = "cluster.local"
DEFAULT_KUBERNETES_VERSION = "stable-1"
DEFAULT_CERT_VALIDITY = "8760h0m0s"
DEFAULT_CA_CERT_VALIDITY = "87600h0m0s"
DEFAULT_ENCRYPTION_ALGORITHM = "RSA-2048"
ENCRYPTION_ALGORITHMS = ("RSA-2048", "RSA-3072", "RSA-4096", "ECDSA-P256", "ECDSA-P384")
CERTIFICATE_BACKDATE_SECONDS = 5 * 60
DEFAULT_TIMEOUTS = {
    "controlPlaneComponentHealthCheck": "4m0s",
    "kubeletHealthCheck": "4m0s",
    "kubernetesAPICall": "1m0s",
    "etcdAPICall": "2m0s",
    "tlsBootstrap": "5m0s",
    "discovery": "5m0s",
    "upgradeManifests": "5m0s",
}

# --- config API ----------------------------------------------------------------
KUBEADM_GROUP = "kubeadm.k8s.io"
KUBEADM_API_V1BETA4 = KUBEADM_GROUP + "/v1beta4"
KUBEADM_API_V1BETA3 = KUBEADM_GROUP + "/v1beta3"
KUBELET_API = "kubelet.config.k8s.io/v1beta1"
KUBEPROXY_API = "kubeproxy.config.k8s.io/v1alpha1"

# Supported Kubernetes minors (versions.py holds the patch table).
MIN_SUPPORTED_MINOR = 33
MAX_SUPPORTED_MINOR = 37

# File modes kubeadm uses.
MODE_KEY = 0o600
MODE_CERT = 0o644
MODE_KUBECONFIG = 0o600
MODE_MANIFEST = 0o600
MODE_MANIFESTS_DIR = 0o700
MODE_PRIVATE_DIR = 0o700
MODE_PUBLIC_FILE = 0o644

# --- static Pods and kubelet files (manifests.py, kubelet.py) -------------------
STATIC_POD_PRIORITY = 2000001000
STATIC_POD_PRIORITY_CLASS = "system-node-critical"
CONTROL_PLANE_TIER = "control-plane"
PROBE_PORT_NAME = "probe-port"
ETCD_INITIAL_CORRUPT_CHECK_GATE = "InitialCorruptCheck"
ETCD_WATCH_PROGRESS_NOTIFY_INTERVAL = "5s"
ETCD_SNAPSHOT_COUNT = "10000"
FEATURE_NODE_LOCAL_CRI_SOCKET = "NodeLocalCRISocket"
KUBELET_ENV_VARIABLE = "KUBELET_KUBEADM_ARGS"
KUBELET_HEALTHZ_BIND_ADDRESS = "127.0.0.1"
CGROUP_DRIVER_SYSTEMD = "systemd"
KUBELET_BINARY = "/usr/bin/kubelet"
MODE_KUBELET_FILE = 0o644
MODE_KUBELET_DIR = 0o700
# kubeadm-certs data keys of an external etcd's client files (copycerts externalEtcd*)
EXTERNAL_ETCD_CA_KEY = "external-etcd-ca.crt"
EXTERNAL_ETCD_CERT_KEY = "external-etcd.crt"
EXTERNAL_ETCD_KEY_KEY = "external-etcd.key"
