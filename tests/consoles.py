"""Console sessions through Flask's test client: the CSRF token a page carries, and signing in."""

from __future__ import annotations

import re

PASSWORD = "correct horse battery"
_CSRF_META = re.compile(r'name="csrf-token" content="([^"]+)"')


def csrf_token(client, path: str = "/login") -> str:
    """The CSRF token of ``client``'s session, read from the page at ``path`` (redirects followed)."""
    page = client.get(path, follow_redirects=True).get_data(as_text=True)
    return _CSRF_META.search(page).group(1)


def sign_in_client(client, username: str = "sam", password: str = PASSWORD) -> str:
    """Sign ``client`` in as ``username`` through the sign-in form; returns its session's CSRF token."""
    token = csrf_token(client)
    response = client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)
    return csrf_token(client, "/")  # signing in starts a new session, with a new token


def console_app(redis, tmp_path, **settings_overrides):
    """The app on a copy of the sample flows, with routing agent Ana (billing 5) and the accounts ``ana`` (agent)
    and ``sam`` (supervisor); bearer API token ``api-secret``."""
    import shutil
    from dataclasses import replace
    from pathlib import Path

    from ivr.config import Settings
    from ivr.store.accounts import AccountStore, Role
    from routing.model import Agent
    from webhooks import create_app

    flows = tmp_path / "flows"
    shutil.copytree(Path(__file__).resolve().parent.parent / "flows", flows)
    settings = replace(Settings(), twilio_auth_token="test-auth-token", flows_dir=flows, api_token="api-secret",
                       **settings_overrides)
    app = create_app(settings, redis_client=redis)
    app.extensions["ivr"].calls.router.register(Agent("ana", "Ana Lopez", {"billing": 5}))
    store = AccountStore(redis)
    store.create("ana", PASSWORD, Role.AGENT, agent_id="ana", name="Ana Lopez")
    store.create("sam", PASSWORD, Role.SUPERVISOR, name="Sam Rivera")
    return app
