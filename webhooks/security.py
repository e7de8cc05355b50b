"""Twilio request signatures, checked on every Twilio endpoint, correct behind a TLS-terminating proxy."""

from __future__ import annotations

import functools
import hmac
import logging
from typing import Any, Callable

from flask import Response, current_app, g, jsonify, request
from twilio.request_validator import RequestValidator

from ivr.store.accounts import Role
from webhooks.auth import session_role

log = logging.getLogger(__name__)


def public_base() -> str:
    """Scheme and host Twilio uses to reach us: ``IVR_PUBLIC_URL`` when set, else this request's host (computed
    once per request: several URLs are built for each answer)."""
    base = getattr(g, "ivr_public_base", None)
    if base is None:
        base = current_app.config["IVR_SETTINGS"].public_url or request.host_url.rstrip("/")
        g.ivr_public_base = base
    return base


def public_url(path_and_query: str) -> str:
    """Absolute URL of one of our endpoints as Twilio sees it."""
    return public_base() + path_and_query


def requested_url() -> str:
    """The URL Twilio signed: the public base URL (if configured) plus the path and query we received."""
    query = request.query_string.decode("latin-1")
    return public_url(request.path + (f"?{query}" if query else ""))


def twilio_signed(view: Callable[..., Any]) -> Callable[..., Any]:
    """Reject (403) any request whose ``X-Twilio-Signature`` does not match; the one non-TwiML answer."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        token = current_app.config["IVR_SETTINGS"].twilio_auth_token
        signature = request.headers.get("X-Twilio-Signature", "")
        if not token:
            log.error("TWILIO_AUTH_TOKEN is not set: refusing Twilio requests")
            return Response("signature check impossible: TWILIO_AUTH_TOKEN is not set", 403, mimetype="text/plain")
        if not signature or not RequestValidator(token).validate(requested_url(), request.form, signature):
            log.warning("bad Twilio signature for %s", requested_url())
            return Response("invalid Twilio signature", 403, mimetype="text/plain")
        return view(*args, **kwargs)

    return wrapper


def api_token_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Supervisor API: ``Authorization: Bearer $IVR_API_TOKEN``, or a signed-in supervisor's console session
    (whose unsafe requests must carry the CSRF token)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not request.headers.get("Authorization") and session_role(Role.SUPERVISOR) is not None:
            return view(*args, **kwargs)
        expected = current_app.config["IVR_SETTINGS"].api_token
        if not expected:
            return jsonify(error="the API is disabled: set IVR_API_TOKEN"), 403
        given = request.headers.get("Authorization", "")
        if not given.startswith("Bearer ") or not hmac.compare_digest(given[7:].encode(), expected.encode()):
            return jsonify(error="missing or wrong bearer token"), 401
        return view(*args, **kwargs)

    return wrapper
