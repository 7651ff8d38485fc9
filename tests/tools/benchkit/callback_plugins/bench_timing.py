# -*- coding: utf-8 -*-
# Bench-only callback: per host and task, when the controller started the task and when its result
# came back (time.monotonic of the controller), written as JSON to $KUBEBOOT_BENCH_TIMING at the end.
from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: bench_timing
type: aggregate
short_description: per-host task latency for make bench
description: Writes, per host and task, start and end times and the status to $KUBEBOOT_BENCH_TIMING.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timing"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.rows = {}

    def v2_runner_on_start(self, host, task):
        self.rows[(task.get_name(), host.get_name())] = {"start": time.monotonic(), "end": None, "status": None}

    def _end(self, result, status):
        row = self.rows.get((result._task.get_name(), result._host.get_name()))  # pylint: disable=protected-access
        if row is not None:
            row["end"], row["status"] = time.monotonic(), status

    def v2_runner_on_ok(self, result):
        self._end(result, "changed" if result._result.get("changed") else "ok")  # pylint: disable=protected-access

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._end(result, "failed")

    def v2_runner_on_unreachable(self, result):
        self._end(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        rows = [dict(task=task, host=host, **row) for (task, host), row in self.rows.items()]
        with open(os.environ["KUBEBOOT_BENCH_TIMING"], "w", encoding="utf-8") as handle:
            json.dump(rows, handle)
