# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The static-Pod upgrade of one control-plane node (kubeadm phases/upgrade/staticpods.go).

etcd first (when it is local and its image changes: never downgraded), then kube-apiserver,
kube-controller-manager, kube-scheduler, one at a time: a component whose new manifest equals the
one on disk is left alone; otherwise its certificates are renewed (unless certificate renewal is
off; renewal.renew, the path of kubeadm certs renew), the old manifest is copied to /etc/kubernetes/tmp/kubeadm-backup-manifests-<timestamp>/ (and
etcd's data directory to kubeadm-backup-etcd-<timestamp>/etcd), the new one is written, and the
upgrade waits until the kubelet runs it: the mirror Pod's kubernetes.io/config.hash changes, the
component's Pods run and are ready, and etcd (its members answer) and the API server (/livez)
are healthy. When a component does not come up within timeouts.upgradeManifests, every manifest
this run replaced is restored (etcd only when etcd itself failed), as kubeadm's
rollbackOldManifests does, and the run fails. Check mode writes and waits for nothing.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import (
    apiclient, errors, etcd, kubeconfig, manifests, pki, poll, renewal, upgradepolicy, versions)
from ansible_collections.kubeboot.cluster.plugins.module_utils.docutil import to_yaml

BACKUP_MANIFESTS_PREFIX = "kubeadm-backup-manifests"
BACKUP_ETCD_PREFIX = "kubeadm-backup-etcd"
CONFIG_HASH_ANNOTATION = "kubernetes.io/config.hash"
# kubeadm renewCertsByComponent: what each component is renewed with before its manifest changes
CERTS_BY_COMPONENT = {
    C.ETCD: ("etcd-server", "etcd-peer", "etcd-healthcheck-client"),
    C.KUBE_APISERVER: ("apiserver", "apiserver-kubelet-client", "front-proxy-client", "apiserver-etcd-client"),
}
KUBECONFIGS_BY_COMPONENT = {C.KUBE_CONTROLLER_MANAGER: ("controller-manager",), C.KUBE_SCHEDULER: ("scheduler",)}
USER_KUBECONFIGS = ("admin", "super-admin")  # renewed once the control plane is done


class UpgradeError(errors.KubebootError):
    """A component did not come up with its new manifest (the previous manifests were restored)."""


def staticpod_error(message: str) -> UpgradeError:
    return UpgradeError(f"couldn't upgrade control plane: {message}")


def timestamp(now=None) -> str:
    """kubeadm CreateTimestampDirForKubeadm's format (2006-01-02-15-04-05)."""
    return time.strftime("%Y-%m-%d-%H-%M-%S", time.localtime(now))


@dataclass
class Backups:
    """The run's backup directories, made on first use (a run that changes nothing makes none)."""

    writer: object
    stamp: str = field(default_factory=timestamp)
    manifests_dir_made: bool = False
    tmp_dir_made: bool = False

    @property
    def manifests_dir(self) -> str:
        return f"{C.KUBERNETES_TMP_DIR}/{BACKUP_MANIFESTS_PREFIX}-{self.stamp}"

    @property
    def etcd_dir(self) -> str:
        return f"{C.KUBERNETES_TMP_DIR}/{BACKUP_ETCD_PREFIX}-{self.stamp}"

    def _tmp_dir(self) -> None:
        if not self.tmp_dir_made:
            self.writer.ensure_dir(C.KUBERNETES_TMP_DIR, C.MODE_PRIVATE_DIR)
            self.tmp_dir_made = True

    def manifest(self, component: str, data: bytes) -> str:
        if not self.manifests_dir_made:
            self._tmp_dir()
            self.writer.ensure_dir(self.manifests_dir, C.MODE_PRIVATE_DIR)
            self.manifests_dir_made = True
        path = f"{self.manifests_dir}/{component}.yaml"
        self.writer.write(path, data, C.MODE_MANIFEST)
        return path

    def etcd_data(self, data_dir: str) -> str:
        """kubeadm CopyDir(dataDir, backup dir): <backup>/<data dir's name>."""
        if not self.writer.fs.isdir(data_dir):
            raise staticpod_error(f"failed to back up etcd data: {data_dir} is not a directory")
        self._tmp_dir()
        self.writer.ensure_dir(self.etcd_dir, C.MODE_PRIVATE_DIR)
        target = f"{self.etcd_dir}/{data_dir.rstrip('/').rsplit('/', 1)[-1]}"
        self.writer.copy_tree(data_dir, target)
        return target


@dataclass
class Upgrade:
    """One node's static-Pod upgrade: ctx is the upgrade's PhaseContext (cfg at the target)."""

    ctx: object
    renew: bool = True
    etcd_upgrade: bool = True
    sleep: object = time.sleep
    backups: Backups = None
    replaced: dict = field(default_factory=dict)    # component -> the manifest bytes it replaced
    results: list = field(default_factory=list)
    renewed: list = field(default_factory=list)

    def __post_init__(self):
        self.backups = self.backups or Backups(self.ctx.writer)

    @property
    def cfg(self):
        return self.ctx.cfg

    @property
    def timeout(self) -> float:
        return self.cfg.timeout("upgradeManifests")

    # --- the whole control plane of this node -------------------------------------------------------
    def run(self) -> list:
        before = {c: self._mirror_hash(c) for c in manifests.COMPONENTS}
        if self.cfg.local_etcd and self.etcd_upgrade:
            self._etcd(before[C.ETCD])
        elif self.cfg.local_etcd:
            self._result(C.ETCD, "skipped", reason="etcd upgrade is off (etcd_upgrade: false)")
        for component in C.CONTROL_PLANE_COMPONENTS:
            self._component(component, manifests.static_pod(component, self.cfg, self.ctx.fs), before[component])
        if self.renew and any(r["changed"] for r in self.results):
            present = [n for n in USER_KUBECONFIGS
                       if self.ctx.fs.exists(C.kubeconfig_path(kubeconfig.BY_NAME[n].file))]
            self._renew_kubeconfigs(present)
        return self.results

    # --- one component ---------------------------------------------------------------------------------
    def _component(self, component: str, pod: dict, before_hash: str) -> bool:
        path = C.manifest_path(component)
        old = self.ctx.fs.read_bytes(path)
        new = to_yaml(pod).encode("utf-8")
        if old == new:
            self._result(component, "unchanged")
            return False
        if self.renew:
            self._renew_for(component)
        backup = self.backups.manifest(component, old or b"")
        self.replaced[component] = old
        self.ctx.writer.write(path, new, C.MODE_MANIFEST)
        if self.ctx.plan_only:
            self._result(component, "upgraded", changed=True, backup=backup,
                         reason="check mode: not waited for")
            return True
        try:
            waited = self._wait(component, before_hash)
        except errors.KubebootError as exc:
            restored = self._rollback(component)
            raise UpgradeError(
                f"couldn't upgrade control plane: {component} did not come up with its new manifest within "
                f"{self.timeout:g}s ({exc}); kubeadm_upgrade restored the previous manifests of "
                f"{', '.join(restored)} (backups in {self.backups.manifests_dir}) and kubeadm-config still says "
                f"{self.cfg.current_version}") from None
        self._result(component, "upgraded", changed=True, backup=backup, waited_seconds=waited)
        return True

    def _result(self, component: str, action: str, changed: bool = False, **extra) -> None:
        entry = {"name": component, "path": C.manifest_path(component), "changed": changed, "action": action}
        entry.update({k: v for k, v in extra.items() if v is not None})
        self.results.append(entry)
        self.ctx.report.manifests.append(entry)

    def _renew_for(self, component: str) -> None:
        certs = [n for n in CERTS_BY_COMPONENT.get(component, ())
                 if self.cfg.local_etcd or not pki.BY_NAME[n].etcd]
        self._renew(certs + [kubeconfig.BY_NAME[n].file for n in KUBECONFIGS_BY_COMPONENT.get(component, ())])

    def _renew_kubeconfigs(self, names) -> None:
        self._renew([kubeconfig.BY_NAME[n].file for n in names])

    def _renew(self, names) -> None:
        """kubeadm certs renew <names> (renewal.renew: keys kept, CAs never touched, an external CA's
        certificates left with a warning); the new manifest restarts the component, so no restart mark."""
        if not names:
            return
        done = renewal.renew(self.ctx.fs, self.ctx.writer, self.cfg, names, restart=False)["certificates"]
        self.renewed += [r["name"] for r in done if r["action"] == "renewed"]
        self.ctx.report.certificates += done
        self.ctx.warnings += [r["reason"] for r in done if r["action"] == "external" and r.get("reason")]

    def _rollback(self, failed: str) -> list:
        restored = []
        for component, old in self.replaced.items():
            if component == C.ETCD and failed != C.ETCD:
                continue  # kubeadm leaves an upgraded etcd in place when a later component fails
            if old is None:
                self.ctx.writer.remove(C.manifest_path(component))
            else:
                self.ctx.writer.write(C.manifest_path(component), old, C.MODE_MANIFEST)
            restored.append(component)
            for entry in self.results:
                if entry["name"] == component:
                    entry["action"] = "rolled back"
        self.results.append({"name": failed, "path": C.manifest_path(failed), "changed": True, "action": "rolled back"})
        return restored

    # --- etcd ------------------------------------------------------------------------------------------------
    def _etcd(self, before_hash: str) -> None:
        current = upgradepolicy.image_tag(self.ctx.fs.read_text(C.manifest_path(C.ETCD))) or ""
        desired = (self.cfg.cluster["etcd"].get("local") or {}).get("imageTag") or versions.etcd_version(self.cfg.version)
        if current and upgradepolicy.etcd_tag_key(desired) < upgradepolicy.etcd_tag_key(current):
            self._result(C.ETCD, "skipped", reason=f"the desired etcd {desired} is older than the running {current}: "
                                                   "etcd is never downgraded")
            return
        if current == desired:
            self._result(C.ETCD, "unchanged", reason=f"etcd is at {desired} already")
            return
        pod = manifests.static_pod(C.ETCD, self.cfg, self.ctx.fs,
                                   initial_cluster=manifests.existing_initial_cluster(self.ctx.fs))
        if to_yaml(pod).encode("utf-8") == self.ctx.fs.read_bytes(C.manifest_path(C.ETCD)):
            self._result(C.ETCD, "unchanged")
            return
        if not self.ctx.plan_only:
            self._etcd_health("etcd cluster is not healthy before the upgrade")
        data_dir = (self.cfg.cluster["etcd"].get("local") or {}).get("dataDir") or C.ETCD_DATA_DIR
        data_backup = self.backups.etcd_data(data_dir)
        try:
            self._component(C.ETCD, pod, before_hash)
        except UpgradeError as exc:
            self._recover_etcd(data_dir, data_backup, exc)
            raise
        if self.results and self.results[-1]["name"] == C.ETCD:
            self.results[-1]["data_backup"] = data_backup

    def _recover_etcd(self, data_dir: str, data_backup: str, cause) -> None:
        """The old manifest is back: wait for the old etcd; when it does not come back, put the
        backed-up data in place and wait again (kubeadm rollbackEtcdData)."""
        try:
            self._etcd_health("the previous etcd is not healthy")
        except errors.KubebootError:
            self.ctx.writer.remove(data_dir)
            self.ctx.writer.copy_tree(data_backup, data_dir)
            try:
                self._etcd_health("the previous etcd is not healthy after restoring its data")
            except errors.KubebootError as again:
                raise UpgradeError(f"{cause}; etcd did not come back, even with its data restored from "
                                   f"{data_backup}: {again}") from None

    def _etcd_endpoints(self) -> list:
        pod = self._mirror_pod(C.ETCD)
        url = ((pod or {}).get("metadata", {}).get("annotations") or {}).get(C.ETCD_ENDPOINT_ANNOTATION)
        return [url or manifests.client_url(self.cfg)]

    def _etcd_health(self, what: str) -> None:
        client = etcd.healthcheck_client(self.cfg, self.ctx.fs, self._etcd_endpoints(), timeout=5.0)
        try:
            client.wait_healthy(self.timeout, interval=2.0, sleep=self.sleep)
        except errors.KubebootError as exc:
            raise errors.KubebootError(f"{what}: {exc}") from None

    # --- waiting for the kubelet ---------------------------------------------------------------------------
    def _mirror_pod(self, component: str):
        client = self.ctx.api.client
        if client is None:
            return None
        try:
            return client.request("GET", apiclient.resource_path("Pod", f"{component}-{self.cfg.node_name}",
                                                                 C.KUBE_SYSTEM), retry=False)
        except errors.NotFound:
            return None
        except errors.APIError:
            return None

    def _mirror_hash(self, component: str) -> str:
        pod = self._mirror_pod(component)
        return ((pod or {}).get("metadata", {}).get("annotations") or {}).get(CONFIG_HASH_ANNOTATION, "")

    def _wait(self, component: str, before_hash: str) -> float:
        start = time.monotonic()
        deadline = start + self.timeout

        def remaining() -> float:
            return max(0.5, deadline - time.monotonic())

        def hash_changed():
            value = self._mirror_hash(component)
            if not value or value == before_hash:
                raise poll.NotYet(f"the mirror Pod {component}-{self.cfg.node_name} still has the old "
                                  f"{CONFIG_HASH_ANNOTATION}" if value else "no mirror Pod yet")
            return True
        poll.wait_for(hash_changed, remaining(), 1.0, what=f"the kubelet to restart {component}", sleep=self.sleep)
        poll.wait_for(lambda: self._pods_ready(component), remaining(), 1.0,
                      what=f"the Pods of {component} to run", sleep=self.sleep)
        if component == C.ETCD:
            client = etcd.healthcheck_client(self.cfg, self.ctx.fs, self._etcd_endpoints(), timeout=5.0)
            client.wait_healthy(remaining(), interval=2.0, sleep=self.sleep)
        elif component == C.KUBE_APISERVER:
            local = apiclient.Client(kubeconfig.local_endpoint(self.cfg), ca_pem=self.ctx.fs.read_bytes(
                pki.cert_path(self.cfg, C.CA_BASE)), timeout=5.0, retry_timeout=0)
            poll.wait_for(lambda: local.healthz("/livez"), remaining(), 1.0,
                          what=f"the API server at {local.server} to be live", sleep=self.sleep)
        return round(time.monotonic() - start, 1)

    def _pods_ready(self, component: str):
        """kubeadm WaitForPodsWithLabel: every Pod labelled component=<component> runs (and is Ready)."""
        try:
            pods = self.ctx.api.client.list("Pod", C.KUBE_SYSTEM, label_selector=f"component={component}")
        except errors.APIError as exc:
            raise poll.NotYet(str(exc)) from None
        if not pods:
            raise poll.NotYet(f"no Pod labelled component={component}")
        for pod in pods:
            status = pod.get("status") or {}
            name = (pod.get("metadata") or {}).get("name")
            if status.get("phase") != "Running":
                raise poll.NotYet(f"Pod {name} is {status.get('phase') or 'not running'}")
            ready = [c for c in status.get("conditions") or [] if c.get("type") == "Ready"]
            if ready and ready[0].get("status") != "True":
                raise poll.NotYet(f"Pod {name} is not Ready")
        return True
