"""Shared pytest fixtures (tools, temp rootfs). Each helper module adds its own fixtures here."""
from __future__ import annotations

import os
import shutil

import pytest


def require_tool(name: str) -> str:
    """Path of an external verifier; a missing one fails loudly (CI installs them)."""
    path = shutil.which(name)
    if not path:
        pytest.fail(f"required test tool {name!r} is not installed (see .ci/run)")
    return path


@pytest.fixture
def rootfs(tmp_path):
    root = tmp_path / "rootfs"
    root.mkdir()
    return str(root)


@pytest.fixture(scope="session")
def openssl():
    return require_tool("openssl")


@pytest.fixture(scope="session")
def kubectl():
    return require_tool("kubectl")


@pytest.fixture
def kubectl_env(tmp_path):
    env = dict(os.environ)
    env["KUBECACHEDIR"] = str(tmp_path / "kubecache")
    env["HOME"] = str(tmp_path / "home")
    return env
