"""apiwriter.py: the plan/apply engine for API objects, against the scripted HTTPS server of
test_apiclient (every request it receives is recorded) and an in-memory client."""
from __future__ import annotations

import yaml

from ansible_collections.kubeboot.cluster.plugins.module_utils import apiwriter, errors
from ansible_collections.kubeboot.cluster.plugins.module_utils.apiwriter import ApiWriter
from ansible_collections.kubeboot.cluster.plugins.module_utils.changes import ChangeLog
from tests.unit.plugins.module_utils.test_apiclient import _client, pki, server  # noqa: F401 - fixtures

CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "kube-system"},
      "data": {"k": "v1"}}
SECRET = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
          "metadata": {"name": "s", "namespace": "kube-system"}, "data": {"token-secret": "c2VjcmV0dmFsdWU="}}


def test_ensure_create_noop_update(server, pki):
    client = _client(server, pki)
    obj = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
           "metadata": {"name": "kubeadm:x", "labels": {"a": "1"}},
           "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "r"},
           "subjects": [{"kind": "Group", "name": "g", "apiGroup": "rbac.authorization.k8s.io"}]}
    changed, live = ApiWriter(client).ensure(obj)
    assert changed and live["metadata"]["uid"]
    n = len(server.requests)
    changed, _ = ApiWriter(client).ensure(obj)
    assert not changed
    assert [r[0] for r in server.requests[n:]] == ["GET"]
    # server-side extras do not count as a difference
    path = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/kubeadm:x"
    server.objects[path]["metadata"]["labels"]["other"] = "x"
    server.objects[path]["metadata"]["creationTimestamp"] = "2025-01-01T00:00:00Z"
    assert ApiWriter(client).ensure(obj) == (False, server.objects[path])
    # a real difference is written with the live resourceVersion and keeps foreign labels
    obj["subjects"][0]["name"] = "g2"
    changed, live = ApiWriter(client).ensure(obj)
    assert changed and server.requests[-1][0] == "PUT"
    assert live["subjects"][0]["name"] == "g2" and live["metadata"]["labels"] == {"a": "1", "other": "x"}
    # check mode writes nothing
    obj["subjects"][0]["name"] = "g3"
    n = len(server.requests)
    assert ApiWriter(client, check_mode=True).ensure(obj)[0] is True
    assert [r[0] for r in server.requests[n:]] == ["GET"]


def test_ensure_retries_conflict(server, pki):
    client = _client(server, pki)
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "kube-system"},
           "data": {"k": "v1"}}
    ApiWriter(client).ensure(obj)
    obj["data"]["k"] = "v2"
    server.script += [(200, server.objects["/api/v1/namespaces/kube-system/configmaps/c"]),
                      (409, {"message": "modified", "reason": "Conflict"})]
    changed, live = ApiWriter(client).ensure(obj)
    assert changed and live["data"] == {"k": "v2"}


def test_contains():
    assert apiwriter.contains({"a": 1, "b": {"c": [1, {"d": 2, "e": 3}]}}, {"b": {"c": [1, {"d": 2}]}})
    assert not apiwriter.contains({"a": [1, 2]}, {"a": [1]})
    assert not apiwriter.contains({"a": {"b": 1}}, {"a": {"b": 2}})
    assert apiwriter.contains({}, {"a": None})
    # omitempty: zero values may be missing from the live object, non-zero ones may not
    assert apiwriter.contains({"m": [{"name": "x"}]}, {"m": [{"name": "x", "readOnly": False, "n": 0, "s": "",
                                                              "l": [], "d": {}}]})
    assert not apiwriter.contains({}, {"readOnly": True})
    assert not apiwriter.contains({}, {"n": 1})


def _writes(server, since):
    return [r[0] for r in server.requests[since:] if r[0] != "GET"]


def test_check_mode_reads_only_and_later_reads_see_the_plan(server, pki):
    live = _client(server, pki)
    api = ApiWriter(live, check_mode=True)
    n = len(server.requests)
    assert api.ensure(CM).changed is True
    assert api.get("ConfigMap", "c", "kube-system")["data"] == {"k": "v1"}  # from the overlay
    assert api.ensure(CM).changed is False                                  # already planned
    assert [i["metadata"]["name"] for i in api.list("ConfigMap", "kube-system")] == ["c"]
    assert api.remove("ConfigMap", "c", "kube-system").changed is True
    assert api.get("ConfigMap", "c", "kube-system") is None
    assert _writes(server, n) == [], "check mode sent a write"
    assert api.log.objects == ["ConfigMap/kube-system/c", "ConfigMap/kube-system/c"]


def test_real_run_records_what_it_changed_with_yaml_diffs(server, pki):
    api = ApiWriter(_client(server, pki))
    api.ensure(CM)
    changed = dict(CM, data={"k": "v2"})
    n = len(server.requests)
    assert api.ensure(changed).changed and _writes(server, n) == ["PUT"]
    assert api.log.objects == ["ConfigMap/kube-system/c"] * 2
    created, updated = api.log.diffs
    assert created["before"] == "" and yaml.safe_load(created["after"])["data"] == {"k": "v1"}
    assert yaml.safe_load(updated["before"])["data"] == {"k": "v1"}
    assert yaml.safe_load(updated["after"])["data"] == {"k": "v2"}
    assert "resourceVersion" not in updated["after"] and "uid" not in updated["after"]


def test_secret_values_never_reach_a_diff(server, pki):
    api = ApiWriter(_client(server, pki), check_mode=True)
    api.put(SECRET)
    api.put(dict(SECRET, stringData={"token-secret": "plainsecret"}))
    text = repr(api.log.diffs)
    assert "c2VjcmV0dmFsdWU=" not in text and "plainsecret" not in text
    assert yaml.safe_load(api.log.diffs[0]["after"])["data"] == {"token-secret": errors.HIDDEN}


def test_create_or_retain_keeps_an_edited_object(server, pki):
    api = ApiWriter(_client(server, pki))
    assert api.create_or_retain(CM).changed
    n = len(server.requests)
    assert api.create_or_retain(dict(CM, data={"k": "other"})).changed is False
    assert _writes(server, n) == []


def test_offline_plan_reports_everything_as_created():
    log = ChangeLog()
    api = ApiWriter(None, log=log)
    assert api.offline and api.check_mode
    assert api.ensure(CM).changed and api.create_or_retain(SECRET).changed
    patched = api.patch("Node", "cp1", lambda node: {"metadata": {"labels": {"a": ""}}})
    assert patched.changed and patched.live["metadata"]["labels"] == {"a": ""}
    assert log.objects == ["ConfigMap/kube-system/c", "Secret/kube-system/s", "Node/cp1"]
    assert any("Node/cp1 does not exist yet" in note for note in log.notes)


def test_merge_patch():
    assert apiwriter.merge_patch({"a": {"b": 1, "c": 2}, "d": [1]}, {"a": {"b": None, "e": 3}, "d": [2]}) == \
        {"a": {"c": 2, "e": 3}, "d": [2]}


def test_ensure_compares_a_secrets_string_data_as_the_server_stores_it():
    """stringData is folded into data (base64) by the API server: a rerun must see no difference."""
    from ansible_collections.kubeboot.cluster.plugins.module_utils.apiwriter import server_form
    obj = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "n"},
           "data": {"a": "YQ=="}, "stringData": {"b": "bee"}}
    assert server_form(obj) == {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "n"},
                                "data": {"a": "YQ==", "b": "YmVl"}}
    assert "stringData" in obj  # the caller's object is not changed
    plain = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"stringData": "x"}}
    assert server_form(plain) is plain
