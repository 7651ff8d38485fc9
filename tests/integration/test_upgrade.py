"""kubeadm_upgrade against the API double on real etcd, with a fake kubelet that runs the rootfs's
static Pods as mirror Pods (tests/support/upgradelab.py):

- plan (through ansible-playbook) offers the next minor and refuses a two-minor jump and a downgrade;
- apply (through ansible-playbook, on the same cluster) rewrites only what the version changes in the manifests (a diff
  of the files: image tags, and for 1.35 -> 1.36 the flex-volume mount kubeadm 1.36 dropped), check
  mode predicts it and changes nothing, the old manifests and etcd's data are backed up, the
  certificates are renewed with their keys (openssl), kubeadm-config says the new version, a rerun
  changes nothing;
- a component that does not become healthy is rolled back, and kubeadm-config keeps the old version;
- node on a worker: kubelet config from the cluster (with the node's patches), the flags the new
  version no longer writes removed, the cri-socket annotation gone; check mode before apply (upgrade.yml
  --check) predicts exactly what the node changes after apply;
- node on a second control plane (through ansible-playbook): planned ahead in check mode, its static Pods
  upgraded and certificates renewed after apply, then the addons apply had left for the last control plane.
"""
from __future__ import annotations

import difflib
import os
import re
import subprocess

import pytest
import yaml

from ansible_collections.kubeboot.cluster.plugins.module_utils import pkiutil, staticpodupgrade
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import ConfigError
from ansible_collections.kubeboot.cluster.plugins.module_utils.upgrade import run_upgrade

from tests.integration.test_init_guard import tree_hash
from tests.support.playbook import play
from tests.support.upgradelab import ControlPlane

COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")


def run_tasks(tmp_path, tasks: list, *extra, name="play") -> list:
    """One ansible-playbook run (tests.support.playbook.play) of several tasks (module, args[, task keys]);
    their registered results in order, each with the run's log."""
    steps = [dict({"name": f"task{index}", module: args, "register": f"r{index}"}, **(keys[0] if keys else {}))
             for index, (module, args, *keys) in enumerate(tasks)]
    results, log = play(tmp_path, steps, name, *extra)
    return [dict(results[f"r{index}"], _stdout=log) for index in range(len(tasks))]


def changed_lines(before: bytes, after: bytes) -> list:
    return [line for line in difflib.unified_diff(before.decode().splitlines(), after.decode().splitlines(), n=0,
                                                  lineterm="") if line[:1] in "+-" and line[:3] not in ("+++", "---")]


def cluster_version(cp) -> str:
    cm = cp.admin.get("ConfigMap", "kubeadm-config", "kube-system")
    return yaml.safe_load(cm["data"]["ClusterConfiguration"])["kubernetesVersion"]


def resource_versions(cp) -> dict:
    out = {}
    for kind, namespace in (("ConfigMap", "kube-system"), ("Deployment", "kube-system"), ("DaemonSet", "kube-system"),
                            ("Node", ""), ("ClusterRoleBinding", ""), ("Role", "kube-system")):
        for obj in cp.admin.list(kind, namespace):
            out[(kind, obj["metadata"]["name"])] = obj["metadata"]["resourceVersion"]
    return out


def without_stamp(paths) -> list:
    return sorted(re.sub(r"-\d{4}(-\d\d){5}", "-<timestamp>", p) for p in paths)


@pytest.fixture
def make_cluster(tmp_path, etcd_server):
    started = []

    def make(version: str, unhealthy=()):
        cp = ControlPlane(str(tmp_path / f"cluster{len(started)}"), version, store=etcd_server.store())
        started.append(cp)
        data = os.path.join(cp.rootfs, "var/lib/etcd/member/snap")
        os.makedirs(data)
        with open(os.path.join(data, "db"), "w", encoding="utf-8") as handle:
            handle.write("etcd data")
        cp.start_kubelet(etcd_url=etcd_server.endpoint, unhealthy=unhealthy)
        return cp
    yield make
    for cp in started:
        cp.stop()


def test_plan_then_apply_one_minor(tmp_path, make_cluster, openssl):
    """Plan offers the next minor and refuses two minors and a downgrade; apply changes only what the
    version changes, check mode predicts exactly that and changes nothing; a rerun changes nothing.
    (One cluster for both: an ansible-playbook run and a cluster cost ~20 s each on the CI machine.)"""
    cp = make_cluster("v1.35.7")
    module = "kubeboot.cluster.kubeadm_upgrade"
    plan_args = cp.upgrade_args(action="plan")
    args = cp.upgrade_args(action="apply", kubernetes_version="v1.36.3")
    before = {c: cp.manifest(c) for c in COMPONENTS}
    tree, versions_before = tree_hash(cp.rootfs), resource_versions(cp)
    plan, two_minors, downgrade, check = run_tasks(tmp_path, [
        (module, plan_args), (module, dict(plan_args, kubernetes_version="v1.37.0")),
        (module, dict(plan_args, kubernetes_version="stable-1.34")),
        (module, args, {"check_mode": True, "diff": True})], name="plan")
    assert not plan.get("failed"), plan["_stdout"]
    assert plan["changed"] is False and plan["current_version"] == "v1.35.7"
    assert [u["version"] for u in plan["plan"]["upgrades"]] == ["v1.36.3"]
    upgrade = plan["plan"]["upgrades"][0]
    assert upgrade["allowed"] is True and upgrade["etcd"] == {"current": "3.6.6-0", "target": "3.6.8-0"}
    assert {"component": "kube-apiserver", "node": "cp1", "current": "v1.35.7",
            "target": "v1.36.3"} in upgrade["components"]
    assert re.search(r"^kube-apiserver +cp1 +v1\.35\.7 +v1\.36\.3$", plan["plan"]["table"], re.M), plan["plan"]["table"]
    assert re.search(r"^etcd +cp1 +3\.6\.6-0 +3\.6\.8-0$", plan["plan"]["table"], re.M)
    assert two_minors.get("failed") is True
    assert "kubeadm can upgrade only 1 minor version at a time" in two_minors["msg"], two_minors["msg"]
    assert downgrade.get("failed") is True
    assert downgrade["msg"].startswith("kubernetes_version: invalid value 'v1.34.10'"), downgrade["msg"]
    assert "a minor version is never downgraded" in downgrade["msg"]

    pki = os.path.join(cp.rootfs, "etc/kubernetes/pki")
    key_before = open(os.path.join(pki, "apiserver.key"), "rb").read()
    serial_before = pkiutil.load_certificate(open(os.path.join(pki, "apiserver.crt"), "rb").read()).serial_number

    assert check["changed"] is True and not check.get("failed"), check["_stdout"]
    assert tree_hash(cp.rootfs) == tree and resource_versions(cp) == versions_before, "check mode changed something"
    diffs = {d["after_header"]: d for d in check["diff"]}
    assert "v1.36.3" in diffs["/etc/kubernetes/manifests/kube-apiserver.yaml"]["after"]
    assert all("PRIVATE KEY" not in d["before"] + d["after"] for d in check["diff"])

    [done] = run_tasks(tmp_path, [(module, args)], "--diff", name="apply")
    assert not done.get("failed"), done["_stdout"]
    assert "PRIVATE KEY" not in done["_stdout"]
    assert without_stamp(done["changed_files"]) == without_stamp(check["changed_files"])
    assert [c["action"] for c in check["manifests"]] == ["upgraded"] * 4, "check mode did not predict the manifests"
    assert done["changed_objects"] == check["changed_objects"]
    assert "ConfigMap/kube-system/kubeadm-config" in done["changed_objects"]
    assert cluster_version(cp) == "v1.36.3"
    assert [c["action"] for c in done["manifests"]] == ["upgraded"] * 4

    after = {c: cp.manifest(c) for c in COMPONENTS}
    image = "    image: registry.k8s.io/{}:{}"
    assert changed_lines(before["etcd"], after["etcd"]) == ["-" + image.format("etcd", "3.6.6-0"),
                                                            "+" + image.format("etcd", "3.6.8-0")]
    for component in ("kube-apiserver", "kube-scheduler"):
        assert changed_lines(before[component], after[component]) == [
            "-" + image.format(component, "v1.35.7"), "+" + image.format(component, "v1.36.3")]
    flex = "/usr/libexec/kubernetes/kubelet-plugins/volume/exec"
    assert changed_lines(before["kube-controller-manager"], after["kube-controller-manager"]) == [
        "-" + image.format("kube-controller-manager", "v1.35.7"), "+" + image.format("kube-controller-manager", "v1.36.3"),
        f"-    - mountPath: {flex}", "-      name: flexvolume-dir", f"-      path: {flex}",
        "-      type: DirectoryOrCreate", "-    name: flexvolume-dir", "-  - hostPath:"]

    backups = os.path.join(cp.rootfs, done["backup_manifests_dir"].lstrip("/"))
    assert oct(os.stat(backups).st_mode & 0o777) == "0o700"
    for component in COMPONENTS:
        assert open(os.path.join(backups, component + ".yaml"), "rb").read() == before[component]
    etcd_backup = os.path.join(cp.rootfs, done["backup_etcd_dir"].lstrip("/"), "etcd/member/snap/db")
    assert open(etcd_backup).read() == "etcd data"

    assert open(os.path.join(pki, "apiserver.key"), "rb").read() == key_before, "renewal changed the key"
    assert pkiutil.load_certificate(open(os.path.join(pki, "apiserver.crt"), "rb").read()).serial_number != serial_before
    for cert in ("apiserver", "apiserver-kubelet-client", "front-proxy-client", "apiserver-etcd-client"):
        ca = "front-proxy-ca" if cert == "front-proxy-client" else "etcd/ca" if cert == "apiserver-etcd-client" else "ca"
        verify = subprocess.run([openssl, "verify", "-CAfile", f"{pki}/{ca}.crt", f"{pki}/{cert}.crt"],
                                capture_output=True, text=True)
        assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "admin.conf" in done["renewed"] and "scheduler.conf" in done["renewed"]

    tree = tree_hash(cp.rootfs)
    rerun = run_upgrade(args)
    assert rerun["changed"] is False, (rerun["changed_files"], rerun["changed_objects"])
    assert tree_hash(cp.rootfs) == tree


def test_a_component_that_does_not_become_healthy_is_rolled_back(tmp_path, make_cluster):
    cp = make_cluster("v1.36.3", unhealthy=("kube-scheduler",))
    config = tmp_path / "upgrade.yaml"
    config.write_text("apiVersion: kubeadm.k8s.io/v1beta4\nkind: UpgradeConfiguration\n"
                      "timeouts:\n  upgradeManifests: 6s\n")
    before = {c: cp.manifest(c) for c in COMPONENTS}
    cert = os.path.join(cp.rootfs, "etc/kubernetes/pki/apiserver.crt")
    cert_before = open(cert, "rb").read()
    args = cp.upgrade_args(action="apply", kubernetes_version="v1.37.0", config=str(config), certificate_renewal=False)
    with pytest.raises(staticpodupgrade.UpgradeError) as err:
        run_upgrade(args)
    message = str(err.value)
    assert "kube-scheduler did not come up with its new manifest within 6s" in message, message
    assert "restored the previous manifests of kube-apiserver, kube-controller-manager, kube-scheduler" in message
    for component in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        assert cp.manifest(component) == before[component], f"{component} was not rolled back"
    assert b"registry.k8s.io/etcd:3.7.0-0" in cp.manifest("etcd"), "kubeadm keeps the upgraded etcd"
    assert cluster_version(cp) == "v1.36.3"
    assert open(cert, "rb").read() == cert_before, "certificate_renewal: false renewed a certificate"


def _worker(cp, version_flags: str) -> str:
    """A worker's files at the old version: kubelet.conf (system:node:w1 from the cluster CA), flags, config."""
    from ansible_collections.kubeboot.cluster.plugins.module_utils import kubeconfig
    rootfs = os.path.join(cp.base, "w1")
    pki = os.path.join(cp.rootfs, "etc/kubernetes/pki")
    ca_cert = pkiutil.load_certificate(open(os.path.join(pki, "ca.crt"), "rb").read())
    ca_key = pkiutil.load_private_key(open(os.path.join(pki, "ca.key"), "rb").read())
    key = pkiutil.generate_key()
    cert = pkiutil.issue_certificate(ca_cert, ca_key, key, "system:node:w1", ["system:nodes"], ["client"])
    files = {
        "etc/kubernetes/kubelet.conf": kubeconfig.render_kubeconfig(
            cp.double.url, pkiutil.cert_to_pem(ca_cert), "system:node:w1", pkiutil.cert_to_pem(cert),
            pkiutil.key_to_pem(key)),
        "var/lib/kubelet/kubeadm-flags.env": f'KUBELET_KUBEADM_ARGS="{version_flags}"\n',
        "var/lib/kubelet/config.yaml": "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n",
        "patches/kubeletconfiguration+merge.yaml": "maxPods: 42\n",
    }
    for path, text in files.items():
        os.makedirs(os.path.dirname(os.path.join(rootfs, path)), exist_ok=True)
        with open(os.path.join(rootfs, path), "w", encoding="utf-8") as handle:
            handle.write(text)
    cp.admin.create({"apiVersion": "v1", "kind": "Node", "metadata": {
        "name": "w1", "annotations": {"kubeadm.alpha.kubernetes.io/cri-socket": "unix:///run/containerd/containerd.sock"}}})
    cp.set_node_status("w1", "v1.33.13")
    return rootfs


def test_node_on_a_worker_writes_its_kubelet_config_and_drops_what_the_version_no_longer_writes(make_cluster):
    cp = make_cluster("v1.33.13")
    worker = _worker(cp, "--container-runtime-endpoint=unix:///run/containerd/containerd.sock "
                         "--pod-infra-container-image=registry.k8s.io/pause:3.10 --node-labels=a=b")
    node_args = {"rootfs": worker, "action": "node", "kubernetes_version": "v1.34.10",
                 "patches": os.path.join(worker, "patches")}
    tree, objects = tree_hash(worker), resource_versions(cp)
    with pytest.raises(ConfigError, match="action apply uploaded"):  # outside check mode: apply first
        run_upgrade(node_args)
    with pytest.raises(ConfigError, match="kubeadm can upgrade only 1 minor version at a time"):
        run_upgrade(dict(node_args, kubernetes_version="v1.35.7"), check_mode=True)
    ahead = run_upgrade(node_args, check_mode=True)  # upgrade.yml --check: apply uploaded nothing
    assert ahead["kubernetes_version"] == "v1.34.10" and ahead["current_version"] == "v1.33.13"
    assert any(w.startswith("check mode: planned at v1.34.10") for w in ahead["warnings"]), ahead["warnings"]
    assert tree_hash(worker) == tree and resource_versions(cp) == objects, "check mode changed something"

    done = run_upgrade(cp.upgrade_args(action="apply", kubernetes_version="v1.34.10"))
    assert done["changed"] and cluster_version(cp) == "v1.34.10"
    with pytest.raises(ConfigError, match="action apply uploaded"):
        run_upgrade(dict(node_args, kubernetes_version="v1.35.7"))
    result = run_upgrade(node_args)
    assert without_stamp(result["changed_files"]) == without_stamp(ahead["changed_files"]), \
        "check mode mispredicted the files"
    assert result["changed_objects"] == ahead["changed_objects"] == ["Node/w1"]
    predicted = {d["after_header"]: d["after"] for d in ahead["diff"]}
    for path in ("/var/lib/kubelet/config.yaml", "/var/lib/kubelet/kubeadm-flags.env"):
        assert predicted[path] == open(os.path.join(worker, path.lstrip("/")), encoding="utf-8").read(), path
    assert result["control_plane"] is False and result["node_name"] == "w1"
    assert result["kubelet_version"] == "v1.33.13", "the worker's own Node was not read"  # upgrade.yml restarts on it
    assert result["phases"]["run"] == ["preflight", "control-plane", "kubelet-config", "addon/coredns",
                                       "addon/kube-proxy", "post-upgrade"]
    read = lambda path: open(os.path.join(worker, path), encoding="utf-8").read()  # noqa: E731
    config = yaml.safe_load(read("var/lib/kubelet/config.yaml"))
    assert config["containerRuntimeEndpoint"] == "unix:///run/containerd/containerd.sock"  # NodeLocalCRISocket, 1.34
    assert config["maxPods"] == 42 and config["clusterDNS"] == ["10.96.0.10"]
    assert read("var/lib/kubelet/instance-config.yaml") == \
        'containerRuntimeEndpoint: "unix:///run/containerd/containerd.sock"\n'
    assert read("var/lib/kubelet/kubeadm-flags.env") == \
        'KUBELET_KUBEADM_ARGS="--pod-infra-container-image=registry.k8s.io/pause:3.10 --node-labels=a=b"\n'
    node = cp.admin.get("Node", "w1")
    assert "kubeadm.alpha.kubernetes.io/cri-socket" not in (node["metadata"].get("annotations") or {})
    assert result["patches"]["applied"] == ["kubeletconfiguration+merge.yaml: merge patch to kubeletconfiguration"]
    again = run_upgrade({"rootfs": worker, "action": "node", "patches": os.path.join(worker, "patches")})
    assert again["changed"] is False, (again["changed_files"], again["changed_objects"])


def test_node_on_a_second_control_plane_after_apply_then_the_addons(tmp_path, make_cluster, etcd_server, openssl):
    """kubeadm's HA order: apply on cp1 leaves CoreDNS and kube-proxy while cp2 runs the old version; node on cp2
    (through ansible-playbook) is planned in check mode before apply (upgrade.yml --check) and changes nothing,
    then after apply upgrades cp2's static Pods exactly as check mode said, renews its certificates with their
    keys, and upgrades the addons; a rerun changes nothing."""
    cp = make_cluster("v1.35.7")
    cp2 = cp.add_control_plane("cp2", etcd_url=etcd_server.endpoint)
    try:
        os.makedirs(os.path.join(cp2.rootfs, "var/lib/etcd/member/snap"))
        with open(os.path.join(cp2.rootfs, "var/lib/etcd/member/snap/db"), "w", encoding="utf-8") as handle:
            handle.write("cp2's etcd data")
        module = "kubeboot.cluster.kubeadm_upgrade"
        node_args = cp2.upgrade_args(action="node", kubernetes_version="v1.36.3")
        before = {c: cp2.manifest(c) for c in COMPONENTS}
        tree, objects = tree_hash(cp2.rootfs), resource_versions(cp)
        [ahead] = run_tasks(tmp_path, [(module, node_args, {"check_mode": True})], name="ahead")
        assert not ahead.get("failed"), ahead["_stdout"]
        assert ahead["kubernetes_version"] == "v1.36.3" and ahead["control_plane"] is True
        assert [c["action"] for c in ahead["manifests"]] == ["upgraded"] * 4, ahead["manifests"]
        assert tree_hash(cp2.rootfs) == tree and resource_versions(cp) == objects, "check mode changed something"

        applied = run_upgrade(cp.upgrade_args(action="apply", kubernetes_version="v1.36.3"))
        for addon in ("addon/coredns", "addon/kube-proxy"):
            assert applied["api"][addon].get("skipped") == \
                "not all control plane instances have been upgraded: cp2", applied["api"][addon]
        proxy_image = lambda: cp.admin.get("DaemonSet", "kube-proxy", "kube-system")[  # noqa: E731
            "spec"]["template"]["spec"]["containers"][0]["image"]
        assert proxy_image().endswith(":v1.35.7")

        pki = os.path.join(cp2.rootfs, "etc/kubernetes/pki")
        key_before = open(os.path.join(pki, "apiserver.key"), "rb").read()
        serial_before = pkiutil.load_certificate(open(os.path.join(pki, "apiserver.crt"), "rb").read()).serial_number
        [done] = run_tasks(tmp_path, [(module, node_args)], "--diff", name="node")
        assert not done.get("failed"), done["_stdout"]
        assert "PRIVATE KEY" not in done["_stdout"]
        assert [c["action"] for c in done["manifests"]] == ["upgraded"] * 4
        assert without_stamp(done["changed_files"]) == without_stamp(ahead["changed_files"]), \
            "check mode mispredicted cp2's files"
        after = {c: cp2.manifest(c) for c in COMPONENTS}
        for component in ("kube-apiserver", "kube-scheduler"):
            assert changed_lines(before[component], after[component]) == [
                f"-    image: registry.k8s.io/{component}:v1.35.7", f"+    image: registry.k8s.io/{component}:v1.36.3"]
        assert changed_lines(before["etcd"], after["etcd"]) == ["-    image: registry.k8s.io/etcd:3.6.6-0",
                                                                "+    image: registry.k8s.io/etcd:3.6.8-0"]
        backups = os.path.join(cp2.rootfs, done["backup_manifests_dir"].lstrip("/"))
        assert all(open(os.path.join(backups, c + ".yaml"), "rb").read() == before[c] for c in COMPONENTS)
        etcd_backup = os.path.join(cp2.rootfs, done["backup_etcd_dir"].lstrip("/"), "etcd/member/snap/db")
        assert open(etcd_backup).read() == "cp2's etcd data"
        assert open(os.path.join(pki, "apiserver.key"), "rb").read() == key_before, "renewal changed the key"
        assert pkiutil.load_certificate(open(os.path.join(pki, "apiserver.crt"), "rb").read()).serial_number \
            != serial_before
        verify = subprocess.run([openssl, "verify", "-CAfile", f"{pki}/ca.crt", f"{pki}/apiserver.crt"],
                                capture_output=True, text=True)
        assert verify.returncode == 0, verify.stdout + verify.stderr
        assert not done["api"]["addon/kube-proxy"].get("skipped"), done["api"]["addon/kube-proxy"]
        assert proxy_image().endswith(":v1.36.3"), "the last control plane did not upgrade kube-proxy"
        assert cluster_version(cp) == "v1.36.3"

        tree = tree_hash(cp2.rootfs)
        rerun = run_upgrade(node_args)
        assert rerun["changed"] is False, (rerun["changed_files"], rerun["changed_objects"])
        assert tree_hash(cp2.rootfs) == tree
    finally:
        cp2.stop(double=False)
