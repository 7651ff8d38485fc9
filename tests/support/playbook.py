"""Run tasks through real ansible-playbook on localhost and read their registered results back."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import yaml

COLLECTIONS_ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "build", "collections")


def env() -> dict:
    return dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_ROOT, ANSIBLE_LOCALHOST_WARNING="false",
                ANSIBLE_INVENTORY_UNPARSED_WARNING="false", ANSIBLE_NOCOLOR="1")


def ansible_playbook(*argv, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), *argv],
                          capture_output=True, text=True, env=env(), timeout=timeout)


def play(tmp_path, tasks: list, name: str, *args) -> tuple:
    """({register name: result}, -vvv log) of a localhost play of `tasks` (extra ansible-playbook args)."""
    out = tmp_path / f"{name}.json"
    names = [t["register"] for t in tasks if "register" in t]
    tasks = tasks + [{"name": "save", "ansible.builtin.copy": {
        "content": "{{ {" + ", ".join(f"'{n}': {n}" for n in names) + "} | to_json }}",
        "dest": str(out), "mode": "0600"}, "check_mode": False, "diff": False, "no_log": True}]
    path = tmp_path / f"{name}.yml"
    path.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
    proc = ansible_playbook("-vvv", "-i", "localhost,", "-c", "local", "-e",
                            f"ansible_python_interpreter={sys.executable}", str(path), *args)
    assert out.exists(), proc.stdout + proc.stderr
    return json.loads(out.read_text()), proc.stdout + proc.stderr
