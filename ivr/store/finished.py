"""Finished calls waiting to be counted: the list the status callback pushes on, and the marker saying a
counting job is queued (the counting itself is the worker's, :func:`ivr.jobs.stats.count_finished_calls`)."""

from __future__ import annotations

from typing import Callable

import redis as redis_lib

from ivr.store import keys

#: A counting job lost with its worker is re-queued by the next finished call after this many seconds.
PENDING_TTL = 60


def stage_finished(pipe: redis_lib.client.Pipeline, call_sid: str) -> None:
    """Queue on ``pipe`` (a MULTI pipeline): remember the call for counting, and claim the right to queue the
    counting job. The last result of ``pipe.execute()`` is true when the caller must have the count scheduled."""
    pipe.rpush(keys.FINISHED_CALLS, call_sid)
    pipe.set(keys.COUNT_PENDING, "1", nx=True, ex=PENDING_TTL)


class FinishedCalls:
    """The list of finished calls staged by :func:`stage_finished`, as the counting job drains it; ``redis`` is
    passed in."""

    def __init__(self, redis: redis_lib.Redis):
        self.redis = redis

    def drain(self, count: Callable[[str], bool], batch: int = 500) -> tuple[int, int]:
        """Call ``count`` (true when it counted the call now) on every call SID waiting, oldest first, until the
        list is empty, then release the counting job's marker. Returns (SIDs seen, SIDs counted).

        A SID leaves the list only after ``count`` returned for it, so with an idempotent ``count`` a drain killed
        half-way and run again loses no call and counts none twice."""
        seen = counted = 0
        while True:
            sids = self.redis.lrange(keys.FINISHED_CALLS, 0, batch - 1)
            if not sids:
                # Release the marker, then look again: a call pushed meanwhile either saw the marker (and is
                # found by this second look) or set a fresh one (and queued its own job).
                self.redis.delete(keys.COUNT_PENDING)
                if self.redis.llen(keys.FINISHED_CALLS) == 0:
                    return seen, counted
                continue
            for sid in sids:
                counted += count(sid.decode() if isinstance(sid, bytes) else sid)
            self.redis.ltrim(keys.FINISHED_CALLS, len(sids), -1)
            seen += len(sids)
