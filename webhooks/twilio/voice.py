"""Twilio voice endpoints: incoming call, every continuation (gather, no input, dial, queue, record), the queue
wait URL and status callbacks. Each answers TwiML and never a 5xx: faults become the fallback."""

from __future__ import annotations

import functools
import logging
import re
from datetime import datetime
from typing import Callable

from flask import Blueprint, Response, current_app, request

from ivr.engine.events import DialEnded, Event, Input, NoInput, QueueEnded, RecordingEnded
from ivr.engine.instructions import Gather, Instruction, Pause, Say, Tts
from ivr.errors import SessionError
from ivr.flowlang.model import Flow
from ivr.services.calls import CallService
from ivr.store.listening import ListenTurn
from ivr.telephony import twiml, urls
from routing.config import Hold
from speech.recognizer import Outcome
from webhooks.security import public_base, public_url, twilio_signed
from webhooks.twilio.media import stream_url

log = logging.getLogger(__name__)
bp = Blueprint("voice", __name__, url_prefix="/twilio")

CALL_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")
EVENTS = ("gather", "noinput", "dial", "queue", "record", "leave", "speech")
FALLBACK_MESSAGE = "We're sorry, we are having technical difficulties."
#: Hold announcements in the caller's language (the flow's); others get English. ``message`` is said when the
#: queue keeps the default message.
HOLD_WORDS = {
    "en": {"position": "You are number {n} in line.", "wait": "The expected wait is about {n} minutes.",
           "wait_one": "The expected wait is about {n} minute.", "message": Hold.message},
    "es": {"position": "Usted es el número {n} en la fila.", "wait": "La espera estimada es de unos {n} minutos.",
           "wait_one": "La espera estimada es de un minuto.",
           "message": "Gracias por esperar. Su llamada es importante para nosotros."},
    "ko": {"position": "고객님의 대기 순서는 {n}번째입니다.", "wait": "예상 대기 시간은 약 {n}분입니다.",
           "wait_one": "예상 대기 시간은 약 1분입니다.",
           "message": "기다려 주셔서 감사합니다. 곧 상담원을 연결해 드리겠습니다."},
}
#: What the engine is told when the caller spoke but nothing recognizable was heard (Vosk's own notation).
UNRECOGNIZED = "[unk]"


def _service() -> CallService:
    return current_app.extensions["ivr"].calls


def xml(body: str) -> Response:
    return Response(body, 200, mimetype="text/xml")


def fallback_twiml() -> str:
    settings = current_app.config["IVR_SETTINGS"]
    return twiml.fallback(FALLBACK_MESSAGE, settings.fallback_number, settings.fallback_queue,
                          public_url(urls.WAIT))


def _field(name: str, limit: int = 128) -> str:
    """A form field, bounded and stripped of control characters (caller-controlled input)."""
    value = request.form.get(name, "")[:limit]
    return "".join(ch for ch in value if ch.isprintable())


def _int_field(name: str) -> int:
    value = _field(name, 12)
    return int(value) if value.isdigit() else 0


def _audio_for(say: Say) -> str | None:
    """URL of a ``tts: local`` prompt's rendered audio (see ``ivr.services.prompts.LocalPrompts``)."""
    key = current_app.extensions["ivr"].prompts.key(say)
    return public_url(urls.prompt_path(key)) if key else None


def renderer(call_sid: str) -> Callable[[list[Instruction], int], str]:
    def render(instructions: list[Instruction], seq: int) -> str:
        return twiml.render(instructions, lambda kind: public_url(urls.continue_path(seq, kind)),
                            public_url(urls.WAIT), _audio_for,
                            stream_for=lambda gather: _stream_for(call_sid, seq, gather))
    return render


def _stream_for(call_sid: str, seq: int, gather: Gather) -> twiml.StreamTarget | None:
    """A speech prompt becomes a media stream when a model serves its language; otherwise it takes keys."""
    services = current_app.extensions["ivr"]
    if not services.models.serves(gather.language or "en-US"):
        return None
    in_stream = _stream_prompts(gather)
    turn = ListenTurn.for_gather(call_sid, seq, gather, services.settings.twilio_auth_token, in_stream or ())
    services.listening.put_turn(turn)
    return twiml.StreamTarget(stream_url(), {"call_sid": call_sid, "seq": str(seq), "token": turn.token},
                              prompts_in_stream=in_stream is not None)


def _stream_prompts(gather: Gather) -> tuple[dict[str, str], ...] | None:
    """The prompt as played into the stream, so the caller can talk over it (barge-in): only in ``tts: local``
    flows (the voice stays the flow's own) and only when every part has audio now; else None, and Twilio says the
    prompt before the stream starts."""
    prompts = current_app.extensions["ivr"].prompts
    parts: list[dict[str, str]] = []
    for prompt in gather.prompts:
        if isinstance(prompt, Pause):
            parts.append({"pause": str(prompt.seconds)})
        elif isinstance(prompt, Say) and prompt.tts is Tts.LOCAL and prompts.ready(prompt):
            parts.append({"say": prompt.text, "voice": prompt.voice or "", "language": prompt.language or ""})
        else:
            return None
    return tuple(parts) if parts else None


def _speech_event(call_sid: str, seq: int) -> Callable[[datetime], Event]:
    """What the media stream of prompt ``seq`` heard, as the engine's input (nothing stored: silence)."""
    heard = current_app.extensions["ivr"].listening.heard(call_sid, seq)
    if heard is None or heard.outcome is Outcome.NO_INPUT:
        return lambda now: NoInput(now)
    if heard.outcome is Outcome.DTMF:
        return lambda now: Input(now, digits=heard.digits)
    said = heard.phrase if heard.outcome is Outcome.MATCH and heard.phrase else (heard.text or UNRECOGNIZED)
    return lambda now: Input(now, speech=said, confidence=heard.confidence)


def with_call_sid(view: Callable[[str], Response]) -> Callable[[], Response]:
    """Pass the request's CallSid to ``view``; 400 when it is missing or not a Twilio call SID."""

    @functools.wraps(view)
    def wrapper() -> Response:
        call_sid = _field("CallSid", 64)
        if not CALL_SID.match(call_sid):
            return Response("missing or malformed CallSid", 400, mimetype="text/plain")
        return view(call_sid)

    return wrapper


@bp.post("/voice")
@twilio_signed
@with_call_sid
def incoming(call_sid: str) -> Response:
    try:
        return xml(_service().start(call_sid, _field("From", 64), _field("To", 64), renderer(call_sid),
                                    public_base()))
    except Exception:
        log.exception("incoming call %s failed; answering the fallback", call_sid)
        return xml(fallback_twiml())


def _event(kind: str) -> Callable[[datetime], Event]:
    if kind == "gather":
        digits = re.sub(r"[^0-9*#]", "", _field("Digits", 64))
        speech = _field("SpeechResult", 500)
        try:
            confidence = float(_field("Confidence", 16)) if request.form.get("Confidence") else None
        except ValueError:
            confidence = None
        return lambda now: Input(now, digits=digits, speech=speech, confidence=confidence)
    if kind == "noinput":
        return lambda now: NoInput(now)
    if kind == "dial":
        status, duration = _field("DialCallStatus", 32) or "failed", _int_field("DialCallDuration")
        return lambda now: DialEnded(now, status, duration)
    if kind == "leave":  # taken out of the queue by the distributor (maximum wait)
        return lambda now: QueueEnded(now, "leave")
    if kind == "queue":
        result, queue_time = _field("QueueResult", 32) or "system-error", _int_field("QueueTime")
        return lambda now: QueueEnded(now, result, queue_time)
    url, duration, digits = _field("RecordingUrl", 512), _int_field("RecordingDuration"), _field("Digits", 8)
    return lambda now: RecordingEnded(now, url, duration, digits)


@bp.post("/continue")
@twilio_signed
@with_call_sid
def continue_call(call_sid: str) -> Response:
    kind = request.args.get("on", "")
    seq_text = request.args.get("seq", "")
    seq = int(seq_text) if seq_text.isdigit() and len(seq_text) < 9 else -1
    if kind not in EVENTS:
        kind, seq = "noinput", -1  # an unknown event can only replay the current answer
    try:
        event = _speech_event(call_sid, seq) if kind == "speech" else _event(kind)
        return xml(_service().advance(call_sid, seq, event, renderer(call_sid)))
    except SessionError as e:
        log.warning("call %s: %s; answering the fallback", call_sid, e)
    except Exception:
        log.exception("call %s failed on %s; answering the fallback", call_sid, kind)
    return xml(fallback_twiml())


@bp.post("/wait")
@twilio_signed
def wait() -> Response:
    """Hold announcements for a caller waiting in a queue (waitUrl: Say, Play, Pause, Redirect... only):
    position in line and expected wait from the distributor, the queue's message and music from queues.yaml."""
    try:
        hold, position, flow = _hold_for(_field("CallSid", 64))
    except Exception:  # announcements are a courtesy: a fault here must not drop the caller from the queue
        log.exception("hold announcement failed")
        hold, position, flow = Hold(), None, None
    language, voice = (flow.language, flow.voice) if flow is not None else ("en-US", None)
    words = HOLD_WORDS.get(language.split("-")[0].lower(), HOLD_WORDS["en"])
    said: list[str] = []
    position = position or _int_field("QueuePosition")
    if hold.announce_position and position:
        said.append(words["position"].format(n=position))
    average = _int_field("AvgQueueTime")
    if hold.announce_wait and average >= 60:
        minutes = round(average / 60)
        said.append(words["wait" if minutes != 1 else "wait_one"].format(n=minutes))
    said.append(words["message"] if hold.message == Hold.message else hold.message_for(language))
    return xml(twiml.hold(said, voice, language if flow is not None else None, hold.music or None, hold.every))


def _hold_for(call_sid: str) -> tuple[Hold, int | None, Flow | None]:
    """The queue's hold settings, the caller's place in line, and the flow they came from (its language)."""
    service = _service()
    state = service.session(call_sid) if CALL_SID.match(call_sid) else None
    if state is None:
        return Hold(), None, None
    bundle = service.repo.bundle(state.version)
    queue = bundle.routing.queues.get((state.routing or {}).get("queue", "")) if bundle.routing else None
    position = service.router.position(call_sid) if service.router is not None else None
    return (queue.hold if queue else Hold()), position, bundle.flows.get(state.flow)


@bp.post("/agent")
@twilio_signed
@with_call_sid
def agent_leg(call_sid: str) -> Response:
    """The ring to an agent (after they accepted an offer) ended: talked, or back to the queue."""
    agent = "".join(ch for ch in request.args.get("agent", "")[:64] if ch.isalnum() or ch in "-_.")
    try:
        return xml(_service().agent_leg_ended(call_sid, agent, _field("DialCallStatus", 32) or "failed",
                                              renderer(call_sid)))
    except Exception:
        log.exception("agent leg of %s failed; answering the fallback", call_sid)
        return xml(fallback_twiml())


@bp.post("/status")
@twilio_signed
@with_call_sid
def status(call_sid: str) -> Response:
    try:
        _service().status(call_sid, _field("CallStatus", 32), _int_field("CallDuration"))
    except Exception:
        log.exception("status callback for %s failed", call_sid)
    return Response(status=204)
