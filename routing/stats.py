"""Queue statistics: each queue's counters of the UTC day (entered, answered, abandoned, waits) and live figures."""

from __future__ import annotations

import time
from typing import Any

import redis as redis_lib

from routing import keys

STATS_TTL = 40 * 86400


def count_entered(pipe: redis_lib.client.Pipeline, queue: str, now: int) -> None:
    """A call entered ``queue`` (counted in the caller's transaction)."""
    pipe.hincrby(keys.queue_stats(queue, _day(now)), "entered", 1)
    pipe.expire(keys.queue_stats(queue, _day(now)), STATS_TTL)


def count_answered(redis: redis_lib.Redis, queue: str, waited: int, in_service_level: bool, now: int) -> None:
    """An agent accepted a call of ``queue`` after it waited ``waited`` ms."""
    stats = keys.queue_stats(queue, _day(now))
    pipe = redis.pipeline(transaction=False)
    pipe.hincrby(stats, "answered", 1)
    pipe.hincrby(stats, "wait_ms", waited)
    if in_service_level:
        pipe.hincrby(stats, "answered_in_sl", 1)
    pipe.execute()


def count_abandoned(redis: redis_lib.Redis | redis_lib.client.Pipeline, queue: str, now: int) -> None:
    """The caller of a call of ``queue`` hung up before an agent took it (on its own or in a transaction)."""
    redis.hincrby(keys.queue_stats(queue, _day(now)), "abandoned", 1)


def figures(redis: redis_lib.Redis, queue: str, waiting: list[str], now: int) -> dict[str, Any]:
    """Live figures of a queue with these ``waiting`` calls: calls waiting, longest wait, and today's service level,
    abandon rate and average speed of answer."""
    since = [int(v) for v in redis.hmget(keys.CALL_SINCE, waiting) if v is not None] if waiting else []
    raw = {k.decode(): int(v) for k, v in redis.hgetall(keys.queue_stats(queue, _day(now))).items()}
    answered, abandoned = raw.get("answered", 0), raw.get("abandoned", 0)
    finished = answered + abandoned
    return {"queue": queue, "waiting": len(waiting), "longest_wait_s": (now - min(since)) // 1000 if since else 0,
            "entered_today": raw.get("entered", 0), "answered_today": answered, "abandoned_today": abandoned,
            "service_level": round(raw.get("answered_in_sl", 0) / finished, 3) if finished else None,
            "abandon_rate": round(abandoned / finished, 3) if finished else None,
            "average_speed_of_answer_s": round(raw.get("wait_ms", 0) / answered / 1000, 1) if answered else None}


def _day(ms: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ms / 1000))
