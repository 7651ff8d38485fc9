"""Secrets (issue 12): every module run through ansible-playbook with -vvv, --diff and
ANSIBLE_LOG_PATH, in normal and check mode and with a bad input: no token, certificate key, private
key or kubeconfig credential appears in the output or the log. The join facts of kubeadm_init stay
usable when the user gave the token (Ansible would otherwise mask them)."""
from __future__ import annotations

import base64
import glob
import json
import os
import re
import subprocess
import sys

import pytest
import yaml

from ansible_collections.kubeboot.cluster.plugins.module_utils import init, kubeconfig

from tests.conftest import COLLECTIONS_ROOT
from tests.support.apiserver.server import ApiDouble
from tests.support.apiserver.testing import free_port
from tests.support.hardening import init_params
from tests.support.joinlab import ADMIN_TOKEN, TOKEN, Lab
from tests.support.staticpods import FakeKubelet, loopback_block, wait_etcd
from tests.support.upgradelab import ControlPlane

pytestmark = pytest.mark.hardening("secrets")

INIT_TOKEN = "qwerty.leakleakleakleak"
MODULE_TOKEN = "zxcvbn.secretsecretsecr"
CERT_KEY = "c0ffee" * 10 + "c0de"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    lab = Lab(str(tmp_path_factory.mktemp("lab")))
    lab.wait_signed()
    yield lab
    lab.stop()


def _playbook(tmp_path, name: str, tasks: list, *extra) -> tuple:
    """Run tasks with -vvv --diff and a log file; returns (results by register name, everything printed + logged)."""
    out = tmp_path / f"{name}.json"
    registered = [t["register"] for t in tasks]
    tasks = tasks + [{"name": "save", "ansible.builtin.copy": {
        "content": "{{ {" + ", ".join(f"'{r}': {r}" for r in registered) + "} | to_json }}", "dest": str(out),
        "mode": "0600"}, "check_mode": False, "diff": False, "no_log": True}]
    path = tmp_path / f"{name}.yml"
    path.write_text(yaml.safe_dump([{"name": name, "hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
    log = tmp_path / f"{name}.log"
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_ROOT, ANSIBLE_LOCALHOST_WARNING="false",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="false", ANSIBLE_NOCOLOR="1", ANSIBLE_LOG_PATH=str(log))
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-vvv", "--diff",
                           "-i", "localhost,", "-c", "local", "-e", f"ansible_python_interpreter={sys.executable}",
                           str(path), *extra], capture_output=True, text=True, env=env, timeout=900)
    assert out.exists(), proc.stdout[-5000:] + proc.stderr[-5000:]
    printed = proc.stdout + proc.stderr + (log.read_text() if log.exists() else "")
    assert "-vvv" in printed or "ansible-playbook" in printed  # the log and output are really there
    return json.loads(out.read_text()), printed


def _key_material(*roots) -> list:
    """Every base64 line of every private key under the trees (key files, kubelet client pems, the
    kubeconfigs' client keys) that is not also a line of public material there (an EC key holds its
    public key, whose base64 may line up with a certificate's): none may be printed."""
    keys, public = [], []
    for root in roots:
        for path in glob.glob(os.path.join(root, "**", "*.key"), recursive=True) + \
                glob.glob(os.path.join(root, "**", "kubelet-client-*.pem"), recursive=True):
            if os.path.islink(path):  # kubelet-client-current.pem points at a host path; its target is listed too
                continue
            with open(path) as handle:
                _split_pem(handle.read(), keys, public)
        for path in glob.glob(os.path.join(root, "**", "*.crt"), recursive=True) + \
                glob.glob(os.path.join(root, "**", "*.pub"), recursive=True):
            with open(path) as handle:
                public.append(handle.read())
        for path in glob.glob(os.path.join(root, "etc/kubernetes/*.conf")):
            with open(path) as handle:
                doc = yaml.safe_load(handle)
            for user in doc.get("users") or []:
                data = (user.get("user") or {}).get("client-key-data")
                if data:
                    _split_pem(base64.b64decode(data).decode(), keys, public)
    public_text = "\n".join(public)
    found = [line for line in keys if line not in public_text]
    assert found, f"no private key material found under {roots}"
    return found


def _split_pem(text: str, keys: list, public: list) -> None:
    """The base64 lines of the private key blocks of a PEM text into keys, other blocks into public."""
    block, private = [], False
    for line in text.splitlines():
        if line.startswith("-----BEGIN"):
            block, private = [], "PRIVATE KEY" in line
        elif line.startswith("-----END"):
            (keys.extend(block) if private else public.append("\n".join(block)))
        elif line:
            block.append(line)


def _assert_no_secret(printed: str, secrets: list) -> None:
    leaked = [s for s in secrets if s and s in printed]
    assert leaked == [], f"{len(leaked)} secret(s) printed, e.g. {leaked[0][:12]}..." if leaked else ""


def test_init_module(tmp_path):
    rootfs = str(tmp_path / "cp1")
    bad = init_params(rootfs, token=INIT_TOKEN.upper())
    good = init_params(rootfs, token=INIT_TOKEN, certificate_key=CERT_KEY, skip_token_print=True)
    results, printed = _playbook(tmp_path, "init", [
        {"name": "bad token", "kubeboot.cluster.kubeadm_init": bad, "register": "bad", "ignore_errors": True},
        {"name": "check", "kubeboot.cluster.kubeadm_init": good, "register": "check", "check_mode": True},
        {"name": "init", "kubeboot.cluster.kubeadm_init": good, "register": "first"},
        {"name": "rerun", "kubeboot.cluster.kubeadm_init": good, "register": "again"},
    ])
    assert results["bad"]["failed"] and "token" in results["bad"]["msg"]
    assert results["check"]["changed"] and results["first"]["changed"] and not results["again"]["changed"]
    assert "<secret: content not shown>" in printed  # the diffs were shown, redacted
    _assert_no_secret(printed, [INIT_TOKEN, INIT_TOKEN.upper(), INIT_TOKEN.split(".")[1], CERT_KEY]
                      + _key_material(rootfs))


def test_join_and_token_modules(lab, tmp_path):
    worker = str(tmp_path / "w1")
    module_mode = str(tmp_path / "w2")
    admin_root = str(tmp_path / "cp")
    os.makedirs(os.path.join(admin_root, "etc/kubernetes"))
    with open(os.path.join(admin_root, "etc/kubernetes/admin.conf"), "w") as handle:
        handle.write(kubeconfig.render_kubeconfig(lab.url, lab.ca_pem, "lab-admin", token=ADMIN_TOKEN))
    token_args = {"rootfs": admin_root, "api_timeout": 10}
    results, printed = _playbook(tmp_path, "join", [
        {"name": "join check", "kubeboot.cluster.kubeadm_join": lab.join_params(worker), "register": "check",
         "check_mode": True},
        {"name": "join", "kubeboot.cluster.kubeadm_join": lab.join_params(worker), "register": "join"},
        {"name": "join module mode", "kubeboot.cluster.kubeadm_join": lab.join_params(
            module_mode, node_name="worker2", tls_bootstrap_mode="module"), "register": "module"},
        {"name": "token", "kubeboot.cluster.kubeadm_token": dict(token_args, token=MODULE_TOKEN, ttl="1h",
                                                                  print_join_command=True), "register": "token"},
        {"name": "token list", "kubeboot.cluster.kubeadm_token_info": token_args, "register": "info"},
        {"name": "token delete", "kubeboot.cluster.kubeadm_token": dict(token_args, state="absent",
                                                                         token=MODULE_TOKEN), "register": "absent"},
    ])
    assert results["join"]["changed"] and results["module"]["changed"] and results["token"]["changed"]
    assert results["absent"]["changed"] and results["info"]["tokens"]
    _assert_no_secret(printed, [TOKEN, TOKEN.split(".")[1], MODULE_TOKEN, MODULE_TOKEN.split(".")[1], ADMIN_TOKEN]
                      + _key_material(worker, module_mode))


def test_join_facts_keep_a_given_token(tmp_path):
    """kubeadm_init with a given token: the `join` facts hold the token itself, not Ansible's no_log
    placeholder, so a later kubeadm_join can use them; the invocation stays masked. (The task is
    no_log, as a play that registers a join token should be.)"""
    rootfs = str(tmp_path / "cp1")
    port = free_port()
    args = init_params(rootfs, apiserver_advertise_address="127.0.0.1", apiserver_bind_port=port, token=INIT_TOKEN)
    init.run_init(args)  # the local phases: the double serves the PKI they wrote
    double = ApiDouble(os.path.join(rootfs, "etc/kubernetes/pki"), port=port, controllers_interval="0.2s",
                       kubernetes_version="v1.34.10").start()
    try:
        double.put({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "cp1"}, "spec": {}})
        results, printed = _playbook(tmp_path, "facts", [
            {"name": "init", "kubeboot.cluster.kubeadm_init": dict(args, skip_phases=["addon"]), "register": "init",
             "no_log": True},
            {"name": "rerun", "kubeboot.cluster.kubeadm_init": dict(args, skip_phases=["addon"]), "register": "again"}])
    finally:
        double.stop()
    for name in ("init", "again"):
        result = results[name]
        assert not result.get("failed"), result
        assert result["join"]["token"] == INIT_TOKEN and f"--token {INIT_TOKEN} " in result["join_command"]
    # the no_log task printed nothing of it; the other returns it on purpose but masks its invocation
    # (Ansible keeps `invocation` out of registered results: it is read from the -vvv output)
    invocation = printed[printed.index('"invocation": {'):]
    invocation = invocation[:invocation.index('"join"')]
    assert '"token": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"' in invocation and INIT_TOKEN not in invocation
    assert all('"join_command"' in line or line.strip() in (f'"token": "{INIT_TOKEN}"', f'"token": "{INIT_TOKEN}",')
               for line in printed.splitlines() if INIT_TOKEN in line)
    init_parts = re.findall(r"TASK \[init\].*?TASK \[rerun\]", printed, re.S)
    assert len(init_parts) == 2  # the output and the log
    assert not any(INIT_TOKEN in part or INIT_TOKEN.split(".")[1] in part for part in init_parts)


APPLY_SECRET = "apply-stringdata-s3cr3t-value"
APPLY_DATA = "apply-data-s3cr3t-value"


def test_other_modules(tmp_path):
    """kube_apply (a Secret), kube_node, kubeadm_certs, kubeadm_kubeconfig, kubeadm_config,
    kubeadm_version and kubeadm_reset on a control plane served by the API double, each in check
    mode and for real: no key of the tree, no kubeconfig credential, no Secret value printed or logged."""
    rootfs = str(tmp_path / "cp1")
    port = free_port()
    init.run_init(init_params(rootfs, apiserver_advertise_address="127.0.0.1", apiserver_bind_port=port))
    secrets = _key_material(rootfs)
    double = ApiDouble(os.path.join(rootfs, "etc/kubernetes/pki"), port=port, controllers_interval="0.2s",
                       kubernetes_version="v1.34.10").start()
    double.put({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "cp1"}, "spec": {}})
    objects = yaml.safe_dump_all([
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "leak-test"}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "leak-test"}, "type": "Opaque",
         "stringData": {"password": APPLY_SECRET}, "data": {"other": base64.b64encode(APPLY_DATA.encode()).decode()}}])
    api = {"rootfs": rootfs, "kubeconfig": "/etc/kubernetes/super-admin.conf"}  # init's RBAC phases did not run
    tasks = [
        {"name": "apply check", "kubeboot.cluster.kube_apply": dict(api, objects=objects), "register": "apply_check",
         "check_mode": True},
        {"name": "apply", "kubeboot.cluster.kube_apply": dict(api, objects=objects), "register": "apply"},
        {"name": "apply again", "kubeboot.cluster.kube_apply": dict(api, objects=objects), "register": "apply_again"},
        {"name": "cordon", "kubeboot.cluster.kube_node": dict(api, name="cp1", state="cordoned"), "register": "cordon"},
        {"name": "uncordon", "kubeboot.cluster.kube_node": dict(api, name="cp1", state="uncordoned"),
         "register": "uncordon"},
        {"name": "certs", "kubeboot.cluster.kubeadm_certs": api, "register": "certs"},
        {"name": "renew check", "kubeboot.cluster.kubeadm_certs": dict(api, renew=["all"], restart_static_pods=False),
         "register": "renew_check", "check_mode": True},
        {"name": "renew", "kubeboot.cluster.kubeadm_certs": dict(api, renew=["all"], restart_static_pods=False),
         "register": "renew"},
        {"name": "user kubeconfig", "kubeboot.cluster.kubeadm_kubeconfig": {
            "rootfs": rootfs, "client_name": "alice", "org": ["developers"], "path": "/root/alice.conf"},
         "register": "user"},
        {"name": "config print", "kubeboot.cluster.kubeadm_config": {"print": "init"}, "register": "config"},
        {"name": "version", "kubeboot.cluster.kubeadm_version": {}, "register": "version"},
        {"name": "reset check", "kubeboot.cluster.kubeadm_reset": {"rootfs": rootfs, "force": True},
         "register": "reset_check", "check_mode": True},
        {"name": "reset", "kubeboot.cluster.kubeadm_reset": {"rootfs": rootfs, "force": True}, "register": "reset"},
    ]
    try:
        results, printed = _playbook(tmp_path, "others", tasks)
    finally:
        double.stop()
    failed = {name: r.get("msg") for name, r in results.items() if r.get("failed")}
    assert failed == {}, failed
    assert results["apply"]["changed"] and not results["apply_again"]["changed"]
    assert results["renew"]["changed"] and results["reset"]["changed"]
    assert "Secret/leak-test/s" in printed and "<secret: content not shown>" in printed  # diffs were shown
    with open(os.path.join(rootfs, "root/alice.conf"), encoding="utf-8") as handle:
        alice = yaml.safe_load(handle)["users"][0]["user"]["client-key-data"]
    secrets += [base64.b64decode(alice).decode().splitlines()[1], alice[:60]]
    _assert_no_secret(printed, secrets + [APPLY_SECRET, APPLY_DATA, base64.b64encode(APPLY_SECRET.encode()).decode(),
                                          base64.b64encode(APPLY_DATA.encode()).decode()])


def test_upgrade_and_etcd_modules(tmp_path, etcd_server):
    """kubeadm_upgrade (plan, apply in check mode and for real: certificates renewed, kubeconfigs rewritten)
    and kubeadm_etcd (member_list, health, snapshot in check mode and for real) against real etcd with the
    node's certificates: no key of the tree (before or after the renewal) printed or logged."""
    cp = ControlPlane(str(tmp_path / "cluster"), "v1.35.7", store=etcd_server.store())
    try:
        os.makedirs(os.path.join(cp.rootfs, "var/lib/etcd/member/snap"))
        with open(os.path.join(cp.rootfs, "var/lib/etcd/member/snap/db"), "w", encoding="utf-8") as handle:
            handle.write("etcd data")
        cp.start_kubelet(etcd_url=etcd_server.endpoint)
        secrets = _key_material(cp.rootfs)
        upgrade = cp.upgrade_args(kubernetes_version="v1.36.3")
        results, printed = _playbook(tmp_path, "upgrade", [
            {"name": "plan", "kubeboot.cluster.kubeadm_upgrade": dict(upgrade, action="plan"), "register": "plan"},
            {"name": "apply check", "kubeboot.cluster.kubeadm_upgrade": dict(upgrade, action="apply"),
             "register": "apply_check", "check_mode": True},
            {"name": "apply", "kubeboot.cluster.kubeadm_upgrade": dict(upgrade, action="apply"), "register": "apply"},
        ])
    finally:
        cp.stop()
    failed = {name: r.get("msg") for name, r in results.items() if r.get("failed")}
    assert failed == {}, failed
    assert results["apply"]["changed"] and "admin.conf" in results["apply"]["renewed"]
    assert "kube-apiserver.yaml" in printed  # the manifests' diffs were shown
    _assert_no_secret(printed, secrets + _key_material(cp.rootfs))

    # etcd of a node of its own, started from its manifest (TLS with the node's etcd certificates)
    address = loopback_block() + "1"
    rootfs = str(tmp_path / "etcd-node")
    init.run_init(init_params(rootfs, apiserver_advertise_address=address, kubernetes_version="stable-1.34"))
    kubelet = FakeKubelet(None, rootfs, "cp1", address)
    kubelet.watch()
    try:
        wait_etcd(rootfs, kubelet.client_url)
        snapshot = {"rootfs": rootfs, "action": "snapshot", "path": str(tmp_path / "etcd.db")}  # a host path
        results, printed = _playbook(tmp_path, "etcd", [
            {"name": "members", "kubeboot.cluster.kubeadm_etcd": {"rootfs": rootfs, "action": "member_list"},
             "register": "members"},
            {"name": "health", "kubeboot.cluster.kubeadm_etcd": {"rootfs": rootfs, "action": "health"},
             "register": "health"},
            {"name": "snapshot check", "kubeboot.cluster.kubeadm_etcd": snapshot, "register": "snapshot_check",
             "check_mode": True},
            {"name": "snapshot", "kubeboot.cluster.kubeadm_etcd": snapshot, "register": "snapshot"},
        ])
    finally:
        kubelet.stop()
    failed = {name: r.get("msg") for name, r in results.items() if r.get("failed")}
    assert failed == {}, failed
    assert results["health"]["healthy"] and results["snapshot"]["changed"]
    assert not results["snapshot_check"].get("failed") and (tmp_path / "etcd.db").stat().st_size > 0
    _assert_no_secret(printed, _key_material(rootfs))
