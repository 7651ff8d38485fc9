from __future__ import annotations

import os

import pytest

from ansible_collections.kubeboot.cluster.plugins.module_utils import files
from ansible_collections.kubeboot.cluster.plugins.module_utils.files import HostFS, Writer


def test_rootfs_prefixes_host_paths(tmp_path):
    fs = HostFS(str(tmp_path))
    assert fs.path("/etc/kubernetes/pki/ca.crt") == str(tmp_path / "etc/kubernetes/pki/ca.crt")
    assert HostFS("/").path("/etc/x") == "/etc/x"


def test_write_is_idempotent_and_keeps_mtime(tmp_path):
    fs = HostFS(str(tmp_path))
    writer = Writer(fs)
    assert writer.write("/etc/a.conf", "one\n", 0o600) is True
    mtime = fs.mtime_ns("/etc/a.conf")
    again = Writer(fs)
    assert again.write("/etc/a.conf", "one\n", 0o600) is False
    assert fs.mtime_ns("/etc/a.conf") == mtime and not again.changed
    assert oct(os.stat(fs.path("/etc/a.conf")).st_mode & 0o777) == "0o600"


def test_mode_only_change_is_fixed_without_rewrite(tmp_path):
    fs = HostFS(str(tmp_path))
    Writer(fs).write("/k.key", "secret", 0o644)
    assert Writer(fs).write("/k.key", "secret", 0o600) is True
    assert fs.mode("/k.key") == 0o600


def test_check_mode_writes_nothing_but_reports(tmp_path):
    fs = HostFS(str(tmp_path))
    writer = Writer(fs, check_mode=True)
    assert writer.write("/etc/kubernetes/x.yaml", "a: 1\n", 0o600) is True
    assert writer.ensure_dir("/var/lib/etcd", 0o700) is True
    assert os.listdir(tmp_path) == []
    assert writer.changed_paths == ["/etc/kubernetes/x.yaml", "/var/lib/etcd"]


def test_secret_content_never_in_diff(tmp_path):
    writer = Writer(HostFS(str(tmp_path)))
    writer.write("/ca.key", "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n", 0o600, secret=True)
    writer.write("/m.yaml", "kind: Pod\n", 0o600)
    text = repr(writer.diffs)
    assert "PRIVATE KEY" not in text and "AAAA" not in text
    assert writer.diffs[1]["after"] == "kind: Pod\n"


def test_failure_halfway_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    fs = HostFS(str(tmp_path))
    Writer(fs).write("/etc/f", "old", 0o644)

    def boom(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "replace", boom)
    with pytest.raises(Exception):
        Writer(fs).write("/etc/f", "new", 0o644)
    assert fs.read_text("/etc/f") == "old"
    assert os.listdir(tmp_path / "etc") == ["f"]


def test_symlink_and_remove(tmp_path):
    fs = HostFS(str(tmp_path))
    writer = Writer(fs)
    writer.write("/pki/a.pem", "x", 0o600)
    assert writer.symlink("/pki/current.pem", "/pki/a.pem") is True
    assert writer.symlink("/pki/current.pem", "/pki/a.pem") is False
    assert writer.remove("/pki/current.pem") is True and not fs.exists("/pki/current.pem")
    assert writer.remove("/pki/current.pem") is False


def test_rootfs_confines_symlinks_and_dotdot(tmp_path):
    """Under a rootfs, links resolve as if chrooted: nothing lands outside the tree."""
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    (root / "etc").mkdir(parents=True)
    outside.mkdir()
    # an absolute link that would escape on the host, and a relative one climbing out
    os.symlink(str(outside), root / "etc" / "kubernetes")
    os.symlink("../../../outside", root / "etc" / "up")
    fs = HostFS(str(root))
    Writer(fs).write("/etc/kubernetes/pki/ca.key", "k", 0o600, secret=True)
    Writer(fs).write("/etc/up/x", "y", 0o600)
    Writer(fs).write("/../../outside/z", "z", 0o600)
    assert os.listdir(outside) == []
    assert (root / str(outside).lstrip("/") / "pki" / "ca.key").read_text() == "k"
    assert (root / "outside" / "x").read_text() == "y"
    assert (root / "outside" / "z").read_text() == "z"


def test_rootfs_reads_follow_final_links_inside_the_tree(tmp_path):
    root = tmp_path / "root"
    (root / "var/lib/kubelet/pki").mkdir(parents=True)
    (root / "var/lib/kubelet/pki/kubelet-client-1.pem").write_text("cert")
    # the kubelet writes an absolute host-path link
    os.symlink("/var/lib/kubelet/pki/kubelet-client-1.pem", root / "var/lib/kubelet/pki/current.pem")
    fs = HostFS(str(root))
    assert fs.read_text("/var/lib/kubelet/pki/current.pem") == "cert"
    assert os.path.islink(fs.path("/var/lib/kubelet/pki/current.pem"))


def test_remove_plans_in_check_mode_and_later_reads_see_it(tmp_path):
    fs = HostFS(str(tmp_path))
    Writer(fs).write("/etc/k/pki/ca.key", "KEY", 0o600)
    Writer(fs).write("/etc/k/pki/ca.crt", "CERT\n", 0o644)
    writer = Writer(fs, check_mode=True)
    assert writer.remove("/etc/k/pki/ca.crt", secret=False) is True
    assert writer.remove("/etc/k/pki/ca.crt") is False  # planned once
    assert writer.remove("/etc/k/pki") is True
    view = writer.view()
    assert not view.exists("/etc/k/pki/ca.key") and view.read_bytes("/etc/k/pki/ca.key") is None
    assert writer.remove("/etc/k/pki/ca.key") is False  # its directory is planned away already
    assert fs.read_text("/etc/k/pki/ca.key") == "KEY"  # nothing reached the disk
    diffs = {d["before_header"]: d for d in writer.diffs}
    assert diffs["/etc/k/pki/ca.crt"]["before"] == "CERT\n" and diffs["/etc/k/pki/ca.crt"]["after"] == ""
    assert diffs["/etc/k/pki"]["before"] == "<directory with 2 file(s)>\n"
    assert writer.changed_paths == ["/etc/k/pki/ca.crt", "/etc/k/pki"]


def test_remove_never_shows_secret_content_and_never_follows_a_link(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_text("keep")
    fs = HostFS(str(root))
    Writer(fs).write("/etc/k/admin.conf", "client-key-data: SECRET", 0o600)
    writer = Writer(fs)
    os.symlink(str(outside / "precious"), root / "etc/k/link.conf")
    os.symlink(str(outside), root / "etc/k/linkdir")
    assert writer.remove("/etc/k/admin.conf") is True
    assert writer.remove("/etc/k/link.conf", secret=False) is True
    assert writer.remove("/etc/k/linkdir") is True
    assert (outside / "precious").read_text() == "keep"
    assert "SECRET" not in repr(writer.diffs)
    assert os.listdir(root / "etc/k") == []
