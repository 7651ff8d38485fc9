# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cordon, drain and uncordon a Node through the API, as `kubectl cordon|drain|uncordon` do
(k8s.io/kubectl/pkg/drain): the Node is marked unschedulable, then every Pod bound to it is
evicted (policy/v1 Eviction, so PodDisruptionBudgets are honoured; retried while one forbids it)
or deleted (disable_eviction), except mirror Pods and, with ignore_daemonsets, DaemonSet Pods.
Pods that would be lost (no controller, emptyDir data) are refused unless `force` /
`delete_emptydir_data`, all named in one error before anything is evicted. Check mode plans the
cordon and the evictions through the ApiWriter and waits for nothing."""
from __future__ import annotations

import time

from ansible_collections.kubeboot.cluster.plugins.module_utils import errors, poll, tokencmd
from ansible_collections.kubeboot.cluster.plugins.module_utils.apiwriter import ApiWriter, object_id, show
from ansible_collections.kubeboot.cluster.plugins.module_utils.files import HostFS

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
STATES = ("drain", "cordon", "uncordon")


class DrainError(errors.KubebootError):
    """Pods that cannot be evicted, or an eviction that did not finish in time."""


def _node(api, name: str) -> dict:
    node = api.get("Node", name)
    if node is None:
        raise errors.InvalidValue("name", name, "the name of a Node in the cluster")
    return node


def set_unschedulable(api, name: str, unschedulable: bool) -> bool:
    """cordon (True) / uncordon (False): a merge patch of spec.unschedulable, only when it differs."""
    def patch(node):
        current = bool((node.get("spec") or {}).get("unschedulable"))
        if current == unschedulable:
            return None
        return {"spec": {"unschedulable": True if unschedulable else None}}
    _node(api, name)
    return bool(api.patch("Node", name, patch))


def _controller(pod: dict):
    return next((ref for ref in (pod.get("metadata") or {}).get("ownerReferences") or [] if ref.get("controller")),
                None)


def classify(pods, ignore_daemonsets: bool = True, delete_emptydir_data: bool = False, force: bool = False) -> tuple:
    """(Pods to evict, skipped [(ns/name, why)], problems [(ns/name, why)]) like kubectl's drain filters."""
    evict, skipped, problems = [], [], []
    for pod in pods:
        meta = pod.get("metadata") or {}
        ident = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
        if MIRROR_ANNOTATION in (meta.get("annotations") or {}):
            skipped.append((ident, "mirror Pod of a static Pod"))
            continue
        finished = (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")
        controller = _controller(pod)
        if not finished and controller and controller.get("kind") == "DaemonSet":
            if ignore_daemonsets:
                skipped.append((ident, "DaemonSet-managed"))
            else:
                problems.append((ident, "DaemonSet-managed (set ignore_daemonsets)"))
            continue
        if not finished and not controller and not force:
            problems.append((ident, "declares no controller: it would be lost (set force)"))
            continue
        if not finished and not delete_emptydir_data and any(
                "emptyDir" in v for v in (pod.get("spec") or {}).get("volumes") or []):
            problems.append((ident, "has local storage, emptyDir (set delete_emptydir_data)"))
            continue
        evict.append(pod)
    return evict, skipped, problems


def drain(api, name: str, ignore_daemonsets: bool = True, delete_emptydir_data: bool = False, force: bool = False,
          disable_eviction: bool = False, grace_period=None, timeout: float = 300.0, sleep=time.sleep) -> dict:
    """Cordon the Node and evict its Pods; returns {cordoned, evicted, skipped}."""
    cordoned = set_unschedulable(api, name, True)
    pods = api.list("Pod", field_selector=f"spec.nodeName={name}", all_namespaces=True)
    evict, skipped, problems = classify(pods, ignore_daemonsets, delete_emptydir_data, force)
    if problems:
        raise DrainError(f"cannot drain Node {name!r}: " + "; ".join(f"{p} {why}" for p, why in problems))
    evicted = []
    deadline = time.monotonic() + timeout
    for pod in evict:
        meta = pod["metadata"]
        _remove(api, meta["namespace"], meta["name"], disable_eviction, grace_period,
                max(1.0, deadline - time.monotonic()), sleep)
        evicted.append(f"{meta['namespace']}/{meta['name']}")
    if not api.check_mode:
        for pod in evict:
            _wait_gone(api, pod, max(1.0, deadline - time.monotonic()), sleep)
    return {"cordoned": cordoned, "evicted": evicted, "skipped": [f"{p} ({why})" for p, why in skipped]}


def _remove(api, namespace: str, name: str, disable_eviction: bool, grace_period, timeout: float, sleep) -> None:
    if api.check_mode or disable_eviction:
        if api.check_mode:
            api.remove("Pod", name, namespace)
        else:
            live = api.get("Pod", name, namespace)
            api.client.delete("Pod", name, namespace)
            _record(api, namespace, name, live)
        return
    live = api.get("Pod", name, namespace)

    def evicted():
        try:
            api.client.evict(name, namespace, grace_period)
        except errors.NotFound:
            return True
        except errors.APIError as exc:
            if exc.status == 429:  # a PodDisruptionBudget: kubectl retries every 5 s
                raise poll.NotYet(f"evicting {namespace}/{name}: {exc.message}") from None
            raise
        return True

    poll.wait_for(evicted, timeout, 5.0, what=f"the eviction of Pod {namespace}/{name}", retry_on=(), sleep=sleep,
                  on_timeout=lambda last: DrainError(f"Pod {namespace}/{name} could not be evicted within "
                                                     f"{timeout:g}s: {last}"))
    _record(api, namespace, name, live)


def _record(api, namespace: str, name: str, live) -> None:
    ident = object_id("Pod", name, namespace)
    api.log.objects.append(ident)
    api.log.diff(ident, show(live), "")


def _wait_gone(api, pod: dict, timeout: float, sleep) -> None:
    meta = pod["metadata"]

    def gone():
        live = api.client.get_or_none("Pod", meta["name"], meta["namespace"])
        return live is None or (live.get("metadata") or {}).get("uid") != meta.get("uid")
    poll.wait_for(gone, timeout, 1.0, what=f"Pod {meta['namespace']}/{meta['name']} to be deleted", sleep=sleep)


def wait_node(api, name: str, timeout: float, kubelet_version: str = "", sleep=time.sleep) -> dict:
    """Wait until the Node is Ready (and its kubelet reports kubelet_version); check mode reads once."""
    def ready():
        node = _node(api, name)
        status = node.get("status") or {}
        is_ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
        version = (status.get("nodeInfo") or {}).get("kubeletVersion", "")
        if api.check_mode:
            return {"ready": is_ready, "kubelet_version": version}
        if not is_ready:
            raise poll.NotYet(f"Node {name} is not Ready")
        if kubelet_version and version != kubelet_version:
            raise poll.NotYet(f"Node {name} runs kubelet {version}, waiting for {kubelet_version}")
        return {"ready": True, "kubelet_version": version}
    return poll.wait_for(ready, timeout, 2.0, what=f"Node {name} to be Ready", sleep=sleep)


def run(api, params: dict, sleep=time.sleep) -> dict:
    """The kubeadm_node module body: state drain | cordon | uncordon (+ wait_ready)."""
    name = (params.get("name") or "").strip()
    if not name:
        raise errors.InvalidValue("name", params.get("name"), "the name of a Node in the cluster")
    state = params.get("state") or "drain"
    if state not in STATES:
        raise errors.InvalidValue("state", state, "one of " + ", ".join(STATES))
    mark = api.mark()
    timeout = float(params.get("timeout") or 300)
    result = {"name": name, "state": state, "cordoned": False, "evicted": [], "skipped": []}
    if params.get("wait_ready") or params.get("kubelet_version"):  # before the Node is changed
        result["node"] = wait_node(api, name, timeout, (params.get("kubelet_version") or "").strip(), sleep)
    if state == "drain":
        result.update(drain(api, name, ignore_daemonsets=params.get("ignore_daemonsets", True),
                            delete_emptydir_data=bool(params.get("delete_emptydir_data")),
                            force=bool(params.get("force")), disable_eviction=bool(params.get("disable_eviction")),
                            grace_period=params.get("grace_period"), timeout=timeout, sleep=sleep))
    elif state == "cordon":
        result["cordoned"] = set_unschedulable(api, name, True)
    else:
        result["uncordoned"] = set_unschedulable(api, name, False)
    result.update(api.result(mark))
    return result


def run_node(params: dict, check_mode: bool = False) -> dict:
    """kubeadm_node: the Node through the kubeconfig's identity (read through rootfs)."""
    fs = HostFS(params.get("rootfs") or "/")
    client = tokencmd.client_for(fs, params.get("kubeconfig") or tokencmd.DEFAULT_KUBECONFIG,
                                 retry_timeout=params.get("api_timeout", 60))
    api = ApiWriter(client, check_mode=check_mode)
    result = run(api, params)
    result["diff"] = api.log.diffs
    return result
