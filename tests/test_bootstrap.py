"""The composition root: a worker process builds its services once, and every job its work horses run uses them."""

from __future__ import annotations

from rq import Queue, Worker, get_current_job

from ivr.bootstrap import build_services, worker_services
from ivr.config import Settings
from ivr.jobs.queue import QUEUE_NAME
from ivr.runner.redis import connect


def services_id() -> int:
    """A job: which services object the work horse runs on."""
    return id(worker_services(get_current_job().connection))


def test_a_worker_builds_its_services_once_and_its_work_horses_share_them(redis):
    prebuilt = worker_services(redis)  # as `ivr worker` does before it starts working
    assert worker_services(redis) is prebuilt
    jobs = [Queue(QUEUE_NAME, connection=redis).enqueue(services_id) for _ in range(2)]
    Worker([QUEUE_NAME], connection=redis).work(burst=True)  # one forked work horse per job
    assert [job.latest_result().return_value for job in jobs] == [id(prebuilt)] * 2


def test_another_connection_gets_services_of_its_own(redis, redis_url):
    other = connect(redis_url)
    try:
        mine, theirs = worker_services(redis), worker_services(other)
        assert theirs is not mine and theirs.redis is other and theirs.router.redis is other
    finally:
        other.close()


def test_the_services_share_one_redis_and_the_settings_given(redis):
    settings = Settings(session_ttl=123, calllog_ttl=456)
    services = build_services(settings, redis)
    assert services.settings is settings and services.embedded is None
    assert services.calls.sessions.redis is redis and services.calllog.redis is redis
    assert services.calllog.ttl == 456 and services.router is services.calls.router
