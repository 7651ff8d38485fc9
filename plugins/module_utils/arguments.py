# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Component flags from defaults and user extraArgs (kubeadm util/arguments.go)."""
from __future__ import annotations

from ansible_collections.kubeboot.cluster.plugins.module_utils import versions
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import InvalidValue
from ansible_collections.kubeboot.cluster.plugins.module_utils.validators import arg_text


# =============================================================================
# arguments (kubeadm util/arguments.go ArgumentsToCommand)
# =============================================================================
def normalize_args(extra_args, field: str = "extraArgs") -> list:
    """v1beta4 list of {name, value} (a v1beta3-style mapping is accepted too) -> [(name, value)]."""
    if not extra_args:
        return []
    if isinstance(extra_args, dict):
        return [(str(k), arg_text(v)) for k, v in sorted(extra_args.items())]
    out = []
    for item in extra_args:
        if not isinstance(item, dict) or not item.get("name"):
            raise InvalidValue(field, item, "a list of {name: ..., value: ...} entries")
        out.append((str(item["name"]), arg_text(item.get("value", ""))))
    return out


def arg_value(extra_args, name: str):
    """Value of the last `name` entry in extraArgs, or None (kubeadm GetArgValue(..., -1))."""
    found = None
    for key, value in normalize_args(extra_args):
        if key == name:
            found = value
    return found


def arguments_to_command(defaults: dict, overrides, minor) -> list:
    """Merge defaults with user overrides into `--name=value` flags (kubeadm ArgumentsToCommand).

    Every default whose name appears in the overrides is dropped (all user
    entries are kept, duplicates included). `minor` is the kubeadm version
    ("vX.Y.Z", or an int minor). Before kubernetes#135400 the whole list is
    sorted by (name, value); with it the remaining defaults come first, sorted,
    then the user's entries in their order (versions.keeps_extra_args_order;
    kubeadm's arguments_test.go "base are sorted and overrides are not").
    """
    user = normalize_args(overrides)
    names = {name for name, _unused in user}
    base = sorted((k, v) for k, v in defaults.items() if k not in names)
    if versions.keeps_extra_args_order(minor):
        merged = base + user
    else:
        merged = sorted(user + base)
    return [f"--{name}={value}" for name, value in merged]
