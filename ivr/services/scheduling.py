"""The port through which services have work done later: what calls and queueing need timed or run in the
background (counting finished calls, offer expiry, end of wrap-up, queue escalation and maximum wait, placing
callbacks, presence checks, voicemail transcription).

Services depend on this protocol only; the RQ implementation is :class:`ivr.jobs.scheduler.RqScheduler`, and a
try of a flow, which has no worker, uses :class:`NullScheduler`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from routing.config import QueueConfig
from routing.model import Offer


@dataclass(frozen=True)
class Recording:
    """A voicemail left on a call: where Twilio keeps it, and the language and node of the flow that took it."""

    call_sid: str
    url: str
    language: str
    flow: str = ""
    node: str = ""
    duration: int = 0


class Scheduler(Protocol):
    """Work the services ask for, to be done in the background or at a later time."""

    def count_finished_calls(self) -> None:
        """Count the finished calls staged for counting (:func:`ivr.store.finished.stage_finished`)."""

    def expire_offer(self, offer: Offer) -> None:
        """Time ``offer`` out when it expires."""

    def end_wrap_up(self, agent_id: str, seconds: int) -> None:
        """End the agent's wrap-up in ``seconds``."""

    def queue_timers(self, call_sid: str, queue: QueueConfig) -> None:
        """The call entered ``queue``: its escalation steps and its maximum wait."""

    def place_callbacks(self) -> None:
        """Place the outbound calls of the callback requests that have an agent available."""

    def check_presence(self, agent_id: str) -> None:
        """Sign the agent out later if their console goes quiet."""

    def transcribe(self, recording: Recording) -> None:
        """Transcribe the voicemail and keep the transcript on the call log."""


class NullScheduler:
    """A scheduler that schedules nothing: where no worker serves the database (a try of a flow)."""

    def count_finished_calls(self) -> None:
        """Nothing is counted."""

    def expire_offer(self, offer: Offer) -> None:
        """No offer is timed."""

    def end_wrap_up(self, agent_id: str, seconds: int) -> None:
        """No wrap-up is timed."""

    def queue_timers(self, call_sid: str, queue: QueueConfig) -> None:
        """No escalation, no maximum wait."""

    def place_callbacks(self) -> None:
        """No callback is placed."""

    def check_presence(self, agent_id: str) -> None:
        """No presence is checked."""

    def transcribe(self, recording: Recording) -> None:
        """No voicemail is transcribed."""
