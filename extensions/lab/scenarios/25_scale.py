"""scale.yml with the whole inventory: only the new worker (w4) is set up and joined; every node
already in the cluster reports changed=0 and keeps its kubelet.conf; a rerun changes nothing."""
from __future__ import annotations

import os


def run(lab) -> None:
    joined = [n for n in lab.nodes if lab.exec(n, "test", "-e", "/etc/kubernetes/kubelet.conf", check=False) == ""]
    stamps = {n: lab.exec(n, "stat", "-c", "%Y", "/etc/kubernetes/kubelet.conf").strip() for n in joined}
    fresh = lab.add_node("w4")
    playbook = os.path.join(lab.playbooks, "scale.yml")
    recap = lab.playbook(playbook)
    if not recap.get(fresh, {}).get("changed") or recap[fresh]["failed"]:
        raise lab.Error(f"scale.yml did not set up {fresh}: {recap}")
    busy = {host: r["changed"] for host, r in recap.items() if host != fresh and r["changed"]}
    if busy:
        raise lab.Error(f"scale.yml changed nodes already in the cluster: {busy}")
    lab.wait_ready(sorted(joined) + [fresh])
    touched = [n for n in joined if lab.exec(n, "stat", "-c", "%Y", "/etc/kubernetes/kubelet.conf").strip() != stamps[n]]
    if touched:
        raise lab.Error(f"scale.yml rewrote kubelet.conf on {touched}")
    again = lab.playbook(playbook)
    if any(r["changed"] for r in again.values()):
        raise lab.Error(f"a second scale.yml changed something: {again}")
    print(f"scale.yml: {fresh} set up and joined (Ready), {len(joined)} joined nodes untouched, rerun changed=0")
