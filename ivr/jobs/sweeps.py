"""The sweeps that re-derive routing from Redis: the periodic rematch (the safety net of routing, one chain of jobs
however many workers run) and the startup sweep every worker runs first (whatever a dead worker left undone)."""

from __future__ import annotations

from typing import Any

import redis as redis_lib

from ivr.bootstrap import worker_services
from ivr.jobs.callbacks import run_callbacks
from ivr.jobs.presence import check_presence
from ivr.jobs.queue import continue_chain, job_connection, schedule_rematch, schedule_sampling
from ivr.jobs.routing_timers import end_wrap_up, expire_offers, offered
from ivr.jobs.stats import count_finished_calls
from ivr.store.chains import Chain
from routing.model import AgentStatus


def rematch(connection: redis_lib.Redis | None = None) -> list[str]:
    """Time out offers whose own timer was lost, offer every waiting call that has a qualified available agent
    now, place the callbacks that have one. The next sweep is scheduled first, so a sweep that fails does not end
    the chain."""
    connection = connection or job_connection()
    continue_chain(connection, Chain.REMATCH, schedule_rematch)
    services = worker_services(connection)
    renewed = expire_offers(services.redis)
    offers = services.router.rematch()
    for offer in offers:
        offered(services, offer)
    called = run_callbacks(services.redis)
    return renewed + [offer.reservation for offer in offers] + called


def startup_sweep(connection: redis_lib.Redis | None = None) -> dict[str, Any]:
    """Offers past their expiry, wrap-ups past their end, finished calls not yet counted, agents whose presence was
    never checked; then the rematch and wallboard sampling chains are (re)started."""
    services = worker_services(connection or job_connection())
    connection = services.redis
    acd = services.router
    renewed = expire_offers(connection)
    wrapped_up = [agent_id for agent_id in acd.wrap_ups_over() if end_wrap_up(agent_id, connection)]
    counted = count_finished_calls(connection)
    signed_in = [a.id for a in acd.all_agents() if acd.status(a.id)[0] is not AgentStatus.OFFLINE]
    for agent_id in signed_in:
        check_presence(agent_id, connection)
    schedule_rematch(connection)
    schedule_sampling(connection)
    return {"offers_renewed": renewed, "wrap_ups_ended": wrapped_up, "calls": counted,
            "agents_checked": len(signed_in)}
