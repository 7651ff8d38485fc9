# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes documents as plain dicts: dotted paths, deep merge, Go `omitempty`, and YAML
the way sigs.k8s.io/yaml writes it (what kubeadm, and so our tests, compare byte for byte)."""
from __future__ import annotations

import copy
import functools

from ansible_collections.kubeboot.cluster.plugins.module_utils.deps import yaml
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import yaml_problem

_MISSING = object()
# YAML that is read (config files, kubeconfigs, discovery files, documents from the cluster):
# aliases may share nodes, but the document they expand to stays below this many nodes
# (575 bytes of nested aliases otherwise expand to gigabytes once a value is copied or dumped).
MAX_YAML_NODES = 100000
# Go maps: omitted when empty, and their false values are data (structs stay as {})
_MAP_KEYS = ("featureGates",)


def get(doc, path: str, default=None):
    """doc["a"]["b"][0] for "a.b.0"; `default` when any step is missing."""
    node = doc
    for key in path.split("."):
        if isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        elif isinstance(node, dict) and key in node:
            node = node[key]
        else:
            return default
    return node


def has(doc, path: str) -> bool:
    return get(doc, path, _MISSING) is not _MISSING


def put(doc, path: str, value) -> None:
    """Set the value at a dotted path, creating (or replacing non-mapping) parents as mappings."""
    *parents, last = path.split(".")
    node = doc
    for key in parents:
        if isinstance(node, list):
            node = node[int(key)]
            continue
        if not isinstance(node.get(key), (dict, list)):
            node[key] = {}
        node = node[key]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def deep_merge(base: dict, over: dict) -> dict:
    """`over` onto a copy of `base`: mappings merge, everything else (lists too) replaces."""
    out = copy.deepcopy(base)
    for key, value in (over or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def omit_empty(value, keep=()):
    """Go `omitempty` as kubeadm marshals its API: drop "", [], false, null and empty maps.

    `keep`: keys written even when empty (nodeRegistration.taints: null and [] differ).
    Keys starting with "_" are private markers and never written.
    """
    if isinstance(value, list):
        return [omit_empty(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        if key.startswith("_"):
            continue
        if key in keep and item in (None, []):
            out[key] = item
            continue
        if key in _MAP_KEYS and isinstance(item, dict):
            if item:
                out[key] = dict(item)
            continue
        item = omit_empty(item, keep)
        if item in ("", [], False, None):
            continue
        out[key] = item
    return out


class YAMLInputError(ValueError):
    """YAML that cannot be read: a parse error (line and column, never the source line, which
    may hold a key), aliases that expand past MAX_YAML_NODES, or nesting Python cannot follow."""


def parse_yaml(text, all_documents: bool = False):
    """The document (or, with all_documents, the list of non-empty documents) of YAML text, with
    PyYAML's safe loader. Raises YAMLInputError."""
    loader = yaml.SafeLoader(text)
    docs = []
    try:
        while loader.check_node():
            node = loader.get_node()
            _check_expansion(node)
            docs.append(loader.construct_document(node))
            if not all_documents:
                break
    except yaml.YAMLError as exc:
        raise YAMLInputError(yaml_problem(exc)) from None
    except RecursionError:
        raise YAMLInputError("nested too deeply") from None
    finally:
        loader.dispose()
    if all_documents:
        return [doc for doc in docs if doc is not None]
    return docs[0] if docs else None


def _check_expansion(root) -> None:
    """Refuse a node graph whose aliases expand to more than MAX_YAML_NODES nodes (or loop)."""
    sizes = {}
    stack = [(root, False)]
    active = set()
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            active.discard(key)
            total = 1 + sum(sizes[id(child)] for child in _children(node))
            if total > MAX_YAML_NODES:
                raise YAMLInputError(f"its aliases expand to more than {MAX_YAML_NODES} nodes")
            sizes[key] = total
            continue
        if key in sizes:
            continue
        if key in active:
            raise YAMLInputError("a recursive alias (an anchor used inside itself)")
        active.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)


def _children(node) -> list:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


@functools.lru_cache(maxsize=1)
def _dumper():
    """SafeDumper that quotes like go-yaml: double quotes for strings that read as another type.
    Built on first use, so importing this file never needs PyYAML."""
    class _Dumper(yaml.SafeDumper):
        pass

    _Dumper.add_representer(str, _represent_str)
    return _Dumper


def _represent_str(dumper, data):
    style = None
    if "\n" in data:
        style = "|"
    elif data == "" or dumper.resolve(yaml.ScalarNode, data, (True, False)) != "tag:yaml.org,2002:str":
        style = '"'
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


def to_yaml(obj) -> str:
    """Serialise like sigs.k8s.io/yaml: sorted keys, block style, no line folding."""
    return yaml.dump(obj, Dumper=_dumper(), default_flow_style=False, sort_keys=True,
                     width=1 << 30, allow_unicode=True)
