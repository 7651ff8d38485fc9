# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The API twin of `files.Writer`: plan and apply Kubernetes objects (kubeadm's
util/apiclient idempotency.go + dryrunclient.go).

Every operation reads the live object first, decides whether anything must change,
records the change (`Kind/namespace/name` + a redacted YAML diff) in the run's
`changes.ChangeLog`, and writes only outside check mode:

- `ensure(obj)`: create, or update when the live object lacks a wanted field (server
  defaults and foreign labels are fine: `contains`);
- `create_or_retain(obj)`: create when missing, never touch an existing one;
- `put(obj)`: create, or replace an existing object with exactly `obj`;
- `patch(kind, name, make_patch)`: wait for the object, `make_patch(live)` gives a merge
  patch or None; conflicts are retried on a fresh read;
- `remove(kind, name)`: delete when present; `evict(name, namespace)`: a Pod through its
  eviction subresource (PodDisruptionBudgets apply).

In check mode nothing reaches the server but GETs and LISTs; what would be written is kept
in an overlay that later reads see, so later phases build on what earlier ones would
create. Without a client (check mode on a node whose API server does not run yet) every
object is absent and the same plan reports what would be created from the config alone.
Secret values never appear in a diff.
"""
from __future__ import annotations

import base64
import copy
from typing import NamedTuple

from ansible_collections.kubeboot.cluster.plugins.module_utils import errors, poll
from ansible_collections.kubeboot.cluster.plugins.module_utils.changes import ChangeLog
from ansible_collections.kubeboot.cluster.plugins.module_utils.docutil import to_yaml

ATTEMPTS = 5
SERVER_FIELDS = ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields", "selfLink")
SECRET_DATA = ("data", "stringData")


class Applied(NamedTuple):
    """What an operation did: `changed` (also its truth value) and the object as it now is
    (in check mode: as it would be)."""

    changed: bool
    live: dict

    def __bool__(self) -> bool:
        return bool(self.changed)


# --- comparing objects -------------------------------------------------------------------

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


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch applied to a copy of target (what the server does with it)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def server_form(obj: dict) -> dict:
    """The object as the server stores it, for comparing: a Secret's stringData folded into data
    (base64), as the API server does on every write."""
    if obj.get("kind") != "Secret" or not obj.get("stringData"):
        return obj
    out = copy.deepcopy(obj)
    data = dict(out.get("data") or {})
    for key, value in out.pop("stringData").items():
        data[key] = base64.b64encode(str(value).encode("utf-8")).decode("ascii")
    out["data"] = data
    return out


# --- naming and showing objects ------------------------------------------------------------

def object_id(kind: str, name: str, namespace: str = "") -> str:
    """`ConfigMap/kube-system/kubeadm-config`, `ClusterRoleBinding/kubeadm:get-nodes`."""
    return f"{kind}/{namespace}/{name}" if namespace else f"{kind}/{name}"


def _key(obj: dict) -> tuple:
    meta = obj.get("metadata") or {}
    return obj["kind"], meta.get("namespace", "") or "", meta["name"]


def redacted(obj) -> dict:
    """The object as a diff may show it: no server bookkeeping, no status, Secret values hidden."""
    if obj is None:
        return None
    out = copy.deepcopy(obj)
    out.pop("status", None)
    meta = out.get("metadata") or {}
    for name in SERVER_FIELDS:
        meta.pop(name, None)
    if out.get("kind") == "Secret":
        for part in SECRET_DATA:
            if isinstance(out.get(part), dict):
                out[part] = {key: errors.HIDDEN for key in out[part]}
    return out


def show(obj) -> str:
    return "" if obj is None else to_yaml(redacted(obj))


def _matches(obj: dict, label_selector: str, field_selector: str) -> bool:
    """Equality selectors (`a=b,c=d`) on an overlay object, as the server applies them to live ones."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    for term in filter(None, (label_selector or "").split(",")):
        key, _sep, value = term.partition("=")
        if labels.get(key.strip()) != value.strip():
            return False
    for term in filter(None, (field_selector or "").split(",")):
        key, _sep, value = term.partition("=")
        node = obj
        for part in key.strip().split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node != value.strip():
            return False
    return True


# --- the writer --------------------------------------------------------------------------------

class ApiWriter:
    """Plans and applies API objects through `client` (an apiclient.Client; None = no API server)."""

    def __init__(self, client=None, check_mode: bool = False, log: ChangeLog = None):
        self.client = client
        self.check_mode = check_mode or client is None
        self.log = log if log is not None else ChangeLog()
        self._overlay: dict = {}  # check mode: (kind, namespace, name) -> object, or None when removed

    @property
    def offline(self) -> bool:
        return self.client is None

    # --- reads (the overlay first) --------------------------------------------------------
    def get(self, kind: str, name: str, namespace: str = ""):
        key = (kind, namespace or "", name)
        if key in self._overlay:
            return copy.deepcopy(self._overlay[key])
        if self.offline:
            return None
        return self.client.get_or_none(kind, name, namespace)

    def list(self, kind: str, namespace: str = "", label_selector: str = "", field_selector: str = "") -> list:
        live = [] if self.offline else self.client.list(
            kind, namespace, label_selector=label_selector, field_selector=field_selector)
        items = {_key(obj): obj for obj in live}
        for key, obj in self._overlay.items():
            if key[0] != kind or (namespace and key[1] != namespace):
                continue
            if obj is None:
                items.pop(key, None)
            elif _matches(obj, label_selector, field_selector):
                items[key] = copy.deepcopy(obj)
            else:
                items.pop(key, None)
        return list(items.values())

    # --- operations ---------------------------------------------------------------------------
    def ensure(self, obj: dict) -> Applied:
        """Create, or update when the live object does not contain every wanted field."""
        obj = server_form(obj)
        wanted = {k: v for k, v in obj.items() if k != "status"}
        for _unused in range(ATTEMPTS):
            live = self._current(obj)
            try:
                if live is None:
                    return self._write("POST", None, obj)
                if contains(live, wanted):
                    return Applied(False, live)
                body = merge_wanted(live, wanted)
                body["metadata"]["resourceVersion"] = (live.get("metadata") or {}).get("resourceVersion")
                return self._write("PUT", live, body)
            except errors.Conflict:
                continue  # created or changed meanwhile: compare again
        raise self._kept_changing(obj)

    def create_or_retain(self, obj: dict) -> Applied:
        """Create when missing; an existing object is kept as it is (kubeadm CreateOrRetain*)."""
        live = self._current(obj)
        if live is not None:
            return Applied(False, live)
        try:
            return self._write("POST", None, obj)
        except errors.Conflict:
            return Applied(False, self._current(obj))

    def put(self, obj: dict) -> Applied:
        """Create, or replace an existing object with exactly `obj` (for content the caller has
        already found out of date, e.g. re-encrypted certificates)."""
        for _unused in range(ATTEMPTS):
            live = self._current(obj)
            try:
                if live is None:
                    return self._write("POST", None, obj)
                body = copy.deepcopy(obj)
                body["metadata"]["resourceVersion"] = (live.get("metadata") or {}).get("resourceVersion")
                return self._write("PUT", live, body)
            except errors.Conflict:
                continue
        raise self._kept_changing(obj)

    def patch(self, kind: str, name: str, make_patch, namespace: str = "", timeout: float = 0.0,
              interval: float = 1.0, what: str = "") -> Applied:
        """Wait up to `timeout` for the object, then merge-patch it with make_patch(live)
        (None: nothing to do). Conflicts (the patch may carry a resourceVersion) are retried."""
        live = self._present(kind, name, namespace, timeout, interval, what)
        for _unused in range(ATTEMPTS):
            change = make_patch(live)
            if change is None:
                return Applied(False, live)
            try:
                return self._write("PATCH", live, change)
            except errors.Conflict:
                live = self.client.get(kind, name, namespace)
        raise self._kept_changing(live)

    def remove(self, kind: str, name: str, namespace: str = "", options=None) -> Applied:
        """Delete when present (`options`: DeleteOptions such as gracePeriodSeconds). An object
        the server is deleting already (a Terminating Namespace, finalizers pending) is left as it is."""
        live = self.get(kind, name, namespace)
        if live is None:
            return Applied(False, None)
        if (live.get("metadata") or {}).get("deletionTimestamp"):
            return Applied(False, live)
        return self._write("DELETE", live, options)

    def evict(self, name: str, namespace: str, grace_period=None) -> Applied:
        """Evict a Pod (the eviction subresource honours PodDisruptionBudgets: a refusal is an
        APIError with status 429). Recorded like a deletion of the Pod."""
        live = self.get("Pod", name, namespace)
        if live is None:
            return Applied(False, None)
        return self._write("EVICT", live, grace_period)

    def ensure_all(self, objects) -> list:
        """ensure() each object; the ids of those that changed."""
        changed = []
        for obj in objects:
            if self.ensure(obj):
                kind, namespace, name = _key(obj)
                changed.append(object_id(kind, name, namespace))
        return changed

    # --- per-phase results -------------------------------------------------------------------------
    def mark(self) -> int:
        """A point in the change log; `result(mark)` reports what changed since."""
        return len(self.log.objects)

    def result(self, mark: int, **extra) -> dict:
        """A phase's result: changed, the ids of the objects it changed (or would), and extras."""
        changed = list(self.log.objects[mark:])
        out = {"changed": bool(changed), "changed_objects": changed}
        out.update(extra)
        return out

    # --- internals ------------------------------------------------------------------------------
    def _current(self, obj: dict):
        kind, namespace, name = _key(obj)
        return self.get(kind, name, namespace)

    def _present(self, kind: str, name: str, namespace: str, timeout: float, interval: float, what: str):
        """The live object; in check mode one read, and a bare stand-in when it is not there yet."""
        if self.check_mode:
            live = self.get(kind, name, namespace)
            if live is None:
                self.log.note(f"{object_id(kind, name, namespace)} does not exist yet: the change shown "
                              "is what would be applied once it does")
                meta = {"name": name, "namespace": namespace} if namespace else {"name": name}
                live = {"kind": kind, "metadata": meta}
            return live
        return poll.wait_for(lambda: self.get(kind, name, namespace), timeout, interval,
                             what=what or f"{kind} {name!r}")

    def _write(self, verb: str, live, body) -> Applied:
        """One change: to the server (outside check mode) or to the overlay; then recorded."""
        removal = verb in ("DELETE", "EVICT")  # their body is DeleteOptions / a grace period, not an object
        kind, namespace, name = _key(live) if verb == "PATCH" or removal else _key(body)
        if verb == "PATCH":
            after = merge_patch(live, body)
        else:
            after = None if removal else copy.deepcopy(body)
        if self.check_mode:
            self._overlay[(kind, namespace, name)] = after
        elif verb == "POST":
            after = self.client.create(body)
        elif verb == "PUT":
            after = self.client.update(body)
        elif verb == "PATCH":
            after = self.client.patch(kind, name, body, namespace, patch_type="merge")
        elif verb == "EVICT":
            self.client.evict(name, namespace, grace_period=body)
        else:
            self.client.delete(kind, name, namespace, options=body)
        ident = object_id(kind, name, namespace)
        self.log.objects.append(ident)
        self.log.diff(ident, show(live), show(after))
        return Applied(True, after)

    @staticmethod
    def _kept_changing(obj) -> errors.Conflict:
        meta = (obj or {}).get("metadata") or {}
        return errors.Conflict("PUT", meta.get("name", ""), 409, f"{(obj or {}).get('kind')} {meta.get('name')} "
                               f"kept changing while being updated ({ATTEMPTS} attempts)")
