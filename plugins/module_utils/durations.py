# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Go time.Duration strings ("24h0m0s", "90m", "1.5h", "0") as kubeadm reads and writes them."""
from __future__ import annotations

import math
import re

from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import InvalidValue

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
ALLOWED = "a Go duration such as 24h0m0s, 90m, 1h30m or 0"
# Go's time.Duration is an int64 of nanoseconds: ParseDuration refuses anything longer.
MAX_SECONDS = (2 ** 63 - 1) / 1e9
TOO_LONG = " (at most 2562047h47m16s, the longest Go duration)"


def parse_duration(value, field: str = "duration") -> float:
    """Seconds from a Go duration string; ints/floats are taken as seconds."""
    if isinstance(value, bool):
        raise InvalidValue(field, value, ALLOWED)
    if isinstance(value, (int, float)):
        if math.isnan(value) or value < 0:
            raise InvalidValue(field, value, ALLOWED + " (not negative)")
        if value > MAX_SECONDS:
            raise InvalidValue(field, value, ALLOWED + TOO_LONG)
        return float(value)
    if not isinstance(value, str):
        raise InvalidValue(field, value, ALLOWED)
    text = value.strip()
    if text in ("0", "+0"):
        return 0.0
    sign = 1.0
    if text and text[0] in "+-":
        sign = -1.0 if text[0] == "-" else 1.0
        text = text[1:]
    pos = 0
    total = 0.0
    for match in _PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if not text or pos != len(text):
        raise InvalidValue(field, value, ALLOWED)
    if sign < 0:
        raise InvalidValue(field, value, ALLOWED + " (not negative)")
    if total > MAX_SECONDS:
        raise InvalidValue(field, value, ALLOWED + TOO_LONG)
    return total


def format_duration(seconds: float) -> str:
    """Go's Duration.String() for whole seconds: 86400 -> '24h0m0s', 0 -> '0s'."""
    whole = int(round(seconds))
    if whole == 0:
        return "0s"
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def normalize_duration(value, field: str = "duration") -> str:
    """Canonical Go form of a user duration (validates it)."""
    return format_duration(parse_duration(value, field))


def short_human_duration(seconds: float) -> str:
    """apimachinery ShortHumanDuration, used by `kubeadm token list` TTL."""
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h"
    if s < 86400 * 365:
        return f"{s // 86400}d"
    return f"{s // (86400 * 365)}y"
