"""A job that stops half-way at a gate, so a test can kill its worker exactly there (the one fault a real
worker cannot produce on demand). Imported by the worker process the test starts."""

from __future__ import annotations

from rq import get_current_job

from ivr.jobs.stats import count_finished_calls, finalize_call
from ivr.store import keys


def count_with_a_pause(gate: str, started: str) -> dict:
    """Count the first finished call, announce it on ``started``, wait at ``gate``, then do the real job."""
    connection = get_current_job().connection
    first = connection.lindex(keys.FINISHED_CALLS, 0)
    if first is not None:
        finalize_call(first.decode(), connection)
    connection.rpush(started, "1")
    connection.blpop([gate], timeout=60)
    return count_finished_calls(connection)
