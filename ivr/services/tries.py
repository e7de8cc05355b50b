"""Trying a flow without a phone: one simulated call per try, played by a person in the browser.

A try runs in a *sandbox*: another logical Redis database of the same server, with its own flow versions, call
sessions, call log and queues, so nothing of it reaches the live system (no call-log entry, no call offered to a
real agent, the live version unchanged). The call itself is the real simulator (:class:`~ivr.simulator.Simulator`)
following the real webhooks' TwiML, in a background thread of the web process that started the try.

Every web process may serve the browser's next request, so everything between the browser and that thread goes
through Redis: the thread pushes what happens (prompts said, the caller's turn, the end) to an event list that any
process reads with a cursor, and the caller's keys and typed phrases are pushed to an input list the thread pops
(those records are :class:`~ivr.store.tries.TryStore`).

At a speech prompt a typed phrase is what the recognizer heard: it is stored as the prompt's
:class:`~speech.recognizer.Result` through :class:`~ivr.store.listening.ListenStore` before the simulator opens the media
stream (which then closes at once: the prompt is answered), and the ``<Connect action>`` webhook feeds it to the
engine exactly as a recognized answer, so the flow's own intent matching applies.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import redis as redis_lib

from ivr.services.publishing import FlowRepository
from ivr.simulator import HANGUP, CallEvent, GatherInfo, HttpTransport, Simulator
from ivr.simulator.transport import HttpResponse
from ivr.store.listening import ListenStore
from ivr.store.tries import KEEP_AFTER_END, InputKind, TryError, TryInput, TryState, TryStore
from routing.acd import Distributor
from speech.recognizer import Outcome, Result, normalize

log = logging.getLogger(__name__)

#: Longest wait for another try's "publish + first webhook" (see :class:`TryRunner`).
PUBLISH_LOCK_WAIT = 20.0


@dataclass
class SandboxRouter(Distributor):
    """The sandbox's distributor: its own queues, where no agent is ever offered a call (none signs in there), but
    as many agents signed in as the live system has, so a queue's ``when_no_agents`` acts as it would live."""

    live: Distributor | None = field(default=None, repr=False)

    def signed_in(self) -> int:
        return self.live.signed_in() if self.live is not None else 0


class TryCaller:
    """The simulator's caller in a try: each turn is asked of the person in the browser (through Redis)."""

    def __init__(self, store: TryStore, try_id: str, owner: str, listening: ListenStore,
                 speech_served: Callable[[str], bool], stop: threading.Event):
        self.store = store
        self.try_id = try_id
        self.owner = owner
        self.listening = listening
        self.speech_served = speech_served
        self.stop = stop
        self.stream: dict[str, str] | None = None  # the media stream parameters of the current speech prompt
        self.answer: dict[str, Any] | None = None  # what the caller did at the current speech prompt
        self.end_reason = ""

    # -- the Caller protocol -------------------------------------------------------------------------------------
    def gather(self, info: GatherInfo) -> str | None:
        stream = self.stream if "speech" in info.input else None
        self.stream = None
        if stream is None:
            return self._keys_prompt(info)
        return self._speech_prompt(info, stream)

    def dial_status(self, target: str) -> str:
        return "completed"

    def queue_result(self, queue: str) -> str:
        self._waiting("queue", queue=queue)
        while True:
            value = self._next_input()
            if value is None or value.kind is InputKind.HANGUP:
                return "hangup"
            if value.kind is InputKind.AGENT:
                self.store.push_event(self.try_id, "agent-answered", queue=queue)
                return "bridged"

    def recording(self) -> tuple[int, str]:
        return 10, "#"

    # -- turns ---------------------------------------------------------------------------------------------------
    def _keys_prompt(self, info: GatherInfo) -> str | None:
        self._waiting("keys", num_digits=info.num_digits, finish_on_key=info.finish_on_key)
        while True:
            value = self._next_input()
            if value is None or value.kind is InputKind.HANGUP:
                return HANGUP
            if value.kind is InputKind.KEYS:
                return value.value
            if value.kind is InputKind.SILENCE:
                return None
            # a phrase at a keys-only prompt, or an agent when nobody queues: not this turn's input

    def _speech_prompt(self, info: GatherInfo, stream: dict[str, str]) -> str | None:
        call_sid, seq = stream.get("call_sid", ""), int(stream.get("seq", "0") or 0)
        turn = self.listening.turn(call_sid, seq)
        if turn is not None:
            for part in turn.prompts:  # the prompt is played into the stream: show its words
                if "say" in part:
                    self.store.push_event(self.try_id, "say", text=part["say"], language=part.get("language"))
        language = turn.listen.language if turn is not None else "en-US"
        self._waiting("speech", num_digits=turn.listen.max_digits if turn else None,
                      finish_on_key=turn.listen.finish_key if turn else "", language=language,
                      model=self.speech_served(language))
        while True:
            value = self._next_input()
            if value is None or value.kind is InputKind.HANGUP:
                return HANGUP
            if value.kind in (InputKind.KEYS, InputKind.SAY, InputKind.SILENCE):
                break
        result = typed_result(value, turn.listen.phrases if turn else (), turn.listen.max_digits if turn else None,
                              turn.listen.finish_key if turn else "")
        self.listening.put_heard(call_sid, seq, result)
        self.answer = {"phrase": value.value} if value.kind is InputKind.SAY else \
            {"keys": result.digits} if value.kind is InputKind.KEYS else {"silence": True}
        return None  # the stream opens, finds its answer stored, and closes: Twilio then requests the action

    def _waiting(self, kind: str, **data: Any) -> None:
        self.store.update(self.try_id, waiting=kind, state=TryState.RUNNING.value)
        self.store.push_event(self.try_id, "waiting", input=kind, **data)

    def _next_input(self) -> TryInput | None:
        """The browser's next input; None when the try must end (idle, process stopping)."""
        deadline = time.monotonic() + self.store.idle_timeout
        while time.monotonic() < deadline:
            if self.stop.is_set():
                self.end_reason = "the server stopped"
                return None
            self.store.heartbeat(self.try_id)
            value = self.store.pop_input(self.try_id)
            if value is not None:
                self.store.update(self.try_id, waiting="")
                self.store.touch_owner(self.try_id, self.owner)
                if value.kind is InputKind.HANGUP:
                    self.end_reason = "you hung up"
                return value
        idle = self.store.idle_timeout
        self.end_reason = f"nothing happened for {idle // 60} minutes" if idle >= 120 else \
            f"nothing happened for {idle} seconds"
        return None


def typed_result(value: TryInput, phrases: tuple[str, ...] | list[str], max_digits: int | None,
                 finish_key: str) -> Result:
    """What a speech prompt's recognizer would have stored for this input: a phrase of the prompt's grammar is a
    match (with full confidence: it was typed), other words are heard but match no phrase, keys are collected as
    on the stream (up to ``max_digits`` or the finish key), nothing is silence."""
    if value.kind is InputKind.SAY:
        wanted = normalize(value.value)
        phrase = next((p for p in phrases if normalize(p) == wanted), None)
        if phrase is not None:
            return Result(Outcome.MATCH, text=wanted, phrase=phrase, confidence=1.0)
        return Result(Outcome.NO_MATCH, text=wanted, confidence=1.0)
    if value.kind is InputKind.KEYS:
        digits = ""
        for key in value.value:
            if finish_key and key == finish_key:
                break
            digits += key
            if max_digits and len(digits) >= max_digits:
                break
        return Result(Outcome.DTMF, digits=digits)
    return Result(Outcome.NO_INPUT)


class _PinningTransport(HttpTransport):
    """HTTP to the sandbox app that releases the publish lock once the incoming-call webhook has answered: from
    then on the call is pinned to the version it started on, whatever another try publishes."""

    def __init__(self, base_url: str, lock: Any):
        super().__init__(base_url)
        self.lock = lock

    def post(self, url: str, params: dict[str, str], headers: dict[str, str]) -> HttpResponse:
        try:
            return super().post(url, params, headers)
        finally:
            self.release()

    def release(self) -> None:
        if self.lock is not None:
            try:
                self.lock.release()
            except redis_lib.exceptions.LockError:  # expired meanwhile: nothing to release
                pass
            self.lock = None


#: Simulator events worth showing, as the browser's event kinds (the others are plumbing).
_SHOWN = {"say": "say", "play": "play", "enqueue": "queued", "hold": "hold", "dial": "transfer",
          "record": "voicemail", "hangup": "ivr-hangup", "caller-hangup": "caller-hangup", "error": "error"}


@dataclass
class TryRunner:
    """Runs one try's call to its end: publishes the bundle in the sandbox, places the call through the sandbox
    app at ``base_url`` (signed with ``auth_token``), and records what happens for the browser."""

    store: TryStore
    repo: FlowRepository
    listening: ListenStore
    base_url: str
    auth_token: str
    speech_served: Callable[[str], bool]
    stop: threading.Event

    def run(self, try_id: str, owner: str, sources: Mapping[str, str], caller_number: str, called: str) -> None:
        caller = TryCaller(self.store, try_id, owner, self.listening, self.speech_served, self.stop)
        call_sid = "CA" + secrets.token_hex(16)
        outcome = "error"
        version: int | None = None
        transport: _PinningTransport | None = None
        try:
            lock = self.store.publish_lock(timeout=30, blocking_timeout=PUBLISH_LOCK_WAIT)
            if not lock.acquire():
                raise TryError("the sandbox is busy starting other tries: try again in a moment")
            transport = _PinningTransport(self.base_url, lock)
            version = self.repo.store.publish(sources, self.repo.validate, author=owner, message=f"try {try_id}")
            self.store.keep_version(version)  # reused by this try: kept while it runs
            self.repo.apply_routing_settings(version)
            self.store.update(try_id, call_sid=call_sid, sandbox_version=version, state=TryState.RUNNING.value)
            self.store.push_event(try_id, "started", call_sid=call_sid, caller=caller_number, called=called)
            sim = Simulator(transport, self.auth_token)
            result = sim.place_call(caller_number, called, caller, call_sid=call_sid,
                                    on_event=lambda event: self._on_event(try_id, caller, event))
            outcome = result.outcome
        except Exception as e:  # the browser must learn the try is over, whatever broke
            log.exception("try %s failed", try_id)
            self.store.push_event(try_id, "error", message=str(e) or type(e).__name__)
        finally:
            if transport is not None:
                transport.release()
            try:
                if version is not None:  # the sandbox keeps no version for long: each try publishes its own
                    self.store.expire_version(version, KEEP_AFTER_END)
                self.store.push_event(try_id, "ended", outcome=outcome, reason=caller.end_reason)
                self.store.end(try_id, owner)
            except redis_lib.RedisError:  # Redis gone: the keys expire, the page sees the heartbeat stop
                log.exception("try %s: could not record its end", try_id)

    def _on_event(self, try_id: str, caller: TryCaller, event: CallEvent) -> None:
        data = event.data
        self.store.heartbeat(try_id)
        if event.kind == "stream":
            caller.stream = dict(data.get("parameters") or {})
        elif event.kind == "input":
            answer, caller.answer = caller.answer, None
            if answer is not None:  # a speech prompt: what was typed, not what went over the stream
                self.store.push_event(try_id, "caller", **answer)
            elif data.get("digits"):
                self.store.push_event(try_id, "caller", keys=data["digits"])
            else:
                self.store.push_event(try_id, "caller", silence=True)
        elif event.kind in _SHOWN:
            shown = {k: v for k, v in data.items() if isinstance(v, (str, int, float, bool)) or v is None}
            self.store.push_event(try_id, _SHOWN[event.kind], **shown)
