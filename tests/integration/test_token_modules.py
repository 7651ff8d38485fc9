"""kubeadm_token / kubeadm_token_info / bootstrap_token lookup through ansible-playbook -vvv
against the API double: behaviour, check mode, idempotence, and no token secret in the log."""
from __future__ import annotations

import pytest

from ansible_collections.kubeboot.cluster.plugins.module_utils import bootstraptoken, pubkeypin
from ansible_collections.kubeboot.cluster.plugins.module_utils import apiclient, tokens
from ansible_collections.kubeboot.cluster.plugins.module_utils.apiwriter import ApiWriter
from tests.support.playbook import play as _play

GIVEN = "k8sbot.0123456789abcdef"


def test_token_modules_playbook(api_double, tmp_path):
    double = api_double()
    kc = double.admin_kubeconfig
    common = {"kubeconfig": kc}
    results, log = _play(tmp_path, [
        {"name": "lookup", "ansible.builtin.set_fact": {
            "generated": "{{ lookup('kubeboot.cluster.bootstrap_token') }}"}, "register": "lk"},
        {"name": "check", "kubeboot.cluster.kubeadm_token": dict(common, token=GIVEN), "check_mode": True,
         "register": "check"},
        {"name": "given", "kubeboot.cluster.kubeadm_token": dict(common, token=GIVEN, ttl="0",
                                                                 description="given"), "register": "given",
         "diff": True},
        {"name": "given again", "kubeboot.cluster.kubeadm_token": dict(common, token=GIVEN, ttl="0",
                                                                       description="given"),
         "register": "given_again"},
        {"name": "join", "kubeboot.cluster.kubeadm_token": dict(common, print_join_command=True),
         "register": "join"},
        {"name": "join again", "kubeboot.cluster.kubeadm_token": dict(common, print_join_command=True),
         "register": "join_again"},
        {"name": "info", "kubeboot.cluster.kubeadm_token_info": common, "register": "info"},
        {"name": "absent", "kubeboot.cluster.kubeadm_token": dict(common, token=GIVEN[:6], state="absent"),
         "register": "absent"},
        {"name": "absent again", "kubeboot.cluster.kubeadm_token": dict(common, token=GIVEN, state="absent"),
         "register": "absent_again"},
        {"name": "bad key use", "kubeboot.cluster.kubeadm_token": dict(common, certificate_key="ab" * 32),
         "register": "bad", "ignore_errors": True},
        {"name": "bad key format", "kubeboot.cluster.kubeadm_token": dict(
            common, print_join_command=True, reuse=False, certificate_key="zz" * 31 + " --ignore"),
         "register": "bad_key", "ignore_errors": True},
    ], "tokens")
    assert tokens.is_valid_token(results["lk"]["ansible_facts"]["generated"])
    assert results["check"]["changed"] is True
    assert results["given"]["changed"] is True
    assert results["given_again"]["changed"] is False
    assert results["given"]["diff"]["after"] == "k8sbot\n" and results["given"]["diff"]["before"] == ""
    join = results["join"]
    assert join["changed"] is True and tokens.is_valid_token(join["token"])
    pin = pubkeypin.bundle_pins(double.ca_pem)[0]
    assert join["join_command"] == (f"kubeadm join {double.url[8:]} --token {join['token']} "
                                    f"--discovery-token-ca-cert-hash {pin} ")
    assert results["join_again"]["changed"] is False and results["join_again"]["token"] == join["token"]
    # the same facts, structured for kubeadm_join: the pin is the openssl pipeline's (test-vectors)
    assert join["join"] == {"api_server_endpoint": double.url[8:], "token": join["token"],
                            "discovery_token_ca_cert_hash": [pin]}
    ids = {row["id"]: row for row in results["info"]["tokens"]}
    assert ids["k8sbot"]["ttl"] == "<forever>" and ids["k8sbot"]["description"] == "given"
    assert results["info"]["table"].splitlines()[0].split() == ["TOKEN", "TTL", "EXPIRES", "USAGES",
                                                                "DESCRIPTION", "EXTRA", "GROUPS"]
    assert results["absent"]["changed"] is True and results["absent_again"]["changed"] is False
    assert results["bad"]["failed"] and "print_join_command" in results["bad"]["msg"]
    # a malformed certificate key fails before a token is created, without repeating the key
    assert results["bad_key"]["failed"] and "certificate_key" in results["bad_key"]["msg"]
    assert "zz" * 31 not in log

    # the given token's secret never shows up in the -vvv log; the generated one only in the
    # results the user asked for (join / join again), never in the info listing
    assert GIVEN[7:] not in log
    generated_secret = join["token"][7:]
    info_section = log.split("TASK [info]")[1].split("TASK [absent]")[0]
    assert generated_secret not in info_section

    # the API state matches: only the generated token is left
    client = apiclient.Client.from_kubeconfig(open(kc, encoding="utf-8").read())
    left = [tokens.parse_token_secret(s)["token"] for s in bootstraptoken.list_token_secrets(ApiWriter(client))]
    assert left == [join["token"]]


@pytest.mark.slow  # make test-slow / test-all (CI runs both suites)
def test_token_ttl_expiry_is_cleaned_up(api_double, tmp_path):
    """A short-lived token made by the module shows in kubeadm_token_info, then the double's
    tokencleaner (like kube-controller-manager's) deletes it once it expires."""
    double = api_double()
    common = {"kubeconfig": double.admin_kubeconfig}
    results, _log = _play(tmp_path, [
        {"name": "short", "kubeboot.cluster.kubeadm_token": dict(common, token=GIVEN, ttl="2s"),
         "register": "short"},
        {"name": "listed", "kubeboot.cluster.kubeadm_token_info": common, "register": "listed"},
        {"name": "expire", "ansible.builtin.pause": {"seconds": 4}},
        {"name": "gone", "kubeboot.cluster.kubeadm_token_info": common, "register": "gone"},
    ], "ttl")
    assert results["short"]["changed"] is True
    listed = {row["id"]: row for row in results["listed"]["tokens"]}
    assert listed["k8sbot"]["expires"] is not None and listed["k8sbot"]["ttl"] in ("0s", "1s", "2s")
    assert "k8sbot" not in {row["id"] for row in results["gone"]["tokens"]}
