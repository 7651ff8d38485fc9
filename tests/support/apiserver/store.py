"""Object storage for the API double: in memory or in a real etcd (v3 JSON gateway, stdlib only).

Both stores share one interface. Keys are `/registry/<resource>/<namespace>/<name>` or
`/registry/<resource>/<name>`; values are JSON objects. The returned objects carry
`metadata.resourceVersion` = the store revision at which the key was last modified
(etcd's mod_revision when etcd-backed).
"""
from __future__ import annotations

import base64
import copy
import json
import ssl
import threading
import urllib.error
import urllib.request


class StoreError(Exception):
    pass


class KeyExists(StoreError):
    pass


class KeyMissing(StoreError):
    pass


class RevisionMismatch(StoreError):
    pass


def registry_key(resource: str, namespace: str | None, name: str | None = None) -> str:
    parts = ["/registry", resource]
    if namespace:
        parts.append(namespace)
    key = "/".join(parts) + "/"
    return key + name if name else key


def _stamp(obj: dict, rev: int) -> dict:
    obj = copy.deepcopy(obj)
    obj.setdefault("metadata", {})["resourceVersion"] = str(rev)
    return obj


class MemoryStore:
    """Dict-backed store with a global revision counter."""

    def __init__(self):
        self._lock = threading.RLock()
        self._data: dict[str, tuple[dict, int]] = {}
        self._rev = 1

    @property
    def revision(self) -> int:
        return self._rev

    def get(self, key: str):
        with self._lock:
            item = self._data.get(key)
            return _stamp(*item) if item else None

    def list(self, prefix: str):
        """Returns (objects sorted by key, current revision)."""
        with self._lock:
            return [_stamp(*self._data[k]) for k in sorted(self._data) if k.startswith(prefix)], self._rev

    def create(self, key: str, obj: dict) -> dict:
        with self._lock:
            if key in self._data:
                raise KeyExists(key)
            self._rev += 1
            self._data[key] = (copy.deepcopy(obj), self._rev)
            return _stamp(obj, self._rev)

    def update(self, key: str, obj: dict, expected_rev: int | None = None) -> dict:
        with self._lock:
            if key not in self._data:
                raise KeyMissing(key)
            if expected_rev is not None and self._data[key][1] != expected_rev:
                raise RevisionMismatch(key)
            self._rev += 1
            self._data[key] = (copy.deepcopy(obj), self._rev)
            return _stamp(obj, self._rev)

    def delete(self, key: str, expected_rev: int | None = None) -> dict:
        with self._lock:
            if key not in self._data:
                raise KeyMissing(key)
            if expected_rev is not None and self._data[key][1] != expected_rev:
                raise RevisionMismatch(key)
            obj, rev = self._data.pop(key)
            self._rev += 1
            return _stamp(obj, rev)

    def close(self):
        pass


def _b64(s: str | bytes) -> str:
    if isinstance(s, str):
        s = s.encode()
    return base64.b64encode(s).decode()


def _prefix_end(prefix: str) -> str:
    b = bytearray(prefix.encode())
    for i in range(len(b) - 1, -1, -1):
        if b[i] < 0xFF:
            b[i] += 1
            return _b64(bytes(b[: i + 1]))
    return _b64(b"\0")


class EtcdStore:
    """etcd v3 store through the gRPC-gateway JSON API (`/v3/kv/*`), stdlib urllib only."""

    def __init__(self, endpoints, cafile=None, certfile=None, keyfile=None, timeout=5.0):
        if isinstance(endpoints, str):
            endpoints = [e for e in endpoints.split(",") if e]
        self.endpoints = [e.rstrip("/") for e in endpoints]
        self.timeout = timeout
        self._ctx = None
        if any(e.startswith("https://") for e in self.endpoints):
            ctx = ssl.create_default_context(cafile=cafile)
            if certfile:
                ctx.load_cert_chain(certfile, keyfile)
            self._ctx = ctx
        self._rev = 0

    # -- transport
    def _call(self, path: str, body: dict) -> dict:
        last = None
        for ep in self.endpoints:
            req = urllib.request.Request(ep + path, data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
            try:
                with urllib.request.urlopen(req, timeout=self.timeout, context=self._ctx) as resp:
                    out = json.loads(resp.read() or b"{}")
                    rev = int(out.get("header", {}).get("revision", 0) or 0)
                    self._rev = max(self._rev, rev)
                    return out
            except urllib.error.HTTPError as exc:
                raise StoreError(f"etcd {path}: HTTP {exc.code}: {exc.read()[:300]!r}") from exc
            except (urllib.error.URLError, OSError) as exc:
                last = exc
        raise StoreError(f"etcd unreachable ({', '.join(self.endpoints)}): {last}")

    @staticmethod
    def _decode(kv: dict) -> dict:
        obj = json.loads(base64.b64decode(kv["value"]))
        return _stamp(obj, int(kv.get("mod_revision", 0)))

    @property
    def revision(self) -> int:
        self._call("/v3/kv/range", {"key": _b64("/registry/"), "limit": 1, "count_only": True})
        return self._rev

    def get(self, key: str):
        out = self._call("/v3/kv/range", {"key": _b64(key)})
        kvs = out.get("kvs") or []
        return self._decode(kvs[0]) if kvs else None

    def list(self, prefix: str):
        out = self._call("/v3/kv/range", {"key": _b64(prefix), "range_end": _prefix_end(prefix)})
        items = [self._decode(kv) for kv in out.get("kvs") or []]
        return items, int(out.get("header", {}).get("revision", 0))

    def _txn(self, compare: list, success: list) -> tuple[bool, dict]:
        out = self._call("/v3/kv/txn", {"compare": compare, "success": success, "failure": []})
        return bool(out.get("succeeded")), out

    def create(self, key: str, obj: dict) -> dict:
        value = json.dumps(obj, separators=(",", ":"), sort_keys=True)
        ok, out = self._txn(
            [{"key": _b64(key), "target": "CREATE", "result": "EQUAL", "create_revision": "0"}],
            [{"request_put": {"key": _b64(key), "value": _b64(value)}}])
        if not ok:
            raise KeyExists(key)
        return _stamp(obj, int(out["header"]["revision"]))

    def update(self, key: str, obj: dict, expected_rev: int | None = None) -> dict:
        value = json.dumps(obj, separators=(",", ":"), sort_keys=True)
        _current, rev = self._revision(key, expected_rev)
        ok, out = self._txn(
            [{"key": _b64(key), "target": "MOD", "result": "EQUAL", "mod_revision": str(rev)}],
            [{"request_put": {"key": _b64(key), "value": _b64(value)}}])
        if not ok:
            if self.get(key) is None:
                raise KeyMissing(key)
            raise RevisionMismatch(key)
        return _stamp(obj, int(out["header"]["revision"]))

    def _revision(self, key: str, expected_rev):
        """The stored object and its revision, checked against the caller's expectation."""
        current = self.get(key)
        if current is None:
            raise KeyMissing(key)
        rev = int(current["metadata"]["resourceVersion"])
        if expected_rev is not None and expected_rev != rev:
            raise RevisionMismatch(key)
        return current, rev

    def delete(self, key: str, expected_rev: int | None = None) -> dict:
        current, rev = self._revision(key, expected_rev)
        ok, _ = self._txn(
            [{"key": _b64(key), "target": "MOD", "result": "EQUAL", "mod_revision": str(rev)}],
            [{"request_delete_range": {"key": _b64(key)}}])
        if not ok:
            raise RevisionMismatch(key)
        return current

    def close(self):
        pass
