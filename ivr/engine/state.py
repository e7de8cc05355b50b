"""A call's state between steps: where it is in its flow, what it waits for, how it left, and a step's result."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Mapping

from ivr.engine import instructions as ins


class Waiting(str, Enum):
    """What a call waits for between steps."""

    NOTHING = ""
    GATHER = "gather"
    CONFIRM = "confirm"                # a collect node's read-back of the digits
    CONFIRM_SPEECH = "confirm-speech"  # "did you say ...?" after speech heard with low confidence
    LOOKUP = "lookup"
    DIAL = "dial"
    QUEUE = "queue"
    RECORD = "record"
    ENDED = "ended"


class Disposition(str, Enum):
    """How a call left the IVR."""

    SELF_SERVICE = "self-service"      # finished in the IVR (hang-up node)
    QUEUED = "queued"                  # waiting for an agent (final only if the call ended there)
    ANSWERED = "answered"              # reached an agent
    TRANSFERRED = "transferred"        # dialled out to a number / SIP / client
    VOICEMAIL = "voicemail"
    CALLBACK = "callback"              # left the queue to be called back when an agent is free
    ABANDONED = "abandoned"            # the caller hung up
    FAILED = "failed"                  # input retries exhausted with no fallback, or a fault


@dataclass
class Frame:
    """A subflow call: where to continue when the subflow returns."""

    flow: str
    next: str


@dataclass
class CallState:
    """Everything the engine knows about one call; serialised to the session store between webhooks."""

    call_sid: str
    version: int
    flow: str = ""
    node: str = ""
    waiting: Waiting = Waiting.NOTHING
    attempts: int = 0
    pending: str = ""
    stack: list[Frame] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)
    routing: dict[str, Any] | None = None
    disposition: Disposition | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (variables are shared, not copied: callers serialise or copy them)."""
        return {"call_sid": self.call_sid, "version": self.version, "flow": self.flow, "node": self.node,
                "waiting": self.waiting.value, "attempts": self.attempts, "pending": self.pending,
                "stack": [{"flow": f.flow, "next": f.next} for f in self.stack], "vars": self.vars,
                "routing": self.routing, "disposition": self.disposition.value if self.disposition else None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "CallState":
        """The state :meth:`to_dict` wrote (missing fields take their defaults)."""
        return cls(
            call_sid=data["call_sid"], version=int(data["version"]), flow=data.get("flow", ""),
            node=data.get("node", ""), waiting=Waiting(data.get("waiting", "")),
            attempts=int(data.get("attempts", 0)), pending=data.get("pending", ""),
            stack=[Frame(**f) for f in data.get("stack", [])], vars=dict(data.get("vars", {})),
            routing=data.get("routing"),
            disposition=Disposition(data["disposition"]) if data.get("disposition") else None,
        )

    @property
    def ended(self) -> bool:
        """The call is over for the IVR (hung up, or left it)."""
        return self.waiting is Waiting.ENDED


@dataclass
class StepResult:
    """What one step produced: the new state, what to tell Twilio, and the call log entries."""

    state: CallState
    instructions: list[ins.Instruction]
    log: list[dict[str, Any]]


def new_call(version: int, call_sid: str) -> CallState:
    """The state of a call that has not started yet, pinned to flow ``version``."""
    return CallState(call_sid=call_sid, version=version)
