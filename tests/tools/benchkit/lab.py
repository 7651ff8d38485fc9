"""The lab row: `make lab` (extensions/lab/lab.py) timed as a developer runs it, on its own lab
(KUBEBOOT_LAB, default "bench"; nodes <name>-cp1, -w1, -w2), one run of each:

  cold (image built)  the node image exists, nothing else of the lab: no nodes, no lab/<name>/ state,
                      no lab packages, no lab collections on the controller
  warm                `make lab-down && make lab`: fresh nodes, the controller's lab files kept
  rerun               `make lab` on the converged nodes (must report changed=0 on every host)
  cold (no image)     optional (--lab-image-build): as cold, and the node image built from nothing
                      (debootstrap), under its own tag so the shared image is never removed

Each run is checked from outside afterwards (`lab.py check`: real kubectl, podman exec, etcdctl;
`--idempotent` after the rerun). Per role: the lab's profile_tasks summary (every task, through
PROFILE_TASKS_TASK_OUTPUT_LIMIT=all) in lab/<name>/last-playbook.log, summed by role; per step:
lab/<name>/last-run.json. The lab is taken down at the end.
"""
from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys

from .harness import timed_process

DEFAULT_NAME = "bench"
# profile_tasks' summary line: "<role> : <task> ------ 12.34s" (tasks outside a role have no " : ")
TASK_LINE = re.compile(r"^(?P<name>.+?) -+ ?(?P<seconds>\d+\.\d+)s$")
RECAP_BANNER = "TASKS RECAP"
PLAY_TASKS = "(play-level tasks, facts)"


def unavailable(repo: str) -> str:
    """Why the lab cannot run here ("" when it can)."""
    if not os.path.exists(os.path.join(repo, "extensions", "lab", "lab.py")):
        return "extensions/lab/lab.py is not in this tree"
    if os.geteuid() != 0:
        return "the lab needs root (rootful podman)"
    if not shutil.which("podman"):
        return "podman is not installed (`make lab` as root installs it)"
    return ""


def per_role(log_path: str) -> dict:
    """{role: seconds} from the profile_tasks summary at the end of a playbook log."""
    with open(log_path, encoding="utf-8", errors="replace") as handle:
        text = handle.read()
    if RECAP_BANNER not in text:
        raise RuntimeError(f"{log_path}: no profile_tasks summary (TASKS RECAP)")
    roles: dict = {}
    for line in text.rsplit(RECAP_BANNER, 1)[1].splitlines():
        match = TASK_LINE.match(line.strip())
        if not match:
            continue
        name = match.group("name")
        role = name.split(" : ", 1)[0] if " : " in name else PLAY_TASKS
        roles[role] = roles.get(role, 0.0) + float(match.group("seconds"))
    if not roles:
        raise RuntimeError(f"{log_path}: the profile_tasks summary lists no task")
    return dict(sorted(roles.items(), key=lambda item: -item[1]))


class LabRunner:
    def __init__(self, repo: str, name: str, out_dir: str, log=print):
        self.repo, self.name, self.out_dir, self.log = repo, name, out_dir, log
        self.state = os.path.join(repo, "lab", name)
        # the converges without make lab's check-mode pass on fresh nodes (lab CI runs it; ~30 s each here)
        self.env = dict(os.environ, KUBEBOOT_LAB=name, KUBEBOOT_LAB_CHECK_FRESH="0",
                        PROFILE_TASKS_TASK_OUTPUT_LIMIT="all")
        self.env.pop("KUBEBOOT_LAB_IMAGE", None)
        self.lab_py = [sys.executable, os.path.join(repo, "extensions", "lab", "lab.py")]

    def lab(self, *args, env=None, check=True) -> None:
        """lab.py <args>, untimed, output to the bench's lab log."""
        with open(os.path.join(self.out_dir, "lab.log"), "ab") as out:
            proc = subprocess.run(self.lab_py + list(args), env=env or self.env, cwd=self.repo,
                                  stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        if check and proc.returncode != 0:
            raise RuntimeError(f"lab.py {' '.join(args)} exited {proc.returncode} (see {self.out_dir}/lab.log)")

    def forget_controller_state(self) -> None:
        """What `make lab` builds on the controller for a lab: its state, the lab packages and the
        collections it extracts from the PyPI ansible wheel (containers.podman, ansible.posix)."""
        shutil.rmtree(self.state, ignore_errors=True)
        for deb in glob.glob(os.path.join(self.repo, "lab", "packages", "*.deb")):
            os.unlink(deb)
        collections = os.path.join(self.repo, "build", "collections", "ansible_collections")
        for namespace, name in (("containers", "podman"), ("ansible", "posix")):
            shutil.rmtree(os.path.join(collections, namespace, name), ignore_errors=True)

    def converge(self, label: str, env=None, idempotent: bool = False) -> dict:
        """One timed `make lab`, then checked from outside; its steps and per-role times."""
        self.log(f"  lab: {label}")
        logfile = os.path.join(self.out_dir, f"lab-{label.split()[0]}.log")
        if os.path.exists(logfile):
            os.unlink(logfile)
        sample = timed_process(["make", "-C", self.repo, "--no-print-directory", "lab"], env or self.env,
                               self.repo, logfile)
        with open(os.path.join(self.state, "last-run.json"), encoding="utf-8") as handle:
            record = json.load(handle)
        playbook_log = os.path.join(self.out_dir, f"lab-{label.split()[0]}-playbook.log")
        shutil.copyfile(os.path.join(self.state, "last-playbook.log"), playbook_log)
        if not record.get("ok") or record.get("rerun") != idempotent:
            raise RuntimeError(f"lab {label}: last-run.json says ok={record.get('ok')} rerun={record.get('rerun')}")
        self.lab("check", *(["--idempotent"] if idempotent else []), env=env)
        changed = {host: r["changed"] for host, r in record["recap"].items()}
        self.log(f"    {sample.wall:.1f} s, changed per host {changed}")
        return {"wall": sample.wall, "steps": {s["step"]: s["seconds"] for s in record["steps"]},
                "changed": changed, "roles": per_role(playbook_log), "image_built": record.get("image_built"),
                "log": os.path.relpath(playbook_log, self.repo)}


def measure(repo: str, out_dir: str, image_build: bool = False, keep: bool = False, log=print) -> dict:
    why = unavailable(repo)
    if why:
        return {"status": "not measured", "reason": why}
    name = os.environ.get("KUBEBOOT_LAB") or DEFAULT_NAME
    runner = LabRunner(repo, name, out_dir, log)
    runs = {}
    runner.lab("down")
    try:
        if image_build:
            image = f"localhost/kubeboot-node:bench-{name}"
            env = dict(runner.env, KUBEBOOT_LAB_IMAGE=image)
            subprocess.run(["podman", "rmi", "-f", image], capture_output=True, check=False)
            runner.forget_controller_state()
            runs["cold (no image)"] = runner.converge("cold-image converge (image built from nothing)", env=env)
            runner.lab("down", env=env)
            subprocess.run(["podman", "rmi", "-f", image], capture_output=True, check=False)
        runner.forget_controller_state()
        runs["cold"] = runner.converge("cold converge (image built, nothing else)")
        runner.lab("down")
        runs["warm"] = runner.converge("warm converge (fresh nodes)")
        runs["rerun"] = runner.converge("rerun converge (converged nodes)", idempotent=True)
    finally:
        if not keep:
            runner.lab("down", check=False)
    return {"status": "measured", "name": name, "runs": runs}
