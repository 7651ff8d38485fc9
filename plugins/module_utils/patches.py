# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubeadm's `--patches` / `patches.directory` (kubeadm util/patches).

A directory holds files named `<target>[suffix][+patchtype].{yaml,json}`: the target is one of
kubeadm's known targets (the static Pods, `kubeletconfiguration`, `corednsdeployment`, from 1.37
`kubeproxydaemonset`), the patch type `strategic` (the default), `merge` or `json`, and the
suffix only orders the files (they are applied in file-name order, as filepath.Walk visits
them). A file may hold several patches separated by `---`. Files with another extension or an
unknown target are ignored; an unknown patch type is an error.

`load(directory, minor)` reads the directory once (before anything is written: a bad name or
patch is one clear error); `PatchManager.patch(target, obj, kind)` applies every patch of a
target to an object: JSON patch (RFC 6902), JSON merge patch (RFC 7386) or Kubernetes
strategic merge patch with the merge keys of the types kubeadm patches (Pod, Deployment,
DaemonSet; KubeletConfiguration has none).
"""
from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field

from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import docutil, errors, versions
from ansible_collections.kubeboot.cluster.plugins.module_utils.apiwriter import merge_patch
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import ConfigError
from ansible_collections.kubeboot.cluster.plugins.module_utils.files import NODE

KUBELET_CONFIGURATION = "kubeletconfiguration"
COREDNS_DEPLOYMENT = "corednsdeployment"
KUBE_PROXY_DAEMONSET = "kubeproxydaemonset"
# kubeadm patches.KnownTargets(), in its order (the file-name regexp tries them in this order)
KNOWN_TARGETS = (C.ETCD, C.KUBE_APISERVER, C.KUBE_CONTROLLER_MANAGER, C.KUBE_SCHEDULER,
                 KUBELET_CONFIGURATION, COREDNS_DEPLOYMENT)
# the type a target is, for strategic merge (kubeadm's StrategicMergePatchObject of each target)
TARGET_KINDS = {C.ETCD: "Pod", C.KUBE_APISERVER: "Pod", C.KUBE_CONTROLLER_MANAGER: "Pod", C.KUBE_SCHEDULER: "Pod",
                KUBELET_CONFIGURATION: "KubeletConfiguration", COREDNS_DEPLOYMENT: "Deployment",
                KUBE_PROXY_DAEMONSET: "DaemonSet"}
PATCH_TYPES = {"json": "json", "merge": "merge", "strategic": "strategic", "": "strategic"}
PATCH_TYPE_LIST = ("json", "merge", "strategic")
EXTENSIONS = ("json", "yaml")
_EXTENSION_RE = re.compile(r".+\.(%s)$" % "|".join(EXTENSIONS))
FIELD = "patches"


def known_targets(minor: int) -> tuple:
    """The targets kubeadm of `minor` patches (kubeproxydaemonset from 1.37)."""
    extra = (KUBE_PROXY_DAEMONSET,) if versions.behaviour(minor).kube_proxy_patch_target else ()
    return KNOWN_TARGETS + extra


def allowed(minor: int) -> str:
    return (f"a directory of files named <target>[suffix][+patchtype].{{yaml,json}}, target one of "
            f"{', '.join(known_targets(minor))}, patchtype one of {', '.join(PATCH_TYPE_LIST)} (default strategic)")


class PatchFileError(Exception):
    """A file name kubeadm refuses (not merely ignores)."""


def parse_filename(name: str, targets=KNOWN_TARGETS) -> tuple:
    """(target, patch type, warning) of a file name, like kubeadm parseFilename: a warning (target
    None) means the file is ignored; an unknown patch type after '+' raises PatchFileError."""
    if not _EXTENSION_RE.match(name):
        return None, None, f"the file extension must be one of {list(EXTENSIONS)}"
    match = re.match(r"^(%s)([^.+\n]*)?(\+)?(%s)?" % ("|".join(map(re.escape, targets)), "|".join(PATCH_TYPE_LIST)),
                     name)
    if match is None:
        return None, None, f"unknown target, must be one of {list(targets)}"
    if match.group(3) and not match.group(4):
        raise PatchFileError(f"unknown or missing patch type after '+', must be one of {list(PATCH_TYPE_LIST)}")
    return match.group(1), PATCH_TYPES[match.group(4) or ""], None


def split_patches(data: str, source: str = "") -> list:
    """The patches of one file, each as compact JSON with sorted keys (kubeadm createPatchSet: YAML
    documents split at `---` lines, empty ones skipped, converted with YAMLToJSON)."""
    documents, current = [], []
    for line in data.splitlines():
        if line.startswith("---"):
            rest = line[3:].strip()
            if rest and not rest.startswith("#"):
                raise PatchFileError(f"{source}: invalid YAML document separator {line!r}")
            documents.append("\n".join(current))
            current = []
            continue
        current.append(line)
    documents.append("\n".join(current))
    patches = []
    for document in documents:
        document = document.strip()
        if not document:
            continue
        try:
            value = docutil.parse_yaml(document)
        except docutil.YAMLInputError as exc:
            raise PatchFileError(f"{source}: could not convert patch to JSON: {exc}") from None
        patches.append(json.dumps(value, separators=(",", ":"), sort_keys=True))
    return patches


@dataclass
class PatchSet:
    target: str
    patch_type: str
    patches: list
    file: str = ""


@dataclass
class PatchManager:
    """The patches of one directory (kubeadm PatchManager)."""

    directory: str
    targets: tuple
    sets: list = field(default_factory=list)
    files: list = field(default_factory=list)      # patch files, in the order they apply
    ignored: list = field(default_factory=list)    # files that are no patches
    applied: list = field(default_factory=list)    # "<file>: <type> patch to <target>" of this run

    def has(self, target: str) -> bool:
        return any(s.target == target for s in self.sets)

    def apply_to_target(self, target: str, data, kind: str = ""):
        """kubeadm ApplyPatchesToTarget: `data` (YAML or JSON bytes/str) patched; compact JSON bytes
        when a patch applied, else `data` as it was."""
        if target not in self.targets:
            raise ConfigError(FIELD, target, f"a known patch target: {', '.join(self.targets)}")
        if not self.has(target):
            return data
        value = docutil.parse_yaml(data.decode("utf-8") if isinstance(data, bytes) else data)
        patched = self.patch(target, value, kind)
        return json.dumps(patched, separators=(",", ":"), sort_keys=True).encode("utf-8")

    def patch(self, target: str, obj, kind: str = ""):
        """A copy of obj with every patch of `target` applied in order (kind: the object's type for
        strategic merge: Pod, Deployment, DaemonSet, KubeletConfiguration)."""
        out = copy.deepcopy(obj)
        for patch_set in self.sets:
            if patch_set.target != target:
                continue
            for text in patch_set.patches:
                try:
                    out = _apply(patch_set.patch_type, out, json.loads(text), kind)
                except (PatchApplyError, TypeError, ValueError, KeyError, IndexError) as exc:
                    raise ConfigError(FIELD, f"{self.directory}/{patch_set.file}",
                                      f"a {patch_set.patch_type} patch that applies to target {target}: "
                                      f"could not apply it ({exc})") from None
                self.applied.append(f"{patch_set.file}: {patch_set.patch_type} patch to {target}")
        return out

    def summary(self) -> dict:
        return {"directory": self.directory, "files": list(self.files), "ignored": list(self.ignored),
                "applied": list(self.applied)}


def load(directory, minor: int, fs=NODE):
    """The PatchManager of `directory` (a path on this node, like `config:`), None without one.
    Raises ConfigError before anything is written when the directory or a file is not usable."""
    if not directory:
        return None
    targets = known_targets(minor)
    if not isinstance(directory, str) or not directory.startswith("/"):
        raise ConfigError(FIELD, directory, "an absolute path: " + allowed(minor))
    try:
        paths = fs.walk_files(directory)
    except errors.FileError as exc:
        raise ConfigError(FIELD, directory, f"{allowed(minor)} ({exc})") from None
    manager = PatchManager(directory, targets)
    base = directory.rstrip("/") + "/"
    for path in paths:
        name = path.rsplit("/", 1)[-1]
        shown = path[len(base):] if path.startswith(base) else name
        try:
            target, patch_type, warning = parse_filename(name, targets)
            if warning:
                manager.ignored.append(shown)
                continue
            data = fs.read_bytes(path)
            if not data:
                manager.ignored.append(shown)
                continue
            patches = split_patches(data.decode("utf-8"), shown)
        except (PatchFileError, UnicodeDecodeError, errors.FileError) as exc:
            raise ConfigError(FIELD, f"{directory}/{shown}", f"{allowed(minor)}: {exc}") from None
        manager.files.append(shown)
        manager.sets.append(PatchSet(target, patch_type, patches, shown))
    return manager


def apply(cfg, target: str, obj):
    """obj with the patches of `target` from cfg's patch manager (cfg.patch_manager, loaded from
    patches.directory); obj itself when there are none."""
    manager = getattr(cfg, "patch_manager", None)
    if manager is None or not manager.has(target):
        return obj
    return manager.patch(target, obj, TARGET_KINDS[target])


# =============================================================================
# the three patch types
# =============================================================================
class PatchApplyError(Exception):
    pass


def _apply(patch_type: str, doc, patch, kind: str):
    if patch_type == "json":
        return json_patch(doc, patch)
    if patch_type == "merge":
        return merge_patch(doc, patch)
    if not isinstance(patch, dict) or not isinstance(doc, dict):
        raise PatchApplyError("a strategic merge patch and its target must be JSON objects")
    return strategic_merge(doc, patch, kind)


# --- JSON patch (RFC 6902, as evanphx/json-patch applies it) ---------------------------------------

def _pointer(path: str) -> list:
    if path == "":
        return []
    if not isinstance(path, str) or not path.startswith("/"):
        raise PatchApplyError(f"invalid JSON pointer {path!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _index(container: list, part: str, allow_end: bool) -> int:
    if allow_end and part == "-":
        return len(container)
    if not re.match(r"\A-?\d+\Z", part):
        raise PatchApplyError(f"invalid array index {part!r}")
    index = int(part)
    if index < 0:
        index += len(container)
    limit = len(container) if allow_end else len(container) - 1
    if index < 0 or index > limit:
        raise PatchApplyError(f"array index {part} out of bounds")
    return index


def _parent(doc, parts: list):
    node = doc
    for part in parts[:-1]:
        if isinstance(node, dict):
            if part not in node:
                raise PatchApplyError(f"doc is missing path /{'/'.join(parts)}")
            node = node[part]
        elif isinstance(node, list):
            node = node[_index(node, part, False)]
        else:
            raise PatchApplyError(f"doc is missing path /{'/'.join(parts)}")
    return node


def _get(doc, parts: list):
    if not parts:
        return doc
    parent = _parent(doc, parts)
    key = parts[-1]
    if isinstance(parent, dict):
        if key not in parent:
            raise PatchApplyError(f"doc is missing key /{'/'.join(parts)}")
        return parent[key]
    if isinstance(parent, list):
        return parent[_index(parent, key, False)]
    raise PatchApplyError(f"doc is missing path /{'/'.join(parts)}")


def _add(doc, parts: list, value):
    if not parts:
        return copy.deepcopy(value)
    parent = _parent(doc, parts)
    key = parts[-1]
    if isinstance(parent, dict):
        parent[key] = copy.deepcopy(value)
    elif isinstance(parent, list):
        parent.insert(_index(parent, key, True), copy.deepcopy(value))
    else:
        raise PatchApplyError(f"doc is missing path /{'/'.join(parts)}")
    return doc


def _remove(doc, parts: list):
    if not parts:
        raise PatchApplyError("cannot remove the whole document")
    parent = _parent(doc, parts)
    key = parts[-1]
    if isinstance(parent, dict):
        if key not in parent:
            raise PatchApplyError(f"unable to remove nonexistent key /{'/'.join(parts)}")
        del parent[key]
    elif isinstance(parent, list):
        del parent[_index(parent, key, False)]
    else:
        raise PatchApplyError(f"doc is missing path /{'/'.join(parts)}")
    return doc


def _replace(doc, parts: list, value):
    if not parts:
        return copy.deepcopy(value)
    _get(doc, parts)  # must exist
    parent = _parent(doc, parts)
    key = _index(parent, parts[-1], False) if isinstance(parent, list) else parts[-1]
    parent[key] = copy.deepcopy(value)
    return doc


def json_patch(doc, operations):
    """RFC 6902: add, remove, replace, move, copy, test (negative array indexes count from the end)."""
    if not isinstance(operations, list):
        raise PatchApplyError("a JSON patch is a list of operations")
    doc = copy.deepcopy(doc)
    for operation in operations:
        if not isinstance(operation, dict) or "op" not in operation:
            raise PatchApplyError(f"invalid operation {operation!r}")
        op = operation["op"]
        parts = _pointer(operation.get("path", ""))
        if op == "add":
            doc = _add(doc, parts, operation.get("value"))
        elif op == "remove":
            doc = _remove(doc, parts)
        elif op == "replace":
            doc = _replace(doc, parts, operation.get("value"))
        elif op in ("move", "copy"):
            source = _pointer(operation.get("from", ""))
            value = copy.deepcopy(_get(doc, source))
            if op == "move":
                doc = _remove(doc, source)
            doc = _add(doc, parts, value)
        elif op == "test":
            if _get(doc, parts) != operation.get("value"):
                raise PatchApplyError(f"testing value /{'/'.join(parts)} failed")
        else:
            raise PatchApplyError(f"unexpected operation {op!r}")
    return doc


# --- strategic merge patch (apimachinery strategicpatch, the Kubernetes types' patch tags) ----------

# type -> {json field: (field type, patch strategy, merge key)}: the fields of the types kubeadm
# patches that carry patch tags, and the fields leading to them. Other fields merge maps and
# replace lists and scalars, as fields without tags do.
_POD_TEMPLATE = {"metadata": ("ObjectMeta", "", ""), "spec": ("PodSpec", "", "")}
SCHEMA = {
    "Pod": {"metadata": ("ObjectMeta", "", ""), "spec": ("PodSpec", "", ""), "status": ("PodStatus", "", "")},
    "ObjectMeta": {"finalizers": ("", "merge", ""), "ownerReferences": ("", "merge", "uid")},
    "PodSpec": {
        "volumes": ("", "merge,retainKeys", "name"),
        "initContainers": ("Container", "merge", "name"),
        "containers": ("Container", "merge", "name"),
        "ephemeralContainers": ("Container", "merge", "name"),
        "imagePullSecrets": ("", "merge", "name"),
        "hostAliases": ("", "merge", "ip"),
        "topologySpreadConstraints": ("", "merge", "topologyKey"),
        "resourceClaims": ("", "merge,retainKeys", "name"),
        "schedulingGates": ("", "merge", "name"),
    },
    "Container": {"ports": ("", "merge", "containerPort"), "env": ("", "merge", "name"),
                  "volumeMounts": ("", "merge", "mountPath"), "volumeDevices": ("", "merge", "devicePath")},
    "PodStatus": {"conditions": ("", "merge", "type")},
    "Deployment": {"metadata": ("ObjectMeta", "", ""), "spec": ("DeploymentSpec", "", ""),
                   "status": ("WorkloadStatus", "", "")},
    "DeploymentSpec": {"template": ("PodTemplateSpec", "", ""), "strategy": ("", "retainKeys", "")},
    "DaemonSet": {"metadata": ("ObjectMeta", "", ""), "spec": ("DaemonSetSpec", "", ""),
                  "status": ("WorkloadStatus", "", "")},
    "DaemonSetSpec": {"template": ("PodTemplateSpec", "", ""), "updateStrategy": ("", "retainKeys", "")},
    "PodTemplateSpec": _POD_TEMPLATE,
    "WorkloadStatus": {"conditions": ("", "merge", "type")},
    "KubeletConfiguration": {},
}
_DIRECTIVE = "$patch"
_RETAIN_KEYS = "$retainKeys"
_DELETE_PRIMITIVES = "$deleteFromPrimitiveList"
_SET_ORDER = "$setElementOrder"


def strategic_merge(original: dict, patch: dict, kind: str) -> dict:
    """StrategicMergeMapPatch(original, patch, <kind>) with MergeParallelList and IgnoreUnmatchedNulls."""
    return _merge_map(copy.deepcopy(original), copy.deepcopy(patch), kind)


def _lookup(kind: str, key: str) -> tuple:
    spec = SCHEMA.get(kind, {}).get(key)
    if spec is None:
        return "", "", ""
    field_type, strategies, merge_key = spec
    strategy = "merge" if "merge" in strategies.split(",") else ""
    return field_type, strategy, merge_key


def _merge_map(original: dict, patch: dict, kind: str) -> dict:
    if _DIRECTIVE in patch:
        directive = patch.pop(_DIRECTIVE)
        if directive == "replace":
            return patch
        if directive == "delete":
            return {}
        raise PatchApplyError(f"unknown patch type {directive!r}")
    if original is None:
        original = {}
    _retain_keys(original, patch)
    _set_element_order(original, patch, kind)
    for key, value in list(patch.items()):
        delete_list = False
        if key.startswith(_DELETE_PRIMITIVES + "/"):
            key, delete_list = key.split("/", 1)[1], True
        if value is None:
            original.pop(key, None)
            continue
        if key not in original:
            original[key] = value
            continue
        current = original[key]
        if type(current) is not type(value):
            original[key] = value
            continue
        field_type, strategy, merge_key = _lookup(kind, key)
        if isinstance(current, dict):
            original[key] = _merge_map(current, value, field_type)
        elif isinstance(current, list):
            original[key] = _merge_slice(current, value, field_type, strategy, merge_key, delete_list)
        else:
            original[key] = value
    return original


def _retain_keys(original: dict, patch: dict) -> None:
    if _RETAIN_KEYS not in patch:
        return
    keep = patch.pop(_RETAIN_KEYS)
    if not isinstance(keep, list):
        raise PatchApplyError("$retainKeys must be a list")
    for key, value in patch.items():
        if value is not None and not key.startswith(("$", )) and key not in keep:
            raise PatchApplyError(f"field {key} is not in $retainKeys")
    for key in [k for k in original if k not in keep]:
        del original[key]


def _set_element_order(original: dict, patch: dict, kind: str) -> None:
    for key in [k for k in patch if k.startswith(_SET_ORDER + "/")]:
        order = patch.pop(key)
        name = key.split("/", 1)[1]
        if not isinstance(order, list):
            raise PatchApplyError(f"{key} must be a list")
        field_type, strategy, merge_key = _lookup(kind, name)
        in_original, in_patch = name in original, name in patch
        if not in_original and not in_patch:
            continue
        if in_original and in_patch:
            merged = _merge_slice(original[name], patch[name], field_type, strategy, merge_key, False,
                                  order_by=False)
        else:
            merged = original[name] if in_original else patch[name]
        present, server_only = _partition(merged, order, merge_key)
        original[name] = _normalize_order(present, server_only, order, original.get(name) or [], merge_key)
        patch.pop(name, None)


def _element_kind(*lists) -> str:
    kinds = {("map" if isinstance(v, dict) else "list" if isinstance(v, list) else "scalar")
             for values in lists for v in values}
    if "list" in kinds:
        raise PatchApplyError("lists of lists are not supported")
    if len(kinds) > 1:
        raise PatchApplyError("list element types are not identical")
    return kinds.pop() if kinds else ""


def _merge_slice(original: list, patch: list, field_type: str, strategy: str, merge_key: str,
                 delete_list: bool, order_by: bool = True) -> list:
    if strategy != "merge":
        return patch
    if not original and not patch:
        return original
    kind = _element_kind(original, patch)
    if kind != "map":
        if delete_list:
            return [v for v in original if v not in patch]
        merged = []
        for value in original + patch:
            if value not in merged:
                merged.append(value)
    else:
        if not merge_key:
            raise PatchApplyError(f"cannot merge lists without merge key for type {field_type or 'map'}")
        original, patch = _special_elements(original, patch, merge_key)
        merged = list(original)
        for item in patch:
            if merge_key not in item:
                raise PatchApplyError(f"map {item} does not contain declared merge key {merge_key}")
            index = next((i for i, o in enumerate(merged) if o.get(merge_key) == item[merge_key]), None)
            if index is None:
                merged.append(item)
            else:
                merged[index] = _merge_map(merged[index], item, field_type)
    if not order_by:
        return merged
    present, server_only = _partition(merged, patch, merge_key)
    return _normalize_order(present, server_only, patch, original, merge_key)


def _special_elements(original: list, patch: list, merge_key: str) -> tuple:
    plain, replace = [], False
    for item in patch:
        directive = item.get(_DIRECTIVE) if isinstance(item, dict) else None
        if directive is None:
            plain.append(item)
        elif directive == "delete":
            if merge_key not in item:
                raise PatchApplyError(f"map {item} does not contain declared merge key {merge_key}")
            original = [o for o in original if o.get(merge_key) != item[merge_key]]
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise PatchApplyError("merging lists cannot yet be specified in the patch")
        else:
            raise PatchApplyError(f"unknown patch type {directive!r}")
    return (plain, []) if replace else (original, plain)


def _key_of(item, merge_key: str):
    return item.get(merge_key) if merge_key and isinstance(item, dict) else item


def _position(items: list, item, merge_key: str) -> int:
    wanted = _key_of(item, merge_key)
    return next((i for i, other in enumerate(items) if _key_of(other, merge_key) == wanted), -1)


def _partition(merged: list, by: list, merge_key: str) -> tuple:
    present, server_only = [], []
    for item in merged:
        (present if _position(by, item, merge_key) >= 0 else server_only).append(item)
    return present, server_only


def _sorted_by(items: list, order: list, merge_key: str) -> list:
    deleting = [i for i in items if isinstance(i, dict) and i.get(_DIRECTIVE) == "delete"]
    keep = [i for i in items if i not in deleting]
    ranked = sorted(enumerate(keep), key=lambda pair: (_position(order, pair[1], merge_key), pair[0]))
    return [item for _unused, item in ranked] + deleting


def _normalize_order(patch_items: list, server_only: list, patch_order: list, server_order: list,
                     merge_key: str) -> list:
    """normalizeElementOrder + mergeSortedSlice: patch items in patch order, server-only items in
    server order, interleaved by their place in the server's list (patch items first otherwise)."""
    right = _sorted_by(patch_items, patch_order, merge_key)
    left = _sorted_by(server_only, server_order, merge_key)
    out, i, j = [], 0, 0
    while i < len(left) or j < len(right):
        if i >= len(left):
            out.append(right[j])
            j += 1
        elif j >= len(right):
            out.append(left[i])
            i += 1
        else:
            li, ri = _position(server_order, left[i], merge_key), _position(server_order, right[j], merge_key)
            if li >= 0 and ri >= 0 and li < ri:
                out.append(left[i])
                i += 1
            else:
                out.append(right[j])
                j += 1
    return out
