# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kubeadm_etcd module body (beyond kubeadm; what kubespray and k0sctl users do with etcdctl):
member_list, health, snapshot, restore, defrag, member_remove of a kubeadm stacked etcd.

Every call goes to real etcd through etcd.py (its v3 JSON gateway, mutual TLS with the node's
`etcd-healthcheck-client` or `apiserver-etcd-client` certificate from the certificate table).
The endpoints default to this node's member (its static Pod manifest's advertise-client-urls);
health and defrag then cover every member the member list names.

- snapshot: streamed from `/v3/maintenance/snapshot` into a temporary file beside `path`, checked
  against etcd's SHA-256 trailer, then renamed into place (0600: it holds the cluster's Secrets);
  returns its sha256. An existing `path` is kept unless `force`.
- restore: etcd documents it as `etcdutl snapshot restore` (etcdctl in 3.4), which writes a new
  bbolt database with a rewritten membership plus a raft WAL and snapshot; that format has no Python
  implementation here, so this is the one action that runs a program of etcd's (found on PATH, or
  `etcdutl`). The snapshot's integrity is checked in Python first, the tool writes into a staging
  directory moved into `data_dir` only when it succeeded, and the local member must be stopped.
- defrag: member by member, followers first, the leader last, only members with at least
  `defrag_min_free_bytes` to reclaim (so a rerun does nothing).
- member_remove: by name, never the last member.
Check mode runs the reads (member list, status, the snapshot check) and nothing that changes etcd
or a file.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass

from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import errors, etcd, files, pki, removeetcdmember
from ansible_collections.kubeboot.cluster.plugins.module_utils.changes import ChangeLog
from ansible_collections.kubeboot.cluster.plugins.module_utils.docutil import to_yaml
from ansible_collections.kubeboot.cluster.plugins.module_utils.files import NODE, HostFS

SNAPSHOT_MODE = 0o600
DEFAULT_CLUSTER_TOKEN = "etcd-cluster"  # etcdutl's default --initial-cluster-token
RESTORE_TOOLS = ("etcdutl", "etcdctl")  # etcd >= 3.5 / etcd 3.4 (where etcdctl still restores)


@dataclass
class CertDir:
    """What pki's path helpers need (cert_dir)."""

    cert_dir: str


class EtcdCommand:
    """One kubeadm_etcd call: the node's tree, its etcd client, the change log."""

    def __init__(self, params: dict, check_mode: bool):
        self.params, self.check_mode = params, check_mode
        self.fs = HostFS(params.get("rootfs") or "/")
        self.certs = CertDir(validate_dir(params.get("cert_dir") or C.PKI_DIR))
        self.local = removeetcdmember.local_member(self.fs, self.certs)
        self.timeout = float(params.get("timeout") or 120)
        self.log = ChangeLog()
        self._client = None

    def endpoints(self) -> list:
        given = [e for e in (self.params.get("endpoints") or []) if str(e).strip()]
        if given:
            return given
        if self.local is not None and self.local.client_url:
            return [self.local.client_url]
        return [f"https://127.0.0.1:{C.ETCD_CLIENT_PORT}"]

    def client(self, endpoints=None) -> etcd.Client:
        if endpoints is not None:
            return self._new_client(endpoints)
        if self._client is None:
            self._client = self._new_client(self.endpoints())
        return self._client

    def _new_client(self, endpoints) -> etcd.Client:
        identity = self.params.get("identity") or "etcd-healthcheck-client"
        return etcd.Client.from_files(endpoints, *pki.identity_files(self.certs, identity),
                                      read=etcd.reader(self.fs), timeout=min(self.timeout, 30.0))

    def member_endpoints(self) -> list:
        """The first client URL of every started member (the given endpoints when set)."""
        if self.params.get("endpoints"):
            return self.endpoints()
        urls = [m.client_urls[0] for m in etcd.retry(self.client().member_list, self.timeout) if m.client_urls]
        return urls or self.endpoints()

    def result(self, **values) -> dict:
        values.setdefault("changed", self.log.changed)
        values.update(changed_files=list(self.log.paths), changed_objects=list(self.log.objects),
                      notes=list(self.log.notes), warnings=list(self.log.notes), diff=self.log.diffs)
        return values


def validate_dir(value: str) -> str:
    if not str(value).startswith("/"):
        raise errors.InvalidValue("cert_dir", value, "an absolute path (the certificates directory)")
    return str(value).rstrip("/") or "/"


# --- read-only actions -------------------------------------------------------------------------

def member_list(cmd: EtcdCommand) -> dict:
    members = etcd.retry(cmd.client().member_list, cmd.timeout)
    return cmd.result(changed=False, members=[m.as_dict() for m in members])


def health(cmd: EtcdCommand) -> dict:
    """Every member: healthy (a serializable read answers), version, db sizes, leader."""
    endpoints = cmd.member_endpoints()
    client = cmd.client(endpoints)
    rows = []
    for endpoint, ok in client.endpoint_health().items():
        row = {"endpoint": endpoint, "healthy": ok}
        if ok:
            row.update(_status_row(client, endpoint))
        rows.append(row)
    return cmd.result(changed=False, healthy=all(r["healthy"] for r in rows), endpoints=rows)


def _status_row(client: etcd.Client, endpoint: str) -> dict:
    status = client.status(endpoint)
    member_id = int((status.get("header") or {}).get("member_id") or 0)
    return {"version": status.get("version", ""), "db_size": int(status.get("dbSize") or 0),
            "db_size_in_use": int(status.get("dbSizeInUse") or 0), "member_id": format(member_id, "x"),
            "leader": member_id != 0 and str(member_id) == str(status.get("leader")),
            "revision": int((status.get("header") or {}).get("revision") or 0)}


# --- snapshot ------------------------------------------------------------------------------------

def snapshot(cmd: EtcdCommand) -> dict:
    path = _required_path(cmd.params, "path", "where the snapshot goes, e.g. /var/backups/etcd-snapshot.db")
    endpoint = cmd.endpoints()[0]
    if NODE.exists(path) and not cmd.params.get("force"):
        digest = file_digest(path)
        cmd.log.note(f"{path} exists and was kept (force: true takes a new snapshot over it)")
        return cmd.result(changed=False, path=path, sha256=digest.sha256, size=digest.size, etcd_hash_ok=digest.ok)
    client = cmd.client([endpoint])
    status = _status_row(client, endpoint)  # also proves the member answers before a file is touched
    cmd.log.paths.append(path)
    cmd.log.diff(path, "" if not NODE.exists(path) else "<previous snapshot>\n",
                 f"<etcd snapshot of {endpoint} at revision {status['revision']}>\n")
    if cmd.check_mode:
        return cmd.result(path=path, endpoint=endpoint, revision=status["revision"])
    digest = etcd.SnapshotHash()
    size = 0
    with files.atomic_stream(NODE.path(path), SNAPSHOT_MODE) as handle:
        def write(blob: bytes) -> None:
            digest.update(blob)
            handle.write(blob)
        size = client.snapshot(endpoint, write, timeout=max(cmd.timeout, 60.0))
        if not digest.ok:
            raise etcd.EtcdError(f"the snapshot from {endpoint} fails etcd's SHA-256 check: nothing was written")
    return cmd.result(path=path, endpoint=endpoint, revision=status["revision"], size=size, sha256=digest.sha256,
                      etcd_hash_ok=True)


class Digest:
    def __init__(self, sha256: str, size: int, ok: bool):
        self.sha256, self.size, self.ok = sha256, size, ok


def file_digest(path: str) -> Digest:
    """sha256 of a snapshot file on the node, and whether etcd's trailer matches."""
    digest, size = etcd.SnapshotHash(), 0
    for block in NODE.chunks(path):
        digest.update(block)
        size += len(block)
    return Digest(digest.sha256, size, digest.ok)


def _required_path(params: dict, name: str, what: str) -> str:
    value = params.get(name)
    if not value or not str(value).startswith("/"):
        raise errors.InvalidValue(name, value, f"an absolute path on the node: {what}")
    return str(value)


# --- restore ----------------------------------------------------------------------------------------

def restore(cmd: EtcdCommand) -> dict:
    """etcdutl snapshot restore into a new data dir (the member must be stopped)."""
    params = cmd.params
    path = _required_path(params, "path", "the snapshot file to restore")
    data_dir = _required_path(params, "data_dir", "a new etcd data directory, e.g. /var/lib/etcd-restored")
    if not NODE.exists(path):
        raise errors.InvalidValue("path", path, "an existing snapshot file (kubeadm_etcd action=snapshot)")
    local = cmd.local or removeetcdmember.LocalMember("", "", "", "")
    name = params.get("name") or local.name
    peer_urls = params.get("initial_advertise_peer_urls") or local.peer_url
    if not name or not peer_urls:
        raise errors.InvalidValue("name", name or "", "the member's name and initial_advertise_peer_urls (no etcd "
                                                      "manifest on this node to take them from)")
    initial_cluster = params.get("initial_cluster") or f"{name}={peer_urls.split(',')[0]}"
    if cmd.fs.listdir(data_dir):
        cmd.log.note(f"{data_dir} is not empty and was kept: restore into a new directory (a rerun finds its "
                     "own restore here)")
        return cmd.result(changed=False, data_dir=data_dir, restored=False)
    if data_dir.rstrip("/") == local.data_dir.rstrip("/") and local.manifest:
        raise errors.InvalidValue("data_dir", data_dir, "a new directory, not the one the etcd manifest uses")
    # stopped = its manifest is out of the manifests directory (the kubelet stops etcd) or it does not answer
    if local.manifest and removeetcdmember.answers(local.client_url) and not params.get("force"):
        raise errors.KubebootError(
            f"the local etcd member still answers at {local.client_url}: stop it first, as etcd documents a restore "
            f"(move {C.manifest_path(C.ETCD)} out of the manifests directory; the kubelet stops etcd), or set force: "
            "true; nothing was changed")
    digest = file_digest(path)
    if not digest.ok:
        raise errors.InvalidValue("path", path, "an etcd snapshot whose SHA-256 trailer matches its content "
                                                "(this file is damaged or not an etcd snapshot)")
    tool = _restore_tool(params)
    cmd.log.paths.append(data_dir)
    cmd.log.diff(data_dir, "", f"<etcd data restored from {path} (sha256 {digest.sha256}) for member {name}>\n")
    out = {"data_dir": data_dir, "snapshot_sha256": digest.sha256, "name": name, "initial_cluster": initial_cluster,
           "tool": tool}
    if cmd.check_mode:
        return cmd.result(restored=False, **out)
    real = cmd.fs.path(data_dir)
    staging = files.staging_dir(real)
    target = os.path.join(staging, "member-data")
    argv = [tool, "snapshot", "restore", NODE.path(path), "--data-dir", target, "--name", name,
            "--initial-cluster", initial_cluster,
            "--initial-cluster-token", params.get("initial_cluster_token") or DEFAULT_CLUSTER_TOKEN,
            "--initial-advertise-peer-urls", peer_urls]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=max(cmd.timeout, 60.0), check=False,
                              env=dict(os.environ, ETCDCTL_API="3"))
        if proc.returncode != 0:
            raise errors.KubebootError(f"{os.path.basename(tool)} snapshot restore failed: "
                                       f"{proc.stderr.strip()[-400:]}; nothing was written to {data_dir}")
        files.move_into_place(target, real)  # an empty data_dir (checked above) is replaced
    finally:
        files.remove_tree(staging)
    return cmd.result(restored=True, **out)


def _restore_tool(params: dict) -> str:
    given = params.get("etcdutl")
    if given:
        if not NODE.exists(given):
            raise errors.InvalidValue("etcdutl", given, "the path of etcd's etcdutl (or etcdctl 3.4) on this node")
        return given
    for name in RESTORE_TOOLS:
        found = shutil.which(name)
        if found:
            return found
    raise errors.KubebootError(
        "restore needs etcd's own restore tool (etcdutl, or etcdctl of etcd 3.4), which is not on this node's PATH: "
        "install it (Debian: etcd-client; or copy /usr/local/bin/etcdutl out of the registry.k8s.io/etcd image) "
        "or set etcdutl to its path. A restore writes etcd's bbolt database and raft WAL, which no Python library "
        "here can")


# --- defrag and member_remove ---------------------------------------------------------------------

def defrag(cmd: EtcdCommand) -> dict:
    endpoints = cmd.member_endpoints()
    client = cmd.client(endpoints)
    minimum = int(cmd.params.get("defrag_min_free_bytes") if cmd.params.get("defrag_min_free_bytes") is not None
                  else 1048576)
    if minimum < 0:
        raise errors.InvalidValue("defrag_min_free_bytes", minimum, "0 or more bytes")
    rows = [dict(_status_row(client, endpoint), endpoint=endpoint) for endpoint in endpoints]
    rows.sort(key=lambda row: row["leader"])  # followers first, the leader last (as etcd advises)
    for row in rows:
        row["free"] = row["db_size"] - row["db_size_in_use"]
        row["defragmented"] = row["free"] >= minimum
        if not row["defragmented"]:
            continue
        cmd.log.actions.append(f"defragment {row['endpoint']}")
        if not cmd.check_mode:
            client.defragment(row["endpoint"], timeout=max(cmd.timeout, 60.0))
            row.update({k: v for k, v in _status_row(client, row["endpoint"]).items()
                        if k in ("db_size", "db_size_in_use")})
            client.wait_healthy(cmd.timeout)
    return cmd.result(endpoints=rows, changed_actions=list(cmd.log.actions))


def member_remove(cmd: EtcdCommand) -> dict:
    name = str(cmd.params.get("name") or "").strip()
    if not name:
        raise errors.InvalidValue("name", name, "the name, hex ID or peer URL of the etcd member to remove "
                                                "(action=member_list shows them)")
    client = cmd.client()
    members = etcd.retry(client.member_list, cmd.timeout)
    # a member added but never started has no name yet: its ID or peer URL names it
    member = next((m for m in members if name in (m.name, format(m.id, "x")) or name in m.peer_urls), None)
    if member is None:
        return cmd.result(changed=False, removed=False, members=[m.as_dict() for m in members])
    if len([m for m in members if not m.is_learner]) == 1 and not member.is_learner:
        raise errors.KubebootError(f"etcd member {name!r} is the last voting member of its cluster and cannot be removed "
                                   "(reset the node with kubeadm_reset force: true to delete the cluster)")
    left = etcd.remove_member(client, member, check_mode=cmd.check_mode, timeout=cmd.timeout)
    ident = f"EtcdMember/{member.name or format(member.id, 'x')}"
    cmd.log.objects.append(ident)
    cmd.log.diff(ident, to_yaml({"name": member.name, "peerURLs": member.peer_urls, "clientURLs": member.client_urls}),
                 "")
    return cmd.result(removed=True, members=[m.as_dict() for m in left])


ACTIONS = {"member_list": member_list, "health": health, "snapshot": snapshot, "restore": restore,
           "defrag": defrag, "member_remove": member_remove}


def run_etcd(params: dict, check_mode: bool = False) -> dict:
    action = params.get("action") or "member_list"
    if action not in ACTIONS:
        raise errors.InvalidValue("action", action, "one of " + ", ".join(ACTIONS))
    return ACTIONS[action](EtcdCommand(dict(params), check_mode))
