"""Running calls: sessions + pinned flow versions + the step function + lookups + the call log.

This is the engine's edge towards storage and the network; the HTTP layer (``webhooks``) turns Twilio requests
into calls on :class:`CallService` and the engine's instructions into TwiML.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timezone
from typing import Any, Callable, Protocol

import redis as redis_lib
import requests

from ivr.engine import instructions as ins
from ivr.store import keys
from ivr.store.calllog import MAX_STEPS, CallLog
from ivr.engine.step import CallState, Disposition, StepResult, Waiting, new_call, step
from ivr.errors import EngineError, SessionError, StoreError
from ivr.engine.events import AgentCallEnded, CallStarted, Event, LookupDone, QueueEnded, RecordingEnded
from ivr.flowlang.model import Bundle
from ivr.services.publishing import FlowRepository
from ivr.jobs.queue import CALLBACK_GOODBYE, request_callback, stage_finished
from ivr.store.sessions import Session, SessionStore, decode
from ivr.services.transcription import Recording
from routing.acd import AgentStatus, Distributor, Offer
from routing.config import QueueConfig

log = logging.getLogger(__name__)

CALLBACK_GREETING = "Hello, we are calling you back as you asked. Please hold for the next agent."

#: Lookups performed within one webhook; Twilio waits 15 s for an answer, so stay well inside it.
MAX_LOOKUPS_PER_TURN = 4
LOOKUP_BUDGET_SECONDS = 8.0
MAX_LOOKUP_BYTES = 256 * 1024


class HttpClient(Protocol):
    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response: ...


#: Turns the engine's instructions into the TwiML answer, given the sequence number action URLs must carry.
Renderer = Callable[[list[ins.Instruction], int], str]


class CallService:
    """Starts and advances calls. Dependencies are passed in; nothing is global."""

    def __init__(self, repo: FlowRepository, sessions: SessionStore, calllog: CallLog,
                 http: HttpClient | None = None, clock: Callable[[], datetime] | None = None,
                 on_closed: Callable[[], None] | None = None, router: Distributor | None = None,
                 on_offer: Callable[[Offer], None] | None = None,
                 on_wrap_up: Callable[[str, int], None] | None = None,
                 on_queued: Callable[[str, QueueConfig], None] | None = None,
                 on_recorded: Callable[[Recording], None] | None = None):
        self.on_wrap_up = on_wrap_up
        self.on_recorded = on_recorded
        self.on_queued = on_queued
        self.on_closed = on_closed
        self.router = router
        self.on_offer = on_offer
        self.repo = repo
        self.sessions = sessions
        self.calllog = calllog
        self.http = http or requests.Session()
        self.clock = clock or (lambda: datetime.now(timezone.utc))

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
        self._route(call_sid, result.state, bundle)
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
                                   append_to=keys.call_steps(call_sid),
                                   items=[json.dumps(e, default=str) for e in result.log],
                                   items_ttl=self.calllog.ttl, items_max=MAX_STEPS)
        if not saved:  # another request for this call got there first: answer what it answered
            latest = self.sessions.load(call_sid)
            if latest is None:
                raise SessionError(f"session for call {call_sid} vanished")
            return self._replay(latest, render)
        self._route(call_sid, result.state, bundle)
        if recording is not None and self.on_recorded is not None:
            try:
                self.on_recorded(recording)
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
        if self.router is not None:
            self.offered(self.router.hangup(call_sid))
        if must_queue_count and self.on_closed is not None:
            try:
                self.on_closed()
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
            now_ms = int(event.now.timestamp() * 1000)
            if event.answered:
                self._wrap_up(call_sid, CallState.from_dict(session.state).version, now_ms)
            else:
                for offer in self.router.requeue(call_sid, now_ms):
                    self.offered(offer)
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
        """A call about to wait in a queue while no agent at all is signed in follows the queue's
        ``when_no_agents``: another queue, or out of the queue at once (the flow goes on from its queue node)."""
        if (self.router is None or bundle.routing is None or result.state.waiting is not Waiting.QUEUE
                or not result.instructions or not isinstance(result.instructions[-1], ins.Enqueue)):
            return result
        for _hop in range(len(bundle.routing.queues)):  # overflow chains end: no queue is visited twice
            queue = bundle.routing.queues.get((result.state.routing or {}).get("queue", ""))
            if queue is None or queue.when_no_agents == "wait" or self.router.signed_in() > 0:
                return result
            if queue.when_no_agents == "callback":
                return self._callback_instead(result)
            if not queue.when_no_agents.startswith("queue:"):
                follow = step(bundle, result.state, QueueEnded(self.clock(), "leave"))
                kept = result.instructions[:-1]
                # the queue node's own prompt ("please hold...") would be wrong now: drop it
                node = bundle.flows[result.state.flow].nodes.get(result.state.node)
                held = len(node.body.prompt) if node is not None and hasattr(node.body, "prompt") else 0
                while held and kept and isinstance(kept[-1], (ins.Say, ins.Play, ins.Pause)):
                    kept.pop()
                    held -= 1
                return StepResult(follow.state, kept + follow.instructions,
                                  result.log + [{**follow.log[0], "reason": "no agents signed in"}] + follow.log[1:])
            target = queue.when_no_agents[len("queue:"):]
            request = dict(result.state.routing or {}, queue=target)
            result.state.routing = request
            result.instructions[-1] = ins.Enqueue(ins.RoutingRequest.from_dict(request))
            result.log.append({"flow": result.state.flow, "node": result.state.node, "kind": "queue",
                               "outcome": "overflow", "queue": target, "reason": "no agents signed in",
                               "at": self.clock().timestamp()})
        return result

    def _callback_instead(self, result: StepResult) -> StepResult:
        """``when_no_agents: callback``: the caller is told they will be called back and the call ends; the
        request is made by :meth:`_route` once the session is saved."""
        kept = result.instructions[:-1]
        while kept and isinstance(kept[-1], (ins.Say, ins.Play, ins.Pause)):  # "please hold" would be wrong now
            kept.pop()
        state = result.state
        state.routing = dict(state.routing or {}, callback=True)
        state.waiting, state.disposition = Waiting.ENDED, Disposition.CALLBACK
        step_log = {"flow": state.flow, "node": state.node, "kind": "queue", "outcome": "callback",
                    "queue": state.routing.get("queue"), "reason": "no agents signed in",
                    "at": self.clock().timestamp()}
        return StepResult(state, kept + [ins.Say(CALLBACK_GOODBYE), ins.Hangup()], result.log + [step_log])

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
        self.offered(self.router.callback_answered(callback_id, call_sid, int(now.timestamp() * 1000)))
        return twiml

    def _route(self, call_sid: str, state: CallState, bundle: Bundle) -> None:
        """A call that just entered an agent queue is handed to the distributor (when queues are configured)."""
        if (self.router is not None and bundle.routing is not None and state.ended
                and (state.routing or {}).get("callback") and self.router.call_state(call_sid) is None):
            self._request_callback(call_sid, state, bundle)
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
        if self.on_queued is not None:
            self.on_queued(call_sid, queue)

    def _request_callback(self, call_sid: str, state: CallState, bundle: Bundle) -> None:
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
        if request_callback(self.sessions.redis, call_sid, state.to_dict(), session.base_url if session else None) \
                is None:
            log.warning("call %s asked for a callback that could not be recorded", call_sid)

    def _wrap_up(self, call_sid: str, version: int, now_ms: int) -> None:
        """The agent's call is over: wrap-up time (from queues.yaml), then available again."""
        assert self.router is not None
        agent_id = self.router.assigned_agent(call_sid)
        routing = self.repo.bundle(version).routing
        seconds = routing.wrap_up if routing is not None else 0
        if agent_id is not None and seconds > 0 and self.router.status(agent_id)[0] is AgentStatus.AVAILABLE:
            self.router.set_status(agent_id, AgentStatus.WRAP_UP, now_ms)
            if self.on_wrap_up is not None:
                self.on_wrap_up(agent_id, seconds)
        self.offered(self.router.finish(call_sid, now_ms))

    def offer_ended(self, offer: Offer, outcome: str) -> None:
        """Record on the call's log that an offer ended without being accepted (declined, timeout)."""
        try:
            self.calllog.routing_step(offer.call_sid, outcome, offer.agent, self.clock().timestamp())
        except Exception:
            log.exception("could not log the end of offer %s", offer.reservation)

    def offered(self, offer: Offer | None) -> None:
        """Record a new offer on the call's log and schedule its expiry; None is ignored."""
        if offer is None:
            return
        try:
            self.calllog.add_steps(offer.call_sid, [{"flow": "", "node": "", "kind": "routing", "outcome": "offered",
                                                     "agent": offer.agent, "at": self.clock().timestamp()}])
        except Exception:
            log.exception("could not log the offer of %s", offer.call_sid)
        if self.on_offer is not None:
            try:
                self.on_offer(offer)
            except Exception:  # the offer stands; its timeout is also swept by the worker
                log.exception("could not schedule the expiry of offer %s", offer.reservation)


    def _session_and_version(self, call_sid: str) -> tuple[Session | None, int | None]:
        """The call's session (a retried webhook) and the live flow version, in one round trip."""
        pipe = self.sessions.redis.pipeline(transaction=False)
        pipe.hgetall(keys.session(call_sid))
        pipe.get(keys.FLOWS_CURRENT)
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
                done = self._perform(request, min(request.timeout, remaining))
            follow = step(bundle, result.state, done)
            instructions.extend(follow.instructions)
            logs.extend(follow.log)
            result = follow
        if not instructions:
            raise EngineError("the flow produced nothing to say or do")
        return StepResult(result.state, instructions, logs)

    def _perform(self, request: ins.Lookup, timeout: float) -> LookupDone:
        began = time.monotonic()
        try:
            response = self.http.request(request.method, request.url, params=request.params or None,
                                         json=request.json, headers=request.headers, timeout=timeout,
                                         allow_redirects=False, stream=True)
            body = response.raw.read(MAX_LOOKUP_BYTES + 1, decode_content=True) if response.raw else b""
            response.close()
        except requests.RequestException as e:
            log.warning("lookup %s %s failed: %s", request.method, request.url, e)
            return LookupDone(self.clock(), None, error=type(e).__name__)
        elapsed_ms = int((time.monotonic() - began) * 1000)
        if len(body) > MAX_LOOKUP_BYTES:
            return LookupDone(self.clock(), None, error="response too large")
        data = None
        if body:
            try:
                import json
                data = json.loads(body)
            except ValueError:
                if 200 <= response.status_code < 300:
                    return LookupDone(self.clock(), None, error="response is not JSON")
        log.info("lookup %s %s -> %s in %d ms", request.method, request.url, response.status_code, elapsed_ms)
        return LookupDone(self.clock(), response.status_code, data)
