"""kubelet-start's (re)start of the kubelet: only on the real root, only when needed, never in check mode."""
from __future__ import annotations

import subprocess

import pytest

from ansible_collections.kubeboot.cluster.plugins.module_utils import initsystem


class Systemctl:
    """Records the systemctl calls; answers like systemd for an installed, (in)active kubelet."""

    def __init__(self, installed=True, active=True, fail=None):
        self.calls, self.installed, self.active, self.fail = [], installed, active, fail

    def __call__(self, argv, **_kwargs):
        assert argv[0] == "systemctl"
        self.calls.append(argv[1:])
        if argv[1] == "list-unit-files":
            out = "kubelet.service enabled enabled\n" if self.installed else ""
            return subprocess.CompletedProcess(argv, 0, out, "")
        if argv[1] == "is-active":
            return subprocess.CompletedProcess(argv, 0 if self.active else 3, "", "")
        if argv[1] == self.fail:
            return subprocess.CompletedProcess(argv, 1, "", "Failed to restart kubelet.service: boom")
        return subprocess.CompletedProcess(argv, 0, "", "")


@pytest.fixture
def systemd(monkeypatch):
    monkeypatch.setattr(initsystem, "systemd_available", lambda rootfs: rootfs == "/")


def test_changed_files_daemon_reload_then_restart(systemd):
    run = Systemctl()
    assert initsystem.start_kubelet("/", True, False, run) == {"restarted": True,
                                                                "reason": "the kubelet's files changed"}
    assert run.calls[-2:] == [["daemon-reload"], ["restart", "kubelet.service"]]


def test_rerun_with_a_running_kubelet_restarts_nothing(systemd):
    run = Systemctl(active=True)
    assert initsystem.start_kubelet("/", False, False, run)["restarted"] is False
    assert ["restart", "kubelet.service"] not in run.calls


def test_a_stopped_kubelet_is_started(systemd):
    run = Systemctl(active=False)
    assert initsystem.start_kubelet("/", False, False, run) == {"restarted": True, "reason": "it was not running"}


def test_check_mode_predicts_and_runs_nothing_that_changes(systemd):
    run = Systemctl()
    assert initsystem.start_kubelet("/", True, True, run)["restarted"] is True
    assert all(call[0] in ("list-unit-files", "is-active") for call in run.calls)


def test_rootfs_never_touches_the_running_system(systemd):
    run = Systemctl()
    assert initsystem.start_kubelet("/tmp/node", True, False, run)["restarted"] is False
    assert run.calls == []


def test_missing_unit_and_failures_are_warnings(systemd):
    result = initsystem.start_kubelet("/", True, False, Systemctl(installed=False))
    assert result["restarted"] is False and "kubelet.service is not installed" in result["warning"]
    result = initsystem.start_kubelet("/", True, False, Systemctl(fail="restart"))
    assert result["restarted"] is False and "systemctl restart kubelet.service" in result["warning"]


def test_no_systemd_is_a_warning(monkeypatch):
    monkeypatch.setattr(initsystem, "systemd_available", lambda rootfs: False)
    result = initsystem.start_kubelet("/", True, False, Systemctl())
    assert result["restarted"] is False and "does not run systemd" in result["warning"]


# --- reset's cleanup-node: stop the kubelet -------------------------------------------------------

def test_stop_a_running_kubelet_once(systemd):
    run = Systemctl(active=True)
    assert initsystem.stop_kubelet("/", False, run) == {"stopped": True, "reason": "it was running"}
    assert run.calls[-1] == ["stop", "kubelet.service"]
    run = Systemctl(active=False)
    assert initsystem.stop_kubelet("/", False, run) == {"stopped": False, "reason": "the kubelet is not running"}
    assert ["stop", "kubelet.service"] not in run.calls


def test_stop_in_check_mode_or_under_rootfs_changes_nothing(systemd):
    run = Systemctl(active=True)
    assert initsystem.stop_kubelet("/", True, run)["stopped"] is True
    assert initsystem.stop_kubelet("/tmp/root", False, run)["stopped"] is False
    assert all(call[0] == "is-active" for call in run.calls)


def test_stop_failure_is_a_warning(systemd):
    run = Systemctl(active=True, fail="stop")
    result = initsystem.stop_kubelet("/", False, run)
    assert result["stopped"] is False and "could not be stopped" in result["warning"]
