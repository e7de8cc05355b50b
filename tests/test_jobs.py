"""Call statistics counted by a real RQ worker, exactly once, whatever happens to the jobs."""

from __future__ import annotations

from rq import Queue, SimpleWorker, Worker

from ivr import keys
from ivr.calllog import CallLog
from ivr.jobs import QUEUE_NAME, count_finished_calls, daily_stats, enqueue_count, finalize_call

DAY_START = 1_795_000_000.0  # 2026-11-18 in UTC


def finished_call(redis, sid: str, disposition: str = "self-service") -> None:
    log = CallLog(redis, ttl=600)
    log.start(sid, caller="+1", called="+2", flow="english", version=1, started_at=DAY_START)
    log.finish(sid, status="completed", disposition=disposition, duration=20, ended_at=DAY_START + 20)
    redis.rpush(keys.FINISHED_CALLS, sid)


def test_a_call_is_counted_once_even_when_finalized_twice(redis):
    finished_call(redis, "CA1")
    first, second = finalize_call("CA1", redis), finalize_call("CA1", redis)
    assert first["counted"] and not second["counted"]
    assert daily_stats(redis, first["day"]) == {"calls": 1, "flow:english": 1, "disposition:self-service": 1,
                                                "status:completed": 1}


def test_unfinished_calls_are_not_counted(redis):
    CallLog(redis, ttl=600).start("CA2", caller="+1", called="+2", flow="main", version=1, started_at=DAY_START)
    assert finalize_call("CA2", redis) == {"counted": False, "reason": "no finished call record"}


def test_a_real_worker_drains_the_finished_list(redis):
    finished_call(redis, "CA1")
    finished_call(redis, "CA2", "queued")
    finished_call(redis, "CA1")  # a duplicated status callback
    enqueue_count(redis)
    assert Worker([QUEUE_NAME], connection=redis).work(burst=True)
    assert redis.llen(keys.FINISHED_CALLS) == 0 and not redis.exists(keys.COUNT_PENDING)
    stats = daily_stats(redis, "2026-11-18")
    assert stats["calls"] == 2 and stats["disposition:queued"] == 1


def test_a_job_that_died_half_way_loses_nothing(redis):
    """Simulate a worker killed after counting some calls but before trimming the list: the next job counts
    the rest and nothing twice."""
    for sid in ("CA1", "CA2", "CA3"):
        finished_call(redis, sid)
    finalize_call("CA1", redis)  # counted, but still on the list: the job died before LTRIM
    job = Queue(QUEUE_NAME, connection=redis).enqueue(count_finished_calls)
    SimpleWorker([QUEUE_NAME], connection=redis).work(burst=True)
    assert job.latest_result().return_value == {"seen": 3, "counted": 2}
    assert daily_stats(redis, "2026-11-18")["calls"] == 3


def test_a_worker_killed_mid_job_loses_nothing_and_counts_nothing_twice(redis, redis_url):
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from rq import Retry
    from rq.registry import StartedJobRegistry

    for sid in ("CA1", "CA2", "CA3"):
        finished_call(redis, sid)
    queue = Queue(QUEUE_NAME, connection=redis)
    job = queue.enqueue("interrupted_jobs.count_with_a_pause", "gate", "started", retry=Retry(max=2))
    tests_dir = str(Path(__file__).resolve().parent)
    worker = subprocess.Popen(
        [sys.executable, "-c", "import sys; from rq import Worker; from ivr.redisserver import connect; "
         f"Worker(['{QUEUE_NAME}'], connection=connect(sys.argv[1])).work(burst=True)", redis_url],
        env={**os.environ, "PYTHONPATH": os.pathsep.join([tests_dir, os.environ.get("PYTHONPATH", "")])},
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert redis.blpop(["started"], timeout=60) is not None  # the job counted CA1, then stopped at the gate
    os.killpg(worker.pid, signal.SIGKILL)  # the worker and its work horse die mid-job
    worker.wait(timeout=30)
    assert daily_stats(redis, "2026-11-18")["calls"] == 1 and redis.llen(keys.FINISHED_CALLS) == 3

    StartedJobRegistry(QUEUE_NAME, connection=redis).cleanup(timestamp=job.enqueued_at.timestamp() + 3600)
    assert job.id in queue.job_ids  # abandoned, so retried
    redis.rpush("gate", "open")
    redis.rpush("gate", "open")
    SimpleWorker([QUEUE_NAME], connection=redis).work(burst=True)
    assert daily_stats(redis, "2026-11-18")["calls"] == 3  # all counted, none twice
    assert redis.llen(keys.FINISHED_CALLS) == 0


def run_due_jobs(redis, make_due: bool = True) -> None:
    """Run a real RQ worker (burst, with its scheduler) over the scheduled jobs. With ``make_due``, every job in the
    scheduled registry is first moved to time 0, as if its time had come (no waiting in tests)."""
    from rq.registry import ScheduledJobRegistry

    registry = ScheduledJobRegistry(QUEUE_NAME, connection=redis)
    if make_due:
        for job_id in registry.get_job_ids():
            redis.zadd(registry.key, {job_id: 0})
    Worker([QUEUE_NAME], connection=redis).work(burst=True, with_scheduler=True)


def scheduled(redis) -> list[str]:
    """Function names of the jobs waiting in the scheduled registry."""
    from rq.job import Job
    from rq.registry import ScheduledJobRegistry

    ids = ScheduledJobRegistry(QUEUE_NAME, connection=redis).get_job_ids()
    return sorted(job.func_name.rsplit(".", 1)[-1] for job in Job.fetch_many(ids, connection=redis) if job)


def test_the_rematch_sweep_offers_a_call_its_trigger_missed(redis):
    """A call left waiting while a qualified agent is available (its own claim lost with a crashed process) is
    offered by the periodic sweep, run by a real worker's scheduler; the sweep schedules its next run, once."""
    from ivr.jobs import schedule_rematch
    from routing.acd import Agent, AgentStatus, Distributor

    acd = Distributor(redis)
    acd.register(Agent("a", "A", {"billing": 4}))
    acd.set_status("a", AgentStatus.AVAILABLE)
    acd.enqueue("CA1", "billing", {"billing": 2}, offer=False)  # the claim that should have followed never ran
    assert acd.call_state("CA1") == "waiting"
    assert schedule_rematch(redis, seconds=30) and not schedule_rematch(redis, seconds=30)  # one chain
    run_due_jobs(redis)
    assert [(o.call_sid, o.agent) for o in acd.offers_for("a")] == [("CA1", "a")]
    assert scheduled(redis) == ["expire_offers", "rematch"]  # the new offer's timer and the next sweep
