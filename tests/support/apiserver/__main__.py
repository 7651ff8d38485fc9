"""CLI: python -m tests.support.apiserver --cert-dir DIR --bind 127.0.0.1:PORT [...]"""
from __future__ import annotations

import argparse
import logging
import signal
import sys

from .server import ApiDouble, build_store


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.support.apiserver",
                                description="Kubernetes API test double (test and lab use only)")
    p.add_argument("--cert-dir", required=True, help="kubeadm layout: ca.crt, ca.key, apiserver.crt/.key")
    p.add_argument("--bind", default="127.0.0.1:6443", help="HOST:PORT (port 0 = free port)")
    p.add_argument("--etcd-endpoints", default="", help="comma-separated etcd URLs (else in memory)")
    p.add_argument("--etcd-cafile")
    p.add_argument("--etcd-certfile")
    p.add_argument("--etcd-keyfile")
    p.add_argument("--kubernetes-version", default="v1.34.10")
    p.add_argument("--controllers-interval", default="1s")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    host, _, port = args.bind.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    store = build_store(args.etcd_endpoints, args.etcd_cafile, args.etcd_certfile, args.etcd_keyfile)
    double = ApiDouble(args.cert_dir, host, int(port), store, args.kubernetes_version,
                       args.controllers_interval)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"listening on {double.url}", flush=True)
    try:
        double.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
