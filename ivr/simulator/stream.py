"""The simulator's side of a two-way media stream: it connects as Twilio does, sends the caller's audio (speech
synthesized with espeak-ng or read from a WAV file) in 20 ms ``media`` frames, presses keys as ``dtmf`` events,
plays what the server sends, and follows ``clear`` and ``mark`` — until the server closes the socket."""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from simple_websocket import Client, ConnectionClosed

from speech.synth import silence, synthesize, wav_to_ulaw

FRAME = 160  # 20 ms of 8 kHz mu-law, as Twilio sends it
LEAD_IN_MS = 200
#: Silence sent at full speed after a fast (pace 0) answer; the rest of the wait goes at the telephone's pace.
FAST_TAIL_MS = 1000
#: How long the simulated caller keeps the line open after their answer, waiting for the server to end the stream.
MAX_AFTER_MS = 30000


class _Client(Client):
    """simple-websocket's client sends ``Host`` without the port; Twilio (and signature checks) use the full
    host, so send ``host:port`` as any browser would."""

    def __init__(self, url: str, **kwargs: Any):
        self._netloc = urlsplit(url).netloc
        super().__init__(url, **kwargs)

    def handshake(self) -> None:
        self.host = self._netloc
        super().handshake()


@dataclass(frozen=True)
class Answer:
    """What the caller does at a speech prompt: say ``text``, play a WAV file, press ``keys``, or nothing."""

    text: str = ""
    wav: str = ""
    keys: str = ""
    voice: str | None = None

    @classmethod
    def parse(cls, value: str | None) -> "Answer":
        """``say:words`` (or ``say[voice]:words``), ``wav:path``, keys such as ``1`` or ``1234#``, or None."""
        if not value:
            return cls()
        if value.startswith("say"):
            head, _, text = value.partition(":")
            voice = head[4:-1] if head.startswith("say[") and head.endswith("]") else None
            return cls(text=text.strip(), voice=voice)
        if value.startswith("wav:"):
            return cls(wav=value[4:].strip())
        return cls(keys=value)

    @property
    def spoken(self) -> bool:
        return bool(self.text or self.wav)

    def audio(self) -> bytes:
        if self.text:
            return synthesize(self.text, self.voice)
        if self.wav:
            return wav_to_ulaw(self.wav)
        return b""


@dataclass
class StreamReport:
    """What happened on the stream: prompt audio received, barge-in, marks, who closed it."""

    stream_sid: str
    played_ms: int = 0
    cleared: bool = False
    marks: list[str] = field(default_factory=list)
    sent_ms: int = 0
    closed_by_server: bool = False


def run_stream(url: str, headers: dict[str, str], call_sid: str, account_sid: str, parameters: dict[str, str],
               answer: Answer, pace: float = 0.0) -> StreamReport:
    """Play Twilio's part of one ``<Connect><Stream>``. ``pace`` 1.0 sends audio in real time, 0 as fast as the
    server takes it."""
    report = StreamReport("MZ" + secrets.token_hex(16))
    ws = _Client.connect(url, headers=headers)
    try:
        ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        ws.send(json.dumps({"event": "start", "sequenceNumber": "1", "streamSid": report.stream_sid, "start": {
            "streamSid": report.stream_sid, "accountSid": account_sid, "callSid": call_sid,
            "tracks": ["inbound"], "customParameters": parameters,
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}}))
        audio = silence(LEAD_IN_MS) + answer.audio()
        keys = answer.keys
        sequence = 2
        started = time.monotonic()
        total = len(audio) + MAX_AFTER_MS * 8
        offset = 0
        while offset < total:
            frame = audio[offset:offset + FRAME] if offset < len(audio) else b""
            frame = frame.ljust(FRAME, b"\xff")  # 0xff is mu-law silence
            ws.send(json.dumps({"event": "media", "sequenceNumber": str(sequence), "streamSid": report.stream_sid,
                                "media": {"track": "inbound", "chunk": str(sequence - 1),
                                          "timestamp": str(offset // 8),
                                          "payload": base64.b64encode(frame).decode("ascii")}}))
            sequence += 1
            offset += FRAME
            report.sent_ms = offset // 8
            if keys and offset >= len(audio):
                for key in keys:
                    ws.send(json.dumps({"event": "dtmf", "streamSid": report.stream_sid, "sequenceNumber":
                                        str(sequence), "dtmf": {"track": "inbound_track", "digit": key}}))
                    sequence += 1
                keys = ""
            _drain(ws, report)
            if pace > 0:
                ahead = offset / 8000 / pace - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
            elif offset >= len(audio) + FAST_TAIL_MS * 8:
                # The answer went out as fast as possible; a line then stays open in real time, as Twilio's
                # does, so the server ends the stream when it is done rather than after all our silence.
                time.sleep(FRAME / 8000)
        ws.send(json.dumps({"event": "stop", "streamSid": report.stream_sid, "sequenceNumber": str(sequence),
                            "stop": {"accountSid": account_sid, "callSid": call_sid}}))
    except (ConnectionClosed, OSError):  # OSError: the socket closed under a send (simple-websocket's reader)
        report.closed_by_server = True
        try:  # what the server sent just before closing (a clear, the last audio) is still buffered
            _drain(ws, report)
        except (ConnectionClosed, OSError):
            pass
    finally:
        if ws.connected:
            ws.close()
    return report


def _drain(ws: _Client, report: StreamReport) -> None:
    """Messages from the server so far: prompt audio, marks (echoed as if played at once), clear."""
    while True:
        message: Any = ws.receive(timeout=0)
        if message is None:
            return
        try:
            data = json.loads(message)
        except ValueError:
            continue
        event = data.get("event")
        if event == "media":
            report.played_ms += len(base64.b64decode(data.get("media", {}).get("payload", ""))) // 8
        elif event == "mark":
            name = str(data.get("mark", {}).get("name", ""))
            report.marks.append(name)
            try:
                ws.send(json.dumps({"event": "mark", "streamSid": report.stream_sid, "mark": {"name": name}}))
            except (ConnectionClosed, OSError):  # closed meanwhile: read on, a clear may follow
                pass
        elif event == "clear":
            report.cleared = True
