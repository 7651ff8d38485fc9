"""Counts of the hardening suite (issue 12): every test module of tests/hardening is a category
(`pytestmark = pytest.mark.hardening("<category>")`); the terminal summary counts cases and passes
per category and writes them to build/hardening-counts.json. The hooks are imported by
tests/conftest.py, so they run in the pytest process that reports: with pytest-xdist (`make test`
runs two workers) each worker tags its reports and the controller counts them."""
from __future__ import annotations

import json
import os

import pytest

CATEGORY = "hardening_category"
_COUNTS: dict = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # pylint: disable=unused-argument
    outcome = yield
    marker = item.get_closest_marker("hardening")
    if marker is not None:
        outcome.get_result().user_properties.append((CATEGORY, marker.args[0]))


def pytest_runtest_logreport(report):
    category = dict(report.user_properties).get(CATEGORY)
    if category is None:
        return
    counts = _COUNTS.setdefault(category, {"cases": 0, "passed": 0, "failed": 0, "skipped": 0})
    if report.when == "setup" and report.outcome != "passed":
        counts["cases"] += 1
        counts["skipped" if report.skipped else "failed"] += 1
    elif report.when == "call":
        counts["cases"] += 1
        counts[report.outcome] += 1


def pytest_terminal_summary(terminalreporter, config):
    if not _COUNTS or hasattr(config, "workerinput"):  # an xdist worker: the controller reports
        return
    terminalreporter.section("hardening suite (issue 12): cases per category")
    for category in sorted(_COUNTS):
        c = _COUNTS[category]
        terminalreporter.write_line(f"{category:<16} cases {c['cases']:>4}  passed {c['passed']:>4}  "
                                    f"failed {c['failed']:>3}  skipped {c['skipped']:>3}")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    os.makedirs(os.path.join(root, "build"), exist_ok=True)
    with open(os.path.join(root, "build", "hardening-counts.json"), "w", encoding="utf-8") as handle:
        json.dump(_COUNTS, handle, indent=1, sort_keys=True)
