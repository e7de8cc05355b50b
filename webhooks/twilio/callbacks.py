"""The callee of a callback answers: ``POST /twilio/callback?id=<request>`` (the URL our outbound call gave Twilio).
The call goes back in line at the place its request kept and waits with the usual hold announcements."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, request

from webhooks.security import public_base, twilio_signed
from webhooks.twilio.voice import _service, fallback_twiml, renderer, with_call_sid, xml

log = logging.getLogger(__name__)

bp = Blueprint("callbacks", __name__, url_prefix="/twilio")


@bp.post("/callback")
@twilio_signed
@with_call_sid
def answered(call_sid: str) -> Response:
    callback_id = request.args.get("id", "")[:64]
    try:
        return xml(_service().callback_answered(callback_id, call_sid, renderer(call_sid), public_base()))
    except Exception:
        log.exception("callback %s answered as %s failed; answering the fallback", callback_id, call_sid)
        return xml(fallback_twiml())
