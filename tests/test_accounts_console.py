"""Account management for supervisors: list, create (with an existing or a new routing agent), new password,
disable and enable; roles, CSRF and validation on every form; and the whole thing in a real browser."""

from __future__ import annotations

import html
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from ivr.config import Settings
from ivr.simulator import LoopbackServer
from ivr.store.accounts import AccountStore, Role
from routing.model import Agent
from webhooks import create_app

from consoles import PASSWORD, csrf_token, sign_in_client

SAMPLES = Path(__file__).resolve().parent.parent / "flows"
NEW_PASSWORD = "a long new password"


@pytest.fixture
def app(redis, tmp_path):
    flows = tmp_path / "flows"
    shutil.copytree(SAMPLES, flows)
    app = create_app(replace(Settings(), twilio_auth_token="t", flows_dir=flows), redis_client=redis)
    router = app.extensions["ivr"].calls.router
    router.register(Agent("ana", "Ana Lopez", {"billing": 5}, ("en",)))
    router.register(Agent("bea", "Bea Kim", {"korean": 7, "english": 3}, ("ko", "en")))
    store = AccountStore(redis)
    store.create("ana", PASSWORD, Role.AGENT, agent_id="ana", name="Ana Lopez")
    store.create("sam", PASSWORD, Role.SUPERVISOR, name="Sam Rivera")
    return app


@pytest.fixture
def client(app):
    client = app.test_client()
    client.csrf = sign_in_client(client)
    return client


def new_account(client, **fields):
    data = {"username": "bea", "name": "Bea Kim", "role": "agent", "agent_id": "bea", "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD, "csrf_token": client.csrf, **fields}
    return client.post("/accounts", data={k: v for k, v in data.items() if v is not None})


def error_of(response, field: str) -> str:
    page = html.unescape(response.get_data(as_text=True))
    assert f'aria-describedby="{field}-error' in page, f"no error tied to {field}"
    return re.search(rf'<p class="field-error error" id="{field}-error">([^<]*)</p>', page).group(1)


def test_accounts_are_for_supervisors_only(app):
    assert app.test_client().get("/accounts").status_code == 302
    agent = app.test_client()
    token = sign_in_client(agent, "ana")
    assert agent.get("/accounts").status_code == 403
    assert agent.get("/accounts/sam").status_code == 403
    refused = agent.post("/accounts/sam/disable", data={"csrf_token": token})
    assert refused.status_code == 403
    assert AccountStore(app.extensions["ivr"].redis).get("sam").disabled is False


def test_the_list_shows_every_account_and_offers_the_routing_agents(client):
    page = html.unescape(client.get("/accounts").get_data(as_text=True))
    for username in ("ana", "sam"):
        assert f'aria-label="Manage {username}"' in page
    assert "sam <span class=\"muted\">(you)</span>" in page
    assert '<option value="bea">Bea Kim (bea)</option>' in page
    assert "Ana Lopez (ana), account ana" in page  # already taken


def test_a_supervisor_creates_an_agent_account_for_an_existing_routing_agent(app, client):
    response = new_account(client)
    assert response.status_code == 302
    account = AccountStore(app.extensions["ivr"].redis).get("bea")
    assert (account.role, account.agent_id, account.name) == (Role.AGENT, "bea", "Bea Kim")
    assert "Account bea (agent) created" in client.get("/accounts").get_data(as_text=True)
    bea = app.test_client()
    sign_in_client(bea, "bea", NEW_PASSWORD)
    assert bea.get("/api/agent").get_json()["id"] == "bea"


def test_a_new_routing_agent_is_made_with_its_skills_and_languages(app, client):
    response = new_account(client, username="cho", name="Cho Park", agent_id="+new",
                           skills="korean=8, English = 2", languages="ko, en")
    assert response.status_code == 302, response.get_data(as_text=True)
    agent = app.extensions["ivr"].calls.router.agent("cho")
    assert (agent.name, dict(agent.skills), agent.languages, agent.contact) == (
        "Cho Park", {"korean": 8, "english": 2}, ("ko", "en"), "client:cho")
    assert AccountStore(app.extensions["ivr"].redis).get("cho").agent_id == "cho"


def test_a_supervisor_account_needs_no_routing_agent(app, client):
    assert new_account(client, username="uma", role="supervisor", agent_id="").status_code == 302
    account = AccountStore(app.extensions["ivr"].redis).get("uma")
    assert account.role is Role.SUPERVISOR and account.agent_id is None


@pytest.mark.parametrize("fields, field, message", [
    ({"username": "B"}, "username", "2 to 32 characters"),
    ({"username": ""}, "username", "Enter a username."),
    ({"username": "sam"}, "username", "There is already an account 'sam'."),
    ({"password": "short", "confirm": "short"}, "password", "10 to 256 characters"),
    ({"confirm": "something else"}, "confirm", "The two passwords differ."),
    ({"agent_id": ""}, "agent_id", "choose one, or a new one"),
    ({"agent_id": "zed"}, "agent_id", "There is no routing agent 'zed'."),
    ({"agent_id": "ana"}, "agent_id", "Routing agent 'ana' already has the account 'ana'."),
    ({"agent_id": "+new", "username": "bea", "skills": "korean=2"}, "agent_id", "There is already a routing agent"),
    ({"agent_id": "+new", "username": "cho", "skills": ""}, "skills", "at least one skill"),
    ({"agent_id": "+new", "username": "cho", "skills": "korean=11"}, "skills", "from 1 to 10"),
    ({"agent_id": "+new", "username": "cho", "skills": "plumbing=3"}, "skills", "No queue uses the skill plumbing"),
    ({"agent_id": "+new", "username": "cho", "skills": "korean", "languages": "Korean!"}, "languages",
     "not a language code"),
    ({"role": "admin"}, "role", "Not a valid choice"),
])
def test_invalid_accounts_are_explained_next_to_the_field(app, client, fields, field, message):
    response = new_account(client, **fields)
    assert response.status_code == 400
    assert message in error_of(response, field)
    assert "The account was not created" in response.get_data(as_text=True)
    assert AccountStore(app.extensions["ivr"].redis).get("cho") is None


def test_every_change_needs_the_csrf_token(app, client):
    assert new_account(client, csrf_token=None).status_code == 400
    assert client.post("/accounts/ana/disable").status_code == 400
    assert client.post("/accounts/ana/password", data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
                       ).status_code == 400
    store = AccountStore(app.extensions["ivr"].redis)
    assert store.get("bea") is None and not store.get("ana").disabled and store.get("ana").epoch == 0


def test_disable_ends_the_sessions_and_enable_lets_the_account_back_in(app, client):
    ana = app.test_client()
    sign_in_client(ana, "ana")
    assert ana.get("/api/agent").status_code == 200
    assert client.post("/accounts/ana/disable", data={"csrf_token": client.csrf}).status_code == 302
    assert ana.get("/api/agent").status_code == 401
    assert "is disabled" in client.get("/accounts/ana").get_data(as_text=True)
    again = app.test_client()
    refused = again.post("/login", data={"username": "ana", "password": PASSWORD, "csrf_token": csrf_token(again)})
    assert refused.status_code == 401
    assert client.post("/accounts/ana/enable", data={"csrf_token": client.csrf}).status_code == 302
    sign_in_client(app.test_client(), "ana")


def test_a_supervisor_cannot_disable_themselves(app, client):
    page = client.get("/accounts/sam").get_data(as_text=True)
    assert "Disable sam" not in page and "This is your own account" in page
    refused = client.post("/accounts/sam/disable", data={"csrf_token": client.csrf})
    assert refused.status_code == 400 and "cannot disable your own account" in refused.get_data(as_text=True)
    assert not AccountStore(app.extensions["ivr"].redis).get("sam").disabled
    # another supervisor can
    AccountStore(app.extensions["ivr"].redis).create("tia", PASSWORD, Role.SUPERVISOR)
    assert client.post("/accounts/tia/disable", data={"csrf_token": client.csrf}).status_code == 302


def test_a_new_password_ends_their_sessions_but_not_the_supervisors_own(app, client):
    ana = app.test_client()
    sign_in_client(ana, "ana")
    bad = client.post("/accounts/ana/password", data={"password": "short", "confirm": "short",
                                                       "csrf_token": client.csrf})
    assert bad.status_code == 400 and "10 to 256 characters" in error_of(bad, "password")
    ok = client.post("/accounts/ana/password", data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD,
                                                      "csrf_token": client.csrf})
    assert ok.status_code == 302
    assert ana.get("/api/agent").status_code == 401
    sign_in_client(app.test_client(), "ana", NEW_PASSWORD)
    mine = client.post("/accounts/sam/password", data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD,
                                                        "csrf_token": client.csrf})
    assert mine.status_code == 302
    assert client.get("/accounts").status_code == 200  # still signed in, with the new session
    assert AccountStore(app.extensions["ivr"].redis).authenticate("sam", NEW_PASSWORD) is not None


def test_an_unknown_account_is_a_404(client):
    assert client.get("/accounts/nobody").status_code == 404
    assert client.post("/accounts/NOT..VALID/disable", data={"csrf_token": client.csrf}).status_code == 404


def test_accounts_in_a_real_browser(app, browser, page, screenshot, sign_in):
    from playwright.sync_api import expect

    with LoopbackServer(app) as server:
        sign_in(page, server.base_url, "sam")
        page.get_by_role("link", name="Accounts").click()
        expect(page.get_by_role("heading", name="Accounts", level=1)).to_be_visible()
        form = page.locator("section.accounts-new")
        expect(form.get_by_label("Skills", exact=True)).to_be_hidden()  # until "a new agent"
        form.get_by_label("Username").fill("bea")
        form.get_by_label("Full name").fill("Bea Kim")
        form.get_by_label("Role").select_option("agent")
        form.get_by_label("Routing agent", exact=True).select_option("bea")
        form.get_by_label("Password", exact=True).fill("short")
        form.get_by_label("Repeat the password").fill("short")
        form.get_by_role("button", name="Create account").click()
        expect(page.get_by_role("alert")).to_contain_text("The account was not created")
        expect(page.get_by_label("Password", exact=True)).to_have_accessible_description(
            re.compile("The password must have 10 to 256 characters"))
        page.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
        page.get_by_label("Repeat the password").fill(NEW_PASSWORD)
        page.get_by_role("button", name="Create account").click()
        expect(page.get_by_role("status").first).to_contain_text("Account bea (agent) created")
        expect(page.get_by_role("row", name=re.compile("bea Bea Kim agent bea"))).to_be_visible()
        screenshot(page, "accounts")

        # the new agent signs in in a fresh browser context
        bea_context = browser.new_context()
        bea = bea_context.new_page()
        sign_in(bea, server.base_url, "bea", NEW_PASSWORD)
        expect(bea.locator("header")).to_contain_text("Bea Kim")

        # the supervisor disables bea: her session ends and she cannot sign in again
        page.get_by_role("link", name="Manage bea").click()
        page.get_by_role("button", name="Disable bea").click()
        expect(page.get_by_role("status").first).to_contain_text("bea is disabled")
        bea.reload()
        expect(bea.get_by_role("heading", name="Sign in")).to_be_visible()
        bea.get_by_label("Username").fill("bea")
        bea.get_by_label("Password").fill(NEW_PASSWORD)
        bea.get_by_role("button", name="Sign in").click()
        expect(bea.get_by_role("alert")).to_contain_text("the account is disabled")
        bea_context.close()


def test_anyone_signed_in_changes_their_own_password(app):
    ana = app.test_client()
    token = sign_in_client(ana, "ana")
    other_tab = app.test_client()
    sign_in_client(other_tab, "ana")
    assert ana.get("/password").status_code == 200  # an agent too
    wrong = ana.post("/password", data={"current": "not my password", "password": NEW_PASSWORD,
                                        "confirm": NEW_PASSWORD, "csrf_token": token})
    assert wrong.status_code == 400 and error_of(wrong, "current") == "This is not your current password."
    differ = ana.post("/password", data={"current": PASSWORD, "password": NEW_PASSWORD, "confirm": "something else",
                                         "csrf_token": token})
    assert differ.status_code == 400 and error_of(differ, "confirm") == "The two passwords differ."
    assert ana.post("/password", data={"current": PASSWORD, "password": NEW_PASSWORD,
                                       "confirm": NEW_PASSWORD}).status_code == 400  # no CSRF token
    done = ana.post("/password", data={"current": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD,
                                       "csrf_token": token})
    assert done.status_code == 302
    assert ana.get("/api/agent").status_code == 200  # this session goes on
    assert other_tab.get("/api/agent").status_code == 401  # the others end
    store = AccountStore(app.extensions["ivr"].redis)
    assert store.authenticate("ana", PASSWORD) is None and store.authenticate("ana", NEW_PASSWORD) is not None
