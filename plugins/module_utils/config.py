# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# Apache License 2.0 (see LICENSE)
"""kubeadm v1beta4 configuration model: defaults, validation, merge of module options.

The model is kubeadm's own API shape as plain dicts (camelCase keys), fully
defaulted, so every other module reads e.g. cfg.cluster["networking"]["serviceSubnet"]
exactly as kubeadm documents it.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C


@dataclass
class InitConfig:
    """Everything `kubeadm init` knows after reading flags + config file."""

    init: dict           # InitConfiguration (v1beta4), defaulted, advertiseAddress resolved
    cluster: dict        # ClusterConfiguration (v1beta4), defaulted, kubernetesVersion resolved (vX.Y.Z)
    kubelet: dict = field(default_factory=dict)     # user KubeletConfiguration document ({} if none)
    kube_proxy: dict = field(default_factory=dict)  # user KubeProxyConfiguration document ({} if none)
    warnings: list = field(default_factory=list)

    @property
    def version(self) -> str:
        return self.cluster["kubernetesVersion"]

    @property
    def minor(self) -> int:
        return int(self.version.lstrip("v").split(".")[1])

    @property
    def node_name(self) -> str:
        return self.init["nodeRegistration"]["name"]

    @property
    def advertise_address(self) -> str:
        return self.init["localAPIEndpoint"]["advertiseAddress"]

    @property
    def bind_port(self) -> int:
        return self.init["localAPIEndpoint"]["bindPort"]

    @property
    def cert_dir(self) -> str:
        return self.cluster["certificatesDir"]

    @property
    def local_etcd(self) -> bool:
        return "external" not in self.cluster["etcd"]

    def feature_enabled(self, gate: str, default: bool = False) -> bool:
        return bool(self.cluster.get("featureGates", {}).get(gate, default))


def default_cluster_configuration() -> dict:
    return {
        "apiVersion": C.KUBEADM_API_V1BETA4,
        "kind": "ClusterConfiguration",
        "kubernetesVersion": C.DEFAULT_KUBERNETES_VERSION,
        "controlPlaneEndpoint": "",
        "certificatesDir": C.PKI_DIR,
        "imageRepository": C.DEFAULT_IMAGE_REPOSITORY,
        "clusterName": C.CLUSTER_NAME,
        "encryptionAlgorithm": C.DEFAULT_ENCRYPTION_ALGORITHM,
        "certificateValidityPeriod": C.DEFAULT_CERT_VALIDITY,
        "caCertificateValidityPeriod": C.DEFAULT_CA_CERT_VALIDITY,
        "networking": {
            "serviceSubnet": C.DEFAULT_SERVICE_SUBNET,
            "podSubnet": "",
            "dnsDomain": C.DEFAULT_DNS_DOMAIN,
        },
        "etcd": {"local": {
            "dataDir": C.ETCD_DATA_DIR,
            "extraArgs": [], "extraEnvs": [],
            "serverCertSANs": [], "peerCertSANs": [],
        }},
        "apiServer": {"extraArgs": [], "extraEnvs": [], "extraVolumes": [], "certSANs": []},
        "controllerManager": {"extraArgs": [], "extraEnvs": [], "extraVolumes": []},
        "scheduler": {"extraArgs": [], "extraEnvs": [], "extraVolumes": []},
        "dns": {"disabled": False},
        "proxy": {"disabled": False},
        "featureGates": {},
    }


def default_init_configuration() -> dict:
    return {
        "apiVersion": C.KUBEADM_API_V1BETA4,
        "kind": "InitConfiguration",
        "bootstrapTokens": [{
            "token": "",  # empty: generated at bootstrap-token time
            "ttl": C.DEFAULT_TOKEN_TTL,
            "usages": list(C.TOKEN_USAGES),
            "groups": [C.DEFAULT_TOKEN_GROUP],
        }],
        "nodeRegistration": {
            "name": "",
            "criSocket": C.DEFAULT_CRI_SOCKET,
            "taints": None,  # None: the control-plane NoSchedule taint; [] none
            "kubeletExtraArgs": [],
            "ignorePreflightErrors": [],
            "imagePullPolicy": "IfNotPresent",
            "imagePullSerial": True,
        },
        "localAPIEndpoint": {"advertiseAddress": "", "bindPort": C.APISERVER_PORT},
        "certificateKey": "",
        "skipPhases": [],
        "dryRun": False,
        "timeouts": dict(C.DEFAULT_TIMEOUTS),
    }


def sample_init_config(**overrides) -> InitConfig:
    """A fully defaulted InitConfig without reading the host (tests, docs).

    overrides: node_name, advertise_address, version, plus any dotted
    'cluster.networking.podSubnet'-style keys given as a dict in `paths`.
    """
    cluster = default_cluster_configuration()
    init = default_init_configuration()
    cluster["kubernetesVersion"] = overrides.pop("version", "v1.34.10")
    init["nodeRegistration"]["name"] = overrides.pop("node_name", "cp1")
    init["localAPIEndpoint"]["advertiseAddress"] = overrides.pop("advertise_address", "192.0.2.10")
    for dotted, value in overrides.pop("paths", {}).items():
        root, *keys = dotted.split(".")
        target = cluster if root == "cluster" else init
        for key in keys[:-1]:
            target = target.setdefault(key, {})
        target[keys[-1]] = copy.deepcopy(value)
    if overrides:
        raise TypeError(f"unknown overrides {sorted(overrides)}")
    return InitConfig(init=init, cluster=cluster)
