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

from ivr import instructions as ins
from ivr import keys
from ivr.calllog import MAX_STEPS, CallLog
from ivr.engine import CallState, Disposition, StepResult, Waiting, new_call, step
from ivr.errors import EngineError, SessionError, StoreError
from ivr.events import CallStarted, Event, LookupDone
from ivr.flowrepo import FlowRepository
from ivr.jobs import stage_finished
from ivr.sessions import Session, SessionStore, decode

log = logging.getLogger(__name__)

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
                 on_closed: Callable[[], None] | None = None):
        self.on_closed = on_closed
        self.repo = repo
        self.sessions = sessions
        self.calllog = calllog
        self.http = http or requests.Session()
        self.clock = clock or (lambda: datetime.now(timezone.utc))

    # -- public API ----------------------------------------------------------------------------------------------
    def start(self, call_sid: str, caller: str, called: str, render: Renderer) -> str:
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
        twiml = render(result.instructions, 1)
        # One round trip: the session (create-if-absent), the call's record and its first steps.
        pipe = self.sessions.redis.pipeline(transaction=False)
        self.sessions.create(call_sid, Session(1, result.state.to_dict(), twiml), pipe=pipe)
        self.calllog.start(call_sid, caller=caller, called=called, flow=result.state.flow, version=version,
                           started_at=now.timestamp(), pipe=pipe)
        self.calllog.add_steps(call_sid, result.log, pipe=pipe)
        created = self._execute(pipe)[0]
        if not created:
            existing = self.sessions.load(call_sid)
            if existing is None:
                raise SessionError(f"session {call_sid} could not be created")
            return self._replay(existing, render)  # a concurrent retry won the race
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
        result = self._advance(bundle, state, make_event(self.clock()))
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
        if must_queue_count and self.on_closed is not None:
            try:
                self.on_closed()
            except Exception:  # counted later: the SID stays on the list until a job counts it
                log.exception("could not queue the counting job after %s", call_sid)

    # -- internals -----------------------------------------------------------------------------------------------
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

    # -- internals -----------------------------------------------------------------------------------------------
    def _advance(self, bundle: Any, state: CallState, event: Event) -> StepResult:
        result = step(bundle, state, event)
        instructions = list(result.instructions)
        logs = list(result.log)
        started = time.monotonic()
        lookups = 0
        while instructions and isinstance(instructions[-1], ins.Lookup):
            request = instructions.pop()
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
