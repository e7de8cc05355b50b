"""What the engine asks the telephony edge to do (output of :func:`ivr.engine.step.step`).

These are plain data; :mod:`ivr.telephony.twiml` turns them into TwiML with twilio's ``VoiceResponse`` and the
simulator reads that TwiML back. The engine never builds XML and never performs I/O: a :class:`Lookup` is an
*effect* the caller of ``step`` performs before feeding the outcome back as a
:class:`~ivr.engine.events.LookupDone` event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Mapping, Union

from ivr.flowlang.model import Tts  # a flow's ``tts:`` setting, carried on each Say


@dataclass(frozen=True)
class Say:
    """Speak ``text`` with text-to-speech; ``tts`` says whose (a local prompt not rendered yet is still said
    by Twilio)."""

    text: str
    voice: str | None = None
    language: str | None = None
    tts: Tts = Tts.TWILIO


@dataclass(frozen=True)
class Play:
    """Play an audio file by URL."""

    url: str


@dataclass(frozen=True)
class Pause:
    """Silence for ``seconds``."""

    seconds: int = 1


Prompt = Union[Say, Play, Pause]


@dataclass(frozen=True)
class Listen:
    """How to listen for speech at a prompt (carried by :class:`Gather`; ``None`` there means keys only).

    ``phrases`` are what the node expects (the recognizer's grammar when ``grammar`` is true; with ``grammar``
    false the model hears free speech, for intents and entities). Times are in milliseconds: how long to wait for
    speech to start, the silence that ends an utterance, and the longest utterance listened to.
    """

    phrases: tuple[str, ...] = ()
    grammar: bool = True
    no_input_ms: int = 5000
    end_silence_ms: int = 300
    max_utterance_ms: int = 10000


@dataclass(frozen=True)
class Gather:
    """Play ``prompts`` while collecting keys and, when ``listen`` is set, speech.

    ``timeout`` is Twilio's: seconds to wait for the first key and between keys. ``finish_on_key`` is ``""`` when
    no key ends input. ``hints`` are the phrases the current node accepts. The HTTP edge renders a Gather with
    ``listen`` as a two-way media stream (``<Connect><Stream>``) when a speech model serves ``language``, and as a
    keys-only ``<Gather>`` otherwise: a flow whose language has no model still works by keys.
    """

    prompts: tuple[Prompt, ...]
    num_digits: int | None = None
    finish_on_key: str = "#"
    timeout: int = 5
    hints: tuple[str, ...] = ()
    language: str | None = None
    listen: Listen | None = None


class DialKind(str, Enum):
    NUMBER = "number"
    SIP = "sip"
    CLIENT = "client"


@dataclass(frozen=True)
class Dial:
    """Transfer the caller to a phone number, SIP address or Twilio Client identity."""

    target: str
    kind: DialKind = DialKind.NUMBER
    caller_id: str | None = None
    timeout: int = 30


@dataclass(frozen=True)
class RoutingRequest:
    """What a queued call needs from an agent; stored on the session for the routing layer."""

    queue: str
    skills: dict[str, int] = field(default_factory=dict)
    priority: int = 0
    language: str | None = None
    timeout: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"queue": self.queue, "skills": dict(self.skills), "priority": self.priority,
                "language": self.language, "timeout": self.timeout}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "RoutingRequest":
        return cls(queue=data.get("queue", ""), skills=dict(data.get("skills") or {}),
                   priority=int(data.get("priority") or 0), language=data.get("language"),
                   timeout=data.get("timeout"))


@dataclass(frozen=True)
class Enqueue:
    """Put the caller in an agent queue."""

    request: RoutingRequest


@dataclass(frozen=True)
class Record:
    """Record a voicemail."""

    max_length: int = 120
    finish_on_key: str = "#"
    timeout: int = 5
    play_beep: bool = True


@dataclass(frozen=True)
class Hangup:
    """End the call."""


@dataclass(frozen=True)
class Lookup:
    """Effect: perform an HTTP request against the business's API and feed back a ``LookupDone`` event."""

    method: str
    url: str
    params: dict[str, str] = field(default_factory=dict)
    json: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    timeout: float = 3.0


Instruction = Union[Say, Play, Pause, Gather, Dial, Enqueue, Record, Hangup, Lookup]

#: Instructions after which the engine waits for an event from the telephony edge.
WAITING = (Gather, Dial, Enqueue, Record, Hangup, Lookup)
