"""discovery.py: pins (test-vectors §2), JWS (§1), token discovery against the API double,
including the attacks it must refuse, and file discovery (local and HTTPS)."""
from __future__ import annotations

import base64
import http.server
import os
import ssl
import threading

import pytest
import yaml

from ansible_collections.kubeboot.cluster.plugins.module_utils.apiwriter import ApiWriter
from ansible_collections.kubeboot.cluster.plugins.module_utils import bootstraptoken, pubkeypin, rbac
from ansible_collections.kubeboot.cluster.plugins.module_utils import discovery, tokens
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import ConfigError, DiscoveryError
from cryptography import x509

from tests.support import testpki
from tests.support.vectors import CERT1, CERT2, PIN1, PIN2
from tests.support.apiserver import ApiDouble, UserInfo
from tests.support.joinlab import ADMIN_TOKEN, TOKEN, Lab



# --- pins ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["xyz", "0011223344", PIN1 + PIN1, "sha256:" + "0" * 63, "md5:" + "0" * 64,
                                   "sha256:" + "g" * 64, "", "sha256:" + PIN1[7:] + "00"])
def test_pin_rejected(value):
    with pytest.raises(ConfigError) as exc:
        pubkeypin.parse(value)
    assert "discovery_token_ca_cert_hash" in str(exc.value)


def test_pin_uppercase_accepted():
    assert pubkeypin.parse(PIN1.upper()) == PIN1
    assert pubkeypin.PinSet([PIN1.upper()]).check(x509.load_pem_x509_certificate(CERT1.encode()))


def test_bare_hex_accepted_with_warning():
    warnings = []
    assert pubkeypin.parse(PIN1[7:], warnings=warnings) == PIN1
    assert warnings and "sha256" in warnings[0]


def test_pin_set_matching():
    cert1 = x509.load_pem_x509_certificate(CERT1.encode())
    cert2 = x509.load_pem_x509_certificate(CERT2.encode())
    only1 = pubkeypin.PinSet([PIN1])
    assert only1.check(cert1) and not only1.check(cert2)
    assert pubkeypin.PinSet([PIN2, PIN1]).check([cert2])  # any pin, any cert
    assert not pubkeypin.PinSet([]).check([cert1, cert2])


# --- JWS (test-vectors §1) -----------------------------------------------------------------------

CONTENT = "Hello from the other side. I must have called a thousand times."


@pytest.mark.parametrize("content,secret,expected", [
    (CONTENT, "my voice is my passcode",
     "eyJhbGciOiJIUzI1NiIsImtpZCI6Impvc2h1YSJ9..VShe2taLd-YTrmWuRkcL_8QTNDHYxQIEBsAYYiIj1_8"),
    ("", "my voice is my passcode",
     "eyJhbGciOiJIUzI1NiIsImtpZCI6Impvc2h1YSJ9..7Ui1ALizW4jXphVUB7xUqC9vLYLL9RZeOFfVLoB7Tgk"),
    (CONTENT, "", "eyJhbGciOiJIUzI1NiIsImtpZCI6Impvc2h1YSJ9..UfkqvDGiIFxrMnFseDj9LYJOLNrvjW8aHhF71mvvAs8"),
])
def test_jws_vectors(content, secret, expected):
    assert tokens.verify_detached_jws(content, expected, "joshua", secret)
    assert not tokens.verify_detached_jws(content, expected + "foo", "joshua", secret)
    assert not tokens.verify_detached_jws(content + " ", expected, "joshua", secret)


# --- token discovery against the API double -------------------------------------------------------

@pytest.fixture
def lab(tmp_path):
    lab = Lab(str(tmp_path))
    yield lab
    lab.stop()


def _discover(lab, **kw):
    args = dict(endpoint=lab.endpoint, token=TOKEN, pins=[lab.pin], timeout=10, interval=0.2)
    args.update(kw)
    return discovery.token_discovery(**args)


def test_token_discovery_succeeds_and_waits_for_the_signer(lab):
    found = _discover(lab)  # the double's bootstrapsigner signs a moment after seeding
    assert found.server == lab.url
    assert found.ca_pem.strip() == lab.ca_pem.strip()
    assert found.ca_hash == lab.pin


def test_wrong_pin_fails_at_once(lab):
    lab.wait_signed()
    with pytest.raises(DiscoveryError, match="CA pin check failed") as exc:
        _discover(lab, pins=[PIN1], timeout=60, interval=30)
    assert lab.pin in str(exc.value)


def test_wrong_token_secret_fails_at_once(lab):
    lab.wait_signed()
    with pytest.raises(DiscoveryError, match="JWS signature check failed"):
        _discover(lab, token="abcdef.ffffffffffffffff", timeout=60, interval=30)


def test_unknown_token_times_out_naming_missing_signature(lab):
    with pytest.raises(DiscoveryError, match="timed out.*no JWS signature for token id 'zzzzzz'"):
        _discover(lab, token="zzzzzz.0123456789abcdef", timeout=1)


def test_no_pin_and_no_skip_explains_how_to_get_the_hash(lab):
    with pytest.raises(DiscoveryError) as exc:
        _discover(lab, pins=[])
    assert "openssl x509 -pubkey" in str(exc.value) and "print_join_command" in str(exc.value)


def test_unsafe_skip_still_needs_a_valid_jws(lab):
    lab.wait_signed()
    found = _discover(lab, pins=[], unsafe_skip=True)
    assert found.server == lab.url
    with pytest.raises(DiscoveryError, match="JWS signature check failed"):
        _discover(lab, pins=[], unsafe_skip=True, token="abcdef.ffffffffffffffff")


@pytest.fixture
def mitm(tmp_path, lab):
    """A second API server with its own CA, serving a cluster-info that names itself, with a JWS
    forged under a guessed secret (or none)."""
    cert_dir = str(tmp_path / "mitm")
    testpki.write_cert_dir(cert_dir)
    double = ApiDouble(cert_dir, controllers=False,
                       static_tokens={ADMIN_TOKEN: UserInfo("x", ["system:masters"])}).start()
    with open(os.path.join(cert_dir, "ca.crt"), "rb") as f:
        ca = f.read()
    from ansible_collections.kubeboot.cluster.plugins.module_utils import apiclient
    admin = apiclient.Client(double.url, ca_pem=ca, token=ADMIN_TOKEN)
    cm = bootstraptoken.cluster_info_configmap(double.url, ca)
    for obj in rbac.cluster_info_rbac() + [cm]:
        ApiWriter(admin).ensure(obj)
    yield double, admin, cm
    double.stop()


def test_mitm_with_forged_jws_is_refused(mitm):
    double, admin, cm = mitm
    content = cm["data"]["kubeconfig"]
    cm["data"]["jws-kubeconfig-abcdef"] = tokens.detached_jws(content, "abcdef", "guessedsecret000")
    ApiWriter(admin).ensure(cm)
    with pytest.raises(DiscoveryError, match="JWS signature check failed"):
        discovery.token_discovery(f"127.0.0.1:{double.port}", TOKEN, [PIN1], timeout=5, interval=0.2)
    # even without pins (unsafe skip) a forged signature is refused
    with pytest.raises(DiscoveryError, match="JWS signature check failed"):
        discovery.token_discovery(f"127.0.0.1:{double.port}", TOKEN, [], unsafe_skip=True, timeout=5)


def test_mitm_without_jws_is_refused(mitm):
    double, _admin, _cm = mitm
    with pytest.raises(DiscoveryError, match="no JWS signature"):
        discovery.token_discovery(f"127.0.0.1:{double.port}", TOKEN, [PIN1], timeout=1, interval=0.2)


def test_mitm_replaying_the_real_signed_cluster_info_fails_the_pin_or_tls(lab, mitm):
    """An attacker replaying the genuine signed cluster-info cannot make us trust its own CA:
    the CA in it is the real one, so the TLS re-fetch against the attacker fails."""
    lab.wait_signed()
    double, admin, cm = mitm
    real = lab.admin.get("ConfigMap", "cluster-info", "kube-public")
    cm["data"] = real["data"]
    ApiWriter(admin).ensure(cm)
    with pytest.raises(DiscoveryError, match="TLS re-fetch check failed"):
        discovery.token_discovery(f"127.0.0.1:{double.port}", TOKEN, [lab.pin], timeout=5, interval=0.2)


# --- file discovery ---------------------------------------------------------------------------------

def _discovery_kubeconfig(server: str, ca_pem: bytes, user=None) -> str:
    doc = {"apiVersion": "v1", "kind": "Config",
           "clusters": [{"name": "c", "cluster": {"server": server,
                                                  "certificate-authority-data": base64.b64encode(ca_pem).decode()}}],
           "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}], "current-context": "x",
           "users": [{"name": "u", "user": user or {}}]}
    return yaml.safe_dump(doc)


def test_file_discovery_local_without_credentials_uses_token(lab, tmp_path):
    path = tmp_path / "discovery.conf"
    path.write_text(_discovery_kubeconfig(lab.url, lab.ca_pem))
    found = discovery.file_discovery(str(path), TOKEN, timeout=5)
    assert found.token == TOKEN and found.server == lab.url and found.method == "file"
    assert found.cluster_info  # refreshed from cluster-info over verified TLS
    with pytest.raises(DiscoveryError, match="no credentials"):
        discovery.file_discovery(str(path), "", timeout=5)


def test_file_discovery_with_credentials_and_endpoint_refresh(lab, tmp_path):
    path = tmp_path / "discovery.conf"
    path.write_text(_discovery_kubeconfig(lab.url, lab.ca_pem, {"token": TOKEN}))
    # with credentials: cluster-info is bound to system:anonymous only -> 403, TLS verified, proceed
    warnings = []
    found = discovery.file_discovery(str(path), "", timeout=5, warnings=warnings)
    assert found.token == TOKEN and found.server == lab.url
    assert any("403" in w for w in warnings)
    # without credentials (anonymous read): the cluster moved its advertised endpoint: cluster-info names another one -> adopted, warned
    moved = f"https://cp1:{lab.double.port}"
    ApiWriter(lab.admin).ensure(bootstraptoken.cluster_info_configmap(moved, lab.ca_pem))
    path.write_text(_discovery_kubeconfig(lab.url, lab.ca_pem))
    warnings = []
    found = discovery.file_discovery(str(path), TOKEN, timeout=5, warnings=warnings)
    assert found.token == TOKEN
    assert found.server == moved and any("differs" in w for w in warnings)


def test_file_discovery_wrong_ca_is_refused(lab, tmp_path):
    other = testpki.new_ca()
    path = tmp_path / "discovery.conf"
    path.write_text(_discovery_kubeconfig(lab.url, other.cert_pem))
    with pytest.raises(DiscoveryError, match="TLS check failed"):
        discovery.file_discovery(str(path), TOKEN, timeout=5)


@pytest.fixture
def https_file_server(tmp_path):
    cert_dir = str(tmp_path / "web")
    ca = testpki.write_cert_dir(cert_dir, hosts=("127.0.0.1", "localhost"))
    content = {"body": b""}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200 if self.path == "/cluster-info.yaml" else 404)
            self.end_headers()
            if self.path == "/cluster-info.yaml":
                self.wfile.write(content["body"])

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(cert_dir, "apiserver.crt"), os.path.join(cert_dir, "apiserver.key"))
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{httpd.server_address[1]}", os.path.join(cert_dir, "ca.crt"), content
    httpd.shutdown()


def test_file_discovery_https(lab, https_file_server):
    base, ca_file, content = https_file_server
    content["body"] = _discovery_kubeconfig(lab.url, lab.ca_pem).encode()
    found = discovery.file_discovery(base + "/cluster-info.yaml", TOKEN, discovery_ca_file=ca_file, timeout=5)
    assert found.server == lab.url and found.ca_pem.strip() == lab.ca_pem.strip()
    # without the web server's CA the download itself is refused
    with pytest.raises(DiscoveryError, match="cannot fetch"):
        discovery.file_discovery(base + "/cluster-info.yaml", TOKEN, timeout=5)


@pytest.mark.parametrize("user_key", ["tokenFile", "client-key"])
def test_https_discovery_file_may_not_name_local_files(lab, https_file_server, tmp_path, user_key):
    """A downloaded discovery file naming a local file (e.g. tokenFile: /etc/...) would make the node
    read it and send it (as a bearer token) to the server the file names: refused before any request."""
    base, ca_file, content = https_file_server
    local = tmp_path / "node-secret"
    local.write_text("node-local-secret\n")
    user = {user_key: str(local)}
    if user_key == "client-key":
        user["client-certificate-data"] = base64.b64encode(lab.ca_pem).decode()
    content["body"] = _discovery_kubeconfig(lab.url, lab.ca_pem, user).encode()
    with pytest.raises(DiscoveryError, match="local file") as exc:
        discovery.file_discovery(base + "/cluster-info.yaml", TOKEN, discovery_ca_file=ca_file, timeout=5)
    assert "node-local-secret" not in str(exc.value)
