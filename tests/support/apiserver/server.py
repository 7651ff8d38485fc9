"""HTTPS transport (stdlib ThreadingHTTPServer + ssl) and the `ApiDouble` handle."""
from __future__ import annotations

import json
import logging
import os
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from .api import APIServer, WatchStream
from .controllers import ControllerManager, run_once
from .store import EtcdStore, MemoryStore

log = logging.getLogger("apiserver-double")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kubeboot-apiserver-double"
    api: APIServer = None  # set on the subclass

    def log_message(self, fmt, *args):  # quiet; debug logging only
        log.debug("%s " + fmt, self.address_string(), *args)

    def _serve(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        try:
            peercert = self.connection.getpeercert()
        except (AttributeError, ValueError):
            peercert = None
        try:
            code, payload = self.api.handle(self.command, url.path, url.query, self.headers, body, peercert)
        except Exception as exc:  # noqa: BLE001 - report as a 500 Status, never kill the thread
            log.exception("internal error")
            code, payload = 500, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                  "status": "Failure", "message": f"internal error: {exc}",
                                  "reason": "InternalError", "code": 500}
        if isinstance(payload, WatchStream):
            self._stream(payload)
            return
        if isinstance(payload, str):
            data, ctype = payload.encode(), "text/plain; charset=utf-8"
        else:
            data, ctype = json.dumps(payload).encode(), "application/json"
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _stream(self, watch: WatchStream):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        try:
            for event in watch.events(lambda: self.server.stopping):
                data = json.dumps(event).encode() + b"\n"
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (OSError, ValueError):
            pass
        self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    stopping = False
    allow_reuse_address = True

    def handle_error(self, request, client_address):  # TLS handshake noise: debug only
        log.debug("connection error from %s", client_address, exc_info=True)


def make_ssl_context(cert_dir: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(os.path.join(cert_dir, "apiserver.crt"), os.path.join(cert_dir, "apiserver.key"))
    ctx.load_verify_locations(os.path.join(cert_dir, "ca.crt"))
    ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


class _TLSServer(_Server):
    """Wraps accepted sockets lazily so a slow/bad handshake never blocks the accept loop."""

    def __init__(self, addr, handler, ctx):
        self.ctx = ctx
        super().__init__(addr, handler)

    def finish_request(self, request, client_address):
        try:
            request.settimeout(30)
            tls = self.ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.close()
            except OSError:
                pass


class ApiDouble:
    """A running API double. Attributes: url, host, port, ca_pem, cert_dir, store, api."""

    def __init__(self, cert_dir: str, host: str = "127.0.0.1", port: int = 0, store=None,
                 kubernetes_version: str = "v1.34.10", controllers_interval="1s",
                 controllers: bool = True, static_tokens: dict | None = None):
        self.cert_dir = cert_dir
        with open(os.path.join(cert_dir, "ca.crt"), "rb") as f:
            self.ca_pem = f.read()
        ca_key = None
        if os.path.exists(os.path.join(cert_dir, "ca.key")):
            with open(os.path.join(cert_dir, "ca.key"), "rb") as f:
                ca_key = f.read()
        self.store = store if store is not None else MemoryStore()
        handler = type("Handler", (_Handler,), {})
        self._httpd = _TLSServer((host, port), handler, make_ssl_context(cert_dir))
        self.host, self.port = self._httpd.server_address[:2]
        hostport = f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"
        self.url = f"https://{hostport}"
        self.api = APIServer(self.store, kubernetes_version, self.ca_pem, ca_key, static_tokens,
                             server_address=hostport)
        handler.api = self.api
        self.controllers = ControllerManager(self.api, controllers_interval) if controllers else None
        self._thread = None

    def start(self) -> "ApiDouble":
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"apiserver-double-{self.port}", daemon=True)
        self._thread.start()
        if self.controllers:
            self.controllers.start()
        return self

    def run_controllers(self):
        """Run every controller once, synchronously."""
        run_once(self.api)

    def serve_forever(self):
        if self.controllers:
            self.controllers.start()
        try:
            self._httpd.serve_forever(poll_interval=0.2)
        finally:
            self._httpd.stopping = True
            self.stop()

    def stop(self):
        if self.controllers:
            self.controllers.stop()
        self._httpd.stopping = True
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()
        self.store.close()

    # -------------------------------------------------------------- test conveniences
    def put(self, obj: dict) -> dict:
        return self.api.put_object(obj)

    def get(self, plural: str, namespace, name):
        return self.api._get_plain(plural, namespace, name)

    def kubeconfig(self, path: str, *, client_cert: str | None = None, client_key: str | None = None,
                   token: str | None = None, user: str = "user") -> str:
        """Write a kubeconfig (YAML is JSON) pointing at this double and return its path."""
        u = {}
        if client_cert:
            u["client-certificate"] = client_cert
            u["client-key"] = client_key
        if token:
            u["token"] = token
        cfg = {"apiVersion": "v1", "kind": "Config", "current-context": "ctx",
               "clusters": [{"name": "double", "cluster": {
                   "server": self.url, "certificate-authority": os.path.join(self.cert_dir, "ca.crt")}}],
               "users": [{"name": user, "user": u}],
               "contexts": [{"name": "ctx", "context": {"cluster": "double", "user": user}}]}
        with open(path, "w", encoding="utf-8") as f:
            json.dump(cfg, f, indent=1)
        os.chmod(path, 0o600)
        return path


def build_store(etcd_endpoints=None, etcd_cafile=None, etcd_certfile=None, etcd_keyfile=None):
    if etcd_endpoints:
        return EtcdStore(etcd_endpoints, etcd_cafile, etcd_certfile, etcd_keyfile)
    return MemoryStore()
