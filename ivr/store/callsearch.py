"""Searching the call log: by number (caller or called, any part of its digits), start time and outcome.

The call index is a sorted set by start time, so a search reads the index newest first over the time range, in
batches, and filters the call summaries. It reads at most a cap of calls per request; a search that needs more
is told to narrow down (a shorter date range, a number or an outcome) instead of scanning the whole log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

#: Calls read from the index at most per search (one page of results may need many reads when filters are narrow).
MAX_SCAN = 5000
#: Calls read from the index per round trip.
BATCH = 250


class Outcome(str, Enum):
    """How a call ended, as the call history shows and filters it: the IVR's disposition when it decided one,
    else Twilio's final status, else the call is still in progress."""

    SELF_SERVICE = "self-service"    # finished in the IVR
    ANSWERED = "answered"            # reached an agent
    ABANDONED = "abandoned"          # the caller hung up before the flow ended (in a menu or in a queue)
    VOICEMAIL = "voicemail"
    CALLBACK = "callback"            # left the queue to be called back
    TRANSFERRED = "transferred"      # dialled out
    FAILED = "failed"                # the IVR gave up, or Twilio reported the call failed
    BUSY = "busy"
    NO_ANSWER = "no-answer"
    CANCELED = "canceled"
    COMPLETED = "completed"          # ended without the IVR recording how (no session was left to say)
    IN_PROGRESS = "in-progress"      # no final status yet

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {Outcome.SELF_SERVICE: "Self-service (done in the IVR)", Outcome.ANSWERED: "Answered by an agent",
           Outcome.ABANDONED: "Abandoned", Outcome.VOICEMAIL: "Voicemail", Outcome.CALLBACK: "Callback requested",
           Outcome.TRANSFERRED: "Transferred", Outcome.FAILED: "Failed", Outcome.BUSY: "Busy",
           Outcome.NO_ANSWER: "No answer", Outcome.CANCELED: "Canceled", Outcome.COMPLETED: "Completed",
           Outcome.IN_PROGRESS: "In progress"}
_BY_STATUS = {"failed": Outcome.FAILED, "busy": Outcome.BUSY, "no-answer": Outcome.NO_ANSWER,
              "canceled": Outcome.CANCELED, "completed": Outcome.COMPLETED}


def outcome_of(record: dict[str, Any]) -> Outcome:
    """The outcome of a call summary (fields ``disposition`` and ``status`` of :class:`ivr.store.calllog.CallLog`)."""
    status = record.get("status")
    if not status:
        return Outcome.IN_PROGRESS
    disposition = record.get("disposition")
    if disposition:
        try:
            return Outcome(disposition)
        except ValueError:  # 'queued' is never final: the status callback turns it into 'abandoned'
            pass
    return _BY_STATUS.get(status, Outcome.COMPLETED)


def digits(text: str) -> str:
    """Only the digits of a phone number: ``+1 (555) 123`` → ``1555123``."""
    return re.sub(r"[^0-9]", "", text)


@dataclass(frozen=True)
class CallQuery:
    """What to look for. ``number``: digits that must appear in the caller's or the called number (any other
    characters are ignored); ``since``/``until``: start time bounds in epoch seconds, both inclusive."""

    number: str = ""
    since: float | None = None
    until: float | None = None
    outcome: Outcome | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "number", digits(self.number))

    @property
    def filters(self) -> bool:
        """Does anything besides the time range narrow the search?"""
        return bool(self.number) or self.outcome is not None

    def matches(self, record: dict[str, Any]) -> bool:
        if self.number and not any(self.number in digits(str(record.get(side) or "")) for side in ("caller", "called")):
            return False
        return self.outcome is None or outcome_of(record) is self.outcome


@dataclass(frozen=True)
class SearchResult:
    """One page of matching calls, newest first. ``more``: another page follows. ``capped``: the search stopped
    after reading ``scanned`` calls without reaching the end of the range, so there may be more matches (on this
    page too): the search should be narrowed."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    offset: int = 0
    limit: int = 0
    more: bool = False
    capped: bool = False
    scanned: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"calls": self.calls, "offset": self.offset, "limit": self.limit, "more": self.more,
                "capped": self.capped, "scanned": self.scanned}

