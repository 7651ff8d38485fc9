"""site.yml --limit <new worker> adds it with a short-lived token made on the first control plane."""
from __future__ import annotations

import base64
import json


def run(lab) -> None:
    fresh = lab.prefix + "w3"
    if fresh not in lab.exec(lab.control_plane(), "getent", "hosts", fresh, check=False):
        lab.add_node("w3")  # when run alone (10_check_mode starts it)
    others = {node: lab.exec(node, "stat", "-c", "%Y", "/etc/kubernetes/kubelet.conf").strip()
              for node in lab.nodes}
    recap = lab.playbook(limit=fresh)
    if set(recap) != {fresh} or recap[fresh]["failed"]:
        raise lab.Error(f"--limit {fresh}: recap {recap}")
    lab.wait_ready(sorted(lab.nodes) + [fresh])
    touched = [n for n in lab.nodes if lab.exec(n, "stat", "-c", "%Y", "/etc/kubernetes/kubelet.conf").strip()
               != others[n]]
    if touched:
        raise lab.Error(f"--limit {fresh} touched {touched}")
    secrets = json.loads(lab.kubectl("get", "secrets", "-n", "kube-system", "-o", "json").stdout)["items"]
    join_tokens = [s for s in secrets
                   if s.get("type") == "bootstrap.kubernetes.io/token" and _description(s) == "kubeboot.cluster join"]
    if not join_tokens:
        raise lab.Error("no short-lived join token (description 'kubeboot.cluster join') in kube-system")
    again = lab.playbook(limit=fresh)
    if again[fresh]["changed"]:
        raise lab.Error(f"a second --limit {fresh} changed {again[fresh]['changed']} things")
    print(f"{fresh} joined and Ready, other nodes untouched, rerun changed=0")


def _description(secret: dict) -> str:
    return base64.b64decode(secret.get("data", {}).get("description", "") or b"").decode()
