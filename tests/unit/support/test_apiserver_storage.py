"""Resource semantics (metadata, concurrency, patches, selectors, errors) and etcd-backed storage."""
from __future__ import annotations

import base64
import json
import shutil
import subprocess

import pytest

from tests.support.apiserver import APIServer, MemoryStore, StatusError
from tests.support.apiserver.testing import call

from . import kubeadm_objects as K

CM = "/api/v1/namespaces/default/configmaps"


@pytest.fixture(params=["memory", "etcd"])
def store(request):
    if request.param == "memory":
        return MemoryStore()
    return request.getfixturevalue("etcd_server").store()


@pytest.fixture
def api(store):
    return APIServer(store)


def res(api, plural):
    return api.res(plural)


def test_create_update_conflict_generation(api):
    cms = res(api, "configmaps")
    created = api.create(cms, "default", K.configmap("default", "a", {"k": "1"}))
    meta = created["metadata"]
    assert meta["uid"] and meta["creationTimestamp"].endswith("Z") and int(meta["resourceVersion"]) > 0
    assert "generation" not in meta
    with pytest.raises(StatusError) as exc:
        api.create(cms, "default", K.configmap("default", "a", {}))
    assert (exc.value.code, exc.value.reason, exc.value.message) == (
        409, "AlreadyExists", 'configmaps "a" already exists')

    upd = dict(created, data={"k": "2"})
    updated = api.update(cms, "default", "a", upd)
    assert int(updated["metadata"]["resourceVersion"]) > int(meta["resourceVersion"])
    assert updated["metadata"]["uid"] == meta["uid"]
    with pytest.raises(StatusError) as exc:
        api.update(cms, "default", "a", upd)  # stale resourceVersion
    assert (exc.value.code, exc.value.reason) == (409, "Conflict")
    assert exc.value.message == ('Operation cannot be fulfilled on configmaps "a": the object has been '
                                 'modified; please apply your changes to the latest version and try again')
    # no resourceVersion: unconditional update
    api.update(cms, "default", "a", K.configmap("default", "a", {"k": "3"}))
    assert api.get(cms, "default", "a")["data"] == {"k": "3"}

    deps = res(api, "deployments")
    dep = api.create(deps, "default", {"apiVersion": "apps/v1", "kind": "Deployment",
                                       "metadata": {"name": "d"}, "spec": {"replicas": 1}})
    assert dep["metadata"]["generation"] == 1
    dep["spec"]["replicas"] = 2
    dep = api.update(deps, "default", "d", dep)
    assert dep["metadata"]["generation"] == 2
    dep["metadata"]["labels"] = {"x": "y"}
    assert api.update(deps, "default", "d", dep)["metadata"]["generation"] == 2


def test_errors_and_namespaces(api):
    cms = res(api, "configmaps")
    with pytest.raises(StatusError) as exc:
        api.create(cms, "nope", K.configmap("nope", "a", {}))
    assert (exc.value.code, exc.value.message) == (404, 'namespaces "nope" not found')
    with pytest.raises(StatusError) as exc:
        api.create(cms, "default", K.configmap("default", "Bad_Name", {}))
    assert exc.value.code == 422 and exc.value.reason == "Invalid"
    assert exc.value.message.startswith('ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value')
    with pytest.raises(StatusError) as exc:
        api.get(res(api, "deployments"), "default", "x")
    assert exc.value.message == 'deployments.apps "x" not found'
    # RBAC names may contain ':'
    api.create(res(api, "clusterroles"), None, {"metadata": {"name": "kubeadm:get-nodes"}, "rules": []})
    names = [n["metadata"]["name"] for n in api.list(res(api, "namespaces"), None)["items"]]
    assert names == ["default", "kube-node-lease", "kube-public", "kube-system"]


def test_secret_string_data_and_field_selectors(api):
    secrets = res(api, "secrets")
    api.create(secrets, "kube-system", {"metadata": {"name": "s1"}, "stringData": {"a": "hello"}})
    api.create(secrets, "kube-system", K.token_secret("abcdef.0123456789abcdef"))
    s1 = api.get(secrets, "kube-system", "s1")
    assert s1["data"] == {"a": base64.b64encode(b"hello").decode()} and s1["type"] == "Opaque"
    assert "stringData" not in s1
    listed = api.list(secrets, "kube-system", field_selector="type=bootstrap.kubernetes.io/token")
    assert [i["metadata"]["name"] for i in listed["items"]] == ["bootstrap-token-abcdef"]
    assert listed["kind"] == "SecretList" and int(listed["metadata"]["resourceVersion"]) > 0
    listed = api.list(secrets, None, field_selector="metadata.namespace=kube-system,metadata.name!=s1")
    assert [i["metadata"]["name"] for i in listed["items"]] == ["bootstrap-token-abcdef"]
    with pytest.raises(StatusError) as exc:
        api.list(secrets, None, field_selector="spec.bogus=1")
    assert exc.value.code == 400


def test_label_selectors(api):
    cms = res(api, "configmaps")
    for name, labels in [("a", {"tier": "web", "env": "prod"}), ("b", {"tier": "db"}), ("c", {})]:
        api.create(cms, "default", {"metadata": {"name": name, "labels": labels}})

    def sel(s):
        return [i["metadata"]["name"] for i in api.list(cms, "default", label_selector=s)["items"]]

    assert sel("tier=web") == ["a"]
    assert sel("tier==db") == ["b"]
    assert sel("tier!=web") == ["b", "c"]
    assert sel("tier in (web, db)") == ["a", "b"]
    assert sel("tier notin (web)") == ["b", "c"]
    assert sel("env") == ["a"]
    assert sel("!env") == ["b", "c"]
    assert sel("tier,!env") == ["b"]


def test_patch_types(api):
    deps = res(api, "deployments")
    api.create(deps, "default", {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                                 "spec": {"template": {"spec": {"containers": [
                                     {"name": "a", "image": "x:1", "env": [{"name": "E", "value": "1"}]},
                                     {"name": "b", "image": "y:1"}]}}}})
    smp = {"spec": {"template": {"spec": {"containers": [{"name": "b", "image": "y:2"},
                                                         {"name": "c", "image": "z:1"}]}}}}
    out = api.patch(deps, "default", "d", "application/strategic-merge-patch+json", json.dumps(smp).encode())
    cs = out["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in cs] == [("a", "x:1"), ("b", "y:2"), ("c", "z:1")]
    smp = {"spec": {"template": {"spec": {"containers": [{"name": "a", "$patch": "delete"}]}}}}
    out = api.patch(deps, "default", "d", "application/strategic-merge-patch+json", json.dumps(smp).encode())
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == ["b", "c"]
    merge = {"spec": {"template": {"spec": {"containers": [{"name": "only"}]}}}, "metadata": {"labels": {"l": "1"}}}
    out = api.patch(deps, "default", "d", "application/merge-patch+json", json.dumps(merge).encode())
    assert out["spec"]["template"]["spec"]["containers"] == [{"name": "only"}]
    jp = [{"op": "add", "path": "/metadata/annotations", "value": {"a": "b"}},
          {"op": "replace", "path": "/metadata/labels/l", "value": "2"},
          {"op": "remove", "path": "/spec/template"}]
    out = api.patch(deps, "default", "d", "application/json-patch+json", json.dumps(jp).encode())
    assert out["metadata"]["annotations"] == {"a": "b"} and out["metadata"]["labels"] == {"l": "2"}
    assert "template" not in out["spec"]
    stale = {"metadata": {"resourceVersion": "1"}, "data": {}}
    with pytest.raises(StatusError) as exc:
        api.patch(deps, "default", "d", "application/merge-patch+json", json.dumps(stale).encode())
    assert exc.value.reason == "Conflict"
    with pytest.raises(StatusError) as exc:
        api.patch(deps, "default", "missing", "application/merge-patch+json", b"{}")
    assert exc.value.code == 404


def test_node_status_subresource(api):
    nodes = res(api, "nodes")
    api.create(nodes, None, {"metadata": {"name": "n1"}, "spec": {}, "status": {"phase": "x"}})
    patch = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}, "spec": {"unschedulable": True}}
    out = api.patch(nodes, None, "n1", "application/strategic-merge-patch+json", json.dumps(patch).encode(),
                    "status")
    assert out["status"]["conditions"] == [{"type": "Ready", "status": "True"}]
    assert "unschedulable" not in out["spec"]  # /status ignores spec
    out = api.patch(nodes, None, "n1", "application/merge-patch+json",
                    json.dumps({"status": {"phase": "y"}, "metadata": {"labels": {"a": "b"}}}).encode())
    assert out["status"] == {"phase": "x", "conditions": [{"type": "Ready", "status": "True"}]}  # main ignores status
    assert out["metadata"]["labels"] == {"a": "b"}


def test_http_crud_and_discovery(api_double):
    d = api_double(controllers=False)
    admin = d.client_cert("kubernetes-admin", ["system:masters"])
    code, body = call(d, "POST", CM, K.configmap("default", "x", {"a": "1"}), cert=admin)
    assert code == 201
    code, body = call(d, "PUT", CM + "/x", dict(body, data={"a": "2"}), cert=admin)
    assert code == 200 and body["data"] == {"a": "2"}
    code, stale = call(d, "PUT", CM + "/x", dict(body, data={"a": "3"}, metadata=dict(
        body["metadata"], resourceVersion="1")), cert=admin)
    assert (code, stale["reason"], stale["kind"], stale["status"]) == (409, "Conflict", "Status", "Failure")
    code, body = call(d, "PATCH", CM + "/x", {"data": {"b": "2"}}, cert=admin,
                      content_type="application/merge-patch+json")
    assert code == 200 and body["data"] == {"a": "2", "b": "2"}
    code, body = call(d, "DELETE", CM + "/x", cert=admin)
    assert code == 200
    code, body = call(d, "DELETE", CM + "/x", cert=admin)
    assert (code, body["message"]) == (404, 'configmaps "x" not found')

    code, v1 = call(d, "GET", "/api/v1", cert=admin)
    by_name = {r["name"]: r for r in v1["resources"]}
    assert by_name["configmaps"]["shortNames"] == ["cm"] and by_name["configmaps"]["namespaced"]
    assert by_name["nodes"]["shortNames"] == ["no"] and not by_name["nodes"]["namespaced"]
    assert "nodes/status" in by_name
    code, groups = call(d, "GET", "/apis", cert=admin)
    names = [g["name"] for g in groups["groups"]]
    for g in ("apps", "rbac.authorization.k8s.io", "certificates.k8s.io", "coordination.k8s.io",
              "authorization.k8s.io", "authentication.k8s.io"):
        assert g in names
    code, csr = call(d, "GET", "/apis/certificates.k8s.io/v1", cert=admin)
    names = {r["name"]: r for r in csr["resources"]}
    assert names["certificatesigningrequests"]["shortNames"] == ["csr"]
    assert {"certificatesigningrequests/approval", "certificatesigningrequests/status"} <= set(names)
    assert call(d, "GET", "/api/v1/namespaces/default/events", cert=admin)[1]["items"] == []


# ------------------------------------------------------------------ etcd-backed
def test_etcd_keys_layout_and_resource_version(etcd_server, api_double):
    d = api_double(store=etcd_server.store(), controllers=False)
    d.put(K.configmap("kube-system", "kubeadm-config", {"ClusterConfiguration": "x"}))
    d.put(K.crb("kubeadm:get-nodes", "kubeadm:get-nodes", []))
    etcdctl = shutil.which("etcdctl")
    assert etcdctl, "etcdctl missing"
    out = subprocess.run([etcdctl, "--endpoints", etcd_server.endpoint, "get", "--prefix", "/registry/",
                          "--keys-only"], capture_output=True, text=True, timeout=20,
                         env={"ETCDCTL_API": "3", "PATH": "/usr/bin:/bin"})
    keys = [k for k in out.stdout.split() if k]
    assert "/registry/configmaps/kube-system/kubeadm-config" in keys
    assert "/registry/clusterrolebindings/kubeadm:get-nodes" in keys
    assert "/registry/namespaces/kube-system" in keys
    out = subprocess.run([etcdctl, "--endpoints", etcd_server.endpoint, "get",
                          "/registry/configmaps/kube-system/kubeadm-config", "-w", "json"],
                         capture_output=True, text=True, timeout=20, env={"ETCDCTL_API": "3"})
    kv = json.loads(out.stdout)["kvs"][0]
    value = json.loads(base64.b64decode(kv["value"]))
    assert value["data"] == {"ClusterConfiguration": "x"} and value["kind"] == "ConfigMap"
    obj = d.get("configmaps", "kube-system", "kubeadm-config")
    assert obj["metadata"]["resourceVersion"] == str(kv["mod_revision"])


def test_etcd_restart_loses_nothing(etcd_server, api_double, tmp_path):
    work = tmp_path / "w"
    d = api_double(workdir=work, store=etcd_server.store(), controllers=False)
    admin = d.client_cert("kubernetes-admin", ["system:masters"])
    assert call(d, "POST", CM, K.configmap("default", "keep", {"a": "1"}), cert=admin)[0] == 201
    d.put(K.token_secret("abcdef.0123456789abcdef"))
    before = call(d, "GET", CM + "/keep", cert=admin)[1]
    d.stop()
    etcd_server.stop()
    etcd_server.start()
    d2 = api_double(workdir=work, store=etcd_server.store(), controllers=False)
    after = call(d2, "GET", CM + "/keep", cert=admin)[1]
    assert after == before
    # the seeded defaults were not duplicated or reset, and tokens still authenticate
    code, body = call(d2, "GET", "/apis/authentication.k8s.io/v1", token="abcdef.0123456789abcdef")
    assert code == 200
    stale = dict(after, data={"a": "2"})
    assert call(d2, "PUT", CM + "/keep", stale, cert=admin)[0] == 200
    assert call(d2, "PUT", CM + "/keep", stale, cert=admin)[0] == 409


def test_cli_entry_point_with_etcd(etcd_server, tmp_path):
    """`python -m tests.support.apiserver` serves HTTPS against etcd."""
    import os
    import sys
    import time

    from tests.support import testpki
    from tests.support.apiserver.testing import free_port

    pki = tmp_path / "pki"
    testpki.write_cert_dir(str(pki))
    port = free_port()
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    proc = subprocess.Popen([sys.executable, "-m", "tests.support.apiserver", "--cert-dir", str(pki),
                             "--bind", f"127.0.0.1:{port}", "--etcd-endpoints", etcd_server.endpoint,
                             "--kubernetes-version", "v1.33.2", "--controllers-interval", "500ms"],
                            cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = proc.stdout.readline()
        assert line.strip() == f"listening on https://127.0.0.1:{port}"

        class Handle:
            host, ca_pem = "127.0.0.1", (pki / "ca.crt").read_bytes()
        Handle.port = port
        deadline = time.monotonic() + 10
        while True:
            try:
                code, body = call(Handle, "GET", "/version")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert code == 200 and body["gitVersion"] == "v1.33.2"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()


def test_watch_streams_events(api_double):
    import http.client
    import ssl
    import threading

    d = api_double(controllers=False)
    admin = d.client_cert("kubernetes-admin", ["system:masters"])
    d.put(K.configmap("default", "before", {}))
    rv = call(d, "GET", CM, cert=admin)[1]["metadata"]["resourceVersion"]
    ctx = ssl.create_default_context(cadata=d.ca_pem.decode())
    ctx.load_cert_chain(*admin)
    conn = http.client.HTTPSConnection(d.host, d.port, context=ctx, timeout=10)
    conn.request("GET", f"{CM}?watch=1&resourceVersion={rv}&timeoutSeconds=2")
    resp = conn.getresponse()
    assert resp.status == 200

    def mutate():  # spaced out: the watch polls (see README, "simplified")
        import time
        d.put(K.configmap("default", "w", {"a": "1"}))
        time.sleep(0.4)
        d.put(K.configmap("default", "w", {"a": "2"}))
        time.sleep(0.4)
        d.api.delete(d.api.res("configmaps"), "default", "w")
    t = threading.Timer(0.3, mutate)
    t.start()
    events = [json.loads(line) for line in resp.read().decode().splitlines() if line.strip()]
    t.join()
    conn.close()
    seen = [(e["type"], e["object"]["metadata"]["name"]) for e in events]
    assert seen == [("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")]
    assert ("ADDED", "before") not in seen  # older than the watch's resourceVersion
    assert all(e["object"]["kind"] == "ConfigMap" for e in events)
