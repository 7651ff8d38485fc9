"""Nothing the Makefile, README, meta/, molecule or a playbook refers to may be untracked: an ignored
or forgotten file works on a developer's tree and is missing from every clone (it happened:
`.gitignore` had `lab/`, which hid extensions/lab/ and with it the whole `make lab`)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import check_tracked  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_every_referenced_file_is_tracked():
    assert check_tracked.untracked_references(REPO) == []


def _git(repo, *args):
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                   env=dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t",
                            GIT_COMMITTER_EMAIL="t@t"))


@pytest.fixture
def repo(tmp_path):
    _git(tmp_path, "init", "-q")
    (tmp_path / "extensions" / "lab").mkdir(parents=True)
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "extensions" / "lab" / "lab.py").write_text("print('lab')\n")
    (tmp_path / "playbooks" / "site.yml").write_text(
        "- name: x\n  hosts: all\n  roles: [kubeboot.cluster.prereqs]\n")
    (tmp_path / "Makefile").write_text("lab:\n\tpython3 extensions/lab/lab.py up\n")
    (tmp_path / "README.md").write_text("Run `ansible-playbook playbooks/site.yml`.\n")
    return tmp_path


def test_an_ignored_file_is_reported(repo):
    (repo / ".gitignore").write_text("lab/\n")  # the unanchored pattern that hid extensions/lab/
    _git(repo, "add", "-A")
    problems = check_tracked.untracked_references(str(repo))
    assert "Makefile: extensions/lab/lab.py is not tracked by git" in problems
    assert "playbooks/site.yml: roles/prereqs/tasks/main.yml is not tracked by git" in problems


def test_committed_files_pass(repo):
    (repo / "roles" / "prereqs" / "tasks").mkdir(parents=True)
    (repo / "roles" / "prereqs" / "tasks" / "main.yml").write_text("---\n[]\n")
    _git(repo, "add", "-A")
    assert check_tracked.untracked_references(str(repo)) == []
