"""Trying a flow in the browser: a supervisor plays the caller of a simulated call, of the live version, of a
published one, or of a draft (one edited file in place of that file of the live version).

Each web process keeps one *sandbox* (:mod:`ivr.services.sandbox`): an app built by the app factory given to
:func:`init_app` on another logical database of the same Redis server (``IVR_TRY_REDIS_DB``, default 15), served
on a loopback port of the process. The call runs there (see :mod:`ivr.services.tries`), so a try never writes to
the live call log, queues, agents or flow versions.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any, Callable

from flask import Blueprint, Flask, abort, current_app, jsonify, redirect, render_template, request, url_for

from ivr.bootstrap import sandbox_services
from ivr.errors import FlowError, StoreError
from ivr.flowlang.compile import load_bundle
from ivr.flowlang.model import Bundle
from ivr.services.sandbox import Sandbox, SandboxApp, sandbox_client
from ivr.store.accounts import Role
from ivr.store.tries import KEEP_AFTER_END, InputKind, TryError, TryInput, TryState, TryStore
from webhooks.auth import role_required, signed_in_account
from webhooks.consoles.pages import add_nav

log = logging.getLogger(__name__)
bp = Blueprint("tryflow", __name__)

#: The logical Redis database tries run in, unless ``IVR_TRY_REDIS_DB`` says otherwise.
DEFAULT_TRY_DB = 15
DEFAULT_CALLER = "+15551230000"
NUMBER = re.compile(r"^\+?[0-9]{2,20}$")
FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,80}\.ya?ml$")
TRY_ID = re.compile(r"^[A-Za-z0-9_-]{8,32}$")
MAX_SOURCE = 60 * 1024
#: Longest an events request waits for something new (``wait`` seconds: long polling).
MAX_WAIT = 5


def try_db(app: Flask) -> int:
    raw = str(app.config.get("IVR_TRY_REDIS_DB") or os.environ.get("IVR_TRY_REDIS_DB") or DEFAULT_TRY_DB)
    if not raw.isdigit():
        raise ValueError(f"IVR_TRY_REDIS_DB must be a database number, not {raw!r}")
    return int(raw)


#: ``app_factory(settings, services=..., publish_flows=False, try_pages=False)`` -> an app serving ``services``
#: (``webhooks.create_app``, which passes itself in when it registers these pages).
AppFactory = Callable[..., Flask]


def init_app(app: Flask, app_factory: AppFactory) -> None:
    """Register the try pages; the sandbox database client is made now, its app (by ``app_factory``, on the
    sandbox services of the composition root) at the first try."""
    client = sandbox_client(app.extensions["ivr"].redis, try_db(app))

    def build(auth_token: str) -> SandboxApp:
        services = sandbox_services(app.extensions["ivr"], client, auth_token, KEEP_AFTER_END)
        sandbox_app = app_factory(services.settings, services=services, publish_flows=False, try_pages=False)
        return SandboxApp(sandbox_app, services.repo, services.listening, services.models.real.serves)

    app.extensions["tryflow"] = Sandbox(client, TryStore(client), build)
    app.register_blueprint(bp)
    # Drafts are tried from the flows editor; this entry tries the live version (and is the way back to a call).
    add_nav(app, "tryflow.start_page", "Try a flow", Role.SUPERVISOR)


def _sandbox() -> Sandbox:
    return current_app.extensions["tryflow"]


def _owner() -> str:
    return signed_in_account().username  # type: ignore[union-attr]


def _numbers() -> tuple[int | None, list[tuple[str, str]]]:
    """The live version and the numbers its flows answer, as (number, label) for the start form."""
    repo = current_app.extensions["ivr"].repo
    try:
        version, bundle = repo.current()
    except Exception:
        return None, []
    choices = []
    for flow in bundle.flows.values():
        for number in flow.numbers:
            suffix = " (default)" if flow.default else ""
            choices.append((number, f"{number} — {flow.name}{suffix}"))
    return version, sorted(choices)


def _start_page(status: int = 200, **context: Any) -> Any:
    version, numbers = _numbers()
    if _wants_json() and status >= 400:
        return jsonify(error=context.get("error"), diagnostics=context.get("diagnostics", [])), status
    return render_template("tryflow.html", title="Try a flow", live_version=version, numbers=numbers,
                           caller=context.pop("caller", DEFAULT_CALLER), **context), status


@bp.get("/flows/try")
@role_required(Role.SUPERVISOR)
def start_page() -> Any:
    """The start form: try the live version as a caller from a number to one of the flows' numbers."""
    return _start_page()


@bp.post("/flows/try")
@role_required(Role.SUPERVISOR)
def start() -> Any:
    """Start a try: of a draft (``file`` + ``source``), of a published ``version``, or of the live version."""
    form = request.form
    caller = form.get("from", "").strip() or DEFAULT_CALLER  # "to" left empty: see _number_to_call
    repo = current_app.extensions["ivr"].repo
    try:
        live_version, live = repo.current()
    except (StoreError, FlowError) as e:
        return _start_page(409, error=f"there is no live flow version to try: {e}")
    called = form.get("to", "").strip()
    for name, value in (("caller number", caller), ("number called", called)):
        if value and not NUMBER.match(value):
            return _start_page(400, error=f"the {name} {value[:40]!r} is not a phone number (+ and 2 to 20 digits)",
                               caller=caller[:40])
    file, source, version_text = form.get("file", ""), form.get("source"), form.get("version", "").strip()
    if source is not None or file:
        if not FILE_NAME.match(file):
            return _start_page(400, error="'file' must name a flow file such as main.yaml", caller=caller)
        if source is None or len(source) > MAX_SOURCE:
            return _start_page(400, error=f"'source' must hold the file's YAML (at most {MAX_SOURCE // 1024} KB)",
                               caller=caller)
        sources = {**repo.store.get(live_version), file: source.replace("\r\n", "\n")}
        label = f"a draft of {file} (on version {live_version})"
    elif version_text:
        if not version_text.isdigit() or len(version_text) > 9:
            return _start_page(400, error="'version' must be a version number", caller=caller)
        try:
            sources = dict(repo.store.get(int(version_text)))
        except StoreError as e:
            return _start_page(404, error=str(e), caller=caller)
        label = f"version {version_text}" + (" (live)" if int(version_text) == live_version else "")
    else:
        sources, label = dict(repo.store.get(live_version)), f"version {live_version} (live)"
    try:
        bundle = load_bundle(sources, service_urls=repo.service_urls)
    except FlowError as e:
        return _start_page(400, error=f"{label[0].upper()}{label[1:]} has errors: fix them and try again",
                           diagnostics=[str(d) for d in e.diagnostics if d.is_error], caller=caller)
    called = called or _number_to_call(bundle, file)
    sandbox = _sandbox()
    try:
        sandbox.start_runner()
        try_id = sandbox.store.create(_owner(), {"label": label, "caller": caller, "called": called})
    except TryError as e:
        return _start_page(429, error=str(e), caller=caller)
    sandbox.run(try_id, _owner(), sources, caller, called)
    if _wants_json():
        return jsonify(id=try_id, url=url_for("tryflow.call_page", try_id=try_id)), 201
    return redirect(url_for("tryflow.call_page", try_id=try_id), 303)


def _number_to_call(bundle: Bundle, file: str) -> str:
    """Without a number chosen: the drafted flow's own number, else the default flow's, else any the bundle has."""
    flows = [f for f in bundle.flows.values() if f.file == file and f.numbers]
    flows += [f for f in bundle.flows.values() if f.default and f.numbers]
    if flows:
        return flows[0].numbers[0]
    return next(iter(sorted(bundle.numbers)), "+15550100100")


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json" or request.is_json


def _own_try(try_id: str) -> dict[str, str] | None:
    """The try's settings, if it exists and belongs to the signed-in supervisor (another's try is not theirs to
    see: None, as for a try that does not exist)."""
    meta = _sandbox().store.meta(try_id) if TRY_ID.match(try_id) else None
    return meta if meta is not None and meta.get("owner") == _owner() else None


NO_SUCH_TRY = "no such try (a try is kept for an hour after it ends)"


@bp.get("/flows/try/<try_id>")
@role_required(Role.SUPERVISOR)
def call_page(try_id: str) -> Any:
    """The call: what the caller hears, a dial pad, a phrase field, the transcript and the steps."""
    meta = _own_try(try_id)
    if meta is None:
        abort(404)
    return render_template("tryflow.html", title="Try a flow", try_id=try_id, meta=meta)


def _cursor(name: str) -> int:
    raw = request.args.get(name, "0")
    if not raw.isdigit() or len(raw) > 6:
        raise ValueError(f"'{name}' must be a whole number")
    return int(raw)


@bp.get("/flows/try/<try_id>/events")
@role_required(Role.SUPERVISOR)
def events(try_id: str) -> Any:
    """What happened since the cursors: ``after`` counts events already read, ``steps_after`` steps (the call's
    steps in the sandbox call log: node names and outcomes); ``wait`` seconds (at most 5) for a new event."""
    try:
        after, steps_after = _cursor("after"), _cursor("steps_after")
        wait = min(_cursor("wait"), MAX_WAIT)
    except ValueError as e:
        return jsonify(error=str(e)), 400
    meta = _own_try(try_id)
    if meta is None:
        return jsonify(error=NO_SUCH_TRY), 404
    store = _sandbox().store
    if wait:
        store.wait_events(try_id, after, wait)
    # In this order: the thread pushes its "ended" event before it marks the try ended and stops its heartbeat.
    meta = store.meta(try_id) or meta
    alive = store.alive(try_id)
    found = store.events(try_id, after)
    state = meta.get("state", "")
    if state != TryState.ENDED.value and not alive:
        state = TryState.ENDED.value
        if not any(event["kind"] == "ended" for event in found):  # its process stopped: nobody plays the call
            found.append({"kind": "ended", "outcome": "lost", "reason": "the server running this try stopped"})
    steps: list[Any] = []
    if meta.get("call_sid"):
        steps = store.call_steps(meta["call_sid"], steps_after)
    return jsonify(events=found, next=after + len(found), steps=steps, steps_next=steps_after + len(steps),
                   state=state, waiting=meta.get("waiting", ""))


#: What each kind of turn accepts (an empty ``waiting``: between turns, inputs wait for the next one).
ACCEPTS = {"keys": {InputKind.KEYS, InputKind.SILENCE, InputKind.HANGUP},
           "speech": {InputKind.KEYS, InputKind.SAY, InputKind.SILENCE, InputKind.HANGUP},
           "queue": {InputKind.AGENT, InputKind.HANGUP},
           "": {InputKind.KEYS, InputKind.SAY, InputKind.SILENCE, InputKind.HANGUP}}
REFUSALS = {"keys": "this prompt takes keys only (its flow does not listen for speech here)",
            "queue": "the caller is waiting in a queue: an agent may answer, or the caller hangs up"}


@bp.post("/flows/try/<try_id>/input")
@role_required(Role.SUPERVISOR)
def send_input(try_id: str) -> Any:
    """The caller's next action, from any web process: JSON ``{"kind": "keys", "keys": "1"}``, ``say`` + ``text``,
    ``silence``, ``hangup`` or ``agent`` (an agent answers the queued call)."""
    meta = _own_try(try_id)
    if meta is None:
        return jsonify(error=NO_SUCH_TRY), 404
    data = request.get_json(silent=True) if request.is_json else request.form
    if not hasattr(data, "get"):
        return jsonify(error="send a JSON object such as {\"kind\": \"keys\", \"keys\": \"1\"}"), 400
    try:
        value = TryInput.parse(data)
    except ValueError as e:
        return jsonify(error=str(e)), 400
    store = _sandbox().store
    if meta.get("state") == TryState.ENDED.value or not store.alive(try_id):
        return jsonify(error="this try has ended: start another one"), 409
    waiting = meta.get("waiting", "")
    if value.kind not in ACCEPTS.get(waiting, ACCEPTS[""]):
        return jsonify(error=REFUSALS.get(waiting, "the caller cannot do that now")), 409
    store.push_input(try_id, value)
    return jsonify(ok=True), 202
