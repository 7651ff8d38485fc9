"""apiclient.py against a tiny scripted HTTPS server (mutual TLS, stdlib http.server)."""
from __future__ import annotations

import base64
import json
import os
import socket
import ssl
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from ansible_collections.kubeboot.cluster.plugins.module_utils import apiclient, errors, files
from tests.support import testpki


class _State:
    def __init__(self):
        self.objects = {}      # path -> obj
        self.requests = []     # (method, path, headers, body)
        self.script = []       # queued (status, body) answered before the store
        self.rv = 1


class _Handler(BaseHTTPRequestHandler):
    state: _State = None

    def log_message(self, *args):
        pass

    def _send(self, status, body):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        st = self.state
        st.requests.append((self.command, self.path, dict(self.headers), body))
        if st.script:
            status, answer = st.script.pop(0)
            return self._send(status, answer)
        path = self.path.split("?")[0]
        if path == "/healthz":
            return self._send(200, b"ok")
        if self.command == "GET":
            if path in st.objects:
                return self._send(200, st.objects[path])
            if path.endswith("s") and path.count("/") in (3, 5):
                items = [o for p, o in st.objects.items() if p.rsplit("/", 1)[0] == path]
                return self._send(200, {"kind": "List", "apiVersion": "v1", "items": items})
            return self._send(404, {"kind": "Status", "message": f"not found {path}", "reason": "NotFound"})
        if self.command == "POST":
            full = path + "/" + body["metadata"]["name"]
            if full in st.objects:
                return self._send(409, {"kind": "Status", "message": "already exists", "reason": "AlreadyExists"})
            st.rv += 1
            body["metadata"]["resourceVersion"] = str(st.rv)
            body["metadata"]["uid"] = "uid-" + body["metadata"]["name"]
            st.objects[full] = body
            return self._send(201, body)
        if self.command == "PUT":
            live = st.objects.get(path)
            if live is None:
                return self._send(404, {"message": "gone"})
            if body["metadata"].get("resourceVersion") != live["metadata"]["resourceVersion"]:
                return self._send(409, {"message": "the object has been modified", "reason": "Conflict"})
            st.rv += 1
            body["metadata"]["resourceVersion"] = str(st.rv)
            st.objects[path] = body
            return self._send(200, body)
        if self.command == "DELETE":
            if st.objects.pop(path, None) is None:
                return self._send(404, {"message": "not found"})
            return self._send(200, {"kind": "Status", "status": "Success"})
        if self.command == "PATCH":
            return self._send(200, {"patched": body})
        return self._send(405, {"message": "no"})

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle


@pytest.fixture(scope="module")
def pki():
    ca = testpki.new_ca()
    server_cert, server_key = ca.issue("kube-apiserver", server=True, client=False, ips=["127.0.0.1"])
    client_cert, client_key = ca.issue("kubernetes-admin", ["kubeadm:cluster-admins"])
    return {"ca": ca, "server": (testpki.cert_pem(server_cert), testpki.key_pem(server_key)),
            "client": (testpki.cert_pem(client_cert), testpki.key_pem(client_key))}


@pytest.fixture
def server(pki, tmp_path):
    state = _State()
    handler = type("H", (_Handler,), {"state": state})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    (tmp_path / "s.crt").write_bytes(pki["server"][0])
    (tmp_path / "s.key").write_bytes(pki["server"][1])
    ctx.load_cert_chain(str(tmp_path / "s.crt"), str(tmp_path / "s.key"))
    ctx.load_verify_locations(cadata=pki["ca"].cert_pem.decode())
    ctx.verify_mode = ssl.CERT_OPTIONAL
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    state.url = f"https://127.0.0.1:{httpd.server_address[1]}"
    yield state
    httpd.shutdown()
    httpd.server_close()


def _kubeconfig(url, pki, user=None):
    user = user or {"client-certificate-data": base64.b64encode(pki["client"][0]).decode(),
                    "client-key-data": base64.b64encode(pki["client"][1]).decode()}
    return yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "admin@kubernetes",
        "clusters": [{"name": "kubernetes", "cluster": {
            "server": url, "certificate-authority-data": base64.b64encode(pki["ca"].cert_pem).decode()}}],
        "contexts": [{"name": "admin@kubernetes", "context": {"cluster": "kubernetes", "user": "admin"}}],
        "users": [{"name": "admin", "user": user}]})


def _client(server, pki, **kw):
    kw.setdefault("retry_timeout", 2)
    kw.setdefault("sleep", lambda s: None)
    return apiclient.Client.from_kubeconfig(_kubeconfig(server.url, pki), **kw)


def test_inline_keys_leave_nothing_on_disk(server, pki, monkeypatch):
    made = []
    real = tempfile.mkdtemp

    def spy(*a, **kw):
        path = real(*a, **kw)
        made.append((path, os.stat(path).st_mode & 0o777))
        return path
    monkeypatch.setattr(files.tempfile, "mkdtemp", spy)  # key material goes through files.PrivateDir
    client = _client(server, pki)
    assert made and made[0][1] == 0o700
    assert not os.path.exists(made[0][0])
    assert client.healthz()


def test_client_cert_is_presented(server, pki):
    client = _client(server, pki)
    client.get_or_none("ConfigMap", "x", "kube-system")
    assert "Authorization" not in server.requests[-1][2]


def test_from_kubeconfig_files_and_token(server, pki, tmp_path):
    (tmp_path / "ca.crt").write_bytes(pki["ca"].cert_pem)
    (tmp_path / "tok").write_text("sekret-token\n")
    text = yaml.safe_dump({
        "current-context": "c",
        "clusters": [{"name": "k", "cluster": {"server": server.url, "certificate-authority": "ca.crt"}}],
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
        "users": [{"name": "u", "user": {"tokenFile": str(tmp_path / "tok")}}]})
    client = apiclient.Client.from_kubeconfig(text, base_dir=str(tmp_path), sleep=lambda s: None)
    client.get_or_none("Secret", "x", "kube-system")
    assert server.requests[-1][2]["Authorization"] == "Bearer sekret-token"


def test_from_kubeconfig_cert_files(server, pki, tmp_path):
    (tmp_path / "c.crt").write_bytes(pki["client"][0])
    (tmp_path / "c.key").write_bytes(pki["client"][1])
    text = _kubeconfig(server.url, pki, {"client-certificate": str(tmp_path / "c.crt"),
                                         "client-key": str(tmp_path / "c.key")})
    assert apiclient.Client.from_kubeconfig(text).healthz()


def test_bad_kubeconfig():
    with pytest.raises(errors.InvalidValue):
        apiclient.Client.from_kubeconfig({"current-context": "nope", "contexts": [], "clusters": []})


def test_wrong_ca_is_refused(server, pki):
    other = testpki.new_ca()
    client = apiclient.Client(server.url, ca_pem=other.cert_pem, retry_timeout=0)
    with pytest.raises(errors.APIError) as info:
        client.get("ConfigMap", "x", "kube-system")
    assert "cannot reach" in str(info.value)


def test_insecure_anonymous(server):
    client = apiclient.Client(server.url, insecure=True)
    assert client.get_or_none("ConfigMap", "cluster-info", "kube-public") is None


def test_errors_name_method_path_status_message(server, pki):
    client = _client(server, pki)
    with pytest.raises(errors.NotFound) as info:
        client.get("ConfigMap", "missing", "kube-system")
    msg = str(info.value)
    assert "GET /api/v1/namespaces/kube-system/configmaps/missing" in msg
    assert "404" in msg and "not found /api/v1/namespaces/kube-system/configmaps/missing" in msg
    server.script.append((403, {"kind": "Status", "message": "forbidden: User cannot get", "reason": "Forbidden"}))
    with pytest.raises(errors.APIError) as info:
        client.get("Secret", "s", "kube-system")
    assert not isinstance(info.value, (errors.NotFound, errors.Conflict))
    assert info.value.status == 403 and "forbidden: User cannot get" in str(info.value)
    assert "Forbidden" in str(info.value)
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "kube-system"}}
    client.create(obj)
    with pytest.raises(errors.Conflict) as info:
        client.create(obj)
    assert "POST /api/v1/namespaces/kube-system/configmaps: HTTP 409" in str(info.value)


def test_retries_429_and_5xx(server, pki):
    client = _client(server, pki)
    server.script += [(503, {"message": "unavailable"}), (429, {"message": "slow down"}),
                      (500, {"message": "etcd"})]
    assert client.get_or_none("ConfigMap", "x", "kube-system") is None
    assert len(server.requests) == 4


def test_retry_gives_up_at_deadline(server, pki):
    client = _client(server, pki, retry_timeout=0)
    server.script += [(503, {"message": "still starting"})]
    with pytest.raises(errors.APIError) as info:
        client.get("ConfigMap", "x", "kube-system")
    assert info.value.status == 503 and "still starting" in str(info.value)


def test_connection_refused_retries_until_deadline():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    sleeps = []
    client = apiclient.Client(f"https://127.0.0.1:{port}", insecure=True, retry_timeout=0.3,
                              sleep=lambda s: (sleeps.append(s), __import__("time").sleep(0.05)))
    with pytest.raises(errors.APIError) as info:
        client.get("Node", "n")
    assert info.value.status == 0 and "cannot reach" in str(info.value)
    assert len(sleeps) >= 2 and sleeps[1] > sleeps[0]  # backoff


def test_list_selectors_and_kinds(server, pki):
    client = _client(server, pki)
    client.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "a", "namespace": "kube-system"}})
    items = client.list("Secret", "kube-system", label_selector="a=b",
                        field_selector="type=bootstrap.kubernetes.io/token")
    assert [i["metadata"]["name"] for i in items] == ["a"]
    assert items[0]["kind"] == "Secret"
    path = server.requests[-1][1]
    assert "labelSelector=a%3Db" in path and "fieldSelector=type%3Dbootstrap.kubernetes.io%2Ftoken" in path


def test_patch_content_types(server, pki):
    client = _client(server, pki)
    for kind, ctype in (("merge", "application/merge-patch+json"),
                        ("strategic", "application/strategic-merge-patch+json"),
                        ("json", "application/json-patch+json")):
        client.patch("Node", "n1", {"metadata": {}} if kind != "json" else [], patch_type=kind)
        assert server.requests[-1][0] == "PATCH"
        assert server.requests[-1][1] == "/api/v1/nodes/n1"
        assert server.requests[-1][2]["Content-Type"] == ctype
    with pytest.raises(errors.InvalidValue):
        client.patch("Node", "n1", {}, patch_type="bogus")


def test_delete(server, pki):
    client = _client(server, pki)
    client.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "d", "namespace": "x"}})
    assert client.delete("ConfigMap", "d", "x") is True
    assert client.delete("ConfigMap", "d", "x") is False
    with pytest.raises(errors.NotFound):
        client.delete("ConfigMap", "d", "x", missing_ok=False)


def test_resource_paths():
    assert apiclient.resource_path("Secret", "bootstrap-token-abc", "kube-system") == \
        "/api/v1/namespaces/kube-system/secrets/bootstrap-token-abc"
    assert apiclient.resource_path("ClusterRoleBinding", "system:coredns") == \
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/system:coredns"
    assert apiclient.resource_path("Deployment", "", "kube-system") == \
        "/apis/apps/v1/namespaces/kube-system/deployments"
    with pytest.raises(errors.KubebootError):
        apiclient.resource_path("ConfigMap", "x")


@pytest.mark.parametrize("creds", [{"token": "abcdef.0123456789abcdef"}, {"cert_pem": b"x", "key_pem": b"y"}])
def test_credentials_are_never_sent_over_plain_http(creds):
    with pytest.raises(errors.InvalidValue) as err:
        apiclient.Client("http://127.0.0.1:8080", **creds)
    assert "https://" in str(err.value) and "0123456789abcdef" not in str(err.value)
