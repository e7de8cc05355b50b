"""The wallboard sampling job: the live queues' figures recorded on the day's history once a minute, one chain
of jobs however many workers run (what a sample is: :mod:`ivr.services.wallboard`)."""

from __future__ import annotations

from typing import Any

import redis as redis_lib
from rq import get_current_job

from ivr.bootstrap import worker_services
from ivr.jobs.queue import continue_chain, schedule_sampling
from ivr.services.wallboard import live_queue_names, take_sample
from ivr.store.chains import Chain


def sample_wallboard(connection: redis_lib.Redis | None = None) -> dict[str, Any]:
    """The sampling job: schedule the next one first (a failing sample does not end the chain), then record the
    live queues' figures."""
    job = get_current_job()
    if connection is None:
        if job is None:
            raise RuntimeError("no connection given and not running inside an RQ job")
        connection = job.connection
    continue_chain(connection, Chain.WALLBOARD_SAMPLING, schedule_sampling)
    return take_sample(connection, live_queue_names(worker_services(connection).repo))
