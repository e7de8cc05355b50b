"""JSON API for consoles and tools: call log and flow versions (supervisor token)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from webhooks.security import api_token_required

bp = Blueprint("api", __name__, url_prefix="/api")


def _int_arg(name: str, default: int, high: int) -> int:
    raw = request.args.get(name, "")
    if not raw:
        return default
    if not raw.isdigit() or int(raw) > high:
        raise ValueError(f"'{name}' must be a whole number from 0 to {high}")
    return int(raw)


SEARCH_ARGS = ("number", "from", "to", "outcome", "tz")


@bp.get("/calls")
@api_token_required
def calls():
    """The newest calls; with any of ``number``, ``from``, ``to`` (YYYY-MM-DD days in ``tz``, default UTC) or
    ``outcome``, the calls matching them (with ``more`` and ``capped``: see :class:`ivr.store.callsearch.SearchResult`)."""
    try:
        limit, offset = _int_arg("limit", 50, 500), _int_arg("offset", 0, 1_000_000)
    except ValueError as e:
        return jsonify(error=str(e)), 400
    if not any(request.args.get(name) for name in SEARCH_ARGS):
        return jsonify(calls=current_app.extensions["ivr"].calllog.list(limit=limit, offset=offset))
    from webhooks.consoles import history
    form = history.search_form({k: v for k, v in request.args.items() if k in SEARCH_ARGS})
    problems = form.problems()
    if problems:
        return jsonify(error="; ".join(f"{name}: {' '.join(errors)}" for name, errors in problems.items()),
                       fields=problems), 400
    found = history.search(form, limit=limit, offset=offset)
    return jsonify(**found.to_dict(), timezone=form.zone.key,
                   **({"message": history.NARROW.format(scanned=found.scanned)} if found.capped else {}))


@bp.get("/calls/<call_sid>")
@api_token_required
def call(call_sid: str):
    record = current_app.extensions["ivr"].calllog.get(call_sid[:64])
    if record is None:
        return jsonify(error=f"no call {call_sid[:64]!r} in the call log"), 404
    return jsonify(record)


@bp.get("/flows")
@api_token_required
def flows():
    store = current_app.extensions["ivr"].repo.store
    return jsonify(current=store.current_version(), history=store.history(limit=_int_arg("limit", 20, 200)))


@bp.get("/queues")
@api_token_required
def queues():
    """Live queue figures for the wallboard: waiting, longest wait, service level, abandon rate, ASA."""
    services = current_app.extensions["ivr"]
    try:
        _version, bundle = services.repo.current()
        names = sorted(bundle.routing.queues) if bundle.routing else []
    except Exception:
        names = []
    router = services.calls.router
    now_ms = int(services.calls.clock().timestamp() * 1000)
    return jsonify(queues=[router.queue_stats(name, now_ms) for name in names], agents=router.agents_by_status())


@bp.get("/agents")
@api_token_required
def agents():
    router = current_app.extensions["ivr"].calls.router
    listed = []
    for agent in router.all_agents():
        status, load = router.status(agent.id)
        listed.append({"id": agent.id, "name": agent.name, "skills": dict(agent.skills), "status": status.value,
                       "since_ms": router.status_since(agent.id), "load": load, "capacity": agent.capacity})
    return jsonify(agents=listed)
