"""The supervisor wallboard: the sampling job chain through a real RQ worker, the history and live JSON endpoints
(validation, roles), the event stream, and the page in a real browser updating as agents and callers change."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
import yaml
from rq import Queue, Worker
from twilio.request_validator import RequestValidator

from ivr.config import Settings
from ivr.jobs.queue import QUEUE_NAME, schedule_sampling
from ivr.jobs.sweeps import startup_sweep
from ivr.services.wallboard import take_sample
from ivr.simulator import LoopbackServer, TwilioRestStandIn
from ivr.store import keys
from ivr.store.accounts import AccountStore, Role
from ivr.store.tokens import AgentTokens
from ivr.store.wallboard import WallboardHistory
from routing.model import Agent, AgentStatus
from webhooks import create_app

from consoles import PASSWORD, sign_in_client

TWILIO_TOKEN = "test-auth-token"
API_TOKEN = "api-secret"
SAMPLES = Path(__file__).resolve().parent.parent / "flows"
QUEUES = ["billing", "collections", "general", "outages"]


@pytest.fixture
def rest():
    """Twilio's REST API stand-in: accepting an offer redirects the live call through it."""
    with TwilioRestStandIn() as stand_in:
        yield stand_in


@pytest.fixture
def app(redis, tmp_path, rest):
    """The sample flows with the office always open (the tests run at any hour, on the real clock), Ana (an
    English agent, on break: signed in, not taking calls), supervisor Sam and agent account ana."""
    flows = tmp_path / "flows"
    shutil.copytree(SAMPLES, flows)
    main = yaml.safe_load((flows / "main.yaml").read_text())
    main["schedules"]["office"] = {"timezone": "UTC", "weekly": {"mon-sun": "00:00-24:00"}}
    (flows / "main.yaml").write_text(yaml.safe_dump(main, allow_unicode=True, sort_keys=False))
    settings = replace(Settings(), twilio_auth_token=TWILIO_TOKEN, flows_dir=flows, api_token=API_TOKEN,
                       twilio_api_url=rest.url)
    app = create_app(settings, redis_client=redis)
    router = app.extensions["ivr"].calls.router
    router.register(Agent("ana", "Ana Lopez", {"english": 5, "billing": 4}, ("en",), 1, "client:ana"))
    router.set_status("ana", AgentStatus.BREAK)
    store = AccountStore(redis)
    store.create("ana", PASSWORD, Role.AGENT, agent_id="ana", name="Ana Lopez")
    store.create("sam", PASSWORD, Role.SUPERVISOR, name="Sam Rivera")
    return app


def signed_in(app, username: str):
    client = app.test_client()
    sign_in_client(client, username)
    return client


def _today() -> str:
    return datetime.now(timezone.utc).date().isoformat()


def queued_caller(base_url: str, call_sid: str) -> None:
    """A caller on the direct English line presses 0 and is queued for a general agent: real, signed webhooks."""
    validator = RequestValidator(TWILIO_TOKEN)

    def post(url: str, params: dict[str, str]) -> str:
        response = requests.post(url, data=params, timeout=10,
                                 headers={"X-Twilio-Signature": validator.compute_signature(url, params)})
        assert response.status_code == 200
        return response.text

    params = {"CallSid": call_sid, "AccountSid": "AC" + "0" * 32, "From": "+15551230000", "To": "+15550100101"}
    first = post(base_url + "/twilio/voice", params)
    action = re.search(r'<Gather[^>]* action="([^"]+)"', first).group(1).replace("&amp;", "&")
    assert "<Enqueue" in post(action, {**params, "Digits": "0"})


# -- the sampling job ----------------------------------------------------------------------------------------------
def test_the_sampling_job_records_every_live_queue_through_a_real_worker(app, redis, run_due_jobs, scheduled_jobs):
    router = app.extensions["ivr"].calls.router
    router.enqueue("CA1", "billing", {"billing": 3}, offer=False)
    assert schedule_sampling(redis, seconds=60) and not schedule_sampling(redis, seconds=60)  # one chain
    run_due_jobs("sample_wallboard")
    samples = WallboardHistory(redis).day(datetime.now(timezone.utc).date())
    assert len(samples) == 1 and sorted(samples[0]["queues"]) == QUEUES
    assert samples[0]["queues"]["billing"]["waiting"] == 1 and samples[0]["queues"]["general"]["waiting"] == 0
    assert samples[0]["queues"]["billing"]["service_level"] is None  # no call answered or abandoned today
    assert scheduled_jobs() == ["sample_wallboard"]  # the chain's next link, scheduled by the job itself
    assert 0 < redis.ttl(keys.wallboard_samples(_today())) <= 8 * 86400
    run_due_jobs("sample_wallboard")
    assert len(WallboardHistory(redis).day(datetime.now(timezone.utc).date())) == 2
    assert scheduled_jobs() == ["sample_wallboard"]


def test_worker_startup_starts_the_sampling_chain_once_and_chains_never_multiply(redis, run_due_jobs,
                                                                                   scheduled_jobs):
    for _ in range(2):  # two workers start
        Queue(QUEUE_NAME, connection=redis).enqueue(startup_sweep)
    Worker([QUEUE_NAME], connection=redis).work(burst=True, with_scheduler=True)
    assert scheduled_jobs().count("sample_wallboard") == 1
    redis.delete(keys.WALLBOARD_SAMPLING)  # the marker expired while the scheduler was down: a second chain
    assert schedule_sampling(redis)
    assert scheduled_jobs().count("sample_wallboard") == 2
    run_due_jobs("sample_wallboard")
    assert scheduled_jobs().count("sample_wallboard") == 1  # only the chain owning the marker goes on


# -- JSON endpoints ------------------------------------------------------------------------------------------------
def test_history_of_a_day_for_supervisors(app, redis):
    earlier_ms = int(datetime(2026, 11, 20, 14, 0, tzinfo=timezone.utc).timestamp() * 1000)
    take_sample(redis, ["general"], now_ms=earlier_ms)
    take_sample(redis, ["general", "billing"])
    sam = signed_in(app, "sam")
    today = sam.get("/api/wallboard/history").get_json()
    assert today["day"] == _today() and today["queues"] == ["billing", "general"] and len(today["samples"]) == 1
    earlier = sam.get("/api/wallboard/history?day=2026-11-20").get_json()
    assert earlier["queues"] == ["general"] and earlier["samples"][0]["at"] == earlier_ms
    assert earlier["samples"][0]["queues"]["general"] == {"waiting": 0, "longest_wait_s": 0, "service_level": None}
    assert sam.get("/api/wallboard/history?day=2026-11-19").get_json()["samples"] == []


@pytest.mark.parametrize("day, message", [
    ("yesterday", "must be a date written YYYY-MM-DD"),
    ("2026-13-01", "is not a calendar date"),
    ("2026-02-30", "is not a calendar date"),
    ("2026-1-5", "must be a date written YYYY-MM-DD"),
    ("2026-11-24T00:00", "must be a date written YYYY-MM-DD"),
])
def test_history_refuses_what_is_not_a_day(app, day, message):
    response = signed_in(app, "sam").get("/api/wallboard/history", query_string={"day": day})
    assert response.status_code == 400 and message in response.get_json()["error"]


@pytest.mark.parametrize("path", ["/api/wallboard", "/api/wallboard/history", "/api/wallboard/events"])
def test_the_wallboard_api_is_for_supervisors_and_the_api_token(app, path):
    assert app.test_client().get(path).status_code == 401
    refused = signed_in(app, "ana").get(path)
    assert refused.status_code == 403 and "supervisor" in refused.get_json()["error"]
    assert app.test_client().get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
    with app.test_client().get(path, headers={"Authorization": f"Bearer {API_TOKEN}"}, buffered=False) as ok:
        assert ok.status_code == 200


def test_the_page_is_the_supervisors_start_page_and_refused_to_agents(app):
    sam = signed_in(app, "sam")
    assert sam.get("/").headers["Location"] == "/wallboard"
    page = sam.get("/wallboard")
    assert page.status_code == 200 and "<h1>Wallboard</h1>" in page.get_data(as_text=True)
    assert 'aria-current="page"' in page.get_data(as_text=True)
    refused = signed_in(app, "ana").get("/wallboard")
    assert refused.status_code == 403 and "Not allowed" in refused.get_data(as_text=True)
    assert app.test_client().get("/wallboard").headers["Location"].startswith("/login")


def test_the_snapshot_shows_queues_and_agents(app, redis):
    app.extensions["ivr"].calls.router.enqueue("CA1", "billing", {"billing": 5}, offer=False)
    snap = signed_in(app, "sam").get("/api/wallboard").get_json()
    assert [q["queue"] for q in snap["queues"]] == QUEUES
    billing = next(q for q in snap["queues"] if q["queue"] == "billing")
    assert billing["waiting"] == 1 and billing["answered_today"] == 0 and billing["service_level"] is None
    assert set(billing) >= {"longest_wait_s", "abandon_rate", "abandoned_today", "average_speed_of_answer_s"}
    (ana,) = snap["agents"]
    assert (ana["id"], ana["name"], ana["status"], ana["load"], ana["capacity"]) == ("ana", "Ana Lopez", "break", 0, 1)
    assert ana["skills"] == {"billing": 4, "english": 5} and ana["in_status_s"] >= 0
    assert snap["agents_by_status"] == {"break": 1} and snap["day"] == _today()


def _events(response):
    """The stream's events as (kind, data), read as they come."""
    buffer = ""
    for chunk in response.response:
        buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
            if "event" in fields:
                yield fields["event"], json.loads(fields["data"])


def test_the_event_stream_pushes_a_snapshot_at_once_and_on_a_change(app):
    sam = signed_in(app, "sam")
    router = app.extensions["ivr"].calls.router
    with sam.get("/api/wallboard/events", buffered=False) as response:
        assert response.mimetype == "text/event-stream"
        events = _events(response)
        kind, first = next(events)
        assert kind == "snapshot" and first["agents"][0]["status"] == "break"
        router.set_status("ana", AgentStatus.AVAILABLE)
        kind, second = next(events)
        assert kind == "snapshot" and second["agents"][0]["status"] == "available"


def test_the_stream_says_when_to_reconnect(app):
    with signed_in(app, "sam").get("/api/wallboard/events", buffered=False) as response:
        assert next(iter(response.response)).decode().startswith("retry: ")


# -- in the browser ------------------------------------------------------------------------------------------------
def test_a_supervisor_watches_agents_and_callers_live(app, redis, rest, page, sign_in, screenshot, run_due_jobs):
    from playwright.sync_api import expect

    schedule_sampling(redis)
    run_due_jobs("sample_wallboard")  # a sample with nobody waiting
    agent = {"Authorization": f"Bearer {AgentTokens(redis).issue('ana')}"}
    caller = "CA" + "1" * 32
    rest.live(caller)
    script_errors: list[str] = []
    page.on("pageerror", lambda error: script_errors.append(str(error)))
    with LoopbackServer(app) as server:
        sign_in(page, server.base_url, "sam")
        assert urlsplit(page.url).path == "/wallboard"  # the supervisors' start page
        expect(page.get_by_role("heading", name="Wallboard", level=1)).to_be_visible()
        expect(page.locator("#wb-connection")).to_have_text("Live")
        general = page.locator('#wb-queues tr[data-queue="general"]')
        expect(general.locator("td").first).to_have_text("0")
        ana = page.locator('#wb-agents tr[data-agent="ana"]')
        expect(ana).to_contain_text("Ana Lopez")
        expect(ana.locator(".badge")).to_have_text("break")
        expect(ana).to_contain_text("billing 4, english 5")

        queued_caller(server.base_url, caller)  # nobody takes calls: the caller waits
        expect(general.locator("td").first).to_have_text("1")
        longest = general.locator("td").nth(1)
        expect(longest).to_have_text(re.compile(r"^0m \d\ds$"))
        seen = longest.inner_text()
        expect(longest).not_to_have_text(seen)  # ticks in the browser
        expect(page.locator("#live-status")).to_contain_text("general: 1 waiting")
        screenshot(page, "wallboard")

        run_due_jobs("sample_wallboard")  # a sample with the caller waiting
        requests.post(server.base_url + "/api/agent/status", json={"status": "available"}, timeout=10,
                      headers=agent).raise_for_status()
        expect(ana.locator(".badge")).to_have_text("available")
        expect(ana.locator("td").nth(2)).to_have_text("1 of 1")  # offered the waiting call
        expect(general.locator("td").first).to_have_text("0")
        offers = requests.get(server.base_url + "/api/agent/offers", headers=agent, timeout=10).json()["offers"]
        requests.post(f"{server.base_url}/api/agent/offers/{offers[0]['reservation']}/accept", headers=agent,
                      timeout=10).raise_for_status()
        expect(general.locator("td").nth(4)).to_have_text("1")  # answered today
        expect(general.locator("td").nth(2)).to_have_text("100%")  # within the service level's 20 s
        expect(general.locator("td").nth(3)).to_have_text("0%")  # abandon rate
        expect(general.locator("td").nth(6)).to_have_text(re.compile(r"^0m \d\ds$"))  # average speed of answer
        run_due_jobs("sample_wallboard")  # a sample after the answer: service level 100%

        page.reload()  # the chart reads the history when the page opens (and each minute)
        page.get_by_label("Queue", exact=True).select_option("general")
        page.get_by_text("Show the chart's figures as a table").click()
        rows = page.locator("#wb-history-table tbody tr")
        expect(rows).to_have_count(3)
        expect(rows.nth(0).locator("td").first).to_have_text("0")
        expect(rows.nth(1).locator("td").first).to_have_text("1")
        expect(rows.nth(2).locator("td").last).to_have_text("100%")
        chart = page.get_by_role("img", name=re.compile("Calls waiting and service level in queue general"))
        expect(chart).to_be_visible()
        expect(page.locator("#wb-chart circle.wb-mark-waiting")).to_have_count(3)
        expect(page.locator("#wb-chart rect.wb-mark-sl")).to_have_count(1)  # no service level before the answer
        expect(page.locator("#wb-chart-desc")).to_contain_text("3 samples")
        expect(page.locator("#wb-chart-desc")).to_contain_text("Service level at the last sample: 100%")
        expect(page.locator("#wb-chart-desc")).to_contain_text("ranged from 0 to 1")
        page.locator(".wb-figure").scroll_into_view_if_needed()
        screenshot(page, "wallboard-chart")
    assert script_errors == []


def test_the_page_shows_when_the_stream_is_lost_and_back(app, page, sign_in, monkeypatch):
    from playwright.sync_api import expect

    from webhooks.consoles import wallboard

    monkeypatch.setattr(wallboard, "STREAM_SECONDS", 1)  # streams end quickly, as behind an impatient proxy
    with LoopbackServer(app) as server:
        sign_in(page, server.base_url, "sam")
        expect(page.locator("#wb-connection")).to_have_text("Live")
        page.route("**/api/wallboard/events", lambda route: route.abort())
        expect(page.locator("#wb-connection")).to_have_text("Reconnecting…")
        page.unroute("**/api/wallboard/events")
        expect(page.locator("#wb-connection")).to_have_text("Live")


def test_an_agent_may_not_open_the_wallboard(app, page, sign_in):
    from playwright.sync_api import expect

    with LoopbackServer(app) as server:
        sign_in(page, server.base_url, "ana")
        response = page.goto(server.base_url + "/wallboard")
        assert response.status == 403
        expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
        expect(page.get_by_role("link", name="Wallboard")).to_have_count(0)
