"""roles/certs_renewal: its program renews with the collection's module_utils copied the way the role
copies them, on a Python where Ansible cannot be imported (a node has none); a second run renews
nothing; a bad setting exits 1 with one line."""
from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys

from ansible_collections.kubeboot.cluster.plugins.module_utils import config, kubeconfig, manifests, pki
from ansible_collections.kubeboot.cluster.plugins.module_utils.files import HostFS, Writer

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PROGRAM = os.path.join(REPO, "roles", "certs_renewal", "files", "kubeboot-renew-certs")
NO_ANSIBLE = """\
import sys
class NoAnsible:
    def find_spec(self, name, path=None, target=None):
        if name == "ansible" or name.startswith("ansible."):
            raise ImportError("no Ansible on this node: " + name)
sys.meta_path.insert(0, NoAnsible())
"""


def _node(tmp_path) -> tuple:
    """A node's tree, the lib dir the role fills, and a python that cannot import Ansible."""
    lib = tmp_path / "lib"
    target = lib / "ansible_collections" / "kubeboot" / "cluster" / "plugins" / "module_utils"
    target.mkdir(parents=True)
    for path in glob.glob(os.path.join(REPO, "plugins", "module_utils", "*.py")):  # the role's fileglob
        shutil.copy(path, target)
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(NO_ANSIBLE)
    rootfs = str(tmp_path / "root")
    cfg = config.sample_init_config(paths={"cluster.encryptionAlgorithm": "ECDSA-P256",
                                           "cluster.certificateValidityPeriod": "1h0m0s"})
    fs = HostFS(rootfs)
    writer = Writer(fs)
    pki.ensure_certificates(cfg, fs, writer)
    kubeconfig.ensure_kubeconfigs(cfg, fs, writer)
    manifests.ensure_manifests(cfg, fs, writer, only=["apiserver"])
    return str(lib), str(site), rootfs


def _run(tmp_path, site: str, settings: dict) -> subprocess.CompletedProcess:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(settings))
    # this interpreter has Ansible installed: the sitecustomize guard makes it unimportable
    env = {"PYTHONPATH": site, "PATH": os.environ.get("PATH", "")}
    return subprocess.run([sys.executable, PROGRAM, str(path)], capture_output=True, text=True, env=env,
                          timeout=300)


def test_the_timer_program_renews_without_ansible(tmp_path):
    lib, site, rootfs = _node(tmp_path)
    probe = subprocess.run([sys.executable, "-c", "import yaml, cryptography, ansible"], capture_output=True,
                           text=True, env={"PYTHONPATH": site})
    assert "no Ansible on this node: ansible" in probe.stderr, "the guard must make Ansible unimportable"
    settings = {"lib_dir": lib, "rootfs": rootfs, "renew_before": "720h", "restart_static_pods": True,
                "new_keys": False, "kubeconfig": "/etc/kubernetes/admin.conf"}
    first = _run(tmp_path, site, settings)
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout.splitlines()[0])
    assert len(summary["renewed"]) == 11 and summary["restarted"] == ["kube-apiserver"]
    assert "CERTIFICATE AUTHORITY" in first.stdout
    second = _run(tmp_path, site, settings)
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout.splitlines()[0])["renewed"] == []


def test_a_bad_setting_exits_1_with_one_line(tmp_path):
    lib, site, rootfs = _node(tmp_path)
    bad = _run(tmp_path, site, {"lib_dir": lib, "rootfs": rootfs, "renew_before": "forever"})
    assert bad.returncode == 1 and bad.stderr.startswith("kubeboot-renew-certs: renew_before")
    assert len(bad.stderr.strip().splitlines()) == 1
