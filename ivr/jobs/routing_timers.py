"""The routing timers, run by the worker when their time comes: an offer's expiry, the end of an agent's wrap-up, a
queue's escalation steps and its maximum wait (overflow, leave, or a callback)."""

from __future__ import annotations

import logging
import time

import redis as redis_lib

from ivr.bootstrap import Services, worker_services
from ivr.engine.queue import MaxWaitAction, at_max_wait
from ivr.jobs.queue import job_connection, schedule_offer_expiry
from ivr.telephony import twiml, urls
from ivr.telephony.rest import CallGone
from routing.model import AgentStatus, Offer

log = logging.getLogger(__name__)


def offered(services: Services, offer: Offer) -> None:
    """A job made an offer: on the call's log, and timed."""
    routing_step(services, offer, "offered")
    schedule_offer_expiry(services.redis, offer)


def routing_step(services: Services, offer: Offer, outcome: str) -> None:
    """Note ``outcome`` of ``offer`` on its call's log (a fault there does not stop routing)."""
    try:
        services.calllog.routing_step(offer.call_sid, outcome, offer.agent, time.time())
    except redis_lib.RedisError:
        log.exception("could not log '%s' for offer %s", outcome, offer.reservation)


def expire_offers(connection: redis_lib.Redis | None = None) -> list[str]:
    """Time out every offer past its expiry (idempotent: re-derived from Redis); each call is offered again.
    The timeouts and the new offers go on the calls' logs."""
    services = worker_services(connection or job_connection())
    renewed = []
    for ended, offers in services.router.expire_due():
        routing_step(services, ended, "timeout")
        for offer in offers:
            offered(services, offer)
            renewed.append(offer.reservation)
    return renewed


def end_wrap_up(agent_id: str, connection: redis_lib.Redis | None = None) -> bool:
    """Wrap-up time is over: the agent becomes available (unless they changed status meanwhile)."""
    services = worker_services(connection or job_connection())
    acd = services.router
    status, _load = acd.status(agent_id)
    if status is not AgentStatus.WRAP_UP:
        return False
    offer = acd.set_status(agent_id, AgentStatus.AVAILABLE)
    if offer is not None:
        offered(services, offer)
    return True


def escalate_call(call_sid: str, skills: dict[str, int] | None, priority: int | None,
                  connection: redis_lib.Redis | None = None) -> bool:
    """One escalation step of a waiting call: its requirements relaxed, its priority raised; offered if that
    finds an agent now."""
    services = worker_services(connection or job_connection())
    acd = services.router
    changed = acd.escalate(call_sid, skills, priority)
    if changed:
        offer = acd.offer_for_call(call_sid)
        if offer is not None:
            offered(services, offer)
    return changed


def enforce_max_wait(call_sid: str, on_max_wait: str, connection: redis_lib.Redis | None = None) -> str:
    """A call still waiting at its queue's maximum wait overflows to another queue, becomes a callback request, or
    leaves the queue (as the engine decides, :func:`ivr.engine.queue.at_max_wait`): leaving, the live call is
    redirected (Twilio REST) to the flow, which goes on from its queue node's ``next``."""
    services = worker_services(connection or job_connection())
    acd = services.router
    if acd.call_state(call_sid) != "waiting":
        return "not waiting"
    decision = at_max_wait(on_max_wait)
    if decision.action is MaxWaitAction.CALLBACK:
        return services.calls.queueing.callback_at_max_wait(call_sid, services.twilio, services.settings.public_url)
    if decision.action is MaxWaitAction.OVERFLOW:
        offer = acd.move(call_sid, decision.queue)
        if offer is not None:
            offered(services, offer)
        return "moved"
    session = services.sessions.load(call_sid)
    base = services.settings.public_url or (session.base_url if session else None)
    if session is None or not base or not acd.leave(call_sid):
        return "call gone"
    try:
        services.twilio.redirect(call_sid, twiml.redirect(urls.absolute(base, urls.continue_path(session.seq,
                                                                                               "leave"))))
    except CallGone:
        return "call gone"
    return "left"
