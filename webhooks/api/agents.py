"""Agent API (JSON, one bearer token per agent, or a signed-in agent's console session): status, offers with the
caller's context, accept, decline, wrap-up with disposition and notes, the agent's calls of the day. Accepting redirects the waiting caller, through Twilio's REST API, to TwiML that rings the agent."""

from __future__ import annotations

import functools
import json
import time
from typing import Any, Callable

from flask import Blueprint, current_app, g, jsonify, request

from ivr.services.desk import AGENT_CHOICES, MAX_HISTORY_SECONDS, AgentDesk, WrapUpRefused
from ivr.services.queueing import AcceptOutcome, Queueing
from ivr.store.accounts import Role
from ivr.store.tokens import AgentTokens
from ivr.telephony import twiml, urls
from routing.model import Agent
from webhooks.auth import session_role
from webhooks.consoles.streams import stream_slot
from webhooks.security import public_url

bp = Blueprint("agents", __name__, url_prefix="/api/agent")
AGENT_RING_SECONDS = 20


def services() -> Any:
    return current_app.extensions["ivr"]


def queueing() -> Queueing:
    return services().calls.queueing


def desk() -> AgentDesk:
    return queueing().desk()


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
    offer = queueing().choose_status(g.agent_id, status)
    return jsonify(status=status.value, offer=offer.reservation if offer else None)


@bp.get("/offers")
@agent_required
def offers():
    agent_desk = desk()
    return jsonify(offers=[agent_desk.offer_view(o) for o in services().calls.router.offers_for(g.agent_id)])


def _ring_agent_twiml(agent: Agent) -> str:
    """What the caller's leg does once an agent accepts: ring the agent; the result comes to /twilio/agent."""
    return twiml.ring_agent(agent.id, agent.contact, public_url(urls.agent_leg_path(agent.id)), AGENT_RING_SECONDS)


@bp.post("/offers/<reservation>/accept")
@agent_required
def accept(reservation: str):
    done = queueing().accept(g.agent_id, reservation, _ring_agent_twiml, services().twilio)
    if done.outcome is AcceptOutcome.NOT_YOURS:
        return jsonify(error="this offer is no longer yours to accept (timed out, taken or cancelled)"), 409
    if done.outcome is AcceptOutcome.CALLER_GONE:
        return jsonify(error="the caller has hung up"), 409
    if done.outcome is AcceptOutcome.NOT_CONNECTED:
        return jsonify(error=f"could not connect the call: {done.error}"), 502
    return jsonify(accepted=True, call_sid=done.call_sid)


@bp.post("/offers/<reservation>/decline")
@agent_required
def decline(reservation: str):
    if not queueing().decline(g.agent_id, reservation):
        return jsonify(error="no such offer for you"), 404
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
        after = desk().events_start(agent_id)

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
        offer = queueing().available_again(g.agent_id)
        return jsonify(status="available", offer=offer.reservation if offer else None)
    try:
        done = queueing().record_wrap_up(g.agent_id, body.get("call_sid"), body.get("disposition"),
                                         body.get("notes", ""), time.time())
    except WrapUpRefused as e:
        return jsonify(error=str(e)), e.status
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


