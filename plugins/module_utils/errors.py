# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Exceptions: one type a concern, each carrying field + value + what is allowed."""
from __future__ import annotations


class KubebootError(Exception):
    """Base class; str() is the one-line message a module returns."""


ECHO_LIMIT = 120  # characters of a bad value repeated in a message (inputs can be megabytes)


def echo(value) -> str:
    """repr(value) for a message, cut to ECHO_LIMIT characters (saying how long it was)."""
    text = repr(value)
    if len(text) <= ECHO_LIMIT:
        return text
    return f"{text[:ECHO_LIMIT]}... ({len(text)} characters)"


class InvalidValue(KubebootError):
    """Bad user input: names the field, the value (cut to ECHO_LIMIT) and what is allowed."""

    def __init__(self, field: str, value, allowed: str):
        self.field = field
        self.value = value
        self.allowed = allowed
        super().__init__(f"{field}: invalid value {echo(value)}: {allowed}")


class ConfigError(InvalidValue):
    """A kubeadm configuration value is not acceptable."""


class PKIError(KubebootError):
    """A certificate or key cannot be used or created."""


class PreflightError(KubebootError):
    """One or more preflight checks failed (and were not ignored)."""

    def __init__(self, failures):
        self.failures = list(failures)
        lines = "; ".join(f"[{name}] {msg}" for name, msg in self.failures)
        super().__init__(
            f"preflight checks failed: {lines}. Fix them, or skip named checks with "
            f"ignore_preflight_errors (e.g. {self.failures[0][0] if self.failures else 'NumCPU'})")


class FileError(KubebootError):
    """A file cannot be read or written."""


class APIError(KubebootError):
    """The Kubernetes API answered with an error (method, path, status, message)."""

    def __init__(self, method: str, path: str, status: int, message: str, reason: str = ""):
        self.method = method
        self.path = path
        self.status = status
        self.reason = reason
        self.message = message
        super().__init__(f"{method} {path}: HTTP {status}{' ' + reason if reason else ''}: {message}")


class NotFound(APIError):
    pass


class Conflict(APIError):
    pass


class DiscoveryError(KubebootError):
    """Token or file discovery refused the cluster (says which check failed)."""


class TimeoutError_(KubebootError):
    """A bounded wait ran out."""


HIDDEN = "<hidden>"


def yaml_problem(exc) -> str:
    """A YAML parse error as 'line L, column C: problem', without the source snippet PyYAML
    appends to str(exc) (the offending line may hold a token or private key material)."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    problem = getattr(exc, "problem", None) or getattr(exc, "context", None) or type(exc).__name__
    return f"{where}{problem}"
