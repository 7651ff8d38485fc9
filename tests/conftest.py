"""Make the collection importable as ansible_collections.kubeboot.cluster (the standard way)."""
from __future__ import annotations

import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS_ROOT = os.path.join(REPO, "build", "collections")
LINK = os.path.join(COLLECTIONS_ROOT, "ansible_collections", "kubeboot", "cluster")


def _link_collection() -> None:
    os.makedirs(os.path.dirname(LINK), exist_ok=True)
    if not os.path.islink(LINK):
        try:
            os.symlink(REPO, LINK)
        except FileExistsError:
            pass
    if COLLECTIONS_ROOT not in sys.path:
        sys.path.insert(0, COLLECTIONS_ROOT)
    os.environ["ANSIBLE_COLLECTIONS_PATH"] = COLLECTIONS_ROOT


_link_collection()
sys.path.insert(0, REPO)  # tests.support.* packages

pytest_plugins = ["tests.support.fixtures", "tests.support.hardening_counts"]
