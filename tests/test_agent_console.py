"""The agent console in a real browser: an agent signs in and goes available, a simulated caller (the real
Simulator driving the sample flows, with the REST stand-in) reports an outage and is queued, the offer appears live
with the caller's number, a countdown, the path and what they entered; the agent accepts, the call reaches them
through the REST stand-in, its end brings the wrap-up form, the wrap-up lands in the day's history. Also a decline,
done with the keyboard only."""

from __future__ import annotations

import re
import shutil
import threading
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

import pytest
import requests
import yaml

from ivr.config import Settings
from ivr.simulator import HttpTransport, LoopbackServer, ScriptedCaller, Simulator, TwilioRestStandIn
from ivr.store.accounts import AccountStore, Role
from routing.model import Agent, AgentStatus
from webhooks import create_app

TOKEN = "test-auth-token"
ACCOUNT = "AC" + "0" * 32
PASSWORD = "correct horse battery"
SAMPLES = Path(__file__).resolve().parent.parent / "flows"
CALLER = "+15551230000"
ENGLISH_LINE = "+15550100101"
KOREAN_LINE = "+15550100103"
NOTES = "Crew visit <b>booked</b>; call back tomorrow."  # markup stays text
OUTAGE_REPORT = ["2", "10003#"]  # outages (the outage team works around the clock), a ZIP code without an outage


@pytest.fixture
def world(redis, tmp_path):
    """The app (sample flows, the sample backend for the outage lookup, the REST stand-in for Twilio's API) served
    on loopback, with agent Ana (outages, English) signed out of routing."""
    from demo.backend import run_backend_in_thread

    flows = tmp_path / "flows"
    shutil.copytree(SAMPLES, flows)
    main = yaml.safe_load((flows / "main.yaml").read_text())  # open at any hour: the tests use the real clock
    main["schedules"]["office"] = {"timezone": "UTC", "weekly": {"mon-sun": "00:00-24:00"}}
    (flows / "main.yaml").write_text(yaml.safe_dump(main, allow_unicode=True, sort_keys=False))
    with ExitStack() as stack:
        backend_url, stop_backend = run_backend_in_thread()
        stack.callback(stop_backend)
        rest = stack.enter_context(TwilioRestStandIn())
        settings = replace(Settings(), twilio_auth_token=TOKEN, twilio_account_sid=ACCOUNT, flows_dir=flows,
                           twilio_api_url=rest.url, services={"billing": backend_url})
        app = create_app(settings, redis_client=redis)
        router = app.extensions["ivr"].calls.router
        router.register(Agent("ana", "Ana Lopez", {"outages": 5, "english": 5}, ("en",), 1, "client:ana"))
        router.register(Agent("min", "Min-ji Park", {"korean": 5}, ("ko",), 1, "client:min"))
        AccountStore(redis).create("ana", PASSWORD, Role.AGENT, agent_id="ana", name="Ana Lopez")
        AccountStore(redis).create("min", PASSWORD, Role.AGENT, agent_id="min", name="Min-ji Park")
        server = stack.enter_context(LoopbackServer(app))
        yield {"app": app, "rest": rest, "server": server, "router": router}


class CallInThread:
    """A simulated caller placed in a thread: the test drives the browser meanwhile."""

    def __init__(self, world, inputs: list[str], queue_patience: float = 60.0, line: str = ENGLISH_LINE):
        simulator = Simulator(HttpTransport(world["server"].base_url), TOKEN, rest=world["rest"],
                              queue_patience=queue_patience)
        self.result = None
        self.error: BaseException | None = None

        def run() -> None:
            try:
                self.result = simulator.place_call(CALLER, line, ScriptedCaller(inputs))
            except BaseException as e:  # reported by join()
                self.error = e

        self.thread = threading.Thread(target=run, name="simulated-caller", daemon=True)
        self.thread.start()

    def join(self):
        self.thread.join(timeout=90)
        assert not self.thread.is_alive(), "the simulated call did not end"
        if self.error is not None:
            raise self.error
        return self.result


def go_available(page):
    from playwright.sync_api import expect

    page.get_by_role("button", name="Available", exact=True).click()
    expect(page.locator("#status-badge")).to_have_text("Available")
    expect(page.get_by_role("button", name="Available", exact=True)).to_have_attribute("aria-pressed", "true")


def test_an_agent_takes_a_call_wraps_it_up_and_sees_it_in_the_days_history(world, page, sign_in, screenshot):
    from playwright.sync_api import expect

    app, rest, router = world["app"], world["rest"], world["router"]
    sign_in(page, world["server"].base_url, "ana")
    expect(page).to_have_url(re.compile(r"/agent$"))
    expect(page.get_by_role("heading", name="Agent console")).to_be_visible()
    expect(page.locator("#connection")).to_have_text("Live updates: connected")
    expect(page.locator("#status-badge")).to_have_text("Offline")
    go_available(page)
    expect(page.locator("#status-time")).to_contain_text(re.compile(r"for \dm \d\ds"))
    expect(page.get_by_text("No call is offered to you right now.")).to_be_visible()
    expect(page.get_by_text("No calls yet today.")).to_be_visible()
    screenshot(page, "agent-console-idle")

    call = CallInThread(world, OUTAGE_REPORT)
    offer = page.locator("article.offer")
    expect(offer).to_have_count(1)  # live: pushed by the event stream, no reload
    expect(offer.get_by_role("heading", name=f"Call from {CALLER}")).to_be_focused()
    expect(offer.locator("dd.caller")).to_have_text(CALLER)
    expect(offer).to_contain_text("en-US")
    expect(offer).to_contain_text("outages")
    expect(offer.locator(".countdown")).to_have_text(re.compile(r"^\d{1,2} s$"))
    expect(offer.locator("ol.path li")).to_contain_text(["english.main_menu", "english.outage_zip"])
    expect(offer.locator("dl.collected")).to_contain_text("zip")
    expect(offer.locator("dl.collected")).to_contain_text("10003")
    expect(page.locator("#ring-state")).to_be_visible()
    expect(page.locator("#live-status")).to_contain_text(f"Incoming call from {CALLER}")
    screenshot(page, "agent-console-offer")

    expect(offer.get_by_role("button", name="Accept")).to_have_attribute("aria-keyshortcuts", "Alt+Shift+A")
    page.keyboard.press("Alt+Shift+KeyA")  # the shortcut, from wherever the focus is
    expect(page.locator("#wrap-up-card")).to_be_visible(timeout=30_000)  # the call reached Ana and ended
    expect(page.locator("#status-badge")).to_have_text("Wrap-up")
    expect(page.locator("#ring-state")).to_be_hidden()
    expect(page.locator("#wrap-up-call")).to_contain_text(f"Call from {CALLER} in queue outages")
    result = call.join()
    [ring] = [r for r in rest.requests if r.get("Twiml")]
    assert "<Client>ana</Client>" in ring["Twiml"]
    assert [e.data["status"] for e in result.of_kind("dial")] == ["completed"]
    assert app.extensions["ivr"].calls.session(result.call_sid).disposition.value == "answered"

    page.get_by_label("Disposition").select_option("follow-up")
    page.get_by_label("Notes").fill(NOTES)
    expect(page.locator("#notes-count")).to_have_text(f"{len(NOTES)} of 2000 characters")
    screenshot(page, "agent-console-wrap-up")
    page.get_by_role("button", name="Save wrap-up").click()
    expect(page.locator("#wrap-up-card")).to_be_hidden()
    expect(page.locator("#status-badge")).to_have_text("Available")
    row = page.locator("#history-rows tr")
    expect(row).to_have_count(1)
    expect(row.locator("td")).to_have_text([re.compile(r"\d"), CALLER, "outages", re.compile(r"\dm \d\ds"),
                                            "follow-up", NOTES])
    screenshot(page, "agent-console-history")
    record = app.extensions["ivr"].calllog.get(result.call_sid)
    assert (record["agent"], record["agent_disposition"]) == ("ana", "follow-up")
    assert router.status("ana") == (AgentStatus.AVAILABLE, 0)


def test_an_agent_declines_an_offer_with_the_keyboard_only(world, page, sign_in):
    from playwright.sync_api import expect

    app, rest, router = world["app"], world["rest"], world["router"]
    sign_in(page, world["server"].base_url, "ana")
    expect(page.locator("#connection")).to_have_text("Live updates: connected")
    available = page.get_by_role("button", name="Available", exact=True)
    page.locator("body").focus()
    for _ in range(8):  # skip link, navigation, sign-out, then the status buttons
        page.keyboard.press("Tab")
        if available.evaluate("node => node === document.activeElement"):
            break
    expect(available).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#status-badge")).to_have_text("Available")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="On break")).to_be_focused()

    call = CallInThread(world, OUTAGE_REPORT)
    offer = page.locator("article.offer")
    expect(offer.get_by_role("heading", name=f"Call from {CALLER}")).to_be_focused()  # focus moved to the offer
    page.keyboard.press("Tab")
    expect(offer.get_by_role("button", name="Accept")).to_be_focused()
    page.keyboard.press("Tab")
    expect(offer.get_by_role("button", name="Decline")).to_be_focused()
    page.keyboard.press("Enter")
    expect(offer).to_have_count(0)
    expect(page.get_by_text("No call is offered to you right now.")).to_be_visible()
    expect(page.locator("#ring-state")).to_be_hidden()
    calls = app.extensions["ivr"].calllog.list()
    [record] = [app.extensions["ivr"].calllog.get(c["call_sid"]) for c in calls]
    routing = [(s["outcome"], s["agent"]) for s in record["steps"] if s.get("kind") == "routing"]
    assert routing == [("offered", "ana"), ("declined", "ana")]
    assert router.call_state(record["call_sid"]) == "waiting" and router.status("ana")[0] is AgentStatus.AVAILABLE

    # the caller gives up: Twilio's API (the stand-in) hangs the waiting call up
    hung = requests.post(f"{rest.url}/2010-04-01/Accounts/{ACCOUNT}/Calls/{record['call_sid']}.json",
                         data={"Status": "completed"}, timeout=10)
    assert hung.status_code == 200
    assert [e.kind for e in call.join().events][-1] == "hangup"


def test_an_agent_sees_what_the_caller_said_by_voice(world, page, sign_in, screenshot):
    """Real speech: the caller says "상담원" (agent) into the media stream (espeak-ng audio, the real Vosk Korean
    model), which takes them to the Korean queue; the Korean agent's offer shows the words heard."""
    from playwright.sync_api import expect

    rest = world["rest"]
    sign_in(page, world["server"].base_url, "min")
    expect(page.locator("#connection")).to_have_text("Live updates: connected")
    go_available(page)
    call = CallInThread(world, ["say:상담원"], line=KOREAN_LINE)
    offer = page.locator("article.offer")
    expect(offer).to_have_count(1, timeout=30_000)
    expect(offer).to_contain_text("ko-KR")
    expect(offer.locator("ol.path li")).to_contain_text(["korean.main_menu", "korean.queue_general"])
    expect(offer.locator("ul.said li")).to_have_count(1)
    expect(offer.locator("ul.said li")).to_contain_text("상담원")
    expect(offer.locator("dl.collected dt")).to_have_text(["caller", "heard"])  # no internals such as hours
    screenshot(page, "agent-console-offer-speech")
    record = world["app"].extensions["ivr"].calllog.list()[0]
    hung = requests.post(f"{rest.url}/2010-04-01/Accounts/{ACCOUNT}/Calls/{record['call_sid']}.json",
                         data={"Status": "completed"}, timeout=10)
    assert hung.status_code == 200
    assert [e.kind for e in call.join().events][-1] == "hangup"
