# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small etcd v3 client over etcd's gRPC-gateway JSON API (http.client + ssl, mutual TLS).

Covers what kubeadm's etcd phases need (kubeadm util/etcd): member list / add (as learner) /
promote / remove, and endpoint health; and what kubeadm_etcd adds: status, defragment and a
snapshot streamed from `/v3/maintenance/snapshot` (the gateway sends the server stream as one
JSON message a line, each with a base64 `blob`; the last 32 bytes of a snapshot are the SHA-256
of the rest, which etcdutl checks on restore and `verify_snapshot` checks here). No grpc
dependency: every etcd >= 3.4 serves `POST /v3/<service>/<method>` with JSON bodies on its
client port. uint64 IDs travel as decimal strings in JSON; this module exposes them as ints.
"""
from __future__ import annotations

import base64
import hashlib
import http.client
import json
import socket
import time
import urllib.parse
from dataclasses import dataclass, field

from ansible_collections.kubeboot.cluster.plugins.module_utils import errors, pki, poll, tlsutil

SNAPSHOT_HASH_SIZE = 32  # etcd appends sha256(db) to a snapshot


class EtcdError(errors.KubebootError):
    """etcd answered with an error, or no endpoint could be reached."""

    def __init__(self, message: str, endpoint: str = "", status: int = 0, detail: str = ""):
        self.endpoint = endpoint
        self.status = status
        self.detail = detail
        super().__init__(message)


@dataclass
class Member:
    id: int
    name: str
    peer_urls: list = field(default_factory=list)
    client_urls: list = field(default_factory=list)
    is_learner: bool = False

    @property
    def started(self) -> bool:
        """etcd reports a member that was added but never started with an empty name."""
        return bool(self.name)

    @classmethod
    def from_json(cls, data: dict) -> "Member":
        return cls(id=int(data.get("ID") or 0), name=data.get("name") or "",
                   peer_urls=list(data.get("peerURLs") or []), client_urls=list(data.get("clientURLs") or []),
                   is_learner=bool(data.get("isLearner")))

    def as_dict(self) -> dict:
        return {"id": format(self.id, "x"), "name": self.name, "peer_urls": self.peer_urls,
                "client_urls": self.client_urls, "is_learner": self.is_learner}


# etcd error texts that mean "try again shortly"
_RETRYABLE = ("can only promote a learner member which is in sync with leader",
              "unhealthy cluster", "leader changed", "no leader", "timed out", "request timed out",
              "too many requests", "not capable")


def _is_retryable(exc: EtcdError) -> bool:
    text = (exc.detail or str(exc)).lower()
    return exc.status == 0 or any(t in text for t in _RETRYABLE)


class Client:
    """etcd v3 client for a list of https endpoints, with client certificate auth."""

    def __init__(self, endpoints, ca_pem=None, cert_pem=None, key_pem=None, timeout: float = 10.0):
        if isinstance(endpoints, str):
            endpoints = [e for e in endpoints.split(",") if e.strip()]
        if not endpoints:
            raise errors.InvalidValue("etcd endpoints", endpoints, "at least one https://host:2379 URL")
        self.endpoints = [e.strip().rstrip("/") for e in endpoints]
        self.timeout = timeout
        self._context = self._ssl_context(ca_pem, cert_pem, key_pem)

    @classmethod
    def from_files(cls, endpoints, ca_file: str, cert_file: str, key_file: str, read, **kwargs) -> "Client":
        """`read(path) -> bytes` maps host paths (HostFS.read_bytes, under the rootfs)."""
        return cls(endpoints, read(ca_file) if ca_file else None, read(cert_file) if cert_file else None,
                   read(key_file) if key_file else None, **kwargs)

    @staticmethod
    def _ssl_context(ca_pem, cert_pem, key_pem):
        try:
            return tlsutil.client_context(ca_pem, cert_pem if key_pem else None, key_pem if cert_pem else None,
                                          what="etcd client certificate")
        except errors.InvalidValue as exc:
            if exc.value != "client certificate":
                raise
            raise errors.PKIError(f"etcd client certificate and key do not match ({exc.allowed})") from None

    # --- transport ------------------------------------------------------------------------
    def _connection(self, endpoint: str, timeout: float = None):
        parsed = urllib.parse.urlsplit(endpoint)
        timeout = self.timeout if timeout is None else timeout
        if parsed.scheme == "https":
            return http.client.HTTPSConnection(parsed.hostname, parsed.port or 2379, timeout=timeout,
                                               context=self._context)
        return http.client.HTTPConnection(parsed.hostname, parsed.port or 2379, timeout=timeout)

    def _post_one(self, endpoint: str, path: str, body: dict, timeout: float = None) -> dict:
        conn = self._connection(endpoint, timeout)
        try:
            data = json.dumps(body).encode()
            conn.request("POST", path, body=data, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            payload = response.read()
            status = response.status
        except (OSError, http.client.HTTPException, socket.timeout) as exc:
            raise EtcdError(f"etcd {endpoint}{path}: cannot connect: {exc}", endpoint) from None
        finally:
            conn.close()
        try:
            decoded = json.loads(payload or b"{}")
        except ValueError:
            decoded = {"error": payload.decode("utf-8", "replace")[:300]}
        if status != 200 or (isinstance(decoded, dict) and decoded.get("error") and "header" not in decoded):
            detail = (decoded.get("message") or decoded.get("error") or "") if isinstance(decoded, dict) else ""
            raise EtcdError(f"etcd {endpoint}{path}: HTTP {status}: {detail}", endpoint, status, detail)
        return decoded

    def call(self, path: str, body: dict = None) -> dict:
        """POST to the first endpoint that answers; an etcd error from a reachable one is final."""
        last = None
        for endpoint in self.endpoints:
            try:
                return self._post_one(endpoint, path, body or {})
            except EtcdError as exc:
                if exc.status:
                    raise
                last = exc
        raise EtcdError(f"no etcd endpoint reachable ({', '.join(self.endpoints)}): {last}")

    # --- API ------------------------------------------------------------------------------
    def member_list(self) -> list:
        return [Member.from_json(m) for m in self.call("/v3/cluster/member/list").get("members") or []]

    def member_add(self, peer_urls, learner: bool = True) -> tuple:
        """Returns (the new member, all members)."""
        if isinstance(peer_urls, str):
            peer_urls = [peer_urls]
        answer = self.call("/v3/cluster/member/add", {"peerURLs": list(peer_urls), "isLearner": bool(learner)})
        return Member.from_json(answer.get("member") or {}), \
            [Member.from_json(m) for m in answer.get("members") or []]

    def member_promote(self, member_id: int) -> list:
        answer = self.call("/v3/cluster/member/promote", {"ID": str(member_id)})
        return [Member.from_json(m) for m in answer.get("members") or []]

    def member_remove(self, member_id: int) -> list:
        answer = self.call("/v3/cluster/member/remove", {"ID": str(member_id)})
        return [Member.from_json(m) for m in answer.get("members") or []]

    def status(self, endpoint: str) -> dict:
        """Maintenance status of one member: version, dbSize, dbSizeInUse, leader, header.member_id."""
        return self._post_one(endpoint, "/v3/maintenance/status", {})

    def defragment(self, endpoint: str, timeout: float = 300.0) -> None:
        """Defragment one member's backend (it blocks that member's reads and writes meanwhile)."""
        self._post_one(endpoint, "/v3/maintenance/defragment", {}, timeout=timeout)

    def snapshot(self, endpoint: str, write, timeout: float = 600.0) -> int:
        """Stream one member's snapshot into `write(bytes)`; returns the number of bytes.

        The gateway answers a server stream as one JSON object a line: {"result": {"blob": <base64>,
        "remaining_bytes": n}} or {"error": {...}}. The blobs together are the snapshot, etcd's SHA-256
        of the database last."""
        conn = self._connection(endpoint, timeout)
        size = 0
        try:
            conn.request("POST", "/v3/maintenance/snapshot", body=b"{}", headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            if response.status != 200:
                detail = response.read().decode("utf-8", "replace")[:300]
                raise EtcdError(f"etcd {endpoint}/v3/maintenance/snapshot: HTTP {response.status}: {detail}",
                                endpoint, response.status, detail)
            for line in iter(response.readline, b""):
                if not line.strip():
                    continue
                message = json.loads(line)
                if message.get("error"):
                    detail = message["error"].get("message") or str(message["error"])
                    raise EtcdError(f"etcd {endpoint}: snapshot failed: {detail}", endpoint, 500, detail)
                blob = base64.b64decode((message.get("result") or {}).get("blob") or "")
                write(blob)
                size += len(blob)
        except (OSError, http.client.HTTPException, socket.timeout, ValueError) as exc:
            raise EtcdError(f"etcd {endpoint}/v3/maintenance/snapshot: stream broken: {exc}", endpoint) from None
        finally:
            conn.close()
        if size <= SNAPSHOT_HASH_SIZE:
            raise EtcdError(f"etcd {endpoint}: the snapshot stream was empty", endpoint, 500)
        return size

    def endpoint_health(self) -> dict:
        """{endpoint: True/False}: healthy when a serializable range read succeeds (like etcdctl)."""
        health = {}
        for endpoint in self.endpoints:
            try:
                self._post_one(endpoint, "/v3/kv/range", {"key": "aGVhbHRo", "serializable": True})
                health[endpoint] = True
            except EtcdError:
                health[endpoint] = False
        return health

    def wait_healthy(self, timeout: float, interval: float = 2.0, sleep=time.sleep) -> dict:
        state = {}

        def healthy():
            state["health"] = self.endpoint_health()
            return state["health"] if all(state["health"].values()) else None

        def timed_out(_last):
            bad = [e for e, ok in state["health"].items() if not ok]
            return EtcdError(f"etcd endpoints not healthy after {timeout:g}s: {', '.join(bad)}")
        return poll.wait_for(healthy, timeout, interval, retry_on=(), on_timeout=timed_out, sleep=sleep)


def find_member(members, peer_url: str):
    return next((m for m in members if peer_url in m.peer_urls), None)


class SnapshotHash:
    """Feed a snapshot's bytes in order; `ok` says whether its last 32 bytes are the SHA-256 of the rest
    (etcd's integrity trailer), `sha256` is the checksum of the whole file."""

    def __init__(self):
        self._body = hashlib.sha256()
        self._file = hashlib.sha256()
        self._tail = b""

    def update(self, data: bytes) -> None:
        self._file.update(data)
        self._tail += data
        if len(self._tail) > SNAPSHOT_HASH_SIZE:
            self._body.update(self._tail[:-SNAPSHOT_HASH_SIZE])
            self._tail = self._tail[-SNAPSHOT_HASH_SIZE:]

    @property
    def ok(self) -> bool:
        return len(self._tail) == SNAPSHOT_HASH_SIZE and self._body.digest() == self._tail

    @property
    def sha256(self) -> str:
        return self._file.hexdigest()


def remove_member(client: Client, member: Member, check_mode: bool = False, timeout: float = 0.0) -> list:
    """Remove `member` (retried while the cluster is busy); the members left. In check mode nothing
    is sent and the list is the current one without it."""
    if check_mode:
        return [m for m in retry(client.member_list, timeout) if m.id != member.id]
    try:
        members = retry(lambda: client.member_remove(member.id), timeout)
    except EtcdError as exc:
        if "member not found" not in (exc.detail or str(exc)).lower():
            raise
        members = []  # removed meanwhile (a rerun, another control plane)
    return members or [m for m in retry(client.member_list, timeout) if m.id != member.id]


def reader(fs):
    """`read(host_path) -> bytes` for Client.from_files: a missing file is a clear FileError."""
    def read(path: str) -> bytes:
        data = fs.read_bytes(path)
        if data is None:
            raise errors.FileError(f"{path} is missing (needed to talk to etcd)")
        return data
    return read


def initial_cluster(members, name: str, peer_url: str) -> list:
    """[(name, peerURL)] for --initial-cluster (kubeadm AddMember): our URL gets our name, unnamed
    (not yet started) others get their hex ID."""
    out = []
    for member in members:
        if not member.peer_urls:
            continue
        if peer_url in member.peer_urls:
            out.append((name, peer_url))
        else:
            out.append((member.name or format(member.id, "x"), member.peer_urls[0]))
    if not any(url == peer_url for _unused, url in out):
        out.append((name, peer_url))
    return out


def retry(call, timeout: float, interval: float = 2.0, sleep=time.sleep):
    """call() until it succeeds; unreachable endpoints and transient etcd errors are retried."""
    def attempt():
        try:
            return (call(),)
        except EtcdError as exc:
            if not _is_retryable(exc):
                raise
            raise poll.NotYet(exc) from None
    return poll.wait_for(attempt, timeout, interval, retry_on=(), on_timeout=lambda last: last.args[0],
                         sleep=sleep)[0]


def add_learner(client: Client, name: str, peer_url: str, check_mode: bool = False,
                timeout: float = 0.0) -> dict:
    """Idempotent member add as learner. Returns {"changed", "member", "members", "initial_cluster"}.
    timeout: how long to retry while the cluster is unreachable or busy."""
    members = retry(client.member_list, timeout)
    existing = find_member(members, peer_url)
    changed = False
    if existing is None:
        if check_mode:
            members = members + [Member(0, "", [peer_url], [], True)]
            existing = members[-1]
        else:
            existing, members = retry(lambda: client.member_add([peer_url], learner=True), timeout)
            if not members:
                members = client.member_list()
        changed = True
    elif existing.name and existing.name != name:
        raise EtcdError(f"etcd member {existing.name!r} already uses the peer URL {peer_url}: remove it before "
                        f"joining {name!r}, with kubeboot.cluster.kubeadm_reset on {existing.name!r} (it removes its "
                        f"own member), or kubeboot.cluster.kubeadm_etcd action=member_remove name={existing.name} "
                        "on a control-plane node when that node is gone")
    return {"changed": changed, "member": existing, "members": members,
            "initial_cluster": initial_cluster(members, name, peer_url)}


def promote_when_ready(client: Client, peer_url: str, timeout: float, interval: float = 2.0,
                       sleep=time.sleep) -> dict:
    """Promote the learner with peer_url once it is in sync (retried until timeout)."""
    def attempt():
        try:
            member = find_member(client.member_list(), peer_url)
            if member is None:
                raise EtcdError(f"etcd has no member with peer URL {peer_url}")
            if not member.is_learner:
                return {"changed": False, "member": member}
            client.member_promote(member.id)
            return {"changed": True, "member": member}
        except EtcdError as exc:
            if not _is_retryable(exc) and "learner" not in str(exc):
                raise
            raise poll.NotYet(exc) from None

    def timed_out(last):
        return EtcdError(f"timed out after {timeout:g}s promoting the etcd learner {peer_url}: "
                         f"{last.args[0] if last else ''}")
    return poll.wait_for(attempt, timeout, interval, retry_on=(), on_timeout=timed_out, sleep=sleep)


def healthcheck_client(cfg, fs, endpoints, **kwargs) -> Client:
    """A client with this node's etcd healthcheck-client identity (files read through fs, HostFS or
    a check-mode PendingView)."""
    return Client.from_files(endpoints, *pki.identity_files(cfg, "etcd-healthcheck-client"), read=reader(fs), **kwargs)
