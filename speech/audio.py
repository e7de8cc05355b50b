"""Telephone audio: Twilio's 8 kHz mu-law to the 16-bit linear PCM recognizers want, and back.

``audioop`` left the standard library in Python 3.13; there the ``audioop-lts`` package provides the same module.
Resampling keeps its filter state per stream (``Resampler``), so a stream cut into 20 ms chunks converts exactly
as the whole would.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

if sys.version_info >= (3, 13):  # pragma: no cover - exercised on 3.13+ with audioop-lts installed
    import audioop  # provided by audioop-lts
else:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop

TWILIO_RATE = 8000
SAMPLE_WIDTH = 2  # bytes per 16-bit linear sample


def ulaw_to_pcm(payload: bytes) -> bytes:
    """mu-law bytes (one per sample) to 16-bit little-endian linear PCM."""
    return audioop.ulaw2lin(payload, SAMPLE_WIDTH)


def pcm_to_ulaw(pcm: bytes) -> bytes:
    """16-bit linear PCM to mu-law, as Twilio expects for audio sent back into a stream."""
    return audioop.lin2ulaw(pcm, SAMPLE_WIDTH)


@dataclass
class Resampler:
    """Converts a mono 16-bit PCM stream from ``source`` Hz to ``target`` Hz, chunk by chunk."""

    source: int
    target: int
    _state: Any = field(default=None, repr=False)

    def convert(self, pcm: bytes) -> bytes:
        if self.source == self.target or not pcm:
            return pcm
        converted, self._state = audioop.ratecv(pcm, SAMPLE_WIDTH, 1, self.source, self.target, self._state)
        return converted


def rms(pcm: bytes) -> int:
    """Loudness of a PCM chunk (root mean square), for telling speech from silence."""
    return audioop.rms(pcm, SAMPLE_WIDTH) if pcm else 0


def duration_ms(pcm: bytes, rate: int) -> float:
    return 1000.0 * len(pcm) / (SAMPLE_WIDTH * rate)
