#!/usr/bin/env python3
"""Collections from the PyPI `ansible` wheel, for the lab and the bench only (Galaxy is unreachable).

    python tests/tools/wheel_collections.py DEST containers.podman [community.crypto ...]

Downloads the `ansible` wheel once into build/wheels (pip, no dependencies) and extracts only the
named collections into DEST/ansible_collections/<namespace>/<name>. A collection already extracted
is left alone, so a rerun costs nothing. Standard library only: the lab runs it before any venv.
"""
from __future__ import annotations

import glob
import os
import subprocess
import sys
import zipfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WHEELS = os.path.join(REPO, "build", "wheels")
# The `ansible` 12 series pairs with ansible-core 2.19 (requirements.txt).
ANSIBLE_WHEEL = "ansible>=12,<13"


def wheel(python: str = sys.executable) -> str:
    """Path of the downloaded ansible wheel (downloaded on first use)."""
    found = sorted(glob.glob(os.path.join(WHEELS, "ansible-1[0-9].*.whl")))
    if found:
        return found[-1]
    os.makedirs(WHEELS, exist_ok=True)
    subprocess.run([python, "-m", "pip", "download", "-q", "--no-deps", "--only-binary", ":all:",
                    "-d", WHEELS, ANSIBLE_WHEEL], check=True)
    found = sorted(glob.glob(os.path.join(WHEELS, "ansible-1[0-9].*.whl")))
    if not found:
        raise SystemExit(f"pip download {ANSIBLE_WHEEL} left no wheel in {WHEELS}")
    return found[-1]


def extract(dest: str, names, python: str = sys.executable) -> list:
    """Extract each `namespace.name` collection into dest; returns the ones that were extracted now."""
    missing = [n for n in names
               if not os.path.isfile(os.path.join(dest, "ansible_collections", *n.split("."), "MANIFEST.json"))]
    if not missing:
        return []
    prefixes = tuple("ansible_collections/%s/" % n.replace(".", "/") for n in missing)
    with zipfile.ZipFile(wheel(python)) as archive:
        members = [m for m in archive.namelist() if m.startswith(prefixes)]
        archive.extractall(dest, members)
    return missing


def main(argv) -> int:
    if len(argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    done = extract(argv[0], argv[1:])
    print("extracted: " + (", ".join(done) if done else "nothing (already there)"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
