"""Attacks (issue 12): hostile TLS endpoints on loopback and tampered objects in the API double.
Each is refused with the check named, nothing is written on the joining node, and the bootstrap
token never reaches an endpoint that is not the pinned cluster (the hostile servers record every
byte they receive)."""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time

import pytest
import yaml

from ansible_collections.kubeboot.cluster.plugins.module_utils import apiclient, bootstraptoken, join, pubkeypin, tokens
from ansible_collections.kubeboot.cluster.plugins.module_utils.apiwriter import ApiWriter
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import DiscoveryError, KubebootError

from tests.conftest import COLLECTIONS_ROOT
from tests.support import testpki
from tests.support.hardening import HostileServer, tree_state
from tests.support.joinlab import TOKEN, Lab

pytestmark = pytest.mark.hardening("attacks")

TOKEN_ID, TOKEN_SECRET = TOKEN.split(".")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    lab = Lab(str(tmp_path_factory.mktemp("lab")))
    lab.wait_signed()
    yield lab
    lab.stop()


@pytest.fixture
def hostile():
    started = []

    def start(answer, **kwargs):
        server = HostileServer(answer, **kwargs)
        started.append(server)
        return server
    yield start
    for server in started:
        server.stop()


def _cluster_info(server_url: str, ca_pem: bytes, jws: dict) -> bytes:
    kubeconfig = bootstraptoken.cluster_info_kubeconfig(server_url, ca_pem)
    data = {"kubeconfig": kubeconfig}
    for token_id, secret in jws.items():
        data["jws-kubeconfig-" + token_id] = tokens.detached_jws(kubeconfig, token_id, secret)
    return json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "data": data,
                       "metadata": {"name": "cluster-info", "namespace": "kube-public"}}).encode()


def _serve_cluster_info(body: bytes):
    return lambda path: body if path.startswith("/api/v1/namespaces/kube-public/configmaps/cluster-info") else None


def _join(rootfs, endpoint, pin, **over):
    params = {"rootfs": rootfs, "api_server_endpoint": endpoint, "token": TOKEN,
              "discovery_token_ca_cert_hash": [pin], "node_name": "victim", "ignore_preflight_errors": ["all"],
              "discovery_timeout": "4s"}
    params.update(over)
    return join.run_join(params)


def _refused(tmp_path, run, check: str, server=None, within: float = 30.0):
    rootfs = str(tmp_path / "victim")
    os.makedirs(rootfs)
    started = time.monotonic()
    with pytest.raises(KubebootError) as exc:
        run(rootfs)
    elapsed = time.monotonic() - started
    checks = (check,) if isinstance(check, str) else check
    assert any(c in str(exc.value) for c in checks), str(exc.value)
    assert tree_state(rootfs) == {}, "the victim's tree was written"
    if server is not None:
        assert TOKEN_SECRET.encode() not in server.received, "the token was sent to the hostile endpoint"
        assert b"Authorization" not in server.received
    assert elapsed < within, f"took {elapsed:.1f}s"
    return str(exc.value)


# --- token discovery -----------------------------------------------------------------------------------

def test_ca_bundle_with_the_real_ca_and_the_attackers(lab, hostile, tmp_path):
    """High 1: the attacker knows the token, serves a cluster-info whose CA bundle holds the real CA
    and its own, with a valid JWS. The pin matches the real CA; only the pinned CA is trusted for the
    TLS re-fetch, so the attacker's serving certificate fails it."""
    attacker_ca = testpki.new_ca("attacker")
    holder = {}
    server = hostile(lambda path: holder["body"] if "cluster-info" in path else None, ca=attacker_ca)
    holder["body"] = _cluster_info(f"https://{server.endpoint}", lab.ca_pem + attacker_ca.cert_pem,
                                   {TOKEN_ID: TOKEN_SECRET})
    message = _refused(tmp_path, lambda root: _join(root, server.endpoint, lab.pin), "TLS re-fetch check failed",
                       server)
    assert lab.pin not in message or "pinned" in message


def test_a_genuine_bundle_keeps_only_the_pinned_ca(lab, tmp_path):
    """The same bundle served by the real cluster: the join succeeds, but ca.crt and
    bootstrap-kubelet.conf hold only the pinned CA, and the extra one is named in a warning."""
    extra = testpki.new_ca("unpinned")
    writer = ApiWriter(lab.admin)
    writer.put(bootstraptoken.cluster_info_configmap(lab.url, lab.ca_pem + extra.cert_pem))
    try:
        lab.wait_signed()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:  # the bootstrapsigner re-signs the new content
            cm = lab.admin.get("ConfigMap", "cluster-info", "kube-public")
            if tokens.verify_detached_jws(cm["data"]["kubeconfig"], cm["data"].get("jws-kubeconfig-" + TOKEN_ID, ""),
                                          TOKEN_ID, TOKEN_SECRET):
                break
            time.sleep(0.2)
        rootfs = str(tmp_path / "w")
        result = _join(rootfs, lab.endpoint, lab.pin, node_name="bundle-worker", discovery_timeout="20s")
        ca = open(os.path.join(rootfs, "etc/kubernetes/pki/ca.crt"), "rb").read()
        assert pubkeypin.bundle_pins(ca) == [lab.pin]
        conf = yaml.safe_load(open(os.path.join(rootfs, "etc/kubernetes/bootstrap-kubelet.conf")))
        embedded = base64.b64decode(conf["clusters"][0]["cluster"]["certificate-authority-data"])
        assert pubkeypin.bundle_pins(embedded) == [lab.pin]
        assert any(pubkeypin.pin(extra.cert_pem) in w and "not trusted" in w for w in result["warnings"])
    finally:
        writer.put(bootstraptoken.cluster_info_configmap(lab.url, lab.ca_pem))


def test_plain_mitm_without_a_signature(lab, hostile, tmp_path):
    server = hostile(_serve_cluster_info(b""))
    server.answer = _serve_cluster_info(_cluster_info(f"https://{server.endpoint}", server.ca.cert_pem, {}))
    _refused(tmp_path, lambda root: _join(root, server.endpoint, lab.pin), "no JWS signature", server)


def test_forged_signature(lab, hostile, tmp_path):
    server = hostile(lambda path: None)
    server.answer = _serve_cluster_info(_cluster_info(f"https://{server.endpoint}", server.ca.cert_pem,
                                                      {TOKEN_ID: "guessedsecret000"}))
    _refused(tmp_path, lambda root: _join(root, server.endpoint, lab.pin), "JWS signature check failed", server)


def test_signature_of_another_token_id(lab, hostile, tmp_path):
    server = hostile(lambda path: None)
    server.answer = _serve_cluster_info(_cluster_info(f"https://{server.endpoint}", server.ca.cert_pem,
                                                      {"zzzzzz": TOKEN_SECRET}))
    _refused(tmp_path, lambda root: _join(root, server.endpoint, lab.pin), "no JWS signature for token id 'abcdef'",
             server)


def test_replay_of_the_genuine_signed_cluster_info(lab, hostile, tmp_path):
    genuine = lab.admin.get("ConfigMap", "cluster-info", "kube-public")
    server = hostile(_serve_cluster_info(json.dumps(genuine).encode()))
    _refused(tmp_path, lambda root: _join(root, server.endpoint, lab.pin), "TLS re-fetch check failed", server)


def test_attackers_ca_with_a_valid_signature_and_the_wrong_pin(lab, hostile, tmp_path):
    server = hostile(lambda path: None)
    server.answer = _serve_cluster_info(_cluster_info(f"https://{server.endpoint}", server.ca.cert_pem,
                                                      {TOKEN_ID: TOKEN_SECRET}))
    _refused(tmp_path, lambda root: _join(root, server.endpoint, lab.pin), "CA pin check failed", server)


def test_trickling_server_is_bounded_by_discovery_timeout(lab, hostile, tmp_path):
    """Medium: one byte every 0.3 s never trips a per-read timeout; discovery_timeout (4s) bounds it all."""
    body = _cluster_info("https://127.0.0.1:1", lab.ca_pem, {TOKEN_ID: TOKEN_SECRET})
    server = hostile(_serve_cluster_info(body), trickle=0.3)
    _refused(tmp_path, lambda root: _join(root, server.endpoint, lab.pin), "timed out", server, within=12)


def test_unknown_token_is_refused_naming_the_signature(lab, tmp_path):
    _refused(tmp_path, lambda root: _join(root, lab.endpoint, lab.pin, token="qqqqqq.0123456789abcdef"),
             "no JWS signature for token id 'qqqqqq'")


def test_expired_token_is_refused(lab, tmp_path):
    lab.admin.create(tokens.token_secret("exprd1.0123456789abcdef", expires="2001-01-01T00:00:00Z"))
    _refused(tmp_path, lambda root: _join(root, lab.endpoint, lab.pin, token="exprd1.0123456789abcdef"),
             ("no JWS signature for token id 'exprd1'", "TLS bootstrap token check failed"))


def test_deleted_token_is_refused(lab, tmp_path):
    lab.admin.create(tokens.token_secret("gone01.0123456789abcdef"))
    lab.wait_signed("gone01")
    lab.admin.delete("Secret", "bootstrap-token-gone01", "kube-system")
    # refused at discovery once the signer dropped its signature, or else at the first authenticated read
    _refused(tmp_path, lambda root: _join(root, lab.endpoint, lab.pin, token="gone01.0123456789abcdef"),
             ("no JWS signature for token id 'gone01'", "TLS bootstrap token check failed"))


# --- file discovery -------------------------------------------------------------------------------------

def _discovery_file(tmp_path, server: str, ca_pem: bytes, user: dict) -> str:
    doc = {"apiVersion": "v1", "kind": "Config", "current-context": "x",
           "clusters": [{"name": "c", "cluster": {"server": server,
                                                  "certificate-authority-data": base64.b64encode(ca_pem).decode()}}],
           "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
           "users": [{"name": "u", "user": user}]}
    path = tmp_path / "discovery.conf"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def _file_join(rootfs, path, **over):
    params = {"rootfs": rootfs, "discovery_file": path, "node_name": "victim", "ignore_preflight_errors": ["all"],
              "discovery_timeout": "4s"}
    params.update(over)
    return join.run_join(params)


@pytest.mark.parametrize("cn, orgs", [("kubernetes-admin", ["kubeadm:cluster-admins"]),
                                      ("kubernetes-super-admin", ["system:masters"]),
                                      ("system:node:other", ["system:masters"])])
def test_discovery_file_with_admin_credentials(lab, tmp_path, cn, orgs):
    """Medium: an admin.conf as discovery file would store cluster-admin credentials in
    bootstrap-kubelet.conf on a worker: refused before anything is read from the cluster."""
    ca = testpki.load_ca(lab.pki_dir)
    cert, key = ca.issue(cn, orgs)
    path = _discovery_file(tmp_path, lab.url, lab.ca_pem, {
        "client-certificate-data": base64.b64encode(testpki.cert_pem(cert)).decode(),
        "client-key-data": base64.b64encode(testpki.key_pem(key)).decode()})
    _refused(tmp_path, lambda root: _file_join(root, path), "credentials check failed")


def test_discovery_file_with_a_non_bootstrap_token(lab, tmp_path):
    path = _discovery_file(tmp_path, lab.url, lab.ca_pem, {"token": "lab-admin-token-0123456789"})
    _refused(tmp_path, lambda root: _file_join(root, path), "not a bootstrap token")


def test_discovery_file_pointing_at_an_endpoint_of_another_ca(lab, hostile, tmp_path):
    server = hostile(lambda path: b"{}")
    path = _discovery_file(tmp_path, f"https://{server.endpoint}", lab.ca_pem, {})
    _refused(tmp_path, lambda root: _file_join(root, path, tls_bootstrap_token=TOKEN), "TLS check failed", server)


def test_https_discovery_file_from_an_untrusted_server(lab, hostile, tmp_path):
    server = hostile(lambda path: b"apiVersion: v1\n")
    _refused(tmp_path, lambda root: _file_join(root, f"https://{server.endpoint}/discovery.conf",
                                               tls_bootstrap_token=TOKEN), "cannot fetch", server)


def test_https_discovery_file_for_another_host_name(lab, hostile, tmp_path):
    """The server's certificate names 127.0.0.1 and localhost; asked for as 127.0.0.2 it is refused."""
    server = hostile(lambda path: b"apiVersion: v1\n")
    ca_file = tmp_path / "web-ca.crt"
    ca_file.write_bytes(server.ca.cert_pem)
    url = f"https://127.0.0.2:{server.port}/discovery.conf"
    try:
        _refused(tmp_path, lambda root: _file_join(root, url, tls_bootstrap_token=TOKEN,
                                                   discovery_ca_file=str(ca_file)), "cannot fetch", server)
    except OSError:
        pytest.skip("127.0.0.2 is not routed to loopback here")


def test_https_discovery_file_trickling(lab, hostile, tmp_path):
    server = hostile(lambda path: b"apiVersion: v1\n" * 20, trickle=0.3)
    ca_file = tmp_path / "web-ca.crt"
    ca_file.write_bytes(server.ca.cert_pem)
    _refused(tmp_path, lambda root: _file_join(root, f"https://{server.endpoint}/d.conf", tls_bootstrap_token=TOKEN,
                                               discovery_ca_file=str(ca_file)), "cannot fetch", server, within=12)


def test_api_answer_too_large(hostile, monkeypatch):
    monkeypatch.setattr(apiclient, "MAX_ANSWER_BYTES", 64 * 1024)
    server = hostile(lambda path: b"[" + b"1," * 100000 + b"1]")
    client = apiclient.Client(f"https://{server.endpoint}", insecure=True, retry_timeout=0)
    with pytest.raises(KubebootError, match="larger than 65536 bytes"):
        client.request("GET", "/api/v1/namespaces", retry=False)


# --- a sample through ansible-playbook ------------------------------------------------------------------

def test_playbook_sample(lab, hostile, tmp_path):
    """The CA-bundle attack, a forged signature, the wrong pin and an admin.conf as discovery file,
    each a kubeadm_join task of one play (ignore_errors): every one fails naming its check, the
    victim's tree stays empty, the hostile endpoints never see the token."""
    attacker_ca = testpki.new_ca("attacker")
    holder = {}
    bundle = hostile(lambda path: holder["bundle"] if "cluster-info" in path else None, ca=attacker_ca)
    holder["bundle"] = _cluster_info(f"https://{bundle.endpoint}", lab.ca_pem + attacker_ca.cert_pem,
                                     {TOKEN_ID: TOKEN_SECRET})
    forged = hostile(lambda path: None)
    forged.answer = _serve_cluster_info(_cluster_info(f"https://{forged.endpoint}", forged.ca.cert_pem,
                                                      {TOKEN_ID: "guessedsecret000"}))
    unpinned = hostile(lambda path: None)
    unpinned.answer = _serve_cluster_info(_cluster_info(f"https://{unpinned.endpoint}", unpinned.ca.cert_pem,
                                                        {TOKEN_ID: TOKEN_SECRET}))
    cert, key = testpki.load_ca(lab.pki_dir).issue("kubernetes-admin", ["kubeadm:cluster-admins"])
    admin_file = _discovery_file(tmp_path, lab.url, lab.ca_pem, {
        "client-certificate-data": base64.b64encode(testpki.cert_pem(cert)).decode(),
        "client-key-data": base64.b64encode(testpki.key_pem(key)).decode()})
    rootfs = str(tmp_path / "victim")
    os.makedirs(rootfs)
    token_join = {"rootfs": rootfs, "token": TOKEN, "discovery_token_ca_cert_hash": [lab.pin], "node_name": "victim",
                  "ignore_preflight_errors": ["all"], "discovery_timeout": "4s"}
    cases = [("bundle", dict(token_join, api_server_endpoint=bundle.endpoint), "TLS re-fetch check failed"),
             ("forged", dict(token_join, api_server_endpoint=forged.endpoint), "JWS signature check failed"),
             ("pin", dict(token_join, api_server_endpoint=unpinned.endpoint), "CA pin check failed"),
             ("admin-file", {"rootfs": rootfs, "discovery_file": admin_file, "node_name": "victim",
                             "ignore_preflight_errors": ["all"], "discovery_timeout": "4s"}, "credentials check failed")]
    tasks = [{"name": name, "kubeboot.cluster.kubeadm_join": args, "register": f"r_{i}", "ignore_errors": True}
             for i, (name, args, _check) in enumerate(cases)]
    out = tmp_path / "results.json"
    tasks.append({"name": "save", "ansible.builtin.copy": {
        "content": "{{ [" + ", ".join(f"r_{i}" for i in range(len(cases))) + "] | to_json }}",
        "dest": str(out), "mode": "0600"}, "no_log": True})
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump([{"name": "attacks", "hosts": "localhost", "gather_facts": False,
                                         "tasks": tasks}]))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_ROOT, ANSIBLE_LOCALHOST_WARNING="false",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="false", ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,",
                           "-c", "local", "-e", f"ansible_python_interpreter={sys.executable}", str(playbook)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert out.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    for (name, _args, check), result in zip(cases, json.loads(out.read_text())):
        assert result.get("failed") is True, f"{name}: {result}"
        assert check in result["msg"], f"{name}: {check!r} not in {result['msg']!r}"
    assert tree_state(rootfs) == {}
    for server in (bundle, forged, unpinned):
        assert TOKEN_SECRET.encode() not in server.received and b"Authorization" not in server.received
