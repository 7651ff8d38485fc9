"""Worker joins through ansible-playbook against the API double backed by real etcd, everything
on 127.0.0.1: N workers, each a separate rootfs on localhost (ansible_connection=local), one
kubeadm_join task in module TLS-bootstrap mode; forks 10 and 25 paired per worker count."""
from __future__ import annotations

import json
import os
import shutil
import statistics

import yaml

from .harness import Contender, run_paired, spread, timed_process

HERE = os.path.dirname(os.path.abspath(__file__))
TASK = "kubeadm join"


class JoinCluster:
    """etcd + the API double serving a control plane's PKI (tests/support/joinlab.Lab, etcd store)."""

    def __init__(self, workdir: str):
        from tests.support.apiserver.testing import EtcdProcess
        from tests.support.joinlab import Lab
        os.makedirs(workdir, exist_ok=True)
        self.etcd = EtcdProcess(os.path.join(workdir, "etcd-data")).start()
        try:
            self.lab = Lab(os.path.join(workdir, "cluster"), store=self.etcd.store(), controllers_interval="0.2s")
            self.lab.wait_signed()
        except BaseException:
            self.etcd.stop()
            raise

    def join_args(self) -> dict:
        return self.lab.join_params("{{ rootfs }}", node_name="{{ node_name }}", tls_bootstrap_mode="module")

    def forget_joins(self) -> None:
        """Untimed, between runs: drop the CSRs so every run starts from the same cluster state."""
        for csr in self.lab.admin.list("CertificateSigningRequest"):
            self.lab.admin.delete("CertificateSigningRequest", csr["metadata"]["name"])

    def stop(self) -> None:
        try:
            self.lab.stop()
        finally:
            self.etcd.stop()


def _inventory(path: str, python: str, root: str, count: int, tag: str) -> None:
    with open(path, "w") as handle:
        handle.write("[workers]\n")
        for i in range(count):
            handle.write(f"w{i} ansible_connection=local ansible_python_interpreter={python} "
                         f"rootfs={root}/w{i} node_name={tag}-w{i}\n")


def measure(ansible, counts, forks_list, rounds: int, log=print) -> dict:
    cluster = JoinCluster(os.path.join(ansible.workdir, "joins"))
    try:
        return _measure(ansible, cluster, counts, forks_list, rounds, log)
    finally:
        cluster.stop()


def _cluster_cpu(cluster: JoinCluster) -> float:
    """CPU seconds so far of the API double (this process's threads) and etcd."""
    mine = os.times()
    with open(f"/proc/{cluster.etcd.proc.pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return mine.user + mine.system + (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _measure(ansible, cluster: JoinCluster, counts, forks_list, rounds: int, log) -> dict:
    join_pb = ansible.write_playbook("join", [{"name": "join workers", "hosts": "workers", "gather_facts": False,
                                               "tasks": [{"name": TASK, "kubeboot.cluster.kubeadm_join":
                                                          cluster.join_args()}]}])
    ping_pb = ansible.write_playbook("ping-workers", [{"name": "ping workers", "hosts": "workers",
                                                       "gather_facts": False,
                                                       "tasks": [{"name": "ping", "ansible.builtin.ping": None}]}])
    env = dict(ansible.env, ANSIBLE_CALLBACK_PLUGINS=os.path.join(HERE, "callback_plugins"),
               ANSIBLE_CALLBACKS_ENABLED="bench_timing")
    extra: dict = {}  # per contender: per-run latencies, cluster CPU

    def contender(count: int, forks: int, ping: bool = False) -> Contender:
        name = f"{'ping-' if ping else ''}n{count}-f{forks}"

        def prepare(number):
            run_dir = os.path.join(ansible.workdir, "joins", f"r{number + 1}-{name}")
            os.makedirs(run_dir)
            inventory = os.path.join(run_dir, "inventory.ini")
            _inventory(inventory, ansible.python, run_dir, count, f"r{number + 1}-{name}")
            timing = os.path.join(run_dir, "timing.json")

            def thunk():
                before = _cluster_cpu(cluster)
                sample = timed_process([ansible.playbook_bin, "-i", inventory, "-f", str(forks),
                                        ping_pb if ping else join_pb], dict(env, KUBEBOOT_BENCH_TIMING=timing),
                                       ansible.workdir, ansible.log(f"join-{name}"))
                cluster_cpu = _cluster_cpu(cluster) - before
                rows = _timing_rows(timing, "ping" if ping else TASK, count, "ok" if ping else "changed")
                if not ping:
                    _check_joined(run_dir, count)
                    cluster.forget_joins()
                if number >= 0:
                    record = extra.setdefault(name, {"latency": [], "cluster_cpu": []})
                    record["latency"].append([r["end"] - r["start"] for r in rows])
                    record["cluster_cpu"].append(cluster_cpu)
                shutil.rmtree(run_dir, ignore_errors=True)
                return sample
            return thunk
        return Contender(name, prepare)

    # Ansible starts min(forks, hosts) workers: with hosts <= every forks value the runs are the same,
    # so such a count is measured once and stands for every forks value.
    top = max(forks_list)
    cells = [(count, forks) for count in counts for forks in (forks_list if count > min(forks_list) else [top])]
    contenders = [contender(count, forks) for count, forks in cells]
    floor = [c for c in (5, 50) if c in counts]  # Ansible's own growth: one ping task on the same hosts
    contenders += [contender(count, top, ping=True) for count in floor]
    contender(1, top).prepare(-1)()  # warm-up: one single join, not recorded
    series = run_paired(contenders, rounds, warmup=0, log=log)

    def cell(name: str, count: int, forks: int) -> dict:
        record, runs = extra[name], series[name]
        return {"workers": count, "forks": forks, "same_run_as": name, "wall": spread(runs.walls),
                "latency_median": spread(statistics.median(run) for run in record["latency"]),
                "latency_max": spread(max(run) for run in record["latency"]),
                "wall_per_worker": spread(w / count for w in runs.walls),
                "cpu_per_worker": spread(s.cpu / count for s in runs.samples),
                "cluster_cpu_per_worker": spread(c / count for c in record["cluster_cpu"])}

    out = {"rounds": rounds, "counts": list(counts), "forks": list(forks_list), "cells": {}, "ping": {}}
    for count in counts:
        for forks in forks_list:
            out["cells"][f"n{count}-f{forks}"] = cell(f"n{count}-f{forks if count > min(forks_list) else top}",
                                                      count, forks)
    for count in floor:
        out["ping"][f"n{count}-f{top}"] = cell(f"ping-n{count}-f{top}", count, top)
    out["growth"] = {}
    if len(floor) == 2:
        five = series[f"n5-f{top}"].walls
        for forks in forks_list:
            out["growth"][f"f{forks}"] = spread(a / b for a, b in zip(series[f"n50-f{forks}"].walls, five))
        out["ping_growth"] = spread(a / b for a, b in zip(series[f"ping-n50-f{top}"].walls,
                                                          series[f"ping-n5-f{top}"].walls))
    return out


def _timing_rows(timing: str, task: str, count: int, status: str) -> list:
    with open(timing) as handle:
        rows = [r for r in json.load(handle) if r["task"] == task]
    bad = [r for r in rows if r["status"] != status]
    if len(rows) != count or bad:
        raise RuntimeError(f"{timing}: {len(rows)} '{task}' results for {count} hosts, not {status}: {bad[:3]}")
    return rows


def _check_joined(run_dir: str, count: int) -> None:
    """Every worker holds an issued kubelet client certificate and a kubelet.conf using it."""
    for i in range(count):
        rootfs = os.path.join(run_dir, f"w{i}")
        link = os.path.join(rootfs, "var/lib/kubelet/pki/kubelet-client-current.pem")
        target = os.path.join(rootfs, os.readlink(link).lstrip("/")) if os.path.islink(link) else ""
        if not os.path.isfile(target):
            raise RuntimeError(f"{link}: no issued kubelet client certificate after the join")
        with open(os.path.join(rootfs, "etc/kubernetes/kubelet.conf")) as handle:
            if "kubelet-client-current.pem" not in json.dumps(yaml.safe_load(handle)):
                raise RuntimeError(f"w{i}: kubelet.conf does not use the issued certificate")
