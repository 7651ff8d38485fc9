# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Objects applied to the cluster (the kube_apply module): addon manifests such as the CNI's.

Every object goes through the run's `apiwriter.ApiWriter`, so the plan/apply contract holds:
`present` creates an object or updates it when the live one lacks a wanted field, `absent`
deletes it; check mode reads the cluster and writes nothing, and the diff hides Secret values.
Objects are applied in the order given (a Namespace before what lives in it) and removed in the
reverse order.
"""
from __future__ import annotations

import posixpath

from ansible_collections.kubeboot.cluster.plugins.module_utils.deps import yaml
from ansible_collections.kubeboot.cluster.plugins.module_utils import apiwriter, errors, poll
from ansible_collections.kubeboot.cluster.plugins.module_utils.apiclient import Client
from ansible_collections.kubeboot.cluster.plugins.module_utils.apiwriter import ApiWriter
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import InvalidValue
from ansible_collections.kubeboot.cluster.plugins.module_utils.files import HostFS
from ansible_collections.kubeboot.cluster.plugins.module_utils.tokencmd import load_kubeconfig

FIELD = "objects"


def parse_objects(value) -> list:
    """The objects of the `objects` option: a list of objects, or YAML text with one object a
    document (empty documents skipped). Each needs apiVersion, kind and metadata.name."""
    if isinstance(value, str):
        try:
            value = [doc for doc in yaml.safe_load_all(value) if doc is not None]
        except yaml.YAMLError as exc:
            raise InvalidValue(FIELD, "<YAML>", f"valid YAML ({errors.yaml_problem(exc)})") from None
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not value:
        raise InvalidValue(FIELD, f"<{type(value).__name__}>", "a non-empty list of Kubernetes objects, or YAML text")
    for index, obj in enumerate(value, 1):
        _check(index, obj)
    return value


def _check(index: int, obj) -> None:
    where = f"{FIELD}[{index}]"
    if not isinstance(obj, dict):
        raise InvalidValue(where, f"<{type(obj).__name__}>", "a Kubernetes object (a mapping)")
    meta = obj.get("metadata")
    for key, value in (("apiVersion", obj.get("apiVersion")), ("kind", obj.get("kind")),
                       ("metadata.name", (meta or {}).get("name") if isinstance(meta, dict) else None)):
        if not isinstance(value, str) or not value.strip():
            raise InvalidValue(f"{where}.{key}", value, "a non-empty string")


def apply_objects(api: ApiWriter, objects: list, state: str = "present") -> list:
    """ensure() (present) or remove() (absent, in reverse order) each object; the changed ids."""
    mark = api.mark()
    if state == "absent":
        for obj in reversed(objects):
            meta = obj["metadata"]
            api.remove(obj["kind"], meta["name"], meta.get("namespace", ""))
    else:
        for obj in objects:
            api.ensure(obj)
    return api.result(mark)["changed_objects"]


def wait_present(api: ApiWriter, objects: list, timeout: float) -> None:
    """Every object can be read back (what the API can tell; nothing here runs the pods)."""
    for obj in objects:
        meta = obj["metadata"]
        poll.wait_for(lambda: api.get(obj["kind"], meta["name"], meta.get("namespace", "")), timeout, 1.0,
                      what=f"{apiwriter.object_id(obj['kind'], meta['name'], meta.get('namespace', ''))} to exist")


def run_apply(params: dict, check_mode: bool = False) -> dict:
    """The kube_apply module."""
    objects = parse_objects(params.get("objects"))  # every object checked before anything is sent
    fs = HostFS(params.get("rootfs") or "/")
    path = params.get("kubeconfig")
    client = Client.from_kubeconfig(load_kubeconfig(fs, path), base_dir=posixpath.dirname(path), fs=fs,
                                    retry_timeout=params.get("api_timeout", 60))
    api = ApiWriter(client, check_mode=check_mode)
    state = params.get("state") or "present"
    changed = apply_objects(api, objects, state)
    if params.get("wait") and state == "present" and not check_mode:
        wait_present(api, objects, float(params.get("wait_timeout") or 60))
    return {"changed": bool(changed), "changed_objects": changed,
            "objects": [apiwriter.object_id(o["kind"], o["metadata"]["name"], o["metadata"].get("namespace", ""))
                        for o in objects],
            "diff": api.log.diffs, "warnings": list(api.log.notes)}
