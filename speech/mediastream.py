"""Twilio Media Streams, both ways: the JSON text frames Twilio sends become typed events; what we send back
(``media``, ``mark``, ``clear``) is built here. Unknown events become ``None`` rather than errors: Twilio may add
events, and a stream must survive them.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any, Union

from speech.errors import ProtocolError


@dataclass(frozen=True)
class Connected:
    protocol: str
    version: str


@dataclass(frozen=True)
class Start:
    stream_sid: str
    call_sid: str
    account_sid: str
    tracks: tuple[str, ...]
    custom_parameters: dict[str, str] = field(default_factory=dict)
    encoding: str = "audio/x-mulaw"
    sample_rate: int = 8000
    channels: int = 1


@dataclass(frozen=True)
class Media:
    """``payload`` is raw mu-law audio (base64-decoded); ``timestamp`` in ms from the start of the stream."""

    stream_sid: str
    track: str
    chunk: int
    timestamp: int
    payload: bytes


@dataclass(frozen=True)
class Dtmf:
    stream_sid: str
    digit: str


@dataclass(frozen=True)
class Mark:
    """Twilio played everything we sent before the mark named ``name``."""

    stream_sid: str
    name: str


@dataclass(frozen=True)
class Stop:
    stream_sid: str
    call_sid: str


StreamEvent = Union[Connected, Start, Media, Dtmf, Mark, Stop]


def parse(message: str | bytes) -> StreamEvent | None:
    """One text frame from Twilio; :class:`ProtocolError` when it is not JSON or a known event is malformed."""
    try:
        data = json.loads(message)
    except (ValueError, UnicodeDecodeError) as e:
        raise ProtocolError(f"not a JSON message: {e}") from e
    if not isinstance(data, dict):
        raise ProtocolError("a message is a JSON object")
    try:
        return _event(data)
    except (KeyError, TypeError, ValueError, binascii.Error) as e:
        raise ProtocolError(f"malformed '{data.get('event')}' message: {e!r}") from e


def _event(data: dict[str, Any]) -> StreamEvent | None:
    event = data.get("event")
    sid = str(data.get("streamSid", ""))
    if event == "connected":
        return Connected(str(data["protocol"]), str(data["version"]))
    if event == "start":
        start = data["start"]
        fmt = start.get("mediaFormat") or {}
        return Start(str(start.get("streamSid") or sid), str(start["callSid"]), str(start.get("accountSid", "")),
                     tuple(start.get("tracks") or ("inbound",)),
                     {str(k): str(v) for k, v in (start.get("customParameters") or {}).items()},
                     str(fmt.get("encoding", "audio/x-mulaw")), int(fmt.get("sampleRate", 8000)),
                     int(fmt.get("channels", 1)))
    if event == "media":
        media = data["media"]
        return Media(sid, str(media.get("track", "inbound")), int(media.get("chunk", 0)),
                     int(media.get("timestamp", 0)), base64.b64decode(media["payload"], validate=True))
    if event == "dtmf":
        return Dtmf(sid, str(data["dtmf"]["digit"]))
    if event == "mark":
        return Mark(sid, str(data["mark"]["name"]))
    if event == "stop":
        return Stop(sid, str((data.get("stop") or {}).get("callSid", "")))
    return None


def media_message(stream_sid: str, ulaw: bytes) -> str:
    """Audio to play to the caller: raw mu-law 8 kHz, base64, no WAV header."""
    return json.dumps({"event": "media", "streamSid": stream_sid,
                       "media": {"payload": base64.b64encode(ulaw).decode("ascii")}})


def mark_message(stream_sid: str, name: str) -> str:
    """Ask Twilio to tell us (with a ``mark`` event) when the audio sent before this has played."""
    return json.dumps({"event": "mark", "streamSid": stream_sid, "mark": {"name": name}})


def clear_message(stream_sid: str) -> str:
    """Drop the audio queued for playback (barge-in: the caller started speaking)."""
    return json.dumps({"event": "clear", "streamSid": stream_sid})
