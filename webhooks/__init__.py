"""The HTTP edge, the only package that speaks HTTP: the Flask app factory (on the services of ``ivr.bootstrap``).

Its blueprints are grouped by audience: ``twilio/`` (what Twilio calls), ``api/`` (the JSON APIs) and ``consoles/``
(the browser pages).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Callable

import redis as redis_lib
from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from ivr.bootstrap import Services, build_services
from ivr.config import Settings
from ivr.services.lookups import HttpClient

log = logging.getLogger(__name__)

__all__ = ["MAX_REQUEST_BYTES", "Services", "create_app"]

MAX_REQUEST_BYTES = 64 * 1024


def create_app(settings: Settings | None = None, *, redis_client: redis_lib.Redis | None = None,
               clock: Callable[[], datetime] | None = None, http: HttpClient | None = None,
               publish_flows: bool = True, services: Services | None = None, try_pages: bool = True) -> Flask:
    """Build the app. Settings come from the environment unless given; its services from the composition root
    (:func:`ivr.bootstrap.build_services`) unless given: without ``REDIS_URL`` (and no client) the app starts its
    own ``redis-server``. When ``publish_flows`` is true, the flows directory is published at start if it is valid
    and differs from the current version (a broken directory never replaces a working one). With ``try_pages``
    false the app has no try-a-flow pages (the app serving a try sandbox has none of its own).
    """
    settings = settings or (services.settings if services is not None else Settings.from_env())
    app = Flask(__name__)
    app.config.update(IVR_SETTINGS=settings, MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
                      MAX_FORM_MEMORY_SIZE=MAX_REQUEST_BYTES,
                      # a media frame is ~300 bytes of JSON: anything near this is not Twilio
                      SOCK_SERVER_OPTIONS={"max_message_size": MAX_REQUEST_BYTES})
    if settings.trust_proxy:
        n = settings.trust_proxy
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=n)  # type: ignore

    services = services or build_services(settings, redis_client, clock=clock, http=http)
    app.extensions["ivr"] = services
    redis_client, repo = services.redis, services.repo
    if publish_flows:
        try:
            repo.publish_at_start(settings.flows_dir)
        except Exception:  # Redis down at start: calls get the fallback until it is back
            log.exception("could not publish flows at start")
    try:
        repo.current()  # parse the live version now rather than on the first call
    except Exception as e:
        log.warning("no live flow version yet: %s", e)

    from webhooks import auth
    from webhooks.api import agents, supervisor as api
    from webhooks.consoles import (accounts as accounts_console, agent as agent_console, flows as flows_console,
                                   history, pages, streams, tryflow, wallboard)
    from webhooks.twilio import callbacks, media, prompts as prompt_audio, voice
    app.register_blueprint(voice.bp)
    app.register_blueprint(callbacks.bp)
    app.register_blueprint(media.bp)
    media.sock.init_app(app)
    app.register_blueprint(prompt_audio.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(agents.bp)
    streams.init_app(app)
    auth.init_app(app)
    pages.init_app(app)
    # Console pages; the first of a role's pages is where its accounts land after signing in.
    wallboard.init_app(app)
    agent_console.init_app(app)
    flows_console.init_app(app)
    if try_pages:
        tryflow.init_app(app, create_app)  # the factory builds the sandbox's app
    history.init_app(app)
    accounts_console.init_app(app)

    @app.get("/healthz")
    def healthz() -> Any:
        try:
            redis_client.ping()
            version = repo.store.current_version()
        except Exception as e:
            return jsonify(ok=False, error=type(e).__name__), 503
        return jsonify(ok=version is not None, flows_version=version), 200 if version is not None else 503

    @app.errorhandler(Exception)
    def on_error(error: Exception) -> Any:
        """Twilio must never see a 5xx: an unexpected fault on a Twilio URL becomes the spoken fallback."""
        if isinstance(error, HTTPException):
            if request.path.startswith("/api/"):
                return jsonify(error=error.description), error.code
            return error
        log.exception("unhandled error on %s", request.path)
        if request.path.startswith("/twilio/"):
            return Response(voice.fallback_twiml(), 200, mimetype="text/xml")
        unavailable = isinstance(error, redis_lib.RedisError)
        code, message = (503, "The system cannot reach its database right now; try again in a moment.") \
            if unavailable else (500, "Something went wrong on our side; it has been logged.")
        if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
            return jsonify(error=message), code
        return pages.plain_error_page(message, code)

    return app
