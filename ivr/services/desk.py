"""An agent's desk: what the agent console needs beyond routing. An offer with the caller's context, the call
the agent is on, the call waiting for their wrap-up, the wrap-up itself (checked against the dispositions of the
call's queue), their calls of the day, and what the caller said (speech transcripts from the call's steps).

Pure reads and one write over :class:`~ivr.store.calllog.CallLog`, the sessions, the flow repository and the
distributor; no HTTP. Moving calls between queue, offer and agent is :mod:`ivr.services.queueing`'s.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Iterable

from ivr.engine.state import CallState
from ivr.errors import IvrError
from ivr.services.publishing import FlowRepository
from ivr.store.calllog import CallLog
from ivr.store.sessions import SessionStore
from routing.acd import Distributor
from routing.config import DEFAULT_DISPOSITIONS
from routing.model import AgentStatus, Offer

#: The statuses an agent chooses themselves; ``busy`` and ``wrap-up`` are the system's.
AGENT_CHOICES = (AgentStatus.AVAILABLE, AgentStatus.BREAK, AgentStatus.OFFLINE)
MAX_NOTES = 2000
#: How far back the console looks for the call an agent is on or has to wrap up (a long shift).
LOOK_BACK_SECONDS = 16 * 3600
#: The longest history one request may ask for (a day and a bit: the browser's local midnight to now).
MAX_HISTORY_SECONDS = 48 * 3600
#: Summary fields of a call an agent sees in their history.
HISTORY_FIELDS = ("call_sid", "caller", "queue", "started_at", "accepted_at", "ended_at", "duration", "status",
                  "agent_disposition", "agent_notes", "wrapped_up_at")
#: Call states (the distributor's) of a call that is over for the agent who took it.
_OVER = (None, "ended")
#: Session variables an agent never sees: internals, and `hours` (the schedule node's state). The rest is what the
#: caller entered and what lookups found.
HIDDEN_VARIABLES = {"call_sid", "called", "recording_url", "last_input", "hours"}


class WrapUpRefused(IvrError):
    """A wrap-up that cannot be recorded; ``status`` is the HTTP status that fits (400, 404 or 409)."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class WrapUp:
    """A call the agent took that is over and has no wrap-up yet."""

    call_sid: str
    caller: str | None
    queue: str | None
    accepted_at: float
    dispositions: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"call_sid": self.call_sid, "caller": self.caller, "queue": self.queue,
                "accepted_at": self.accepted_at, "dispositions": list(self.dispositions)}


class AgentDesk:
    """One agent's view of their calls; dependencies are passed in."""

    def __init__(self, calllog: CallLog, repo: FlowRepository, router: Distributor, sessions: SessionStore):
        self.calllog = calllog
        self.repo = repo
        self.router = router
        self.sessions = sessions

    def offer_view(self, offer: Offer) -> dict[str, Any]:
        """An offer with what the caller already did and said: the path through the flow and the data collected."""
        record = self.calllog.get(offer.call_sid) or {}
        session = self.sessions.load(offer.call_sid)
        state = CallState.from_dict(session.state) if session else None
        variables = {k: v for k, v in (state.vars if state else {}).items() if k not in HIDDEN_VARIABLES}
        return {
            "reservation": offer.reservation, "call_sid": offer.call_sid, "expires": offer.expires,
            "expires_in_ms": max(0, offer.expires - int(time.time() * 1000)), "caller": record.get("caller"),
            "queue": (state.routing or {}).get("queue") if state else None,
            "language": (state.routing or {}).get("language") if state else None,
            "path": [f"{s.get('flow')}.{s.get('node')}" for s in record.get("steps", [])
                     if s.get("outcome") in ("prompted", "said", "chose", "collected", "confirmed", "queued")],
            "steps": record.get("steps", []), "data": variables, "said": transcript(record.get("steps", [])),
        }

    def events_start(self, agent_id: str) -> str:
        """Where a fresh console's event stream starts: after the agent's newest event (``0``: none yet)."""
        return self.router.last_event_id(agent_id)

    def dispositions(self, record: dict[str, Any]) -> tuple[str, ...]:
        """The dispositions of the queue the call was taken from, in the flow version it was pinned to (the
        default list when the queue or version is unknown)."""
        version, queue = record.get("version"), record.get("queue")
        if not isinstance(version, int) or not queue:
            return DEFAULT_DISPOSITIONS
        try:
            routing = self.repo.bundle(version).routing
        except Exception:  # a version no longer stored: the default list still lets the agent finish
            return DEFAULT_DISPOSITIONS
        config = routing.queues.get(queue) if routing is not None else None
        return config.dispositions if config is not None else DEFAULT_DISPOSITIONS

    def _recent(self, agent_id: str, now: float) -> list[dict[str, Any]]:
        return [record for record in self.calllog.agent_calls(agent_id, now - LOOK_BACK_SECONDS)
                if record.get("agent") == agent_id]

    def current_call(self, agent_id: str, now: float) -> dict[str, Any] | None:
        """The call the agent has accepted and is still on (newest first), or None."""
        for record in self._recent(agent_id, now):
            sid = record["call_sid"]
            if self.router.call_state(sid) == "assigned" and self.router.assigned_agent(sid) == agent_id:
                return {"call_sid": sid, "caller": record.get("caller"), "queue": record.get("queue"),
                        "accepted_at": record.get("accepted_at")}
        return None

    def pending_wrap_up(self, agent_id: str, now: float) -> WrapUp | None:
        """The newest call the agent took that is over (the distributor has ended it, so neither still connected
        nor back in line) and has no wrap-up yet."""
        for record in self._recent(agent_id, now):
            if "agent_disposition" in record or self.router.call_state(record["call_sid"]) not in _OVER:
                continue
            return WrapUp(record["call_sid"], record.get("caller"), record.get("queue"),
                          float(record.get("accepted_at") or 0), self.dispositions(record))
        return None

    def wrap_up(self, agent_id: str, call_sid: Any, disposition: Any, notes: Any, now: float) -> dict[str, Any]:
        """Check and record the agent's wrap-up of ``call_sid``; an agent in wrap-up becomes available (on break
        or offline stays so). Returns ``{"status": ..., "offer": reservation or None}``; raises
        :class:`WrapUpRefused` with what is wrong."""
        if not isinstance(call_sid, str) or not call_sid:
            raise WrapUpRefused("'call_sid' is required: the call you are wrapping up", 400)
        if not isinstance(notes, str):
            raise WrapUpRefused("'notes' must be text (it may be empty)", 400)
        if len(notes) > MAX_NOTES:
            raise WrapUpRefused(f"'notes' is {len(notes)} characters long: at most {MAX_NOTES}", 400)
        record = self.calllog.get(call_sid)
        if record is None:
            raise WrapUpRefused(f"no call {call_sid} in the call log", 404)
        if record.get("agent") != agent_id:
            raise WrapUpRefused("you did not take this call: only the agent who accepted it wraps it up", 409)
        allowed = self.dispositions(record)
        if disposition not in allowed:
            raise WrapUpRefused(f"'disposition' must be one of {', '.join(allowed)}", 400)
        if self.router.call_state(call_sid) not in _OVER:
            raise WrapUpRefused("the call is not over yet: wrap it up once it has ended", 409)
        self.calllog.wrap_up(call_sid, agent_id, disposition, notes.strip(), now)
        status, _load = self.router.status(agent_id)
        offer = None
        if status is AgentStatus.WRAP_UP:
            offer = self.router.set_status(agent_id, AgentStatus.AVAILABLE)
            status = AgentStatus.AVAILABLE
        return {"status": status.value, "offer": offer}

    def history(self, agent_id: str, since: float, until: float) -> list[dict[str, Any]]:
        """The calls the agent accepted in ``[since, until]``, newest first, with what the console shows."""
        return [{field: record.get(field) for field in HISTORY_FIELDS}
                for record in self.calllog.agent_calls(agent_id, since, until) if record.get("agent") == agent_id]


def transcript(steps: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the caller said, in order: the recognised words of speech steps (``heard`` on menu, listen and
    confirmation steps), with where, the intent understood and the recogniser's confidence."""
    return [{"node": f"{step.get('flow')}.{step.get('node')}", "text": str(step["heard"]),
             "intent": step.get("intent"), "confidence": step.get("confidence"), "outcome": step.get("outcome")}
            for step in steps if step.get("heard")]
