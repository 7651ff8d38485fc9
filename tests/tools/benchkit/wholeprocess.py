"""Whole processes, timed from outside: one kubeadm_init task through ansible-playbook vs the
community.crypto playbook vs the openssl script (fresh trees), and the no-op rerun / --check vs a
playbook with one ansible.builtin.ping task."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

from . import alternatives
from .harness import Contender, ratio, run_paired, spread, timed_process
from .inprocess import init_params

HERE = os.path.dirname(os.path.abspath(__file__))
RECAP = re.compile(r"^\S+\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


class Ansible:
    """ansible-playbook from this venv, with Ansible's defaults (an empty ansible.cfg), the
    collection (and community.crypto, bench-only) on the collections path, output to a log."""

    def __init__(self, workdir: str, collections_paths):
        self.workdir = workdir
        self.python = sys.executable
        self.playbook_bin = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
        cfg = os.path.join(workdir, "ansible.cfg")
        open(cfg, "w").close()
        self.env = dict(os.environ, ANSIBLE_CONFIG=cfg, ANSIBLE_COLLECTIONS_PATH=":".join(collections_paths),
                        ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
                        ANSIBLE_NOCOLOR="1", ANSIBLE_LIBRARY=os.path.join(HERE, "library"))

    def write_playbook(self, name: str, plays: list) -> str:
        path = os.path.join(self.workdir, name + ".yml")
        with open(path, "w") as handle:
            yaml.safe_dump(plays, handle, sort_keys=False)
        return path

    def localhost(self, playbook: str, *extra) -> list:
        return [self.playbook_bin, "-i", "localhost,", "-c", "local",
                "-e", f"ansible_python_interpreter={self.python}", playbook, *extra]

    def log(self, name: str) -> str:
        return os.path.join(self.workdir, name + ".log")


def one_task(name: str, module: str, args) -> list:
    return [{"name": name, "hosts": "localhost", "gather_facts": False,
             "tasks": [{"name": name, module: args}]}]


def last_recap(log_path: str) -> tuple:
    """(ok, changed, unreachable, failed) of the last PLAY RECAP in a log."""
    with open(log_path, encoding="utf-8", errors="replace") as handle:
        found = RECAP.findall(handle.read())
    if not found:
        raise RuntimeError(f"no PLAY RECAP in {log_path}")
    return tuple(int(x) for x in found[-1])


def expect_recap(log_path: str, changed: bool) -> None:
    ok, n_changed, unreachable, failed = last_recap(log_path)
    if failed or unreachable or ok == 0 or (n_changed > 0) != changed:
        raise RuntimeError(f"{log_path}: recap ok={ok} changed={n_changed} failed={failed}, "
                           f"expected changed={'>0' if changed else '0'}")


def tree_state(root: str) -> dict:
    state = {}
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            path = os.path.join(dirpath, name)
            state[os.path.relpath(path, root)] = os.stat(path).st_mtime_ns
    return state


def verify_tree(openssl: str, root: str, certs: dict, alternative: bool) -> None:
    """Every certificate of the set chains to its CA (openssl verify); an alternative's tree also
    holds every file of the set (the module's kubeconfig client certificates are inside the files)."""
    missing = [f for f in alternatives.expected_files() if not os.path.isfile(os.path.join(root, f))]
    if alternative and missing:
        raise RuntimeError(f"{root}: missing {missing}")
    items = [(s["name"], s["ca"], False) for s in certs["leaves"]]
    if alternative:
        items += [(s["name"], s["ca"], True) for s in certs["clients"]]
    _verify_chains(openssl, root, items)


def _verify_chains(openssl: str, root: str, items) -> None:
    for name, ca, client in items:
        crt = os.path.join(root, alternatives.CLIENT_DIR if client else alternatives.PKI, name + ".crt")
        ca_crt = os.path.join(root, alternatives.PKI, ca + ".crt")
        proc = subprocess.run([openssl, "verify", "-CAfile", ca_crt, crt], capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"openssl verify {crt}: {proc.stdout}{proc.stderr}")


def measure_alternatives(ansible: Ansible, rounds: int, openssl: str, log=print) -> dict:
    """One kubeadm_init task vs community.crypto vs the openssl script, each into a fresh tree."""
    work = ansible.workdir
    reference = os.path.join(work, "reference")
    os.makedirs(reference)
    init_pb = ansible.write_playbook("init", one_task("kubeadm init", "kubeboot.cluster.kubeadm_init",
                                                      init_params("{{ root }}")))
    timed_process(ansible.localhost(init_pb, "-e", f"root={reference}"), ansible.env, work, ansible.log("reference"))
    certs = alternatives.certificate_set(reference)
    crypto_plays = alternatives.crypto_playbook(certs)
    crypto_pb = ansible.write_playbook("community-crypto", crypto_plays)
    script_text = alternatives.openssl_script(certs)
    script = os.path.join(work, "openssl-certs.sh")
    with open(script, "w") as handle:
        handle.write(script_text)

    def fresh(name, argv_for, with_dirs=False):
        def prepare(number):
            root = tempfile.mkdtemp(prefix=f"{name}-{number}-", dir=work)
            for sub in alternatives.DIRS if with_dirs else ():
                os.makedirs(os.path.join(root, sub))  # made untimed: in the alternatives' favour

            def thunk():
                sample = timed_process(argv_for(root), ansible.env, work, ansible.log(name))
                if number == 0:  # the first round's trees are checked with openssl, then every tree is dropped
                    verify_tree(openssl, root, certs, alternative=with_dirs)
                shutil.rmtree(root, ignore_errors=True)
                return sample
            return thunk
        return prepare

    contenders = [
        Contender("kubeadm_init", fresh("kubeadm_init", lambda r: ansible.localhost(init_pb, "-e", f"root={r}")),
                  check=lambda _n: expect_recap(ansible.log("kubeadm_init"), changed=True)),
        Contender("community_crypto", fresh("community_crypto",
                                            lambda r: ansible.localhost(crypto_pb, "-e", f"root={r}"), True),
                  check=lambda _n: expect_recap(ansible.log("community_crypto"), changed=True)),
        Contender("openssl_script", fresh("openssl_script", lambda r: ["bash", script, r], True)),
    ]
    # no warm-up round: the reference run above warmed Ansible and the module; community.crypto's
    # first run is as warm as its others (its modules are packed fresh by every ansible-playbook)
    series = run_paired(contenders, rounds, warmup=0, log=log)
    return {"rounds": rounds, "tasks": {"community_crypto": len(crypto_plays[0]["tasks"]), "kubeadm_init": 1},
            "openssl_commands": sum(1 for line in script_text.splitlines() if line.startswith("openssl ")),
            "series": {n: spread(s.walls) for n, s in series.items()},
            "cpu": {n: spread(x.cpu for x in s.samples) for n, s in series.items()},
            "ratios": {"community_crypto/kubeadm_init": ratio(series, "community_crypto", "kubeadm_init"),
                       "openssl_script/kubeadm_init": ratio(series, "openssl_script", "kubeadm_init")}}


def measure_noop(ansible: Ansible, rounds: int, log=print) -> dict:
    """On an existing tree: the rerun, --check, and kubeadm_init's payload doing nothing, vs ping."""
    work = ansible.workdir
    root = os.path.join(work, "existing")
    os.makedirs(root)
    args = init_params(root)
    init_pb = ansible.write_playbook("noop-init", one_task("kubeadm init", "kubeboot.cluster.kubeadm_init", args))
    floor_pb = ansible.write_playbook("noop-floor", one_task("payload floor", "kubeboot_payload_floor", args))
    ping_pb = ansible.write_playbook("ping", one_task("ping", "ansible.builtin.ping", None))
    timed_process(ansible.localhost(init_pb), ansible.env, work, ansible.log("noop-first"))
    expect_recap(ansible.log("noop-first"), changed=True)
    before = tree_state(root)

    def unchanged(name):
        def check(_number):
            expect_recap(ansible.log(name), changed=False)
            if tree_state(root) != before:
                raise RuntimeError(f"{name} rewrote files of the existing tree")
        return check

    def run(name, argv):
        return Contender(name, lambda _n: (lambda: timed_process(argv, ansible.env, work, ansible.log(name))),
                         check=unchanged(name))

    contenders = [run("rerun", ansible.localhost(init_pb)), run("ping", ansible.localhost(ping_pb)),
                  run("check", ansible.localhost(init_pb, "--check")),
                  run("payload_floor", ansible.localhost(floor_pb))]
    series = run_paired(contenders, rounds, warmup=1, log=log)
    return {"rounds": rounds, "series": {n: spread(s.walls) for n, s in series.items()},
            "cpu": {n: spread(x.cpu for x in s.samples) for n, s in series.items()},
            "ratios": {"rerun/ping": ratio(series, "rerun", "ping"), "check/ping": ratio(series, "check", "ping"),
                       "payload_floor/ping": ratio(series, "payload_floor", "ping"),
                       "rerun/payload_floor": ratio(series, "rerun", "payload_floor")}}
