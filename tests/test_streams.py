"""The cap on console streams per web process: beyond it a stream is refused (503, Retry-After) and a slot is
given back when a stream closes, so webhooks always keep threads of their own."""

from __future__ import annotations

import pytest

from consoles import console_app, sign_in_client


@pytest.fixture
def app(redis, tmp_path):
    return console_app(redis, tmp_path, stream_slots=2)


def test_streams_beyond_the_cap_are_refused_until_one_closes(app):
    agent = app.test_client()
    sign_in_client(agent, "ana")
    supervisor = {"Authorization": "Bearer api-secret"}
    slots = app.extensions["ivr_streams"]
    first = agent.get("/api/agent/events", buffered=False)
    second = app.test_client().get("/api/wallboard/events", headers=supervisor, buffered=False)
    assert (first.status_code, second.status_code, slots.open) == (200, 200, 2)
    refused = app.test_client().get("/api/wallboard/events", headers=supervisor, buffered=False)
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "5"
    assert "as many live streams" in refused.get_json()["error"]
    assert agent.get("/api/agent").status_code == 200  # plain requests are never capped
    first.close()
    assert slots.open == 1
    third = app.test_client().get("/api/wallboard/events", headers=supervisor, buffered=False)
    assert third.status_code == 200
    second.close()
    third.close()
    assert slots.open == 0


def test_one_client_cannot_take_every_slot(app):
    app.extensions["ivr_streams"].limit = 10
    agent = app.test_client()
    sign_in_client(agent, "ana")
    mine = [agent.get("/api/agent/events", buffered=False) for _ in range(3)]
    assert [r.status_code for r in mine] == [200, 200, 200]
    fourth = agent.get("/api/agent/events", buffered=False)
    assert fourth.status_code == 503 and "already have 3 live streams" in fourth.get_json()["error"]
    others = app.test_client().get("/api/wallboard/events", headers={"Authorization": "Bearer api-secret"},
                                   buffered=False)
    assert others.status_code == 200  # slots are left for everyone else
    for response in [*mine, others]:
        response.close()
    assert app.extensions["ivr_streams"].open == 0


def test_a_refused_or_failed_stream_keeps_no_slot(app):
    slots = app.extensions["ivr_streams"]
    bad = app.test_client().get("/api/agent/events?after=not-an-id",
                                headers={"Authorization": "Bearer nobody"})
    assert bad.status_code == 401 and slots.open == 0  # authentication comes before the slot
    agent = app.test_client()
    sign_in_client(agent, "ana")
    malformed = agent.get("/api/agent/events", headers={"Last-Event-ID": "garbage"})
    assert malformed.status_code == 400 and slots.open == 0


def test_a_console_refused_a_stream_connects_when_a_slot_frees(app, browser, sign_in):
    """One slot: the supervisor's wallboard holds it, the agent's console is refused and says so, then connects
    by itself once the wallboard is closed."""
    from playwright.sync_api import expect

    from ivr.simulator import LoopbackServer

    app.extensions["ivr_streams"].limit = 1
    with LoopbackServer(app) as server:
        supervisor = browser.new_context()
        wallboard = supervisor.new_page()
        sign_in(wallboard, server.base_url, "sam")
        expect(wallboard.locator("#wb-connection-text")).to_have_text("Live")
        agent = browser.new_context()
        console = agent.new_page()
        sign_in(console, server.base_url, "ana")
        expect(console.locator("#connection")).to_have_text("Live updates: reconnecting…")
        supervisor.close()
        expect(console.locator("#connection")).to_have_text("Live updates: connected", timeout=20_000)
        agent.close()
