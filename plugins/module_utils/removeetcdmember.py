# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubeadm reset's phase remove-etcd-member (phases/reset/removeetcdmember.go, etcd
RemoveStackedEtcdMemberFromCluster): a stacked control-plane node leaves the etcd cluster, then its
local etcd data goes.

`inspect` (run by preflight, before anything changes) reads this node's etcd static Pod (its name,
peer and client URLs, the `etcd-data` volume) and asks etcd for the member list through the local
member and the other members the API knows (the etcd mirror Pods' advertise-client-urls annotation,
as kubeadm's NewFromCluster). `refusal` turns what would lose data into one clear error unless
`force`: the last member of the cluster (kubeadm would wipe the cluster's only copy without a word),
or an etcd that cannot be reached to remove the member. `remove_etcd_member` then removes the member
(never the last one: there is no cluster left to remove it from), removes the etcd manifest so the
kubelet stops etcd, waits until the member no longer answers (data is never deleted under a running
etcd), and removes the data directory. Check mode plans all of it (`EtcdMember/<node>` in
changed_objects, the files in changed_files) and sends nothing to etcd but the member list.
"""
from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field

from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import errors, etcd, netutil, pki, poll, staticpod
from ansible_collections.kubeboot.cluster.plugins.module_utils.docutil import to_yaml

PROBE_TIMEOUT = 5.0


@dataclass
class LocalMember:
    """This node's etcd as its static Pod manifest describes it ("" when only the data is left)."""

    name: str
    peer_url: str
    client_url: str
    data_dir: str
    manifest: str = ""


@dataclass
class EtcdState:
    local: LocalMember = None
    client: etcd.Client = None
    members: list = None          # None: etcd could not be reached
    ours: etcd.Member = None
    answering: bool = False       # this node's member accepted connections when the reset began
    problem: str = ""
    notes: list = field(default_factory=list)

    @property
    def last(self) -> bool:
        return self.ours is not None and len(self.members or []) == 1


def _first(value) -> str:
    return (value or "").split(",")[0].strip()


def local_member(fs, cfg):
    """This node's stacked etcd member, or None (a worker, an external etcd, or already reset)."""
    path = C.manifest_path(C.ETCD)
    pod = staticpod.read(fs, path)
    if pod is not None:
        flags = staticpod.command_flags(pod)
        data_dir = staticpod.host_path(pod, C.ETCD_DATA_VOLUME) or flags.get("data-dir") or C.ETCD_DATA_DIR
        return LocalMember(flags.get("name", ""), _first(flags.get("initial-advertise-peer-urls")),
                           _first(flags.get("advertise-client-urls")), data_dir, path)
    # a reset that stopped after removing the manifest: this node's etcd certificates and data are still
    # there (an external etcd node has no etcd/ca.crt of kubeadm's, so its data is never taken for ours)
    if fs.exists(pki.cert_path(cfg, C.ETCD_CA_BASE)) and fs.isdir(C.ETCD_DATA_DIR):
        # kubeadm's etcd also listens on localhost: enough to see whether it still runs
        return LocalMember("", "", netutil.https_url("127.0.0.1", C.ETCD_CLIENT_PORT), C.ETCD_DATA_DIR)
    return None


def _api_endpoints(api) -> list:
    """Client URLs of the etcd members the API knows (their mirror Pods' annotation)."""
    if api is None or api.offline:
        return []
    try:
        pods = api.list("Pod", C.KUBE_SYSTEM, label_selector=f"component={C.ETCD},tier={C.CONTROL_PLANE_TIER}")
    except errors.APIError:
        return []
    return [((p.get("metadata") or {}).get("annotations") or {}).get(C.ETCD_ENDPOINT_ANNOTATION, "") for p in pods]


def answers(url: str) -> bool:
    parsed = urllib.parse.urlsplit(url)
    return bool(parsed.hostname) and netutil.tcp_open(parsed.hostname, parsed.port or C.ETCD_CLIENT_PORT)


def inspect(fs, cfg, api, node_name: str) -> EtcdState:
    """What remove-etcd-member will find, read before anything changes."""
    state = EtcdState(local=local_member(fs, cfg))
    local = state.local
    if local is None:
        return state
    endpoints = []
    for url in [local.client_url] + _api_endpoints(api):
        if url and url not in endpoints:
            endpoints.append(url)
    state.answering = bool(local.client_url) and answers(local.client_url)
    if not endpoints:
        state.problem = "no etcd endpoint is known (no etcd manifest, no etcd Pod in the API)"
        return state
    try:
        state.client = etcd.Client.from_files(endpoints, *pki.identity_files(cfg, "etcd-healthcheck-client"),
                                              read=etcd.reader(fs), timeout=PROBE_TIMEOUT)
        state.members = state.client.member_list()
    except (etcd.EtcdError, errors.FileError, errors.PKIError) as exc:
        state.problem = str(exc)
        return state
    name = local.name or node_name
    state.ours = (etcd.find_member(state.members, local.peer_url) if local.peer_url else None) or \
        next((m for m in state.members if m.name == name), None)
    return state


def refusal(state: EtcdState, force: bool):
    """The error that stops the reset before any change, or None."""
    local = state.local
    if local is None or force:
        return None
    who = local.name or "this node's member"
    if state.last:
        return errors.KubebootError(
            f"etcd member {who!r} is the last member of its etcd cluster: resetting this node deletes the cluster's "
            f"only copy of its data ({local.data_dir}). Take a snapshot first (kubeboot.cluster.kubeadm_etcd "
            "action=snapshot) and set force: true to reset it anyway; nothing was changed")
    if state.members is None:
        return errors.KubebootError(
            f"cannot reach etcd to remove {who!r} from its cluster ({state.problem}); nothing was changed. Bring "
            "etcd back, or set force: true: the member then stays in the cluster's member list and must be removed "
            f"from another control-plane node (kubeboot.cluster.kubeadm_etcd action=member_remove name={who})")
    return None


def remove_etcd_member(state: EtcdState, writer, check_mode: bool, timeout: float) -> dict:
    """The phase: member remove, etcd manifest removal, wait for the member to stop, data dir removal."""
    local = state.local
    if local is None:
        return {"changed": False, "skipped": "no local etcd member on this node (a worker or an external etcd)"}
    log = writer.log
    result = {"member": local.name, "peer_url": local.peer_url, "data_dir": local.data_dir, "last_member": state.last,
              "removed_from_cluster": False}
    mark = len(log.objects)
    if state.ours is not None and not state.last:
        left = etcd.remove_member(state.client, state.ours, check_mode=check_mode, timeout=timeout)
        ident = f"EtcdMember/{state.ours.name or local.name}"
        log.objects.append(ident)
        log.diff(ident, to_yaml({"name": state.ours.name, "peerURLs": state.ours.peer_urls,
                                 "clientURLs": state.ours.client_urls}), "")
        result.update(removed_from_cluster=True, members=[m.as_dict() for m in left])
    elif state.last:
        state.notes.append(f"etcd member {local.name!r} is the last member: it is not removed from its own cluster "
                           "(as kubeadm does); its data is deleted")
    elif state.members is not None:
        result["members"] = [m.as_dict() for m in state.members]
        state.notes.append(f"etcd member {local.name or '(unknown)'!r} is not in the cluster's member list any more")
    else:
        state.notes.append(f"etcd was not reached ({state.problem}): remove the member {local.name!r} from another "
                           "control-plane node (kubeboot.cluster.kubeadm_etcd action=member_remove)")
    changed = len(log.objects) > mark
    if local.manifest:
        changed |= writer.remove(local.manifest, secret=False)
    if state.answering and not check_mode:
        _wait_stopped(local, timeout)
    result["data_dir_removed"] = writer.remove(local.data_dir)
    result["changed"] = changed or result["data_dir_removed"]
    return result


def _wait_stopped(local: LocalMember, timeout: float) -> None:
    """Until the member's client port closes (the kubelet stops etcd once its manifest is gone; a removed
    member stops by itself)."""
    def stopped():
        if answers(local.client_url):
            raise poll.NotYet(local.client_url)
        return True

    def still_running(_last):
        return errors.KubebootError(
            f"etcd still answers at {local.client_url} {timeout:g}s after its manifest was removed, so its data "
            f"directory {local.data_dir} was kept: stop it (the kubelet normally does; is it running?), then run the "
            "reset again")
    poll.wait_for(stopped, timeout, 1.0, retry_on=(), on_timeout=still_running)
