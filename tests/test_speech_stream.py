"""Telephone audio conversion and Twilio Media Streams messages, exactly as the contract states them."""

from __future__ import annotations

import base64
import json
import math
import struct

import pytest

from speech.audio import Resampler, duration_ms, pcm_to_ulaw, rms, ulaw_to_pcm
from speech.errors import ProtocolError
from speech.mediastream import (Connected, Dtmf, Mark, Media, Start, Stop, clear_message, mark_message, media_message,
                                parse)


def tone(freq: float, ms: int, rate: int, amplitude: int = 8000) -> bytes:
    samples = int(rate * ms / 1000)
    return struct.pack(f"<{samples}h", *(int(amplitude * math.sin(2 * math.pi * freq * i / rate))
                                         for i in range(samples)))


def test_mulaw_round_trip_keeps_the_signal():
    pcm = tone(440, 100, 8000)
    ulaw = pcm_to_ulaw(pcm)
    assert len(ulaw) == len(pcm) // 2  # one byte per sample on the wire
    back = ulaw_to_pcm(ulaw)
    assert abs(rms(back) - rms(pcm)) / rms(pcm) < 0.02  # mu-law is lossy, but only slightly


def test_resampling_in_chunks_equals_resampling_at_once():
    pcm = tone(300, 400, 8000)
    whole = Resampler(8000, 16000).convert(pcm)
    chunked = Resampler(8000, 16000)
    pieces = b"".join(chunked.convert(pcm[i:i + 320]) for i in range(0, len(pcm), 320))  # 20 ms chunks
    assert pieces == whole and duration_ms(whole, 16000) == pytest.approx(400, abs=1)
    assert Resampler(8000, 8000).convert(pcm) is pcm
    assert rms(b"") == 0 and rms(b"\x00\x00" * 80) == 0


START = {"event": "start", "sequenceNumber": "1", "streamSid": "MZ1",
         "start": {"streamSid": "MZ1", "accountSid": "AC1", "callSid": "CA1", "tracks": ["inbound"],
                   "customParameters": {"call": "CA1", "node": "menu"},
                   "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}}


def test_parse_every_event_from_twilio():
    assert parse(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})) == \
        Connected("Call", "1.0.0")
    assert parse(json.dumps(START)) == Start("MZ1", "CA1", "AC1", ("inbound",), {"call": "CA1", "node": "menu"})
    payload = base64.b64encode(b"\xff\x7f\x00").decode()
    media = {"event": "media", "sequenceNumber": "3", "streamSid": "MZ1",
             "media": {"track": "inbound", "chunk": "2", "timestamp": "40", "payload": payload}}
    assert parse(json.dumps(media)) == Media("MZ1", "inbound", 2, 40, b"\xff\x7f\x00")
    assert parse(json.dumps({"event": "dtmf", "streamSid": "MZ1", "dtmf": {"track": "inbound_track",
                                                                          "digit": "5"}})) == Dtmf("MZ1", "5")
    assert parse(json.dumps({"event": "mark", "streamSid": "MZ1", "mark": {"name": "prompt-1"}})) == \
        Mark("MZ1", "prompt-1")
    assert parse(json.dumps({"event": "stop", "streamSid": "MZ1", "stop": {"accountSid": "AC1",
                                                                          "callSid": "CA1"}})) == Stop("MZ1", "CA1")
    assert parse(json.dumps({"event": "something-new", "streamSid": "MZ1"})) is None


@pytest.mark.parametrize("message", ["not json", "[1, 2]", json.dumps({"event": "start", "start": {}}),
                                     json.dumps({"event": "media", "media": {"payload": "!!not base64!!"}}),
                                     json.dumps({"event": "dtmf"})])
def test_malformed_messages_are_protocol_errors(message):
    with pytest.raises(ProtocolError):
        parse(message)


def test_messages_to_twilio():
    assert json.loads(media_message("MZ1", b"\x01\x02")) == {"event": "media", "streamSid": "MZ1",
                                                             "media": {"payload": "AQI="}}
    assert json.loads(mark_message("MZ1", "prompt-1")) == {"event": "mark", "streamSid": "MZ1",
                                                          "mark": {"name": "prompt-1"}}
    assert json.loads(clear_message("MZ1")) == {"event": "clear", "streamSid": "MZ1"}
