# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading kubeconfig files (kubeadm util/kubeconfig, client-go clientcmd rules).

One parser with clean errors (a YAML problem is reported by line and column, never by
quoting the line, which may hold a key), one current-context resolution, and one reader of
credentials given inline (`*-data`, base64) or as files, always through `files.HostFS`.
"""
from __future__ import annotations

import base64
import binascii
import posixpath
from dataclasses import dataclass, field

from ansible_collections.kubeboot.cluster.plugins.module_utils.deps import yaml
from ansible_collections.kubeboot.cluster.plugins.module_utils import errors
from ansible_collections.kubeboot.cluster.plugins.module_utils.files import NODE

# libyaml's safe loader where PyYAML has it (Debian's python3-yaml and the PyPI wheels do): a rerun
# parses every kubeconfig, and the pure-Python parser is about 15x slower on them. Same documents.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", None) or getattr(yaml, "SafeLoader", None)


def load(text, source: str = "kubeconfig", error=errors.FileError) -> dict:
    """The kubeconfig mapping of `text`; `error(message)` for YAML that is not one."""
    try:
        doc = yaml.load(text, Loader=_SAFE_LOADER) if text else None  # a safe loader (see _SAFE_LOADER)
    except yaml.YAMLError as exc:
        raise error(f"{source}: not valid YAML ({errors.yaml_problem(exc)})") from None
    if not isinstance(doc, dict):
        raise error(f"{source}: not a kubeconfig (expected a mapping)")
    return doc


def _named(doc: dict, key: str, inner: str) -> dict:
    return {e.get("name"): e for e in doc.get(key) or [] if isinstance(e, dict) and isinstance(e.get(inner) or {}, dict)}


@dataclass
class Selected:
    """The cluster and user a kubeconfig's current context points at (`{}` when absent).
    `user_entry` is the users[] element itself, for callers that rewrite it."""

    context: str = None
    cluster_name: str = None
    cluster: dict = field(default_factory=dict)
    user_name: str = None
    user: dict = field(default_factory=dict)
    user_entry: dict = None


def select(doc: dict, strict: bool = False) -> Selected:
    """The current context; without one (cluster-info style files) the lone cluster and lone user,
    unless `strict` (kubelet.conf must name its context)."""
    contexts = _named(doc, "contexts", "context")
    clusters = _named(doc, "clusters", "cluster")
    users = _named(doc, "users", "user")
    current = doc.get("current-context")
    if current in contexts:
        context = contexts[current].get("context") or {}
        cluster_name, user_name = context.get("cluster"), context.get("user")
    elif strict:
        return Selected()
    else:
        current = None
        cluster_name = next(iter(clusters)) if len(clusters) == 1 else None
        user_name = next(iter(users)) if len(users) == 1 else None
    entry = users.get(user_name)
    return Selected(current, cluster_name, (clusters.get(cluster_name) or {}).get("cluster") or {},
                    user_name, (entry or {}).get("user") or {}, entry)


def material(section: dict, data_key: str, file_key: str, fs=NODE, base_dir: str = ""):
    """Bytes of a credential given inline (`data_key`, base64) or as a file (`file_key`, a host path
    read through fs, relative to the kubeconfig's directory `base_dir`); None when neither is set."""
    if data_key and section.get(data_key):
        try:
            return base64.b64decode(str(section[data_key]), validate=False)
        except (binascii.Error, ValueError, TypeError):
            raise errors.InvalidValue(f"kubeconfig {data_key}", "<data>", "base64") from None
    path = section.get(file_key)
    if not path:
        return None
    if base_dir and not posixpath.isabs(path):
        path = posixpath.join(base_dir, path)
    if not posixpath.isabs(path):
        raise errors.FileError(f"kubeconfig {file_key} {path}: a relative path needs the kubeconfig's directory")
    data = fs.read_bytes(path)
    if data is None:
        raise errors.FileError(f"kubeconfig {file_key} {path}: No such file or directory")
    return data


def token(user: dict, fs=NODE, base_dir: str = "") -> str:
    """The bearer token of a user: `token`, else the content of `tokenFile`."""
    if user.get("token"):
        return user["token"]
    data = material(user, "", "tokenFile", fs, base_dir)
    return data.decode("utf-8").strip() if data else ""
