"""Paired measurement: every contender of a group runs once per round, in turn (A B A B ...), so
drift of a shared machine hits all of them alike; ratios are taken pair by pair (same round)."""
from __future__ import annotations

import os
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from typing import Callable


@dataclass
class Sample:
    wall: float
    cpu: float = 0.0   # user + system of the process and its children (whole-process runs only)


@dataclass
class Contender:
    """`prepare(round)` does the untimed set-up and returns the thunk to time (returning a Sample);
    `check(round)` (optional, untimed) verifies what the run did."""
    name: str
    prepare: Callable[[int], Callable[[], Sample]]
    check: Callable[[int], None] = None


@dataclass
class Series:
    samples: list = field(default_factory=list)

    @property
    def walls(self) -> list:
        return [s.wall for s in self.samples]


def spread(values) -> dict:
    values = list(values)
    return {"min": min(values), "median": statistics.median(values), "max": max(values), "n": len(values),
            "values": values}


def run_paired(contenders, rounds: int, warmup: int = 1, log=print) -> dict:
    """{name: Series}; round -1..-warmup are warm-up rounds (not recorded)."""
    series = {c.name: Series() for c in contenders}
    for number in range(-warmup, rounds):
        for contender in contenders:
            thunk = contender.prepare(number)
            sample = thunk()
            if contender.check is not None:
                contender.check(number)
            if number >= 0:
                series[contender.name].samples.append(sample)
        if number >= 0:
            log("  round %d/%d: %s" % (number + 1, rounds, "  ".join(
                f"{c.name} {series[c.name].samples[-1].wall:.3f}s" for c in contenders)))
    return series


def ratio(series: dict, a: str, b: str) -> dict:
    """A/B pair by pair (the same round)."""
    return spread(x / y for x, y in zip(series[a].walls, series[b].walls))


def timed_call(function, *args, **kwargs) -> Sample:
    start = time.perf_counter()
    function(*args, **kwargs)
    return Sample(time.perf_counter() - start)


def timed_process(argv, env=None, cwd=None, log_path=None) -> Sample:
    """Wall and CPU (the kernel's rusage of the reaped child tree) of one whole process.
    Output goes to `log_path` (appended); a non-zero exit raises with the log's tail."""
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL
    try:
        start = time.monotonic()
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT)
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
    finally:
        if log_path:
            out.close()
    if proc.returncode != 0:
        tail = ""
        if log_path:
            with open(log_path, "rb") as handle:
                tail = handle.read()[-3000:].decode("utf-8", "replace")
        raise RuntimeError(f"{argv[0]} exited {proc.returncode}: {' '.join(map(str, argv))}\n{tail}")
    return Sample(wall, usage.ru_utime + usage.ru_stime)
