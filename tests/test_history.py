"""Call history endpoints: the search page and its JSON twin (GET /api/calls), a call's timeline; roles and
validation. Calls are placed through the real webhooks by the simulator against the sample flows."""

from __future__ import annotations

import html
import re

import pytest

from ivr.store.accounts import AccountStore, Role
from routing.model import Agent

from consoles import PASSWORD, sign_in_client
from history_calls import OPEN, Clock, make_app, place_calls


@pytest.fixture
def app(redis, tmp_path, backend):
    clock = Clock(OPEN)
    app = make_app(redis, tmp_path, backend, clock)
    app.calls = place_calls(app, clock)
    return app


@pytest.fixture
def client(app):
    client = app.test_client()
    client.csrf = sign_in_client(client)
    return client


def listed(response) -> list[str]:
    """Call sids linked from the results table, in order."""
    return re.findall(r'href="/calls/(CA[0-9a-f]+)', response.get_data(as_text=True))


def test_history_pages_are_for_supervisors_only(app, redis):
    anonymous = app.test_client()
    assert anonymous.get("/calls").status_code == 302
    assert anonymous.get(f"/calls/{app.calls.balance}").headers["Location"].startswith("/login")
    app.extensions["ivr"].calls.router.register(Agent("ana", "Ana Lopez", {"english": 5}))
    AccountStore(redis).create("ana", PASSWORD, Role.AGENT, agent_id="ana")
    agent = app.test_client()
    sign_in_client(agent, "ana")
    assert agent.get("/calls").status_code == 403
    assert agent.get(f"/calls/{app.calls.balance}").status_code == 403
    assert agent.get("/api/calls?number=1230001").status_code == 401


def test_the_newest_calls_come_first_and_the_supervisor_sees_calls_in_the_nav(app, client):
    response = client.get("/calls?tz=America/New_York")
    assert response.status_code == 200
    calls = app.calls
    assert listed(response) == [calls.voicemail, calls.balance, calls.abandoned, calls.self_service]
    page = response.get_data(as_text=True)
    assert '<a href="/calls"\n               aria-current="page">Calls</a>' in page
    assert "2026-11-23 10:00:00" in page  # the first call's start in New York time
    assert "Voicemail" in page and "Abandoned" in page and "Self-service (done in the IVR)" in page


@pytest.mark.parametrize("query, expected", [
    ("number=1230001", ["self_service"]),
    ("number=555-123", ["balance", "abandoned", "self_service"]),
    ("number=%2B1555999", ["voicemail"]),
    ("number=0100101", ["voicemail", "balance", "abandoned", "self_service"]),  # the called number
    ("outcome=abandoned", ["abandoned"]),
    ("outcome=self-service", ["balance", "self_service"]),
    ("outcome=voicemail&number=1230", []),
    # days in New York: the calls start at 10:00, 11:00, 12:00 and 13:00 on the 23rd
    ("from=2026-11-23&to=2026-11-23&tz=America/New_York", ["voicemail", "balance", "abandoned", "self_service"]),
    ("from=2026-11-24&tz=America/New_York", []),
    ("to=2026-11-22&tz=America/New_York", []),
    # in Tokyo the same calls started on the 24th, after midnight
    ("from=2026-11-24&to=2026-11-24&tz=Asia/Tokyo", ["voicemail", "balance", "abandoned", "self_service"]),
])
def test_search_by_number_date_and_outcome(app, client, query, expected):
    response = client.get(f"/calls?{query}")
    assert response.status_code == 200
    assert listed(response) == [getattr(app.calls, name) for name in expected]
    found = client.get(f"/api/calls?{query}").get_json()
    assert [c["call_sid"] for c in found["calls"]] == [getattr(app.calls, name) for name in expected]
    assert found["capped"] is False


def test_results_come_in_pages(app, client, monkeypatch):
    from webhooks.consoles import history
    monkeypatch.setattr(history, "PAGE_SIZE", 3)
    first = client.get("/calls?tz=UTC")
    assert listed(first) == [app.calls.voicemail, app.calls.balance, app.calls.abandoned]
    older = re.search(r'href="([^"]+)" rel="next">Older calls', first.get_data(as_text=True)).group(1)
    assert html.unescape(older) == "/calls?tz=UTC&page=2"
    second = client.get(html.unescape(older))
    assert listed(second) == [app.calls.self_service]
    assert "Older calls" not in second.get_data(as_text=True) and "Newer calls" in second.get_data(as_text=True)
    api = client.get("/api/calls?outcome=self-service&limit=1&offset=1").get_json()
    assert [c["call_sid"] for c in api["calls"]] == [app.calls.self_service] and api["more"] is False


def test_a_search_over_too_many_calls_asks_to_narrow_it(app, client, monkeypatch):
    from webhooks.consoles import history
    monkeypatch.setattr(history, "SEARCH_CAP", 2)
    response = client.get("/calls?number=1230001")
    assert response.status_code == 200
    assert "The search stopped after reading 2 calls" in response.get_data(as_text=True)
    found = client.get("/api/calls?number=1230001").get_json()
    assert found["capped"] is True and "Narrow it down" in found["message"]


@pytest.mark.parametrize("query, field, message", [
    ("from=2026-02-30", "from", "Enter a date as YYYY-MM-DD"),
    ("from=2026-11-24&to=2026-11-23", "to", "The end date is before the start date."),
    ("number=abc", "number", "Only digits"),
    ("number=%2B", "number", "Enter some digits"),
    ("outcome=lost", "outcome", "Unknown outcome 'lost'"),
    ("tz=Mars/Olympus", "tz", "Unknown timezone"),
    ("page=0", "page", "Page: Number must be between 1 and 1000."),
])
def test_bad_searches_are_explained(client, query, field, message):
    page = client.get(f"/calls?{query}")
    assert page.status_code == 400
    text = html.unescape(page.get_data(as_text=True))
    assert message in text and "The search was not run" in text
    if field not in ("tz", "page"):  # not fields of the form: their errors show in the alert
        assert f'aria-describedby="{field}-error' in text and 'aria-invalid="true"' in text
    if field == "page":  # the API pages with limit and offset
        return
    api = client.get(f"/api/calls?{query}")
    assert api.status_code == 400
    assert message in api.get_json()["error"] and field in api.get_json()["fields"]


def test_the_api_keeps_its_plain_listing_and_takes_the_bearer_token(app):
    client = app.test_client()
    bearer = {"Authorization": "Bearer api-secret"}
    plain = client.get("/api/calls?limit=2", headers=bearer).get_json()
    assert [c["call_sid"] for c in plain["calls"]] == [app.calls.voicemail, app.calls.balance]
    assert "capped" not in plain
    found = client.get("/api/calls?outcome=voicemail", headers=bearer).get_json()
    assert [c["call_sid"] for c in found["calls"]] == [app.calls.voicemail] and found["timezone"] == "UTC"
    assert client.get("/api/calls?outcome=voicemail").status_code == 401


def test_a_timeline_shows_every_step_with_inputs_lookups_and_offsets(app, client):
    response = client.get(f"/calls/{app.calls.balance}?tz=America/New_York")
    assert response.status_code == 200
    page = html.unescape(response.get_data(as_text=True))
    record = app.extensions["ivr"].calllog.get(app.calls.balance)
    assert page.count('<tr class="step-') == len(record["steps"])
    assert "Call from +15551230003" in page and "2026-11-23 12:00:00" in page
    assert "****5674" in page and "12345674" not in page  # the account number stays masked
    assert "lookup-ok" in page and "fetch_account" in page
    assert "your balance is 142 dollars and 17 cents" in page
    assert "Not queued for an agent" in page and "Self-service (done in the IVR)" in page


def test_a_timeline_shows_queue_time_the_agent_wrap_up_and_escapes_what_callers_said(app, client):
    log = app.extensions["ivr"].calllog
    sid = app.calls.abandoned
    started = log.get(sid)["started_at"]
    app.extensions["ivr"].calls.router.register(Agent("ana", "Ana Lopez", {"english": 5}))
    log.add_step(sid, {"flow": "english", "node": "describe", "kind": "listen", "outcome": "understood",
                       "heard": "<img src=x onerror=alert(1)> my bill", "confidence": 0.82, "intent": "balance",
                       "at": started + 3})
    log.routing_step(sid, "offered", "ana", started + 40)
    log.agent_accepted(sid, "ana", started + 42)
    log.wrap_up(sid, "ana", "resolved", "<script>alert('notes')</script>\nwants paper bills", started + 300)
    raw = client.get(f"/calls/{sid}?tz=UTC").get_data(as_text=True)
    assert "<img src=x" not in raw and "<script>alert" not in raw
    assert "&lt;img src=x onerror=alert(1)&gt; my bill" in raw
    page = html.unescape(raw)
    assert "82%" in page and "balance" in page
    assert "Ana Lopez" in page and "resolved" in page and "wants paper bills" in page
    assert "Time in queue</dt><dd>42s" in page and "accepted by ana" in page
    assert ">offered<" in page and ">accepted<" in page and ">wrapped-up<" in page


def test_a_voicemail_shows_its_transcription_state(app, client):
    page = client.get(f"/calls/{app.calls.voicemail}").get_data(as_text=True)
    assert "Voicemail" in page and "queued (en-US)" in page and "customer_service" in page


def test_an_unknown_call_is_a_404(client):
    assert client.get("/calls/CA00000000000000000000000000000000").status_code == 404
    assert client.get("/calls/not%20a%20sid").status_code == 404
