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
