"""Every playbook of the collection runs as `ansible-playbook kubeboot.cluster.<name>`: its file name
is a valid collection resource name, and ansible-playbook finds it by that name and parses it."""
from __future__ import annotations

import os
import re

import pytest

from tests.conftest import REPO
from tests.support.playbook import ansible_playbook

PLAYBOOKS = sorted(name for name in os.listdir(os.path.join(REPO, "playbooks")) if name.endswith(".yml"))


def test_every_playbook_has_a_valid_name():
    assert PLAYBOOKS
    bad = [name for name in PLAYBOOKS if not re.fullmatch(r"[a-z_][a-z0-9_]*\.yml", name)]
    assert not bad, f"not runnable as kubeboot.cluster.<name>: {bad}"


@pytest.mark.parametrize("name", PLAYBOOKS)
def test_playbook_found_by_collection_name(tmp_path, name):
    inventory = tmp_path / "inventory.ini"
    inventory.write_text("[kube_control_plane]\n[kube_node]\n[etcd]\n[k8s_cluster:children]\nkube_control_plane\nkube_node\n")
    proc = ansible_playbook("--syntax-check", "-i", str(inventory), f"kubeboot.cluster.{name[:-len('.yml')]}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
