# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes documents as plain dicts: dotted paths, deep merge, Go `omitempty`, YAML the way
sigs.k8s.io/yaml writes it (what kubeadm, and so our tests, compare byte for byte), and the
text tables Go's text/tabwriter prints (`kubeadm token list`, `kubeadm certs check-expiration`)."""
from __future__ import annotations

import copy
import datetime
import functools

from ansible_collections.kubeboot.cluster.plugins.module_utils.deps import yaml
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import HIDDEN, ConfigError, yaml_problem

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


# libyaml's safe loader where PyYAML has it (Debian's python3-yaml and the PyPI wheels do): a rerun
# parses every kubeconfig, and the pure-Python parser is about 15x slower on them. Same documents.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", None) or getattr(yaml, "SafeLoader", None)


def parse_yaml(text, all_documents: bool = False):
    """The document (or, with all_documents, the list of non-empty documents) of YAML text, with
    PyYAML's safe loader (libyaml's where there is one). Raises YAMLInputError."""
    loader = _SAFE_LOADER(text)
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


# --- typed decoding (what Go's strict json decoding into kubeadm's and the components' types does) ---

class Kind_:
    """A scalar type of a schema: the Python types accepted and how to say what is allowed."""

    def __init__(self, accepts: tuple, allowed: str, secret: bool = False):
        self.accepts = accepts
        self.allowed = allowed
        self.secret = secret

    def accepted(self, value) -> bool:
        if isinstance(value, bool):
            return bool in self.accepts
        return isinstance(value, self.accepts)


STRING = Kind_((str,), "a string")
BOOL = Kind_((bool,), "true or false")
INT = Kind_((int,), "an integer")
NUMBER = Kind_((int, float), "a number")
DURATION = Kind_((str, int, float), "a duration such as 1m30s")
SCALAR = Kind_((str, int, float, bool), "a string")
QUANTITY = Kind_((str, int, float), "a quantity such as 100Mi")
TIMESTAMP = Kind_((str, datetime.datetime), "an RFC 3339 time such as 2030-01-01T00:00:00Z")
SECRET = Kind_((str,), "a string", secret=True)
ANY = Kind_((object,), "anything")
_PYTHON = {str: STRING, bool: BOOL, int: INT, float: NUMBER}


class Hinted:
    """A schema whose type error says `allowed` (e.g. that a map is the v1beta3 form of a list)."""

    def __init__(self, schema, allowed: str):
        self.schema = schema
        self.allowed = allowed


def decode_typed(schema, doc, where: str, warnings: list, path: str = ""):
    """`doc` checked against `schema` (a mapping of field -> type, `[type]` for a list, `{"*": type}`
    for a map, a Kind_ or str/bool/int/float for scalars), as Go decodes JSON into a struct: a value
    of the wrong type is a ConfigError naming its path; null means unset (dropped); unknown fields
    are dropped with one warning (`where` says which document). Returns the cleaned document."""
    unknown: list = []
    out = _decode(schema, doc, path, where, unknown)
    if unknown:
        warnings.append(f"{where}: unknown field(s) {', '.join(unknown)} ignored")
    return out


def _decode(schema, value, path: str, where: str, unknown: list):
    if isinstance(schema, Hinted):
        try:
            return _decode(schema.schema, value, path, where, unknown)
        except ConfigError as exc:
            if exc.field != (path or "document"):
                raise
            _type_error(schema.schema, value, path, where, schema.allowed)
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            _type_error(schema, value, path, where, "a mapping")
        if "*" in schema:
            return {str(k): _decode(schema["*"], v, _join(path, k), where, unknown)
                    for k, v in value.items() if v is not None}
        out = {}
        for key, item in value.items():
            if key not in schema:
                unknown.append(_join(path, key))
            elif item is not None:
                out[key] = _decode(schema[key], item, _join(path, key), where, unknown)
        return out
    if isinstance(schema, list):
        if not isinstance(value, list):
            _type_error(schema, value, path, where, "a list")
        return [_decode(schema[0], item, f"{path}.{index}", where, unknown) for index, item in enumerate(value)]
    kind = _PYTHON.get(schema, schema)
    if not kind.accepted(value):
        _type_error(kind, value, path, where, kind.allowed)
    return value


def _join(path: str, key) -> str:
    return f"{path}.{key}" if path else str(key)


def _holds_secret(schema) -> bool:
    if isinstance(schema, Hinted):
        return _holds_secret(schema.schema)
    if isinstance(schema, Kind_):
        return schema.secret
    if isinstance(schema, dict):
        return any(_holds_secret(s) for s in schema.values())
    if isinstance(schema, list):
        return _holds_secret(schema[0])
    return False


def _type_error(schema, value, path: str, where: str, allowed: str):
    # a value where a secret (or a section holding one) belongs is never repeated
    shown = HIDDEN if _holds_secret(schema) else value if isinstance(value, (str, int, float, bool)) \
        else f"<{type(value).__name__}>"
    raise ConfigError(path or "document", shown, f"{allowed} ({where})")


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
