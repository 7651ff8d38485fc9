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


# ---------------------------------------------------------------------------
# Kubernetes API test double (tests/support/apiserver) -- added by the API-double helper.
# ---------------------------------------------------------------------------
@pytest.fixture
def api_double(tmp_path):
    """Factory: `api_double(workdir=None, store=None, kubernetes_version="v1.34.10",
    controllers_interval="0.2s", controllers=True)` -> a started `TestDouble` on a free
    127.0.0.1 port (.url .host .port .ca_pem .ca .cert_dir .store .api .stop()
    .admin_kubeconfig .user_kubeconfig(cn, orgs) .token_kubeconfig(token) .put(obj)
    .run_controllers()). Pass the same `workdir` again to restart with the same PKI.
    Everything started is stopped at teardown."""
    from tests.support.apiserver.testing import start_double

    started = []

    def factory(workdir=None, store=None, **kwargs):
        workdir = str(workdir or tmp_path / f"double{len(started)}")
        os.makedirs(workdir, exist_ok=True)
        double = start_double(workdir, store=store, **kwargs)
        started.append(double)
        return double

    yield factory
    for double in reversed(started):
        try:
            double.stop()
        except Exception:  # noqa: BLE001 - already stopped
            pass


@pytest.fixture
def etcd_server(tmp_path):
    """A real etcd 3.4 (/usr/bin/etcd) on free loopback ports, data dir under tmp_path.
    `.endpoint`, `.store()`, `.stop()`, `.start()` (restart keeps ports and data)."""
    from tests.support.apiserver.testing import EtcdProcess

    path = require_tool("etcd")
    proc = EtcdProcess(str(tmp_path / "etcd-data"), path).start()
    yield proc
    proc.stop()
