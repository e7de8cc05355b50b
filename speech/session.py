"""One speech prompt over a Twilio two-way media stream: play the prompt, listen, answer once, close.

The HTTP edge accepts the WebSocket and hands it here with two callbacks: ``resolve`` turns the stream's
``start`` message into the :class:`Turn` it belongs to (checking the call's identity against the server's own
records; ``None`` refuses the stream) and ``finished`` stores the :class:`~speech.recognizer.Result`. Closing the
socket is what makes Twilio request the ``<Connect action>`` URL, where the flow goes on.

Keys pressed on the stream (``dtmf``) end recognition at once, so every speech prompt also takes keys; a prompt
played into the stream is cut (``clear``) when the caller starts speaking (barge-in).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from speech.errors import ProtocolError
from speech.mediastream import Dtmf, Media, Start, Stop, clear_message, mark_message, media_message, parse
from speech.recognizer import Outcome, Result, SpeechStarted, StreamRecognizer

log = logging.getLogger(__name__)

#: Audio sent to Twilio per ``media`` message when playing a prompt (100 ms of 8 kHz mu-law).
PLAYBACK_CHUNK = 800
PROMPT_MARK = "prompt-end"


@dataclass(frozen=True)
class Turn:
    """What one speech prompt listens for. Times in milliseconds; ``prompt_audio`` is 8 kHz mu-law played into
    the stream before listening ends (the caller may interrupt it)."""

    language: str
    phrases: tuple[str, ...] = ()
    grammar: bool = True
    no_input_ms: int = 5000
    end_silence_ms: int = 300
    max_utterance_ms: int = 10000
    max_digits: int | None = 1
    finish_key: str = ""
    digit_timeout_ms: int = 5000
    prompt_audio: bytes = b""

    @property
    def prompt_ms(self) -> int:
        return len(self.prompt_audio) // 8


class WebSocket(Protocol):
    """What :class:`StreamSession` needs from a server-side WebSocket (simple-websocket's ``Server`` fits)."""

    def receive(self, timeout: float | None = None) -> Any: ...

    def send(self, data: str) -> None: ...

    def close(self, reason: int | None = None, message: str | None = None) -> None: ...


class StreamSession:
    """Runs one stream to its :class:`Result`. ``model_for(language)`` gives the shared Vosk model."""

    def __init__(self, ws: WebSocket, resolve: Callable[[Start], Turn | None],
                 finished: Callable[[Start, Turn, Result], None], model_for: Callable[[str], Any],
                 start_timeout: float = 10.0, idle_timeout: float = 5.0):
        self.ws = ws
        self.resolve = resolve
        self.finished = finished
        self.model_for = model_for
        self.start_timeout = start_timeout
        self.idle_timeout = idle_timeout
        self.events: list[str] = []  # what happened, for the log and the tests

    def run(self) -> Result | None:
        """Serve the stream; returns the result (None when the stream was refused or never started)."""
        start = self._wait_for_start()
        if start is None:
            return None
        turn = self.resolve(start)
        if turn is None:
            self.events.append("refused")
            self.ws.close()
            return None
        listener = _Listener(turn, StreamRecognizer(
            self.model_for(turn.language), turn.phrases if turn.grammar else (),
            no_input_ms=turn.no_input_ms + turn.prompt_ms, max_utterance_ms=turn.max_utterance_ms,
            end_silence_ms=turn.end_silence_ms))
        playing = self._play(start.stream_sid, turn.prompt_audio)
        deadline = time.monotonic() + (turn.prompt_ms + turn.no_input_ms + turn.max_utterance_ms
                                       + turn.digit_timeout_ms) / 1000 + self.idle_timeout
        result: Result | None = None
        while result is None:
            if time.monotonic() > deadline:
                result = listener.end()
                break
            message = self.ws.receive(timeout=self.idle_timeout)
            if message is None:  # Twilio sends audio every 20 ms: silence on the socket means it is gone
                result = listener.end()
                break
            try:
                event = parse(message)
            except ProtocolError as e:
                log.warning("stream %s: %s", start.stream_sid, e)
                continue
            if isinstance(event, Media) and event.track in ("inbound", "inbound_track"):
                heard = listener.feed(event.payload)
                if playing and any(isinstance(h, SpeechStarted) for h in heard):
                    self.ws.send(clear_message(start.stream_sid))  # barge-in: stop the prompt
                    self.events.append("barge-in")
                    playing = False
                result = next((h for h in heard if isinstance(h, Result)), None)
            elif isinstance(event, Dtmf):
                if playing:
                    self.ws.send(clear_message(start.stream_sid))
                    playing = False
                result = listener.key(event.digit)
            elif isinstance(event, Stop):
                result = listener.end()
        self.events.append(result.outcome.value)
        self.finished(start, turn, result)
        self.ws.close()
        return result

    def _wait_for_start(self) -> Start | None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            message = self.ws.receive(timeout=max(0.01, deadline - time.monotonic()))
            if message is None:
                break
            try:
                event = parse(message)
            except ProtocolError as e:
                log.warning("stream before start: %s", e)
                continue
            if isinstance(event, Start):
                return event
            if isinstance(event, Stop):
                break
        self.events.append("no-start")
        self.ws.close()
        return None

    def _play(self, stream_sid: str, audio: bytes) -> bool:
        if not audio:
            return False
        for i in range(0, len(audio), PLAYBACK_CHUNK):
            self.ws.send(media_message(stream_sid, audio[i:i + PLAYBACK_CHUNK]))
        self.ws.send(mark_message(stream_sid, PROMPT_MARK))
        self.events.append("played")
        return True


class _Listener:
    """Speech through the recognizer, keys collected as a ``<Gather>`` would (count, finish key, timeout)."""

    def __init__(self, turn: Turn, recognizer: StreamRecognizer):
        self.turn = turn
        self.recognizer = recognizer
        self.digits = ""
        self.since_key_ms = 0

    def feed(self, ulaw: bytes) -> list[Any]:
        if self.digits:
            self.since_key_ms += len(ulaw) // 8
            if self.since_key_ms >= self.turn.digit_timeout_ms:
                return [self._keys()]
            return []
        return self.recognizer.feed(ulaw)

    def key(self, digit: str) -> Result | None:
        if self.turn.finish_key and digit == self.turn.finish_key:
            return self._keys()
        self.digits += digit
        self.since_key_ms = 0
        if self.turn.max_digits and len(self.digits) >= self.turn.max_digits:
            return self._keys()
        return None

    def end(self) -> Result:
        return self._keys() if self.digits else self.recognizer.end()

    def _keys(self) -> Result:
        return Result(Outcome.DTMF, digits=self.digits, audio_ms=int(self.recognizer.heard_ms))
