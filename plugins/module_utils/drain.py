# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Node's lifecycle through the API, as `kubectl cordon|uncordon|drain` and `kubectl delete node` do it
(k8s.io/kubectl/pkg/drain), for the kube_node module, reset's delete-node phase, remove_node.yml and
upgrade.yml; `wait_node` waits until a Node is Ready with a given kubelet version (upgrade.yml, after
the kubelet restart, before the uncordon).

`drain` first decides about every Pod on the Node (kubectl's filters: mirror Pods are skipped,
DaemonSet Pods skipped with `ignore_daemonsets`, Pods without a controller or with emptyDir data
refused unless `force` / `delete_emptydir_data`), so a refused drain changes nothing; then it cordons
the Node, evicts the Pods (the eviction subresource honours PodDisruptionBudgets: a refusal is
retried until `timeout`) or deletes them (`disable_eviction`), and waits until they are gone.
Everything goes through an apiwriter.ApiWriter: check mode reads and plans, writes nothing.
"""
from __future__ import annotations

import time

from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import apiclient, errors, poll, validators
from ansible_collections.kubeboot.cluster.plugins.module_utils.apiwriter import ApiWriter
from ansible_collections.kubeboot.cluster.plugins.module_utils.files import HostFS

FINISHED_PHASES = ("Succeeded", "Failed")


class DrainError(errors.KubebootError):
    """The node cannot be drained as asked (which Pods, and the option that would allow it)."""


def _ident(pod: dict) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def _controller(pod: dict):
    refs = (pod.get("metadata") or {}).get("ownerReferences") or []
    return next((ref for ref in refs if ref.get("controller")), None)


def _is_mirror(pod: dict) -> bool:
    return C.MIRROR_POD_ANNOTATION in ((pod.get("metadata") or {}).get("annotations") or {})


def _has_emptydir(pod: dict) -> bool:
    return any("emptyDir" in volume for volume in (pod.get("spec") or {}).get("volumes") or [])


def classify(pods, ignore_daemonsets: bool = True, delete_emptydir_data: bool = False, force: bool = False) -> dict:
    """kubectl drain's filters: {"remove": [...pods], "skipped": {ident: why}, "refused": {ident: why}}."""
    out = {"remove": [], "skipped": {}, "refused": {}}
    for pod in pods:
        ident = _ident(pod)
        finished = (pod.get("status") or {}).get("phase") in FINISHED_PHASES
        controller = _controller(pod)
        if _is_mirror(pod):
            out["skipped"][ident] = "mirror pod (a static Pod: the kubelet owns it)"
        elif controller and controller.get("kind") == "DaemonSet" and not finished:
            if ignore_daemonsets:
                out["skipped"][ident] = "DaemonSet-managed"
            else:
                out["refused"][ident] = "DaemonSet-managed (set ignore_daemonsets)"
        elif controller is None and not finished and not force:
            out["refused"][ident] = "declares no controller: it would not come back (set force)"
        elif _has_emptydir(pod) and not finished and not delete_emptydir_data:
            out["refused"][ident] = "uses emptyDir: its data would be lost (set delete_emptydir_data)"
        else:
            out["remove"].append(pod)
    return out


def pods_on(api, node: str) -> list:
    return api.list("Pod", field_selector=f"spec.nodeName={node}")


def node_or_error(api, node: str) -> dict:
    live = api.get("Node", node)
    if live is None:
        raise errors.NotFound("GET", f"/api/v1/nodes/{node}", 404, f'nodes "{node}" not found')
    return live


def set_unschedulable(api, node: str, unschedulable: bool) -> dict:
    """cordon (True) / uncordon (False) as one merge patch; returns {"changed", "unschedulable"}."""
    node_or_error(api, node)

    def make_patch(live):
        current = bool((live.get("spec") or {}).get("unschedulable"))
        if current == unschedulable:
            return None
        return {"spec": {"unschedulable": True if unschedulable else None}}
    applied = api.patch("Node", node, make_patch)
    return {"changed": bool(applied), "unschedulable": unschedulable}


def drain(api, node: str, grace_period: int = -1, timeout: float = 300.0, ignore_daemonsets: bool = True,
          delete_emptydir_data: bool = False, force: bool = False, disable_eviction: bool = False,
          sleep=time.sleep) -> dict:
    """kubectl drain: refuse before any change, cordon, evict (or delete), wait until gone."""
    if timeout <= 0:
        raise errors.InvalidValue("timeout", timeout, "a number of seconds greater than 0")
    node_or_error(api, node)
    decided = classify(pods_on(api, node), ignore_daemonsets, delete_emptydir_data, force)
    if decided["refused"]:
        details = "; ".join(f"{ident}: {why}" for ident, why in sorted(decided["refused"].items()))
        raise DrainError(f"cannot drain node {node!r}, nothing was changed: {details}")
    cordon = set_unschedulable(api, node, True)
    grace = None if grace_period is None or grace_period < 0 else grace_period
    removed = [_remove_pod(api, pod, grace, disable_eviction, timeout, sleep) for pod in decided["remove"]]
    if not api.check_mode:
        _wait_gone(api, node, decided["remove"], timeout, sleep)
    return {"changed": cordon["changed"] or any(removed), "unschedulable": True,
            "evicted" if not disable_eviction else "deleted": [_ident(p) for p in decided["remove"]],
            "skipped_pods": decided["skipped"]}


def _remove_pod(api, pod: dict, grace, disable_eviction: bool, timeout: float, sleep) -> bool:
    meta = pod["metadata"]
    if disable_eviction:
        options = None if grace is None else {"gracePeriodSeconds": grace}
        return bool(api.remove("Pod", meta["name"], meta["namespace"], options=options))

    def attempt():
        try:
            return (bool(api.evict(meta["name"], meta["namespace"], grace_period=grace)),)
        except errors.NotFound:
            return (False,)  # gone meanwhile
        except errors.APIError as exc:
            if exc.status == 429:  # a PodDisruptionBudget: wait for the workload elsewhere to become ready
                raise poll.NotYet(exc) from None
            raise

    def refused(last):
        return DrainError(f"eviction of pod {_ident(pod)} still refused after {timeout:g}s: "
                          f"{last.args[0].message if last else 'disruption budget'}")
    return poll.wait_for(attempt, timeout, 5.0, retry_on=(), on_timeout=refused, sleep=sleep)[0]


def _wait_gone(api, node: str, pods: list, timeout: float, sleep) -> None:
    wanted = {(p["metadata"]["namespace"], p["metadata"]["name"], p["metadata"].get("uid")) for p in pods}

    def gone():
        left = {(p["metadata"].get("namespace"), p["metadata"]["name"], p["metadata"].get("uid"))
                for p in pods_on(api, node)} & wanted
        return None if left else True

    def timed_out(_last):
        return DrainError(f"pods on {node!r} still not gone after {timeout:g}s")
    poll.wait_for(gone, timeout, 1.0, on_timeout=timed_out, sleep=sleep)


def wait_node(api, node: str, timeout: float, kubelet_version: str = "", sleep=time.sleep) -> dict:
    """Wait until the Node is Ready and, when given, its kubelet reports `kubelet_version` (upgrade.yml after
    the kubelet restart); check mode reads the Node once and waits for nothing. {"ready", "kubelet_version"}."""
    node_or_error(api, node)

    def ready():
        status = node_or_error(api, node).get("status") or {}
        is_ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
        version = (status.get("nodeInfo") or {}).get("kubeletVersion", "")
        if api.check_mode:
            return {"ready": is_ready, "kubelet_version": version}
        if not is_ready:
            raise poll.NotYet(f"Node {node!r} is not Ready")
        if kubelet_version and version != kubelet_version:
            raise poll.NotYet(f"Node {node!r} runs kubelet {version or '(none reported)'}, not {kubelet_version}")
        return {"ready": True, "kubelet_version": version}

    def timed_out(last):
        return DrainError(f"Node {node!r} still not Ready{' with kubelet ' + kubelet_version if kubelet_version else ''}"
                          f" after {timeout:g}s, nothing was changed: {last}")
    return poll.wait_for(ready, timeout, 2.0, on_timeout=timed_out, sleep=sleep)


def delete_node(api, node: str) -> dict:
    """kubectl delete node: {"changed", "deleted"} (an absent Node is no change)."""
    applied = api.remove("Node", node)
    return {"changed": bool(applied), "deleted": bool(applied)}


# --- the kube_node module -----------------------------------------------------------------------

def run_node(params: dict, check_mode: bool = False) -> dict:
    """kube_node: state cordoned | uncordoned | drained | absent of one Node; diff = the API changes."""
    name = validators.node_name("name", str(params.get("name") or "").strip().lower())
    state = params.get("state") or "drained"
    fs = HostFS(params.get("rootfs") or "/")
    client = apiclient.Client.from_kubeconfig_file(fs, params.get("kubeconfig") or C.kubeconfig_path(C.ADMIN_CONF),
                                                   retry_timeout=params.get("api_timeout", 60))
    api = ApiWriter(client, check_mode=check_mode)
    waited = {}
    if params.get("wait_ready") or params.get("kubelet_version"):  # before the Node is changed
        waited = wait_node(api, name, params.get("timeout", 300), str(params.get("kubelet_version") or "").strip())
    if state == "absent":
        result = delete_node(api, name)
    elif state in ("cordoned", "uncordoned"):
        result = set_unschedulable(api, name, state == "cordoned")
    else:
        result = drain(api, name, grace_period=params.get("grace_period", -1), timeout=params.get("timeout", 300),
                       ignore_daemonsets=params.get("ignore_daemonsets", True),
                       delete_emptydir_data=bool(params.get("delete_emptydir_data")), force=bool(params.get("force")),
                       disable_eviction=bool(params.get("disable_eviction")))
    result.update(waited)
    result.update(node=name, state=state, changed_objects=list(api.log.objects), diff=api.log.diffs)
    return result
