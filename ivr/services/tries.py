"""Trying a flow without a phone: one simulated call per try, played by a person in the browser.

A try runs in a *sandbox*: another logical Redis database of the same server, with its own flow versions, call
sessions, call log and queues, so nothing of it reaches the live system (no call-log entry, no call offered to a
real agent, the live version unchanged). The call itself is the real simulator (:class:`~ivr.simulator.Simulator`)
following the real webhooks' TwiML, in a background thread of the web process that started the try.

Every web process may serve the browser's next request, so everything between the browser and that thread goes
through Redis: the thread pushes what happens (prompts said, the caller's turn, the end) to an event list that any
process reads with a cursor, and the caller's keys and typed phrases are pushed to an input list the thread pops.

At a speech prompt a typed phrase is what the recognizer heard: it is stored as the prompt's
:class:`~speech.recognizer.Result` through :class:`~ivr.store.listening.ListenStore` before the simulator opens the media
stream (which then closes at once: the prompt is answered), and the ``<Connect action>`` webhook feeds it to the
engine exactly as a recognized answer, so the flow's own intent matching applies.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable, Mapping

import redis as redis_lib

from ivr.errors import IvrError
from ivr.services.publishing import FlowRepository
from ivr.simulator import HANGUP, CallEvent, GatherInfo, HttpTransport, Simulator
from ivr.simulator.transport import HttpResponse
from ivr.store import keys
from ivr.store.listening import ListenStore
from routing.acd import Distributor
from speech.recognizer import Outcome, Result, normalize

log = logging.getLogger(__name__)

#: A try nobody acts on for this long hangs up (and frees its place in the supervisor's limit).
IDLE_TIMEOUT = 600
#: Tries one supervisor may have running at once.
MAX_TRIES_PER_OWNER = 5
#: How long a try's events and settings stay readable after it ended.
KEEP_AFTER_END = 3600
#: The thread proves it is alive this often; a try whose thread is gone (its process stopped) reads as ended.
HEARTBEAT_TTL = 30
#: Longest wait for another try's "publish + first webhook" (see :class:`TryRunner`).
PUBLISH_LOCK_WAIT = 20.0
MAX_KEYS = 32
MAX_PHRASE = 200
MAX_EVENTS = 2000

# KEYS[1] = the owner's sorted set of running tries (score: when each expires). ARGV: now, expires, limit, try id,
# ttl. Adds the try unless the owner already has ``limit`` tries that have not expired; 1 if added, else 0.
_CLAIM = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


class TryError(IvrError):
    """A try cannot start or take this input (limit reached, ended, wrong kind of input): the message says why."""


class TryState(str, Enum):
    STARTING = "starting"
    RUNNING = "running"
    ENDED = "ended"


class InputKind(str, Enum):
    """What the person playing the caller does: press keys, say a phrase, stay silent, hang up, or (when the
    caller waits in a queue) have an agent answer."""

    KEYS = "keys"
    SAY = "say"
    SILENCE = "silence"
    HANGUP = "hangup"
    AGENT = "agent"


@dataclass(frozen=True)
class TryInput:
    kind: InputKind
    value: str = ""

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> "TryInput":
        """``{"kind": "keys", "keys": "12#"}``, ``{"kind": "say", "text": "my bill"}``, ``{"kind": "silence"}``,
        ``{"kind": "hangup"}`` or ``{"kind": "agent"}``; :class:`ValueError` says what is wrong."""
        try:
            kind = InputKind(str(data.get("kind", "")))
        except ValueError:
            raise ValueError("'kind' must be one of " + ", ".join(k.value for k in InputKind)) from None
        if kind is InputKind.KEYS:
            keys = str(data.get("keys", ""))
            if not keys or len(keys) > MAX_KEYS or any(ch not in "0123456789*#" for ch in keys):
                raise ValueError(f"'keys' must be 1 to {MAX_KEYS} of 0-9, * and #")
            return cls(kind, keys)
        if kind is InputKind.SAY:
            text = " ".join(str(data.get("text", "")).split())
            if not text or len(text) > MAX_PHRASE or not text.isprintable():
                raise ValueError(f"'text' must be a phrase of 1 to {MAX_PHRASE} printable characters")
            return cls(kind, text)
        return cls(kind)

    def to_json(self) -> str:
        return json.dumps({"kind": self.kind.value, "value": self.value})

    @classmethod
    def from_json(cls, raw: str | bytes) -> "TryInput":
        data = json.loads(raw)
        return cls(InputKind(data["kind"]), data.get("value", ""))


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class TryStore:
    """A try's settings, events and inputs in the sandbox database; ``redis`` is the sandbox client."""

    def __init__(self, redis: redis_lib.Redis, idle_timeout: int = IDLE_TIMEOUT,
                 max_per_owner: int = MAX_TRIES_PER_OWNER):
        self.redis = redis
        self.idle_timeout = idle_timeout
        self.max_per_owner = max_per_owner
        self.ttl = idle_timeout + KEEP_AFTER_END
        self._claim = redis.register_script(_CLAIM)

    def create(self, owner: str, fields: Mapping[str, str]) -> str:
        """A new try for ``owner`` (:class:`TryError` when they already have the most tries allowed)."""
        try_id = secrets.token_urlsafe(12)
        now = time.time()
        if not self._claim(keys=[keys.try_owner(owner)], args=[now, now + self.idle_timeout, self.max_per_owner,
                                                            try_id, self.ttl]):
            raise TryError(f"you already have {self.max_per_owner} tries running: hang one up (or let it end "
                           f"after {self.idle_timeout // 60} idle minutes) and start again")
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(keys.try_meta(try_id), mapping={**fields, "owner": owner, "state": TryState.STARTING.value,
                                             "created_at": now})
        pipe.expire(keys.try_meta(try_id), self.ttl)
        pipe.set(keys.try_alive(try_id), 1, ex=HEARTBEAT_TTL)
        pipe.execute()
        return try_id

    def meta(self, try_id: str) -> dict[str, str] | None:
        raw = self.redis.hgetall(keys.try_meta(try_id))
        return {_text(k): _text(v) for k, v in raw.items()} if raw else None

    def update(self, try_id: str, **fields: Any) -> None:
        self.redis.hset(keys.try_meta(try_id), mapping={k: v for k, v in fields.items()})

    def push_event(self, try_id: str, kind: str, **data: Any) -> None:
        """Append one event (``kind`` plus its data) and keep the try's keys alive."""
        event = json.dumps({"kind": kind, "at": time.time(), **data}, default=str)
        pipe = self.redis.pipeline(transaction=False)
        pipe.rpush(keys.try_events(try_id), event)
        pipe.ltrim(keys.try_events(try_id), 0, MAX_EVENTS - 1)
        for key in (keys.try_events(try_id), keys.try_meta(try_id)):
            pipe.expire(key, self.ttl)
        pipe.publish(keys.try_channel(try_id), "1")
        pipe.execute()

    def events(self, try_id: str, after: int = 0) -> list[dict[str, Any]]:
        """Events from index ``after`` on (the cursor is the number of events already read)."""
        return [json.loads(raw) for raw in self.redis.lrange(keys.try_events(try_id), after, -1)]

    def wait_events(self, try_id: str, after: int, timeout: float) -> list[dict[str, Any]]:
        """Events from index ``after`` on, waiting up to ``timeout`` seconds for one when there is none yet."""
        found = self.events(try_id, after)
        if found or timeout <= 0:
            return found
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(keys.try_channel(try_id))
            deadline = time.monotonic() + timeout
            while not found and time.monotonic() < deadline:  # subscribed before this read: nothing is missed
                found = self.events(try_id, after)
                if not found:
                    pubsub.get_message(timeout=min(1.0, max(0.0, deadline - time.monotonic())))
        finally:
            pubsub.close()
        return found

    def push_input(self, try_id: str, value: TryInput) -> None:
        pipe = self.redis.pipeline(transaction=False)
        pipe.rpush(keys.try_input(try_id), value.to_json())
        pipe.expire(keys.try_input(try_id), self.ttl)
        pipe.execute()

    def pop_input(self, try_id: str, timeout: int = 1) -> TryInput | None:
        """The next input, waiting up to ``timeout`` seconds (kept below the client's socket timeout)."""
        popped = self.redis.blpop([keys.try_input(try_id)], timeout=timeout)
        return TryInput.from_json(popped[1]) if popped else None

    def heartbeat(self, try_id: str) -> None:
        self.redis.set(keys.try_alive(try_id), 1, ex=HEARTBEAT_TTL)

    def alive(self, try_id: str) -> bool:
        return bool(self.redis.exists(keys.try_alive(try_id)))

    def touch_owner(self, try_id: str, owner: str) -> None:
        """Activity: the try's place in its owner's limit lasts another idle timeout."""
        self.redis.zadd(keys.try_owner(owner), {try_id: time.time() + self.idle_timeout}, xx=True)

    def end(self, try_id: str, owner: str) -> None:
        pipe = self.redis.pipeline(transaction=False)
        pipe.hset(keys.try_meta(try_id), mapping={"state": TryState.ENDED.value, "waiting": ""})
        pipe.zrem(keys.try_owner(owner), try_id)
        pipe.delete(keys.try_input(try_id), keys.try_alive(try_id))
        pipe.execute()


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
            lock = self.store.redis.lock(keys.TRY_PUBLISH_LOCK, timeout=30, blocking_timeout=PUBLISH_LOCK_WAIT)
            if not lock.acquire():
                raise TryError("the sandbox is busy starting other tries: try again in a moment")
            transport = _PinningTransport(self.base_url, lock)
            version = self.repo.store.publish(sources, self.repo.validate, author=owner, message=f"try {try_id}")
            self.store.redis.persist(keys.flows_version(version))  # reused by this try: kept while it runs
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
                    self.store.redis.expire(keys.flows_version(version), KEEP_AFTER_END)
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
