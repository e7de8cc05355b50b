"""A try of a flow in Redis: its settings, events and the caller's inputs, in the sandbox database (keys ``try_*``).

What a try *does* (the simulated call, the browser's caller) is :mod:`ivr.services.tries`; this module only keeps
its records, the per-supervisor limit (a Lua claim on a sorted set) and the value types that go through Redis.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from enum import Enum
from typing import Any, Mapping

import redis as redis_lib
from redis.lock import Lock

from ivr.errors import IvrError
from ivr.store import keys

#: A try nobody acts on for this long hangs up (and frees its place in the supervisor's limit).
IDLE_TIMEOUT = 600
#: Tries one supervisor may have running at once.
MAX_TRIES_PER_OWNER = 5
#: How long a try's events and settings stay readable after it ended.
KEEP_AFTER_END = 3600
#: The thread proves it is alive this often; a try whose thread is gone (its process stopped) reads as ended.
HEARTBEAT_TTL = 30
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
    """Where a try is: its thread starting the call, the call running, or over."""

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
    """One thing the caller does, as it waits in the try's input list: its kind, and the keys or phrase."""

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
        """The input as stored in the input list."""
        return json.dumps({"kind": self.kind.value, "value": self.value})

    @classmethod
    def from_json(cls, raw: str | bytes) -> "TryInput":
        """An input read back from the input list."""
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
        """The try's settings and state (``owner``, ``state``, ``waiting``, ``call_sid``, ...); None when unknown."""
        raw = self.redis.hgetall(keys.try_meta(try_id))
        return {_text(k): _text(v) for k, v in raw.items()} if raw else None

    def update(self, try_id: str, **fields: Any) -> None:
        """Set fields of the try's settings and state."""
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
        """Queue one input of the caller for the try's thread."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.rpush(keys.try_input(try_id), value.to_json())
        pipe.expire(keys.try_input(try_id), self.ttl)
        pipe.execute()

    def pop_input(self, try_id: str, timeout: int = 1) -> TryInput | None:
        """The next input, waiting up to ``timeout`` seconds (kept below the client's socket timeout)."""
        popped = self.redis.blpop([keys.try_input(try_id)], timeout=timeout)
        return TryInput.from_json(popped[1]) if popped else None

    def heartbeat(self, try_id: str) -> None:
        """The try's thread is alive: its heartbeat lasts another :data:`HEARTBEAT_TTL` seconds."""
        self.redis.set(keys.try_alive(try_id), 1, ex=HEARTBEAT_TTL)

    def alive(self, try_id: str) -> bool:
        """Whether the try's thread still beats (false once it ended or its process stopped)."""
        return bool(self.redis.exists(keys.try_alive(try_id)))

    def touch_owner(self, try_id: str, owner: str) -> None:
        """Activity: the try's place in its owner's limit lasts another idle timeout."""
        self.redis.zadd(keys.try_owner(owner), {try_id: time.time() + self.idle_timeout}, xx=True)

    def end(self, try_id: str, owner: str) -> None:
        """Mark the try ended, free its place in its owner's limit, and drop its inputs and heartbeat."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hset(keys.try_meta(try_id), mapping={"state": TryState.ENDED.value, "waiting": ""})
        pipe.zrem(keys.try_owner(owner), try_id)
        pipe.delete(keys.try_input(try_id), keys.try_alive(try_id))
        pipe.execute()

    # -- the sandbox's own records, as a try uses them ---------------------------------------------------------
    def publish_lock(self, timeout: int, blocking_timeout: float) -> Lock:
        """The lock held from a try's publish to its call's first webhook (not acquired yet)."""
        return self.redis.lock(keys.TRY_PUBLISH_LOCK, timeout=timeout, blocking_timeout=blocking_timeout)

    def keep_version(self, version: int) -> None:
        """The sandbox's flow ``version`` stays while the try that published it runs (no expiry)."""
        self.redis.persist(keys.flows_version(version))

    def expire_version(self, version: int, seconds: int) -> None:
        """The sandbox's flow ``version`` expires ``seconds`` from now (its try is over)."""
        self.redis.expire(keys.flows_version(version), seconds)

    def call_steps(self, call_sid: str, after: int = 0) -> list[Any]:
        """The steps of the sandbox call ``call_sid`` in its call log, from index ``after`` on."""
        return [json.loads(item) for item in self.redis.lrange(keys.call_steps(call_sid), after, -1)]


