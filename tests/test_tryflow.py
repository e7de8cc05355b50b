"""Trying a flow in the browser: the try session (sandbox keys, typed phrases reaching a speech prompt's intent),
isolation from the live system, input from another web process, limits and refusals, and the page in Chromium."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ivr.config import Settings
from ivr.services.sandbox import sandbox_client
from ivr.services.tries import typed_result
from ivr.simulator import LoopbackServer
from ivr.store import keys
from ivr.store.accounts import AccountStore, Role
from ivr.store.keys import try_events as events_key, try_meta as meta_key, try_owner as owner_key
from ivr.store.tries import InputKind, TryInput
from routing.acd import Distributor
from routing.model import Agent, AgentStatus
from speech.recognizer import Outcome
from webhooks import create_app
from webhooks.consoles.tryflow import DEFAULT_TRY_DB

from consoles import PASSWORD, sign_in_client

SAMPLES = Path(__file__).resolve().parent.parent / "flows"
#: Polls of the events endpoint (each waits up to 2 s for something new) before a test gives up.
MAX_POLLS = 30
TRIAL = """# A draft flow to try: one menu and a queue.
description: Trial line.
numbers: ["+15550100199"]
language: en-US
timezone: America/New_York
start: menu
nodes:
  menu:
    menu:
      prompt: "Trial line. For an agent, press 1."
      options:
        - {key: 1, goto: hold}
  hold:
    queue:
      name: general
      skills: [english]
      prompt: "Please hold for the trial agent."
    next: bye
  bye:
    hangup: "Goodbye from the trial."
"""


@pytest.fixture
def sandbox(redis):
    client = sandbox_client(redis, DEFAULT_TRY_DB)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


def _app(redis, flows: Path, accounts: bool = True, **settings_overrides: Any):
    settings = replace(Settings(), twilio_auth_token="test-auth-token", flows_dir=flows, api_token="api-secret",
                       **settings_overrides)
    app = create_app(settings, redis_client=redis)
    if accounts:
        store = AccountStore(redis)
        store.create("sam", PASSWORD, Role.SUPERVISOR, name="Sam Rivera")
        store.create("sue", PASSWORD, Role.SUPERVISOR, name="Sue Park")
        store.create("ana", PASSWORD, Role.AGENT, agent_id="ana", name="Ana Lopez")
    return app


@pytest.fixture
def flows(tmp_path):
    target = tmp_path / "flows"
    shutil.copytree(SAMPLES, target)
    return target


@pytest.fixture
def app(redis, sandbox, flows):
    app = _app(redis, flows)
    router = app.extensions["ivr"].calls.router
    router.register(Agent("ana", "Ana Lopez", {"english": 5, "billing": 5}))
    router.set_status("ana", AgentStatus.AVAILABLE, 1000)
    yield app
    app.extensions["tryflow"].close()  # the tries' threads hang up


class Console:
    """A supervisor's browser session through Flask's test client: CSRF token, tries, events with a cursor."""

    def __init__(self, app, username: str = "sam"):
        self.client = app.test_client()
        self.token = sign_in_client(self.client, username)
        self.after: dict[str, int] = {}
        self.seen: dict[str, list[dict[str, Any]]] = {}
        self.used: dict[str, int] = {}  # events of ``seen`` already matched by :meth:`until`

    def start(self, **form: str):
        return self.client.post("/flows/try", data={"csrf_token": self.token, **form})

    def start_try(self, **form: str) -> str:
        response = self.start(**form)
        assert response.status_code == 303, response.get_data(as_text=True)
        return response.headers["Location"].rsplit("/", 1)[1]

    def send(self, try_id: str, **body: str):
        return self.client.post(f"/flows/try/{try_id}/input", json=body, headers={"X-CSRFToken": self.token})

    def poll(self, try_id: str, wait: int = 2) -> dict[str, Any]:
        after = self.after.get(try_id, 0)
        data = self.client.get(f"/flows/try/{try_id}/events?after={after}&wait={wait}").get_json()
        self.after[try_id] = data["next"]
        self.seen.setdefault(try_id, []).extend(data["events"])
        return data

    def until(self, try_id: str, kind: str) -> dict[str, Any]:
        """The next event of ``kind`` after the last one returned (every event read is kept in ``seen``)."""
        for _ in range(MAX_POLLS):
            seen = self.seen.get(try_id, [])
            start = self.used.get(try_id, 0)
            for index in range(start, len(seen)):
                if seen[index]["kind"] == kind:
                    self.used[try_id] = index + 1
                    return seen[index]
            self.poll(try_id)
        raise AssertionError(f"no {kind!r} event; saw {self.seen.get(try_id)}")

    def said(self, try_id: str) -> str:
        return " ".join(e["text"] for e in self.seen.get(try_id, []) if e["kind"] == "say")

    def steps(self, try_id: str) -> list[dict[str, Any]]:
        return self.client.get(f"/flows/try/{try_id}/events?after=0").get_json()["steps"]


# -- units ---------------------------------------------------------------------------------------------------------
def test_typed_input_becomes_what_the_recognizer_would_store():
    phrases = ("account balance", "outage")
    match = typed_result(TryInput(InputKind.SAY, "Account  Balance"), phrases, 1, "")
    assert (match.outcome, match.phrase, match.confidence) == (Outcome.MATCH, "account balance", 1.0)
    other = typed_result(TryInput(InputKind.SAY, "I want to pay my bill"), phrases, 1, "")
    assert (other.outcome, other.text, other.phrase) == (Outcome.NO_MATCH, "i want to pay my bill", None)
    assert typed_result(TryInput(InputKind.KEYS, "12#"), phrases, 1, "").digits == "1"
    assert typed_result(TryInput(InputKind.KEYS, "1234#9"), phrases, None, "#").digits == "1234"
    assert typed_result(TryInput(InputKind.SILENCE), phrases, 1, "").outcome is Outcome.NO_INPUT


@pytest.mark.parametrize("data, message", [
    ({"kind": "shout"}, "'kind' must be one of"),
    ({"kind": "keys", "keys": "12a"}, "'keys' must be"),
    ({"kind": "keys"}, "'keys' must be"),
    ({"kind": "say", "text": "   "}, "'text' must be"),
    ({"kind": "say", "text": "x" * 201}, "'text' must be"),
])
def test_bad_input_is_refused_with_a_reason(data, message):
    with pytest.raises(ValueError, match=message):
        TryInput.parse(data)


# -- the try session -----------------------------------------------------------------------------------------------
def test_keys_and_a_typed_phrase_drive_the_english_flow(app, sandbox):
    console = Console(app)
    try_id = console.start_try(to="+15550100101")
    waiting = console.until(try_id, "waiting")
    assert "For your account balance, press 1" in console.said(try_id)
    assert waiting["input"] == "speech" and waiting["num_digits"] == 1
    assert console.send(try_id, kind="keys", keys="8").status_code == 202
    assert console.until(try_id, "caller")["keys"] == "8"
    assert console.until(try_id, "waiting")["input"] == "speech"
    assert "what you are calling about" in console.said(try_id)
    assert console.send(try_id, kind="say", text="I want to check my bill").status_code == 202
    assert console.until(try_id, "caller")["phrase"] == "I want to check my bill"
    console.until(try_id, "waiting")
    assert "eight digit account number" in console.said(try_id)
    understood = [s for s in console.steps(try_id) if s["outcome"] == "understood"]
    assert understood and understood[0]["node"] == "describe" and understood[0]["intent"] == "balance"
    assert console.send(try_id, kind="hangup").status_code == 202
    ended = console.until(try_id, "ended")
    assert ended["outcome"] == "caller-hangup" and ended["reason"] == "you hung up"
    # every key of the try is in the sandbox database, under the try's prefix and hash tag
    assert sandbox.exists(meta_key(try_id), events_key(try_id)) == 2
    assert sandbox.ttl(meta_key(try_id)) > 0 and sandbox.ttl(events_key(try_id)) > 0
    assert sandbox.zcard(owner_key("sam")) == 0  # ended: no longer counts against the limit
    version = int(sandbox.get(keys.FLOWS_CURRENT))
    assert 0 < sandbox.ttl(keys.flows_version(version)) <= 3600  # the sandbox's versions do not pile up


def test_a_typed_korean_phrase_reaches_the_menu_intent_as_recognized_speech_would(app):
    console = Console(app)
    try_id = console.start_try(to="+15550100100")
    console.until(try_id, "waiting")
    console.send(try_id, kind="keys", keys="3")  # the language choice: 한국어
    waiting = console.until(try_id, "waiting")
    assert waiting["input"] == "speech" and waiting["language"] == "ko-KR" and waiting["model"] is True
    assert "잔액 조회는 1번" in console.said(try_id)
    console.send(try_id, kind="say", text="잔액")
    console.until(try_id, "caller")
    console.until(try_id, "waiting")
    chose = [s for s in console.steps(try_id) if s["flow"] == "korean" and s["outcome"] == "chose"]
    assert chose and chose[0]["target"] == "ask_account" and chose[0]["intent"] == "balance"
    assert "계좌 번호" in console.said(try_id)
    console.send(try_id, kind="hangup")
    console.until(try_id, "ended")


def test_a_draft_runs_in_the_sandbox_and_never_touches_the_live_system(app, redis, sandbox):
    services = app.extensions["ivr"]
    live_version = services.repo.store.current_version()
    console = Console(app)
    try_id = console.start_try(file="trial.yaml", source=TRIAL)  # as the flows editor posts it: its own number
    console.until(try_id, "waiting")
    assert "Trial line" in console.said(try_id)
    console.send(try_id, kind="keys", keys="1")
    queued = console.until(try_id, "queued")
    assert queued["queue"] == "general"
    assert console.until(try_id, "waiting")["input"] == "queue"  # a live agent is signed in: the call waits
    call_sid = console.client.get(f"/flows/try/{try_id}/events").get_json()["events"][0]["call_sid"]
    # the sandbox holds the call, its queue and the draft; the live system has none of them
    assert sandbox.zcard(keys.CALL_INDEX) == 1 and redis.zcard(keys.CALL_INDEX) == 0
    assert services.calls.router.call_state(call_sid) is None
    assert services.calls.router.waiting("general") == []
    assert Distributor(sandbox).call_state(call_sid) == "waiting"
    assert services.calls.router.status("ana")[0] is AgentStatus.AVAILABLE  # never offered it
    assert console.send(try_id, kind="keys", keys="1").get_json()["error"].startswith("the caller is waiting")
    assert console.send(try_id, kind="agent").status_code == 202
    console.until(try_id, "agent-answered")
    assert console.until(try_id, "ended")["outcome"] in ("completed", "hangup")
    assert services.repo.store.current_version() == live_version
    assert "trial.yaml" not in services.repo.store.get(live_version)
    assert services.calllog.list() == [] and redis.keys("ivr:call:*") == []
    assert console.client.get("/api/queues", headers={"Accept": "application/json"}).status_code == 200


def test_input_from_another_web_process_reaches_the_call(app, redis, flows):
    other = _app(redis, flows, accounts=False)  # a second gunicorn worker: same Redis, its own memory
    try:
        here, there = Console(app), Console(other)
        try_id = here.start_try(to="+15550100101")
        there.until(try_id, "waiting")  # the events are read from the other process too
        assert there.send(try_id, kind="keys", keys="3").status_code == 202
        assert here.until(try_id, "caller")["keys"] == "3"
        here.until(try_id, "waiting")  # the next prompt: the webhook that took the key has logged its steps
        assert any(s["outcome"] == "chose" and s["target"] == "hours_info" for s in there.steps(try_id))
        there.send(try_id, kind="hangup")
        assert here.until(try_id, "ended")["outcome"] in ("caller-hangup", "hangup", "completed")
    finally:
        other.extensions["tryflow"].close()


def test_a_published_version_can_be_tried_and_a_missing_one_is_404(app):
    console = Console(app)
    version = app.extensions["ivr"].repo.store.current_version()
    try_id = console.start_try(version=str(version), to="+15550100101")
    console.until(try_id, "waiting")
    console.send(try_id, kind="hangup")
    console.until(try_id, "ended")
    missing = console.start(version="999", to="+15550100101")
    assert missing.status_code == 404 and "no flow version 999" in missing.get_data(as_text=True)


def test_a_draft_with_errors_shows_the_checkers_diagnostics(app, sandbox):
    console = Console(app)
    broken = TRIAL.replace("goto: hold", "goto: hodl")
    page = console.start(file="trial.yaml", source=broken)
    text = page.get_data(as_text=True)
    assert page.status_code == 400 and "has errors" in text
    assert "trial.yaml:12: nodes.menu.menu.options[0].goto: no node &#39;hodl&#39; (did you mean &#39;hold&#39;?)" \
        in text
    as_json = console.client.post("/flows/try", data={"csrf_token": console.token, "file": "trial.yaml",
                                                      "source": broken}, headers={"Accept": "application/json"})
    assert as_json.status_code == 400
    assert as_json.get_json()["diagnostics"] == [
        "trial.yaml:12: nodes.menu.menu.options[0].goto: no node 'hodl' (did you mean 'hold'?)"]
    assert console.start(file="../etc/passwd", source="x").status_code == 400
    assert console.start(to="not a number").status_code == 400
    assert sandbox.keys("ivr:try:*") == []  # nothing started


def test_each_supervisor_has_a_limited_number_of_tries(app):
    app.extensions["tryflow"].store.max_per_owner = 2
    sam, sue = Console(app), Console(app, "sue")
    first, second = sam.start_try(to="+15550100101"), sam.start_try(to="+15550100101")
    refused = sam.start(to="+15550100101")
    assert refused.status_code == 429 and "already have 2 tries running" in refused.get_data(as_text=True)
    theirs = sue.start_try(to="+15550100101")  # the limit is per supervisor
    assert sue.client.get(f"/flows/try/{first}/events").status_code == 404  # not hers to see or drive
    assert sue.send(first, kind="hangup").status_code == 404
    for console, try_id in ((sam, first), (sam, second), (sue, theirs)):
        console.until(try_id, "waiting")
        console.send(try_id, kind="hangup")
        console.until(try_id, "ended")
    third = sam.start_try(to="+15550100101")  # hung up: room again
    sam.until(third, "waiting")
    sam.send(third, kind="hangup")
    sam.until(third, "ended")


def test_roles_csrf_and_refusals(app):
    agent = Console(app, "ana")
    assert agent.client.get("/flows/try").status_code == 403
    agent_page = agent.client.get("/agent").get_data(as_text=True)
    assert 'href="/agent"' in agent_page and "Try a flow" not in agent_page  # not in an agent's navigation
    assert agent.start(to="+15550100101").status_code == 403
    sam = Console(app)
    no_token = sam.client.post("/flows/try", data={"to": "+15550100101"})
    assert no_token.status_code == 400 and "CSRF" in no_token.get_data(as_text=True)
    try_id = sam.start_try(to="+15550100101")
    sam.until(try_id, "waiting")
    assert sam.client.post(f"/flows/try/{try_id}/input", json={"kind": "hangup"}).status_code == 400  # no token
    assert sam.send(try_id, kind="keys", keys="x").status_code == 400
    assert sam.send(try_id, kind="agent").status_code == 409  # nobody is queued
    assert sam.client.get(f"/flows/try/{try_id}/events?after=-1").status_code == 400
    assert sam.client.get("/flows/try/nosuchtry123/events").status_code == 404
    sam.send(try_id, kind="hangup")
    sam.until(try_id, "ended")
    late = sam.send(try_id, kind="keys", keys="1")
    assert late.status_code == 409 and "ended" in late.get_json()["error"]


def test_a_try_nobody_acts_on_ends_by_itself(app):
    app.extensions["tryflow"].store.idle_timeout = 1
    console = Console(app)
    try_id = console.start_try(to="+15550100101")
    ended = console.until(try_id, "ended")
    assert ended["outcome"] == "caller-hangup" and ended["reason"] == "nothing happened for 1 seconds"
    late = console.send(try_id, kind="keys", keys="1")
    assert late.status_code == 409


# -- in the browser ------------------------------------------------------------------------------------------------
def test_trying_a_flow_in_the_browser(app, page, screenshot, sign_in):
    from playwright.sync_api import expect

    with LoopbackServer(app) as server:
        sign_in(page, server.base_url, "sam")
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Try a flow").click()
        expect(page.get_by_role("heading", name="Try a flow")).to_be_visible()
        page.get_by_label("Number called").select_option("+15550100101")
        page.get_by_role("button", name="Start the call").click()
        transcript = page.locator("#try-transcript")
        expect(transcript).to_contain_text("For your account balance, press 1")
        status = page.locator("#try-status")
        expect(status).to_contain_text("Your turn")
        expect(status).to_contain_text("No en-US speech model is installed")
        page.get_by_role("button", name="Key 1").click()
        expect(transcript).to_contain_text("Caller presses: 1")
        expect(transcript).to_contain_text("eight digit account number")
        expect(page.get_by_role("button", name="Key 1")).to_be_enabled()
        page.locator("main").focus()
        page.keyboard.type("1234567")  # typed on the keyboard; the account number needs 8 digits or #
        expect(page.locator("#try-keys")).to_have_text("1234567")
        page.keyboard.press("#")
        expect(transcript).to_contain_text("Caller presses: 1234567")
        expect(page.locator("#try-steps")).to_contain_text("collect")
        screenshot(page, "flow-try")
        page.get_by_role("button", name="Hang up").click()
        expect(status).to_contain_text("The call ended")

        page.goto(server.base_url + "/flows/try")
        page.get_by_label("Number called").select_option("+15550100101")
        page.get_by_role("button", name="Start the call").click()
        expect(status).to_contain_text("Your turn")
        page.keyboard.press("8")
        expect(transcript).to_contain_text("Caller presses: 8")
        expect(transcript).to_contain_text("Please tell me briefly what you are calling about")
        phrase = page.get_by_label("Say (type what the caller says at a speech prompt)")
        expect(phrase).to_be_enabled()
        phrase.fill("what are your opening hours")
        phrase.press("Enter")
        expect(transcript).to_contain_text("Caller says: “what are your opening hours”")
        steps = page.locator("#try-steps")
        expect(steps).to_contain_text("understood")
        expect(steps).to_contain_text("intent: hours")
        expect(transcript).to_contain_text("Monday to Friday")
        expect(transcript).to_contain_text("For the main menu, press 9")
        page.get_by_role("button", name="Silence").click()
        expect(transcript).to_contain_text("Caller: (silence)")
        expect(status).to_contain_text("The call ended")
        screenshot(page, "flow-try-speech")


def test_try_this_draft_from_the_flows_editor(app, page, sign_in):
    from playwright.sync_api import expect

    live_version = app.extensions["ivr"].repo.store.current_version()
    with LoopbackServer(app) as server:
        sign_in(page, server.base_url, "sam")
        page.goto(server.base_url + "/flows/edit/english.yaml")
        editor = page.get_by_label("YAML")
        draft = editor.input_value().replace("For your account balance, press 1.", "DRAFT balance: press 1.")
        editor.fill(draft)
        page.get_by_role("button", name="Try this draft").click()
        expect(page.locator(".try-summary")).to_contain_text("a draft of english.yaml")
        expect(page.locator("#try-transcript")).to_contain_text("DRAFT balance: press 1.")  # its own number
        page.get_by_role("button", name="Hang up").click()
        expect(page.locator("#try-status")).to_contain_text("The call ended")
    assert app.extensions["ivr"].repo.store.current_version() == live_version


# -- lookups in a try ----------------------------------------------------------------------------------------------
PROBE = """description: Lookups a try must not make.
numbers: ["+15550100198"]
language: en-US
services:
  billing:
    url: {billing}
  elsewhere:
    url: {elsewhere}
start: write
nodes:
  write:
    lookup:
      service: billing
      path: "/accounts/12345674"
      method: POST
      body: {{note: "from a draft"}}
      as: written
      on_failure: wander
    next: wander
  wander:
    lookup:
      service: elsewhere
      path: "/secrets"
      as: secret
      on_failure: bye
    next: bye
  bye:
    hangup: "Goodbye from the probe."
"""


@pytest.fixture
def listener():
    """A loopback HTTP server that records every request it gets."""
    from flask import Flask, request

    seen: list[str] = []
    probe = Flask("listener")

    @probe.route("/<path:path>", methods=["GET", "POST"])
    def anything(path):
        seen.append(f"{request.method} /{path}")
        return {"ok": True}

    with LoopbackServer(probe) as server:
        yield server.base_url, seen


def test_a_try_reads_real_services_but_never_writes_or_wanders(redis, sandbox, flows, backend, listener):
    app = _app(redis, flows, services={"billing": backend})  # the live flows' billing service, on loopback
    try:
        _reads_but_never_writes_or_wanders(app, backend, listener)
    finally:
        app.extensions["tryflow"].close()


def _reads_but_never_writes_or_wanders(app, backend, listener):
    console = Console(app)
    try_id = console.start_try(to="+15550100101")  # the live version: a balance read from the billing API
    for keys_ in ("1", "12345674#", "1"):
        console.until(try_id, "waiting")
        console.send(try_id, kind="keys", keys=keys_)
    console.until(try_id, "waiting")
    assert "your balance is 142 dollars and 17 cents" in console.said(try_id)
    console.send(try_id, kind="hangup")
    console.until(try_id, "ended")

    elsewhere, seen = listener
    draft = console.start_try(file="probe.yaml", source=PROBE.format(billing=backend, elsewhere=elsewhere))
    console.until(draft, "ended")
    assert "Goodbye from the probe." in console.said(draft)
    failed = [(s["node"], s.get("error")) for s in console.steps(draft) if s["outcome"] == "lookup-failed"]
    assert failed == [("write", "NotSentInTry"), ("wander", "NotSentInTry")]
    assert seen == []  # the address the live flows never use was not reached
