"""Agent API (JSON, one bearer token per agent, or a signed-in agent's console session): status, offers with the
caller's context, accept, decline, wrap-up with disposition and notes, the agent's calls of the day. Accepting redirects the waiting caller, through Twilio's REST API, to TwiML that rings the agent."""

from __future__ import annotations

import functools
import json
import time
from typing import Any, Callable

from flask import Blueprint, current_app, g, jsonify, request
from twilio.twiml.voice_response import Dial, VoiceResponse

from ivr.store.accounts import Role
from ivr.services.agentdesk import AGENT_CHOICES, MAX_HISTORY_SECONDS, AgentDesk, WrapUpRefused, transcript
from ivr.store.tokens import AgentTokens
from ivr.engine.step import CallState
from ivr.jobs.queue import schedule_presence_check
from ivr.telephony.rest import CallGone, TwilioRestError
from routing import keys as keys_rt
from routing.acd import Agent, AgentStatus, Outcome
from webhooks.auth import session_role
from webhooks.security import public_url
from webhooks.consoles.streams import stream_slot

bp = Blueprint("agents", __name__, url_prefix="/api/agent")
AGENT_RING_SECONDS = 20
#: Session variables an agent never sees: internals, and `hours` (the schedule node's state). The rest is what the
#: caller entered and what lookups found.
HIDDEN_VARIABLES = {"call_sid", "called", "recording_url", "last_input", "hours"}


def services() -> Any:
    return current_app.extensions["ivr"]


def desk() -> AgentDesk:
    svc = services()
    return AgentDesk(svc.calllog, svc.calls.repo, svc.calls.router)


def agent_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """``Authorization: Bearer <agent token>``, or a signed-in agent's console session (whose unsafe requests
    must carry the CSRF token); the agent's id goes to ``g.agent_id``."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        given = request.headers.get("Authorization", "")
        token = given[7:] if given.startswith("Bearer ") else request.args.get("access_token", "")  # EventSource
        agent_id = AgentTokens(services().redis).agent_for(token) if token else None
        if not token:
            account = session_role(Role.AGENT)
            agent_id = account.agent_id if account else None
        if agent_id is None:
            return jsonify(error="missing or unknown agent token (or sign in as an agent)"), 401
        if services().calls.router.agent(agent_id) is None:
            return jsonify(error=f"agent '{agent_id}' is not registered for routing: ask a supervisor to add "
                                 "them ('ivr agents add')"), 403
        g.agent_id = agent_id
        services().calls.router.touch(agent_id)  # every request from the console counts as presence
        return view(*args, **kwargs)

    return wrapper


def _now_ms() -> int:
    return int(time.time() * 1000)


def _offer_view(offer: Any) -> dict[str, Any]:
    """An offer with what the caller already did and said: the path through the flow and the data collected."""
    svc = services()
    record = svc.calllog.get(offer.call_sid) or {}
    session = svc.calls.sessions.load(offer.call_sid)
    state = CallState.from_dict(session.state) if session else None
    variables = {k: v for k, v in (state.vars if state else {}).items() if k not in HIDDEN_VARIABLES}
    return {
        "reservation": offer.reservation, "call_sid": offer.call_sid, "expires": offer.expires,
        "expires_in_ms": max(0, offer.expires - _now_ms()), "caller": record.get("caller"),
        "queue": (state.routing or {}).get("queue") if state else None,
        "language": (state.routing or {}).get("language") if state else None,
        "path": [f"{s.get('flow')}.{s.get('node')}" for s in record.get("steps", [])
                 if s.get("outcome") in ("prompted", "said", "chose", "collected", "confirmed", "queued")],
        "steps": record.get("steps", []), "data": variables, "said": transcript(record.get("steps", [])),
    }


@bp.get("")
@agent_required
def me():
    router = services().calls.router
    agent = router.agent(g.agent_id)
    status, load = router.status(g.agent_id)
    now, agent_desk = time.time(), desk()
    wrap_up = agent_desk.pending_wrap_up(g.agent_id, now)
    return jsonify(id=agent.id, name=agent.name, skills=dict(agent.skills), languages=list(agent.languages),
                   capacity=agent.capacity, status=status.value, load=load,
                   status_since=router.status_since(g.agent_id), now=int(now * 1000),
                   choices=[choice.value for choice in AGENT_CHOICES], call=agent_desk.current_call(g.agent_id, now),
                   wrap_up=wrap_up.to_dict() if wrap_up else None,
                   offers=[o.reservation for o in router.offers_for(g.agent_id)])


@bp.post("/status")
@agent_required
def set_status():
    """The agent chooses available, break or offline; busy and wrap-up are the system's to set."""
    body = request.get_json(silent=True) or {}
    choices = {s.value: s for s in AGENT_CHOICES}
    status = choices.get(str(body.get("status")))
    if status is None:
        return jsonify(error=f"'status' must be one of {', '.join(choices)}"), 400
    offer = services().calls.router.set_status(g.agent_id, status)
    services().calls.offered(offer)
    if status is not AgentStatus.OFFLINE:
        schedule_presence_check(services().redis, g.agent_id)
    return jsonify(status=status.value, offer=offer.reservation if offer else None)


@bp.get("/offers")
@agent_required
def offers():
    return jsonify(offers=[_offer_view(o) for o in services().calls.router.offers_for(g.agent_id)])


def _ring_agent_twiml(agent: Agent) -> str:
    """What the caller's leg does once an agent accepts: ring the agent; the result comes to /twilio/agent."""
    response = VoiceResponse()
    response.say("Connecting you to an agent now.")
    dial = Dial(action=public_url(f"/twilio/agent?agent={agent.id}"), method="POST", timeout=AGENT_RING_SECONDS)
    contact = agent.contact or f"client:{agent.id}"
    if contact.startswith("client:"):
        dial.client(contact[len("client:"):])
    elif contact.startswith("sip:"):
        dial.sip(contact)
    else:
        dial.number(contact)
    response.append(dial)
    return str(response)


@bp.post("/offers/<reservation>/accept")
@agent_required
def accept(reservation: str):
    svc = services()
    router = svc.calls.router
    offer = next((o for o in router.offers_for(g.agent_id) if o.reservation == reservation), None)
    if offer is None or not router.accept(reservation, g.agent_id):
        return jsonify(error="this offer is no longer yours to accept (timed out, taken or cancelled)"), 409
    agent = router.agent(g.agent_id)
    try:
        svc.twilio.redirect(offer.call_sid, _ring_agent_twiml(agent))
    except CallGone:
        router.hangup(offer.call_sid)
        return jsonify(error="the caller has hung up"), 409
    except TwilioRestError as e:
        for again in router.requeue(offer.call_sid):
            svc.calls.offered(again)
        return jsonify(error=f"could not connect the call: {e}"), 502
    session = svc.calls.sessions.load(offer.call_sid)
    queue = (CallState.from_dict(session.state).routing or {}).get("queue") if session else None
    svc.calllog.agent_accepted(offer.call_sid, g.agent_id, _now_ms() / 1000, queue=queue)
    return jsonify(accepted=True, call_sid=offer.call_sid)


@bp.post("/offers/<reservation>/decline")
@agent_required
def decline(reservation: str):
    router = services().calls.router
    if not any(o.reservation == reservation for o in router.offers_for(g.agent_id)):
        return jsonify(error="no such offer for you"), 404
    ended, offers = router.end_offer(reservation, Outcome.DECLINED)
    if ended is not None:
        services().calls.offer_ended(ended, Outcome.DECLINED.value)
    for offer in offers:
        services().calls.offered(offer)
    return jsonify(declined=True)


#: How long one event stream stays open; the browser's EventSource reconnects with Last-Event-ID, so nothing is
#: lost, and a sync worker is not held for longer than this.
STREAM_SECONDS = 25
HEARTBEAT_SECONDS = 10
#: One blocking read waits at most this long: less than the Redis client's socket timeout (2 s, ivr.runner.redis),
#: which would otherwise end a quiet stream with a TimeoutError.
BLOCK_MS = 1000


@bp.get("/events")
@agent_required
@stream_slot
def events():
    """Server-Sent Events: offers, their end, status changes, as they happen (``id:`` lines allow resuming)."""
    agent_id = g.agent_id
    router = services().calls.router
    after = request.headers.get("Last-Event-ID") or request.args.get("after") or "$"
    if after != "$" and not all(part.isdigit() for part in after.split("-")):
        return jsonify(error="Last-Event-ID must be an event id such as 1700000000000-0"), 400
    if after == "$":  # a fresh console first gets what is pending now
        after = router.redis.xinfo_stream(keys_rt.agent_events(agent_id))["last-generated-id"].decode() \
            if router.redis.exists(keys_rt.agent_events(agent_id)) else "0"

    def stream():
        nonlocal after
        deadline = time.monotonic() + STREAM_SECONDS
        yield "retry: 1000\n\n"
        for offer in router.offers_for(agent_id):
            yield _sse(None, "offer", {"reservation": offer.reservation, "call_sid": offer.call_sid,
                                       "expires": offer.expires})
        beat = time.monotonic()
        while time.monotonic() < deadline:
            batch = router.events(agent_id, after, block_ms=BLOCK_MS)
            for event_id, kind, data in batch:
                after = event_id
                yield _sse(event_id, kind, data)
            if time.monotonic() - beat >= HEARTBEAT_SECONDS:
                beat = time.monotonic()
                router.touch(agent_id)  # an open console is a present agent
                if not batch:
                    yield ": keep-alive\n\n"

    return current_app.response_class(stream(), mimetype="text/event-stream",
                                      headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _sse(event_id: str | None, kind: str, data: dict[str, Any]) -> str:
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {kind}\ndata: {json.dumps(data)}\n\n"


@bp.post("/wrap-up")
@agent_required
def wrap_up_done():
    """The agent finished their after-call work. With ``{"call_sid", "disposition", "notes"}`` the wrap-up is
    recorded on the call (checked: a disposition of the call's queue, notes of at most 2000 characters, a call this
    agent accepted and that is over) and an agent in wrap-up becomes available; with no body, available again."""
    body = request.get_json(silent=True)
    if body is not None and not isinstance(body, dict):
        return jsonify(error="send a JSON object: {\"call_sid\", \"disposition\", \"notes\"}"), 400
    if not body:
        offer = services().calls.router.set_status(g.agent_id, AgentStatus.AVAILABLE)
        services().calls.offered(offer)
        return jsonify(status="available", offer=offer.reservation if offer else None)
    try:
        done = desk().wrap_up(g.agent_id, body.get("call_sid"), body.get("disposition"), body.get("notes", ""),
                              time.time())
    except WrapUpRefused as e:
        return jsonify(error=str(e)), e.status
    services().calls.offered(done["offer"])
    return jsonify(status=done["status"], offer=done["offer"].reservation if done["offer"] else None,
                   call_sid=body["call_sid"], disposition=body["disposition"])


@bp.get("/history")
@agent_required
def history():
    """The calls this agent accepted from ``since`` (epoch seconds: the browser's local midnight) to ``until``
    (default now), newest first, with their wrap-up."""
    now = time.time()
    try:
        since = float(request.args["since"])
        until = float(request.args.get("until", now))
    except KeyError:
        return jsonify(error="'since' is required: epoch seconds, e.g. your local midnight"), 400
    except ValueError:
        return jsonify(error="'since' and 'until' must be epoch seconds, e.g. 1764000000"), 400
    if not (since == since and until == until) or since > until:  # NaN, or a range that ends before it starts
        return jsonify(error="'since' must be a number no later than 'until'"), 400
    if until - since > MAX_HISTORY_SECONDS:
        return jsonify(error=f"at most {MAX_HISTORY_SECONDS // 3600} hours of history at once"), 400
    return jsonify(since=since, until=until, calls=desk().history(g.agent_id, since, until))


