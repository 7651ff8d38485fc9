"""The hardening suite (issue 12): every test module is a category (`pytestmark =
pytest.mark.hardening("<category>")`); the terminal summary counts cases and passes per category
and writes them to build/hardening-counts.json for the report."""
from __future__ import annotations

import json
import os

import pytest

from tests.conftest import REPO

_COUNTS: dict = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    marker = item.get_closest_marker("hardening")
    if marker is None:
        return
    category = marker.args[0]
    counts = _COUNTS.setdefault(category, {"cases": 0, "passed": 0, "failed": 0, "skipped": 0})
    if report.when == "setup" and report.outcome != "passed":
        counts["cases"] += 1
        counts["skipped" if report.skipped else "failed"] += 1
    elif report.when == "call":
        counts["cases"] += 1
        counts[report.outcome] += 1


def pytest_terminal_summary(terminalreporter):
    if not _COUNTS:
        return
    terminalreporter.section("hardening suite (issue 12): cases per category")
    for category in sorted(_COUNTS):
        c = _COUNTS[category]
        terminalreporter.write_line(f"{category:<16} cases {c['cases']:>4}  passed {c['passed']:>4}  "
                                    f"failed {c['failed']:>3}  skipped {c['skipped']:>3}")
    os.makedirs(os.path.join(REPO, "build"), exist_ok=True)
    with open(os.path.join(REPO, "build", "hardening-counts.json"), "w", encoding="utf-8") as handle:
        json.dump(_COUNTS, handle, indent=1, sort_keys=True)
