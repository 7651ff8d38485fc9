"""The real apiclient.Client with `request` answered from a dict: an in-memory API server for unit
tests of the API phases (every write is recorded in `.writes`). Test-only."""
from __future__ import annotations

import copy
import urllib.parse

from ansible_collections.kubeboot.cluster.plugins.module_utils import apiclient, errors


class MemClient(apiclient.Client):
    def __init__(self):
        super().__init__("https://127.0.0.1:6443", insecure=True)
        self.objects, self.writes, self.rv = {}, [], 1

    def request(self, method, path, body=None, query=None, content_type=None, retry=True, raw=False):
        if method != "GET":
            self.writes.append((method, path))
        if path == "/healthz":
            return "ok"
        body = copy.deepcopy(body)
        if method == "GET":
            if path in self.objects:
                return copy.deepcopy(self.objects[path])
            items = [copy.deepcopy(o) for p, o in self.objects.items() if p.rsplit("/", 1)[0] == path]
            if items or path.endswith("secrets"):
                selector = (query or {}).get("fieldSelector", "")
                if selector.startswith("type="):
                    items = [i for i in items if i.get("type") == selector[5:]]
                return {"apiVersion": "v1", "items": items}
            raise errors.NotFound(method, path, 404, "not found")
        if method == "POST":
            full = path + "/" + urllib.parse.quote(body["metadata"]["name"], safe=":")
            if full in self.objects:
                raise errors.Conflict(method, path, 409, "already exists")
            self.rv += 1
            body["metadata"].update(resourceVersion=str(self.rv), uid=f"uid-{self.rv}")
            self.objects[full] = body
            return copy.deepcopy(body)
        if method == "PUT":
            self.rv += 1
            body["metadata"]["resourceVersion"] = str(self.rv)
            body["metadata"].setdefault("uid", self.objects[path]["metadata"].get("uid"))
            self.objects[path] = body
            return copy.deepcopy(body)
        if method == "PATCH":
            obj = self.objects[path]
            merge(obj, body)
            return copy.deepcopy(obj)
        if method == "DELETE":
            if self.objects.pop(path, None) is None:
                raise errors.NotFound(method, path, 404, "not found")
            return {}
        raise AssertionError(method)

    @classmethod
    def with_node(cls, name: str) -> "MemClient":
        """A client whose store holds one registered Node (what the kubelet does at start)."""
        client = cls()
        client.objects[f"/api/v1/nodes/{name}"] = {"apiVersion": "v1", "kind": "Node", "spec": {},
                                                   "metadata": {"name": name, "resourceVersion": "1",
                                                                "labels": {"a": "b"}}}
        return client

    def obj(self, kind, name, ns=""):
        return self.objects.get(apiclient.resource_path(kind, name, ns))


def merge(target, patch):
    for k, v in patch.items():
        if isinstance(v, dict) and isinstance(target.get(k), dict):
            merge(target[k], v)
        else:
            target[k] = v
