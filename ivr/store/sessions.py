"""Call sessions in Redis: one hash per live call (``seq``, engine ``state`` as JSON, last ``twiml`` answer),
with a TTL, updated compare-and-set on ``seq`` so a replayed or concurrent webhook never advances a call twice."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Sequence

import redis as redis_lib

from ivr.errors import SessionError
from ivr.store import keys

# KEYS[1] = session hash, KEYS[2] = (optional) list extended in the same step (the call's step log).
# ARGV[1] = expected seq, ARGV[2] = new seq, ARGV[3] = state JSON, ARGV[4] = twiml, ARGV[5] = ttl,
# ARGV[6] = list ttl, ARGV[7] = list max length, ARGV[8..] = items appended to KEYS[2].
# Saves only when the stored seq equals ARGV[1]; returns 1 when saved, 0 on conflict or when the session is gone.
_SAVE_IF_SEQ = """
if redis.call('HGET', KEYS[1], 'seq') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'seq', ARGV[2], 'state', ARGV[3], 'twiml', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
if #KEYS > 1 and #ARGV > 7 then
  redis.call('RPUSH', KEYS[2], unpack(ARGV, 8))
  redis.call('LTRIM', KEYS[2], -tonumber(ARGV[7]), -1)
  redis.call('EXPIRE', KEYS[2], ARGV[6])
end
return 1
"""

# KEYS[1] = session hash. ARGV[1] = seq, ARGV[2] = state JSON, ARGV[3] = twiml, ARGV[4] = ttl, ARGV[5] = base URL.
# Creates the session only if it does not exist; returns 1 when created.
_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'seq', ARGV[1], 'state', ARGV[2], 'twiml', ARGV[3], 'base', ARGV[5])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
"""

CLOSED_TTL = 300


@dataclass(frozen=True)
class Session:
    """A live call as stored between webhooks."""

    seq: int
    state: dict[str, Any]
    twiml: str | None = None
    base_url: str | None = None  # how Twilio reaches us for this call (to build URLs outside a webhook)


def decode(raw: dict[bytes, bytes]) -> Session | None:
    """A session from an ``HGETALL`` answer (None when empty)."""
    if not raw:
        return None
    try:
        return Session(int(raw[b"seq"]), json.loads(raw[b"state"]), raw.get(b"twiml", b"").decode() or None,
                       raw.get(b"base", b"").decode() or None)
    except (KeyError, ValueError) as e:
        raise SessionError("session is corrupt") from e


class SessionStore:
    """Sessions of running calls. ``redis`` is passed in; errors surface as :class:`SessionError`."""

    def __init__(self, redis: redis_lib.Redis, ttl: int):
        self.redis = redis
        self.ttl = ttl
        self._save = redis.register_script(_SAVE_IF_SEQ)
        self._create = redis.register_script(_CREATE)

    def create(self, call_sid: str, session: Session, pipe: redis_lib.client.Pipeline | None = None) -> bool:
        """Store a new session unless one exists; True when created (on ``pipe``: the result comes back from
        ``pipe.execute()``)."""
        args = [session.seq, json.dumps(session.state), session.twiml or "", self.ttl, session.base_url or ""]
        try:
            return bool(self._create(keys=[keys.session(call_sid)], args=args, client=pipe or self.redis))
        except redis_lib.RedisError as e:
            raise SessionError(f"cannot store session {call_sid}: {e}") from e

    def load(self, call_sid: str) -> Session | None:
        try:
            raw = self.redis.hgetall(keys.session(call_sid))
        except redis_lib.RedisError as e:
            raise SessionError(f"cannot load session {call_sid}: {e}") from e
        return decode(raw)

    @staticmethod
    def queue_load(pipe: redis_lib.client.Pipeline, call_sid: str) -> None:
        """Queue the read of the call's session on ``pipe`` (to share a round trip); :func:`decode` its result."""
        pipe.hgetall(keys.session(call_sid))

    def save(self, call_sid: str, session: Session, expected_seq: int, *, append_to: str | None = None,
             items: Sequence[str] = (), items_ttl: int = 0, items_max: int = 500) -> bool:
        """Replace the session if its stored ``seq`` still equals ``expected_seq``; True when saved.

        ``append_to``/``items``: a list in the same hash slot (the call's step log) extended in the same atomic
        step, so a losing concurrent request never logs steps that did not happen.
        """
        script_keys = [keys.session(call_sid)] + ([append_to] if append_to and items else [])
        args = [expected_seq, session.seq, json.dumps(session.state), session.twiml or "", self.ttl, items_ttl,
                items_max, *(items if append_to else ())]
        try:
            return bool(self._save(keys=script_keys, args=args))
        except redis_lib.RedisError as e:
            raise SessionError(f"cannot save session {call_sid}: {e}") from e

    def close(self, call_sid: str, pipe: redis_lib.client.Pipeline | None = None) -> None:
        """The call ended: keep the session briefly (late webhooks get a clean answer), then let it expire."""
        try:
            (pipe or self.redis).expire(keys.session(call_sid), CLOSED_TTL)
        except redis_lib.RedisError as e:
            raise SessionError(f"cannot close session {call_sid}: {e}") from e

    def delete(self, call_sid: str) -> None:
        try:
            self.redis.delete(keys.session(call_sid))
        except redis_lib.RedisError as e:
            raise SessionError(f"cannot delete session {call_sid}: {e}") from e
