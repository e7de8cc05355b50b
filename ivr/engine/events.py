"""What happens to a call (input of :func:`ivr.engine.step.step`). Every event carries ``now`` so the engine stays
pure: time conditions and business hours are decided against the event's clock, never the system's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Union

from ivr.engine import instructions as ins


@dataclass(frozen=True)
class CallStarted:
    now: datetime
    caller: str = ""
    called: str = ""
    call_sid: str = ""


@dataclass(frozen=True)
class Input:
    """The caller answered a prompt: keys (``digits``) and/or ``speech`` with ``confidence``."""

    now: datetime
    digits: str = ""
    speech: str = ""
    confidence: float | None = None


@dataclass(frozen=True)
class NoInput:
    """The prompt timed out with nothing entered."""

    now: datetime


@dataclass(frozen=True)
class DialEnded:
    """A transfer ended; ``status`` is Twilio's DialCallStatus."""

    now: datetime
    status: str
    duration: int = 0


@dataclass(frozen=True)
class QueueEnded:
    """The caller left a queue; ``result`` is Twilio's QueueResult."""

    now: datetime
    result: str
    queue_time: int = 0


@dataclass(frozen=True)
class AgentCallEnded:
    """The caller was taken from the queue to ring ``agent``; ``status`` is the agent leg's DialCallStatus."""

    now: datetime
    agent: str
    status: str

    @property
    def answered(self) -> bool:
        return self.status in ("completed", "answered")


@dataclass(frozen=True)
class RecordingEnded:
    now: datetime
    url: str = ""
    duration: int = 0
    digits: str = ""


@dataclass(frozen=True)
class LookupDone:
    """Outcome of a :class:`~ivr.engine.instructions.Lookup`: ``status`` is the HTTP status (``None`` when the request
    failed: timeout, refused, bad JSON), ``data`` the decoded JSON body."""

    now: datetime
    status: int | None
    data: Any = None
    error: str = ""


@dataclass(frozen=True)
class NoAgentsSignedIn:
    """Routing found no agent signed in while the call was about to wait in a queue whose ``when_no_agents`` is
    not ``wait``. ``pending`` is everything the call was about to be told this turn, ending with the
    :class:`~ivr.engine.instructions.Enqueue`: the engine answers with what is told instead (see
    :func:`ivr.engine.queue.on_no_agents`)."""

    now: datetime
    pending: tuple[ins.Instruction, ...] = ()


Event = Union[CallStarted, Input, NoInput, DialEnded, QueueEnded, AgentCallEnded, RecordingEnded, LookupDone,
              NoAgentsSignedIn]
