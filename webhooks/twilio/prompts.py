"""Rendered prompts over HTTP for ``<Play>``: ``GET /prompts/<key>.wav`` from the prompt cache.

A key names its audio's content for ever, so answers are cacheable by anyone for as long as they like (Twilio
caches ``<Play>`` media by URL and honours these headers). Unknown or malformed keys are a plain 404. Not signed:
Twilio's media fetches carry no signature, and a key is a 128-bit hash of the words, voice and rate.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request

from speech.prompts import KEY_PATTERN

bp = Blueprint("prompts", __name__, url_prefix="/prompts")

CACHE_CONTROL = "public, max-age=31536000, immutable"


def _not_found() -> Response:
    return Response("no such prompt", 404, mimetype="text/plain")


@bp.get("/<path:anything>")
def elsewhere(anything: str) -> Response:
    return _not_found()


@bp.get("/<key>.wav")
def prompt_wav(key: str) -> Response:
    if not KEY_PATTERN.match(key):
        return _not_found()
    if request.if_none_match.contains(key):  # a key's audio never changes: no need to look it up
        return _cacheable(Response(status=304), key)
    wav = current_app.extensions["ivr"].prompts.cache.get_wav(key)
    if wav is None:
        return _not_found()
    return _cacheable(Response(wav, 200, mimetype="audio/wav"), key)


def _cacheable(response: Response, key: str) -> Response:
    response.set_etag(key)
    response.headers["Cache-Control"] = CACHE_CONTROL
    return response
