"""labelSelector / fieldSelector parsing and matching (the subset Kubernetes' list supports)."""
from __future__ import annotations

import re


class SelectorError(ValueError):
    pass


def _split_top(s: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur)
    return [p.strip() for p in out if p.strip()]


_SET = re.compile(r"^([^\s!=()]+)\s+(in|notin)\s*\((.*)\)$")
_EQ = re.compile(r"^([^\s!=()]+)\s*(==|!=|=)\s*([^\s,()]*)$")
_KEY = re.compile(r"^(!?)\s*([A-Za-z0-9][-A-Za-z0-9_./]*)$")


def parse_label_selector(s: str | None):
    reqs = []
    if not s:
        return reqs
    for part in _split_top(s):
        m = _SET.match(part)
        if m:
            vals = {v.strip() for v in m.group(3).split(",") if v.strip()}
            reqs.append((m.group(1), m.group(2), vals))
            continue
        m = _EQ.match(part)
        if m:
            op = "!=" if m.group(2) == "!=" else "="
            reqs.append((m.group(1), op, {m.group(3)}))
            continue
        m = _KEY.match(part)
        if m:
            reqs.append((m.group(2), "!exists" if m.group(1) else "exists", set()))
            continue
        raise SelectorError(f"unable to parse requirement: {part!r}")
    return reqs


def match_labels(reqs, labels: dict | None) -> bool:
    labels = labels or {}
    for key, op, vals in reqs:
        present = key in labels
        val = labels.get(key)
        if op == "=" and not (present and val in vals):
            return False
        if op == "!=" and present and val in vals:
            return False
        if op == "in" and not (present and val in vals):
            return False
        if op == "notin" and present and val in vals:
            return False
        if op == "exists" and not present:
            return False
        if op == "!exists" and present:
            return False
    return True


def field_value(obj: dict, path: str) -> str:
    cur = obj
    for part in path.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    if cur is None:
        return "false" if path == "spec.unschedulable" else ""
    if isinstance(cur, bool):
        return str(cur).lower()
    return str(cur)

# which extra field labels each kind supports (metadata.* always)
KIND_FIELDS = {
    "Secret": {"type"},
    "CertificateSigningRequest": {"spec.signerName"},
    "Pod": {"spec.nodeName", "status.phase"},
    "Node": {"spec.unschedulable"},
    "Event": {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
              "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
              "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"},
    "Namespace": {"status.phase"},
}


def parse_field_selector(s: str | None, kind: str):
    reqs = []
    if not s:
        return reqs
    allowed = {"metadata.name", "metadata.namespace"} | KIND_FIELDS.get(kind, set())
    for part in _split_top(s):
        m = _EQ.match(part)
        if not m:
            raise SelectorError(f"invalid selector: {part!r}; can't understand {part!r}")
        key, op, val = m.group(1), m.group(2), m.group(3)
        if key not in allowed:
            raise SelectorError(f'field label not supported: {key}')
        reqs.append((key, "!=" if op == "!=" else "=", val))
    return reqs


def match_fields(reqs, obj: dict) -> bool:
    for key, op, val in reqs:
        actual = field_value(obj, key)
        if (op == "=") != (actual == val):
            return False
    return True
