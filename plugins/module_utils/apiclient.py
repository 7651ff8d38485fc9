# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small Kubernetes API client on the standard library (http.client + ssl).

Covers what kubeadm's phases need: get/list/create/update/patch/delete, a
create-or-update `apply_object` that does not write when the live object
already holds the wanted fields, retries with backoff on connection errors,
429 and 5xx until a deadline, and errors that name method, path, status and
the server's Status message.
"""
from __future__ import annotations

import base64
import http.client
import json
import os
import shutil
import socket
import ssl
import tempfile
import time
import urllib.parse


from ansible_collections.kubeboot.cluster.plugins.module_utils.deps import yaml
from ansible_collections.kubeboot.cluster.plugins.module_utils import errors

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
}

RETRY_STATUSES = (429, 500, 502, 503, 504)


def resource_path(kind: str, name: str = "", namespace: str = "", api_version: str = "") -> str:
    """URL path of a kind/name (collection path when name is empty)."""
    if kind in _RESOURCES:
        prefix, plural, namespaced = _RESOURCES[kind]
    elif api_version:
        prefix = "/api/v1" if api_version == "v1" else "/apis/" + api_version
        plural, namespaced = kind.lower() + "s", bool(namespace)
    else:
        raise errors.KubebootError(f"internal: unknown kind {kind!r}")
    path = prefix
    if namespaced:
        if not namespace:
            raise errors.KubebootError(f"internal: {kind} {name!r} needs a namespace")
        path += "/namespaces/" + urllib.parse.quote(namespace, safe="")
    path += "/" + plural
    if name:
        path += "/" + urllib.parse.quote(name, safe=":")
    return path


def object_path(obj: dict) -> str:
    meta = obj.get("metadata") or {}
    return resource_path(obj["kind"], meta.get("name", ""), meta.get("namespace", ""),
                         obj.get("apiVersion", ""))


def contains(live, wanted) -> bool:
    """True when every field of `wanted` is present with the same value in `live`.

    Dicts are compared key by key (extra live keys, e.g. server defaults, are fine);
    lists must have the same length and match element by element.
    """
    if isinstance(wanted, dict):
        if not isinstance(live, dict):
            return False
        # the API omits zero values (omitempty): a wanted false/0/""/[]/{} may be absent
        return all(contains(live[key], value) if key in live else _is_zero(value)
                   for key, value in wanted.items())
    if isinstance(wanted, list):
        if not isinstance(live, list) or len(live) != len(wanted):
            return False
        return all(contains(a, b) for a, b in zip(live, wanted))
    return live == wanted


def _is_zero(value) -> bool:
    return value is None or (not isinstance(value, bool) and value in (0, "")) or value is False \
        or value == [] or value == {}


def merge_wanted(live: dict, wanted: dict) -> dict:
    """Live object with wanted fields laid over it (for PUT); keeps metadata server fields."""
    out = dict(live)
    for key, value in wanted.items():
        if key == "metadata":
            meta = dict(live.get("metadata") or {})
            for mkey, mvalue in value.items():
                if mkey in ("labels", "annotations") and isinstance(mvalue, dict):
                    merged = dict(meta.get(mkey) or {})
                    merged.update(mvalue)
                    meta[mkey] = merged
                elif mkey != "resourceVersion":
                    meta[mkey] = mvalue
            out["metadata"] = meta
        else:
            out[key] = value
    return out


class _Materialized:
    """Inline PEM key material written to a 0700 temp dir, removed on close."""

    def __init__(self):
        self.dir = None

    def file(self, name: str, data: bytes) -> str:
        if self.dir is None:
            self.dir = tempfile.mkdtemp(prefix="kubeboot-tls-")
            os.chmod(self.dir, 0o700)
        path = os.path.join(self.dir, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        return path

    def close(self) -> None:
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


def _as_bytes(value):
    if value is None:
        return None
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def kubeconfig_material(section: dict, data_key: str, file_key: str, base_dir: str = ""):
    """Bytes of a kubeconfig credential given inline (`<x>-data`, base64) or as a file path
    (relative to the kubeconfig's directory); None when neither is set."""
    if data_key and section.get(data_key):
        try:
            return base64.b64decode(section[data_key])
        except (ValueError, TypeError):
            raise errors.InvalidValue(f"kubeconfig {data_key}", "<data>", "base64") from None
    path = section.get(file_key)
    if not path:
        return None
    if base_dir and not os.path.isabs(path):
        path = os.path.join(base_dir, path)
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise errors.FileError(f"kubeconfig {file_key} {path}: {exc.strerror}") from None


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
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif self.ca_pem:
            context.load_verify_locations(cadata=self.ca_pem.decode("ascii"))
        else:
            context.load_default_certs()
        if cert_pem or key_pem:
            if not (cert_pem and key_pem):
                raise errors.InvalidValue("kubeconfig", "client certificate",
                                          "both a client certificate and a key")
            holder = _Materialized()
            try:
                cert_file = holder.file("client.crt", cert_pem)
                key_file = holder.file("client.key", key_pem)
                context.load_cert_chain(cert_file, key_file)
            except ssl.SSLError as exc:
                raise errors.InvalidValue("kubeconfig", "client certificate",
                                          f"a matching PEM certificate and key ({exc.reason})") from None
            finally:
                holder.close()
        return context

    @classmethod
    def from_kubeconfig(cls, kubeconfig, base_dir: str = "", **kwargs) -> "Client":
        """From kubeconfig text or dict: current-context's cluster (server, CA data/file,
        insecure-skip-tls-verify) and user (client cert/key data or files, token, tokenFile).
        Relative file paths resolve against base_dir (the kubeconfig's directory)."""
        try:
            config = yaml.safe_load(kubeconfig) if isinstance(kubeconfig, (str, bytes)) else kubeconfig
        except yaml.YAMLError as exc:
            raise errors.InvalidValue("kubeconfig", "<content>",
                                      f"a kubeconfig YAML document ({errors.yaml_problem(exc)})") from None
        if not isinstance(config, dict):
            raise errors.InvalidValue("kubeconfig", "<content>", "a kubeconfig YAML document")
        current = config.get("current-context") or ""
        contexts = {c.get("name"): c.get("context") or {} for c in config.get("contexts") or []}
        clusters = {c.get("name"): c.get("cluster") or {} for c in config.get("clusters") or []}
        users = {u.get("name"): u.get("user") or {} for u in config.get("users") or []}
        if current in contexts:
            context = contexts[current]
            cluster = clusters.get(context.get("cluster"))
            user = users.get(context.get("user"), {})
        elif len(clusters) == 1 and not contexts:
            cluster, user = next(iter(clusters.values())), {}
        else:
            raise errors.InvalidValue("kubeconfig", current,
                                      "a current-context naming one of the contexts")
        if not cluster or not cluster.get("server"):
            raise errors.InvalidValue("kubeconfig", current, "a context whose cluster has a server")

        def data_or_file(section: dict, data_key: str, file_key: str):
            return kubeconfig_material(section, data_key, file_key, base_dir)

        token = user.get("token")
        if not token and user.get("tokenFile"):
            token = data_or_file(user, "", "tokenFile").decode("utf-8").strip()
        return cls(
            cluster["server"],
            ca_pem=data_or_file(cluster, "certificate-authority-data", "certificate-authority"),
            token=token,
            cert_pem=data_or_file(user, "client-certificate-data", "client-certificate"),
            key_pem=data_or_file(user, "client-key-data", "client-key"),
            insecure=bool(cluster.get("insecure-skip-tls-verify", False)),
            **kwargs)

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
        deadline = time.monotonic() + (self.retry_timeout if retry else 0)
        delay = 0.5
        while True:
            try:
                status, payload = self._once(method, full, data, headers)
            except (ConnectionError, socket.timeout, TimeoutError, http.client.HTTPException,
                    OSError) as exc:
                if isinstance(exc, ssl.SSLCertVerificationError) or time.monotonic() >= deadline:
                    raise errors.APIError(method, path, 0, f"cannot reach {self.server}: {exc}") from None
                self._sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            if status in RETRY_STATUSES and time.monotonic() < deadline:
                self._sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            break
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

    def delete(self, kind: str, name: str, namespace: str = "", missing_ok: bool = True) -> bool:
        """True when something was deleted."""
        try:
            self.request("DELETE", resource_path(kind, name, namespace))
            return True
        except errors.NotFound:
            if missing_ok:
                return False
            raise

    def apply_object(self, obj: dict, check_mode: bool = False, attempts: int = 5) -> tuple:
        """Create-or-update; returns (changed, live object). No write when the live
        object already contains every wanted field (so reruns rewrite nothing)."""
        meta = obj.get("metadata") or {}
        path = object_path(obj)
        for _unused in range(attempts):
            try:
                live = self.request("GET", path)
            except errors.NotFound:
                live = None
            if live is None:
                if check_mode:
                    return True, obj
                try:
                    return True, self.create(obj)
                except errors.Conflict:
                    continue  # created meanwhile: compare again
            wanted = {k: v for k, v in obj.items() if k not in ("status",)}
            if contains(live, wanted):
                return False, live
            if check_mode:
                return True, merge_wanted(live, wanted)
            body = merge_wanted(live, wanted)
            body["metadata"]["resourceVersion"] = live.get("metadata", {}).get("resourceVersion")
            try:
                return True, self.request("PUT", path, body)
            except errors.Conflict:
                continue
        raise errors.Conflict("PUT", path, 409, f"{obj['kind']} {meta.get('name')} kept changing "
                              f"while being updated ({attempts} attempts)")

    def healthz(self, path: str = "/healthz") -> bool:
        try:
            return self.request("GET", path, retry=False, raw=True).strip() == "ok"
        except errors.APIError:
            return False


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


def wait_for(predicate, timeout: float, interval: float = 1.0, what: str = "condition",
             sleep=time.sleep, clock=time.monotonic):
    """Call predicate() until it returns a truthy value (returned) or timeout seconds pass.
    API errors inside predicate count as 'not yet'; the last one is named on timeout."""
    deadline = clock() + timeout
    last_error = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except errors.APIError as exc:
            last_error = exc
        if clock() >= deadline:
            detail = f" (last error: {last_error})" if last_error else ""
            raise errors.TimeoutError_(f"timed out after {timeout:g}s waiting for {what}{detail}")
        sleep(interval)
