"""patches.py against kubeadm's own test vectors (cmd/kubeadm/app/util/patches/patches_test.go,
util/staticpod/utils_test.go TestPatchStaticPod, phases/controlplane/manifests_test.go
TestCreateStaticPodFilesWithPatches), and its strategic merge against real kubectl's
(`kubectl patch --local`, the Kubernetes types' own patch tags)."""
from __future__ import annotations

import json
import os
import subprocess

import pytest
import yaml

from ansible_collections.kubeboot.cluster.plugins.module_utils import config, manifests, patches
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import ConfigError
from ansible_collections.kubeboot.cluster.plugins.module_utils.files import HostFS

TEST_TARGETS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")  # testKnownTargets


@pytest.mark.parametrize("name, target, patch_type, warning", [
    ("etcd+merge.json", "etcd", "merge", False),
    ("etcd0.yaml", "etcd", "strategic", False),
    ("etcd0+merge.yaml", "etcd", "merge", False),
    ("foo.yaml", None, None, True),
    ("etcd.foo", None, None, True),
    ("etcd", None, None, True),
])
def test_parse_filename_vectors(name, target, patch_type, warning):
    got_target, got_type, got_warning = patches.parse_filename(name, TEST_TARGETS)
    assert (got_target, got_type, bool(got_warning)) == (target, patch_type, warning)


@pytest.mark.parametrize("name", ["etcd+foo.json", "etcd+.json"])
def test_parse_filename_unknown_patch_type_is_an_error(name):
    with pytest.raises(patches.PatchFileError):
        patches.parse_filename(name, TEST_TARGETS)


@pytest.mark.parametrize("data", ["foo: bar\n---\nfoo: baz\n", '{"foo":"bar"}\n---\n{"foo":"baz"}',
                                  '{"foo":"bar"}\n---\n     ---\n{"foo":"baz"}'])
def test_create_patch_set_vectors(data):
    assert patches.split_patches(data) == ['{"foo":"bar"}', '{"foo":"baz"}']


def _write(directory, files: dict):
    os.makedirs(directory, exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(directory, name), "w", encoding="utf-8") as handle:
            handle.write(data)
    return str(directory)


def test_get_patch_sets_for_path_vector(tmp_path):
    data = '{"foo":"bar"}'
    path = _write(tmp_path / "p", dict.fromkeys(["kube-scheduler+merge.json", "kube-apiserver+json.yaml", "etcd.yaml",
                                                 "foo", "bar.json"], data))
    manager = patches.load(path, 36)
    assert manager.files == ["etcd.yaml", "kube-apiserver+json.yaml", "kube-scheduler+merge.json"]
    assert manager.ignored == ["bar.json", "foo"]
    assert [(s.target, s.patch_type, s.patches) for s in manager.sets] == [
        ("etcd", "strategic", [data]), ("kube-apiserver", "json", [data]), ("kube-scheduler", "merge", [data])]


def test_empty_files_are_ignored_and_a_bad_type_is_one_error(tmp_path):
    manager = patches.load(_write(tmp_path / "empty", {"kube-scheduler.json": ""}), 36)
    assert (manager.files, manager.ignored, manager.sets) == ([], ["kube-scheduler.json"], [])
    with pytest.raises(ConfigError) as err:
        patches.load(_write(tmp_path / "bad", {"kube-scheduler+foo.json": "{}"}), 36)
    assert err.value.field == "patches" and "kube-scheduler+foo.json" in str(err.value)
    with pytest.raises(ConfigError, match="not a directory"):
        patches.load(str(tmp_path / "missing"), 36)


@pytest.mark.parametrize("files, target, data, expected", [
    # json patch is applied first (file-name order), then the merge patch
    ({"kube-apiserver+merge.yaml": "foo: patched",
      "kube-apiserver+json.json": '[{"op": "replace", "path": "/foo", "value": "zzz"}]'},
     "kube-apiserver", b"foo: bar\nbaz: qux\n", b'{"baz":"qux","foo":"patched"}'),
    ({"kube-apiserver+json.json": '[{"op": "replace", "path": "/foo", "value": "zzz"}]'},
     "kube-apiserver", b"foo: bar\n", b'{"foo":"zzz"}'),
    ({"kube-apiserver+strategic.json": '{"foo":"zzz"}'}, "kube-apiserver", b"foo: bar\n", b'{"foo":"zzz"}'),
    # no patches for etcd: the data is returned as it was
    ({"kube-apiserver+merge.yaml": "foo: patched"}, "etcd", b"foo: bar\n", b"foo: bar\n"),
])
def test_get_patch_manager_for_path_vectors(tmp_path, files, target, data, expected):
    manager = patches.load(_write(tmp_path / "p", files), 36)
    assert manager.apply_to_target(target, data, "Pod") == expected


def test_malformed_json_patch_is_an_error_naming_the_file(tmp_path):
    manager = patches.load(_write(tmp_path / "p", {"etcd+json.json": '{"foo":"zzz"}'}), 36)
    with pytest.raises(ConfigError) as err:
        manager.apply_to_target("etcd", b"foo: bar\n", "Pod")
    assert "etcd+json.json" in str(err.value)


def test_patch_static_pod_vector_ordered_patches(tmp_path):
    """TestPatchStaticPod: kube-apiserver0+json.json, then kube-apiserver1+merge.json -> namespace bar2."""
    manager = patches.load(_write(tmp_path / "p", {
        "kube-apiserver1+merge.json": '{"metadata":{"namespace":"bar2"}}',
        "kube-apiserver0+json.json": '[{"op": "replace", "path": "/metadata/namespace", "value": "bar1"}]'}), 36)
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "kube-apiserver", "namespace": "foo"}}
    assert manager.patch("kube-apiserver", pod, "Pod")["metadata"] == {"name": "kube-apiserver", "namespace": "bar2"}
    with pytest.raises(ConfigError):
        manager.apply_to_target("foo", b"{}", "Pod")  # unknown patch target name


def test_create_static_pod_files_with_patches_vector(tmp_path):
    """TestCreateStaticPodFilesWithPatches: a kube-apiserver.yaml strategic patch adds patched: "true"."""
    directory = _write(tmp_path / "patch-files", {"kube-apiserver.yaml": 'metadata:\n  annotations:\n    patched: "true"\n'})
    cfg = config.sample_init_config(version="v1.36.3")
    cfg.patch_manager = patches.load(directory, cfg.minor)
    fs = HostFS(str(tmp_path / "root"))
    pod = yaml.safe_load(manifests.render_static_pod("kube-apiserver", cfg, fs, environ={}))
    assert pod["metadata"]["annotations"]["patched"] == "true"
    assert pod["metadata"]["annotations"][
        "kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint"] == "192.0.2.10:6443"
    unpatched = yaml.safe_load(manifests.render_static_pod("kube-scheduler", cfg, fs, environ={}))
    assert "annotations" not in unpatched["metadata"]


def test_kubeproxydaemonset_is_a_target_from_137_only(tmp_path):
    directory = _write(tmp_path / "p", {"kubeproxydaemonset.yaml": "metadata: {labels: {a: b}}"})
    assert patches.load(directory, 36).ignored == ["kubeproxydaemonset.yaml"]
    assert patches.load(directory, 37).files == ["kubeproxydaemonset.yaml"]


def test_json_patch_operations():
    doc = {"a": [1, 2, 3], "b": {"c": "d"}}
    ops = [{"op": "add", "path": "/a/-", "value": 4}, {"op": "add", "path": "/a/0", "value": 0},
           {"op": "remove", "path": "/a/1"}, {"op": "move", "from": "/b/c", "path": "/e"},
           {"op": "copy", "from": "/e", "path": "/b/f"}, {"op": "test", "path": "/e", "value": "d"},
           {"op": "replace", "path": "/a/-1", "value": 9}]
    assert patches.json_patch(doc, ops) == {"a": [0, 2, 3, 9], "b": {"f": "d"}, "e": "d"}
    assert doc == {"a": [1, 2, 3], "b": {"c": "d"}}
    for bad in ([{"op": "replace", "path": "/x", "value": 1}], [{"op": "remove", "path": "/a/7"}],
                [{"op": "test", "path": "/b/c", "value": "x"}], [{"op": "add", "path": "/x/y", "value": 1}]):
        with pytest.raises(patches.PatchApplyError):
            patches.json_patch(doc, bad)


POD = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "kube-apiserver", "namespace": "kube-system", "finalizers": ["a", "b"]},
    "spec": {
        "containers": [{
            "name": "kube-apiserver", "image": "registry.k8s.io/kube-apiserver:v1.36.3",
            "command": ["kube-apiserver", "--a=b"],
            "env": [{"name": "A", "value": "1"}, {"name": "C", "value": "3"}, {"name": "E", "value": "5"}],
            "ports": [{"containerPort": 6443, "name": "probe-port", "protocol": "TCP"}],
            "volumeMounts": [{"mountPath": "/etc/x", "name": "x"}]}],
        "tolerations": [{"key": "x", "operator": "Exists"}],
        "volumes": [{"name": "x", "hostPath": {"path": "/etc/x"}}]},
}
STRATEGIC = [
    {"spec": {"containers": [{"name": "kube-apiserver", "env": [{"name": "D", "value": "4"},
                                                                {"name": "A", "value": "9"}, {"name": "B", "value": "2"}]}]}},
    {"spec": {"containers": [{"name": "kube-apiserver", "env": [{"name": "C", "$patch": "delete"}]}]}},
    {"spec": {"containers": [{"name": "kube-apiserver", "env": [{"name": "Z", "value": "z"}],
                              "$setElementOrder/env": [{"name": "E"}, {"name": "Z"}, {"name": "A"}, {"name": "C"}]}]}},
    {"metadata": {"finalizers": ["c", "a"], "annotations": {"patched": "true"}}},
    {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}},
    {"spec": {"tolerations": [{"key": "y", "operator": "Exists"}]}},
    {"spec": {"containers": [{"name": "sidecar", "image": "busybox"}]}},
    {"spec": {"containers": [{"name": "kube-apiserver", "command": ["x"], "ports": [{"containerPort": 8080, "name": "http"}],
                              "resources": {"requests": {"cpu": "500m"}}}]}},
    {"spec": {"volumes": [{"name": "x", "$patch": "delete"}],
              "containers": [{"name": "kube-apiserver", "volumeMounts": [{"mountPath": "/etc/x", "$patch": "delete"}]}]}},
    {"spec": {"containers": [{"$patch": "replace", "name": "only", "image": "i"}]}},
    {"spec": {"hostNetwork": True, "priorityClassName": None}},
    {"spec": {"volumes": [{"name": "x", "emptyDir": {}, "$retainKeys": ["name", "emptyDir"]}]}},
    {"spec": {"containers": [{"name": "kube-apiserver",
                              "env": [{"name": "A", "value": None, "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]}]}},
]


def test_strategic_merge_is_kubectls(tmp_path, kubectl, kubectl_env):
    source = tmp_path / "pod.json"
    source.write_text(json.dumps(POD))
    for patch in STRATEGIC:
        out = subprocess.run([kubectl, "patch", "--local", "-f", str(source), "--type", "strategic", "-p",
                              json.dumps(patch), "-o", "json"], capture_output=True, text=True, env=kubectl_env,
                             timeout=60)
        assert out.returncode == 0, out.stderr
        assert patches.strategic_merge(POD, patch, "Pod") == json.loads(out.stdout), patch


def test_strategic_merge_of_a_deployment_is_kubectls(tmp_path, kubectl, kubectl_env):
    from ansible_collections.kubeboot.cluster.plugins.module_utils import addondns
    deployment = addondns.coredns_deployment(config.sample_init_config(version="v1.36.3"))
    source = tmp_path / "deploy.json"
    source.write_text(json.dumps(deployment))
    patch = {"spec": {"replicas": 3, "template": {"spec": {
        "containers": [{"name": "coredns", "args": ["-conf", "/etc/coredns/Corefile", "-dns.port", "53"],
                        "ports": [{"containerPort": 9999, "name": "extra", "protocol": "TCP"}]}],
        "tolerations": [{"operator": "Exists"}]}}}}
    out = subprocess.run([kubectl, "patch", "--local", "-f", str(source), "--type", "strategic", "-p",
                          json.dumps(patch), "-o", "json"], capture_output=True, text=True, env=kubectl_env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert patches.strategic_merge(deployment, patch, "Deployment") == json.loads(out.stdout)
