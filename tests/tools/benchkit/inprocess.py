"""Full local `kubeadm init` phases in this process vs generating the same keys bare, with
cryptography alone: one after another (the goal's yardstick) and on every core (the floor)."""
from __future__ import annotations

import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from .harness import Contender, ratio, run_paired, spread, timed_call

LOCAL_ONLY = ["wait-control-plane", "upload-config", "upload-certs", "mark-control-plane",
              "bootstrap-token", "kubelet-finalize", "addon", "show-join-command"]


def init_params(rootfs: str, algorithm: str = "RSA-2048") -> dict:
    """kubeadm_init's options for a local-only init into `rootfs` (advertise address on loopback)."""
    return {"rootfs": rootfs, "node_name": "cp1", "apiserver_advertise_address": "127.0.0.1",
            "kubernetes_version": "stable-1.34", "pod_network_cidr": "10.244.0.0/16",
            "encryption_algorithm": algorithm, "skip_phases": LOCAL_ONLY, "ignore_preflight_errors": ["all"]}


def new_key(algorithm: str):
    if algorithm.startswith("RSA-"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(algorithm[4:]))
    return ec.generate_private_key({"ECDSA-P256": ec.SECP256R1(), "ECDSA-P384": ec.SECP384R1()}[algorithm])


def serial_keys(algorithm: str, count: int) -> None:
    for _unused in range(count):
        new_key(algorithm)


def parallel_keys(algorithm: str, count: int) -> None:
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(pool.map(lambda _i: new_key(algorithm), range(count)))


def measure(algorithm: str, rounds: int, workdir: str, log=print) -> dict:
    from ansible_collections.kubeboot.cluster.plugins.module_utils import init

    state = {"keys": 0}

    def prepare_init(number):
        root = tempfile.mkdtemp(prefix=f"init-{number}-", dir=workdir)

        def thunk():
            try:
                return timed_call(_run_init, init, root, algorithm, state)
            finally:
                shutil.rmtree(root, ignore_errors=True)
        return thunk

    def prepare_keys(function):
        return lambda _number: (lambda: timed_call(function, algorithm, state["keys"]))

    contenders = [Contender("init", prepare_init),
                  Contender("serial_keys", prepare_keys(serial_keys)),
                  Contender("parallel_keys", prepare_keys(parallel_keys))]
    series = run_paired(contenders, rounds, warmup=1, log=log)
    return {"algorithm": algorithm, "keys": state["keys"], "rounds": rounds,
            "series": {name: spread(s.walls) for name, s in series.items()},
            "ratios": {"init/serial_keys": ratio(series, "init", "serial_keys"),
                       "init/parallel_keys": ratio(series, "init", "parallel_keys"),
                       "parallel_keys/serial_keys": ratio(series, "parallel_keys", "serial_keys")}}


def _run_init(init, root: str, algorithm: str, state: dict) -> None:
    result = init.run_init(init_params(root, algorithm))
    created = [item for item in result["certificates"] + result["kubeconfigs"] if item["action"] == "created"]
    if not result["changed"] or len(created) != len(result["certificates"]) + len(result["kubeconfigs"]):
        raise RuntimeError(f"init into an empty tree did not create everything: {result['certificates']}")
    state["keys"] = len(created)  # one new key per certificate, kubeconfig and sa
