"""site.yml --check --diff: no change on the running lab, and a fresh node is planned, not touched."""
from __future__ import annotations

import json

TREE = ("find /etc/kubernetes /var/lib/kubelet /etc/containerd -xdev -type f -print0 2>/dev/null "
        "| sort -z | xargs -0 sha256sum | sha256sum")


def tree_hash(lab, node: str) -> str:
    return lab.exec(node, "sh", "-c", TREE).strip()


def resource_versions(lab) -> dict:
    kinds = "nodes,namespaces,configmaps,secrets,daemonsets,deployments,clusterroles,clusterrolebindings,roles,rolebindings"
    items = json.loads(lab.kubectl("get", kinds, "-A", "-o", "json").stdout)["items"]
    return {(i["kind"], i["metadata"].get("namespace", ""), i["metadata"]["name"]): i["metadata"]["resourceVersion"]
            for i in items if i["kind"] != "Node"}  # Nodes heartbeat on their own


def run(lab) -> None:
    nodes = sorted(lab.nodes)
    fresh = lab.prefix + "w3"
    lab.remove_container(fresh)  # a fresh node below, also when the scenario runs again
    before = {node: tree_hash(lab, node) for node in nodes}
    versions = resource_versions(lab)
    recap = lab.playbook(check=True, limit=",".join(nodes))
    changed = {host: r["changed"] for host, r in recap.items()}
    if any(changed.values()):
        raise lab.Error(f"--check on the running lab predicts changes: {changed}")
    after = {node: tree_hash(lab, node) for node in nodes}
    if after != before:
        raise lab.Error(f"--check changed files on {[n for n in nodes if after[n] != before[n]]}")
    now = resource_versions(lab)
    moved = sorted(str(key) for key in versions if now.get(key) != versions[key])
    if moved or set(now) != set(versions):
        raise lab.Error(f"--check changed API objects: {moved or sorted(set(now) ^ set(versions))}")
    print(f"--check: changed=0 on {', '.join(nodes)}; files and {len(versions)} API objects unchanged")

    lab.add_node("w3")
    recap = lab.playbook(check=True, limit=fresh)
    if set(recap) - {fresh} or not recap.get(fresh, {}).get("changed"):
        raise lab.Error(f"--check --limit {fresh} on a fresh node: recap {recap}")
    leftovers = lab.exec(fresh, "sh", "-c", "ls -A /etc/kubernetes /var/lib/kubelet 2>/dev/null; "
                                            "dpkg-query -W kubelet 2>/dev/null; true").strip()
    if leftovers:
        raise lab.Error(f"--check on the fresh node {fresh} wrote or installed: {leftovers!r}")
    if resource_versions(lab) != now:
        raise lab.Error(f"--check --limit {fresh} changed API objects")
    print(f"--check --limit {fresh}: {recap[fresh]['changed']} changes planned, nothing written")
