"""playbooks/token.yml and playbooks/certs.yml, run as kubeboot.cluster.<name> with a localhost
inventory: tokens created (join command printed), listed and deleted in the API double; certificates
renewed within a window, then nothing more."""
from __future__ import annotations

import re
import sys

from ansible_collections.kubeboot.cluster.plugins.module_utils import (
    apiclient, bootstraptoken, config, kubeconfig, manifests, pki, pubkeypin)
from ansible_collections.kubeboot.cluster.plugins.module_utils.apiwriter import ApiWriter
from ansible_collections.kubeboot.cluster.plugins.module_utils.files import HostFS, Writer
from tests.support.playbook import ansible_playbook

RECAP = re.compile(r"localhost\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")


def _run(tmp_path, name: str, **extra) -> tuple:
    inventory = tmp_path / "inventory.ini"
    inventory.write_text(f"[kube_control_plane]\nlocalhost ansible_connection=local "
                         f"ansible_python_interpreter={sys.executable} ansible_become=false\n")
    argv = ["-i", str(inventory), f"kubeboot.cluster.{name}"]
    for key, value in extra.items():
        argv += ["-e", f"{key}={value}"]
    proc = ansible_playbook(*argv)
    recap = RECAP.search(proc.stdout)
    assert proc.returncode == 0 and recap, proc.stdout + proc.stderr
    return proc.stdout, int(recap.group(2))


def _token_ids(double) -> list:
    client = apiclient.Client.from_kubeconfig(open(double.admin_kubeconfig, encoding="utf-8").read())
    return sorted(s["metadata"]["name"] for s in bootstraptoken.list_token_secrets(ApiWriter(client)))


def test_token_playbook(tmp_path, api_double):
    double = api_double()
    common = {"token_kubeconfig": double.admin_kubeconfig}
    out, changed = _run(tmp_path, "token", token_ttl="2h", token_description="for-workers", **common)
    pin = pubkeypin.bundle_pins(double.ca_pem)[0]
    match = re.search(r"kubeadm join 127\.0\.0\.1:%d --token ([a-z0-9]{6})\.[a-z0-9]{16} "
                      r"--discovery-token-ca-cert-hash %s" % (double.port, re.escape(pin)), out)
    assert match and changed == 1, out
    token_id = match.group(1)
    assert _token_ids(double) == [f"bootstrap-token-{token_id}"]
    _out, changed = _run(tmp_path, "token", token_ttl="2h", token_description="for-workers", **common)
    assert changed == 0, "a matching token is reused"

    out, changed = _run(tmp_path, "token", token_action="list", **common)
    assert "TOKEN" in out and f"{token_id}.****************" in out and "for-workers" in out and changed == 0

    _out, changed = _run(tmp_path, "token", token_action="delete", token_value=token_id, **common)
    assert changed == 1 and _token_ids(double) == []


def test_certs_playbook_renews_within_the_window(tmp_path):
    rootfs = str(tmp_path / "root")
    cfg = config.sample_init_config(paths={"cluster.encryptionAlgorithm": "ECDSA-P256",
                                           "cluster.certificateValidityPeriod": "1h0m0s"})
    fs = HostFS(rootfs)
    writer = Writer(fs)
    pki.ensure_certificates(cfg, fs, writer)
    kubeconfig.ensure_kubeconfigs(cfg, fs, writer)
    manifests.ensure_manifests(cfg, fs, writer)

    out, changed = _run(tmp_path, "certs", certs_rootfs=rootfs, certs_action="renew", certs_renew_before="720h")
    assert changed == 1 and "kube-apiserver" in out, out
    assert "CERTIFICATE AUTHORITY" in out and "etcd-healthcheck-client" in out  # the report after the renewal
    assert re.search(r"apiserver\s+\w{3} \d\d, \d{4} \d\d:\d\d UTC\s+364d\s+ca\s+no", out), out
    _out, changed = _run(tmp_path, "certs", certs_rootfs=rootfs, certs_action="renew", certs_renew_before="720h")
    assert changed == 0
