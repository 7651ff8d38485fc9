"""Bad input (issue 12): every case is refused with one clear error naming the field, before anything
is written. Each runs through the module entry points (run_init / run_join / run_token) on a tree a
previous init built; the whole tree (content, modes, mtimes) is compared before and after. A sample
goes through ansible-playbook (test_playbook_sample)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest
import yaml

from ansible_collections.kubeboot.cluster.plugins.module_utils import errors, init, join, tokencmd

from tests.conftest import COLLECTIONS_ROOT
from tests.support import hardening
from tests.support.hardening import init_params, tree_state, write_config

pytestmark = pytest.mark.hardening("bad-input")

TOKEN = "abcdef.0123456789abcdef"
V4 = "apiVersion: kubeadm.k8s.io/v1beta4\n"
INIT = V4 + "kind: InitConfiguration\n"
CLUSTER = V4 + "kind: ClusterConfiguration\n"
JOIN = V4 + "kind: JoinConfiguration\n"
JOIN_DISCOVERY = ("discovery:\n  bootstrapToken:\n    apiServerEndpoint: 127.0.0.1:6443\n"
                  f"    token: {TOKEN}\n    unsafeSkipCAVerification: true\n")


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A tree kubeadm_init built: every bad input is tried on it."""
    root = str(tmp_path_factory.mktemp("template") / "rootfs")
    result = init.run_init(init_params(root))
    assert result["changed"]
    return root


@pytest.fixture
def rootfs(template, tmp_path):
    root = str(tmp_path / "rootfs")
    shutil.copytree(template, root, symlinks=True)
    return root


# (id, options over init_params, config file text or None, words the error must contain)
INIT_CASES = [
    ("extraVolumes-string", {}, CLUSTER + "apiServer:\n  extraVolumes: oops\n", ["apiServer.extraVolumes", "a list"]),
    ("extraVolumes-entry", {}, CLUSTER + "apiServer:\n  extraVolumes:\n  - name: x\n    hostPath: /a\n",
     ["apiServer.extraVolumes.0", "mountPath"]),
    ("extraVolumes-relative", {}, CLUSTER + "scheduler:\n  extraVolumes:\n  - {name: x, hostPath: a, mountPath: /b}\n",
     ["scheduler.extraVolumes.0.hostPath", "absolute"]),
    ("extraEnvs-string", {}, CLUSTER + "controllerManager:\n  extraEnvs: oops\n", ["controllerManager.extraEnvs"]),
    ("nodeRegistration-string", {}, INIT + "nodeRegistration: oops\n", ["nodeRegistration", "a mapping"]),
    ("localAPIEndpoint-int", {}, INIT + "localAPIEndpoint: 5\n", ["localAPIEndpoint", "a mapping"]),
    ("token-usages-int", {}, INIT + "bootstrapTokens:\n- usages: 5\n", ["bootstrapTokens.0.usages", "a list"]),
    ("token-groups-int", {}, INIT + "bootstrapTokens:\n- groups: 5\n", ["bootstrapTokens.0.groups", "a list"]),
    ("timeouts-string", {}, INIT + "timeouts: 5m\n", ["timeouts", "a mapping"]),
    ("taints-int", {}, INIT + "nodeRegistration:\n  taints: [5]\n", ["nodeRegistration.taints.0", "a mapping"]),
    ("taint-effect", {}, INIT + "nodeRegistration:\n  taints: [{key: a, effect: Sometimes}]\n",
     ["nodeRegistration.taints.0.effect", "NoSchedule"]),
    ("token-expires-tomorrow", {}, INIT + "bootstrapTokens:\n- expires: tomorrow\n",
     ["bootstrapTokens.0.expires", "RFC 3339"]),
    ("token-expires-past", {}, INIT + "bootstrapTokens:\n- expires: '2001-01-01T00:00:00Z'\n",
     ["bootstrapTokens.0.expires", "future"]),
    ("token-ttl-and-expires", {}, INIT + "bootstrapTokens:\n- ttl: 1h\n  expires: '2099-01-01T00:00:00Z'\n",
     ["bootstrapTokens.0", "mutually exclusive"]),
    ("token-ttl-1ns", {"token_ttl": "1ns"}, None, ["token_ttl", "at least 1s"]),
    ("token-groups-without-authentication", {}, INIT + "bootstrapTokens:\n- usages: [signing]\n",
     ["bootstrapTokens.0.groups", "authentication"]),
    ("token-blank", {"token": "   "}, None, ["token", "not only blanks"]),
    ("duration-beyond-a-date", {"certificate_validity_period": "99999999999h"}, None,
     ["certificate_validity_period", "longest Go duration"]),
    ("token-ttl-beyond-a-date", {"token_ttl": "9999999999h"}, None, ["token_ttl", "longest Go duration"]),
    ("validity-0s", {"certificate_validity_period": "0s"}, None, ["certificate_validity_period", "at least 10m0s"]),
    ("validity-1s", {"ca_certificate_validity_period": "1s"}, None, ["ca_certificate_validity_period", "at least"]),
    ("dns-disabled-string", {}, CLUSTER + "dns:\n  disabled: 'no'\n", ["dns.disabled", "true or false"]),
    ("pod-cidr-bare-address", {"pod_network_cidr": "10.244.0.1"}, None, ["pod_network_cidr", "prefix length"]),
    ("pod-cidr-smaller-than-node-mask", {"pod_network_cidr": "10.244.0.0/30"}, None,
     ["pod_network_cidr", "node mask /24"]),
    ("pod-cidr-ipv6-mask-difference", {"pod_network_cidr": "fd00::/32", "service_cidr": "fd01::/112",
                                       "apiserver_advertise_address": "fd02::10"}, None,
     ["pod_network_cidr", "at most 16 bits"]),
    ("node-mask-not-an-integer", {}, CLUSTER + "controllerManager:\n  extraArgs:\n  - {name: node-cidr-mask-size-ipv4,"
                                               " value: big}\n", ["node-cidr-mask-size-ipv4", "integer"]),
    ("image-repository-trailing-slash", {"image_repository": "registry.example.com/"}, None,
     ["image_repository", "no trailing slash"]),
    ("image-repository-capitals", {"image_repository": "registry.example.com/MyOrg"}, None, ["image_repository"]),
    ("image-repository-scheme", {"image_repository": "https://registry.example.com"}, None,
     ["image_repository", "no scheme"]),
    ("dns-image-repository", {}, CLUSTER + "dns:\n  imageRepository: Reg/x/\n", ["dns.imageRepository"]),
    ("version-leading-zero", {"kubernetes_version": "v1.034.2"}, None, ["kubernetes_version"]),
    ("version-label-doubled", {"kubernetes_version": "stablestable-1.34"}, None, ["kubernetes_version"]),
    ("ipv6-zone", {"apiserver_advertise_address": "fe80::1%eth0"}, None, ["apiserver_advertise_address", "%zone"]),
    ("cri-socket-newline", {"cri_socket": "unix:///run/containerd/containerd.sock\nx"}, None,
     ["cri_socket", "control characters"]),
    ("external-etcd-not-urls", {}, CLUSTER + "etcd:\n  external:\n    endpoints: [10.0.0.5:2379]\n",
     ["etcd.external.endpoints", "scheme"]),
    ("external-etcd-http-with-certs", {}, CLUSTER + "etcd:\n  external:\n    endpoints: [http://10.0.0.5:2379]\n"
                                                    "    caFile: /etc/etcd/ca.crt\n", ["etcd.external.endpoints", "https"]),
    ("external-etcd-cert-without-ca", {}, CLUSTER + "etcd:\n  external:\n    endpoints: [https://10.0.0.5:2379]\n"
                                                    "    certFile: /a.crt\n    keyFile: /a.key\n",
     ["etcd.external.caFile"]),
    ("external-etcd-relative-file", {}, CLUSTER + "etcd:\n  external:\n    endpoints: [https://10.0.0.5:2379]\n"
                                                  "    caFile: ca.crt\n", ["etcd.external.caFile", "absolute"]),
    ("legacy-gate-DynamicKubeletConfig", {"feature_gates": "DynamicKubeletConfig=true"}, None,
     ["feature_gates", "removed in kubeadm 1.13", "KubeletConfiguration"]),
    ("legacy-gate-Auditing", {"feature_gates": {"Auditing": True}}, None,
     ["feature_gates", "removed in kubeadm 1.13", "audit-policy-file"]),
    ("legacy-gate-CoreDNS", {"feature_gates": "CoreDNS=true"}, None, ["feature_gates", "removed in kubeadm 1.18"]),
    ("kubelet-maxPods-string", {}, V4.replace("kubeadm.k8s.io/v1beta4", "kubelet.config.k8s.io/v1beta1")
     + "kind: KubeletConfiguration\nmaxPods: abc\n", ["maxPods", "an integer"]),
    ("kubelet-cgroupDriver", {}, "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"
                                 "cgroupDriver: system\n", ["cgroupDriver", "systemd"]),
    ("kube-proxy-mode", {}, "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: bogus\n",
     ["mode", "iptables"]),
    ("kube-proxy-bindAddress", {}, "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n"
                                   "bindAddress: everywhere\n", ["bindAddress", "an IP address"]),
    ("node-name-over-253", {"node_name": "a" * 254}, None, ["node_name", "253"]),
    ("alias-bomb", {}, INIT + "x0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"x{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, "
        f"*a{i - 1}, *a{i - 1}]\n" for i in range(1, 9)), ["config", "aliases expand"]),
    ("recursive-alias", {}, INIT + "a: &a [*a]\n", ["config"]),
]


def _run_init_case(rootfs, tmp_path, options, text):
    params = init_params(rootfs, **options)
    if text is not None:
        params["config"] = write_config(tmp_path, text)
    return init.run_init(params)


@pytest.mark.parametrize("case_id, options, text, words", INIT_CASES, ids=[c[0] for c in INIT_CASES])
def test_init_bad_input(rootfs, tmp_path, case_id, options, text, words):
    before = tree_state(rootfs)
    started = time.monotonic()
    with pytest.raises(errors.KubebootError) as exc:
        _run_init_case(rootfs, tmp_path, options, text)
    message = str(exc.value)
    assert isinstance(exc.value, errors.InvalidValue), f"{case_id}: not a clear field error: {message}"
    for word in words:
        assert word in message, f"{case_id}: {word!r} not in {message!r}"
    assert "Traceback" not in message and len(message) < 1200
    assert tree_state(rootfs) == before, f"{case_id}: the tree changed"
    assert time.monotonic() - started < 20


def test_huge_value_is_not_echoed_back(rootfs, tmp_path):
    huge = "-" * 5_000_000  # not a registry, and 5 MB long
    before = tree_state(rootfs)
    with pytest.raises(errors.InvalidValue) as exc:
        _run_init_case(rootfs, tmp_path, {"image_repository": huge}, None)
    assert len(str(exc.value)) < 1000 and "5000002 characters" in str(exc.value)
    assert tree_state(rootfs) == before


def test_unknown_fields_are_warnings_not_errors(rootfs, tmp_path):
    """Unknown fields are dropped with a warning naming their path (kubeadm's strict decoding warns)."""
    text = (INIT + "nodeRegistration:\n  nmae: typo\n---\n" + "apiVersion: kubelet.config.k8s.io/v1beta1\n"
            "kind: KubeletConfiguration\nmaxPod: 10\n")
    result = _run_init_case(rootfs, tmp_path, {}, text)
    joined = "\n".join(result["warnings"])
    assert "nodeRegistration.nmae" in joined and "maxPod" in joined


# --- files the user hands in --------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["fifo", "binary", "directory", "missing"])
def test_config_that_is_no_file_of_text(rootfs, tmp_path, kind):
    path = str(tmp_path / "kubeadm.yaml")
    if kind == "fifo":
        os.mkfifo(path)  # reading it would block forever
    elif kind == "binary":
        with open(path, "wb") as handle:
            handle.write(b"\xff\xfe\x00binary\x80\x81")
    elif kind == "directory":
        os.mkdir(path)
    before = tree_state(rootfs)
    started = time.monotonic()
    with pytest.raises(errors.InvalidValue) as exc:
        init.run_init(dict(init_params(rootfs), config=path))
    assert exc.value.field == "config" and time.monotonic() - started < 10
    assert tree_state(rootfs) == before


# --- the tree itself ------------------------------------------------------------------------------------

@pytest.mark.parametrize("blocked", ["etc/kubernetes/manifests", "var/lib/kubelet", "etc/kubernetes/pki/etcd"])
def test_a_file_where_a_directory_belongs(rootfs, blocked):
    path = os.path.join(rootfs, blocked)
    shutil.rmtree(path)
    with open(path, "w") as handle:
        handle.write("not a directory\n")
    before = tree_state(rootfs)
    with pytest.raises(errors.FileError) as exc:
        init.run_init(init_params(rootfs))
    assert "/" + blocked in str(exc.value) and "not a directory" in str(exc.value)
    assert rootfs not in str(exc.value)  # the host path, not the real one
    assert tree_state(rootfs) == before


@pytest.mark.parametrize("relative", ["var/lib", "etc/kubernetes"])
def test_read_only_file_system(tmp_path, relative):
    """A read-only tmpfs mounted over a directory of a fresh tree (root only; CI runs as root)."""
    fresh = str(tmp_path / "fresh")
    target = os.path.join(fresh, relative)
    os.makedirs(target)
    out = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", target], capture_output=True, text=True)
    if out.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here: {out.stderr.strip()}")
    try:
        before = tree_state(fresh)
        with pytest.raises(errors.FileError) as exc:
            init.run_init(init_params(fresh))
        assert "/" + relative in str(exc.value) and "read-only file system" in str(exc.value)
        assert "Errno" not in str(exc.value) and fresh not in str(exc.value)
        assert tree_state(fresh) == before
    finally:
        subprocess.run(["umount", target], check=False)


def test_changed_cert_dir_stops_before_a_second_ca(rootfs):
    before = tree_state(rootfs)
    with pytest.raises(errors.PKIError) as exc:
        init.run_init(init_params(rootfs, cert_dir="/etc/kubernetes/pki2"))
    assert "admin.conf" in str(exc.value) and "cert_dir" in str(exc.value)
    assert tree_state(rootfs) == before and not os.path.exists(os.path.join(rootfs, "etc/kubernetes/pki2"))


# --- join ---------------------------------------------------------------------------------------------

def _join_params(rootfs, **over):
    params = {"rootfs": rootfs, "api_server_endpoint": "127.0.0.1:9", "token": TOKEN,
              "discovery_token_ca_cert_hash": ["sha256:" + "ab" * 32], "node_name": "worker1",
              "ignore_preflight_errors": ["all"], "discovery_timeout": "2s"}
    params.update(over)
    return params


JOIN_CASES = [
    ("worker-with-certificate-key", {"certificate_key": "0f" * 32}, None, ["certificate_key", "control_plane: true"]),
    ("worker-with-advertise-address", {"apiserver_advertise_address": "10.0.0.5"}, None,
     ["apiserver_advertise_address", "control-plane join"]),
    ("worker-with-bind-port", {"apiserver_bind_port": 7443}, None, ["apiserver_bind_port", "control-plane join"]),
    ("discovery-string", {"api_server_endpoint": "", "token": ""}, JOIN + "discovery: x\n", ["discovery", "a mapping"]),
    ("join-timeouts-string", {}, JOIN + JOIN_DISCOVERY + "timeouts: 5m\n", ["timeouts", "a mapping"]),
    ("caCertPath-relative", {}, JOIN + JOIN_DISCOVERY + "caCertPath: pki/ca.crt\n", ["caCertPath", "absolute"]),
    ("caCertPath-not-crt", {}, JOIN + JOIN_DISCOVERY + "caCertPath: /etc/kubernetes/pki/ca.pem\n",
     ["caCertPath", ".crt"]),
    ("join-taints", {}, JOIN + JOIN_DISCOVERY + "nodeRegistration:\n  taints: [x]\n", ["nodeRegistration.taints.0"]),
    ("join-token-blank", {"token": "  "}, None, ["token"]),
    ("controlPlane-holding-a-key", {"api_server_endpoint": "", "token": ""},
     JOIN + JOIN_DISCOVERY + "controlPlane: " + "0f" * 32 + "\n", ["controlPlane", "a mapping"]),
]


@pytest.mark.parametrize("case_id, options, text, words", JOIN_CASES, ids=[c[0] for c in JOIN_CASES])
def test_join_bad_input(tmp_path, case_id, options, text, words):
    rootfs = str(tmp_path / "w1")
    os.makedirs(os.path.join(rootfs, "etc"))
    params = _join_params(rootfs, **options)
    params = {k: v for k, v in params.items() if v != ""}
    if text is not None:
        params["config"] = write_config(tmp_path, text)
    before = tree_state(rootfs)
    with pytest.raises(errors.InvalidValue) as exc:
        join.run_join(params)
    message = str(exc.value)
    for word in words:
        assert word in message, f"{case_id}: {word!r} not in {message!r}"
    assert "0f" * 32 not in message and "0123456789abcdef" not in message
    assert tree_state(rootfs) == before


@pytest.mark.parametrize("kind", ["fifo", "binary"])
def test_join_discovery_file_that_is_no_kubeconfig(tmp_path, kind):
    rootfs = str(tmp_path / "w1")
    os.makedirs(rootfs)
    path = str(tmp_path / "discovery.conf")
    if kind == "fifo":
        os.mkfifo(path)
    else:
        with open(path, "wb") as handle:
            handle.write(b"\x89PNG\r\n\x1a\n\x00\x00\xff")
    started = time.monotonic()
    with pytest.raises(errors.DiscoveryError) as exc:
        join.run_join({"rootfs": rootfs, "discovery_file": path, "token": TOKEN, "node_name": "w1",
                       "ignore_preflight_errors": ["all"], "discovery_timeout": "3s"})
    assert path in str(exc.value) and time.monotonic() - started < 10
    assert tree_state(rootfs) == {}


# --- kubeadm_token --------------------------------------------------------------------------------------

TOKEN_CASES = [
    ("api-timeout-negative", {"api_timeout": -5}, ["api_timeout"]),
    ("groups-without-authentication", {"usages": ["signing"]}, ["groups", "authentication"]),
    ("ttl-1ns", {"ttl": "1ns"}, ["ttl", "at least 1s"]),
    ("ttl-beyond-a-date", {"ttl": "99999999999h"}, ["ttl", "longest Go duration"]),
    ("token-blank", {"token": "   "}, ["token", "blanks"]),
    ("absent-malformed", {"state": "absent", "token": "abcdef0123456789abcdef"}, ["token"]),
]


@pytest.mark.parametrize("case_id, options, words", TOKEN_CASES, ids=[c[0] for c in TOKEN_CASES])
def test_token_bad_input_before_any_request(tmp_path, case_id, options, words):
    """No kubeconfig exists and no API server: the parameters are refused before either is needed."""
    params = {"rootfs": str(tmp_path), "kubeconfig": "/etc/kubernetes/admin.conf", "state": "present",
              "ttl": "24h", "usages": ["signing", "authentication"],
              "groups": ["system:bootstrappers:kubeadm:default-node-token"], "reuse": True, "api_timeout": 60}
    params.update(options)
    with pytest.raises(errors.InvalidValue) as exc:
        tokencmd.run_token(params)
    for word in words:
        assert word in str(exc.value), f"{case_id}: {word!r} not in {exc.value}"
    assert "0123456789abcdef" not in str(exc.value)


@pytest.mark.parametrize("kind", ["fifo", "binary", "directory"])
def test_token_kubeconfig_that_is_no_file_of_text(tmp_path, kind):
    """kubeadm_token's kubeconfig: a FIFO never blocks, binary content is no UnicodeDecodeError."""
    path = tmp_path / "etc/kubernetes/admin.conf"
    path.parent.mkdir(parents=True)
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "binary":
        path.write_bytes(b"\xff\xfe\x00binary\x80\x81")
    else:
        path.mkdir()
    started = time.monotonic()
    with pytest.raises(errors.KubebootError) as exc:
        tokencmd.run_token({"rootfs": str(tmp_path), "kubeconfig": "/etc/kubernetes/admin.conf", "state": "present",
                            "ttl": "24h", "reuse": True, "api_timeout": 5})
    assert "/etc/kubernetes/admin.conf" in str(exc.value) and time.monotonic() - started < 10
    assert "Traceback" not in str(exc.value)


# --- a sample through ansible-playbook ------------------------------------------------------------------

PLAYBOOK_SAMPLE = ["extraVolumes-string", "nodeRegistration-string", "pod-cidr-bare-address", "ipv6-zone",
                   "legacy-gate-CoreDNS", "kube-proxy-mode", "alias-bomb", "token-blank"]


def test_playbook_sample(template, tmp_path):
    """One play, one task per case (ignore_errors): each fails with the same field named, nothing
    changes in the tree, and the tree is untouched by the whole play."""
    rootfs = str(tmp_path / "rootfs")
    shutil.copytree(template, rootfs, symlinks=True)
    cases = {c[0]: c for c in INIT_CASES}
    tasks, names = [], []
    for name in PLAYBOOK_SAMPLE:
        _id, options, text, _words = cases[name]
        args = init_params(rootfs, **options)
        if text is not None:
            args["config"] = write_config(tmp_path, text, f"{name}.yaml")
        tasks.append({"name": name, "kubeboot.cluster.kubeadm_init": args, "register": f"r_{len(names)}",
                      "ignore_errors": True})
        names.append(name)
    out = tmp_path / "results.json"
    tasks.append({"name": "save", "ansible.builtin.copy": {
        "content": "{{ [" + ", ".join(f"r_{i}" for i in range(len(names))) + "] | to_json }}",
        "dest": str(out), "mode": "0600"}, "check_mode": False, "diff": False})
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump([{"name": "bad input", "hosts": "localhost", "gather_facts": False,
                                         "tasks": tasks}]))
    before = tree_state(rootfs)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_ROOT, ANSIBLE_LOCALHOST_WARNING="false",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="false", ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,",
                           "-c", "local", "-e", f"ansible_python_interpreter={sys.executable}", str(playbook)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert out.exists(), proc.stdout + proc.stderr
    results = json.loads(out.read_text())
    for name, result in zip(names, results):
        assert result.get("failed") is True, f"{name}: {result}"
        for word in cases[name][3]:
            assert word in result["msg"], f"{name}: {word!r} not in {result['msg']!r}"
        assert "Traceback" not in result.get("module_stderr", "") + result["msg"]
    assert tree_state(rootfs) == before
    assert hardening.stray_files(rootfs) == []
