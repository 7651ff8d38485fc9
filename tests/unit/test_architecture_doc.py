"""docs/dev/architecture.md against the code: every module_utils file is listed and described,
every file it names exists, its phase table is init's, join's and reset's phases, and the tables and
contracts it names (`pki.CERTS`, `apiwriter.ApiWriter.ensure`, ...) exist."""
from __future__ import annotations

import glob
import importlib
import os
import re

import pytest

from ansible_collections.kubeboot.cluster.plugins.module_utils import init, join, reset

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOC = os.path.join(REPO, "docs", "dev", "architecture.md")
UTILS = os.path.join(REPO, "plugins", "module_utils")
PKG = "ansible_collections.kubeboot.cluster.plugins.module_utils"


@pytest.fixture(scope="module")
def doc() -> str:
    with open(DOC, encoding="utf-8") as handle:
        return handle.read()


def _section(doc: str, title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", doc, re.M | re.S)
    assert match, f"architecture.md has no section '## {title}'"
    return match.group(1)


def _table(text: str) -> list:
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and not set(cells[0]) <= set("-: "):
            rows.append(cells)
    return rows[1:]  # without the header


def test_every_module_utils_file_is_listed_and_described(doc):
    rows = {cells[0].strip("`"): cells[1] for cells in _table(_section(doc, "The files"))}
    files = {os.path.basename(p) for p in glob.glob(os.path.join(UTILS, "*.py")) if not p.endswith("__init__.py")}
    assert sorted(files - set(rows)) == [], "module_utils files missing from architecture.md"
    assert sorted(set(rows) - files) == [], "architecture.md lists files that do not exist"
    assert all(len(what) > 20 for what in rows.values()), "every file needs a description"


def test_every_file_named_exists(doc):
    for name in set(re.findall(r"`([\w./-]+\.(?:py|md|yml))`", doc)):
        path = os.path.join(REPO, name) if "/" in name else os.path.join(UTILS, name)
        assert os.path.exists(path), f"architecture.md names {name}, which does not exist"


def test_phase_table_is_the_workflows(doc):
    rows = {cells[0].strip("`"): cells for cells in _table(_section(doc, "Phases"))}
    workflows = {"init": init.PHASES, "join": join.PHASES, "reset": reset.PHASES}
    for name, phases in workflows.items():
        for phase in phases:
            assert phase.name in rows, f"{name} phase {phase.name} missing from the phase table"
            assert name in rows[phase.name][1], f"{phase.name}: the table does not say it is a {name} phase"
    listed = set(rows)
    assert listed == {p.name for phases in workflows.values() for p in phases}
    for phase in init.PHASES:
        assert ("yes" in rows[phase.name][3]) is phase.talks_to_api, f"{phase.name}: the API column is wrong"


def test_named_tables_and_contracts_exist(doc):
    names = set(re.findall(r"`((?:[a-z]\w*|C)\.[A-Za-z_]\w*(?:\.\w+)?)`", doc))
    names = {n for n in names if not re.search(r"\.(py|md|yml|conf|crt|key)$", n)}
    assert len(names) > 30
    for name in sorted(names):
        module, *attrs = name.split(".")
        module = "constants" if module == "C" else module
        if not os.path.exists(os.path.join(UTILS, module + ".py")):
            continue  # e.g. `cfg.feature_enabled`, `ctx.report`: described, not importable
        target = importlib.import_module(f"{PKG}.{module}")
        for attr in attrs:
            assert hasattr(target, attr), f"architecture.md names {name}, which does not exist"
            target = getattr(target, attr)
