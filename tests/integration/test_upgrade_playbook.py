"""playbooks/upgrade.yml's shape through ansible-playbook (--syntax-check, --list-hosts, --list-tasks with a
kubespray-style inventory): the plan runs on the first control-plane node only, the control planes one at a
time, then the workers (not the control planes again) in batches, with drain, kubelet package, restart and
uncordon in that order, and every play stops the run at the first failure. The upgrade itself runs on the
lab (extensions/lab/scenarios/50_upgrade.py); the modules it calls are tested in test_upgrade.py."""
from __future__ import annotations

import os
import re

import yaml

from tests.conftest import COLLECTIONS_ROOT
from tests.support.playbook import ansible_playbook

PLAYBOOK = os.path.join(COLLECTIONS_ROOT, "ansible_collections/kubeboot/cluster/playbooks/upgrade.yml")
INVENTORY = {"all": {"children": {
    "kube_control_plane": {"hosts": {"cp1": None, "cp2": None}},
    "kube_node": {"hosts": {"cp2": None, "w1": None, "w2": None, "w3": None}},
    "k8s_cluster": {"children": {"kube_control_plane": None, "kube_node": None}}}}}


def run(tmp_path, *argv) -> str:
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump(INVENTORY))
    proc = ansible_playbook("-i", str(inventory), PLAYBOOK, *argv, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_plays_hosts_and_order(tmp_path):
    run(tmp_path, "--syntax-check")
    hosts = run(tmp_path, "--list-hosts")
    plays = re.findall(r"play #\d+ \(([^)]*)\): (.+?)\tTAGS.*?\n\s+pattern: .*?\n\s+hosts \(\d+\):\n((?:\s+\S+\n)+)",
                       hosts)
    listed = [(name, sorted(h.split())) for _pattern, name, h in plays]
    assert listed == [("Plan the upgrade", ["cp1"]), ("Upgrade the control-plane nodes", ["cp1", "cp2"]),
                      ("Upgrade the workers", ["w1", "w2", "w3"])], hosts

    tasks = run(tmp_path, "--list-tasks")
    assert tasks.index("Plan it") < tasks.index("Upgrade the control plane of this node") \
        < tasks.index("Upgrade this node's kubelet configuration"), tasks

    with open(PLAYBOOK, encoding="utf-8") as handle:
        document = yaml.safe_load(handle)
    assert [p.get("any_errors_fatal") for p in document] == [True, True, True]
    assert document[1]["serial"] == 1 and document[1]["max_fail_percentage"] == 0
    assert "20%" in document[2]["serial"] and document[2]["max_fail_percentage"] == 0
    with open(os.path.join(os.path.dirname(PLAYBOOK), "tasks/upgrade_kubelet.yml"), encoding="utf-8") as handle:
        steps = [list(t)[1] if list(t)[0] == "name" else list(t)[0] for t in yaml.safe_load(handle)]
    assert steps == ["ansible.builtin.set_fact", "kubeboot.cluster.kube_node", "ansible.builtin.include_role",
                     "ansible.builtin.systemd_service", "kubeboot.cluster.kube_node"], steps
