"""Call statistics counted by a real RQ worker, exactly once, whatever happens to the jobs."""

from __future__ import annotations

import time

from rq import Queue, SimpleWorker, Worker

from ivr.jobs.queue import QUEUE_NAME, enqueue_count
from ivr.jobs.stats import count_finished_calls, daily_stats, finalize_call
from ivr.store import keys
from ivr.store.calllog import CallLog

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
        [sys.executable, "-c", "import sys; from rq import Worker; from ivr.runner.redis import connect; "
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


def test_the_rematch_sweep_offers_a_call_its_trigger_missed(redis, run_due_jobs, scheduled_jobs):
    """A call left waiting while a qualified agent is available (its own claim lost with a crashed process) is
    offered by the periodic sweep, run by a real worker's scheduler; the sweep schedules its next run, once."""
    from ivr.jobs.queue import schedule_rematch
    from routing.acd import Distributor
    from routing.model import Agent, AgentStatus

    acd = Distributor(redis)
    acd.register(Agent("a", "A", {"billing": 4}))
    acd.set_status("a", AgentStatus.AVAILABLE)
    acd.enqueue("CA1", "billing", {"billing": 2}, offer=False)  # the claim that should have followed never ran
    assert acd.call_state("CA1") == "waiting"
    assert schedule_rematch(redis, seconds=30) and not schedule_rematch(redis, seconds=30)  # one chain
    run_due_jobs()
    assert [(o.call_sid, o.agent) for o in acd.offers_for("a")] == [("CA1", "a")]
    assert scheduled_jobs() == ["expire_offers", "rematch"]  # the new offer's timer and the next sweep


def test_an_offer_times_out_through_the_worker_and_goes_to_the_next_agent(redis, run_due_jobs, scheduled_jobs):
    from ivr.jobs.queue import schedule_offer_expiry
    from routing.acd import Distributor
    from routing.model import Agent, AgentStatus

    acd = Distributor(redis)
    past = int(time.time() * 1000) - 60_000  # offered a minute ago: 15 s (the default) are long over
    CallLog(redis, ttl=600).start("CA1", caller="+1", called="+2", flow="main", version=1, started_at=past / 1000)
    acd.register(Agent("slow", "S", {}))
    acd.set_status("slow", AgentStatus.AVAILABLE, past)
    offer = acd.enqueue("CA1", "general", {}, now_ms=past + 1)
    schedule_offer_expiry(redis, offer)
    acd.set_status("slow", AgentStatus.BREAK, past + 2)  # not there to take it again
    acd.register(Agent("next", "N", {}))
    acd.set_status("next", AgentStatus.AVAILABLE, past + 3)
    assert scheduled_jobs() == ["expire_offers"]
    run_due_jobs("expire_offers")
    assert acd.offers_for("slow") == [] and [o.call_sid for o in acd.offers_for("next")] == ["CA1"]
    assert redis.hget("rt:{rt}:agent:missed", "slow") == b"1"
    assert scheduled_jobs() == ["expire_offers"]  # the new offer's own timer
    steps = CallLog(redis, ttl=600).get("CA1")["steps"]
    assert [(s["outcome"], s["agent"]) for s in steps] == [("timeout", "slow"), ("offered", "next")]


def test_an_escalation_step_runs_in_the_worker_and_opens_the_call_to_more_agents(redis, run_due_jobs):
    from ivr.jobs.queue import schedule_escalation
    from routing.acd import Distributor
    from routing.config import EscalationStep, QueueConfig
    from routing.model import Agent, AgentStatus

    acd = Distributor(redis)
    acd.register(Agent("novice", "N", {"billing": 1}))
    acd.set_status("novice", AgentStatus.AVAILABLE)
    assert acd.enqueue("CA1", "billing", {"billing": 5}) is None
    queue = QueueConfig("billing", {"billing": 5}, escalation=(EscalationStep(120, {"billing": 1}, None),
                                                               EscalationStep(300, {}, 10)))
    schedule_escalation(redis, "CA1", queue)
    run_due_jobs("escalate_call")
    assert [o.call_sid for o in acd.offers_for("novice")] == ["CA1"]
    assert redis.hget("rt:{rt}:call:req", "CA1") == b"billing=1"  # the second step found it offered: no change


def test_wrap_up_ends_through_the_worker_and_the_agent_gets_the_next_call(redis, run_due_jobs):
    from ivr.jobs.queue import schedule_wrap_up_end
    from routing.acd import Distributor
    from routing.model import Agent, AgentStatus

    acd = Distributor(redis)
    acd.register(Agent("a", "A", {}))
    acd.set_status("a", AgentStatus.WRAP_UP)
    schedule_wrap_up_end(redis, "a", 30)
    acd.enqueue("CA1", "general", {})
    assert acd.offers_for("a") == []
    run_due_jobs("end_wrap_up")
    assert acd.status("a") == (AgentStatus.AVAILABLE, 1) and acd.offers_for("a")[0].call_sid == "CA1"


def test_the_startup_sweep_ends_wrap_ups_whose_timer_was_lost(redis):
    """Two agents in wrap-up whose end passed while no worker ran (their jobs lost): one with its end noted, one
    who chose wrap-up themselves (the live wrap-up time applies). A third is still within their wrap-up."""
    from ivr.jobs.sweeps import startup_sweep
    from routing.acd import Distributor
    from routing.model import Agent, AgentStatus

    acd = Distributor(redis)
    now = int(time.time() * 1000)
    for agent_id in ("noted", "chose", "busy-writing"):
        acd.register(Agent(agent_id, agent_id, {}))
    acd.set_status("noted", AgentStatus.WRAP_UP, now - 10_000)
    acd.wrap_up_until("noted", now - 1_000)
    acd.set_status("chose", AgentStatus.WRAP_UP, now - 31_000)  # 30 s is the default wrap-up
    acd.set_status("busy-writing", AgentStatus.WRAP_UP, now - 5_000)
    acd.wrap_up_until("busy-writing", now + 60_000)
    job = Queue(QUEUE_NAME, connection=redis).enqueue(startup_sweep)
    Worker([QUEUE_NAME], connection=redis).work(burst=True, with_scheduler=True)
    assert job.latest_result().return_value["wrap_ups_ended"] == ["chose", "noted"]
    assert [acd.status(a)[0] for a in ("noted", "chose", "busy-writing")] == [
        AgentStatus.AVAILABLE, AgentStatus.AVAILABLE, AgentStatus.WRAP_UP]


def test_rematch_chains_never_multiply(redis, run_due_jobs, scheduled_jobs):
    """The scheduler was down past the marker's life: a starting worker began a second chain. When both jobs run,
    only the chain that owns the marker goes on."""
    from ivr.jobs.queue import schedule_rematch
    from ivr.store import keys as ivr_keys

    assert schedule_rematch(redis)
    redis.delete(ivr_keys.REMATCH_SCHEDULED)  # as if it had expired
    assert schedule_rematch(redis)
    assert scheduled_jobs() == ["rematch", "rematch"]
    run_due_jobs("rematch")
    assert scheduled_jobs() == ["rematch"]
    owner = redis.get(ivr_keys.REMATCH_SCHEDULED).decode()
    from rq.registry import ScheduledJobRegistry
    assert ScheduledJobRegistry(QUEUE_NAME, connection=redis).get_job_ids() == [owner]
