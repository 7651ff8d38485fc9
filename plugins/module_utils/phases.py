# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubeadm's phase workflow: a registry of named phases, the selection `skip_phases` works on,
the runner, and what every phase gets (`PhaseContext`) and gives back (`Report`).

A workflow (init.PHASES, join.PHASES; reset and upgrade next) is an ordered tuple of
`Phase(name, run, children, needs_api)`. Children are either sub-phase names taken from a
table (pki.PHASES, kubeconfig.PHASES, manifests.CONTROL_PLANE_PHASES, as kubeadm builds
`init phase certs` from its certificate list), handed to the phase's `run(ctx, names)` at once
so one call does a whole set (every certificate in one pass), or Phases of their own, each run
in turn. Before a phase that `needs_api` runs, the context connects to the API server (in check
mode one probe decides between the live server and the plan from the config alone).
Before the first phase runs, every selected phase's `check(ctx)` runs and the directories its
`writes(cfg)` names are checked (files.check_writable): a tree that cannot be written, or a
check that fails, stops the run before anything is written.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ansible_collections.kubeboot.cluster.plugins.module_utils import apiclient, files
from ansible_collections.kubeboot.cluster.plugins.module_utils.apiwriter import ApiWriter
from ansible_collections.kubeboot.cluster.plugins.module_utils.changes import ChangeLog
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import FileError, InvalidValue

PROBE_TIMEOUT = 5.0  # check mode / dry run: how long the one API probe may take


@dataclass(frozen=True)
class Phase:
    """One kubeadm phase: its name, what runs it, its sub-phases (names for `run`, or Phases),
    whether it talks to the API, the host directories it writes into (`writes(cfg)`) and a check
    that must pass before anything is written (`check(ctx)`)."""

    name: str
    run: Callable = None
    children: tuple = ()
    needs_api: bool = False
    writes: Callable = None
    check: Callable = None

    def __post_init__(self):
        if not callable(self.run) and not self.steps:  # a phase can never be silently ignored
            raise KeyError(f"internal: phase {self.name} has nothing to run")

    @property
    def steps(self) -> dict:
        """Sub-phases that run themselves, by name."""
        return {child.name: child for child in self.children if isinstance(child, Phase)}

    @property
    def child_names(self) -> tuple:
        return tuple(child.name if isinstance(child, Phase) else child for child in self.children)

    @property
    def talks_to_api(self) -> bool:
        return self.needs_api or any(step.needs_api for step in self.steps.values())


def leaf_names(tree) -> list:
    """'certs/ca', ..., 'kubelet-start', ... in execution order."""
    names = []
    for phase in tree:
        subs = phase.child_names
        names.extend(f"{phase.name}/{sub}" for sub in subs) if subs else names.append(phase.name)
    return names


def _allowed_names(tree) -> list:
    names = []
    for phase in tree:
        names.append(phase.name)
        if phase.children:
            names.append(f"{phase.name}/all")
            names.extend(f"{phase.name}/{sub}" for sub in phase.child_names)
    return names


def normalize_skip(tree, skip, field_name: str = "skip_phases") -> set:
    """Validated set of leaf names to skip. Unknown names raise InvalidValue."""
    if skip is None:
        return set()
    if isinstance(skip, str):
        skip = [s for s in skip.split(",") if s.strip()]
    allowed = _allowed_names(tree)
    children = {phase.name: phase.child_names for phase in tree}
    skipped = set()
    for raw in skip:
        name = str(raw).strip().lower()
        if name not in allowed:
            raise InvalidValue(field_name, raw, "one of kubeadm's phase names: " + ", ".join(allowed))
        group, _unused, sub = name.partition("/")
        subs = children[group]
        if not sub or sub == "all":
            skipped.update(f"{group}/{s}" for s in subs) if subs else skipped.add(group)
        else:
            skipped.add(name)
    return skipped


@dataclass
class Selection:
    """Which leaves run, grouped by phase for the runner."""

    tree: tuple
    skipped: set = field(default_factory=set)

    def run_leaves(self) -> list:
        return [n for n in leaf_names(self.tree) if n not in self.skipped]

    def skipped_leaves(self) -> list:
        return [n for n in leaf_names(self.tree) if n in self.skipped]

    def groups(self):
        """Yield (phase, sub-phases to run) in order, omitting fully skipped phases.

        For a phase without sub-phases the list is empty.
        """
        for phase in self.tree:
            if phase.children:
                wanted = [s for s in phase.child_names if f"{phase.name}/{s}" not in self.skipped]
                if wanted:
                    yield phase, wanted
            elif phase.name not in self.skipped:
                yield phase, []

    def runs(self, name: str) -> bool:
        if "/" in name:
            return name not in self.skipped
        return any(phase.name == name for phase, _unused in self.groups())


def select(tree, skip, field_name: str = "skip_phases") -> Selection:
    return Selection(tree=tree, skipped=normalize_skip(tree, skip, field_name))


def _steps(selection: Selection):
    """(name, Phase, sub-phase names) of what runs, in order."""
    for phase, subs in selection.groups():
        steps = phase.steps
        if steps:
            yield from ((f"{phase.name}/{sub}", steps[sub], []) for sub in subs)
        else:
            yield phase.name, phase, subs


def before_first_write(selection: Selection, ctx) -> None:
    """The selected phases' checks, then one check that the tree they write into can be written."""
    dirs = []
    for _name, step, _names in _steps(selection):
        if step.check is not None:
            step.check(ctx)
        for directory in step.writes(ctx.cfg) if step.writes is not None else ():
            if directory not in dirs:
                dirs.append(directory)
    if dirs:
        files.check_writable(ctx.writer.fs, dirs)


def run(selection: Selection, ctx) -> dict:
    """Run each selected phase (or its selected sub-phases) in order; returns {'run': [...], 'skipped': [...]}."""
    if ctx is not None:
        before_first_write(selection, ctx)
    for phase, subs in selection.groups():
        steps = phase.steps
        todo = [(f"{phase.name}/{sub}", steps[sub], []) for sub in subs] if steps else [(phase.name, phase, subs)]
        for name, step, names in todo:
            if ctx is not None:
                ctx.phase = name
                if step.needs_api:
                    ctx.connect()
            step.run(ctx, names)
    return {"run": selection.run_leaves(), "skipped": selection.skipped_leaves()}


@dataclass
class Report:
    """What the phases found and did, as the module returns it (one field per result key)."""

    preflight: dict = field(default_factory=dict)
    certificates: list = field(default_factory=list)
    kubeconfigs: list = field(default_factory=list)
    manifests: list = field(default_factory=list)
    kubelet_files: list = field(default_factory=list)
    api: dict = field(default_factory=dict)           # per API phase: changed, changed_objects, ...
    token: str = ""                                    # bootstrap-token: the first token (no_log)
    show_join_command: bool = False
    tls_bootstrap: str = ""                            # join: what kubelet-start did
    csr: str = ""                                      # join: the CSR of a module-mode TLS bootstrap
    downloaded_certs: list = field(default_factory=list)
    etcd: dict = field(default_factory=dict)
    kubelet_service: dict = field(default_factory=dict)  # kubelet-start: restarted or not, and why


@dataclass
class PhaseContext:
    """What every phase gets: config, filesystem view, file writer, API writer, change log, report.

    `fs` is the writer's view: in check mode later phases see what earlier ones would write.
    `api` is an apiwriter.ApiWriter sharing the writer's change log, made by `connect()` from
    `admin_kubeconfig` (read through `fs`, so in check mode the one the kubeconfig phase would
    write). `plan_only` (check mode or dry run): the API is read, never written; when no API
    server answers the one probe, the API phases plan from the configuration alone.
    """

    cfg: object
    fs: object          # files.HostFS (in check mode the writer's pending view)
    writer: object      # files.Writer
    check_mode: bool
    plan_only: bool = False
    admin_kubeconfig: str = ""
    # plan reads: admin.conf gets its rights from a binding the plan does not create (init's
    # kubeadm:cluster-admins), so a check-mode run reads with this identity when it exists
    plan_kubeconfig: str = ""
    report: Report = field(default_factory=Report)
    warnings: list = field(default_factory=list)
    api: ApiWriter = None
    phase: str = ""     # the phase running now (results are recorded under its name)
    log: ChangeLog = field(init=False)

    def __post_init__(self):
        self.log = self.writer.log  # the run's one change record, shared by both writers

    def surface(self, results: list) -> list:
        """Results of a phase (certificates, kubeconfigs) whose `warnings` become the run's warnings."""
        for result in results:
            for warning in result.get("warnings") or ():
                if warning not in self.warnings:
                    self.warnings.append(warning)
        return results

    def api_result(self, result: dict, name: str = "") -> None:
        """Record the running phase's result (its changes are in the change log already)."""
        self.report.api[name or self.phase] = result

    def connect(self) -> ApiWriter:
        """The API writer of this run (made once)."""
        if self.api is None:
            path = self.admin_kubeconfig
            if self.plan_only and self.plan_kubeconfig and self.fs.exists(self.plan_kubeconfig):
                path = self.plan_kubeconfig
            self.api = self.writer_for(path)
        return self.api

    def writer_for(self, kubeconfig_path: str, required: bool = True):
        """An ApiWriter for the identity of a kubeconfig on this node (None when the file is absent
        and not `required`)."""
        text = self.fs.read_text(kubeconfig_path)
        if text is None:
            if not required:
                return None
            if self.plan_only:
                return self._offline(f"{kubeconfig_path} does not exist yet")
            raise FileError(f"{kubeconfig_path} is missing: the phase that writes it must run first")
        if not self.plan_only:
            return ApiWriter(apiclient.Client.from_kubeconfig(text, fs=self.fs), log=self.log)
        client = apiclient.Client.from_kubeconfig(text, fs=self.fs, timeout=PROBE_TIMEOUT, retry_timeout=0)
        if not client.healthz():
            return self._offline(f"no API server answered at {client.server}")
        client.retry_timeout = 10.0
        return ApiWriter(client, check_mode=True, log=self.log)

    def _offline(self, why: str) -> ApiWriter:
        self.log.note(f"{why}: the API phases report what they would create from the configuration alone")
        return ApiWriter(None, check_mode=True, log=self.log)

    def result(self, phase_report: dict) -> dict:
        """The result keys every phase module returns (what changed, where, the diffs)."""
        report = self.report
        return {
            "changed": self.log.changed,
            "certificates": report.certificates,
            "kubeconfigs": report.kubeconfigs,
            "manifests": report.manifests,
            "kubelet_files": report.kubelet_files,
            "kubelet_service": report.kubelet_service,
            "preflight": report.preflight,
            "phases": phase_report,
            "api": report.api,
            "changed_files": list(self.log.paths),
            "changed_objects": list(self.log.objects),
            "notes": list(self.log.notes),
            "warnings": self.warnings + self.log.notes,
            "diff": self.log.diffs,
        }
