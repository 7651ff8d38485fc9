"""poll.py: the one wait loop (backoff, deadline, what counts as "not yet")."""
from __future__ import annotations

import pytest

from ansible_collections.kubeboot.cluster.plugins.module_utils import errors, poll


def test_wait_for():
    calls = []

    def pred():
        calls.append(1)
        if len(calls) < 3:
            raise errors.APIError("GET", "/healthz", 500, "nope")
        return "done"
    assert poll.wait_for(pred, 5, 0, sleep=lambda s: None) == "done"
    clock = iter(range(100))
    with pytest.raises(errors.TimeoutError_) as info:
        poll.wait_for(lambda: (_ for _ in ()).throw(errors.APIError("GET", "/x", 500, "boom")),
                      3, 1, what="thing", sleep=lambda s: None, clock=lambda: next(clock))
    assert "thing" in str(info.value) and "boom" in str(info.value)


def test_backoff_caps_and_custom_timeout_error():
    sleeps, clock = [], iter(range(0, 100))
    with pytest.raises(ValueError, match="gave up: not yet 3"):
        poll.wait_for(lambda: (_ for _ in ()).throw(poll.NotYet("not yet 3")), 4, 1, backoff=2, max_interval=3,
                      on_timeout=lambda last: ValueError(f"gave up: {last}"), sleep=sleeps.append,
                      clock=lambda: next(clock))
    assert sleeps == [1, 2, 3]


def test_other_errors_propagate_at_once():
    calls = []

    def boom():
        calls.append(1)
        raise KeyError("no")
    with pytest.raises(KeyError):
        poll.wait_for(boom, 10, 0, sleep=lambda s: None)
    assert calls == [1]
