"""The media stream endpoint: Twilio's two-way ``<Connect><Stream>`` for speech prompts, over WebSocket.

The upgrade request is signed by Twilio like any webhook (URL as Twilio requested it: ``wss://`` for an
``https://`` public URL), so it is refused with 403 before any audio flows. The stream's ``<Parameter>``s name the
call and the prompt; they are checked against the session and the stored turn, never trusted alone.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace

from flask import Blueprint, Response, current_app, request
from flask_sock import Sock
from twilio.request_validator import RequestValidator

from ivr.config import DEFAULT_ACCOUNT_SID
from ivr.engine.instructions import Say, Tts
from ivr.store.listening import ListenStore, ListenTurn
from ivr.telephony import urls
from speech.mediastream import Start
from speech.recognizer import Result
from speech.session import StreamSession, Turn
from speech.synth import silence
from webhooks.security import public_url

log = logging.getLogger(__name__)
bp = Blueprint("media", __name__, url_prefix="/twilio")
sock = Sock()

CALL_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")
MEDIA_PATH = urls.MEDIA


def stream_url() -> str:
    """The media endpoint as Twilio must reach it: ``wss://`` (or ``ws://`` for a plain-HTTP development URL)."""
    return urls.websocket(public_url(MEDIA_PATH))


@bp.before_request
def signed_upgrade() -> Response | None:
    """Refuse an unsigned or wrongly signed WebSocket upgrade before accepting it."""
    token = current_app.config["IVR_SETTINGS"].twilio_auth_token
    signature = request.headers.get("X-Twilio-Signature", "")
    query = request.query_string.decode("latin-1")
    url = stream_url() + (f"?{query}" if query else "")
    if not token or not signature or not RequestValidator(token).validate(url, {}, signature):
        log.warning("bad Twilio signature on the media stream upgrade %s", url)
        return Response("invalid Twilio signature", 403, mimetype="text/plain")
    return None


def _resolve(start: Start) -> tuple[ListenTurn, Turn] | None:
    """The stored prompt this stream answers, if its parameters, Twilio's call SID and the session agree."""
    services = current_app.extensions["ivr"]
    params = start.custom_parameters
    call_sid, seq_text, token = params.get("call_sid", ""), params.get("seq", ""), params.get("token", "")
    if not CALL_SID.match(call_sid) or call_sid != start.call_sid or not seq_text.isdigit() or len(seq_text) > 8:
        log.warning("stream %s: parameters do not name this call", start.stream_sid)
        return None
    account = services.settings.twilio_account_sid
    if account != DEFAULT_ACCOUNT_SID and start.account_sid != account:
        log.warning("stream %s: account %s is not ours", start.stream_sid, start.account_sid)
        return None
    seq = int(seq_text)
    stored = services.listening.turn(call_sid, seq)
    session = services.calls.sessions.load(call_sid)
    if stored is None or not stored.matches(call_sid, token) or session is None or session.seq != seq:
        log.warning("stream %s for %s: no such speech prompt (seq %s)", start.stream_sid, call_sid, seq)
        return None
    if services.listening.heard(call_sid, seq) is not None:  # answered (typed in a try, or a repeated stream)
        log.info("stream %s for %s: speech prompt %s is already answered", start.stream_sid, call_sid, seq)
        return None
    return stored, replace(stored.listen, prompt_audio=_prompt_audio(stored.prompts))


def _prompt_audio(parts: tuple[dict[str, str], ...]) -> bytes:
    """The prompt of a turn as 8 kHz mu-law (rendered when the webhook chose to play it into the stream)."""
    prompts = current_app.extensions["ivr"].prompts
    audio = b""
    for part in parts:
        if "pause" in part:
            audio += silence(1000 * int(part["pause"]))
        else:
            audio += prompts.ulaw(Say(part["say"], part.get("voice") or None, part.get("language") or None,
                                      Tts.LOCAL)) or b""
    return audio


@sock.route("/media", bp=bp)
def media(ws) -> None:  # type: ignore[no-untyped-def]
    services = current_app.extensions["ivr"]
    listening: ListenStore = services.listening
    turns: dict[str, ListenTurn] = {}

    def resolve(start: Start) -> Turn | None:
        found = _resolve(start)
        if found is None:
            return None
        turns[start.stream_sid] = found[0]
        return found[1]

    def finished(start: Start, _turn: Turn, result: Result) -> None:
        stored = turns[start.stream_sid]
        listening.put_heard(stored.call_sid, stored.seq, result)

    try:
        StreamSession(ws, resolve, finished, services.models.get).run()
    except Exception:  # the caller goes on by the <Connect action> webhook, as after silence
        log.exception("media stream failed")
