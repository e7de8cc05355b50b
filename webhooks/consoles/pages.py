"""What every console page shares: the navigation each role sees, the home page, HTML error pages.

Each console blueprint adds its own entries with :func:`add_nav` when it is registered, so the base template
links only to pages that exist and that the signed-in role may open.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import (Blueprint, Flask, current_app, jsonify, redirect, render_template, render_template_string, request,
                   url_for)

from ivr.store.accounts import Role
from webhooks.auth import role_required, signed_in_account

bp = Blueprint("pages", __name__)
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")


@dataclass(frozen=True)
class NavEntry:
    endpoint: str
    label: str
    roles: tuple[Role, ...]


def add_nav(app: Flask, endpoint: str, label: str, *roles: Role) -> None:
    """Link ``endpoint`` in the navigation of accounts with one of ``roles`` (in the order added)."""
    app.extensions.setdefault("ivr_nav", []).append(NavEntry(endpoint, label, roles))


def nav_for(role: Role) -> list[NavEntry]:
    return [entry for entry in current_app.extensions.get("ivr_nav", []) if role in entry.roles]


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

    @app.context_processor
    def console_context() -> dict[str, Any]:
        account = signed_in_account()
        return {"account": account, "nav": nav_for(account.role) if account else []}

    @app.after_request
    def page_security_headers(response: Any) -> Any:
        """Console pages load scripts and styles only from our own files (no inline code), and are never framed."""
        if response.mimetype == "text/html":
            response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
            response.headers.setdefault("X-Content-Type-Options", "nosniff")
            response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    for code, title, message in ((403, "Not allowed", "Your role may not open this page."),
                                 (404, "Not found", "There is no such page.")):
        app.register_error_handler(code, _html_error(code, title, message))


def _html_error(code: int, title: str, message: str) -> Any:
    def handler(error: Any) -> Any:
        if request.path.startswith(("/api/", "/twilio/", "/prompts/")):
            return jsonify(error=getattr(error, "description", message)), code
        return render_template("error.html", title=title, message=message), code

    return handler


def plain_error_page(message: str, code: int) -> Any:
    """An error page that needs nothing that may have failed (no session, no Redis): the page of a fault."""
    body = render_template_string(_PLAIN_ERROR, message=message)
    return current_app.response_class(body, code, mimetype="text/html")


_PLAIN_ERROR = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Unavailable · Northwind IVR</title>
<link rel="stylesheet" href="{{ url_for('static', filename='console.css') }}"></head>
<body><main id="main"><section class="card narrow"><h1>Sorry</h1><p role="alert">{{ message }}</p>
<p><a href="{{ request.path }}">Try again</a></p></section></main></body></html>"""


@bp.get("/")
@role_required(Role.AGENT, Role.SUPERVISOR)
def home() -> Any:
    """The signed-in account's first page: the first entry of its navigation."""
    entries = nav_for(signed_in_account().role)  # type: ignore[union-attr]
    if entries:
        return redirect(url_for(entries[0].endpoint))
    return render_template("error.html", title="Nothing here yet", message="No console page is set up."), 200
