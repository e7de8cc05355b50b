"""Streaming recognition of one prompt's answer: Twilio's 8 kHz mu-law in, a result out.

One :class:`StreamRecognizer` per stream, over a model shared by the process. In grammar mode it only hears the
phrases the current node expects. It reports when speech starts (for barge-in), partial text, and one final
:class:`Result`: a phrase, nothing recognizable, silence until the no-input timeout, or an utterance cut at the
maximum length. DTMF keys on the stream end it too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from typing import Any, Iterable, Sequence

from speech.audio import TWILIO_RATE, Resampler, duration_ms, rms, ulaw_to_pcm

#: Continuous sound that counts as the caller starting to speak (shorter bursts are clicks and line noise).
SPEECH_ONSET_MS = 60
#: The rate the recognizer runs at: the small models are trained on 16 kHz audio, and feeding them 8 kHz
#: directly loses most words (measured with the Korean model), so telephone audio is upsampled first.
RECOGNIZER_RATE = 16000


class Outcome(str, Enum):
    MATCH = "match"
    NO_MATCH = "no-match"
    NO_INPUT = "no-input"
    DTMF = "dtmf"


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    text: str = ""
    phrase: str | None = None
    confidence: float | None = None
    digits: str = ""
    audio_ms: int = 0


@dataclass(frozen=True)
class SpeechStarted:
    """The caller started speaking (stop playing the prompt: barge-in)."""


@dataclass(frozen=True)
class Partial:
    text: str


#: What models call speech outside their vocabulary: "[unk]" in the official English models, "<UNK>" in Kaldi
#: recipes such as the Korean one.
UNKNOWN_WORDS = ("[unk]", "<UNK>", "<unk>")


def unknown_word(model: Any) -> str | None:
    """The model's word for "none of these", so a grammar can say it instead of forcing a guess."""
    return next((w for w in UNKNOWN_WORDS if model.vosk_model_find_word(w) >= 0), None)


def normalize(text: str) -> str:
    return " ".join(text.lower().split())


class StreamRecognizer:
    """Recognizes one answer. ``phrases`` are what the node expects; ``no_input_ms`` is how long to wait for
    speech to start, ``max_utterance_ms`` the longest answer listened to, and ``end_silence_ms`` of audio quieter
    than ``silence_rms`` after speech ends the utterance (Vosk's own endpointing waits much longer)."""

    def __init__(self, model: Any, phrases: Sequence[str], *, no_input_ms: int = 5000,
                 max_utterance_ms: int = 10000, end_silence_ms: int = 300, silence_rms: int = 200):
        import vosk
        self.phrases = {normalize(p): p for p in phrases if normalize(p)}
        # The unknown word lets the decoder say "none of these": without it every sound is forced onto a phrase.
        unknown = unknown_word(model) if self.phrases else None
        grammar = json.dumps(sorted(self.phrases) + ([unknown] if unknown else []), ensure_ascii=False)
        self._vosk = vosk.KaldiRecognizer(model, RECOGNIZER_RATE, grammar) if self.phrases \
            else vosk.KaldiRecognizer(model, RECOGNIZER_RATE)
        self._vosk.SetWords(True)
        self._resampler = Resampler(TWILIO_RATE, RECOGNIZER_RATE)
        self.no_input_ms = no_input_ms
        self.max_utterance_ms = max_utterance_ms
        self.end_silence_ms = end_silence_ms
        self.silence_rms = silence_rms
        self.silent_ms = 0.0
        self.loud_ms = 0.0
        self.heard_ms = 0.0
        self.speech_started_at: float | None = None
        self.result: Result | None = None

    @property
    def done(self) -> bool:
        return self.result is not None

    def feed(self, ulaw: bytes) -> list[Any]:
        """Audio from the stream; returns what happened: SpeechStarted, Partial, then at most one Result."""
        if self.result is not None:
            return []
        pcm = self._resampler.convert(ulaw_to_pcm(ulaw))
        chunk_ms = duration_ms(pcm, RECOGNIZER_RATE)
        self.heard_ms += chunk_ms
        loud = rms(pcm) >= self.silence_rms
        self.silent_ms = 0.0 if loud else self.silent_ms + chunk_ms
        self.loud_ms = self.loud_ms + chunk_ms if loud else 0.0
        events: list[Any] = []
        if self.speech_started_at is None and self.loud_ms >= SPEECH_ONSET_MS:
            self.speech_started_at = self.heard_ms  # sound before any word: the caller is talking
            events.append(SpeechStarted())
        if self._vosk.AcceptWaveform(pcm):
            final = json.loads(self._vosk.Result())
            if final.get("text"):
                return events + self._finish(final)
        else:
            partial = json.loads(self._vosk.PartialResult()).get("partial", "")
            if partial:
                if self.speech_started_at is None:
                    self.speech_started_at = self.heard_ms
                    events.append(SpeechStarted())
                events.append(Partial(partial))
        if self.speech_started_at is None and self.heard_ms >= self.no_input_ms:
            self.result = Result(Outcome.NO_INPUT, audio_ms=int(self.heard_ms))
            events.append(self.result)
        elif self.speech_started_at is not None and (
                self.silent_ms >= self.end_silence_ms  # the caller stopped: do not wait for Vosk's own endpoint
                or self.heard_ms - self.speech_started_at >= self.max_utterance_ms):
            events.extend(self._finish(json.loads(self._vosk.FinalResult())))
        return events

    def dtmf(self, digit: str) -> Result:
        """A key pressed on the stream ends the recognition: every speech prompt also accepts keys."""
        self.result = Result(Outcome.DTMF, digits=digit, audio_ms=int(self.heard_ms))
        return self.result

    def end(self) -> Result:
        """The stream stopped: whatever was heard so far is the answer."""
        if self.result is None:
            final = json.loads(self._vosk.FinalResult())
            if final.get("text"):
                self._finish(final)
            else:
                self.result = Result(Outcome.NO_INPUT, audio_ms=int(self.heard_ms))
        return self.result

    def _finish(self, final: dict[str, Any]) -> list[Any]:
        text = final.get("text", "")
        words: Iterable[dict[str, Any]] = [w for w in final.get("result") or [] if w.get("word") not in UNKNOWN_WORDS]
        confs = [float(w.get("conf", 0.0)) for w in words]
        confidence = round(sum(confs) / len(confs), 3) if confs else None
        known = " ".join(w for w in text.split() if w not in UNKNOWN_WORDS).lower()
        phrase = self.phrases.get(known) if known else None
        outcome = Outcome.MATCH if phrase is not None else Outcome.NO_MATCH
        self.result = Result(outcome, text, phrase, confidence, audio_ms=int(self.heard_ms))
        return [self.result]
