"""Speech a simulated caller says: synthesized with espeak-ng, or read from a WAV file, as 8 kHz mu-law."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

from speech.audio import TWILIO_RATE, Resampler, pcm_to_ulaw
from speech.errors import SpeechError

WAVE_FORMAT_MULAW = 7


def voice_for(text: str) -> str:
    """An espeak-ng voice for ``text`` when none is given: Korean for Hangul, else English."""
    return "ko" if any("\uac00" <= ch <= "\ud7a3" for ch in text) else "en-us"


def synthesize(text: str, voice: str | None = None, words_per_minute: int = 150) -> bytes:
    """``text`` spoken by espeak-ng, as Twilio would carry it: 8 kHz mu-law."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise SpeechError("espeak-ng is not installed (apt-get install espeak-ng)")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "speech.wav"
        try:
            subprocess.run([espeak, "-v", voice or voice_for(text), "-s", str(words_per_minute), "-w", str(path),
                            "--", text], check=True, capture_output=True, timeout=30)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
            raise SpeechError(f"espeak-ng could not say {text!r}: {e}") from e
        return wav_to_ulaw(path)


def wav_to_ulaw(path: str | Path) -> bytes:
    """A mono WAV file (16-bit PCM at any rate, or 8 kHz mu-law) as 8 kHz mu-law."""
    try:
        with open(path, "rb") as f:
            header = f.read(64)
        if header[:4] == b"RIFF" and header[20:22] == WAVE_FORMAT_MULAW.to_bytes(2, "little"):
            return _mulaw_wav_frames(Path(path))
        with wave.open(str(path)) as wav:
            if wav.getnchannels() != 1 or wav.getsampwidth() != 2:
                raise SpeechError(f"{path}: mono 16-bit WAV expected")
            pcm, rate = wav.readframes(wav.getnframes()), wav.getframerate()
    except (OSError, wave.Error, EOFError) as e:
        raise SpeechError(f"cannot read {path}: {e}") from e
    return pcm_to_ulaw(Resampler(rate, TWILIO_RATE).convert(pcm))


def _mulaw_wav_frames(path: Path) -> bytes:
    data = path.read_bytes()
    at = 12
    while at + 8 <= len(data):
        chunk, size = data[at:at + 4], int.from_bytes(data[at + 4:at + 8], "little")
        if chunk == b"data":
            return data[at + 8:at + 8 + size]
        at += 8 + size + (size & 1)
    raise SpeechError(f"{path}: no audio data")


def silence(ms: int) -> bytes:
    return pcm_to_ulaw(b"\x00\x00" * (TWILIO_RATE * ms // 1000))

