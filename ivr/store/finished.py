"""Finished calls waiting to be counted: the list the status callback pushes on, and the marker saying a
counting job is queued (the counting itself is the worker's, :func:`ivr.jobs.stats.count_finished_calls`)."""

from __future__ import annotations

import redis as redis_lib

from ivr.store import keys

#: A counting job lost with its worker is re-queued by the next finished call after this many seconds.
PENDING_TTL = 60


def stage_finished(pipe: redis_lib.client.Pipeline, call_sid: str) -> None:
    """Queue on ``pipe`` (a MULTI pipeline): remember the call for counting, and claim the right to queue the
    counting job. The last result of ``pipe.execute()`` is true when the caller must have the count scheduled."""
    pipe.rpush(keys.FINISHED_CALLS, call_sid)
    pipe.set(keys.COUNT_PENDING, "1", nx=True, ex=PENDING_TTL)
