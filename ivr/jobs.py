"""Background work run by RQ workers (``ivr worker``): per-day call outcome statistics.

Jobs re-derive everything from Redis state (the call log), so a job that is retried, or run twice, or runs after a
worker died mid-way, counts each call exactly once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

import redis as redis_lib
from rq import Queue, Retry
from rq import get_current_job

from ivr.calllog import CallLog

log = logging.getLogger(__name__)

QUEUE_NAME = "ivr"
STATS_TTL = 400 * 86400

# Lua: count a finished call once. KEYS[1] = stats hash, KEYS[2] = set of counted call SIDs.
# ARGV[1] = call SID, ARGV[2] = ttl, ARGV[3..] = field names to increment.
_COUNT_ONCE = """
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return 0 end
for i = 3, #ARGV do redis.call('HINCRBY', KEYS[1], ARGV[i], 1) end
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return 1
"""


def stats_keys(day: str) -> tuple[str, str]:
    # Hash tag keeps a day's two keys in one Redis Cluster slot (the script touches both).
    return f"ivr:stats:{{{day}}}", f"ivr:stats:{{{day}}}:counted"


def enqueue_finalize(connection: redis_lib.Redis, call_sid: str) -> None:
    """Queue :func:`finalize_call` for a call whose record just closed."""
    Queue(QUEUE_NAME, connection=connection).enqueue(
        finalize_call, call_sid, job_id=f"finalize-{call_sid}", retry=Retry(max=3, interval=[5, 30, 120]),
        result_ttl=3600, failure_ttl=7 * 86400)


def finalize_call(call_sid: str, connection: redis_lib.Redis | None = None) -> dict[str, Any]:
    """Fold one finished call into its day's statistics (calls, per flow, per disposition)."""
    connection = connection or get_current_job().connection
    record = CallLog(connection, STATS_TTL).get(call_sid)
    if record is None or not record.get("status"):
        return {"counted": False, "reason": "no finished call record"}
    started = float(record.get("started_at") or 0)
    day = datetime.fromtimestamp(started, timezone.utc).date().isoformat()
    fields = ["calls", f"flow:{record.get('flow') or '-'}", f"disposition:{record.get('disposition') or 'unknown'}",
              f"status:{record.get('status')}"]
    stats_key, counted_key = stats_keys(day)
    counted = connection.eval(_COUNT_ONCE, 2, stats_key, counted_key, call_sid, STATS_TTL, *fields)
    return {"counted": bool(counted), "day": day, "fields": fields}


def daily_stats(connection: redis_lib.Redis, day: str) -> dict[str, int]:
    """Counters of one UTC day (``YYYY-MM-DD``)."""
    raw = connection.hgetall(stats_keys(day)[0])
    return {k.decode() if isinstance(k, bytes) else k: int(v) for k, v in raw.items()}
