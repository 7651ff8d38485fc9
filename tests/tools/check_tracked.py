#!/usr/bin/env python3
"""Files that the Makefile, the README, meta/, molecule scenarios and playbooks refer to, but git
does not track (ignored or forgotten): they exist on a developer's work tree and not in a clone.

    python tests/tools/check_tracked.py [REPO]      exit 1 and one line a missing file
"""
from __future__ import annotations

import glob
import os
import re
import subprocess
import sys

import yaml

# Paths inside the repository that a reference may name; generated places are not references.
TOP_DIRS = ("extensions", "tests", "playbooks", "roles", "plugins", "docs", "meta", "bench", ".ci")
GENERATED = ("lab/", "build/", ".venv", "bench/results/")
PATH_RE = re.compile(r"(?<![\w./$-])((?:%s)/[\w./-]*[\w-]|requirements[\w-]*\.txt|galaxy\.yml|COPYING)"
                     % "|".join(re.escape(d) for d in TOP_DIRS))


def tracked(repo: str) -> set:
    out = subprocess.run(["git", "-C", repo, "ls-files", "-z"], capture_output=True, text=True, check=True).stdout
    files = {f for f in out.split("\0") if f}
    dirs = set()
    for name in files:
        parent = os.path.dirname(name)
        while parent and parent not in dirs:
            dirs.add(parent)
            parent = os.path.dirname(parent)
    return files | dirs


def text_references(path: str) -> set:
    """Repository paths named in a text file (Makefile, README, ...): the PATH_RE matches."""
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    refs = set()
    for match in PATH_RE.finditer(text):
        ref = match.group(1).rstrip(".")
        if "*" in ref or "$" in ref or ref.startswith(GENERATED) or "<" in ref:
            continue
        refs.add(ref)
    return refs


def _walk(node):
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def playbook_references(repo: str, path: str) -> set:
    """import_playbook / include / roles (kubeboot.cluster.<role>) / src: of a playbook or scenario."""
    base = os.path.dirname(path)
    with open(path, encoding="utf-8") as handle:
        docs = [d for d in yaml.safe_load_all(handle) if d is not None]
    refs = set()
    for key, value in _walk(docs):
        if key in ("ansible.builtin.import_playbook", "import_playbook", "converge", "verify", "prepare",
                   "create", "destroy", "cleanup", "side_effect") and isinstance(value, str) and \
                value.endswith((".yml", ".yaml")) and "{{" not in value:
            refs.add(os.path.relpath(os.path.normpath(os.path.join(base, value)), repo))
        if key in ("roles",) and isinstance(value, list):
            for role in value:
                name = role.get("role") if isinstance(role, dict) else role
                if isinstance(name, str) and name.startswith("kubeboot.cluster."):
                    refs.add("roles/" + name.split(".")[-1] + "/tasks/main.yml")
        if key in ("ansible.builtin.include_role", "ansible.builtin.import_role") and isinstance(value, dict):
            name = value.get("name", "")
            if name.startswith("kubeboot.cluster."):
                refs.add("roles/" + name.split(".")[-1] + "/tasks/main.yml")
    return refs


def sources(repo: str) -> list:
    found = [os.path.join(repo, name) for name in ("Makefile", "README.md", ".ci/run")]
    found += glob.glob(os.path.join(repo, "meta", "*.yml"))
    found += glob.glob(os.path.join(repo, "extensions", "molecule", "*", "molecule.yml"))
    found += glob.glob(os.path.join(repo, "playbooks", "*.yml"))
    found += glob.glob(os.path.join(repo, "extensions", "lab", "*.yml"))
    return [p for p in found if os.path.exists(p)]


def untracked_references(repo: str) -> list:
    """'<source>: <path>' for every referenced path that git does not track."""
    known = tracked(repo)
    problems = []
    for source in sources(repo):
        refs = text_references(source)
        if source.endswith((".yml", ".yaml")):
            refs |= playbook_references(repo, source)
        for ref in sorted(refs):
            if ref not in known:
                problems.append(f"{os.path.relpath(source, repo)}: {ref} is not tracked by git")
    return problems


def main(argv) -> int:
    repo = os.path.abspath(argv[0] if argv else os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    problems = untracked_references(repo)
    for line in problems:
        print(line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
