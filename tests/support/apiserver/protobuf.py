"""Minimal decoder for Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`).

kubectl's typed clients (`create configmap/secret/namespace`, `auth can-i`, `auth whoami`) send
protobuf; responses may be JSON (they Accept both). Only the fields of the kinds below are
decoded; unknown fields are skipped. Schemas follow the k8s.io/api generated.proto files.
"""
from __future__ import annotations

import base64

MAGIC = b"k8s\x00"


class ProtobufError(ValueError):
    pass


def _varint(buf: bytes, i: int):
    shift = result = 0
    while True:
        if i >= len(buf):
            raise ProtobufError("truncated varint")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def fields(buf: bytes):
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            val, i = _varint(buf, i)
        elif wt == 2:
            ln, i = _varint(buf, i)
            val, i = buf[i:i + ln], i + ln
        elif wt == 1:
            val, i = buf[i:i + 8], i + 8
        elif wt == 5:
            val, i = buf[i:i + 4], i + 4
        else:
            raise ProtobufError(f"unsupported wire type {wt}")
        yield num, wt, val


# schema: {field_number: (json_name, kind)}; kind: "str", "bytes"(->base64 str), "int", "bool",
# "map"(str->str), "bmap"(str->bytes base64), "strs"(repeated str), or a nested schema dict
OBJECT_META = {1: ("name", "str"), 2: ("generateName", "str"), 3: ("namespace", "str"),
               5: ("uid", "str"), 6: ("resourceVersion", "str"), 7: ("generation", "int"),
               11: ("labels", "map"), 12: ("annotations", "map"), 14: ("finalizers", "strs")}
RESOURCE_ATTRS = {1: ("namespace", "str"), 2: ("verb", "str"), 3: ("group", "str"),
                  4: ("version", "str"), 5: ("resource", "str"), 6: ("subresource", "str"),
                  7: ("name", "str")}
NON_RESOURCE_ATTRS = {1: ("path", "str"), 2: ("verb", "str")}

SCHEMAS = {
    "ConfigMap": {1: ("metadata", OBJECT_META), 2: ("data", "map"), 3: ("binaryData", "bmap"),
                  4: ("immutable", "bool")},
    "Secret": {1: ("metadata", OBJECT_META), 2: ("data", "bmap"), 3: ("type", "str"),
               4: ("stringData", "map"), 5: ("immutable", "bool")},
    "Namespace": {1: ("metadata", OBJECT_META)},
    "ServiceAccount": {1: ("metadata", OBJECT_META)},
    "SelfSubjectAccessReview": {1: ("metadata", OBJECT_META), 2: ("spec", {
        1: ("resourceAttributes", RESOURCE_ATTRS), 2: ("nonResourceAttributes", NON_RESOURCE_ATTRS)})},
    "SelfSubjectReview": {1: ("metadata", OBJECT_META)},
}


def decode_message(buf: bytes, schema: dict) -> dict:
    out: dict = {}
    for num, _wt, val in fields(buf):
        if num not in schema:
            continue
        name, kind = schema[num]
        if isinstance(kind, dict):
            out[name] = decode_message(val, kind)
        elif kind == "str":
            if val:  # gogo-proto emits empty optional strings; JSON omits them
                out[name] = val.decode()
        elif kind == "bytes":
            out[name] = base64.b64encode(val).decode()
        elif kind == "int":
            out[name] = val
        elif kind == "bool":
            out[name] = bool(val)
        elif kind == "strs":
            out.setdefault(name, []).append(val.decode())
        elif kind in ("map", "bmap"):
            k, v = "", b""
            for n2, _w, v2 in fields(val):
                if n2 == 1:
                    k = v2.decode()
                elif n2 == 2:
                    v = v2
            out.setdefault(name, {})[k] = v.decode() if kind == "map" else base64.b64encode(v).decode()
    return out


def decode(body: bytes) -> dict:
    """Decode a `k8s\\0` + runtime.Unknown envelope into a JSON-like object dict."""
    if not body.startswith(MAGIC):
        raise ProtobufError("missing protobuf magic prefix")
    api_version = kind = ""
    raw = b""
    for num, _wt, val in fields(body[len(MAGIC):]):
        if num == 1:
            for n2, _w, v2 in fields(val):
                if n2 == 1:
                    api_version = v2.decode()
                elif n2 == 2:
                    kind = v2.decode()
        elif num == 2:
            raw = val
    if kind not in SCHEMAS:
        raise ProtobufError(f"protobuf decoding of kind {kind!r} is not supported by this double")
    obj = {"apiVersion": api_version, "kind": kind}
    obj.update(decode_message(raw, SCHEMAS[kind]))
    return obj
