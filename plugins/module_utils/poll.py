# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one wait loop: call a probe until it gives a value, with backoff and a deadline.

Every bounded wait of the collection (API retries, the API server coming up, discovery,
the CSR being signed, the kubelet writing kubelet.conf, etcd health and promotion) is a
`wait_for` call; what differs is the probe, what counts as "not yet", and the error
raised when time is up.
"""
from __future__ import annotations

import time

from ansible_collections.kubeboot.cluster.plugins.module_utils import errors


class NotYet(Exception):
    """Raised by a probe to say "not yet" with a reason (named when the wait times out)."""


def wait_for(probe, timeout: float, interval: float = 1.0, what: str = "condition", *,
             backoff: float = 1.0, max_interval: float = None, retry_on=(errors.APIError,),
             on_timeout=None, cap_to_deadline: bool = False, sleep=time.sleep, clock=time.monotonic):
    """Call probe() until it returns a truthy value, which is returned.

    A falsy value, `NotYet` or an exception in `retry_on` means "try again" (the last such
    exception is kept); anything else propagates at once. The probe runs at least once, the
    deadline is checked after each attempt. Sleeps start at `interval`, are multiplied by
    `backoff` up to `max_interval`, and with `cap_to_deadline` never overshoot the deadline.
    When time is up: `on_timeout(last_exception)` gives the exception to raise, else
    `errors.TimeoutError_` naming `what` and the last error.
    """
    deadline = clock() + timeout
    last = None
    delay = interval
    while True:
        try:
            value = probe()
            if value:
                return value
        except (NotYet,) + tuple(retry_on) as exc:
            last = exc
        now = clock()
        if now >= deadline:
            if on_timeout is not None:
                raise on_timeout(last)
            detail = f" (last error: {last})" if last is not None else ""
            raise errors.TimeoutError_(f"timed out after {timeout:g}s waiting for {what}{detail}")
        sleep(min(delay, max(0.0, deadline - now)) or delay if cap_to_deadline else delay)
        delay = delay * backoff
        if max_interval is not None:
            delay = min(delay, max_interval)
