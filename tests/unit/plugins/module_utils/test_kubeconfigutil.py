"""kubeconfigutil.py: one current-context resolution, credentials inline or as files through HostFS."""
from __future__ import annotations

import base64

import pytest
import yaml

from ansible_collections.kubeboot.cluster.plugins.module_utils import errors, kubeconfigutil
from ansible_collections.kubeboot.cluster.plugins.module_utils.files import HostFS

DOC = {"current-context": "c",
       "clusters": [{"name": "k", "cluster": {"server": "https://10.0.0.1:6443", "certificate-authority": "ca.crt"}},
                    {"name": "other", "cluster": {"server": "https://10.0.0.2:6443"}}],
       "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
       "users": [{"name": "u", "user": {"client-key-data": base64.b64encode(b"KEY").decode(),
                                        "tokenFile": "/etc/kubernetes/token"}}]}


def test_current_context():
    chosen = kubeconfigutil.select(DOC)
    assert chosen.context == "c" and chosen.cluster["server"] == "https://10.0.0.1:6443" and chosen.user_name == "u"
    assert chosen.user_entry is DOC["users"][0]  # callers may rewrite it in place


def test_lone_cluster_without_context_and_strict_mode():
    info = {"clusters": [{"name": "", "cluster": {"server": "https://10.0.0.1:6443"}}], "contexts": None}
    assert kubeconfigutil.select(info).cluster["server"] == "https://10.0.0.1:6443"
    assert kubeconfigutil.select(info, strict=True).cluster == {}
    assert kubeconfigutil.select(dict(DOC, **{"current-context": "nope"})).cluster == {}  # two clusters: no guess


def test_credentials_through_hostfs(tmp_path):
    (tmp_path / "etc/kubernetes").mkdir(parents=True)
    (tmp_path / "etc/kubernetes/ca.crt").write_bytes(b"CA")
    (tmp_path / "etc/kubernetes/token").write_text("tok\n")
    fs = HostFS(str(tmp_path))
    chosen = kubeconfigutil.select(DOC)
    assert kubeconfigutil.material(chosen.cluster, "certificate-authority-data", "certificate-authority", fs,
                                   "/etc/kubernetes") == b"CA"
    assert kubeconfigutil.material(chosen.user, "client-key-data", "client-key", fs) == b"KEY"
    assert kubeconfigutil.token(chosen.user, fs) == "tok"
    with pytest.raises(errors.FileError, match="missing.crt"):
        kubeconfigutil.material({"certificate-authority": "/missing.crt"}, "", "certificate-authority", fs)


@pytest.fixture(params=["libyaml", "pure-python"])
def loader(request, monkeypatch):
    """Both parsers kubeconfigutil may use: libyaml's (where PyYAML has it) and PyYAML's own."""
    if request.param == "pure-python":
        monkeypatch.setattr(kubeconfigutil, "_SAFE_LOADER", yaml.SafeLoader)
    return request.param


def test_libyaml_parses_kubeconfigs_where_pyyaml_has_it():
    assert kubeconfigutil._SAFE_LOADER is (yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader)
    assert yaml.__with_libyaml__, "PyYAML without libyaml here: the fast path is not tested"


def test_loader_is_safe(loader):
    with pytest.raises(errors.PKIError, match="line 1, column"):
        kubeconfigutil.load("!!python/object/apply:os.system ['true']\n", "admin.conf", errors.PKIError)


def test_yaml_errors_name_the_place_not_the_line(loader):
    with pytest.raises(errors.PKIError) as err:
        kubeconfigutil.load("users:\n- user: {token: 'SECRETVALUE\n", "admin.conf", errors.PKIError)
    assert "line" in str(err.value) and "SECRETVALUE" not in str(err.value)
