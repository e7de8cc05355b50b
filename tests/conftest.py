"""Shared fixtures: one real Redis server for the run (the project's own, unless REDIS_URL is set), flushed
around every test as rq's own tests do."""

from __future__ import annotations

import os

import pytest

from ivr.redisserver import EmbeddedRedis, connect


@pytest.fixture(scope="session")
def redis_url():
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    with EmbeddedRedis() as server:
        yield server.url


@pytest.fixture
def redis(redis_url):
    client = connect(redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def run_due_jobs(redis):
    """Run a real RQ worker (burst, with its scheduler) over the jobs of the ``ivr`` queue. The scheduled jobs
    named (by function name; all when none is named) are first moved to time 0 in rq's scheduled registry, as if
    their time had come (keeping their order), so no test waits for a timer."""
    from rq import Worker
    from rq.job import Job
    from rq.registry import ScheduledJobRegistry

    from ivr.jobs import QUEUE_NAME

    def run(*names: str) -> None:
        registry = ScheduledJobRegistry(QUEUE_NAME, connection=redis)
        for rank, job in enumerate(Job.fetch_many(registry.get_job_ids(), connection=redis)):  # earliest first
            if job is not None and (not names or job.func_name.rsplit(".", 1)[-1] in names):
                redis.zadd(registry.key, {job.id: rank})
        Worker([QUEUE_NAME], connection=redis).work(burst=True, with_scheduler=True)

    return run


@pytest.fixture
def scheduled_jobs(redis):
    """Function names of the jobs waiting in rq's scheduled registry of the ``ivr`` queue, sorted."""
    from rq.job import Job
    from rq.registry import ScheduledJobRegistry

    from ivr.jobs import QUEUE_NAME

    def names() -> list[str]:
        ids = ScheduledJobRegistry(QUEUE_NAME, connection=redis).get_job_ids()
        return sorted(job.func_name.rsplit(".", 1)[-1] for job in Job.fetch_many(ids, connection=redis) if job)

    return names
