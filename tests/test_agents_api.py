"""A caller reaches an agent: queued by the flow, offered to a skilled agent, accepted through the agent API, the
live call redirected through Twilio's REST API (a real loopback stand-in), the agent leg's result handled."""

from __future__ import annotations

import contextlib
import json
import shutil
import threading
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest
from flask import Flask, jsonify, request
from twilio.request_validator import RequestValidator
from werkzeug.serving import make_server

from ivr.config import Settings
from ivr.store.tokens import AgentTokens
from routing.model import Agent, AgentStatus
from webhooks import create_app

TOKEN = "test-auth-token"
ACCOUNT = "AC" + "0" * 32
SID = "CA" + "c" * 32
OPEN = datetime(2026, 11, 23, 15, 0, tzinfo=timezone.utc)  # Monday 10:00 in New York: agents are working
SAMPLES = Path(__file__).resolve().parent.parent / "flows"


@pytest.fixture
def twilio_rest():
    """Stands in for api.twilio.com: records call updates; calls listed in ``gone`` answer 404/20404."""
    app = Flask("twilio-rest")
    app.config.update(updates=[], gone=set())

    @app.post("/2010-04-01/Accounts/<account>/Calls/<call_sid>.json")
    def update(account, call_sid):
        if call_sid in app.config["gone"]:
            return jsonify(code=20404, message="The requested resource was not found", status=404), 404
        app.config["updates"].append({"account": account, "call": call_sid, **request.form.to_dict()})
        return jsonify(sid=call_sid, account_sid=account, status="in-progress")

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def app(redis, tmp_path, twilio_rest):
    flows = tmp_path / "flows"
    shutil.copytree(SAMPLES, flows)
    settings = replace(Settings(), twilio_auth_token=TOKEN, flows_dir=flows, twilio_api_url=twilio_rest[1],
                       api_token="supervisor-secret")
    return create_app(settings, redis_client=redis, clock=lambda: OPEN)


@pytest.fixture
def alice(app):
    router = app.extensions["ivr"].calls.router
    router.register(Agent("alice", "Alice", {"english": 5, "billing": 4}, ("en",), 1, "client:alice"))
    router.set_status("alice", AgentStatus.BREAK)  # signed in, not taking calls yet: callers wait for her
    token = AgentTokens(app.extensions["ivr"].redis).issue("alice")
    return {"Authorization": f"Bearer {token}"}


def signed_post(client, url: str, params: dict[str, str]):
    signature = RequestValidator(TOKEN).compute_signature(url, params)
    return client.post(url[len("http://localhost"):], data=params, headers={"X-Twilio-Signature": signature})


def queued_caller(app) -> ET.Element:
    """A caller on the direct English line presses 0: queued for a general agent."""
    client = app.test_client()
    params = {"CallSid": SID, "AccountSid": ACCOUNT, "From": "+15551230000", "To": "+15550100101"}
    first = ET.fromstring(signed_post(client, "http://localhost/twilio/voice", params).data)
    answer = signed_post(client, first.find("Gather").get("action"), {**params, "Digits": "0"})
    return ET.fromstring(answer.data)


def test_the_agent_api_needs_a_token(app, alice):
    client = app.test_client()
    assert client.get("/api/agent").status_code == 401
    assert client.get("/api/agent", headers={"Authorization": "Bearer agt_wrong"}).status_code == 401
    me = client.get("/api/agent", headers=alice).get_json()
    assert (me["id"], me["status"], me["skills"]) == ("alice", "break", {"english": 5, "billing": 4})
    bad = client.post("/api/agent/status", json={"status": "sleeping"}, headers=alice)
    assert bad.status_code == 400 and "must be one of" in bad.get_json()["error"]


def test_a_queued_caller_reaches_the_agent_who_accepts(app, alice, twilio_rest, run_due_jobs):
    rest, _url = twilio_rest
    enqueue = queued_caller(app).find("Enqueue")
    assert enqueue.text == "general"
    client = app.test_client()
    went = client.post("/api/agent/status", json={"status": "available"}, headers=alice).get_json()
    assert went["offer"] is not None

    offers = client.get("/api/agent/offers", headers=alice).get_json()["offers"]
    assert len(offers) == 1 and offers[0]["caller"] == "+15551230000" and offers[0]["queue"] == "general"
    assert "english.main_menu" in offers[0]["path"] and offers[0]["data"]["topic"] == "general"

    accepted = client.post(f"/api/agent/offers/{offers[0]['reservation']}/accept", headers=alice)
    assert accepted.status_code == 200
    update = rest.config["updates"][0]
    assert update["call"] == SID and update["account"] == ACCOUNT
    ring = ET.fromstring(update["Twiml"])
    assert ring.find("Dial/Client").text == "alice"
    assert ring.find("Dial").get("action") == "http://localhost/twilio/agent?agent=alice"

    done = signed_post(client, ring.find("Dial").get("action"), {"CallSid": SID, "DialCallStatus": "completed"})
    assert ET.fromstring(done.data).find("Hangup") is not None
    services = app.extensions["ivr"]
    assert services.calls.session(SID).disposition.value == "answered"
    assert services.calls.router.status("alice") == (AgentStatus.WRAP_UP, 0)
    signed_post(client, "http://localhost/twilio/status", {"CallSid": SID, "CallStatus": "completed"})
    assert services.calllog.get(SID)["disposition"] == "answered"
    run_due_jobs("end_wrap_up")  # the worker ends the wrap-up (30 s in queues.yaml) when its time comes
    assert services.calls.router.status("alice") == (AgentStatus.AVAILABLE, 0)


def test_an_agent_who_does_not_answer_sends_the_caller_back_to_the_queue(app, alice, twilio_rest):
    queued_caller(app)
    client = app.test_client()
    client.post("/api/agent/status", json={"status": "available"}, headers=alice)
    offer = client.get("/api/agent/offers", headers=alice).get_json()["offers"][0]
    client.post(f"/api/agent/offers/{offer['reservation']}/accept", headers=alice)
    back = signed_post(client, "http://localhost/twilio/agent?agent=alice",
                       {"CallSid": SID, "DialCallStatus": "no-answer"})
    assert ET.fromstring(back.data).find("Enqueue").text == "general"
    router = app.extensions["ivr"].calls.router
    assert router.call_state(SID) == "waiting" and router.position(SID) == 1


def test_decline_and_a_caller_who_hung_up_before_accept(app, alice, twilio_rest):
    rest, _url = twilio_rest
    queued_caller(app)
    client = app.test_client()
    client.post("/api/agent/status", json={"status": "available"}, headers=alice)
    offer = client.get("/api/agent/offers", headers=alice).get_json()["offers"][0]
    assert client.post(f"/api/agent/offers/{offer['reservation']}/decline", headers=alice).status_code == 200
    router = app.extensions["ivr"].calls.router
    assert router.call_state(SID) == "waiting" and client.get("/api/agent/offers", headers=alice).get_json() == \
        {"offers": []}
    router.register(Agent("bob", "Bob", {"english": 2}, contact="+15557654321"))
    second = router.set_status("bob", AgentStatus.AVAILABLE)
    rest.config["gone"].add(SID)
    bob = {"Authorization": f"Bearer {AgentTokens(app.extensions['ivr'].redis).issue('bob')}"}
    gone = client.post(f"/api/agent/offers/{second.reservation}/accept", headers=bob)
    assert gone.status_code == 409 and gone.get_json()["error"] == "the caller has hung up"
    assert router.call_state(SID) == "ended" and router.status("bob") == (AgentStatus.AVAILABLE, 0)
    routing = [(s["outcome"], s["agent"]) for s in app.extensions["ivr"].calllog.get(SID)["steps"]
               if s.get("kind") == "routing"]
    assert routing == [("offered", "alice"), ("declined", "alice")]  # bob's offer was made outside the app
    assert client.post(f"/api/agent/offers/{offer['reservation']}/decline", headers=alice).status_code == 404


def test_hold_announcements_use_the_distributor_and_the_queue_settings(app, alice):
    queued_caller(app)
    hold = signed_post(app.test_client(), "http://localhost/twilio/wait",
                       {"CallSid": SID, "QueuePosition": "7", "AvgQueueTime": "150"})
    says = [el.text for el in ET.fromstring(hold.data).iter("Say")]
    assert says[:2] == ["You are number 1 in line.", "The expected wait is about 2 minutes."]
    assert ET.fromstring(hold.data).find("Pause").get("length") == "30"


def test_hold_announcements_speak_the_callers_language():
    """A caller of the Korean line hears their place in line and the queue's message in Korean, in the flow's
    voice (the sample outage queue has its message by language)."""
    from demo.backend import run_backend_in_thread
    from ivr.runner.redis import EmbeddedRedis, connect
    from ivr.simulator import HttpTransport, LoopbackServer, ScriptedCaller, Simulator

    from tests.test_webhooks import TOKEN, make_app
    backend_url, stop_backend = run_backend_in_thread()
    with EmbeddedRedis() as server, contextlib.ExitStack() as cleanup:
        cleanup.callback(stop_backend)
        app = make_app(connect(server.url), SAMPLES, services={"billing": backend_url})
        router = app.extensions["ivr"].calls.router
        router.register(Agent("min", "Min", {"outages": 5, "korean": 5}))
        router.set_status("min", AgentStatus.BREAK)  # signed in, not free: the caller waits and hears the hold
        with LoopbackServer(app) as loopback:
            call = Simulator(HttpTransport(loopback.base_url), TOKEN).place_call(
                "+15551230000", "+15550100103", ScriptedCaller(["2", "10003#"]))
    holds = [e.data["text"] for e in call.of_kind("hold")]
    assert holds == ["고객님의 대기 순서는 1번째입니다.", "여러 지역에 정전이 발생한 것을 알고 있습니다. 복구 팀이 가고 있습니다."]


def test_supervisor_sees_queues_and_agents(app, alice):
    queued_caller(app)
    client = app.test_client()
    auth = {"Authorization": "Bearer supervisor-secret"}
    assert client.get("/api/queues").status_code == 401
    queues = {q["queue"]: q for q in client.get("/api/queues", headers=auth).get_json()["queues"]}
    assert set(queues) == {"general", "billing", "collections", "outages"}
    assert queues["general"]["waiting"] == 1 and queues["general"]["entered_today"] == 1
    agents = client.get("/api/agents", headers=auth).get_json()["agents"]
    assert [(a["id"], a["status"], a["load"]) for a in agents] == [("alice", "break", 0)]


def test_when_no_agent_is_signed_in_the_queue_overflows_or_lets_the_caller_leave(app):
    answer = queued_caller(app)  # nobody signed in: 'general' sends callers to voicemail (queues.yaml)
    assert answer.find("Enqueue") is None
    says = [el.text for el in answer.iter("Say")]
    assert says == ["To leave a message and have us call you back, press 1. For the main menu, press 9."]
    steps = app.extensions["ivr"].calllog.get(SID)["steps"]
    assert any(s.get("reason") == "no agents signed in" for s in steps)


def test_maximum_wait_takes_the_caller_out_of_the_queue(app, alice, twilio_rest, redis, monkeypatch):
    from ivr.jobs.routing_timers import enforce_max_wait
    rest, url = twilio_rest
    monkeypatch.setenv("TWILIO_API_URL", url)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    queued_caller(app)
    assert enforce_max_wait(SID, "voicemail", connection=redis) == "left"
    redirect = ET.fromstring(rest.config["updates"][0]["Twiml"]).find("Redirect").text
    assert redirect == "http://localhost/twilio/continue?seq=2&on=leave"
    after = ET.fromstring(signed_post(app.test_client(), redirect, {"CallSid": SID}).data)
    assert after.find("Gather/Say").text.startswith("To leave a message and have us call you back")
    assert enforce_max_wait(SID, "voicemail", connection=redis) == "not waiting"


def test_maximum_wait_can_overflow_into_another_queue(app, alice, redis):
    from ivr.jobs.routing_timers import enforce_max_wait
    queued_caller(app)
    assert enforce_max_wait(SID, "queue:outages", connection=redis) == "moved"
    router = app.extensions["ivr"].calls.router
    assert router.waiting("outages") == [SID] and router.waiting("general") == []


def read_events(response, wanted: int) -> list[tuple[str | None, str, str]]:
    """Parse the first ``wanted`` events of a Server-Sent Events response (then stop reading)."""
    events, buffer = [], ""
    for chunk in response.response:
        buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(":"))
            if "event" in fields:
                events.append((fields.get("id"), fields["event"], fields["data"]))
        if len(events) >= wanted:
            response.close()
            return events
    return events


def test_event_stream_pushes_offers_and_resumes_after_the_last_id(app, alice):
    queued_caller(app)
    client = app.test_client()
    token = alice["Authorization"][7:]
    client.post("/api/agent/status", json={"status": "available"}, headers=alice)
    first = read_events(client.get(f"/api/agent/events?access_token={token}&after=0", buffered=False), 4)
    kinds = [(kind, json.loads(data).get("status")) for _id, kind, data in first]
    # what is pending first, then the history from the start: on break, available, offered
    assert kinds == [("offer", None), ("status", "break"), ("status", "available"), ("offer", None)]
    status_id = first[2][0]
    resumed = read_events(client.get("/api/agent/events", headers={**alice, "Last-Event-ID": status_id},
                                     buffered=False), 2)
    assert [kind for _id, kind, _data in resumed] == ["offer", "offer"]  # pending, then the one after status
    assert json.loads(resumed[1][2])["call_sid"] == SID
    assert client.get("/api/agent/events", headers={**alice, "Last-Event-ID": "nope"}).status_code == 400
    assert client.get("/api/agent/events?access_token=agt_wrong").status_code == 401


def test_the_published_offer_timeout_and_max_missed_take_effect(redis, tmp_path, twilio_rest):
    """queues.yaml says offers last 40 s and one missed offer puts an agent on break: the app's distributor and the
    worker's timeout job follow it (stored in Redis at publish), and a rollback brings back the defaults."""
    from ivr.jobs.routing_timers import expire_offers
    flows = tmp_path / "flows"
    shutil.copytree(SAMPLES, flows)
    queues = flows / "queues.yaml"
    original = queues.read_text()
    queues.write_text(original.replace("offer_timeout: 15s", "offer_timeout: 40s")
                      .replace("max_missed: 3", "max_missed: 1"))
    settings = replace(Settings(), twilio_auth_token=TOKEN, flows_dir=flows, twilio_api_url=twilio_rest[1])
    app = create_app(settings, redis_client=redis, clock=lambda: OPEN)
    router = app.extensions["ivr"].calls.router
    router.register(Agent("alice", "Alice", {"english": 5}, ("en",), 1, "client:alice"))
    router.set_status("alice", AgentStatus.BREAK)
    queued_caller(app)
    at = int(OPEN.timestamp() * 1000) + 1_000
    offer = router.set_status("alice", AgentStatus.AVAILABLE, at)
    assert offer.call_sid == SID and offer.expires == at + 40_000
    assert expire_offers(connection=redis) == []  # the job (real clock, long after) times it out: no one else
    assert router.status("alice") == (AgentStatus.BREAK, 0)  # one missed offer was enough
    assert router.call_state(SID) == "waiting"

    repo = app.extensions["ivr"].repo
    queues.write_text(original)
    repo.publish_directory(flows, author="test", message="defaults again")
    assert router.settings() == {"offer_timeout_ms": 15_000, "max_missed": 3, "wrap_up_ms": 30_000}
    repo.rollback(author="test")
    assert router.settings() == {"offer_timeout_ms": 40_000, "max_missed": 1, "wrap_up_ms": 30_000}


def test_a_queue_that_matches_language_offers_callers_only_to_agents_who_speak_theirs(redis, tmp_path, twilio_rest):
    """queues.yaml: general has match_language: true. The caller on the English line (flow language en-US) is not
    offered to Bea, who speaks only Spanish, though she has been idle longest; Alice (en) gets the call."""
    flows = tmp_path / "flows"
    shutil.copytree(SAMPLES, flows)
    queues = flows / "queues.yaml"
    queues.write_text(queues.read_text().replace("  general:\n", "  general:\n    match_language: true\n"))
    settings = replace(Settings(), twilio_auth_token=TOKEN, flows_dir=flows, twilio_api_url=twilio_rest[1])
    app = create_app(settings, redis_client=redis, clock=lambda: OPEN)
    router = app.extensions["ivr"].calls.router
    router.register(Agent("bea", "Bea", {"english": 5}, ("es-US",), 1, "client:bea"))
    router.set_status("bea", AgentStatus.AVAILABLE, 1)
    router.register(Agent("alice", "Alice", {"english": 5}, ("en",), 1, "client:alice"))
    router.set_status("alice", AgentStatus.BREAK)
    queued_caller(app)
    assert router.call_state(SID) == "waiting" and router.offers_for("bea") == []
    assert router.set_status("alice", AgentStatus.AVAILABLE).call_sid == SID


@pytest.fixture
def rest_stand_in():
    from ivr.simulator import TwilioRestStandIn
    with TwilioRestStandIn() as rest:
        yield rest


def callback_app(redis, tmp_path, rest, monkeypatch, setting: str):
    """The sample flows with ``setting`` (e.g. ``when_no_agents: callback``) for the general queue; the app and
    the worker's jobs talk to the simulator's REST stand-in."""
    flows = tmp_path / "flows"
    shutil.copytree(SAMPLES, flows)
    queues = flows / "queues.yaml"
    queues.write_text(queues.read_text().replace("  general:\n", f"  general:\n    {setting}\n", 1)
                      .replace("    when_no_agents: voicemail\n    max_wait: 15m\n    on_max_wait: voicemail\n",
                               "    max_wait: 15m\n", 1))
    for name, value in (("TWILIO_API_URL", rest.url), ("TWILIO_AUTH_TOKEN", TOKEN), ("TWILIO_ACCOUNT_SID", ACCOUNT)):
        monkeypatch.setenv(name, value)
    settings = replace(Settings(), twilio_auth_token=TOKEN, twilio_account_sid=ACCOUNT, flows_dir=flows,
                       twilio_api_url=rest.url)
    return create_app(settings, redis_client=redis, clock=lambda: OPEN)


def test_when_no_agents_a_caller_is_called_back_and_reaches_the_agent(redis, tmp_path, rest_stand_in, monkeypatch,
                                                                      run_due_jobs):
    from ivr.engine.queue import CALLBACK_GOODBYE
    rest = rest_stand_in
    app = callback_app(redis, tmp_path, rest, monkeypatch, "when_no_agents: callback")
    services = app.extensions["ivr"]
    router = services.calls.router
    answer = queued_caller(app)  # nobody signed in
    assert answer.find("Enqueue") is None and answer.find("Hangup") is not None
    assert [el.text for el in answer.iter("Say")][-1] == CALLBACK_GOODBYE
    [callback_id] = router.callbacks()
    assert router.callback(callback_id)["number"] == "+15551230000"
    signed_post(app.test_client(), "http://localhost/twilio/status", {"CallSid": SID, "CallStatus": "completed"})
    assert services.calllog.get(SID)["disposition"] == "callback"

    run_due_jobs()  # the callback job: nobody available yet, nothing placed
    assert rest.placed.empty() and router.callbacks() == [callback_id]
    router.register(Agent("alice", "Alice", {"english": 5}, ("en",), 1, "client:alice"))
    router.set_status("alice", AgentStatus.AVAILABLE)
    services.redis.delete("ivr:rematch:scheduled")
    from ivr.jobs.queue import schedule_rematch
    schedule_rematch(redis)
    run_due_jobs("rematch")  # the sweep runs the callbacks: Alice is available, the caller is called
    placed = rest.placed.get_nowait()
    assert (placed["To"], placed["From"]) == ("+15551230000", "+15550100101")
    assert placed["Url"] == f"http://localhost/twilio/callback?id={callback_id}"

    callee = "CA" + "d" * 32
    rest.live(callee)
    client = app.test_client()
    enqueue = ET.fromstring(signed_post(client, placed["Url"], {"CallSid": callee, "AccountSid": ACCOUNT}).data)
    assert enqueue.find("Enqueue").text == "general" and enqueue.find("Say").text.startswith("Hello, we are calling")
    [offer] = router.offers_for("alice")
    assert offer.call_sid == callee and router.callbacks() == []
    token = AgentTokens(services.redis).issue("alice")
    view = client.get("/api/agent/offers", headers={"Authorization": f"Bearer {token}"}).get_json()["offers"][0]
    assert view["caller"] == "+15551230000" and view["data"]["topic"] == "general"  # what the caller said before
    accepted = client.post(f"/api/agent/offers/{offer.reservation}/accept",
                           headers={"Authorization": f"Bearer {token}"})
    assert accepted.status_code == 200
    ring = ET.fromstring(rest.live(callee).get_nowait().twiml)
    assert ring.find("Dial/Client").text == "alice"


def test_at_maximum_wait_a_caller_can_be_called_back(redis, tmp_path, rest_stand_in, monkeypatch):
    from ivr.engine.queue import CALLBACK_GOODBYE
    from ivr.jobs.routing_timers import enforce_max_wait
    rest = rest_stand_in
    app = callback_app(redis, tmp_path, rest, monkeypatch, "on_max_wait: callback")
    router = app.extensions["ivr"].calls.router
    router.register(Agent("alice", "Alice", {"english": 5}, ("en",), 1, "client:alice"))
    router.set_status("alice", AgentStatus.BREAK)  # signed in, busy elsewhere: the caller waits
    inbox = rest.live(SID)
    assert queued_caller(app).find("Enqueue").text == "general"
    assert enforce_max_wait(SID, "callback", connection=redis) == "callback"
    goodbye = ET.fromstring(inbox.get_nowait().twiml)
    assert goodbye.find("Say").text == CALLBACK_GOODBYE and goodbye.find("Hangup") is not None
    assert router.waiting("general") == [] and len(router.callbacks()) == 1
    assert app.extensions["ivr"].calls.session(SID).disposition.value == "callback"
    assert enforce_max_wait(SID, "callback", connection=redis) == "not waiting"
