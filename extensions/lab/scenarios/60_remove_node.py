"""remove_node.yml of a worker: --check changes nothing; then it is drained, reset and its Node deleted,
verified from outside (kubectl get nodes, podman exec: its kubeadm files gone, the kubelet inactive); a
rerun changes nothing."""
from __future__ import annotations

import os

# what kubeadm_join writes on a worker (the drop-in stays: it is the kubelet package's file)
WORKER_FILES = ("/etc/kubernetes/kubelet.conf", "/etc/kubernetes/bootstrap-kubelet.conf", "/etc/kubernetes/pki",
                "/var/lib/kubelet/config.yaml", "/var/lib/kubelet/instance-config.yaml",
                "/var/lib/kubelet/kubeadm-flags.env", "/var/lib/kubelet/pki")


def present(lab, node: str) -> list:
    script = "for p in " + " ".join(WORKER_FILES) + "; do [ -e \"$p\" ] && echo \"$p\"; done; true"
    return lab.exec(node, "sh", "-c", script).split()


def node_names(lab) -> list:
    return [line.split("/", 1)[1] for line in lab.kubectl("get", "nodes", "-o", "name").stdout.split()]


def run(lab) -> None:
    node = lab.prefix + "w1"
    playbook = os.path.join(lab.playbooks, "remove_node.yml")
    before = present(lab, node)
    if node not in node_names(lab) or "/etc/kubernetes/kubelet.conf" not in before:
        raise lab.Error(f"{node} is not a joined worker before the scenario: {before}")

    lab.playbook(playbook, check=True, extra_vars={"node": node})
    if node not in node_names(lab) or present(lab, node) != before:
        raise lab.Error("remove_node.yml --check changed the cluster or the node")

    recap = lab.playbook(playbook, extra_vars={"node": node})
    if not recap.get(node, {}).get("changed"):
        raise lab.Error(f"remove_node.yml changed nothing on {node}: {recap}")
    if node in node_names(lab):
        raise lab.Error(f"kubectl get nodes still lists {node}")
    left = present(lab, node)
    if left:
        raise lab.Error(f"{node} still has kubeadm's files: {left}")
    state = lab.exec(node, "systemctl", "is-active", "kubelet", check=False).strip()
    if state != "inactive":
        raise lab.Error(f"the kubelet on {node} is {state!r}, wanted inactive")
    rest = [name for name in lab.nodes if name != node]
    lab.wait_ready(rest)
    print(f"{node}: removed (not in kubectl get nodes, its files gone, kubelet inactive); {', '.join(rest)} Ready")

    again = lab.playbook(playbook, extra_vars={"node": node})
    changed = {host: r["changed"] for host, r in again.items() if r["changed"]}
    if changed:
        raise lab.Error(f"remove_node.yml again changed something: {changed}")
    print("remove_node.yml again: changed=0")
