# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes documents as plain dicts: dotted paths, deep merge, Go `omitempty`, YAML the way
sigs.k8s.io/yaml writes it (what kubeadm, and so our tests, compare byte for byte), and the
text tables Go's text/tabwriter prints (`kubeadm token list`, `kubeadm certs check-expiration`)."""
from __future__ import annotations

import copy
import functools

from ansible_collections.kubeboot.cluster.plugins.module_utils.deps import yaml

_MISSING = object()
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


def tabwriter(lines: list, minwidth: int = 10, padding: int = 3) -> str:
    """Go text/tabwriter (padchar ' ', flags 0) for lines of tab-terminated cells + last text.

    Like Go, columns are aligned per block of consecutive lines that have the column: an empty
    line ends every block (kubeadm prints two tables through one writer that way)."""
    cells = [line.split("\t") for line in lines]
    out_lines = [[] for _unused in cells]
    column = 0
    while True:
        rows = [i for i, row in enumerate(cells) if column < len(row) - 1]
        if not rows:
            break
        # column blocks = runs of consecutive lines that have this column
        block = []
        for i in range(len(cells) + 1):
            if i in rows:
                block.append(i)
                continue
            if block:
                width = max([minwidth] + [len(cells[j][column]) + padding for j in block])
                for j in block:
                    out_lines[j].append(cells[j][column].ljust(width))
                block = []
        column += 1
    text = ""
    for i, row in enumerate(cells):
        text += "".join(out_lines[i]) + row[-1] + "\n"
    return text
