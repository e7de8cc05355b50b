"""The supervisor wallboard: a page watching the queues and agents live (Server-Sent Events), and a chart of the
day's calls waiting and service level (samples recorded by the worker, :mod:`ivr.services.wallboard`, kept by
:mod:`ivr.store.wallboard`).

- ``GET /wallboard``: the page (signed-in supervisors).
- ``GET /api/wallboard``: the live snapshot as JSON.
- ``GET /api/wallboard/events``: the snapshot pushed when something changes, and every few seconds anyway.
- ``GET /api/wallboard/history?day=YYYY-MM-DD``: a UTC day's samples (today by default).

The JSON endpoints take a supervisor's console session or the supervisor API's bearer token (``IVR_API_TOKEN``).
"""

from __future__ import annotations

import functools
import json
import logging
import time
from typing import Any, Callable, Iterator

import redis as redis_lib
from flask import Blueprint, Flask, current_app, jsonify, render_template, request

from ivr.services.wallboard import SAMPLE_EVERY, fingerprint, live_queue_names, parse_day, snapshot
from ivr.store.accounts import Role
from ivr.store.wallboard import WallboardHistory, utc_day
from webhooks.auth import role_required, signed_in_account
from webhooks.consoles.pages import add_nav
from webhooks.consoles.streams import stream_slot
from webhooks.security import api_token_required

log = logging.getLogger(__name__)
bp = Blueprint("wallboard", __name__)

#: How long one event stream stays open: the browser's EventSource then reconnects by itself (every snapshot is
#: whole, so nothing is lost), and a sync web worker is not held for longer than this.
STREAM_SECONDS = 25
#: How often an open stream looks for a change, and how often it sends the snapshot anyway (which also keeps
#: proxies from closing a quiet connection).
POLL_SECONDS = 1.0
SNAPSHOT_EVERY = 5.0
#: What the browser waits before reconnecting a stream that ended (the SSE ``retry:`` field, ms).
RETRY_MS = 1000


def init_app(app: Flask) -> None:
    """Register the wallboard; it is the supervisors' first navigation entry when registered first."""
    app.register_blueprint(bp)
    add_nav(app, "wallboard.page", "Wallboard", Role.SUPERVISOR)


def supervisor_api(view: Callable[..., Any]) -> Callable[..., Any]:
    """The supervisor API's check (bearer token or supervisor session); an account of another role that is
    signed in gets 403, since signing in again would not help."""
    guarded = api_token_required(view)

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        account = signed_in_account()
        if not request.headers.get("Authorization") and account is not None and account.role is not Role.SUPERVISOR:
            return jsonify(error="the wallboard needs the supervisor role"), 403
        return guarded(*args, **kwargs)

    return wrapper


def _services() -> Any:
    return current_app.extensions["ivr"]


def _snapshot_now(services: Any) -> dict[str, Any]:
    now_ms = int(services.calls.clock().timestamp() * 1000)
    return snapshot(services.calls.router, live_queue_names(services.repo), now_ms)


@bp.get("/wallboard")
@role_required(Role.SUPERVISOR)
def page() -> Any:
    today = utc_day(int(_services().calls.clock().timestamp() * 1000))
    return render_template("wallboard.html", title="Wallboard", today=today.isoformat(), sample_every=SAMPLE_EVERY,
                           service_level_s=_services().calls.router.service_level_ms // 1000)


@bp.get("/api/wallboard")
@supervisor_api
def current() -> Any:
    """The live snapshot: queues (waiting, longest wait, service level, abandon rate, answered and abandoned
    today, average speed of answer) and agents (status, time in it, load, capacity, skills)."""
    return jsonify(_snapshot_now(_services()))


@bp.get("/api/wallboard/events")
@supervisor_api
@stream_slot
def events() -> Any:
    """Server-Sent Events: a ``snapshot`` event at once, then whenever something changes (looked for every
    second) and at least every few seconds; the stream ends after :data:`STREAM_SECONDS` and the browser
    reconnects. A Redis fault ends the stream with an ``unavailable`` event."""
    services = _services()

    def stream() -> Iterator[str]:
        deadline = time.monotonic() + STREAM_SECONDS
        yield f"retry: {RETRY_MS}\n\n"
        last, sent_at = None, 0.0
        while True:
            try:
                snap = _snapshot_now(services)
            except redis_lib.RedisError as e:
                log.warning("wallboard stream: %s", e)
                yield _sse("unavailable", {"error": "the live figures are unavailable (Redis): retrying"})
                return
            mark, now = fingerprint(snap), time.monotonic()
            if mark != last or now - sent_at >= SNAPSHOT_EVERY:
                yield _sse("snapshot", snap)
                last, sent_at = mark, now
            if now >= deadline:
                return
            time.sleep(POLL_SECONDS)

    return current_app.response_class(stream(), mimetype="text/event-stream",
                                      headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _sse(kind: str, data: dict[str, Any]) -> str:
    return f"event: {kind}\ndata: {json.dumps(data)}\n\n"


@bp.get("/api/wallboard/history")
@supervisor_api
def history() -> Any:
    """A UTC day's samples, oldest first (``day``: ``YYYY-MM-DD``, today by default), with the queues they
    name."""
    services = _services()
    raw = request.args.get("day", "")
    try:
        day = parse_day(raw) if raw else utc_day(int(services.calls.clock().timestamp() * 1000))
    except ValueError as e:
        return jsonify(error=str(e)), 400
    samples = WallboardHistory(services.redis).day(day)
    queues = sorted({name for sample in samples for name in sample["queues"]})
    return jsonify(day=day.isoformat(), sample_every_s=SAMPLE_EVERY, queues=queues, samples=samples)
