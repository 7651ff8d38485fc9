# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Phase wait-control-plane: the API server answers its health check (kubeadm
phases/waitcontrolplane). In check mode one quick probe says whether it already runs."""
from __future__ import annotations

import time

from ansible_collections.kubeboot.cluster.plugins.module_utils import poll


def wait_control_plane(api, timeout: float, interval: float = 1.0, path: str = "/healthz") -> dict:
    """Poll the API server's health endpoint until it answers 'ok' (check mode: one probe)."""
    if api.offline:
        return {"changed": False, "healthy": False, "skipped": "check mode: no API server answered"}
    client = api.client
    if api.check_mode:
        return {"changed": False, "healthy": client.healthz(path), "probe": "one probe (check mode)"}
    start = time.monotonic()
    poll.wait_for(lambda: client.healthz(path), timeout, interval,
                  what=f"the API server at {client.server} to be healthy")
    return {"changed": False, "healthy": True, "waited_seconds": round(time.monotonic() - start, 1)}
