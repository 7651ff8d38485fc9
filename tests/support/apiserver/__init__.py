"""Kubernetes API test double (test and lab only; never imported by plugins).

Start it in-process with `ApiDouble(cert_dir, port=0).start()` (or the `api_double` fixture), or
as `python -m tests.support.apiserver --cert-dir DIR --bind 127.0.0.1:PORT`. See README.md.
"""
from .api import APIServer, StatusError
from .auth import Attributes, UserInfo
from .controllers import ControllerManager, run_once
from .jws import compute_detached, verify_detached
from .server import ApiDouble, build_store
from .store import EtcdStore, MemoryStore

__all__ = ["APIServer", "ApiDouble", "Attributes", "ControllerManager", "EtcdStore", "MemoryStore",
           "StatusError", "UserInfo", "build_store", "compute_detached", "run_once", "verify_detached"]
