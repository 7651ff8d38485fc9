"""versioncmd.py: `kubeadm version -o json|yaml|short` of the kubeadm this collection stands in for."""
from __future__ import annotations

import json
import os
import re

import yaml

from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import versioncmd, versions

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))


def test_json_is_kubeadms_shape_and_form():
    result = versioncmd.run_version({"output": "json"})
    info = result["version"]["clientVersion"]
    assert list(info) == ["major", "minor", "gitVersion", "gitCommit", "gitTreeState", "buildDate", "goVersion",
                          "compiler", "platform"]
    assert info["gitVersion"] == versions.MINORS[-1].newest_patch
    assert (info["major"], info["minor"]) == ("1", str(versions.MINORS[-1].minor))
    assert re.match(r"^[a-z]+/[a-z0-9]+$", info["platform"])
    assert result["output"].startswith('{\n  "clientVersion": {\n    "major": "1",\n')
    assert json.loads(result["output"]) == result["version"] and result["changed"] is False


def test_short_and_yaml():
    assert versioncmd.run_version({"output": "short"})["output"] == versions.MINORS[-1].newest_patch + "\n"
    text = versioncmd.run_version({"output": "yaml"})["output"]
    assert text.startswith("clientVersion:\n  buildDate: \"\"\n") and text.endswith("\n\n")
    assert yaml.safe_load(text)["clientVersion"]["compiler"] == "python"


def test_supported_versions_are_the_version_table():
    result = versioncmd.run_version({})
    assert result["supported_versions"] == [row.newest_patch for row in versions.MINORS]
    assert result["supported_minors"][0] == f"1.{C.MIN_SUPPORTED_MINOR}"
    assert result["supported_minors"][-1] == f"1.{C.MAX_SUPPORTED_MINOR}"
    newest = versions.MINORS[-1].newest_patch
    assert result["components"][newest]["etcd"] == versions.etcd_version(newest)


def test_collection_version_is_galaxys():
    galaxy = yaml.safe_load(open(os.path.join(REPO, "galaxy.yml"), encoding="utf-8"))
    assert versioncmd.run_version({})["collection_version"] == galaxy["version"] == C.COLLECTION_VERSION
