"""The agent API as the agent console uses it, with a signed-in agent session: the call the agent is on, the wrap-up
(disposition and notes, checked), the calls of the day, the events the page follows, signing out; and the queues'
``dispositions`` as the flow checker sees them."""

from __future__ import annotations

import shutil
import textwrap
import time
from dataclasses import replace

import pytest

from ivr.config import Settings
from ivr.services.desk import transcript
from ivr.store.accounts import AccountStore, Role
from routing.model import Agent, AgentStatus
from webhooks import create_app

from consoles import PASSWORD, sign_in_client
from tests.test_agents_api import OPEN, SAMPLES, SID, TOKEN, queued_caller, signed_post, twilio_rest  # noqa: F401
from tests.test_flowcheck import errors_of

DEFAULTS = ["resolved", "follow-up", "escalated", "wrong-number", "other"]


def make_app(redis, tmp_path, rest_url: str, queues_edit=None):
    flows = tmp_path / "flows"
    shutil.copytree(SAMPLES, flows)
    if queues_edit is not None:
        path = flows / "queues.yaml"
        path.write_text(queues_edit(path.read_text()))
    settings = replace(Settings(), twilio_auth_token=TOKEN, flows_dir=flows, twilio_api_url=rest_url)
    app = create_app(settings, redis_client=redis, clock=lambda: OPEN)
    router = app.extensions["ivr"].calls.router
    for agent_id, name in (("alice", "Alice Ng"), ("bob", "Bob Stone")):
        router.register(Agent(agent_id, name, {"english": 5, "billing": 4}, ("en",), 1, f"client:{agent_id}"))
        router.set_status(agent_id, AgentStatus.BREAK)
        AccountStore(redis).create(agent_id, PASSWORD, Role.AGENT, agent_id=agent_id, name=name)
    AccountStore(redis).create("sam", PASSWORD, Role.SUPERVISOR, name="Sam Rivera")
    return app


@pytest.fixture
def app(redis, tmp_path, twilio_rest):  # noqa: F811
    return make_app(redis, tmp_path, twilio_rest[1])


class Console:
    """A signed-in console session driven through the Flask test client (CSRF header on changes)."""

    def __init__(self, app, username: str):
        self.client = app.test_client()
        self.token = sign_in_client(self.client, username)

    def get(self, url: str):
        return self.client.get(url)

    def post(self, url: str, body=None, csrf: bool = True):
        headers = {"X-CSRFToken": self.token} if csrf else {}
        return self.client.post(url, json=body, headers=headers)


def talk_and_hang_up(app, console: Console) -> str:
    """The agent goes available, accepts the queued caller, talks; the agent leg ends answered. The call's SID."""
    queued_caller(app)
    assert console.post("/api/agent/status", {"status": "available"}).status_code == 200
    [offer] = console.get("/api/agent/offers").get_json()["offers"]
    assert console.post(f"/api/agent/offers/{offer['reservation']}/accept").status_code == 200
    me = console.get("/api/agent").get_json()
    assert me["call"]["call_sid"] == SID and me["call"]["queue"] == "general" and me["wrap_up"] is None
    signed_post(app.test_client(), "http://localhost/twilio/agent?agent=alice",
                {"CallSid": SID, "DialCallStatus": "completed"})
    signed_post(app.test_client(), "http://localhost/twilio/status",
                {"CallSid": SID, "CallStatus": "completed", "CallDuration": "95"})
    return SID


def test_a_call_over_waits_for_its_wrap_up_which_makes_the_agent_available(app):
    alice = Console(app, "alice")
    talk_and_hang_up(app, alice)
    me = alice.get("/api/agent").get_json()
    assert me["status"] == "wrap-up" and me["call"] is None
    assert me["wrap_up"]["call_sid"] == SID and me["wrap_up"]["caller"] == "+15551230000"
    assert me["wrap_up"]["queue"] == "general" and me["wrap_up"]["dispositions"] == DEFAULTS
    assert me["choices"] == ["available", "break", "offline"] and me["status_since"] <= me["now"]

    done = alice.post("/api/agent/wrap-up", {"call_sid": SID, "disposition": "follow-up",
                                             "notes": "  Wants a payment plan; call back Friday.  "})
    assert done.status_code == 200 and done.get_json()["status"] == "available"
    services = app.extensions["ivr"]
    record = services.calllog.get(SID)
    assert (record["agent_disposition"], record["agent_notes"]) == ("follow-up", "Wants a payment plan; call back "
                                                                                 "Friday.")
    assert record["steps"][-1]["kind"] == "wrap-up" and record["steps"][-1]["agent"] == "alice"
    assert services.calls.router.status("alice") == (AgentStatus.AVAILABLE, 0)
    assert alice.get("/api/agent").get_json()["wrap_up"] is None

    since = time.time() - 3600
    calls = alice.get(f"/api/agent/history?since={since}").get_json()["calls"]
    assert [(c["call_sid"], c["caller"], c["queue"], c["duration"], c["agent_disposition"]) for c in calls] == \
        [(SID, "+15551230000", "general", 95, "follow-up")]
    bob = Console(app, "bob")
    assert bob.get(f"/api/agent/history?since={since}").get_json()["calls"] == []  # only one's own calls


def test_the_event_stream_says_when_the_agents_call_ends(app):
    alice = Console(app, "alice")
    talk_and_hang_up(app, alice)
    kinds = [(kind, data.get("status")) for _id, kind, data in
             app.extensions["ivr"].calls.router.events("alice", "0")]
    assert ("status", "wrap-up") in kinds and ("call-ended", None) in kinds
    assert kinds.index(("call-ended", None)) > kinds.index(("offer", None))


@pytest.mark.parametrize("body, status, message", [
    ({"disposition": "resolved"}, 400, "'call_sid' is required"),
    ({"call_sid": SID, "disposition": "sorted"}, 400,
     "'disposition' must be one of resolved, follow-up, escalated, wrong-number, other"),
    ({"call_sid": SID, "disposition": "resolved", "notes": "x" * 2001}, 400, "at most 2000"),
    ({"call_sid": SID, "disposition": "resolved", "notes": ["not", "text"]}, 400, "'notes' must be text"),
    ({"call_sid": "CA" + "9" * 32, "disposition": "resolved"}, 404, "no call CA9999"),
])
def test_a_wrap_up_is_checked(app, body, status, message):
    alice = Console(app, "alice")
    talk_and_hang_up(app, alice)
    refused = alice.post("/api/agent/wrap-up", body)
    assert refused.status_code == status and message in refused.get_json()["error"]
    assert "agent_disposition" not in app.extensions["ivr"].calllog.get(SID)
    assert app.extensions["ivr"].calls.router.status("alice")[0] is AgentStatus.WRAP_UP


def test_only_the_agent_who_took_the_call_wraps_it_up_once_it_is_over(app):
    alice = Console(app, "alice")
    queued_caller(app)
    alice.post("/api/agent/status", {"status": "available"})
    [offer] = alice.get("/api/agent/offers").get_json()["offers"]
    alice.post(f"/api/agent/offers/{offer['reservation']}/accept")
    early = alice.post("/api/agent/wrap-up", {"call_sid": SID, "disposition": "resolved"})
    assert early.status_code == 409 and "not over yet" in early.get_json()["error"]
    signed_post(app.test_client(), "http://localhost/twilio/agent?agent=alice",
                {"CallSid": SID, "DialCallStatus": "completed"})
    other = Console(app, "bob").post("/api/agent/wrap-up", {"call_sid": SID, "disposition": "resolved"})
    assert other.status_code == 409 and "you did not take this call" in other.get_json()["error"]


def test_wrap_up_needs_an_agent_session_and_the_csrf_token(app):
    alice = Console(app, "alice")
    talk_and_hang_up(app, alice)
    body = {"call_sid": SID, "disposition": "resolved"}
    no_token = alice.post("/api/agent/wrap-up", body, csrf=False)
    assert no_token.status_code == 400 and "CSRF" in no_token.get_json()["error"]
    assert Console(app, "sam").post("/api/agent/wrap-up", body).status_code == 401
    assert app.test_client().post("/api/agent/wrap-up", json=body).status_code == 401
    assert Console(app, "sam").get("/agent").status_code == 403
    assert app.test_client().get("/agent").headers["Location"].startswith("/login?next=/agent")
    assert alice.post("/api/agent/wrap-up", body).status_code == 200


def test_a_wrap_up_body_must_be_an_object(app):
    alice = Console(app, "alice")
    refused = alice.post("/api/agent/wrap-up", ["resolved"])
    assert refused.status_code == 400 and "JSON object" in refused.get_json()["error"]


@pytest.mark.parametrize("query, message", [
    ("", "'since' is required"),
    ("?since=yesterday", "must be epoch seconds"),
    ("?since=nan", "no later than 'until'"),
    ("?since=2000&until=1000", "no later than 'until'"),
    ("?since=0", "at most 48 hours"),
])
def test_history_parameters_are_checked(app, query, message):
    refused = Console(app, "alice").get(f"/api/agent/history{query}")
    assert refused.status_code == 400 and message in refused.get_json()["error"]


def test_a_queue_can_name_its_own_dispositions(redis, tmp_path, twilio_rest):  # noqa: F811
    app = make_app(redis, tmp_path, twilio_rest[1], lambda text: text.replace(
        "  general:\n", "  general:\n    dispositions: [resolved, refund-issued, other]\n", 1))
    alice = Console(app, "alice")
    talk_and_hang_up(app, alice)
    assert alice.get("/api/agent").get_json()["wrap_up"]["dispositions"] == ["resolved", "refund-issued", "other"]
    refused = alice.post("/api/agent/wrap-up", {"call_sid": SID, "disposition": "follow-up"})
    assert refused.status_code == 400 and "resolved, refund-issued, other" in refused.get_json()["error"]
    assert alice.post("/api/agent/wrap-up", {"call_sid": SID, "disposition": "refund-issued"}).status_code == 200


def test_the_flow_checker_checks_dispositions():
    errors = errors_of("nodes:\n  a:\n    hangup: true\n", extra={"queues.yaml": textwrap.dedent("""\
        skills: [billing]
        queues:
          billing:
            dispositions: [resolved, Resolved, resolved]
          general:
            dispositions: []
        """)})
    assert ("queues.yaml:4: queues.billing.dispositions[1]: 'Resolved' is not a disposition name (lower-case "
            "letters, digits and '-', at most 40)") in errors
    assert "queues.yaml:4: queues.billing.dispositions[2]: 'resolved' is listed twice" in errors
    assert any(e.startswith("queues.yaml:6: queues.general.dispositions: expected a non-empty list") for e in errors)


def test_signing_out_makes_the_agent_offline_and_passes_their_offer_on(app):
    router = app.extensions["ivr"].calls.router
    alice = Console(app, "alice")
    queued_caller(app)
    alice.post("/api/agent/status", {"status": "available"})
    assert [o.call_sid for o in router.offers_for("alice")] == [SID]
    router.set_status("bob", AgentStatus.AVAILABLE)  # busy elsewhere until now: the next in line
    assert alice.client.post("/logout", data={"csrf_token": alice.token}).status_code == 302
    assert router.status("alice") == (AgentStatus.OFFLINE, 0) and router.offers_for("alice") == []
    assert [o.call_sid for o in router.offers_for("bob")] == [SID]
    steps = [(s["outcome"], s["agent"]) for s in app.extensions["ivr"].calllog.get(SID)["steps"]
             if s.get("kind") == "routing"]
    assert steps == [("offered", "alice"), ("declined", "alice"), ("offered", "bob")]


def test_the_offer_shows_what_the_caller_said(app):
    """Speech steps (as the engine logs them for menus and listen nodes) become the offer's transcript."""
    alice = Console(app, "alice")
    queued_caller(app)
    app.extensions["ivr"].calllog.add_step(SID, {"flow": "english", "node": "describe", "kind": "listen",
                                                 "outcome": "heard", "heard": "my bill looks wrong",
                                                 "confidence": 0.82, "at": OPEN.timestamp()})
    alice.post("/api/agent/status", {"status": "available"})
    [offer] = alice.get("/api/agent/offers").get_json()["offers"]
    assert offer["said"] == [{"node": "english.describe", "text": "my bill looks wrong", "intent": None,
                              "confidence": 0.82, "outcome": "heard"}]
    assert offer["expires"] - int(time.time() * 1000) > 5000 and offer["language"] == "en-US"


def test_transcript_keeps_only_recognised_words():
    steps = [{"flow": "f", "node": "menu", "outcome": "prompted"},
             {"flow": "f", "node": "menu", "outcome": "understood", "intent": "billing", "heard": "billing",
              "confidence": 0.9},
             {"flow": "f", "node": "zip", "outcome": "collected", "spoken": True, "input": "*2345"}]
    assert [(s["node"], s["text"], s["intent"]) for s in transcript(steps)] == [("f.menu", "billing", "billing")]


def test_agent_console_page_is_in_the_agents_navigation(app):
    alice = Console(app, "alice")
    home = alice.get("/")
    assert home.status_code == 302 and home.headers["Location"] == "/agent"
    page = alice.get("/agent").get_data(as_text=True)
    assert 'href="/agent"' in page and "agent.js" in page and "<script>" not in page
    assert 'data-status="available"' in page and 'data-status="busy"' not in page


@pytest.mark.parametrize("status", ["busy", "wrap-up", "lunch", None])
def test_an_agent_chooses_only_available_break_or_offline(app, status):
    console = Console(app, "alice")
    refused = console.post("/api/agent/status", {"status": status})
    assert refused.status_code == 400 and refused.get_json()["error"] == \
        "'status' must be one of available, break, offline"

