"""8 kHz mono mu-law WAV files (``WAVE_FORMAT_MULAW``, format tag 7), the kind Twilio's ``<Play>`` takes, and the
16-bit PCM WAV files Twilio's recordings are.

The standard library's ``wave`` writes PCM only, so the header is packed here: RIFF, an 18-byte ``fmt `` chunk,
the ``fact`` chunk non-PCM formats carry (sample count), then ``data``. A prompt is stored as bare mu-law frames and
gets its 58-byte header when served.
"""

from __future__ import annotations

import io
import struct
import wave

from speech.audio import TWILIO_RATE
from speech.errors import WavError

WAVE_FORMAT_MULAW = 7
HEADER_BYTES = 58


def ulaw_wav(frames: bytes, rate: int = TWILIO_RATE) -> bytes:
    """A complete mono mu-law WAV file of ``frames`` (one byte per sample)."""
    size = len(frames)
    fmt = struct.pack("<HHIIHHH", WAVE_FORMAT_MULAW, 1, rate, rate, 1, 8, 0)
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"fact" + struct.pack("<II", 4, size)
            + b"data" + struct.pack("<I", size) + frames + (b"\0" if size % 2 else b""))
    return b"RIFF" + struct.pack("<I", len(body)) + body


def pcm_wav(pcm: bytes, rate: int = TWILIO_RATE) -> bytes:
    """A complete mono 16-bit linear PCM WAV file of ``pcm`` (what Twilio serves for a recording)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)
    return out.getvalue()


def read_ulaw_wav(data: bytes) -> tuple[int, bytes]:
    """``(sample rate, mu-law frames)`` of a mono mu-law WAV file; :class:`WavError` for anything else."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise WavError("not a RIFF/WAVE file")
    pos, fmt, frames = 12, None, None
    while pos + 8 <= len(data):
        chunk, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        body = data[pos + 8:pos + 8 + size]
        if chunk == b"fmt ":
            fmt = struct.unpack("<HHIIHH", body[:16])
        elif chunk == b"data":
            frames = body
        pos += 8 + size + (size % 2)
    if fmt is None or frames is None:
        raise WavError("missing fmt or data chunk")
    tag, channels, rate, byte_rate, align, bits = fmt
    if (tag, channels, align, bits) != (WAVE_FORMAT_MULAW, 1, 1, 8) or byte_rate != rate:
        raise WavError(f"not mono 8-bit mu-law: format {tag}, {channels} channel(s), {bits} bits")
    return rate, frames
