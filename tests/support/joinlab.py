"""A cluster to join in tests: node 1's PKI made by the collection, the API double serving with
it, and the objects `kubeadm init` leaves behind (cluster-info, RBAC, token, kubeadm-config,
kubelet-config, optionally kubeadm-certs). Test-only."""
from __future__ import annotations

import os
import time

from ansible_collections.kubeboot.cluster.plugins.module_utils import bootstraptoken, copycerts, pubkeypin, rbac, uploadconfig
from ansible_collections.kubeboot.cluster.plugins.module_utils import (
    apiclient, config, kubeconfig, manifests, pki, tokens, versions)
from ansible_collections.kubeboot.cluster.plugins.module_utils.apiwriter import ApiWriter
from ansible_collections.kubeboot.cluster.plugins.module_utils.files import HostFS, Writer

from tests.support.apiserver import ApiDouble, UserInfo

TOKEN = "abcdef.0123456789abcdef"
ADMIN_TOKEN = "lab-admin-token-0123456789"
CERT_KEY = "0f" * 32


class Lab:
    def __init__(self, base: str, version_label: str = "stable-1.33", token: str = TOKEN,
                 token_kwargs=None, controllers: bool = True, upload_certs: bool = False,
                 address: str = "127.0.0.1", store=None, controllers_interval: str = "0.3s"):
        self.base, self.address = base, address
        self.rootfs1 = os.path.join(base, "node1")
        os.makedirs(self.rootfs1, exist_ok=True)
        self.fs1 = HostFS(self.rootfs1)
        version = versions.resolve_version(version_label)
        self.cfg = config.sample_init_config(version=version, node_name="cp1", advertise_address=address)
        pki.ensure_certificates(self.cfg, self.fs1, Writer(self.fs1))
        self.pki_dir = self.fs1.path(self.cfg.cert_dir)
        self.double = ApiDouble(self.pki_dir, host=address, store=store, controllers=controllers,
                                controllers_interval=controllers_interval,
                                static_tokens={ADMIN_TOKEN: UserInfo("lab-admin", ["system:masters"])},
                                kubernetes_version=version).start()
        self.url = self.double.url
        self.endpoint = f"{address}:{self.double.port}"
        self.cfg.cluster["controlPlaneEndpoint"] = self.endpoint
        self.ca_pem = self.fs1.read_bytes(self.cfg.cert_dir + "/ca.crt")
        self.pin = pubkeypin.pin(self.ca_pem)
        self.admin = apiclient.Client(self.url, ca_pem=self.ca_pem, token=ADMIN_TOKEN, retry_timeout=5)
        self.token = token
        self._seed(token_kwargs or {}, upload_certs)

    def _seed(self, token_kwargs: dict, upload_certs: bool) -> None:
        objects = (rbac.node_bootstrap_rbac() + rbac.cluster_info_rbac()
                   + rbac.kubeadm_config_rbac() + rbac.kubelet_config_rbac()
                   + rbac.cluster_admins_rbac()
                   + [bootstraptoken.cluster_info_configmap(self.url, self.ca_pem),
                      uploadconfig.kubeadm_config_configmap(self.cfg),
                      uploadconfig.kubelet_config_configmap(self.cfg)])
        for obj in objects:
            ApiWriter(self.admin).ensure(obj)
        self.admin.create(tokens.token_secret(self.token, **token_kwargs))
        if upload_certs:
            copycerts.upload_certs(ApiWriter(self.admin), self.cfg, self.fs1, CERT_KEY)

    def wait_signed(self, token_id: str = None, timeout: float = 10.0) -> None:
        key = "jws-kubeconfig-" + (token_id or self.token.split(".")[0])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            cm = self.admin.get("ConfigMap", "cluster-info", "kube-public")
            if key in (cm.get("data") or {}):
                return
            time.sleep(0.1)
        raise AssertionError("bootstrapsigner did not sign cluster-info")

    def write_node1_control_plane(self) -> None:
        """Node 1's kubeconfigs and etcd manifest (as init would)."""
        writer = Writer(self.fs1)
        kubeconfig.ensure_kubeconfigs(self.cfg, self.fs1, writer)
        manifests.ensure_manifests(self.cfg, self.fs1, writer, only=["etcd"])

    def stop(self) -> None:
        self.double.stop()

    def join_params(self, rootfs: str, **over) -> dict:
        params = {
            "rootfs": rootfs, "api_server_endpoint": self.endpoint, "token": self.token,
            "discovery_token_ca_cert_hash": [self.pin], "node_name": "worker1",
            "ignore_preflight_errors": ["all"], "discovery_timeout": "20s",
        }
        params.update(over)
        return params


def tree(rootfs: str) -> list:
    out = []
    for dirpath, dirs, files in os.walk(rootfs):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(dirpath, d))]:
            out.append(os.path.relpath(os.path.join(dirpath, name), rootfs))
    return sorted(out)
