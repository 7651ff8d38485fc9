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
from ansible_collections.kubeboot.cluster.plugins.module_utils import apiclient, apiwriter, errors, poll
from ansible_collections.kubeboot.cluster.plugins.module_utils.apiclient import Client
from ansible_collections.kubeboot.cluster.plugins.module_utils.apiwriter import ApiWriter
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import InvalidValue
from ansible_collections.kubeboot.cluster.plugins.module_utils.files import HostFS
from ansible_collections.kubeboot.cluster.plugins.module_utils.tokencmd import load_kubeconfig

FIELD = "objects"


def parse_objects(value) -> list:
    """The objects of the `objects` option: YAML text with one object (or a list of objects) a
    document, empty documents skipped; a list of objects works too. Each needs apiVersion, kind
    and metadata.name."""
    if isinstance(value, str):
        try:
            docs = [doc for doc in yaml.safe_load_all(value) if doc is not None]
        except yaml.YAMLError as exc:
            raise InvalidValue(FIELD, "<YAML>", f"valid YAML ({errors.yaml_problem(exc)})") from None
        # a document may itself be a list of objects (what `to_yaml` makes of a list)
        value = [obj for doc in docs for obj in (doc if isinstance(doc, list) else [doc])]
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


def learn_kinds(api: ApiWriter, objects: list) -> None:
    """The URL of each kind the client does not know, from the API's discovery (as kubectl finds
    it). A kind that discovery does not list yet (a custom resource whose definition this run
    creates) is left to the lower-case plural guess, with a note."""
    for api_version, kind in sorted({(o["apiVersion"], o["kind"]) for o in objects}):
        if apiclient.known_kind(kind):
            continue
        listing = None if api.offline else _discovery(api.client, api_version)
        found = [r for r in (listing or {}).get("resources") or [] if r.get("kind") == kind and "/" not in r["name"]]
        if found:
            apiclient.register_kind(kind, api_version, found[0]["name"], found[0].get("namespaced", False))
        else:
            api.log.note(f"{api_version} {kind}: not in the API's discovery (yet); using the plural "
                         f"{kind.lower()}s")


def _discovery(client, api_version: str):
    """The APIResourceList of a group version, or None when the API does not serve it."""
    try:
        return client.request("GET", apiclient.api_prefix(api_version), retry=False)
    except errors.NotFound:
        return None


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
    learn_kinds(api, objects)
    state = params.get("state") or "present"
    changed = apply_objects(api, objects, state)
    if params.get("wait") and state == "present" and not check_mode:
        wait_present(api, objects, float(params.get("wait_timeout") or 60))
    return {"changed": bool(changed), "changed_objects": changed,
            "objects": [apiwriter.object_id(o["kind"], o["metadata"]["name"], o["metadata"].get("namespace", ""))
                        for o in objects],
            "diff": api.log.diffs, "warnings": list(api.log.notes)}
