#!/usr/bin/env python3
"""`make bench`: kubeboot.cluster against the alternatives, every figure measured in this one run.

    python tests/tools/bench.py [--only GROUP,...] [--rounds N] [--lab-image-build] [--keep-lab]
                                [--render RESULTS.json]

Groups (all by default, in this order):
  inprocess     full local init in this process vs the same keys generated bare (RSA-2048, RSA-3072,
                ECDSA-P256): one after another, and on every core
  alternatives  one kubeadm_init task through ansible-playbook vs a community.crypto playbook vs an
                openssl shell script making the same certificate set (fresh trees)
  noop          the no-op rerun and --check on an existing tree vs a playbook with one ping task
  joins         1, 5, 10, 50 workers joining through ansible-playbook (forks 10 and 25) against the
                API double backed by real etcd, everything on 127.0.0.1
  lab           `make lab` on podman nodes (a lab of its own, KUBEBOOT_LAB or "bench"): cold converge
                (image built, nothing else), warm converge (fresh nodes), rerun, per role and step;
                one run each (needs root and podman, else "not measured"); --lab-image-build adds a
                cold converge with the node image built from nothing

Every group but the lab is paired: its contenders run in turn (A B A B ...), at least 5 rounds after
a warm-up, and ratios are taken within a round, so a shared, drifting machine hits all sides alike.
Quote the medians (min and max show the noise). Writes bench/results/<date>.json and .md,
docs/performance.md and docs/performance-joins.png; --render rebuilds the last two (and the .md)
from a results file.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "build", "collections"))
sys.path.insert(0, REPO)

from benchkit import docs, inprocess, joins, lab, report, wholeprocess  # noqa: E402

GROUPS = ("inprocess", "alternatives", "noop", "joins", "lab")
ALGORITHMS = ("RSA-2048", "RSA-3072", "ECDSA-P256")
DEFAULT_ROUNDS = {"inprocess": 5, "alternatives": 5, "noop": 6, "joins": 5, "lab": 1}
JOIN_COUNTS, JOIN_FORKS = (1, 5, 10, 50), (10, 25)
BENCH_COLLECTIONS = os.path.join(REPO, "build", "bench", "collections")


def _first_line(argv) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout.splitlines()[0].strip()
    except (OSError, IndexError, subprocess.SubprocessError):
        return "unknown"


def _field(path: str, key: str, sep: str) -> str:
    """`key<sep>value` from a /proc or /etc file ("unknown" when absent)."""
    try:
        with open(path) as handle:
            for line in handle:
                name, _, value = line.partition(sep)
                if name.strip() == key:
                    return value.strip().strip('"')
    except OSError:
        pass
    return "unknown"


def machine() -> dict:
    import ansible.release
    import cryptography
    mem_kib = _field("/proc/meminfo", "MemTotal", ":").split()[0]
    return {"os": _field("/etc/os-release", "PRETTY_NAME", "="), "cpus": os.cpu_count(),
            "cpu_model": _field("/proc/cpuinfo", "model name", ":"),
            "memory_gib": int(mem_kib) / 1024 / 1024 if mem_kib.isdigit() else 0.0,
            "python": platform.python_version(), "ansible_core": ansible.release.__version__,
            "cryptography": cryptography.__version__, "openssl": _first_line(["openssl", "version"]),
            "etcd": _first_line(["etcd", "--version"]).replace("etcd Version: ", ""),
            "load_before": "%.2f %.2f %.2f" % os.getloadavg()}


def community_crypto() -> str:
    """community.crypto from the PyPI `ansible` wheel into build/bench/collections (bench-only)."""
    subprocess.run([sys.executable, os.path.join(REPO, "tests", "tools", "wheel_collections.py"),
                    BENCH_COLLECTIONS, "community.crypto"], check=True)
    return BENCH_COLLECTIONS


def run(args) -> dict:
    started = time.monotonic()
    results = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
               "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "machine": machine()}
    groups = args.only.split(",") if args.only else list(GROUPS)
    rounds = {g: args.rounds or DEFAULT_ROUNDS[g] for g in GROUPS}
    os.makedirs(os.path.join(REPO, "build", "bench"), exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kubeboot-bench-") as work:
        if "inprocess" in groups:
            log("in-process: local init vs bare key generation")
            results["inprocess"] = [inprocess.measure(a, rounds["inprocess"], work, log=log) for a in ALGORITHMS]
        paths = [os.path.join(REPO, "build", "collections")]
        if "alternatives" in groups:
            paths.append(community_crypto())
        if {"alternatives", "noop", "joins"} & set(groups):
            ansible = wholeprocess.Ansible(work, paths)
        if "alternatives" in groups:
            log("whole process: kubeadm_init vs community.crypto vs openssl")
            results["alternatives"] = wholeprocess.measure_alternatives(ansible, rounds["alternatives"], "openssl",
                                                                         log=log)
        if "noop" in groups:
            log("whole process: no-op rerun and --check vs ping")
            results["noop"] = wholeprocess.measure_noop(ansible, rounds["noop"], log=log)
        if "joins" in groups:
            log(f"joins: {JOIN_COUNTS} workers x forks {JOIN_FORKS}")
            results["joins"] = joins.measure(ansible, JOIN_COUNTS, JOIN_FORKS, rounds["joins"], log=log)
    if "lab" in groups:
        log("lab: make lab cold, warm and rerun (podman nodes)")
        results["lab"] = lab.measure(REPO, os.path.join(REPO, "build", "bench"), image_build=args.lab_image_build,
                                     keep=args.keep_lab, log=log)
    results["machine"]["load_after"] = "%.2f %.2f %.2f" % os.getloadavg()
    results["duration_s"] = time.monotonic() - started
    results["goals"] = report.goals(results)
    return results


def write(results: dict, out_dir: str, with_docs: bool) -> None:
    os.makedirs(out_dir, exist_ok=True)
    base = os.path.join(out_dir, results["date"] + ("" if with_docs else "-partial"))
    with open(base + ".json", "w") as handle:
        json.dump(results, handle, indent=1, sort_keys=True)
    with open(base + ".md", "w") as handle:
        handle.write(report.results_markdown(results))
    if with_docs:
        plot = None
        if results.get("joins"):
            plot = os.path.join(REPO, "docs", "performance-joins.png")
            report.plot_joins(results, plot)
        with open(os.path.join(REPO, "docs", "performance.md"), "w") as handle:
            handle.write(docs.performance_md(results, os.path.relpath(base + ".json", REPO), plot is not None))
    log(f"wrote {base}.json, {base}.md" + (", docs/performance.md" if with_docs else ""))


def log(message: str) -> None:
    print(message, flush=True)


def main(argv) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="comma-separated groups: " + ", ".join(GROUPS))
    parser.add_argument("--rounds", type=int, help="paired rounds for every group (fewer than 5: a trial run, "
                        "written to build/bench only)")
    parser.add_argument("--lab-image-build", action="store_true", help="lab: also a cold converge with the node "
                        "image built from nothing (debootstrap, under its own tag; a few minutes more)")
    parser.add_argument("--keep-lab", action="store_true", help="lab: leave the bench's lab running at the end")
    parser.add_argument("--render", metavar="RESULTS_JSON", help="rebuild the Markdown, docs and plot only")
    parser.add_argument("--out", default=os.path.join(REPO, "bench", "results"))
    args = parser.parse_args(argv)
    if args.render:
        with open(args.render) as handle:
            results = json.load(handle)
    else:
        results = run(args)
    print()
    print(report.tables(results))
    partial = not args.render and (bool(args.only) or (args.rounds or 5) < 5)
    write(results, os.path.join(REPO, "build", "bench") if partial else args.out, with_docs=not partial)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
