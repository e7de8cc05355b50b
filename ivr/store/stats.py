"""Per-day call statistics: a hash of counters per UTC day, and the set of call SIDs already counted in it, so
counting a call is idempotent (a job retried or run twice counts each call once)."""

from __future__ import annotations

import redis as redis_lib

from ivr.store import keys

#: How long a day's statistics are kept (seconds), renewed by each call counted in it.
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


class CallStats:
    """The daily call counters; ``redis`` is passed in."""

    def __init__(self, redis: redis_lib.Redis):
        self.redis = redis

    def count_once(self, day: str, call_sid: str, fields: list[str]) -> bool:
        """Add one to each of ``fields`` in ``day``'s counters (``YYYY-MM-DD``, UTC), atomically and only if
        ``call_sid`` was not counted in that day before; true when it was counted now. Both of the day's keys
        expire :data:`STATS_TTL` after the last call counted."""
        stats_key, counted_key = keys.stats_keys(day)
        return bool(self.redis.eval(_COUNT_ONCE, 2, stats_key, counted_key, call_sid, STATS_TTL, *fields))

    def day(self, day: str) -> dict[str, int]:
        """Counters of one UTC day (``YYYY-MM-DD``); empty when nothing was counted in it."""
        raw = self.redis.hgetall(keys.stats_keys(day)[0])
        return {k.decode() if isinstance(k, bytes) else k: int(v) for k, v in raw.items()}
