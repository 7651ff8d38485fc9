"""Certificates and tokens: certs.yml renews cp1's certificates (new serials, same keys, valid chains,
the API server restarted with its new certificate, real kubectl still answers), the renewal timer
renews nothing inside its window, token.yml creates a token kubectl sees and deletes it, and a rerun
of the control-plane role after the renewal changes nothing."""
from __future__ import annotations

import json
import os
import ssl
import subprocess
import tempfile
import time
import urllib.parse

import yaml

PKI = "/etc/kubernetes/pki"
# certificate -> its CA, as kubeadm's certificate tree has them
LEAVES = {"apiserver": "ca", "apiserver-kubelet-client": "ca", "front-proxy-client": "front-proxy-ca",
          "etcd/server": "etcd/ca", "etcd/peer": "etcd/ca", "etcd/healthcheck-client": "etcd/ca",
          "apiserver-etcd-client": "etcd/ca"}
IMAGES_CHECK = """\
- name: Images through the node's containerd (ctr), in check mode
  hosts: kube_control_plane
  gather_facts: false
  tasks:
    - name: Would pull
      kubeboot.cluster.kubeadm_config:
        images: pull
      check_mode: true
      register: images
    - name: Through ctr, every image
      ansible.builtin.assert:
        that:
          - images.pulled_with == 'ctr'
          - (images.pulled + images.present) | length == images.images | length
"""


def _facts(lab, cp: str) -> dict:
    facts = {}
    for base in LEAVES:
        path = f"{PKI}/{base}.crt"
        facts[base] = (lab.exec(cp, "openssl", "x509", "-noout", "-serial", "-in", path).strip(),
                       lab.exec(cp, "openssl", "x509", "-noout", "-pubkey", "-in", path).strip())
    return facts


def _serving_serial(lab) -> str:
    """The serial of the certificate cp1's API server presents, read over TLS from this host (openssl)."""
    admin = os.path.join(lab.repo, "lab", lab.prefix.rstrip("-"), "admin.conf") if lab.prefix \
        else os.path.join(lab.repo, "lab", "admin.conf")
    with open(admin, encoding="utf-8") as handle:
        url = urllib.parse.urlsplit(yaml.safe_load(handle)["clusters"][0]["cluster"]["server"])
    pem = ssl.get_server_certificate((url.hostname, url.port or 443), timeout=10)
    return subprocess.run(["openssl", "x509", "-noout", "-serial"], input=pem, capture_output=True, text=True,
                          check=True).stdout.strip()


def _wait_serving(lab, serial: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        lab.kubectl("version", check=False)  # refreshes admin.conf (renewed too)
        try:
            last = _serving_serial(lab)
            if last == serial:
                return
        except OSError as exc:  # restarting
            last = str(exc)
        time.sleep(3)
    raise lab.Error(f"the API server still serves {last}, not the renewed certificate {serial}")


def _tokens(lab) -> dict:
    secrets = json.loads(lab.kubectl("get", "secrets", "-n", "kube-system", "-o", "json").stdout)["items"]
    return {s["metadata"]["name"]: s for s in secrets if s.get("type") == "bootstrap.kubernetes.io/token"}


def run(lab) -> None:
    cp = lab.control_plane()
    certs = os.path.join(lab.playbooks, "certs.yml")
    before = _facts(lab, cp)

    recap = lab.playbook(certs, extra_vars={"certs_action": "renew"})
    if not recap.get(cp, {}).get("changed"):
        raise lab.Error(f"certs.yml renewed nothing on {cp}: {recap}")
    after = _facts(lab, cp)
    for base, ca in LEAVES.items():
        if after[base][0] == before[base][0]:
            raise lab.Error(f"{base}: the serial did not change ({after[base][0]})")
        if after[base][1] != before[base][1]:
            raise lab.Error(f"{base}: the renewal changed the key")
        verify = lab.exec(cp, "openssl", "verify", "-CAfile", f"{PKI}/{ca}.crt", f"{PKI}/{base}.crt").strip()
        if not verify.endswith(": OK"):
            raise lab.Error(f"{base}: {verify}")
    print(f"renewed on {cp}: new serials, same keys, chains verify")
    _wait_serving(lab, after["apiserver"][0])
    lab.wait_ready(list(lab.nodes))
    print("the API server serves its renewed certificate; kubectl get nodes: all Ready")

    lab.playbook(certs, extra_vars={"certs_action": "timer"})
    if lab.exec(cp, "systemctl", "is-enabled", "kubeboot-renew-certs.timer", check=False).strip() != "enabled":
        raise lab.Error("kubeboot-renew-certs.timer is not enabled")
    lab.exec(cp, "systemctl", "start", "kubeboot-renew-certs.service")
    journal = lab.exec(cp, "journalctl", "-u", "kubeboot-renew-certs.service", "-o", "cat", "--no-pager")
    if '"renewed": []' not in journal:
        raise lab.Error(f"the renewal timer's run renewed something inside its window: {journal[-800:]}")
    if _facts(lab, cp)["apiserver"][0] != after["apiserver"][0]:
        raise lab.Error("the timer renewed apiserver although it expires in a year")
    print("renewal timer installed; its run renewed nothing (all outside the 720h window)")

    token = os.path.join(lab.playbooks, "token.yml")
    known = set(_tokens(lab))
    lab.playbook(token, extra_vars={"token_description": "lab scenario 30", "token_reuse": False})
    new = [name for name in _tokens(lab) if name not in known]
    if len(new) != 1:
        raise lab.Error(f"token.yml: kubectl sees {len(new)} new bootstrap tokens, wanted 1")
    print(f"token.yml: kubectl get secret -n kube-system shows {new[0]}")
    lab.playbook(token, extra_vars={"token_action": "delete", "token_value": new[0][len("bootstrap-token-"):]})
    if new[0] in _tokens(lab):
        raise lab.Error(f"token.yml delete left {new[0]}")

    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as handle:
        handle.write(IMAGES_CHECK)
    try:
        lab.playbook(handle.name)
    finally:
        os.unlink(handle.name)
    print("kubeadm_config images pull (check mode): through ctr against cp1's containerd")

    rerun = lab.playbook(limit=cp, tags="control-plane")
    if rerun.get(cp, {}).get("changed"):
        raise lab.Error(f"the control-plane role changed {rerun[cp]['changed']} things after the renewal")
    print("control-plane role rerun after the renewal: changed=0")
