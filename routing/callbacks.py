"""Callback requests: a waiting caller who hangs up to be called back keeps their place in line meanwhile."""

from __future__ import annotations

import json
from typing import Any, Mapping

import redis as redis_lib

from routing import keys
from routing.claims import Claims
from routing.model import clock_ms


class CallbackRequests:
    """The callback requests on one Redis: each takes its call's place (requirements, priority, position time) in
    one line across queues, and is called back when an agent qualifies (matching them is the distributor's)."""

    def __init__(self, redis: redis_lib.Redis, claims: Claims):
        self.redis = redis
        self.claims = claims

    def request(self, call_sid: str, callback_id: str, record: Mapping[str, Any]) -> bool:
        """A waiting call becomes a callback request (the caller hangs up and will be called back): it leaves
        its queue and the request takes its place in line (requirements, priority, position time). ``record``
        is kept with it (number to call, number to call from, opaque context). False when not waiting."""
        pipe = self.redis.pipeline(transaction=False)
        for key in (keys.CALL_QUEUE, keys.CALL_REQ, keys.CALL_SCORE, keys.CALL_SINCE, keys.CALL_STATE):
            pipe.hget(key, call_sid)
        queue, req, score, since, state = pipe.execute()
        if queue is None or state != b"waiting":
            return False
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(keys.CALL_STATE, call_sid, "ended")
        pipe.zrem(keys.waiting(queue.decode()), call_sid)
        pipe.hset(keys.CALL_QUEUE, callback_id, queue)
        pipe.hset(keys.CALL_REQ, callback_id, req or b"")
        pipe.hset(keys.CALL_SCORE, callback_id, score)
        pipe.hset(keys.CALL_SINCE, callback_id, since or clock_ms())
        pipe.hset(keys.CALL_STATE, callback_id, "callback")
        pipe.zadd(keys.CALLBACKS, {callback_id: float(score)})
        pipe.hset(keys.CALLBACK, callback_id, json.dumps({**record, "queue": queue.decode(), "call_sid": call_sid,
                                                         "attempts": 0}))
        pipe.execute()
        return True

    def waiting(self) -> list[str]:
        """Callback requests waiting for an agent, in line order."""
        return [cid.decode() for cid in self.redis.zrange(keys.CALLBACKS, 0, -1)]

    def get(self, callback_id: str) -> dict[str, Any] | None:
        raw = self.redis.hget(keys.CALLBACK, callback_id)
        return json.loads(raw) if raw is not None else None

    def take(self, callback_id: str, now_ms: int | None = None) -> bool:
        """Claim the callback to place its call (only one job does); it counts as an attempt."""
        now = now_ms if now_ms is not None else clock_ms()
        taken = self.claims.callback_state(callback_id, "take", now)
        if taken:
            record = self.get(callback_id) or {}
            record["attempts"] = int(record.get("attempts", 0)) + 1
            self.redis.hset(keys.CALLBACK, callback_id, json.dumps(record))
        return taken

    def put_back(self, callback_id: str) -> bool:
        """The outbound call failed or was not answered: the request goes back to its place in line."""
        return self.claims.callback_state(callback_id, "return", clock_ms())

    def calling_since(self, before_ms: int) -> list[str]:
        """Callbacks whose outbound call was placed before ``before_ms`` and never answered."""
        return [cid.decode() for cid in self.redis.zrangebyscore(keys.CALLBACKS_CALLING, "-inf", before_ms)]

    def drop(self, callback_id: str) -> None:
        """Give up on a callback (attempts exhausted)."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(keys.CALL_STATE, callback_id, "ended")
        pipe.zrem(keys.CALLBACKS, callback_id)
        pipe.zrem(keys.CALLBACKS_CALLING, callback_id)
        pipe.hdel(keys.CALLBACK, callback_id)
        pipe.execute()

    def answered(self, callback_id: str, call_sid: str) -> tuple[str, bytes | None] | None:
        """The callee answered the outbound call ``call_sid``: it waits in the callback's queue at the place the
        request kept. Returns ``(queue, stored requirements)`` to offer it with, or None when the request is gone."""
        pipe = self.redis.pipeline(transaction=False)
        for key in (keys.CALL_QUEUE, keys.CALL_REQ, keys.CALL_SCORE, keys.CALL_SINCE, keys.CALL_STATE):
            pipe.hget(key, callback_id)
        queue, req, score, since, state = pipe.execute()
        if queue is None or state not in (b"calling", b"callback"):
            return None
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(keys.CALL_STATE, callback_id, "ended")
        pipe.zrem(keys.CALLBACKS, callback_id)
        pipe.zrem(keys.CALLBACKS_CALLING, callback_id)
        pipe.hdel(keys.CALLBACK, callback_id)
        pipe.hset(keys.CALL_QUEUE, call_sid, queue)
        pipe.hset(keys.CALL_REQ, call_sid, req or b"")
        pipe.hset(keys.CALL_SCORE, call_sid, score)
        pipe.hset(keys.CALL_SINCE, call_sid, since)
        pipe.hset(keys.CALL_STATE, call_sid, "waiting")
        pipe.zadd(keys.waiting(queue.decode()), {call_sid: float(score)})
        pipe.execute()
        return queue.decode(), req
