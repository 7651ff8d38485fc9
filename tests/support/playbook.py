"""Run tasks of the collection's modules through real ansible-playbook on localhost; return what each
registered (written out by a last task) and the whole -vvv log. Test-only."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import yaml

from tests.conftest import COLLECTIONS_ROOT


def env() -> dict:
    return dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_ROOT, ANSIBLE_LOCALHOST_WARNING="false",
                ANSIBLE_INVENTORY_UNPARSED_WARNING="false", ANSIBLE_NOCOLOR="1")


def ansible_playbook(*argv, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), *argv],
                          capture_output=True, text=True, env=env(), timeout=timeout)


def play(tmp_path, tasks: list, name: str, *extra) -> tuple:
    """({register name: result}, -vvv stdout + stderr) of a localhost play of `tasks` (extra
    ansible-playbook args). Tasks keep failing results (ignore_errors is added)."""
    out = tmp_path / f"{name}.json"
    names = [t["register"] for t in tasks if "register" in t]
    tasks = [dict(t, ignore_errors=True) for t in tasks] + [{
        "name": "save", "ansible.builtin.copy": {
            "content": "{{ {" + ", ".join(f"'{n}': {n}" for n in names) + "} | to_json }}",
            "dest": str(out), "mode": "0600"}, "check_mode": False, "diff": False, "no_log": True}]
    path = tmp_path / f"{name}.yml"
    path.write_text(yaml.safe_dump([{"name": name, "hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
    verbosity = () if "-vvv" in extra else ("-vvv",)
    proc = ansible_playbook(*verbosity, "-i", "localhost,", "-c", "local",
                            "-e", f"ansible_python_interpreter={sys.executable}", str(path), *extra)
    log = proc.stdout + proc.stderr
    assert out.exists(), log
    results = json.loads(out.read_text())
    out.unlink()
    return results, log
