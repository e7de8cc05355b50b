"""Sign-in for the browser consoles: sessions (Flask-Login), CSRF (Flask-WTF), roles.

A session remembers ``username:epoch``; the account's epoch moves on when its password changes or it is disabled,
which ends its sessions everywhere. Every state-changing request made with a session cookie must carry the CSRF
token (form field ``csrf_token`` or header ``X-CSRFToken``); bearer-token API calls need none, since a browser
never adds a bearer token on its own.
"""

from __future__ import annotations

import functools
import logging
import secrets
from typing import Any, Callable
from urllib.parse import urlsplit

from flask import (Blueprint, Flask, abort, current_app, flash, g, jsonify, redirect, render_template, request, session,
                   url_for)
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError, CSRFProtect

from ivr.store.accounts import Account, AccountStore, Role, SignInThrottle, shared_secret

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__)
login_manager = LoginManager()
csrf = CSRFProtect()
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class SignedIn(UserMixin):
    """The signed-in account as Flask-Login sees it."""

    def __init__(self, account: Account):
        self.account = account

    def get_id(self) -> str:
        return self.account.session_id


def accounts() -> AccountStore:
    return AccountStore(current_app.extensions["ivr"].redis)


def init_app(app: Flask) -> None:
    """Session cookie settings, the signing key, login manager and CSRF protection (checked by the decorators
    below, not on every POST: Twilio's webhooks and bearer-token calls carry no CSRF token)."""
    settings = app.config["IVR_SETTINGS"]
    redis = app.extensions["ivr"].redis
    app.config.update(
        SECRET_KEY=settings.secret_key or _shared_secret(redis),
        SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=bool(settings.public_url and settings.public_url.startswith("https://")),
        PERMANENT_SESSION_LIFETIME=12 * 3600, WTF_CSRF_CHECK_DEFAULT=False, WTF_CSRF_TIME_LIMIT=None,
        REMEMBER_COOKIE_DURATION=0)
    login_manager.init_app(app)
    login_manager.session_protection = "basic"
    csrf.init_app(app)
    app.register_blueprint(bp)

    @app.errorhandler(CSRFError)
    def csrf_failed(error: CSRFError) -> Any:
        message = f"{error.description} Reload the page and try again."
        if _wants_json():
            return jsonify(error=message), 400
        return render_template("error.html", title="Request refused", message=message), 400


def _shared_secret(redis: Any) -> str:
    """One random signing key for every web process, kept in Redis (set IVR_SECRET_KEY to choose it). With Redis
    down at start, a key of this process only: the voice endpoints must start anyway."""
    try:
        return shared_secret(redis)
    except Exception:
        log.exception("Redis unreachable: console sessions signed with a key of this process only")
        return secrets.token_urlsafe(48)


@login_manager.user_loader
def _load(session_id: str) -> SignedIn | None:
    account = accounts().for_session(session_id)
    return SignedIn(account) if account else None


@login_manager.unauthorized_handler
def _unauthorized() -> Any:
    if _wants_json():
        return jsonify(error="sign in first"), 401
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def signed_in_account() -> Account | None:
    return current_user.account if current_user.is_authenticated else None


def role_required(*roles: Role) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A page or console endpoint for signed-in accounts with one of ``roles``; unsafe methods need the CSRF
    token. A signed-in account of another role gets 403; no session gets the sign-in page (or 401 for JSON)."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            account = signed_in_account()
            if account is None:
                return login_manager.unauthorized()
            if account.role not in roles:
                if _wants_json():
                    return jsonify(error=f"this needs the {' or '.join(r.value for r in roles)} role"), 403
                abort(403)
            if request.method in UNSAFE_METHODS:
                csrf.protect()
            g.account = account
            return view(*args, **kwargs)

        return wrapper

    return decorate


def session_role(role: Role) -> Account | None:
    """For endpoints that also take bearer tokens: the signed-in account of ``role`` (CSRF checked on unsafe
    methods), or None when the request has no such session."""
    account = signed_in_account()
    if account is None or account.role is not role:
        return None
    if request.method in UNSAFE_METHODS:
        csrf.protect()
    return account


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site: never redirect a signed-in user to another host."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def home_for(account: Account) -> str:
    return url_for("pages.home")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error = None
    if request.method == "POST":
        csrf.protect()
        username = request.form.get("username", "")[:64]
        client = request.remote_addr or "unknown"
        throttle = SignInThrottle(current_app.extensions["ivr"].redis)
        wait = throttle.retry_after(username, client)
        if wait:
            error = f"Too many failed sign-ins. Try again in {(wait + 59) // 60} minute{'s' if wait > 60 else ''}."
            return render_template("login.html", title="Sign in", error=error), 429
        account = accounts().authenticate(username, request.form.get("password", "")[:256])
        if account is not None:
            throttle.succeeded(username)
            session.clear()  # a new session (and CSRF token) for the signed-in account: nothing carried over
            login_user(SignedIn(account))
            return redirect(_safe_next(request.args.get("next")) or home_for(account))
        throttle.failed(username, client)
        log.warning("failed sign-in for %r from %s", username, client)
        error = "Wrong username or password, or the account is disabled."
    elif signed_in_account() is not None:
        return redirect(home_for(signed_in_account()))
    return render_template("login.html", title="Sign in", error=error), 401 if error else 200


@bp.post("/logout")
def logout() -> Any:
    if signed_in_account() is not None:
        csrf.protect()
        logout_user()
        flash("You are signed out.")
    return redirect(url_for("auth.login"))
