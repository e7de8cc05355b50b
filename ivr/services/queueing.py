"""Queueing: a call's way through agent routing. A call that enters a queue is handed to the distributor, offers
are logged and timed, an agent accepts (the live call is redirected to ring them) or declines, an answered call
leaves its agent in wrap-up, and a caller who asked to be called back leaves a callback request in their place.

The distributor (:mod:`routing.acd`) keeps the lines; this service keeps the call log, the timers (through the
:class:`~ivr.services.scheduling.Scheduler` port) and Twilio in step with it. No HTTP: the agent API parses the
request, calls this service and formats its answer.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Callable, Protocol

from ivr.engine.queue import CALLBACK_GOODBYE, ended_for_callback
from ivr.engine.state import CallState, Waiting
from ivr.flowlang.model import Bundle
from ivr.services.desk import AgentDesk
from ivr.services.publishing import FlowRepository
from ivr.services.scheduling import Scheduler
from ivr.store.calllog import CallLog
from ivr.store.sessions import Session, SessionStore
from ivr.telephony import twiml
from ivr.telephony.rest import CallGone, TwilioRest, TwilioRestError
from routing.acd import Distributor
from routing.model import Agent, AgentStatus, Offer, Outcome

log = logging.getLogger(__name__)


class Redirector(Protocol):
    """What accepting an offer needs of Twilio: replace a live call's TwiML (:class:`ivr.telephony.rest.TwilioRest`)."""

    def redirect(self, call_sid: str, twiml: str) -> Any: ...


class AcceptOutcome(str, Enum):
    """How an agent's accept of an offer ended."""

    ACCEPTED = "accepted"            # the caller's leg now rings the agent
    NOT_YOURS = "not-yours"          # timed out, taken or cancelled meanwhile
    CALLER_GONE = "caller-gone"      # the caller hung up before the redirect
    NOT_CONNECTED = "not-connected"  # Twilio refused the redirect: the call is back in line


@dataclass(frozen=True)
class Acceptance:
    """The outcome of :meth:`Queueing.accept`, the call it was about and, when not connected, Twilio's error."""

    outcome: AcceptOutcome
    call_sid: str = ""
    error: str = ""


class Queueing:
    """Routes calls and keeps offers, accepts, declines and wrap-ups in step; dependencies are passed in."""

    def __init__(self, repo: FlowRepository, sessions: SessionStore, calllog: CallLog, router: Distributor | None,
                 scheduler: Scheduler, clock: Callable[[], datetime]):
        self.repo = repo
        self.sessions = sessions
        self.calllog = calllog
        self.router = router
        self.scheduler = scheduler
        self.clock = clock

    def desk(self) -> AgentDesk:
        """The agents' view of their calls, over the same stores and distributor."""
        assert self.router is not None
        return AgentDesk(self.calllog, self.repo, self.router, self.sessions)

    # -- calls entering and leaving ------------------------------------------------------------------------------
    def route(self, call_sid: str, state: CallState, bundle: Bundle) -> None:
        """A call that just entered an agent queue is handed to the distributor (when queues are configured); a
        call that just chose a callback leaves its request in line."""
        if (self.router is not None and bundle.routing is not None and state.ended
                and (state.routing or {}).get("callback") and self.router.call_state(call_sid) is None):
            self._callback_before_queueing(call_sid, state, bundle)
            return
        if self.router is None or bundle.routing is None or state.waiting is not Waiting.QUEUE:
            return
        request = state.routing or {}
        queue = bundle.routing.queues.get(request.get("queue", ""))
        if queue is None or self.router.call_state(call_sid) in ("waiting", "offered", "assigned"):
            return
        skills = dict(queue.skills)
        for skill, level in (request.get("skills") or {}).items():
            skills[skill] = max(skills.get(skill, 0), int(level))
        priority = min(100, queue.priority + int(request.get("priority") or 0))
        now_ms = int(self.clock().timestamp() * 1000)
        self.router.set_strategy(queue.name, queue.strategy.value)  # as configured in the call's flow version
        language = request.get("language") if queue.match_language else None
        self.offered(self.router.enqueue(call_sid, queue.name, skills, priority, now_ms, language=language))
        self.scheduler.queue_timers(call_sid, queue)

    def _callback_before_queueing(self, call_sid: str, state: CallState, bundle: Bundle) -> None:
        """The call left for a callback before it was ever in line: it is put in line (no offer), then the
        callback request takes its place."""
        assert self.router is not None and bundle.routing is not None
        request = state.routing or {}
        queue = bundle.routing.queues.get(request.get("queue", ""))
        if queue is None:
            return
        skills = dict(queue.skills)
        for skill, level in (request.get("skills") or {}).items():
            skills[skill] = max(skills.get(skill, 0), int(level))
        priority = min(100, queue.priority + int(request.get("priority") or 0))
        language = request.get("language") if queue.match_language else None
        self.router.enqueue(call_sid, queue.name, skills, priority, int(self.clock().timestamp() * 1000),
                            offer=False, language=language)
        session = self.sessions.load(call_sid)
        if self.request_callback(call_sid, state.to_dict(), session.base_url if session else None) is None:
            log.warning("call %s asked for a callback that could not be recorded", call_sid)

    def request_callback(self, call_sid: str, state: dict[str, Any], base_url: str | None) -> str | None:
        """The waiting call becomes a callback request, keeping its place in line; ``state`` (the call's engine
        state) is kept for the callee's call, and placing callbacks is scheduled. Returns the request's id, or
        None when the call was not waiting or its caller's number is unknown."""
        assert self.router is not None
        record = self.calllog.get(call_sid) or {}
        if not record.get("caller") or not record.get("called"):
            return None
        callback_id = "CB" + secrets.token_hex(16)
        if not self.router.to_callback(call_sid, callback_id, {
                "number": record["caller"], "from": record["called"], "state": state, "base_url": base_url}):
            return None
        self.scheduler.place_callbacks()
        return callback_id

    def callback_at_max_wait(self, call_sid: str, twilio: TwilioRest, public_url: str | None) -> str:
        """Maximum wait with ``on_max_wait: callback``: the request takes the call's place, and the caller is told
        and hung up on (through Twilio's REST API); the call ends with disposition ``callback``. Returns what
        happened: ``callback``, ``not waiting`` or ``call gone``."""
        session = self.sessions.load(call_sid)
        if session is None:
            return "call gone"
        if self.request_callback(call_sid, session.state, public_url or session.base_url) is None:
            return "not waiting"
        goodbye = twiml.goodbye(CALLBACK_GOODBYE)
        state = ended_for_callback(CallState.from_dict(session.state))
        self.sessions.save(call_sid, Session(session.seq + 1, state.to_dict(), goodbye, session.base_url),
                           expected_seq=session.seq)
        try:
            twilio.redirect(call_sid, goodbye)
        except CallGone:
            return "call gone"
        return "callback"

    def caller_gone(self, call_sid: str) -> None:
        """The call is over, wherever it was in routing (the agent it freed may get their next offer)."""
        if self.router is not None:
            self.offered(self.router.hangup(call_sid))

    def agent_leg_ended(self, call_sid: str, version: int, answered: bool, now_ms: int) -> None:
        """The leg ringing the agent ended: answered, the agent's call is over and wrap-up starts; not answered,
        the call goes back to its old place in line."""
        if self.router is None:
            return
        if answered:
            self._wrap_up(call_sid, version, now_ms)
        else:
            for offer in self.router.requeue(call_sid, now_ms):
                self.offered(offer)

    def _wrap_up(self, call_sid: str, version: int, now_ms: int) -> None:
        """The agent's call is over: wrap-up time (from queues.yaml), then available again."""
        assert self.router is not None
        agent_id = self.router.assigned_agent(call_sid)
        routing = self.repo.bundle(version).routing
        seconds = routing.wrap_up if routing is not None else 0
        if agent_id is not None and seconds > 0 and self.router.status(agent_id)[0] is AgentStatus.AVAILABLE:
            self.router.set_status(agent_id, AgentStatus.WRAP_UP, now_ms)
            self.scheduler.end_wrap_up(agent_id, seconds)
        self.offered(self.router.finish(call_sid, now_ms))

    # -- offers --------------------------------------------------------------------------------------------------
    def offered(self, offer: Offer | None) -> None:
        """Record a new offer on the call's log and schedule its expiry; None is ignored."""
        if offer is None:
            return
        try:
            self.calllog.add_steps(offer.call_sid, [{"flow": "", "node": "", "kind": "routing", "outcome": "offered",
                                                     "agent": offer.agent, "at": self.clock().timestamp()}])
        except Exception:
            log.exception("could not log the offer of %s", offer.call_sid)
        try:
            self.scheduler.expire_offer(offer)
        except Exception:  # the offer stands; its timeout is also swept by the worker
            log.exception("could not schedule the expiry of offer %s", offer.reservation)

    def offer_ended(self, offer: Offer, outcome: str) -> None:
        """Record on the call's log that an offer ended without being accepted (declined, timeout)."""
        try:
            self.calllog.routing_step(offer.call_sid, outcome, offer.agent, self.clock().timestamp())
        except Exception:
            log.exception("could not log the end of offer %s", offer.reservation)

    def accept(self, agent_id: str, reservation: str, ring: Callable[[Agent], str],
               twilio: Redirector) -> Acceptance:
        """The agent takes the offer: the waiting caller's live call is redirected (Twilio REST) to ``ring(agent)``,
        the TwiML that rings the agent, and the call log notes who accepted. A caller who hung up meanwhile is
        let go; a redirect Twilio refuses puts the call back in line."""
        assert self.router is not None
        offer = next((o for o in self.router.offers_for(agent_id) if o.reservation == reservation), None)
        if offer is None or not self.router.accept(reservation, agent_id):
            return Acceptance(AcceptOutcome.NOT_YOURS)
        agent = self.router.agent(agent_id)
        try:
            twilio.redirect(offer.call_sid, ring(agent))
        except CallGone:
            self.router.hangup(offer.call_sid)
            return Acceptance(AcceptOutcome.CALLER_GONE, offer.call_sid)
        except TwilioRestError as e:
            for again in self.router.requeue(offer.call_sid):
                self.offered(again)
            return Acceptance(AcceptOutcome.NOT_CONNECTED, offer.call_sid, str(e))
        session = self.sessions.load(offer.call_sid)
        queue = (CallState.from_dict(session.state).routing or {}).get("queue") if session else None
        self.calllog.agent_accepted(offer.call_sid, agent_id, int(time.time() * 1000) / 1000, queue=queue)
        return Acceptance(AcceptOutcome.ACCEPTED, offer.call_sid)

    def decline(self, agent_id: str, reservation: str) -> bool:
        """The agent declines the offer: the call goes to its next agent, if any. False: not their offer."""
        assert self.router is not None
        if not any(o.reservation == reservation for o in self.router.offers_for(agent_id)):
            return False
        ended, offers = self.router.end_offer(reservation, Outcome.DECLINED)
        if ended is not None:
            self.offer_ended(ended, Outcome.DECLINED.value)
        for offer in offers:
            self.offered(offer)
        return True

    # -- agents --------------------------------------------------------------------------------------------------
    def choose_status(self, agent_id: str, status: AgentStatus) -> Offer | None:
        """The agent chose ``status`` (available, break or offline): the offer it brings, if any, is made, and a
        signed-in agent's presence is checked from now on. Returns that offer."""
        assert self.router is not None
        offer = self.router.set_status(agent_id, status)
        self.offered(offer)
        if status is not AgentStatus.OFFLINE:
            self.scheduler.check_presence(agent_id)
        return offer

    def available_again(self, agent_id: str) -> Offer | None:
        """The agent is done with their after-call work without recording it: available, and offered a call if
        one waits. Returns that offer."""
        assert self.router is not None
        offer = self.router.set_status(agent_id, AgentStatus.AVAILABLE)
        self.offered(offer)
        return offer

    def record_wrap_up(self, agent_id: str, call_sid: Any, disposition: Any, notes: Any,
                       now: float) -> dict[str, Any]:
        """Record the agent's wrap-up (:meth:`AgentDesk.wrap_up`, which raises
        :class:`~ivr.services.desk.WrapUpRefused`); the offer their being available again brings is made."""
        done = self.desk().wrap_up(agent_id, call_sid, disposition, notes, now)
        self.offered(done["offer"])
        return done
