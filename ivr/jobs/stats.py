"""The statistics job: finished calls folded into per-day counters (calls, per flow, disposition, status).

Counting is idempotent (a per-day set of counted SIDs, :class:`ivr.store.stats.CallStats`) and SIDs leave the list
only after they are counted (:class:`ivr.store.finished.FinishedCalls`), so a job retried, run twice, or killed
half-way counts each call exactly once and loses none.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import redis as redis_lib

from ivr.bootstrap import worker_services
from ivr.jobs.queue import job_connection
from ivr.store.finished import FinishedCalls
from ivr.store.stats import STATS_TTL, CallStats

__all__ = ["STATS_TTL", "count_finished_calls", "daily_stats", "finalize_call"]


def count_finished_calls(connection: redis_lib.Redis | None = None, batch: int = 500) -> dict[str, Any]:
    """Count every finished call waiting on the list; returns how many were new."""
    connection = connection or job_connection()
    seen, counted = FinishedCalls(connection).drain(lambda sid: finalize_call(sid, connection)["counted"], batch)
    return {"seen": seen, "counted": counted}


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
    counted = CallStats(connection).count_once(day, call_sid, fields)
    return {"counted": counted, "day": day, "fields": fields}


def daily_stats(connection: redis_lib.Redis, day: str) -> dict[str, int]:
    """Counters of one UTC day (``YYYY-MM-DD``)."""
    return CallStats(connection).day(day)
