# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The two non-stdlib libraries modules need on a managed node, imported once.

A node without them gets one clear message from the module (install
python3-cryptography / python3-yaml, which the prereqs role does) instead of a
traceback from deep inside an import.

Ansible itself is imported only when a module reports the gap: the module_utils also run
without Ansible, under the certificate renewal timer on a node (roles/certs_renewal).
"""
from __future__ import annotations

import traceback

try:
    import yaml  # noqa: F401  pylint: disable=unused-import
    YAML_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - exercised on bare nodes only
    yaml = None
    YAML_IMPORT_ERROR = traceback.format_exc()

try:
    import cryptography  # noqa: F401  pylint: disable=unused-import
    CRYPTOGRAPHY_IMPORT_ERROR = None
except ImportError:  # pragma: no cover
    cryptography = None
    CRYPTOGRAPHY_IMPORT_ERROR = traceback.format_exc()


def missing() -> list:
    """[(pip name, distro package, traceback)] for each library that failed to import."""
    gaps = []
    if YAML_IMPORT_ERROR:
        gaps.append(("PyYAML", "python3-yaml", YAML_IMPORT_ERROR))
    if CRYPTOGRAPHY_IMPORT_ERROR:
        gaps.append(("cryptography", "python3-cryptography", CRYPTOGRAPHY_IMPORT_ERROR))
    return gaps


def fail_if_missing(module) -> None:
    """Fail an AnsibleModule with the standard 'missing required library' message."""
    gaps = missing()
    if not gaps:
        return
    # here, not at the top: the renewal timer imports this file on a node without Ansible
    from ansible.module_utils.basic import missing_required_lib  # pylint: disable=import-outside-toplevel
    names = " and ".join(name for name, _pkg, _tb in gaps)
    packages = " ".join(pkg for _name, pkg, _tb in gaps)
    module.fail_json(msg=missing_required_lib(names) + f" (on Debian/Ubuntu: apt-get install {packages})",
                     exception=gaps[0][2])
