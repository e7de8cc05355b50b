"""Sign-in to the consoles: sessions, CSRF, roles, and the agent/supervisor APIs taking a console session."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ivr.config import Settings
from ivr.simulator import LoopbackServer
from ivr.store.accounts import AccountStore
from routing.model import AgentStatus
from webhooks import create_app

from consoles import PASSWORD, console_app, csrf_token


@pytest.fixture
def app(redis, tmp_path):
    return console_app(redis, tmp_path)


def _sign_in(client, username, password=PASSWORD, next_=None):
    token = csrf_token(client)
    url = "/login" + (f"?next={next_}" if next_ else "")
    return client.post(url, data={"username": username, "password": password, "csrf_token": token})


def test_pages_and_console_apis_need_a_session(app):
    client = app.test_client()
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=/")
    assert client.get("/api/agent").status_code == 401
    assert client.get("/api/queues").status_code == 401


def test_pages_allow_only_our_own_scripts_and_are_never_framed(app):
    headers = app.test_client().get("/login").headers
    assert "script-src 'self';" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_wrong_password_is_refused_without_saying_which_part(app):
    client = app.test_client()
    response = _sign_in(client, "sam", "not the password")
    assert response.status_code == 401
    assert "Wrong username or password" in response.get_data(as_text=True)
    assert _sign_in(client, "nobody").status_code == 401
    assert client.get("/api/queues").status_code == 401


def test_repeated_wrong_passwords_lock_the_account_for_a_while(app):
    client = app.test_client()
    for _ in range(10):
        assert _sign_in(client, "sam", "not the password").status_code == 401
    locked = _sign_in(client, "sam")  # even the right password, until the window ends
    assert locked.status_code == 429 and "Too many failed sign-ins" in locked.get_data(as_text=True)
    assert _sign_in(client, "ana").status_code == 302  # other accounts are not locked
    assert app.test_client().get("/api/queues").status_code == 401


def test_sign_in_without_the_csrf_token_is_refused(app):
    client = app.test_client()
    response = client.post("/login", data={"username": "sam", "password": PASSWORD})
    assert response.status_code == 400 and "CSRF" in response.get_data(as_text=True)


def test_supervisor_session_reads_the_supervisor_api_but_not_the_agent_api(app):
    client = app.test_client()
    assert _sign_in(client, "sam").status_code == 302
    assert client.get("/api/queues").status_code == 200
    assert client.get("/api/agents").get_json()["agents"][0]["id"] == "ana"
    assert client.get("/api/agent").status_code == 401


def test_agent_session_drives_the_agent_api_with_csrf_on_changes(app):
    client = app.test_client()
    assert _sign_in(client, "ana").status_code == 302
    assert client.get("/api/agent").get_json()["id"] == "ana"
    assert client.get("/api/queues").status_code == 401
    refused = client.post("/api/agent/status", json={"status": "available"})
    assert refused.status_code == 400 and "CSRF" in refused.get_json()["error"]
    token = csrf_token(client, "/login")
    accepted = client.post("/api/agent/status", json={"status": "available"}, headers={"X-CSRFToken": token})
    assert accepted.status_code == 200
    assert app.extensions["ivr"].calls.router.status("ana")[0] is AgentStatus.AVAILABLE


def test_bearer_tokens_still_work_without_csrf(app):
    client = app.test_client()
    assert client.get("/api/queues", headers={"Authorization": "Bearer api-secret"}).status_code == 200
    assert client.get("/api/queues", headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_signing_in_starts_a_new_session_with_a_new_csrf_token(app):
    client = app.test_client()
    before = csrf_token(client)
    assert _sign_in(client, "sam").status_code == 302
    after = csrf_token(client, "/")
    assert after != before
    refused = client.post("/logout", data={"csrf_token": before})  # the anonymous session's token is void
    assert refused.status_code == 400 and client.get("/api/queues").status_code == 200


def test_next_only_leads_to_this_site(app):
    client = app.test_client()
    assert _sign_in(client, "sam", next_="/api/queues").headers["Location"] == "/api/queues"
    client = app.test_client()
    assert _sign_in(client, "sam", next_="//evil.example/x").headers["Location"] == "/"
    client = app.test_client()
    assert _sign_in(client, "sam", next_="https://evil.example/").headers["Location"] == "/"


def test_changing_the_password_ends_open_sessions(app, redis):
    client = app.test_client()
    _sign_in(client, "sam")
    assert client.get("/api/queues").status_code == 200
    AccountStore(redis).set_password("sam", "a brand new password")
    assert client.get("/api/queues").status_code == 401


def test_sign_out_needs_the_token_and_ends_the_session(app):
    client = app.test_client()
    _sign_in(client, "sam")
    client.post("/logout")  # no token: refused, still signed in
    assert client.get("/api/queues").status_code == 200
    token = csrf_token(client, "/login")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/api/queues").status_code == 401


def test_sign_in_in_a_real_browser_with_the_keyboard(app, page, screenshot):
    from playwright.sync_api import expect

    with LoopbackServer(app) as server:
        page.goto(server.base_url + "/")
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        screenshot(page, "sign-in")
        expect(page.get_by_label("Username")).to_be_focused()  # typing can start at once
        page.keyboard.type("sam")
        page.keyboard.press("Tab")
        page.keyboard.type("wrong password here")
        page.keyboard.press("Enter")
        expect(page.get_by_role("alert")).to_contain_text("Wrong username or password")
        page.get_by_label("Username").fill("sam")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        expect(page.locator("header")).to_contain_text("Sam Rivera")
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        expect(page.get_by_role("status").first).to_contain_text("You are signed out")


def test_with_redis_down_pages_and_the_api_say_so_without_a_traceback(tmp_path):
    from ivr.runner.redis import connect

    settings = replace(Settings(), twilio_auth_token="test-auth-token", flows_dir=tmp_path, api_token="api-secret")
    app = create_app(settings, redis_client=connect("redis://127.0.0.1:1/0"), publish_flows=False)  # nothing there
    client = app.test_client()
    assert client.get("/login").status_code == 200  # the form needs no database
    response = _sign_in(client, "sam")
    assert response.status_code == 503
    assert "cannot reach its database" in response.get_data(as_text=True) and "Traceback" not in \
        response.get_data(as_text=True)
    api = client.get("/api/queues", headers={"Authorization": "Bearer api-secret"})
    assert api.status_code == 503 and "cannot reach its database" in api.get_json()["error"]
    agent = client.get("/api/agent", headers={"Authorization": "Bearer agt_x"})
    assert agent.status_code == 503 and "cannot reach its database" in agent.get_json()["error"]
