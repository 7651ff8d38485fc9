"""JSON merge patch (RFC 7386), a reasonable strategic merge patch, and JSON patch (RFC 6902)."""
from __future__ import annotations

import copy


class PatchError(ValueError):
    pass


def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# Lists Kubernetes merges by key (patchMergeKey in the Go types), keyed by field name.
MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name",
    "volumes": "name", "env": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath",
    "imagePullSecrets": "name", "conditions": "type", "ownerReferences": "uid",
    "addresses": "type", "hostAliases": "ip", "topologySpreadConstraints": "topologyKey",
    "secrets": "name", "resourceClaims": "name", "finalizers": None,
}


def _ports_key(items):
    for it in items:
        if isinstance(it, dict) and "containerPort" in it:
            return "containerPort"
    return "port"


def _key_for(field, items):
    if field == "ports":
        return _ports_key(items)
    return MERGE_KEYS.get(field, "__replace__")


def strategic_merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    retain = patch.get("$retainKeys")
    for key, value in patch.items():
        if key.startswith("$setElementOrder/") or key in ("$retainKeys", "$patch"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            if isinstance(result.get(field), list):
                result[field] = [v for v in result[field] if v not in value]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list):
            result[key] = _merge_list(key, result.get(key), value)
        elif isinstance(value, dict):
            merged = strategic_merge_patch(result.get(key), value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        else:
            result[key] = copy.deepcopy(value)
    if retain is not None:
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_list(field, current, patch_items):
    mk = _key_for(field, patch_items + (current or []))
    if mk == "__replace__" or not isinstance(current, list):
        if mk != "__replace__":
            return [strategic_merge_patch(None, i) if isinstance(i, dict) else i
                    for i in patch_items if not (isinstance(i, dict) and i.get("$patch") == "delete")]
        return copy.deepcopy(patch_items)
    if mk is None:  # merge of primitive list (set semantics)
        out = list(current)
        for v in patch_items:
            if v not in out:
                out.append(v)
        return out
    out = copy.deepcopy(current)
    for item in patch_items:
        if not isinstance(item, dict):
            continue
        if item.get("$patch") == "replace":
            return [i for i in copy.deepcopy(patch_items) if not (isinstance(i, dict) and "$patch" in i)]
        k = item.get(mk)
        idx = next((n for n, cur in enumerate(out) if isinstance(cur, dict) and cur.get(mk) == k), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                out.pop(idx)
            continue
        if idx is None:
            out.append(strategic_merge_patch(None, item))
        else:
            out[idx] = strategic_merge_patch(out[idx], item)
    return out


def _ptr(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc, parts):
    for p in parts:
        if isinstance(doc, list):
            doc = doc[int(p)]
        elif isinstance(doc, dict):
            if p not in doc:
                raise PatchError(f"missing path element {p!r}")
            doc = doc[p]
        else:
            raise PatchError("path through a scalar")
    return doc


def _add(doc, parts, value):
    if not parts:
        return value
    parent = _walk(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, list):
        if last == "-":
            parent.append(value)
        else:
            i = int(last)
            if i > len(parent):
                raise PatchError("index out of range")
            parent.insert(i, value)
    elif isinstance(parent, dict):
        parent[last] = value
    else:
        raise PatchError("cannot add to a scalar")
    return doc


def _remove(doc, parts):
    parent = _walk(doc, parts[:-1])
    last = parts[-1]
    try:
        if isinstance(parent, list):
            return parent.pop(int(last))
        return parent.pop(last)
    except (KeyError, IndexError, ValueError) as exc:
        raise PatchError(f"unable to remove nonexistent key: {last}") from exc


def json_patch(target, ops):
    if not isinstance(ops, list):
        raise PatchError("json patch must be a list of operations")
    doc = copy.deepcopy(target)
    for op in ops:
        kind = op.get("op")
        parts = _ptr(op.get("path", ""))
        try:
            if kind == "add":
                doc = _add(doc, parts, copy.deepcopy(op["value"]))
            elif kind == "remove":
                _remove(doc, parts)
            elif kind == "replace":
                _walk(doc, parts)  # must exist
                if not parts:
                    doc = copy.deepcopy(op["value"])
                else:
                    parent = _walk(doc, parts[:-1])
                    if isinstance(parent, list):
                        parent[int(parts[-1])] = copy.deepcopy(op["value"])
                    else:
                        parent[parts[-1]] = copy.deepcopy(op["value"])
            elif kind == "move":
                value = _remove(doc, _ptr(op["from"]))
                doc = _add(doc, parts, value)
            elif kind == "copy":
                doc = _add(doc, parts, copy.deepcopy(_walk(doc, _ptr(op["from"]))))
            elif kind == "test":
                if _walk(doc, parts) != op.get("value"):
                    raise PatchError(f"testing value {op.get('path')} failed")
            else:
                raise PatchError(f"unexpected op {kind!r}")
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            if isinstance(exc, PatchError):
                raise
            raise PatchError(str(exc)) from exc
    return doc
