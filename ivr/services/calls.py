"""Running calls: sessions + pinned flow versions + the step function + lookups + the call log.

This is the engine's edge towards storage and the network; the HTTP layer (``webhooks``) turns Twilio requests
into calls on :class:`CallService` and the engine's instructions into TwiML. What routing finds is told to the
engine as events (:class:`~ivr.engine.events.NoAgentsSignedIn`); the way of a call through agent routing is
:class:`~ivr.services.queueing.Queueing`'s, and work for later goes through the
:class:`~ivr.services.scheduling.Scheduler` port.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timezone
from typing import Any, Callable

import redis as redis_lib
import requests

from ivr.engine import instructions as ins
from ivr.engine.events import AgentCallEnded, CallStarted, Event, LookupDone, NoAgentsSignedIn, RecordingEnded
from ivr.engine.queue import NoAgentsPolicy, when_no_agents
from ivr.engine.state import CallState, Disposition, StepResult, Waiting, new_call
from ivr.engine.step import step
from ivr.errors import EngineError, SessionError, StoreError
from ivr.flowlang.model import Bundle
from ivr.services.lookups import LOOKUP_BUDGET_SECONDS, MAX_LOOKUPS_PER_TURN, HttpClient, perform
from ivr.services.publishing import FlowRepository
from ivr.services.queueing import Queueing
from ivr.services.scheduling import NullScheduler, Recording, Scheduler
from ivr.store.calllog import MAX_STEPS, CallLog
from ivr.store.finished import stage_finished
from ivr.store.sessions import Session, SessionStore, decode
from routing.acd import Distributor

log = logging.getLogger(__name__)

CALLBACK_GREETING = "Hello, we are calling you back as you asked. Please hold for the next agent."


#: Turns the engine's instructions into the TwiML answer, given the sequence number action URLs must carry.
Renderer = Callable[[list[ins.Instruction], int], str]


class CallService:
    """Starts and advances calls. Dependencies are passed in; nothing is global."""

    def __init__(self, repo: FlowRepository, sessions: SessionStore, calllog: CallLog,
                 http: HttpClient | None = None, clock: Callable[[], datetime] | None = None,
                 router: Distributor | None = None, scheduler: Scheduler | None = None):
        self.repo = repo
        self.sessions = sessions
        self.calllog = calllog
        self.http = http or requests.Session()
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.queueing = Queueing(repo, sessions, calllog, router, scheduler or NullScheduler(), self._now)

    def _now(self) -> datetime:
        return self.clock()  # looked up at each call: tests and tries replace ``clock`` on a built service

    @property
    def router(self) -> Distributor | None:
        """The distributor of agent routing (None: no routing), shared with :attr:`queueing`."""
        return self.queueing.router

    @router.setter
    def router(self, router: Distributor | None) -> None:
        self.queueing.router = router

    @property
    def scheduler(self) -> Scheduler:
        """Where work for later goes, shared with :attr:`queueing`."""
        return self.queueing.scheduler

    @scheduler.setter
    def scheduler(self, scheduler: Scheduler) -> None:
        self.queueing.scheduler = scheduler

    # -- public API ----------------------------------------------------------------------------------------------
    def start(self, call_sid: str, caller: str, called: str, render: Renderer, base_url: str | None = None) -> str:
        """A new call arrives: pin the current flow version, create the session, run to the first prompt.

        ``render(instructions, seq)`` turns the engine's answer into TwiML; the TwiML is stored with the session
        so a retried webhook gets the same answer. Returns the TwiML.
        """
        existing, version = self._session_and_version(call_sid)
        if existing is not None:  # Twilio retried the incoming webhook: answer the same again
            return self._replay(existing, render)
        if version is None:
            raise StoreError("no flow version is published: run 'ivr flows publish'")
        bundle = self.repo.bundle(version)
        now = self.clock()
        result = self._advance(bundle, new_call(version, call_sid), CallStarted(now, caller, called, call_sid))
        result = self._when_no_agents(bundle, result)
        twiml = render(result.instructions, 1)
        # One round trip: the session (create-if-absent), the call's record and its first steps.
        pipe = self.sessions.redis.pipeline(transaction=False)
        self.sessions.create(call_sid, Session(1, result.state.to_dict(), twiml, base_url), pipe=pipe)
        self.calllog.start(call_sid, caller=caller, called=called, flow=result.state.flow, version=version,
                           started_at=now.timestamp(), pipe=pipe)
        self.calllog.add_steps(call_sid, result.log, pipe=pipe)
        created = self._execute(pipe)[0]
        if not created:
            existing = self.sessions.load(call_sid)
            if existing is None:
                raise SessionError(f"session {call_sid} could not be created")
            return self._replay(existing, render)  # a concurrent retry won the race
        self.queueing.route(call_sid, result.state, bundle)
        return twiml

    def advance(self, call_sid: str, seq: int, make_event: Callable[[datetime], Event], render: Renderer) -> str:
        """Feed an event to a running call. A stale ``seq`` (replayed or out-of-date action URL) gets the
        previous answer again instead of advancing the call twice."""
        session = self.sessions.load(call_sid)
        if session is None:
            raise SessionError(f"no session for call {call_sid}")
        if seq != session.seq:
            return self._replay(session, render)
        state = CallState.from_dict(session.state)
        bundle = self.repo.bundle(state.version)
        event = make_event(self.clock())
        recording = self._recording(call_sid, bundle, state, event)
        result = self._advance(bundle, state, event)
        result = self._when_no_agents(bundle, result)
        twiml = render(result.instructions, seq + 1)
        saved = self.sessions.save(call_sid, Session(seq + 1, result.state.to_dict(), twiml), expected_seq=seq,
                                   append_to=self.calllog.steps_key(call_sid),
                                   items=[json.dumps(e, default=str) for e in result.log],
                                   items_ttl=self.calllog.ttl, items_max=MAX_STEPS)
        if not saved:  # another request for this call got there first: answer what it answered
            latest = self.sessions.load(call_sid)
            if latest is None:
                raise SessionError(f"session for call {call_sid} vanished")
            return self._replay(latest, render)
        self.queueing.route(call_sid, result.state, bundle)
        if recording is not None:
            try:
                self.scheduler.transcribe(recording)
            except Exception:  # the caller's call goes on; the voicemail stays without a transcript
                log.exception("could not queue the transcription of %s", call_sid)
        return twiml

    def session(self, call_sid: str) -> CallState | None:
        session = self.sessions.load(call_sid)
        return CallState.from_dict(session.state) if session else None

    def status(self, call_sid: str, status: str, duration: int) -> None:
        """A status callback (any order, possibly duplicated): close the call record when it is final."""
        if status not in ("completed", "busy", "failed", "no-answer", "canceled"):
            return
        session = self.sessions.load(call_sid)
        disposition = None
        pipe = self.sessions.redis.pipeline(transaction=True)
        if session is not None:
            state = CallState.from_dict(session.state)
            disposition = state.disposition
            if not state.ended and (disposition is None or state.waiting is Waiting.QUEUE):
                disposition = Disposition.ABANDONED  # the caller hung up before the flow ended
            self.sessions.close(call_sid, pipe=pipe)
        self.calllog.finish(call_sid, status=status, disposition=(disposition.value if disposition else None),
                            duration=duration, ended_at=self.clock().timestamp(), pipe=pipe)
        stage_finished(pipe, call_sid)
        must_queue_count = self._execute(pipe)[-1]
        self.queueing.caller_gone(call_sid)
        if must_queue_count:
            try:
                self.scheduler.count_finished_calls()
            except Exception:  # counted later: the SID stays on the list until a job counts it
                log.exception("could not queue the counting job after %s", call_sid)

    def agent_leg_ended(self, call_sid: str, agent: str, status: str, render: Renderer) -> str:
        """The caller was taken out of the queue to ring ``agent``; ``status`` is that leg's DialCallStatus.
        Answered: the call is done and the agent's slot frees up. Not answered: back to the old place in line."""
        session = self.sessions.load(call_sid)
        if session is None:
            raise SessionError(f"no session for call {call_sid}")
        event = AgentCallEnded(self.clock(), agent, status)
        if self.router is not None:
            self.queueing.agent_leg_ended(call_sid, CallState.from_dict(session.state).version, event.answered,
                                          int(event.now.timestamp() * 1000))
        return self.advance(call_sid, session.seq, lambda now: AgentCallEnded(now, agent, status), render)

    # -- internals -----------------------------------------------------------------------------------------------
    @staticmethod
    def _recording(call_sid: str, bundle: Bundle, state: CallState, event: Event) -> Recording | None:
        """The voicemail this event delivers, with the language of the flow that recorded it."""
        if not isinstance(event, RecordingEnded) or state.waiting is not Waiting.RECORD or not event.url:
            return None
        flow = bundle.flows.get(state.flow)
        return Recording(call_sid, event.url, flow.language if flow else "", state.flow, state.node,
                         event.duration)

    def _when_no_agents(self, bundle: Bundle, result: StepResult) -> StepResult:
        """A call about to wait in a queue whose ``when_no_agents`` is not ``wait``: routing is asked whether any
        agent at all is signed in, and if none is the engine is told (:class:`NoAgentsSignedIn`) and decides:
        another queue (asked again), a callback, or out of the queue (the flow goes on from its queue node)."""
        if self.router is None or bundle.routing is None:
            return result
        for _hop in range(len(bundle.routing.queues)):  # overflow chains end: no queue is visited twice
            policy = when_no_agents(bundle, result)
            if policy is NoAgentsPolicy.WAIT or self.router.signed_in() > 0:
                return result
            follow = step(bundle, result.state, NoAgentsSignedIn(self.clock(), tuple(result.instructions)))
            result = StepResult(follow.state, follow.instructions, result.log + follow.log)
            if policy is not NoAgentsPolicy.OVERFLOW:
                return result
        return result

    def callback_answered(self, callback_id: str, call_sid: str, render: Renderer, base_url: str | None = None) -> str:
        """The callee answered our outbound call ``call_sid`` for a callback request: the call gets a session
        like the one the caller left (same flow version, node and data), goes back in line at the request's
        place, and hears the hold announcements until an agent takes it. Returns the TwiML."""
        existing = self.sessions.load(call_sid)
        if existing is not None:  # Twilio retried the webhook
            return self._replay(existing, render)
        record = self.router.callback(callback_id) if self.router is not None else None
        if record is None:
            raise SessionError(f"no callback request {callback_id}")
        state = CallState.from_dict({**record["state"], "call_sid": call_sid})
        request = dict(state.routing or {})
        request.pop("callback", None)
        state.routing, state.waiting, state.disposition = request, Waiting.QUEUE, None
        state.vars = {**state.vars, "call_sid": call_sid}
        flow = self.repo.bundle(state.version).flows.get(state.flow)
        instructions: list[ins.Instruction] = [
            ins.Say(CALLBACK_GREETING, None, flow.language if flow else None),
            ins.Enqueue(ins.RoutingRequest.from_dict(request))]
        twiml = render(instructions, 1)
        now = self.clock()
        pipe = self.sessions.redis.pipeline(transaction=False)
        self.sessions.create(call_sid, Session(1, state.to_dict(), twiml, base_url), pipe=pipe)
        self.calllog.start(call_sid, caller=record.get("number") or "", called=record.get("from") or "",
                           flow=state.flow, version=state.version, started_at=now.timestamp(), pipe=pipe)
        self.calllog.add_steps(call_sid, [{"flow": state.flow, "node": state.node, "kind": "routing",
                                           "outcome": "callback answered", "callback": callback_id,
                                           "original_call": record.get("call_sid"), "at": now.timestamp()}],
                               pipe=pipe)
        self._execute(pipe)
        self.queueing.offered(self.router.callback_answered(callback_id, call_sid, int(now.timestamp() * 1000)))
        return twiml

    def _session_and_version(self, call_sid: str) -> tuple[Session | None, int | None]:
        """The call's session (a retried webhook) and the live flow version, in one round trip."""
        pipe = self.sessions.redis.pipeline(transaction=False)
        self.sessions.queue_load(pipe, call_sid)
        self.repo.store.queue_current_version(pipe)
        raw_session, raw_version = self._execute(pipe)
        return decode(raw_session), int(raw_version) if raw_version is not None else None

    def _replay(self, session: Session, render: Renderer) -> str:
        if session.twiml:
            return session.twiml
        state = CallState.from_dict(session.state)
        return render([ins.Hangup()] if state.ended else [ins.Pause(1)], session.seq)

    @staticmethod
    def _execute(pipe: Any) -> list[Any]:
        try:
            return pipe.execute()
        except redis_lib.RedisError as e:
            raise SessionError(f"cannot store the call's state: {e}") from e

    def _advance(self, bundle: Any, state: CallState, event: Event) -> StepResult:
        result = step(bundle, state, event)
        instructions = list(result.instructions)
        logs = list(result.log)
        started = time.monotonic()
        lookups = 0
        while instructions and isinstance(instructions[-1], ins.Lookup):
            request = instructions.pop()
            assert isinstance(request, ins.Lookup)
            lookups += 1
            remaining = LOOKUP_BUDGET_SECONDS - (time.monotonic() - started)
            if lookups > MAX_LOOKUPS_PER_TURN or remaining <= 0.1:
                done = LookupDone(self.clock(), None, error="too many lookups in one step")
            else:
                done = perform(self.http, request, min(request.timeout, remaining), self.clock)
            follow = step(bundle, result.state, done)
            instructions.extend(follow.instructions)
            logs.extend(follow.log)
            result = follow
        if not instructions:
            raise EngineError("the flow produced nothing to say or do")
        return StepResult(result.state, instructions, logs)
