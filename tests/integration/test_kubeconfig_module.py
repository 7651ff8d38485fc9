"""kubeadm_kubeconfig through ansible-playbook -vvv against the API double on real etcd: the user's
kubeconfig works with real kubectl, RBAC applies to it (kubectl auth can-i), a token kubeconfig
authenticates as its bootstrap token, a rerun changes nothing, no key reaches the log."""
from __future__ import annotations

import json
import subprocess

import yaml

from tests.support.playbook import play


def _kubectl(kubectl, kubectl_env, kubeconfig: str, *args) -> subprocess.CompletedProcess:
    return subprocess.run([kubectl, "--kubeconfig", kubeconfig, "--request-timeout", "20s", *args],
                          capture_output=True, text=True, env=kubectl_env, timeout=60)


def test_user_kubeconfig_with_kubectl_and_rbac(tmp_path, api_double, etcd_server, kubectl, kubectl_env):
    double = api_double(store=etcd_server.store())
    config = tmp_path / "kubeadm.yaml"
    config.write_text(
        "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint:\n"
        "  advertiseAddress: 127.0.0.1\nnodeRegistration:\n  name: cp1\n---\n"
        f"apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nkubernetesVersion: v1.35.2\n"
        f"controlPlaneEndpoint: 127.0.0.1:{double.port}\nencryptionAlgorithm: ECDSA-P256\n")
    alice = str(tmp_path / "alice.conf")
    bot = str(tmp_path / "bot.conf")
    user = {"client_name": "alice", "org": ["developers"], "config": str(config), "cert_dir": double.cert_dir,
            "validity_period": "24h"}
    results, log = play(tmp_path, [
        {"name": "check", "kubeboot.cluster.kubeadm_kubeconfig": dict(user, path=alice), "check_mode": True,
         "register": "check"},
        {"name": "alice", "kubeboot.cluster.kubeadm_kubeconfig": dict(user, path=alice), "register": "alice",
         "diff": True},
        {"name": "alice again", "kubeboot.cluster.kubeadm_kubeconfig": dict(user, path=alice),
         "register": "again"},
        {"name": "returned", "kubeboot.cluster.kubeadm_kubeconfig": dict(user, client_name="carol", org=[]),
         "register": "returned", "no_log": True},
        {"name": "refused", "kubeboot.cluster.kubeadm_kubeconfig": dict(user, client_name="dave"),
         "register": "refused", "ignore_errors": True},
        {"name": "token", "kubeboot.cluster.kubeadm_token": {"kubeconfig": double.admin_kubeconfig, "ttl": "1h"},
         "register": "token", "no_log": True},
        {"name": "bot", "kubeboot.cluster.kubeadm_kubeconfig": {
            "client_name": "bot", "token": "{{ token.token }}", "config": str(config), "cert_dir": double.cert_dir,
            "path": bot}, "register": "bot"},
    ], "users")
    assert results["check"]["changed"] is True
    assert results["alice"]["changed"] is True and results["again"]["changed"] is False, log
    assert results["alice"]["server"] == double.url
    assert results["refused"]["failed"] and "no_log" in results["refused"]["msg"]

    whoami = _kubectl(kubectl, kubectl_env, alice, "auth", "whoami", "-o", "json")
    assert whoami.returncode == 0, whoami.stderr
    info = json.loads(whoami.stdout)["status"]["userInfo"]
    assert info["username"] == "alice" and "developers" in info["groups"]

    def can_i(*args) -> bool:
        proc = _kubectl(kubectl, kubectl_env, alice, "auth", "can-i", *args)
        assert proc.stdout.strip() in ("yes", "no"), proc.stdout + proc.stderr
        return proc.stdout.strip() == "yes"

    assert not can_i("list", "pods", "-n", "default")
    binding = tmp_path / "binding.yaml"
    binding.write_text(yaml.safe_dump({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "developers-view", "namespace": "default"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "developers"}]}))
    created = _kubectl(kubectl, kubectl_env, double.admin_kubeconfig, "create", "-f", str(binding))
    assert created.returncode == 0, created.stderr
    assert can_i("list", "pods", "-n", "default")
    assert not can_i("delete", "pods", "-n", "default")
    assert not can_i("list", "pods", "-n", "kube-system")
    listed = _kubectl(kubectl, kubectl_env, alice, "get", "configmaps", "-n", "default")
    assert listed.returncode == 0, listed.stderr
    forbidden = _kubectl(kubectl, kubectl_env, alice, "get", "secrets", "-n", "kube-system")
    assert forbidden.returncode != 0 and "forbidden" in forbidden.stderr.lower()

    token_id = results["token"]["token_id"]
    bot_whoami = _kubectl(kubectl, kubectl_env, bot, "auth", "whoami", "-o", "json")
    assert bot_whoami.returncode == 0, bot_whoami.stderr
    assert json.loads(bot_whoami.stdout)["status"]["userInfo"]["username"] == f"system:bootstrap:{token_id}"

    # no private key or token in the -vvv log: neither the written one nor the returned one
    written = yaml.safe_load(open(alice))["users"][0]["user"]["client-key-data"]
    returned = yaml.safe_load(results["returned"]["kubeconfig"])["users"][0]["user"]["client-key-data"]
    assert written not in log and returned not in log
    assert results["token"]["token"].split(".")[1] not in log
    assert "PRIVATE KEY" not in log
