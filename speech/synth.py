"""Speech a simulated caller says: synthesized with espeak-ng, or read from a WAV file, as 8 kHz mu-law."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from speech.audio import TWILIO_RATE, Resampler, decode_wav, pcm_to_ulaw
from speech.errors import SpeechError


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
    """A WAV file (any rate and encoding :func:`speech.audio.decode_wav` reads) as 8 kHz mu-law."""
    try:
        wav = decode_wav(Path(path).read_bytes())
    except OSError as e:
        raise SpeechError(f"cannot read {path}: {e}") from e
    return pcm_to_ulaw(Resampler(wav.rate, TWILIO_RATE).convert(wav.pcm))


def silence(ms: int) -> bytes:
    return pcm_to_ulaw(b"\x00\x00" * (TWILIO_RATE * ms // 1000))

