# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small Kubernetes API client on the standard library (http.client + ssl).

Covers what kubeadm's phases need: get/list/create/update/patch/delete, retries with
backoff on connection errors, 429 and 5xx until a deadline (poll.wait_for), and errors
that name method, path, status and the server's Status message. Deciding *whether* to
write (compare, diff, check mode) is `apiwriter.ApiWriter`'s job, not the client's.
"""
from __future__ import annotations

import http.client
import json
import posixpath
import socket
import ssl
import time
import urllib.parse

from ansible_collections.kubeboot.cluster.plugins.module_utils import errors, kubeconfigutil, poll, tlsutil
from ansible_collections.kubeboot.cluster.plugins.module_utils.files import NODE

PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
    "apply": "application/apply-patch+yaml",
}

# kind -> (api prefix, plural, namespaced)
_RESOURCES = {
    "Namespace": ("/api/v1", "namespaces", False),
    "Node": ("/api/v1", "nodes", False),
    "ConfigMap": ("/api/v1", "configmaps", True),
    "Secret": ("/api/v1", "secrets", True),
    "Service": ("/api/v1", "services", True),
    "ServiceAccount": ("/api/v1", "serviceaccounts", True),
    "Pod": ("/api/v1", "pods", True),
    "Endpoints": ("/api/v1", "endpoints", True),
    "Deployment": ("/apis/apps/v1", "deployments", True),
    "DaemonSet": ("/apis/apps/v1", "daemonsets", True),
    "ClusterRole": ("/apis/rbac.authorization.k8s.io/v1", "clusterroles", False),
    "ClusterRoleBinding": ("/apis/rbac.authorization.k8s.io/v1", "clusterrolebindings", False),
    "Role": ("/apis/rbac.authorization.k8s.io/v1", "roles", True),
    "RoleBinding": ("/apis/rbac.authorization.k8s.io/v1", "rolebindings", True),
    "CertificateSigningRequest": ("/apis/certificates.k8s.io/v1", "certificatesigningrequests", False),
    "Lease": ("/apis/coordination.k8s.io/v1", "leases", True),
    "CustomResourceDefinition": ("/apis/apiextensions.k8s.io/v1", "customresourcedefinitions", False),
    "PodDisruptionBudget": ("/apis/policy/v1", "poddisruptionbudgets", True),
}


def api_prefix(api_version: str) -> str:
    return "/api/v1" if api_version == "v1" else "/apis/" + api_version


def register_kind(kind: str, api_version: str, plural: str, namespaced: bool) -> None:
    """Teach resource_path a kind found through discovery (kube_apply's manifests)."""
    _RESOURCES.setdefault(kind, (api_prefix(api_version), plural, bool(namespaced)))


def known_kind(kind: str) -> bool:
    return kind in _RESOURCES


RETRY_STATUSES = (429, 500, 502, 503, 504)


def resource_path(kind: str, name: str = "", namespace: str = "", api_version: str = "") -> str:
    """URL path of a kind/name (collection path when name is empty)."""
    if kind in _RESOURCES:
        prefix, plural, namespaced = _RESOURCES[kind]
    elif api_version:
        prefix = api_prefix(api_version)
        plural, namespaced = kind.lower() + "s", bool(namespace)
    else:
        raise errors.KubebootError(f"internal: unknown kind {kind!r}")
    path = prefix
    if namespaced and namespace:
        path += "/namespaces/" + urllib.parse.quote(namespace, safe="")
    elif namespaced and name:
        raise errors.KubebootError(f"internal: {kind} {name!r} needs a namespace")
    path += "/" + plural
    if name:
        path += "/" + urllib.parse.quote(name, safe=":")
    return path


def object_path(obj: dict) -> str:
    meta = obj.get("metadata") or {}
    return resource_path(obj["kind"], meta.get("name", ""), meta.get("namespace", ""),
                         obj.get("apiVersion", ""))


def _as_bytes(value):
    if value is None:
        return None
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


class Client:
    """Kubernetes API client. Anonymous + `insecure=True` is meant for token discovery only."""

    def __init__(self, server: str, ca_pem=None, token=None, cert_pem=None, key_pem=None,
                 insecure: bool = False, timeout: float = 30.0, retry_timeout: float = 60.0,
                 sleep=time.sleep):
        parsed = urllib.parse.urlsplit(server)
        if parsed.scheme not in ("https", "http") or not parsed.hostname:
            raise errors.InvalidValue("server", server, "an https:// URL such as https://10.0.0.1:6443")
        if parsed.scheme == "http" and (token or cert_pem or key_pem):
            # A bearer token or client key must never cross the network in clear.
            raise errors.InvalidValue("server", server, "an https:// URL when credentials are used")
        self.server = server.rstrip("/")
        self.scheme = parsed.scheme
        self.host = parsed.hostname
        self.port = parsed.port or (443 if parsed.scheme == "https" else 80)
        self.base_path = parsed.path.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.retry_timeout = retry_timeout
        self._sleep = sleep
        self.ca_pem = _as_bytes(ca_pem)
        self.insecure = insecure
        self._context = None
        self._conn = None
        if self.scheme == "https":
            self._context = self._ssl_context(_as_bytes(cert_pem), _as_bytes(key_pem))

    # --- construction -------------------------------------------------------------
    def _ssl_context(self, cert_pem, key_pem) -> ssl.SSLContext:
        return tlsutil.client_context(self.ca_pem, cert_pem, key_pem, insecure=self.insecure)

    @classmethod
    def from_kubeconfig(cls, kubeconfig, base_dir: str = "", fs=NODE, **kwargs) -> "Client":
        """From kubeconfig text or dict: current-context's cluster (server, CA data/file,
        insecure-skip-tls-verify) and user (client cert/key data or files, token, tokenFile).
        Files are host paths read through `fs`; relative ones resolve against base_dir (the
        kubeconfig's directory)."""
        if isinstance(kubeconfig, (str, bytes)):
            config = kubeconfigutil.load(kubeconfig, "kubeconfig", _kubeconfig_error)
        else:
            config = kubeconfig
        if not isinstance(config, dict):
            raise errors.InvalidValue("kubeconfig", "<content>", "a kubeconfig YAML document")
        chosen = kubeconfigutil.select(config)
        cluster, user = chosen.cluster, chosen.user
        if not cluster.get("server"):
            raise errors.InvalidValue("kubeconfig", config.get("current-context") or "",
                                      "a current-context naming one of the contexts, whose cluster has a server")
        return cls(
            cluster["server"],
            ca_pem=kubeconfigutil.material(cluster, "certificate-authority-data", "certificate-authority",
                                           fs, base_dir),
            token=kubeconfigutil.token(user, fs, base_dir) or None,
            cert_pem=kubeconfigutil.material(user, "client-certificate-data", "client-certificate", fs, base_dir),
            key_pem=kubeconfigutil.material(user, "client-key-data", "client-key", fs, base_dir),
            insecure=bool(cluster.get("insecure-skip-tls-verify", False)),
            **kwargs)

    @classmethod
    def from_kubeconfig_file(cls, fs, path: str, **kwargs) -> "Client":
        """From a kubeconfig file on the node (a host path read through `fs`, like the files it names)."""
        return cls.from_kubeconfig(load_kubeconfig_file(fs, path), base_dir=posixpath.dirname(path), fs=fs, **kwargs)

    # --- transport ------------------------------------------------------------------
    def _connection(self):
        if self.scheme == "https":
            return http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout,
                                               context=self._context)
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def _once(self, method: str, path: str, body, headers: dict):
        """One exchange on the kept-alive connection; a stale reused connection is redialled once."""
        for attempt in (0, 1):
            reused = self._conn is not None
            if not reused:
                self._conn = self._connection()
            conn = self._conn
            try:
                conn.request(method, self.base_path + path, body=body, headers=headers)
                response = conn.getresponse()
                payload = response.read()
            except (http.client.RemoteDisconnected, http.client.CannotSendRequest,
                    http.client.BadStatusLine, ConnectionResetError, BrokenPipeError):
                self.close()
                if reused and attempt == 0:
                    continue
                raise
            except BaseException:
                self.close()
                raise
            if response.will_close:
                self.close()
            return response.status, payload
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def request(self, method: str, path: str, body=None, query=None, content_type=None,
                retry: bool = True, raw: bool = False):
        """One API call with retries; returns the decoded JSON (or raw text) body."""
        full = path
        if query:
            query = {k: v for k, v in query.items() if v not in (None, "")}
            if query:
                full += "?" + urllib.parse.urlencode(query)
        headers = {"Accept": "application/json", "User-Agent": "kubeboot"}
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
            headers["Content-Type"] = content_type or "application/json"
        status, payload = self._with_retries(method, path, full, data, headers, retry)
        if 200 <= status < 300:
            if raw:
                return payload.decode("utf-8", "replace")
            if not payload:
                return {}
            try:
                return json.loads(payload)
            except ValueError:
                return payload.decode("utf-8", "replace")
        raise _error(method, path, status, payload)

    def _with_retries(self, method: str, path: str, full: str, data, headers: dict, retry: bool) -> tuple:
        """(status, payload) of the first answer that is not worth retrying, or the last one;
        unreachable servers, 429 and 5xx are retried with backoff until retry_timeout."""
        answer = {}

        def attempt():
            try:
                answer["reply"] = self._once(method, full, data, headers)
            except ssl.SSLCertVerificationError as exc:  # retrying cannot fix trust
                raise errors.APIError(method, path, 0, f"cannot reach {self.server}: {exc}") from None
            except (ConnectionError, socket.timeout, TimeoutError, http.client.HTTPException, OSError) as exc:
                raise _Unreachable(exc) from None
            if answer["reply"][0] in RETRY_STATUSES:
                raise poll.NotYet(answer["reply"][0])
            return True

        def give_up(last):
            if isinstance(last, _Unreachable):
                return errors.APIError(method, path, 0, f"cannot reach {self.server}: {last.args[0]}")
            return _Answered()

        try:
            poll.wait_for(attempt, self.retry_timeout if retry else 0, 0.5, backoff=2.0, max_interval=5.0,
                          retry_on=(_Unreachable,), on_timeout=give_up, sleep=self._sleep)
        except _Answered:
            pass
        return answer["reply"]

    # --- verbs ----------------------------------------------------------------------
    def get(self, kind: str, name: str, namespace: str = "") -> dict:
        return self.request("GET", resource_path(kind, name, namespace))

    def get_or_none(self, kind: str, name: str, namespace: str = ""):
        try:
            return self.get(kind, name, namespace)
        except errors.NotFound:
            return None

    def list(self, kind: str, namespace: str = "", label_selector: str = "",
             field_selector: str = "") -> list:
        result = self.request("GET", resource_path(kind, "", namespace),
                              query={"labelSelector": label_selector,
                                     "fieldSelector": field_selector})
        items = result.get("items") or []
        api_version = result.get("apiVersion", "v1")
        for item in items:  # list items come without kind/apiVersion
            item.setdefault("kind", kind)
            item.setdefault("apiVersion", api_version)
        return items

    def create(self, obj: dict) -> dict:
        meta = obj.get("metadata") or {}
        path = resource_path(obj["kind"], "", meta.get("namespace", ""), obj.get("apiVersion", ""))
        return self.request("POST", path, obj)

    def update(self, obj: dict) -> dict:
        return self.request("PUT", object_path(obj), obj)

    def patch(self, kind: str, name: str, patch, namespace: str = "", patch_type: str = "merge") -> dict:
        if patch_type not in PATCH_TYPES:
            raise errors.InvalidValue("patch_type", patch_type, ", ".join(PATCH_TYPES))
        return self.request("PATCH", resource_path(kind, name, namespace), patch,
                            content_type=PATCH_TYPES[patch_type])

    def delete(self, kind: str, name: str, namespace: str = "", missing_ok: bool = True, options=None) -> bool:
        """True when something was deleted. `options`: DeleteOptions (e.g. gracePeriodSeconds)."""
        try:
            self.request("DELETE", resource_path(kind, name, namespace), options)
            return True
        except errors.NotFound:
            if missing_ok:
                return False
            raise

    def evict(self, name: str, namespace: str, grace_period=None, retry: bool = False) -> dict:
        """POST pods/<name>/eviction (policy/v1): the API server deletes the pod unless a
        PodDisruptionBudget forbids it (HTTP 429, not retried here: the caller decides how long)."""
        body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": namespace}}
        if grace_period is not None:
            body["deleteOptions"] = {"gracePeriodSeconds": int(grace_period)}
        return self.request("POST", resource_path("Pod", name, namespace) + "/eviction", body, retry=retry)

    def healthz(self, path: str = "/healthz") -> bool:
        try:
            return self.request("GET", path, retry=False, raw=True).strip() == "ok"
        except errors.APIError:
            return False


class _Unreachable(Exception):
    """No answer from the server (retried until the deadline)."""


class _Answered(Exception):
    """The retry deadline passed with an answer in hand (a 429/5xx): report that answer."""


def load_kubeconfig_file(fs, path: str) -> dict:
    """A kubeconfig file of the node (host path through `fs`), parsed; missing or broken: a clear error."""
    text = fs.read_text(path)
    if text is None:
        raise errors.FileError(f"kubeconfig {path} does not exist (set kubeconfig, or run kubeadm_init first)")
    return kubeconfigutil.load(text, f"kubeconfig {path}", errors.FileError)


def _kubeconfig_error(message: str) -> errors.InvalidValue:
    return errors.InvalidValue("kubeconfig", "<content>", "a kubeconfig YAML document: " + message)


def _error(method: str, path: str, status: int, payload: bytes) -> errors.APIError:
    message, reason = "", ""
    try:
        body = json.loads(payload)
        if isinstance(body, dict):
            message = body.get("message", "")
            reason = body.get("reason", "")
    except ValueError:
        message = payload.decode("utf-8", "replace").strip()[:500]
    message = message or http.client.responses.get(status, "error")
    cls = errors.NotFound if status == 404 else errors.Conflict if status == 409 else errors.APIError
    return cls(method, path, status, message, reason)
