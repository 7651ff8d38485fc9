# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubeadm's phase trees as data, and the selection `skip_phases` works on.

A tree is an ordered list of (group, [sub-phases]). A module registers one
handler per group; the handler receives the set of sub-phases to run, so one
call does a whole phase set (e.g. every certificate in one pass).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import InvalidValue

INIT_PHASES = (
    ("preflight", ()),
    ("certs", ("ca", "apiserver", "apiserver-kubelet-client", "front-proxy-ca", "front-proxy-client",
               "etcd-ca", "etcd-server", "etcd-peer", "etcd-healthcheck-client", "apiserver-etcd-client",
               "sa")),
    ("kubeconfig", ("admin", "super-admin", "kubelet", "controller-manager", "scheduler")),
    ("etcd", ("local",)),
    ("control-plane", ("apiserver", "controller-manager", "scheduler")),
    ("kubelet-start", ()),
    ("wait-control-plane", ()),
    ("upload-config", ("kubeadm", "kubelet")),
    ("upload-certs", ()),
    ("mark-control-plane", ()),
    ("bootstrap-token", ()),
    ("kubelet-finalize", ("enable-client-cert-rotation",)),
    ("addon", ("coredns", "kube-proxy")),
    ("show-join-command", ()),
)

# Phases that need a running API server (everything after kubelet-start).
INIT_API_GROUPS = frozenset((
    "wait-control-plane", "upload-config", "upload-certs", "mark-control-plane",
    "bootstrap-token", "kubelet-finalize", "addon", "show-join-command"))

JOIN_PHASES = (
    ("preflight", ()),
    ("control-plane-prepare", ("download-certs", "certs", "kubeconfig", "control-plane")),
    ("kubelet-start", ()),
    ("control-plane-join", ("etcd", "mark-control-plane")),
    ("wait-control-plane", ()),
)

RESET_PHASES = (
    ("preflight", ()),
    ("remove-etcd-member", ()),
    ("cleanup-node", ()),
)


def leaf_names(tree) -> list:
    """'certs/ca', ..., 'kubelet-start', ... in execution order."""
    names = []
    for group, subs in tree:
        names.extend(f"{group}/{sub}" for sub in subs) if subs else names.append(group)
    return names


def _allowed_names(tree) -> list:
    names = []
    for group, subs in tree:
        names.append(group)
        if subs:
            names.append(f"{group}/all")
            names.extend(f"{group}/{sub}" for sub in subs)
    return names


def normalize_skip(tree, skip, field: str = "skip_phases") -> set:
    """Validated set of leaf names to skip. Unknown names raise InvalidValue."""
    if skip is None:
        return set()
    if isinstance(skip, str):
        skip = [s for s in skip.split(",") if s.strip()]
    allowed = _allowed_names(tree)
    skipped = set()
    for raw in skip:
        name = str(raw).strip().lower()
        if name not in allowed:
            raise InvalidValue(field, raw, "one of kubeadm's phase names: " + ", ".join(allowed))
        group, _unused, sub = name.partition("/")
        subs = dict(tree)[group]
        if not sub or sub == "all":
            skipped.update(f"{group}/{s}" for s in subs) if subs else skipped.add(group)
        else:
            skipped.add(name)
    return skipped


@dataclass
class Selection:
    """Which leaves run, grouped for the handlers."""

    tree: tuple
    skipped: set = field(default_factory=set)

    def run_leaves(self) -> list:
        return [n for n in leaf_names(self.tree) if n not in self.skipped]

    def skipped_leaves(self) -> list:
        return [n for n in leaf_names(self.tree) if n in self.skipped]

    def groups(self):
        """Yield (group, subphases-to-run) in order, omitting fully skipped groups.

        For a group without sub-phases the set is empty.
        """
        for group, subs in self.tree:
            if subs:
                wanted = [s for s in subs if f"{group}/{s}" not in self.skipped]
                if wanted:
                    yield group, wanted
            elif group not in self.skipped:
                yield group, []

    def runs(self, name: str) -> bool:
        if "/" in name:
            return name not in self.skipped
        return any(g == name for g, _unused in self.groups())


@dataclass
class PhaseContext:
    """What every phase handler gets: config, filesystem view, writer, results."""

    cfg: object
    fs: object          # files.HostFS (in check mode the writer's pending view)
    writer: object      # files.Writer
    check_mode: bool
    results: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.writer.changed or bool(self.results.get("api_changed") or self.results.get("service_changed"))

    def api_result(self, name: str, result: dict) -> None:
        """Record one API phase's result; any change marks the run changed."""
        self.results.setdefault("api", {})[name] = result
        if result.get("changed"):
            self.results["api_changed"] = True


def select(tree, skip, field: str = "skip_phases") -> Selection:
    return Selection(tree=tree, skipped=normalize_skip(tree, skip, field))


def run(selection: Selection, handlers: dict, ctx) -> dict:
    """Run each selected group's handler in order; returns {'run': [...], 'skipped': [...]}.

    handlers: {group: callable(ctx, subphases)}. A group without handler is an
    internal error, so a new phase can never be silently ignored.
    """
    for group, subs in selection.groups():
        handler = handlers.get(group)
        if handler is None:
            raise KeyError(f"internal: no handler for phase {group}")
        handler(ctx, subs)
    return {"run": selection.run_leaves(), "skipped": selection.skipped_leaves()}
