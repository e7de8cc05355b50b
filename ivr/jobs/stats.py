"""The statistics job: finished calls folded into per-day counters (calls, per flow, disposition, status).

Counting is idempotent (a per-day set of counted SIDs) and SIDs leave the list only after they are counted, so a
job retried, run twice, or killed half-way counts each call exactly once and loses none.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import redis as redis_lib

from ivr.bootstrap import worker_services
from ivr.jobs.queue import job_connection
from ivr.store import keys

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


def count_finished_calls(connection: redis_lib.Redis | None = None, batch: int = 500) -> dict[str, Any]:
    """Count every finished call waiting on the list; returns how many were new."""
    connection = connection or job_connection()
    seen = counted = 0
    while True:
        sids = connection.lrange(keys.FINISHED_CALLS, 0, batch - 1)
        if not sids:
            # Release the marker, then look again: a call pushed meanwhile either saw the marker (and is
            # found by this second look) or set a fresh one (and queued its own job).
            connection.delete(keys.COUNT_PENDING)
            if connection.llen(keys.FINISHED_CALLS) == 0:
                return {"seen": seen, "counted": counted}
            continue
        for sid in sids:
            counted += finalize_call(sid.decode() if isinstance(sid, bytes) else sid, connection)["counted"]
        connection.ltrim(keys.FINISHED_CALLS, len(sids), -1)
        seen += len(sids)


def finalize_call(call_sid: str, connection: redis_lib.Redis | None = None) -> dict[str, Any]:
    """Fold one finished call into its day's statistics (calls, per flow, per disposition, per status)."""
    connection = connection or job_connection()
    record = worker_services(connection).calllog.get(call_sid)
    if record is None or not record.get("status"):
        return {"counted": False, "reason": "no finished call record"}
    started = float(record.get("started_at") or 0)
    day = datetime.fromtimestamp(started, timezone.utc).date().isoformat()
    fields = ["calls", f"flow:{record.get('flow') or '-'}", f"disposition:{record.get('disposition') or 'unknown'}",
              f"status:{record.get('status')}"]
    stats_key, counted_key = keys.stats_keys(day)
    counted = connection.eval(_COUNT_ONCE, 2, stats_key, counted_key, call_sid, STATS_TTL, *fields)
    return {"counted": bool(counted), "day": day, "fields": fields}


def daily_stats(connection: redis_lib.Redis, day: str) -> dict[str, int]:
    """Counters of one UTC day (``YYYY-MM-DD``)."""
    raw = connection.hgetall(keys.stats_keys(day)[0])
    return {k.decode() if isinstance(k, bytes) else k: int(v) for k, v in raw.items()}
