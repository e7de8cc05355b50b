"""The wallboard's history in Redis: each UTC day's samples of the queues, one sorted set per day (by time).

What a sample holds and when it is taken is :mod:`ivr.services.wallboard`; this module only keeps the samples,
:data:`HISTORY_TTL` seconds.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import date, datetime, timezone
from typing import Any, Mapping

import redis as redis_lib

from ivr.store import keys

#: How long a day's samples are kept (a week back, and today).
HISTORY_TTL = 8 * 86400


@dataclass(frozen=True)
class QueueSample:
    """One queue at one moment: calls waiting, the longest wait, today's service level (None before any call
    was answered or abandoned)."""

    waiting: int
    longest_wait_s: int
    service_level: float | None


def utc_day(ms: int) -> date:
    """The UTC day of ``ms`` (milliseconds since the epoch): the day a sample taken then belongs to."""
    return datetime.fromtimestamp(ms / 1000, timezone.utc).date()


class WallboardHistory:
    """Samples of the queues over each UTC day, in Redis (``redis`` passed in)."""

    def __init__(self, redis: redis_lib.Redis, ttl: int = HISTORY_TTL):
        self.redis = redis
        self.ttl = ttl

    def record(self, at_ms: int, queues: Mapping[str, QueueSample]) -> None:
        """Add one sample of every queue, taken at ``at_ms``, to its day."""
        key = keys.wallboard_samples(utc_day(at_ms).isoformat())
        member = json.dumps({"at": at_ms, "queues": {name: asdict(s) for name, s in sorted(queues.items())}})
        pipe = self.redis.pipeline(transaction=True)
        pipe.zadd(key, {member: at_ms})
        pipe.expire(key, self.ttl)
        pipe.execute()

    def day(self, day: date) -> list[dict[str, Any]]:
        """The day's samples, oldest first: ``{"at": ms, "queues": {name: {waiting, longest_wait_s,
        service_level}}}``."""
        return [json.loads(raw) for raw in self.redis.zrange(keys.wallboard_samples(day.isoformat()), 0, -1)]
