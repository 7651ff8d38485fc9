"""reset.yml of the whole lab: refused without confirmation, --check changes nothing, then every node is
reset: no kubeboot file left on any node (find, podman exec), the etcd data dir gone, the kubelet and the
static Pods stopped, a user's file in /etc/kubernetes kept; a rerun changes nothing."""
from __future__ import annotations

import os

USER_FILE = "/etc/kubernetes/my-notes.txt"
FIND = "find /etc/kubernetes /var/lib/kubelet \\( -type f -o -type l \\) 2>/dev/null | sort"


def files(lab, node: str) -> list:
    return lab.exec(node, "sh", "-c", FIND).split()


def run(lab) -> None:
    playbook = os.path.join(lab.playbooks, "reset.yml")
    cp = lab.control_plane()
    names = [line.split("/", 1)[1] for line in lab.kubectl("get", "nodes", "-o", "name").stdout.split()]
    nodes = sorted(set(names) | set(lab.nodes))  # a worker removed by 60_remove_node is checked too
    for node in nodes:
        lab.exec(node, "sh", "-c", f"echo keep > {USER_FILE}")
    before = {node: files(lab, node) for node in nodes}

    try:
        lab.playbook(playbook)  # stdin is not a terminal: the question gets no answer
    except lab.Error:
        pass
    else:
        raise lab.Error("reset.yml ran without confirmation")
    lab.playbook(playbook, check=True)
    if {node: files(lab, node) for node in nodes} != before or cp not in lab.kubectl("get", "nodes").stdout:
        raise lab.Error("reset.yml without confirmation, or with --check, changed a node")

    recap = lab.playbook(playbook, extra_vars={"reset_confirm": "yes", "reset_cleanup_tmp_dir": True})
    failed = {host: r for host, r in recap.items() if r["failed"] or r["unreachable"]}
    if failed:
        raise lab.Error(f"reset.yml failed: {failed}")
    for node in nodes:
        left = files(lab, node)
        if left != [USER_FILE]:
            raise lab.Error(f"{node}: files left after the reset (only {USER_FILE} may stay): {left}")
        if lab.exec(node, "cat", USER_FILE).strip() != "keep":
            raise lab.Error(f"{node}: the user's file changed")
        state = lab.exec(node, "systemctl", "is-active", "kubelet", check=False).strip()
        if state != "inactive":
            raise lab.Error(f"{node}: the kubelet is {state!r}, wanted inactive")
    if lab.exec(cp, "sh", "-c", "[ -e /var/lib/etcd ] && echo present || echo absent").strip() != "absent":
        raise lab.Error(f"{cp}: /var/lib/etcd is still there")
    pods = lab.exec(cp, "sh", "-c", "systemctl list-units --state=active --no-legend 'kubeboot-pod-*' | wc -l").strip()
    if pods != "0":
        raise lab.Error(f"{cp}: {pods} static Pod unit(s) still active")
    probe = "import socket; socket.create_connection(('127.0.0.1', 6443), 3)"
    if lab.exec(cp, "sh", "-c", f'python3 -c "{probe}" 2>/dev/null && echo open || echo closed').strip() != "closed":
        raise lab.Error("the API server still answers after the reset")
    print(f"reset: {', '.join(nodes)} clean (only {USER_FILE} left), kubelets inactive, /var/lib/etcd gone, "
          "the API server down")

    again = lab.playbook(playbook, extra_vars={"reset_confirm": "yes", "reset_cleanup_tmp_dir": True})
    changed = {host: r["changed"] for host, r in again.items() if r["changed"]}
    if changed:
        raise lab.Error(f"reset.yml again changed something: {changed}")
    print("reset.yml again: changed=0")
