"""Background work run by RQ workers (``ivr worker``): per-day call outcome statistics, and the routing timers
(offer timeouts, end of wrap-up, escalation, maximum wait, presence, the periodic rematch sweep).

A finished call's SID is pushed on a list by the status callback (cheap: no job per call); the first push after
the list was drained also queues one :func:`count_finished_calls` job, which counts everything waiting. Counting
is idempotent (a per-day set of counted SIDs) and SIDs leave the list only after they are counted, so a job
retried, run twice, or killed half-way counts each call exactly once and loses none.
"""

from __future__ import annotations

import logging
import secrets
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import redis as redis_lib
from rq import Queue, Retry, get_current_job
from twilio.twiml.voice_response import VoiceResponse

from ivr.store import keys
from ivr.store.calllog import CallLog
from ivr.config import Settings
from ivr.engine.queue import CALLBACK_GOODBYE
from ivr.engine.state import CallState, Disposition, Waiting
from ivr.store.sessions import Session, SessionStore
from ivr.telephony.rest import CallGone, TwilioRest, TwilioRestError
from routing.acd import Distributor
from routing.config import QueueConfig
from routing.model import AgentStatus, Offer

log = logging.getLogger(__name__)

QUEUE_NAME = "ivr"
STATS_TTL = 400 * 86400
PENDING_TTL = 60  # a counting job lost with its worker is re-queued by the next finished call after this

# Lua: count a finished call once. KEYS[1] = stats hash, KEYS[2] = set of counted call SIDs.
# ARGV[1] = call SID, ARGV[2] = ttl, ARGV[3..] = field names to increment.
_COUNT_ONCE = """
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return 0 end
for i = 3, #ARGV do redis.call('HINCRBY', KEYS[1], ARGV[i], 1) end
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return 1
"""


def _job_connection() -> redis_lib.Redis:
    """The Redis connection of the RQ job being run (jobs may also be called directly with one)."""
    job = get_current_job()
    if job is None:
        raise RuntimeError("no connection given and not running inside an RQ job")
    return job.connection


def stats_keys(day: str) -> tuple[str, str]:
    # Hash tag keeps a day's two keys in one Redis Cluster slot (the script touches both).
    return f"{keys.PREFIX}stats:{{{day}}}", f"{keys.PREFIX}stats:{{{day}}}:counted"


def stage_finished(pipe: redis_lib.client.Pipeline, call_sid: str) -> None:
    """Queue on ``pipe`` (a MULTI pipeline): remember the call for counting, and claim the right to queue the
    counting job. The last result of ``pipe.execute()`` is true when the caller must call :func:`enqueue_count`."""
    pipe.rpush(keys.FINISHED_CALLS, call_sid)
    pipe.set(keys.COUNT_PENDING, "1", nx=True, ex=PENDING_TTL)


def enqueue_count(connection: redis_lib.Redis) -> None:
    Queue(QUEUE_NAME, connection=connection).enqueue(
        count_finished_calls, retry=Retry(max=3, interval=[5, 30, 120]), result_ttl=3600, failure_ttl=7 * 86400)


def count_finished_calls(connection: redis_lib.Redis | None = None, batch: int = 500) -> dict[str, Any]:
    """Count every finished call waiting on the list; returns how many were new."""
    connection = connection or _job_connection()
    seen = counted = 0
    while True:
        sids = connection.lrange(keys.FINISHED_CALLS, 0, batch - 1)
        if not sids:
            # Release the marker, then look again: a call pushed meanwhile either saw the marker (and is
            # found by this second look) or set a fresh one (and queued its own job).
            connection.delete(keys.COUNT_PENDING)
            if connection.llen(keys.FINISHED_CALLS) == 0:
                return {"seen": seen, "counted": counted}
            continue
        for sid in sids:
            counted += finalize_call(sid.decode() if isinstance(sid, bytes) else sid, connection)["counted"]
        connection.ltrim(keys.FINISHED_CALLS, len(sids), -1)
        seen += len(sids)


def finalize_call(call_sid: str, connection: redis_lib.Redis | None = None) -> dict[str, Any]:
    """Fold one finished call into its day's statistics (calls, per flow, per disposition, per status)."""
    connection = connection or _job_connection()
    record = CallLog(connection, STATS_TTL).get(call_sid)
    if record is None or not record.get("status"):
        return {"counted": False, "reason": "no finished call record"}
    started = float(record.get("started_at") or 0)
    day = datetime.fromtimestamp(started, timezone.utc).date().isoformat()
    fields = ["calls", f"flow:{record.get('flow') or '-'}", f"disposition:{record.get('disposition') or 'unknown'}",
              f"status:{record.get('status')}"]
    stats_key, counted_key = stats_keys(day)
    counted = connection.eval(_COUNT_ONCE, 2, stats_key, counted_key, call_sid, STATS_TTL, *fields)
    return {"counted": bool(counted), "day": day, "fields": fields}


def schedule_offer_expiry(connection: redis_lib.Redis, offer: Offer) -> None:
    """Have the worker time the offer out when it expires (its scheduler runs the job then)."""
    delay_ms = max(0, offer.expires - int(time.time() * 1000)) + 250
    Queue(QUEUE_NAME, connection=connection).enqueue_in(
        timedelta(milliseconds=delay_ms), expire_offers, retry=Retry(max=3, interval=[1, 5, 30]), result_ttl=600)


def _offered(connection: redis_lib.Redis, offer: Offer) -> None:
    """A job made an offer: on the call's log, and timed."""
    _routing_step(connection, offer, "offered")
    schedule_offer_expiry(connection, offer)


def _routing_step(connection: redis_lib.Redis, offer: Offer, outcome: str) -> None:
    try:
        CallLog(connection, Settings.from_env().calllog_ttl).routing_step(offer.call_sid, outcome, offer.agent,
                                                                          time.time())
    except redis_lib.RedisError:
        log.exception("could not log '%s' for offer %s", outcome, offer.reservation)


def expire_offers(connection: redis_lib.Redis | None = None) -> list[str]:
    """Time out every offer past its expiry (idempotent: re-derived from Redis); each call is offered again.
    The timeouts and the new offers go on the calls' logs."""
    connection = connection or _job_connection()
    renewed = []
    for ended, offers in Distributor(connection).expire_due():
        _routing_step(connection, ended, "timeout")
        for offer in offers:
            _offered(connection, offer)
            renewed.append(offer.reservation)
    return renewed


def schedule_wrap_up_end(connection: redis_lib.Redis, agent_id: str, seconds: int) -> None:
    """End the agent's wrap-up in ``seconds`` (the end is also noted in Redis, so a lost job is made up for by the
    next worker's startup sweep)."""
    Distributor(connection).wrap_up_until(agent_id, int(time.time() * 1000) + seconds * 1000)
    Queue(QUEUE_NAME, connection=connection).enqueue_in(timedelta(seconds=seconds), end_wrap_up, agent_id,
                                                        result_ttl=600, retry=Retry(max=3, interval=[1, 5, 30]))


def end_wrap_up(agent_id: str, connection: redis_lib.Redis | None = None) -> bool:
    """Wrap-up time is over: the agent becomes available (unless they changed status meanwhile)."""
    connection = connection or _job_connection()
    acd = Distributor(connection)
    status, _load = acd.status(agent_id)
    if status is not AgentStatus.WRAP_UP:
        return False
    offer = acd.set_status(agent_id, AgentStatus.AVAILABLE)
    if offer is not None:
        _offered(connection, offer)
    return True


def schedule_escalation(connection: redis_lib.Redis, call_sid: str, queue: QueueConfig) -> None:
    """One job per escalation step of the call's queue, each at its time (relaxing requirements, raising
    priority); a step that finds the call no longer waiting does nothing."""
    rq_queue = Queue(QUEUE_NAME, connection=connection)
    for step in queue.escalation:
        rq_queue.enqueue_in(timedelta(seconds=step.after), escalate_call, call_sid,
                            dict(step.skills) if step.skills is not None else None, step.priority,
                            result_ttl=600, retry=Retry(max=3, interval=[1, 5, 30]))


def escalate_call(call_sid: str, skills: dict[str, int] | None, priority: int | None,
                  connection: redis_lib.Redis | None = None) -> bool:
    connection = connection or _job_connection()
    acd = Distributor(connection)
    changed = acd.escalate(call_sid, skills, priority)
    if changed:
        offer = acd.offer_for_call(call_sid)
        if offer is not None:
            _offered(connection, offer)
    return changed


def schedule_max_wait(connection: redis_lib.Redis, call_sid: str, queue: QueueConfig) -> None:
    if queue.max_wait:
        Queue(QUEUE_NAME, connection=connection).enqueue_in(
            timedelta(seconds=queue.max_wait), enforce_max_wait, call_sid, queue.on_max_wait,
            result_ttl=600, retry=Retry(max=3, interval=[1, 5, 30]))


def enforce_max_wait(call_sid: str, on_max_wait: str, connection: redis_lib.Redis | None = None) -> str:
    """A call still waiting at its queue's maximum wait overflows to another queue, or leaves the queue: the
    live call is redirected (Twilio REST) to the flow, which goes on from its queue node's ``next``."""
    connection = connection or _job_connection()
    acd = Distributor(connection)
    if acd.call_state(call_sid) != "waiting":
        return "not waiting"
    if on_max_wait == "callback":
        return _callback_at_max_wait(connection, call_sid)
    if on_max_wait.startswith("queue:"):
        offer = acd.move(call_sid, on_max_wait[len("queue:"):])
        if offer is not None:
            _offered(connection, offer)
        return "moved"
    settings = Settings.from_env()
    session = SessionStore(connection, settings.session_ttl).load(call_sid)
    base = settings.public_url or (session.base_url if session else None)
    if session is None or not base or not acd.leave(call_sid):
        return "call gone"
    response = VoiceResponse()
    response.redirect(f"{base}/twilio/continue?seq={session.seq}&on=leave", method="POST")
    try:
        TwilioRest.from_settings(settings).redirect(
            call_sid, str(response))
    except CallGone:
        return "call gone"
    return "left"


#: An outbound callback not answered within this time goes back in line; after this many calls, it is dropped.
CALLBACK_RING_MS = 120_000
CALLBACK_ATTEMPTS = 3


def request_callback(connection: redis_lib.Redis, call_sid: str, state: dict[str, Any],
                     base_url: str | None) -> str | None:
    """The waiting call becomes a callback request, keeping its place in line; ``state`` (the call's engine
    state) is kept for the callee's call. Returns the request's id, or None when the call was not waiting or
    its caller's number is unknown."""
    record = CallLog(connection, STATS_TTL).get(call_sid) or {}
    if not record.get("caller") or not record.get("called"):
        return None
    callback_id = "CB" + secrets.token_hex(16)
    if not Distributor(connection).to_callback(call_sid, callback_id, {
            "number": record["caller"], "from": record["called"], "state": state, "base_url": base_url}):
        return None
    Queue(QUEUE_NAME, connection=connection).enqueue(run_callbacks, result_ttl=600,
                                                     retry=Retry(max=3, interval=[1, 5, 30]))
    return callback_id


def _callback_at_max_wait(connection: redis_lib.Redis, call_sid: str) -> str:
    """Maximum wait with ``on_max_wait: callback``: the request takes the call's place, and the caller is told
    and hung up on (through Twilio's REST API); the call ends with disposition ``callback``."""
    settings = Settings.from_env()
    sessions = SessionStore(connection, settings.session_ttl)
    session = sessions.load(call_sid)
    if session is None:
        return "call gone"
    if request_callback(connection, call_sid, session.state, settings.public_url or session.base_url) is None:
        return "not waiting"
    response = VoiceResponse()
    response.say(CALLBACK_GOODBYE)
    response.hangup()
    state = CallState.from_dict(session.state)
    state.waiting, state.disposition = Waiting.ENDED, Disposition.CALLBACK
    sessions.save(call_sid, Session(session.seq + 1, state.to_dict(), str(response), session.base_url),
                  expected_seq=session.seq)
    try:
        TwilioRest.from_settings(settings).redirect(
            call_sid, str(response))
    except CallGone:
        return "call gone"
    return "callback"


def run_callbacks(connection: redis_lib.Redis | None = None) -> list[str]:
    """Place the outbound call of every callback request that has a qualified agent available now (one request
    per available agent per run), to ``/twilio/callback``, where the callee goes back in line at the request's
    place. Calls placed long ago and never answered go back in line (dropped after a few attempts). Run when a
    request is made and by every rematch sweep. Returns the requests called."""
    connection = connection or _job_connection()
    acd = Distributor(connection)
    settings = Settings.from_env()
    for callback_id in acd.callbacks_calling_since(int(time.time() * 1000) - CALLBACK_RING_MS):
        if int((acd.callback(callback_id) or {}).get("attempts", 0)) >= CALLBACK_ATTEMPTS:
            acd.drop_callback(callback_id)
        else:
            acd.return_callback(callback_id)
    placed: list[str] = []
    agents_used: set[str] = set()
    twilio = TwilioRest.from_settings(settings)
    for callback_id in acd.callbacks():
        agent = acd.agent_for(callback_id)
        if agent is None or agent in agents_used or not acd.take_callback(callback_id):
            continue
        record = acd.callback(callback_id) or {}
        base = settings.public_url or record.get("base_url")
        try:
            twilio.call(record["number"], record["from"], f"{base}/twilio/callback?id={callback_id}")
        except (TwilioRestError, KeyError):
            log.exception("could not place callback %s", callback_id)
            acd.return_callback(callback_id)
            continue
        agents_used.add(agent)
        placed.append(callback_id)
    return placed


#: Seconds without a request from an agent's console before they are signed out.
PRESENCE_TTL = 90


def schedule_presence_check(connection: redis_lib.Redis, agent_id: str, seconds: float = PRESENCE_TTL) -> None:
    Queue(QUEUE_NAME, connection=connection).enqueue_in(timedelta(seconds=seconds), check_presence, agent_id,
                                                        result_ttl=600)


def check_presence(agent_id: str, connection: redis_lib.Redis | None = None) -> bool:
    """Sign the agent out if their console went quiet; otherwise look again when it would be overdue."""
    connection = connection or _job_connection()
    again = Distributor(connection).expire_presence(agent_id, PRESENCE_TTL * 1000)
    if again is None:
        return False
    schedule_presence_check(connection, agent_id, max(1.0, (again - time.time() * 1000) / 1000))
    return True


#: Seconds between two rematch sweeps.
REMATCH_EVERY = 30


def schedule_rematch(connection: redis_lib.Redis, seconds: float = REMATCH_EVERY) -> bool:
    """Schedule the next rematch sweep unless one is already scheduled (one chain, however many workers start).
    The marker names the job that owns the chain and outlives its time by a minute, so a chain lost with its
    worker is restarted by the next worker's startup sweep; a late job of an older chain then finds the marker
    is not its own and does not reschedule, so chains never multiply."""
    job_id = f"rematch-{secrets.token_hex(8)}"
    if not connection.set(keys.REMATCH_SCHEDULED, job_id, nx=True, ex=int(seconds) + 60):
        return False
    Queue(QUEUE_NAME, connection=connection).enqueue_in(
        timedelta(seconds=seconds), rematch, job_id=job_id, result_ttl=600, retry=Retry(max=3, interval=[1, 5, 30]))
    return True


def rematch(connection: redis_lib.Redis | None = None) -> list[str]:
    """The periodic safety net of routing: time out offers whose own timer was lost, offer every waiting call
    that has a qualified available agent now, place the callbacks that have one. The next sweep is scheduled
    first, so a sweep that fails does not end the chain."""
    job = get_current_job()
    connection = connection or _job_connection()
    owner = connection.get(keys.REMATCH_SCHEDULED)
    if owner is None or (job is not None and owner.decode() == job.id):
        connection.delete(keys.REMATCH_SCHEDULED)
        schedule_rematch(connection)
    renewed = expire_offers(connection)
    offers = Distributor(connection).rematch()
    for offer in offers:
        _offered(connection, offer)
    called = run_callbacks(connection)
    return renewed + [offer.reservation for offer in offers] + called


def startup_sweep(connection: redis_lib.Redis | None = None) -> dict[str, Any]:
    """Run when a worker starts: whatever a dead worker left undone is re-derived from Redis (offers past their
    expiry, wrap-ups past their end, finished calls not yet counted, agents whose presence was never checked)."""
    connection = connection or _job_connection()
    acd = Distributor(connection)
    renewed = expire_offers(connection)
    wrapped_up = [agent_id for agent_id in acd.wrap_ups_over() if end_wrap_up(agent_id, connection)]
    counted = count_finished_calls(connection)
    signed_in = [a.id for a in acd.all_agents() if acd.status(a.id)[0] is not AgentStatus.OFFLINE]
    for agent_id in signed_in:
        check_presence(agent_id, connection)
    schedule_rematch(connection)
    from ivr.services.wallboard import schedule_sampling  # (imported here: the wallboard module schedules on this queue)
    schedule_sampling(connection)
    return {"offers_renewed": renewed, "wrap_ups_ended": wrapped_up, "calls": counted,
            "agents_checked": len(signed_in)}


def daily_stats(connection: redis_lib.Redis, day: str) -> dict[str, int]:
    """Counters of one UTC day (``YYYY-MM-DD``)."""
    raw = connection.hgetall(stats_keys(day)[0])
    return {k.decode() if isinstance(k, bytes) else k: int(v) for k, v in raw.items()}
