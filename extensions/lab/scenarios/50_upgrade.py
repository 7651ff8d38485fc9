"""upgrade.yml one minor (the lab's second package version): --check changes nothing; then, verified from
outside, every Node's kubelet runs the new version and is schedulable again, cp1's static Pod manifests carry
the new image tags, kubeadm-config says the new kubernetesVersion, etcd kept its keys; a rerun changes
nothing, and a downgrade back to the old minor is refused before anything changes."""
from __future__ import annotations

import json
import os
import re

import yaml

MANIFESTS = "/etc/kubernetes/manifests"
COMPONENTS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
# keys that a drain rewrites by design (evicted Pods come back under new names) or that churn anyway
CHURN = ("/registry/pods/", "/registry/events/", "/registry/leases/", "/registry/replicasets/",
         "/registry/endpointslices/", "/registry/controllerrevisions/", "/registry/masterleases/")


def cluster_version(lab) -> str:
    cm = json.loads(lab.kubectl("get", "configmap", "-n", "kube-system", "kubeadm-config", "-o", "json").stdout)
    return yaml.safe_load(cm["data"]["ClusterConfiguration"])["kubernetesVersion"]


def nodes(lab) -> dict:
    items = json.loads(lab.kubectl("get", "nodes", "-o", "json").stdout)["items"]
    return {n["metadata"]["name"]: (n["status"]["nodeInfo"]["kubeletVersion"], bool(n["spec"].get("unschedulable")))
            for n in items}


def manifests(lab, cp: str) -> dict:
    return {c: lab.exec(cp, "cat", f"{MANIFESTS}/{c}.yaml") for c in COMPONENTS + ("etcd",)}


def etcd_keys(lab, cp: str) -> set:
    out = lab.exec(cp, "etcdctl", "--endpoints=https://127.0.0.1:2379", "--cacert=/etc/kubernetes/pki/etcd/ca.crt",
                   "--cert=/etc/kubernetes/pki/apiserver-etcd-client.crt",
                   "--key=/etc/kubernetes/pki/apiserver-etcd-client.key", "get", "", "--prefix", "--keys-only")
    return {key for key in out.split() if key}


def image_tags(text: str) -> list:
    return [line.split(":")[-1].strip() for line in text.splitlines() if line.strip().startswith("image:")]


def planned_ahead(lab, minor: int) -> list:
    """The hosts whose kubeadm_upgrade action=node the last (--check) run planned at 1.<minor>, the
    version apply would have uploaded (their results, in the -vvv log)."""
    with open(os.path.join(lab.state, "last-playbook.log"), encoding="utf-8") as handle:
        log = handle.read()
    # -vvv prints a result as "changed: [host] => {...}" up to the next host's line
    blocks = re.split(r"^(?:changed|ok|fatal|skipping): \[([^\]\s]+)\]", log, flags=re.M)
    ahead = re.compile(r'"kubernetes_version": "v1\.%d\.\d+"' % minor)
    return sorted({host for host, text in zip(blocks[1::2], blocks[2::2])
                   if '"action": "node"' in text and ahead.search(text)})


def run(lab) -> None:
    playbook = os.path.join(lab.playbooks, "upgrade.yml")
    cp = lab.control_plane()
    old = cluster_version(lab)
    minor = int(old.split(".")[1])
    target_label = f"stable-1.{minor + 1}"
    before_nodes, before_manifests = nodes(lab), manifests(lab, cp)
    before_keys = etcd_keys(lab, cp)
    if any(version != old for version, _ in before_nodes.values()):
        raise lab.Error(f"the lab is not at one version before the upgrade: {before_nodes} (cluster {old})")

    lab.playbook(playbook, check=True, extra_vars={"upgrade_kubernetes_version": target_label})
    if cluster_version(lab) != old or manifests(lab, cp) != before_manifests or nodes(lab) != before_nodes:
        raise lab.Error("upgrade.yml --check changed the cluster")
    planned = planned_ahead(lab, minor + 1)
    workers = sorted(name for name in before_nodes if name != cp)
    if planned != workers:
        raise lab.Error(f"upgrade.yml --check planned the workers {planned} at 1.{minor + 1}, wanted {workers}")
    print(f"upgrade.yml --check to {target_label}: nothing changed; workers {', '.join(planned)} planned at 1.{minor + 1}")

    recap = lab.playbook(playbook, extra_vars={"upgrade_kubernetes_version": target_label})
    failed = {host: r for host, r in recap.items() if r["failed"] or r["unreachable"]}
    if failed:
        raise lab.Error(f"upgrade.yml failed: {failed}")
    new = cluster_version(lab)
    if new == old or int(new.split(".")[1]) != minor + 1:
        raise lab.Error(f"kubeadm-config says {new} after the upgrade from {old} to {target_label}")
    after_nodes = nodes(lab)
    behind = {name: state for name, state in after_nodes.items() if state != (new, False)}
    if behind or set(after_nodes) != set(before_nodes):
        raise lab.Error(f"Nodes not at kubelet {new} and schedulable: {behind or after_nodes}")
    after = manifests(lab, cp)
    for component in COMPONENTS:
        if image_tags(after[component]) != [new]:
            raise lab.Error(f"{cp}:{MANIFESTS}/{component}.yaml has image tags {image_tags(after[component])}, "
                            f"wanted {new}")
    lost = sorted(k for k in before_keys - etcd_keys(lab, cp) if not k.startswith(CHURN))
    if lost:
        raise lab.Error(f"etcd lost {len(lost)} keys in the upgrade: {lost[:10]}")
    print(f"upgraded {old} -> {new}: kubelets {sorted(set(v for v, _ in after_nodes.values()))} on "
          f"{', '.join(sorted(after_nodes))}, none cordoned; {cp} manifests at {new} (etcd "
          f"{image_tags(after['etcd'])}); kubeadm-config {new}; etcd kept its {len(before_keys)} keys")

    again = lab.playbook(playbook, extra_vars={"upgrade_kubernetes_version": new})
    changed = {host: r["changed"] for host, r in again.items() if r["changed"]}
    if changed:
        raise lab.Error(f"upgrade.yml again changed something: {changed}")
    print("upgrade.yml again: changed=0")

    try:
        lab.playbook(playbook, extra_vars={"upgrade_kubernetes_version": old})
    except lab.Error:
        with open(os.path.join(lab.state, "last-playbook.log"), encoding="utf-8") as handle:
            log = handle.read()
        if "a minor version is never downgraded" not in log:
            raise lab.Error(f"upgrade.yml back to {old} failed, but not with the skew rule's refusal") from None
    else:
        raise lab.Error(f"upgrade.yml back to {old} was not refused")
    if cluster_version(lab) != new or manifests(lab, cp) != after:
        raise lab.Error(f"the refused downgrade to {old} changed the cluster")
    print(f"upgrade.yml to {old} (a minor down): refused, nothing changed")
