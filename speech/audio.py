"""Telephone audio: Twilio's 8 kHz mu-law to the 16-bit linear PCM recognizers want, and back.

``audioop`` left the standard library in Python 3.13; there the ``audioop-lts`` package provides the same module.
Resampling keeps its filter state per stream (``Resampler``), so a stream cut into 20 ms chunks converts exactly
as the whole would.
"""

from __future__ import annotations

import array
import sys
from dataclasses import dataclass, field
from typing import Any

from speech.errors import WavError

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


_WAVE_PCM, _WAVE_ALAW, _WAVE_MULAW, _WAVE_EXTENSIBLE = 1, 6, 7, 0xFFFE


@dataclass(frozen=True)
class Wav:
    """Decoded audio: mono 16-bit little-endian linear PCM at ``rate`` Hz."""

    pcm: bytes
    rate: int


def decode_wav(data: bytes) -> Wav:
    """A WAV file (linear PCM of 8 to 32 bits, mu-law or A-law; any rate; mono or more channels, of which the
    first is kept) as mono 16-bit PCM. Twilio's recordings are 8 kHz 16-bit mono; :class:`WavError` otherwise."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise WavError("not a RIFF/WAVE file")
    fmt: bytes | None = None
    samples: bytes | None = None
    offset = 12
    while offset + 8 <= len(data):
        chunk_id, size = data[offset:offset + 4], int.from_bytes(data[offset + 4:offset + 8], "little")
        body = data[offset + 8:offset + 8 + size]
        if chunk_id == b"fmt ":
            fmt = body
        elif chunk_id == b"data":
            samples = data[offset + 8:] if size in (0, 0xFFFFFFFF) else body  # streamed: size unknown
            if size in (0, 0xFFFFFFFF):
                break
        offset += 8 + size + (size & 1)
    if fmt is None or len(fmt) < 16 or samples is None:
        raise WavError("WAV file without a 'fmt ' or 'data' chunk")
    tag = int.from_bytes(fmt[0:2], "little")
    channels = int.from_bytes(fmt[2:4], "little")
    rate = int.from_bytes(fmt[4:8], "little")
    bits = int.from_bytes(fmt[14:16], "little")
    if tag == _WAVE_EXTENSIBLE and len(fmt) >= 26:
        tag = int.from_bytes(fmt[24:26], "little")
    if channels < 1 or rate <= 0:
        raise WavError(f"WAV file with {channels} channels at {rate} Hz")
    if tag in (_WAVE_MULAW, _WAVE_ALAW):
        width = 1
    elif tag == _WAVE_PCM and bits in (8, 16, 24, 32):
        width = bits // 8
    else:
        raise WavError(f"unsupported WAV encoding (format {tag}, {bits} bits)")
    samples = samples[:len(samples) - len(samples) % (width * channels)]
    if tag == _WAVE_MULAW:
        pcm = audioop.ulaw2lin(samples, SAMPLE_WIDTH)
    elif tag == _WAVE_ALAW:
        pcm = audioop.alaw2lin(samples, SAMPLE_WIDTH)
    elif width == 1:
        pcm = audioop.lin2lin(audioop.bias(samples, 1, -128), 1, SAMPLE_WIDTH)  # 8-bit WAV is unsigned
    else:
        pcm = audioop.lin2lin(samples, width, SAMPLE_WIDTH)
    if channels > 1:
        pcm = array.array("h", pcm)[::channels].tobytes()
    return Wav(pcm, rate)
