"""Running calls: sessions + pinned flow versions + the step function + lookups + the call log.

This is the engine's edge towards storage and the network; the HTTP layer (``webhooks``) turns Twilio requests
into calls on :class:`CallService` and the engine's instructions into TwiML.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from typing import Any, Callable, Protocol

import requests

from ivr import instructions as ins
from ivr.calllog import CallLog
from ivr.engine import CallState, Disposition, StepResult, Waiting, new_call, step
from ivr.errors import EngineError, SessionError
from ivr.events import CallStarted, Event, LookupDone
from ivr.flowrepo import FlowRepository
from ivr.sessions import SessionStore

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
                 on_closed: Callable[[str], None] | None = None):
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
        existing = self.sessions.load(call_sid)
        if existing is not None:  # Twilio retried the incoming webhook: answer the same again
            return self._replay(existing, render)
        version, bundle = self.repo.current()
        now = self.clock()
        result = self._advance(bundle, new_call(version, call_sid), CallStarted(now, caller, called, call_sid))
        self.calllog.start(call_sid, caller=caller, called=called, flow=result.state.flow, version=version,
                           started_at=now.timestamp())
        self._log_steps(call_sid, result)
        twiml = render(result.instructions, 1)
        try:
            self.sessions.create(call_sid, {"state": result.state.to_dict(), "seq": 1, "twiml": twiml})
        except SessionError:
            existing = self.sessions.load(call_sid)
            if existing is None:
                raise
            return self._replay(existing, render)  # a concurrent retry won the race
        return twiml

    def advance(self, call_sid: str, seq: int, make_event: Callable[[datetime], Event], render: Renderer) -> str:
        """Feed an event to a running call. A stale ``seq`` (replayed or out-of-date action URL) gets the
        previous answer again instead of advancing the call twice."""
        record = self.sessions.load(call_sid)
        if record is None:
            raise SessionError(f"no session for call {call_sid}")
        if seq != record.get("seq"):
            return self._replay(record, render)
        state = CallState.from_dict(record["state"])
        bundle = self.repo.bundle(state.version)
        result = self._advance(bundle, state, make_event(self.clock()))
        twiml = render(result.instructions, seq + 1)
        if not self.sessions.save(call_sid, {"state": result.state.to_dict(), "seq": seq + 1, "twiml": twiml},
                                  expected_seq=seq):
            latest = self.sessions.load(call_sid)
            if latest is None:
                raise SessionError(f"session for call {call_sid} vanished")
            return self._replay(latest, render)
        self._log_steps(call_sid, result)
        return twiml

    def session(self, call_sid: str) -> CallState | None:
        record = self.sessions.load(call_sid)
        return CallState.from_dict(record["state"]) if record else None

    def status(self, call_sid: str, status: str, duration: int) -> None:
        """A status callback (any order, possibly duplicated): close the call record when it is final."""
        if status not in ("completed", "busy", "failed", "no-answer", "canceled"):
            return
        record = self.sessions.load(call_sid)
        disposition = None
        if record is not None:
            state = CallState.from_dict(record["state"])
            disposition = state.disposition
            if not state.ended and disposition is None:
                disposition = Disposition.ABANDONED
            elif not state.ended and disposition is Disposition.QUEUED and state.waiting is Waiting.QUEUE:
                disposition = Disposition.ABANDONED
            self.sessions.close(call_sid)
        self.calllog.finish(call_sid, status=status, disposition=(disposition.value if disposition else None),
                            duration=duration, ended_at=self.clock().timestamp())
        if self.on_closed is not None:
            try:
                self.on_closed(call_sid)
            except Exception:  # statistics are derived later from the log; never fail the callback for them
                log.exception("could not queue the end-of-call job for %s", call_sid)

    # -- internals -----------------------------------------------------------------------------------------------
    def _replay(self, record: dict[str, Any], render: Renderer) -> str:
        twiml = record.get("twiml")
        if twiml:
            return twiml
        state = CallState.from_dict(record["state"])
        return render([ins.Hangup()] if state.ended else [ins.Pause(1)], int(record.get("seq", 0)))

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

    def _log_steps(self, call_sid: str, result: StepResult) -> None:
        for entry in result.log:
            try:
                self.calllog.add_step(call_sid, entry)
            except Exception:  # the call log must never break a call
                log.exception("could not log a step of %s", call_sid)
