"""Whole recordings to text (voicemail): Vosk's full vocabulary, no grammar, over PCM of any rate."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from speech.audio import SAMPLE_WIDTH, Resampler, duration_ms
from speech.recognizer import RECOGNIZER_RATE

#: Audio fed to Vosk at a time (one second at the recognizer's rate).
CHUNK_BYTES = RECOGNIZER_RATE * SAMPLE_WIDTH


@dataclass(frozen=True)
class Transcript:
    """What was said: the text, the mean word confidence (None without words) and the audio's length."""

    text: str
    confidence: float | None
    audio_ms: int


def transcribe(model: Any, pcm: bytes, rate: int) -> Transcript:
    """Transcribe mono 16-bit PCM at ``rate`` Hz with ``model`` (a ``vosk.Model``) and its whole vocabulary.

    Telephone audio (8 kHz) is upsampled first: the small models are trained on 16 kHz and lose most words at
    8 kHz (see :mod:`speech.recognizer`)."""
    import vosk
    recognizer = vosk.KaldiRecognizer(model, RECOGNIZER_RATE)
    recognizer.SetWords(True)
    audio = Resampler(rate, RECOGNIZER_RATE).convert(pcm)
    segments: list[dict[str, Any]] = []
    for start in range(0, len(audio), CHUNK_BYTES):
        if recognizer.AcceptWaveform(audio[start:start + CHUNK_BYTES]):
            segments.append(json.loads(recognizer.Result()))
    segments.append(json.loads(recognizer.FinalResult()))
    text = " ".join(s["text"] for s in segments if s.get("text"))
    confs = [float(w.get("conf", 0.0)) for s in segments for w in s.get("result") or []]
    confidence = round(sum(confs) / len(confs), 3) if confs else None
    return Transcript(text, confidence, int(duration_ms(pcm, rate)))
