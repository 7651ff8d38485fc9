"""Just enough OpenAPI v3 for kubectl: a root index and, per group-version, path items whose
PATCH operations carry `x-kubernetes-group-version-kind` and the `fieldValidation` parameter.

With this kubectl (1.27+) sees that the server validates fields itself (it sends
`fieldValidation=Strict`) and skips client-side schema validation, which would otherwise need
full OpenAPI v2 schemas. No component schemas are served: for `apply`, kubectl then computes
strategic merge patches from its compiled-in Go types."""
from __future__ import annotations

import hashlib
import json

from . import resources as R


def _gv_path(group, version):
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def _all_gvs():
    return [("", "v1")] + R.groups()


def gv_document(group: str, version: str) -> dict:
    paths = {}
    params = [{"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
              for n in ("dryRun", "fieldManager", "fieldValidation")]
    for r in R.RESOURCES:
        if r.group != group or r.version != version or r.virtual:
            continue
        gvk = {"group": group, "version": version, "kind": r.kind}
        base = f"/{_gv_path(group, version)}/"
        base += f"namespaces/{{namespace}}/{r.plural}" if r.namespaced else r.plural
        ok = {"200": {"description": "OK"}}
        paths[base] = {
            "get": {"operationId": f"list{r.kind}", "responses": ok,
                    "x-kubernetes-action": "list", "x-kubernetes-group-version-kind": gvk},
            "post": {"operationId": f"create{r.kind}", "parameters": params, "responses": ok,
                     "x-kubernetes-action": "post", "x-kubernetes-group-version-kind": gvk},
        }
        paths[base + "/{name}"] = {
            "get": {"operationId": f"read{r.kind}", "responses": ok,
                    "x-kubernetes-action": "get", "x-kubernetes-group-version-kind": gvk},
            "put": {"operationId": f"replace{r.kind}", "parameters": params, "responses": ok,
                    "x-kubernetes-action": "put", "x-kubernetes-group-version-kind": gvk},
            "patch": {"operationId": f"patch{r.kind}", "parameters": params, "responses": ok,
                      "x-kubernetes-action": "patch", "x-kubernetes-group-version-kind": gvk},
            "delete": {"operationId": f"delete{r.kind}", "responses": ok,
                       "x-kubernetes-action": "delete", "x-kubernetes-group-version-kind": gvk},
        }
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "unversioned"},
            "paths": paths, "components": {"schemas": {}}}


def _hash(doc: dict) -> str:
    return hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:128].upper()


def root_document() -> dict:
    return {"paths": {_gv_path(g, v): {"serverRelativeURL": f"/openapi/v3/{_gv_path(g, v)}?hash="
                                       f"{_hash(gv_document(g, v))}"} for g, v in _all_gvs()}}


def lookup(path: str) -> dict | None:
    """`/openapi/v3` or `/openapi/v3/<gv path>` -> document, else None."""
    rest = path[len("/openapi/v3"):].strip("/")
    if not rest:
        return root_document()
    for g, v in _all_gvs():
        if rest == _gv_path(g, v):
            return gv_document(g, v)
    return None
