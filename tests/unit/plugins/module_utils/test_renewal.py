"""renewal.py: kubeadm's renewal manager - check-expiration rows and table, renew (all, by name,
within a window), keys kept, CAs untouched, static Pods restarted, checked with openssl."""
from __future__ import annotations

import base64
import datetime
import os
import shutil
import subprocess

import pytest
import yaml

from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import (
    config, errors, kubeconfig, manifests, pki, renewal)
from ansible_collections.kubeboot.cluster.plugins.module_utils.files import HostFS, Writer

LEAVES = ("apiserver", "apiserver-kubelet-client", "front-proxy-client", "etcd-server", "etcd-peer",
          "etcd-healthcheck-client", "apiserver-etcd-client")
KUBECONFIGS = ("admin.conf", "super-admin.conf", "controller-manager.conf", "scheduler.conf")
CA_OF = {"front-proxy-client": "front-proxy-ca", "etcd-server": "etcd/ca", "etcd-peer": "etcd/ca",
         "etcd-healthcheck-client": "etcd/ca", "apiserver-etcd-client": "etcd/ca"}


def _cfg(validity="8760h0m0s"):
    return config.sample_init_config(paths={"cluster.encryptionAlgorithm": "ECDSA-P256",
                                            "cluster.certificateValidityPeriod": validity})


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A control-plane tree whose leaves are valid for 1h (so a 720h window renews them)."""
    root = str(tmp_path_factory.mktemp("cp") / "root")
    cfg = _cfg("1h0m0s")
    fs = HostFS(root)
    writer = Writer(fs)
    pki.ensure_certificates(cfg, fs, writer)
    kubeconfig.ensure_kubeconfigs(cfg, fs, writer)
    manifests.ensure_manifests(cfg, fs, writer)
    return root


@pytest.fixture
def tree(built, tmp_path):
    root = str(tmp_path / "root")
    shutil.copytree(built, root, symlinks=True)
    return root


def _base(name: str) -> str:
    return pki.BY_NAME[name].base


def _pem_file(root: str, name: str, tmp_path) -> str:
    """The certificate of a renewal target as a file openssl can read (kubeconfigs: the embedded one)."""
    if name in KUBECONFIGS:
        doc = yaml.safe_load(open(f"{root}/etc/kubernetes/{name}", encoding="utf-8"))
        out = tmp_path / (name + ".pem")
        out.write_bytes(base64.b64decode(doc["users"][0]["user"]["client-certificate-data"]))
        return str(out)
    return f"{root}/etc/kubernetes/pki/{_base(name)}.crt"


def _openssl(openssl, *args) -> str:
    return subprocess.run([openssl, *args], capture_output=True, text=True, check=True).stdout.strip()


def _state(root: str) -> dict:
    return {os.path.join(d, f): open(os.path.join(d, f), "rb").read()
            for d, _s, files in os.walk(root) for f in files}


def test_targets_are_kubeadms_list_in_kubeadms_order():
    names = [t.name for t in renewal.targets(_cfg())]
    assert names == ["admin.conf", "apiserver", "apiserver-etcd-client", "apiserver-kubelet-client",
                     "controller-manager.conf", "etcd-healthcheck-client", "etcd-peer", "etcd-server",
                     "front-proxy-client", "scheduler.conf", "super-admin.conf"]
    external = _cfg()
    external.cluster["etcd"] = {"external": {"endpoints": ["https://192.0.2.1:2379"]}}
    assert [t.name for t in renewal.targets(external)] == [
        "admin.conf", "apiserver", "apiserver-kubelet-client", "controller-manager.conf", "front-proxy-client",
        "scheduler.conf", "super-admin.conf"]
    assert [ca.name for ca in renewal.certificate_authorities(external)] == ["ca", "front-proxy-ca"]


def test_expiration_figures_equal_openssl(tree, tmp_path, openssl):
    info = renewal.expiration(HostFS(tree), _cfg())
    assert [row["name"] for row in info["certificate_authorities"]] == ["ca", "etcd-ca", "front-proxy-ca"]
    for row in info["certificates"] + info["certificate_authorities"]:
        path = _pem_file(tree, row["name"], tmp_path) if "ca_name" in row else \
            f"{tree}/etc/kubernetes/pki/{_base(row['name'])}.crt"
        enddate = _openssl(openssl, "x509", "-noout", "-enddate", "-in", path).split("=", 1)[1]
        expected = datetime.datetime.strptime(enddate, "%b %d %H:%M:%S %Y GMT").strftime("%Y-%m-%dT%H:%M:%SZ")
        assert row["expiration_date"] == expected, row["name"]
        assert "serial=" + row["serial"] == _openssl(openssl, "x509", "-noout", "-serial", "-in", path)
        assert row["missing"] is False and row["externally_managed"] is False
    by_name = {row["name"]: row for row in info["certificates"]}
    assert by_name["etcd-peer"]["ca_name"] == "etcd-ca" and by_name["front-proxy-client"]["ca_name"] == \
        "front-proxy-ca" and by_name["admin.conf"]["ca_name"] == "ca"
    assert 3500 < by_name["apiserver"]["residual_time"] <= 3600


def test_table_is_kubeadms_text_byte_for_byte():
    """Widths derived by hand from Go's text/tabwriter (minwidth 10, padding 3): per table, each
    column is its widest cell + 3; the empty line between the tables ends every column block."""
    info = {"certificates": [
        {"name": "admin.conf", "missing": False, "expiration_date": "2027-01-02T03:04:05Z",
         "residual_time": 364 * 86400 + 5, "ca_name": "ca", "externally_managed": False},
        {"name": "apiserver-etcd-client", "missing": False, "expiration_date": "2026-12-01T23:59:59Z",
         "residual_time": 5 * 3600 + 59, "ca_name": "etcd-ca", "externally_managed": True},
        {"name": "front-proxy-client", "missing": True, "ca_name": "front-proxy-ca"},
    ], "certificate_authorities": [
        {"name": "ca", "missing": False, "expiration_date": "2036-11-29T10:00:00Z",
         "residual_time": 10 * 365 * 86400 + 100, "externally_managed": False},
        {"name": "etcd-ca", "missing": True},
    ]}
    expected = (
        "CERTIFICATE" + " " * 20 + "EXPIRES" + " " * 18 + "RESIDUAL TIME   CERTIFICATE AUTHORITY   EXTERNALLY MANAGED\n"
        "admin.conf" + " " * 21 + "Jan 02, 2027 03:04 UTC   364d" + " " * 12 + "ca" + " " * 22 + "no      \n"
        "apiserver-etcd-client" + " " * 10 + "Dec 01, 2026 23:59 UTC   5h" + " " * 14 + "etcd-ca" + " " * 17
        + "yes     \n"
        "!MISSING! front-proxy-client   " + " " * 25 + " " * 16 + " " * 24 + "\n"
        "\n"
        "CERTIFICATE AUTHORITY   EXPIRES" + " " * 18 + "RESIDUAL TIME   EXTERNALLY MANAGED\n"
        "ca" + " " * 22 + "Nov 29, 2036 10:00 UTC   10y" + " " * 13 + "no      \n"
        "!MISSING! etcd-ca" + " " * 7 + " " * 25 + " " * 16 + "\n")
    assert renewal.table(info) == expected


def test_missing_files_are_reported_like_kubeadm(tmp_path):
    info = renewal.expiration(HostFS(str(tmp_path)), _cfg())
    assert all(row["missing"] for row in info["certificates"] + info["certificate_authorities"])
    lines = renewal.table(info).splitlines()
    assert lines[1].startswith("!MISSING! admin.conf ") and lines[-1].startswith("!MISSING! front-proxy-ca")


def test_renew_all_keeps_keys_changes_serials_chains_verify_cas_untouched(tree, tmp_path, openssl):
    (tmp_path / "before").mkdir()
    before = {}
    for name in LEAVES + KUBECONFIGS:
        path = _pem_file(tree, name, tmp_path / "before")
        before[name] = (_openssl(openssl, "x509", "-noout", "-serial", "-in", path),
                        _openssl(openssl, "x509", "-noout", "-pubkey", "-in", path))
    cas = {p: open(p, "rb").read() for p in (f"{tree}/etc/kubernetes/pki/{b}.{e}" for b in ("ca", "front-proxy-ca",
                                                                                          "etcd/ca")
                                             for e in ("crt", "key"))}
    admin_before = yaml.safe_load(open(f"{tree}/etc/kubernetes/admin.conf", encoding="utf-8"))
    fs = HostFS(tree)
    writer = Writer(fs)
    result = renewal.renew(fs, writer, _cfg(), ["all"])
    assert sorted(r["name"] for r in result["certificates"] if r["action"] == "renewed") == sorted(LEAVES + KUBECONFIGS)
    assert {r["key"] for r in result["certificates"]} == {"kept"}
    for name in LEAVES + KUBECONFIGS:
        after = _pem_file(tree, name, tmp_path)
        serial, pubkey = before[name]
        assert _openssl(openssl, "x509", "-noout", "-serial", "-in", after) != serial, name
        assert _openssl(openssl, "x509", "-noout", "-pubkey", "-in", after) == pubkey, name
        ca = f"{tree}/etc/kubernetes/pki/{CA_OF.get(name, 'ca')}.crt"
        assert _openssl(openssl, "verify", "-CAfile", ca, after).endswith(": OK"), name
        enddate = _openssl(openssl, "x509", "-noout", "-enddate", "-in", after).split("=", 1)[1]
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        left = datetime.datetime.strptime(enddate, "%b %d %H:%M:%S %Y GMT") - now
        assert datetime.timedelta(days=364) < left <= datetime.timedelta(days=365), name
    assert {p: open(p, "rb").read() for p in cas} == cas, "a CA was touched"
    admin_after = yaml.safe_load(open(f"{tree}/etc/kubernetes/admin.conf", encoding="utf-8"))
    for doc in (admin_before, admin_after):
        doc["users"][0]["user"].pop("client-certificate-data")
    assert admin_after == admin_before, "renewal changed more than the client certificate"
    assert oct(os.stat(f"{tree}/etc/kubernetes/admin.conf").st_mode & 0o777) == "0o600"


def test_renewal_keeps_subject_sans_and_usages(tree, openssl):
    path = f"{tree}/etc/kubernetes/pki/apiserver.crt"
    fields = ("-subject", "-ext", "subjectAltName,extendedKeyUsage,keyUsage")
    before = _openssl(openssl, "x509", "-noout", *fields, "-in", path)
    fs = HostFS(tree)
    renewal.renew(fs, Writer(fs), _cfg(), ["apiserver"])
    assert _openssl(openssl, "x509", "-noout", *fields, "-in", path) == before


def test_new_keys_replaces_keys(tree, openssl):
    key = f"{tree}/etc/kubernetes/pki/front-proxy-client.key"
    before = open(key, "rb").read()
    fs = HostFS(tree)
    result = renewal.renew(fs, Writer(fs), _cfg(), ["front-proxy-client"], new_keys=True)
    assert result["certificates"][0]["key"] == "new" and open(key, "rb").read() != before
    crt = f"{tree}/etc/kubernetes/pki/front-proxy-client.crt"
    assert _openssl(openssl, "x509", "-noout", "-pubkey", "-in", crt) == \
        _openssl(openssl, "pkey", "-pubout", "-in", key)
    assert oct(os.stat(key).st_mode & 0o777) == "0o600"


def test_renew_before_renews_once_then_nothing(tree):
    fs = HostFS(tree)
    first = renewal.renew(fs, Writer(fs), _cfg(), ["all"], renew_before=720 * 3600)
    assert {r["action"] for r in first["certificates"]} == {"renewed"}
    state = _state(tree)
    writer = Writer(fs)
    second = renewal.renew(fs, writer, _cfg(), ["all"], renew_before=720 * 3600)
    assert {r["action"] for r in second["certificates"]} == {"valid"} and second["restarted"] == []
    assert not writer.changed and _state(tree) == state


def test_window_not_shorter_than_validity_is_refused(tree):
    fs = HostFS(tree)
    state = _state(tree)
    with pytest.raises(errors.InvalidValue) as exc:
        renewal.renew(fs, Writer(fs), _cfg("720h0m0s"), ["all"], renew_before=720 * 3600)
    assert "renew_before" in str(exc.value) and "certificateValidityPeriod" in str(exc.value)
    assert _state(tree) == state


def test_unknown_name_is_refused_before_anything_is_written(tree):
    fs = HostFS(tree)
    state = _state(tree)
    with pytest.raises(errors.InvalidValue) as exc:
        renewal.renew(fs, Writer(fs), _cfg(), ["apiserver", "kubelet.conf"])
    assert "kubelet.conf" in str(exc.value) and "admin.conf" in str(exc.value)
    assert _state(tree) == state


def test_external_ca_is_reported_not_renewed(tree):
    os.unlink(f"{tree}/etc/kubernetes/pki/ca.key")
    fs = HostFS(tree)
    result = renewal.renew(fs, Writer(fs), _cfg(), ["apiserver", "etcd-peer", "admin.conf"])
    actions = {r["name"]: r["action"] for r in result["certificates"]}
    assert actions == {"admin.conf": "external", "apiserver": "external", "etcd-peer": "renewed"}
    info = renewal.expiration(fs, _cfg())
    external = {row["name"]: row["externally_managed"] for row in info["certificates"] + info["certificate_authorities"]}
    assert external["apiserver"] is True and external["ca"] is True and external["etcd-peer"] is False


def test_check_mode_writes_nothing_and_predicts(tree):
    fs = HostFS(tree)
    state = _state(tree)
    writer = Writer(fs, check_mode=True)
    before = {r["name"]: r["serial"] for r in renewal.expiration(fs, _cfg())["certificates"]}
    result = renewal.renew(fs, writer, _cfg(), ["all"])
    assert _state(tree) == state
    assert result["restarted"] == list(manifests.COMPONENTS)
    predicted = {r["name"]: r["serial"] for r in renewal.expiration(writer.view(), _cfg())["certificates"]}
    assert all(predicted[name] != before[name] for name in before)


@pytest.mark.parametrize("names, restarted", [
    (["all"], [C.KUBE_APISERVER, C.KUBE_CONTROLLER_MANAGER, C.KUBE_SCHEDULER, C.ETCD]),
    (["admin.conf", "super-admin.conf", "etcd-healthcheck-client"], []),
    (["etcd-server"], [C.ETCD]),
    (["apiserver-etcd-client", "front-proxy-client"], [C.KUBE_APISERVER]),
    (["controller-manager.conf"], [C.KUBE_CONTROLLER_MANAGER]),
])
def test_static_pods_that_read_renewed_files_restart(tree, names, restarted):
    fs = HostFS(tree)
    before = {c: open(f"{tree}{C.manifest_path(c)}").read() for c in manifests.COMPONENTS}
    result = renewal.renew(fs, Writer(fs), _cfg(), names, now=datetime.datetime(2026, 6, 1, 12, 0, 0))
    assert result["restarted"] == restarted
    for component in manifests.COMPONENTS:
        text = open(f"{tree}{C.manifest_path(component)}").read()
        pod = yaml.safe_load(text)
        stamp = (pod["metadata"].get("annotations") or {}).get(C.RESTARTED_AT_ANNOTATION)
        if component in restarted:
            assert stamp == "2026-06-01T12:00:00Z"
            old = yaml.safe_load(before[component])
            pod["metadata"]["annotations"].pop(C.RESTARTED_AT_ANNOTATION)
            old["metadata"].setdefault("annotations", {})
            assert pod == old, "only the annotation may change"
        else:
            assert text == before[component]


def test_rendering_the_manifests_again_keeps_the_restart(tree):
    """A rerun of init after a renewal neither undoes the restart nor restarts once more."""
    fs = HostFS(tree)
    renewal.renew(fs, Writer(fs), _cfg(), ["all"])
    state = _state(tree)
    writer = Writer(fs)
    cfg = _cfg("1h0m0s")
    pki.ensure_certificates(cfg, fs, writer)
    kubeconfig.ensure_kubeconfigs(cfg, fs, writer)
    manifests.ensure_manifests(cfg, fs, writer)
    assert writer.log.paths == [] and _state(tree) == state
