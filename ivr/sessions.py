"""Call sessions in Redis: one JSON document per live call, with a TTL, updated compare-and-set on ``seq``."""

from __future__ import annotations

import json
from typing import Any

import redis as redis_lib

from ivr import keys
from ivr.errors import SessionError

# KEYS[1] = session key. ARGV[1] = expected seq, ARGV[2] = new JSON document, ARGV[3] = ttl seconds.
# Saves only when the stored document's seq equals ARGV[1]; returns 1 when saved, 0 on conflict or absence.
_SAVE_IF_SEQ = """
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
local ok, doc = pcall(cjson.decode, current)
if not ok or tostring(doc['seq']) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1
"""

CLOSED_TTL = 300


class SessionStore:
    """Sessions of running calls. ``redis`` is passed in; errors surface as :class:`SessionError`."""

    def __init__(self, redis: redis_lib.Redis, ttl: int):
        self.redis = redis
        self.ttl = ttl
        self._save = redis.register_script(_SAVE_IF_SEQ)

    def create(self, call_sid: str, state: dict[str, Any]) -> None:
        """Store a new session; :class:`SessionError` if one already exists for this call."""
        try:
            created = self.redis.set(keys.session(call_sid), json.dumps(state), nx=True, ex=self.ttl)
        except redis_lib.RedisError as e:
            raise SessionError(f"cannot store session {call_sid}: {e}") from e
        if not created:
            raise SessionError(f"session {call_sid} already exists")

    def load(self, call_sid: str) -> dict[str, Any] | None:
        try:
            raw = self.redis.get(keys.session(call_sid))
        except redis_lib.RedisError as e:
            raise SessionError(f"cannot load session {call_sid}: {e}") from e
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except ValueError as e:
            raise SessionError(f"session {call_sid} is corrupt") from e

    def save(self, call_sid: str, state: dict[str, Any], expected_seq: int | None = None) -> bool:
        """Replace the session; with ``expected_seq``, only if the stored ``seq`` still equals it."""
        try:
            if expected_seq is None:
                self.redis.set(keys.session(call_sid), json.dumps(state), ex=self.ttl)
                return True
            return bool(self._save(keys=[keys.session(call_sid)],
                                   args=[str(expected_seq), json.dumps(state), self.ttl]))
        except redis_lib.RedisError as e:
            raise SessionError(f"cannot save session {call_sid}: {e}") from e

    def close(self, call_sid: str) -> None:
        """The call ended: keep the session briefly (late webhooks get a clean answer), then let it expire."""
        try:
            self.redis.expire(keys.session(call_sid), CLOSED_TTL)
        except redis_lib.RedisError as e:
            raise SessionError(f"cannot close session {call_sid}: {e}") from e

    def delete(self, call_sid: str) -> None:
        try:
            self.redis.delete(keys.session(call_sid))
        except redis_lib.RedisError as e:
            raise SessionError(f"cannot delete session {call_sid}: {e}") from e
