"""Skill-based matching in Redis: skills and levels, priorities, FIFO, capacity, offers, concurrency."""

from __future__ import annotations

import multiprocessing
import os

import pytest

from ivr.runner.redis import connect
from routing.acd import Distributor
from routing.errors import RoutingError
from routing.model import Agent, AgentStatus

T0 = 1_800_000_000_000


@pytest.fixture
def acd(redis):
    return Distributor(redis, queues=["billing", "general", "outages"], offer_timeout_ms=10_000, max_missed=2)


def available(acd, agent: Agent, at: int):
    acd.register(agent)
    return acd.set_status(agent.id, AgentStatus.AVAILABLE, at)


def test_call_goes_to_a_qualified_agent_at_the_required_level(acd):
    available(acd, Agent("junior", "Jo", {"billing": 2, "english": 5}), T0)
    available(acd, Agent("senior", "Sam", {"billing": 7, "english": 5}), T0 + 1)
    offer = acd.enqueue("CA1", "billing", {"billing": 3, "english": 1}, now_ms=T0 + 10)
    assert offer.agent == "senior" and offer.call_sid == "CA1" and offer.expires == T0 + 10 + 10_000
    assert acd.call_state("CA1") == "offered" and acd.waiting("billing") == []


def test_no_qualified_agent_leaves_the_call_waiting(acd):
    available(acd, Agent("a", "A", {"english": 9}), T0)
    assert acd.enqueue("CA1", "billing", {"billing": 1}, now_ms=T0) is None
    assert acd.waiting("billing") == ["CA1"]


def test_longest_idle_agent_first(acd):
    available(acd, Agent("late", "L", {"billing": 5}), T0 + 50)
    available(acd, Agent("early", "E", {"billing": 5}), T0)
    assert acd.enqueue("CA1", "billing", {"billing": 1}, now_ms=T0 + 100).agent == "early"


def test_priority_first_then_first_come_first_served(acd):
    acd.enqueue("CA-old", "general", {}, priority=0, now_ms=T0)
    acd.enqueue("CA-new", "general", {}, priority=0, now_ms=T0 + 5)
    acd.enqueue("CA-vip", "outages", {}, priority=5, now_ms=T0 + 9)
    order = [available(acd, Agent(f"a{i}", "A", {}), T0 + 20 + i).call_sid for i in range(3)]
    assert order == ["CA-vip", "CA-old", "CA-new"]


def test_capacity_is_never_exceeded(acd):
    available(acd, Agent("multi", "M", {}, capacity=2), T0)
    offers = [acd.enqueue(f"CA{i}", "general", {}, now_ms=T0 + i) for i in range(3)]
    assert [o.agent if o else None for o in offers] == ["multi", "multi", None]
    assert acd.status("multi") == (AgentStatus.AVAILABLE, 2)


def test_decline_keeps_the_place_and_offers_to_the_next_agent(acd):
    available(acd, Agent("a", "A", {"billing": 5}), T0)
    first = acd.enqueue("CA1", "billing", {"billing": 1}, now_ms=T0 + 1)
    acd.enqueue("CA2", "billing", {"billing": 1}, now_ms=T0 + 2)
    # no one else for CA1: back in line, in front; 'a' is free again and takes the next call, CA2
    assert [(o.call_sid, o.agent) for o in acd.decline(first.reservation, now_ms=T0 + 3)] == [("CA2", "a")]
    assert acd.waiting("billing") == ["CA1"]
    second = available(acd, Agent("b", "B", {"billing": 5}), T0 + 4)
    assert second.call_sid == "CA1" and second.agent == "b"


def test_an_agent_is_not_offered_a_call_they_declined(acd):
    available(acd, Agent("a", "A", {}), T0)
    offer = acd.enqueue("CA1", "general", {}, now_ms=T0 + 1)
    acd.decline(offer.reservation, now_ms=T0 + 2)
    assert acd.status("a") == (AgentStatus.AVAILABLE, 0)
    assert acd.offer_for_agent("a", T0 + 3) is None


def test_timeouts_count_missed_offers_and_put_the_agent_on_break(acd):
    available(acd, Agent("sleepy", "S", {}), T0)
    first = acd.enqueue("CA1", "general", {}, now_ms=T0)
    assert acd.expire_offers(T0 + 5_000) == []  # not yet
    acd.expire_offers(T0 + 10_001)
    assert acd.status("sleepy") == (AgentStatus.AVAILABLE, 0) and acd.call_state("CA1") == "waiting"
    acd.enqueue("CA2", "general", {}, now_ms=T0 + 10_002)
    acd.expire_offers(T0 + 30_000)
    assert acd.status("sleepy") == (AgentStatus.BREAK, 0)
    assert acd.waiting("general") == ["CA1", "CA2"] and first.reservation


def test_accept_then_finish_frees_the_agent_for_the_next_call(acd):
    available(acd, Agent("a", "A", {}), T0)
    offer = acd.enqueue("CA1", "general", {}, now_ms=T0)
    acd.enqueue("CA2", "general", {}, now_ms=T0 + 1)
    assert not acd.accept(offer.reservation, "someone-else")
    assert acd.accept(offer.reservation, "a") and acd.call_state("CA1") == "assigned"
    assert not acd.accept(offer.reservation, "a")  # twice: the offer is gone
    assert acd.decline(offer.reservation) == []  # too late to decline
    following = acd.finish("CA1", T0 + 60_000)
    assert following.call_sid == "CA2" and acd.call_state("CA1") == "ended"


def test_caller_hangs_up_while_offered_or_waiting(acd):
    available(acd, Agent("a", "A", {}), T0)
    offer = acd.enqueue("CA1", "general", {}, now_ms=T0)
    acd.cancel(offer.reservation, T0 + 1)
    assert acd.call_state("CA1") == "ended" and acd.status("a") == (AgentStatus.AVAILABLE, 0)
    acd.set_status("a", AgentStatus.BREAK, T0 + 2)
    acd.enqueue("CA2", "general", {}, now_ms=T0 + 3)
    acd.abandon("CA2")
    assert acd.waiting("general") == []
    assert acd.set_status("a", AgentStatus.AVAILABLE, T0 + 4) is None


def test_unavailable_agents_are_skipped_and_dropped_from_the_index(acd, redis):
    available(acd, Agent("away", "W", {"billing": 9}), T0)
    acd.set_status("away", AgentStatus.BREAK, T0 + 1)
    available(acd, Agent("here", "H", {"billing": 9}), T0 + 2)
    assert acd.enqueue("CA1", "billing", {"billing": 1}, now_ms=T0 + 3).agent == "here"
    assert redis.zscore("rt:{rt}:avail:billing:1", "away") is None


def test_bad_input_is_refused(acd):
    with pytest.raises(RoutingError):
        Agent("a|b", "x", {})
    with pytest.raises(RoutingError):
        Agent("a", "x", {"billing": 11})
    with pytest.raises(RoutingError):
        acd.enqueue("CA1", "general", {}, priority=101)


def _caller_process(url: str, start: int, count: int) -> None:
    acd = Distributor(connect(url), queues=["general"])
    for i in range(start, start + count):
        acd.enqueue(f"CA{i:05d}", "general", {"english": 1}, now_ms=T0 + i)


def _agent_process(url: str, ids: list[str]) -> None:
    acd = Distributor(connect(url), queues=["general"])
    for agent_id in ids:
        acd.register(Agent(agent_id, agent_id, {"english": 3}, capacity=2))
        acd.set_status(agent_id, AgentStatus.AVAILABLE, T0)
    for _ in range(200):  # keep asking for work, as agents' consoles do
        for agent_id in ids:
            acd.offer_for_agent(agent_id, T0 + 1)


def test_concurrent_processes_never_double_assign_or_lose_a_call(redis, redis_url):
    ctx = multiprocessing.get_context("fork")
    callers = [ctx.Process(target=_caller_process, args=(redis_url, n * 100, 100)) for n in range(3)]
    agents = [ctx.Process(target=_agent_process, args=(redis_url, [f"ag{n}-{i}" for i in range(20)]))
              for n in range(3)]
    for p in callers + agents:
        p.start()
    for p in callers + agents:
        p.join(timeout=120)
        assert p.exitcode == 0
    reservations = [v.decode().split("|") for v in redis.hvals("rt:{rt}:reservations")]
    offered = [sid for sid, _agent, _exp in reservations]
    assert len(offered) == len(set(offered))  # never two agents for one call
    per_agent: dict[str, int] = {}
    for _sid, agent, _exp in reservations:
        per_agent[agent] = per_agent.get(agent, 0) + 1
    assert max(per_agent.values()) <= 2 and len(offered) == 120  # 60 agents x capacity 2, all used
    loads = {k.decode(): int(v) for k, v in redis.hgetall("rt:{rt}:agent:load").items()}
    assert loads == per_agent
    waiting = set(Distributor(redis, queues=["general"]).waiting("general"))
    assert waiting.isdisjoint(offered) and len(waiting) + len(offered) == 300  # nothing lost


def test_unanswered_agent_leg_puts_the_call_back_in_its_place(acd):
    available(acd, Agent("a", "A", {}), T0)
    offer = acd.enqueue("CA1", "general", {}, now_ms=T0 + 1)
    acd.enqueue("CA2", "general", {}, now_ms=T0 + 2)
    acd.accept(offer.reservation, "a")
    # nobody else for CA1: it waits, first in line; 'a' is skipped for CA1 and offered the next call
    assert [(o.call_sid, o.agent) for o in acd.requeue("CA1", T0 + 3)] == [("CA2", "a")]
    assert acd.waiting("general") == ["CA1"] and acd.position("CA1") == 1
    assert acd.offers_for("a")[0].call_sid == "CA2"


def test_hangup_wherever_the_call_is(acd):
    available(acd, Agent("a", "A", {}), T0)
    offered = acd.enqueue("CA1", "general", {}, now_ms=T0)
    acd.hangup("CA1", T0 + 1)
    assert acd.call_state("CA1") == "ended" and acd.offers_for("a") == [] and offered
    acd.set_status("a", AgentStatus.BREAK, T0 + 2)
    acd.enqueue("CA2", "general", {}, now_ms=T0 + 3)
    acd.hangup("CA2", T0 + 4)
    assert acd.waiting("general") == [] and acd.signed_in() == 1


def test_queue_statistics(acd):
    available(acd, Agent("a", "A", {}), T0)
    fast = acd.enqueue("CA1", "general", {}, now_ms=T0)
    acd.accept(fast.reservation, "a", T0 + 5_000)              # answered in 5 s: within the service level
    acd.enqueue("CA2", "general", {}, now_ms=T0 + 1_000)
    acd.enqueue("CA3", "general", {}, now_ms=T0 + 2_000)
    acd.hangup("CA3", T0 + 9_000)                              # abandoned while waiting
    slow = acd.finish("CA1", T0 + 60_000)                      # 'a' is free: CA2 is offered after 59 s
    acd.accept(slow.reservation, "a", T0 + 61_000)
    stats = acd.queue_stats("general", T0 + 61_000)
    assert stats == {"queue": "general", "waiting": 0, "longest_wait_s": 0, "entered_today": 3,
                     "answered_today": 2, "abandoned_today": 1, "service_level": 0.333, "abandon_rate": 0.333,
                     "average_speed_of_answer_s": 32.5}
    assert acd.agents_by_status() == {"available": 1}


def test_escalation_relaxes_requirements_and_raises_priority(acd, redis):
    available(acd, Agent("novice", "N", {"billing": 1}), T0)
    assert acd.enqueue("CA1", "billing", {"billing": 5}, now_ms=T0) is None
    acd.enqueue("CA2", "billing", {"billing": 5}, now_ms=T0 + 1)
    assert acd.escalate("CA2", None, 50)  # CA2 jumps ahead of CA1, keeping its arrival time
    assert acd.waiting("billing") == ["CA2", "CA1"]
    assert acd.escalate("CA2", {"billing": 1}, None)
    from ivr.jobs.routing_timers import escalate_call
    assert escalate_call("CA1", {"billing": 1}, None, connection=redis)
    assert acd.offers_for("novice")[0].call_sid == "CA1"  # the job offered it at once
    assert not acd.escalate("CA1", {}, None)  # offered, not waiting: nothing to relax


def test_most_skilled_and_round_robin_strategies(acd):
    available(acd, Agent("idle-longest", "I", {"billing": 2}), T0)
    available(acd, Agent("expert", "E", {"billing": 9}), T0 + 1)
    acd.set_strategy("collections", "most-skilled")
    assert acd.enqueue("CA1", "collections", {"billing": 1}, now_ms=T0 + 2).agent == "expert"
    for agent in ("a", "b"):
        available(acd, Agent(agent, agent.upper(), {"outages": 1}, capacity=5), T0 + 3)
    acd.set_strategy("outages", "round-robin")
    agents = [acd.enqueue(f"CB{i}", "outages", {"outages": 1}, now_ms=T0 + 10 + i).agent for i in range(4)]
    assert agents[0] != agents[1] and agents[:2] == agents[2:]  # they take turns
    assert acd.enqueue("CC1", "general", {"billing": 1}, now_ms=T0 + 20).agent == "idle-longest"


def test_presence_expires_when_the_console_stops_reporting(acd):
    available(acd, Agent("quiet", "Q", {}), T0)
    assert acd.expire_presence("quiet", 90_000, T0 + 60_000) == T0 + 90_000  # not yet: look again then
    acd.touch("quiet", T0 + 80_000)
    assert acd.expire_presence("quiet", 90_000, T0 + 100_000) == T0 + 170_000
    assert acd.expire_presence("quiet", 90_000, T0 + 170_000) is None
    assert acd.status("quiet") == (AgentStatus.OFFLINE, 0)


def test_a_new_worker_finishes_what_a_dead_one_left(redis, redis_url):
    """A worker died with offers past their expiry and a finished call uncounted: the next worker's startup sweep
    (run by `ivr worker`) times the offers out and re-offers the calls, and counts the call."""
    import subprocess
    import sys
    import time
    past = int(time.time() * 1000) - 60_000  # the offer expired a minute ago: its timer died with the worker
    acd = Distributor(redis, offer_timeout_ms=1)
    available(acd, Agent("gone", "G", {}), past)
    offer = acd.enqueue("CA1", "general", {}, now_ms=past + 2)
    assert offer.agent == "gone"
    acd.set_status("gone", AgentStatus.BREAK, past + 3)
    available(acd, Agent("next", "N", {}), int(time.time() * 1000))
    run = subprocess.run([sys.executable, "-m", "ivr.cli", "worker", "--burst"], capture_output=True, text=True,
                         env={**os.environ, "REDIS_URL": redis_url}, timeout=120)
    assert run.returncode == 0, run.stderr
    assert [o.call_sid for o in acd.offers_for("next")] == ["CA1"]


def test_an_agent_finds_a_call_behind_many_they_cannot_take(acd):
    """Audit repro: 40 calls needing a rare skill wait in front; the billing call at position 41 still reaches a
    billing agent who becomes available (the scan goes past the first batch of 32)."""
    for i in range(40):
        acd.enqueue(f"CR{i:02d}", "billing", {"rare": 9}, now_ms=T0 + i)
    acd.enqueue("CA-bill", "billing", {"billing": 1}, now_ms=T0 + 100)
    assert acd.position("CA-bill") == 41
    offer = available(acd, Agent("biller", "B", {"billing": 3}), T0 + 200)
    assert offer is not None and offer.call_sid == "CA-bill"
    assert acd.waiting("billing") == [f"CR{i:02d}" for i in range(40)]


def test_a_call_finds_the_one_qualified_agent_among_many_idle_longer(acd):
    """Audit repro: 300 idle agents at billing level 1 (idle longer), one at level 9; a call needing level 9 is
    offered to that one (the per-level index holds only agents at level 9 or above)."""
    for i in range(300):
        available(acd, Agent(f"low{i:03d}", "L", {"billing": 1}), T0 + i)
    available(acd, Agent("expert", "E", {"billing": 9}), T0 + 1_000)
    offer = acd.enqueue("CA1", "billing", {"billing": 9}, now_ms=T0 + 2_000)
    assert offer is not None and offer.agent == "expert"


def test_a_call_finds_the_qualified_agent_past_a_long_run_of_near_misses(acd):
    """Every index the call could use holds 300 agents who lack the other skill: the script reads on, batch
    after batch, until the one who has both."""
    for i in range(300):
        available(acd, Agent(f"bill{i:03d}", "B", {"billing": 9, "english": 1}), T0 + i)
        available(acd, Agent(f"eng{i:03d}", "E", {"english": 5}), T0 + i)
    available(acd, Agent("both", "Both", {"billing": 9, "english": 5}), T0 + 1_000)
    for strategy in ("longest-idle", "most-skilled", "round-robin"):
        acd.set_strategy("general", strategy)
        offer = acd.enqueue(f"CA-{strategy}", "general", {"billing": 9, "english": 5}, now_ms=T0 + 2_000)
        assert offer is not None and offer.agent == "both", strategy
        acd.decline(offer.reservation, now_ms=T0 + 2_001)  # 'both' is free again for the next strategy


def test_lowering_a_level_takes_the_agent_out_of_the_higher_indexes(acd, redis):
    available(acd, Agent("a", "A", {"billing": 8}), T0)
    acd.register(Agent("a", "A", {"billing": 2}))
    assert redis.zscore("rt:{rt}:avail:billing:3", "a") is None
    assert redis.zscore("rt:{rt}:avail:billing:2", "a") is not None
    assert acd.enqueue("CA1", "billing", {"billing": 5}, now_ms=T0 + 1) is None


def test_a_call_with_a_language_goes_only_to_agents_who_speak_it(acd):
    available(acd, Agent("ed", "Ed", {"billing": 5}, ("en-US",)), T0)  # idle longest
    available(acd, Agent("ana", "Ana", {"billing": 5}, ("es", "en")), T0 + 1)
    offer = acd.enqueue("CA-es", "billing", {"billing": 2}, now_ms=T0 + 2, language="es-US")
    assert offer.agent == "ana"  # 'es' covers es-US, es-MX...
    assert acd.enqueue("CA-any", "billing", {"billing": 2}, now_ms=T0 + 3).agent == "ed"  # no language asked


def test_an_agent_is_not_offered_a_call_in_a_language_they_do_not_speak(acd):
    acd.enqueue("CA-fr", "general", {}, now_ms=T0, language="fr-CA")
    acd.enqueue("CA-en", "general", {}, now_ms=T0 + 1, language="en-GB")
    assert available(acd, Agent("ed", "Ed", {}, ("en",)), T0 + 2).call_sid == "CA-en"
    assert acd.waiting("general") == ["CA-fr"]
    assert available(acd, Agent("flo", "Flo", {}, ("FR",)), T0 + 3).call_sid == "CA-fr"


def test_escalation_relaxes_skills_but_never_the_language(acd):
    available(acd, Agent("ed", "Ed", {"billing": 9}, ("en",)), T0)
    assert acd.enqueue("CA1", "billing", {"billing": 5}, now_ms=T0 + 1, language="es") is None
    assert acd.escalate("CA1", {}, None) and acd.offer_for_call("CA1", T0 + 2) is None
    assert available(acd, Agent("ana", "Ana", {}, ("es",)), T0 + 3).call_sid == "CA1"


def test_a_callback_request_keeps_the_callers_place_and_requirements(acd):
    acd.enqueue("CA-first", "billing", {"billing": 3}, now_ms=T0, language="es")
    acd.enqueue("CA-second", "billing", {"billing": 3}, now_ms=T0 + 1)
    assert acd.to_callback("CA-first", "CB1", {"number": "+15551230000", "from": "+15550100100"})
    assert not acd.to_callback("CA-first", "CB1", {})  # not waiting any more
    assert acd.waiting("billing") == ["CA-second"] and acd.callbacks() == ["CB1"]
    assert acd.callback("CB1")["number"] == "+15551230000"
    available(acd, Agent("ed", "Ed", {"billing": 5}, ("en",)), T0 + 2)  # takes CA-second; does not speak es
    assert acd.agent_for("CB1") is None
    available(acd, Agent("ana", "Ana", {"billing": 5}, ("es",)), T0 + 3)
    assert acd.agent_for("CB1") == "ana" and acd.offers_for("ana") == []  # found, not reserved
    assert acd.take_callback("CB1", T0 + 4) and not acd.take_callback("CB1", T0 + 4)  # one job places the call
    assert acd.callbacks() == [] and acd.callbacks_calling_since(T0 + 5) == ["CB1"]
    assert acd.return_callback("CB1") and acd.callbacks() == ["CB1"]  # not answered: back in line
    assert acd.take_callback("CB1", T0 + 6) and acd.callback("CB1")["attempts"] == 2
    acd.enqueue("CA-third", "billing", {"billing": 3}, now_ms=T0 + 7, offer=False)
    offer = acd.callback_answered("CB1", "CA-callee", T0 + 8)  # the callee is back in line, in front
    assert offer.call_sid == "CA-callee" and offer.agent == "ana" and acd.waiting("billing") == ["CA-third"]
    assert acd.callbacks() == [] and acd.callback("CB1") is None and acd.callback_answered("CB1", "CA-x") is None
