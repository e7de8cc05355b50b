"""Durations in flows: ``5s``, ``500ms``, ``2m``, ``1h``, or a bare number of seconds."""

from __future__ import annotations

import re
from typing import Any

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(raw: Any) -> float | None:
    """Seconds as a float, or None when ``raw`` is not a duration."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, (int, float)):
        return float(raw) if raw >= 0 else None
    match = _DURATION.match(str(raw))
    if not match:
        return None
    return float(match.group(1)) * _UNITS[match.group(2)]
