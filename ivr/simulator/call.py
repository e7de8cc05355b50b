"""Plays Twilio's part in a call: sends signed webhooks, follows the TwiML answers verb by verb.

Knows only Twilio's public contract (``../shared/docs/twilio-contract.md``): it never imports the engine or the
web app, so what it accepts is what Twilio would accept.
"""

from __future__ import annotations

import queue
import secrets
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urljoin

from twilio.request_validator import RequestValidator

from ivr.errors import IvrError
from ivr.simulator.inputs import HANGUP, Caller, GatherInfo, ScriptedCaller
from ivr.simulator.rest import Redirect, TwilioRestStandIn
from ivr.simulator.stream import Answer, run_stream
from ivr.simulator.transport import HttpResponse, Transport

RESPONSE_VERBS = {"Say", "Play", "Pause", "Gather", "Dial", "Enqueue", "Leave", "Hangup", "Redirect", "Reject",
                  "Record", "Connect", "Start", "Stop", "Refer", "Sms"}
GATHER_CHILDREN = {"Say", "Play", "Pause"}
DIAL_NOUNS = {"Number", "Client", "Sip", "Queue", "Conference"}
CONNECT_NOUNS = {"Stream", "Conversation", "VirtualAgent", "Room"}
WAIT_URL_VERBS = {"Play", "Say", "Pause", "Hangup", "Redirect", "Leave", "Gather"}


class SimulatorError(IvrError):
    """The simulator could not run a call (bad arguments, unreachable server)."""


@dataclass
class CallEvent:
    """Something that happened in the call: ``kind`` is say, play, pause, gather, input, dial, enqueue, hold,
    record, redirect, hangup, reject, leave, stream, caller-hangup or error; ``data`` holds its attributes."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class CallResult:
    call_sid: str
    events: list[CallEvent] = field(default_factory=list)
    outcome: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def said(self) -> list[str]:
        return [e.data["text"] for e in self.events if e.kind == "say"]

    def of_kind(self, kind: str) -> list[CallEvent]:
        return [e for e in self.events if e.kind == kind]

    @property
    def errors(self) -> list[str]:
        return [e.data["message"] for e in self.events if e.kind == "error"]


class _CallEnded(Exception):
    def __init__(self, outcome: str):
        self.outcome = outcome


class Simulator:
    """Places simulated calls. Requests are signed with ``auth_token`` exactly as Twilio signs them."""

    def __init__(self, transport: Transport, auth_token: str, account_sid: str = "AC" + "0" * 32,
                 voice_path: str = "/twilio/voice", status_path: str = "/twilio/status",
                 rest: TwilioRestStandIn | None = None, queue_patience: float = 0.0, speech_pace: float = 0.0):
        """``rest``: the REST stand-in the server redirects calls through (to reach agents); a caller in a queue
        then waits up to ``queue_patience`` seconds to be connected before their ``queue_result`` applies.
        ``speech_pace``: 1.0 sends the caller's audio into media streams in real time, 0 as fast as possible."""
        self.speech_pace = speech_pace
        self.rest = rest
        self.queue_patience = queue_patience
        self.transport = transport
        self.validator = RequestValidator(auth_token)
        self.account_sid = account_sid
        self.voice_url = transport.base_url + voice_path
        self.status_url = transport.base_url + status_path

    def place_call(self, from_: str, to: str, caller: Caller | None = None, *,
                   on_event: Callable[[CallEvent], None] | None = None, max_requests: int = 200,
                   call_sid: str | None = None, send_status: bool = True) -> CallResult:
        """Run one call from the incoming webhook to its end, then send the ``completed`` status callback."""
        run = _Run(self, call_sid or "CA" + secrets.token_hex(16), from_, to, caller or ScriptedCaller(),
                   on_event, max_requests)
        inbox = self.rest.live(run.result.call_sid) if self.rest is not None else None
        run.inbox = inbox
        try:
            run.execute()
        finally:
            if self.rest is not None:
                self.rest.ended(run.result.call_sid)
        if send_status:
            run.status("completed")
        return run.result

    def sign(self, url: str, params: dict[str, str]) -> dict[str, str]:
        return {"X-Twilio-Signature": self.validator.compute_signature(url, params)}


class _Run:
    def __init__(self, sim: Simulator, call_sid: str, from_: str, to: str, caller: Caller,
                 on_event: Callable[[CallEvent], None] | None, max_requests: int):
        self.sim, self.caller, self.on_event = sim, caller, on_event
        self.result = CallResult(call_sid)
        self.base = {"CallSid": call_sid, "AccountSid": sim.account_sid, "From": from_, "To": to,
                     "Caller": from_, "Called": to, "Direction": "inbound", "ApiVersion": "2010-04-01",
                     "CallStatus": "in-progress"}
        self.max_requests = max_requests
        self.inbox: "queue.Queue[Redirect] | None" = None
        self.started = time.monotonic()
        self.heard: list[str] = []

    # -- plumbing ------------------------------------------------------------------------------------------------
    def emit(self, event_kind: str, /, **data: Any) -> None:
        event = CallEvent(event_kind, data)
        self.result.events.append(event)
        if event_kind == "say":
            self.heard.append(data["text"])
        if self.on_event is not None:
            self.on_event(event)

    def request(self, url: str, extra: dict[str, str] | None = None, status: str = "in-progress") -> HttpResponse:
        if len(self.result.requests) >= self.max_requests:
            raise _CallEnded("max_requests")
        params = {**self.base, "CallStatus": status, **(extra or {})}
        try:
            response = self.sim.transport.post(url, params, self.sim.sign(url, params))
        except Exception as e:  # connection refused, timeout: Twilio would give up on the call
            self.result.requests.append({"url": url, "params": params, "status": None})
            self.emit("error", message=f"request to {url} failed: {e}")
            raise _CallEnded("error") from e
        self.result.requests.append({"url": url, "params": params, "status": response.status})
        return response

    def document(self, url: str, response: HttpResponse) -> ET.Element:
        """Parse a TwiML answer, or end the call as Twilio would ("an application error has occurred")."""
        if response.status != 200:
            self.emit("error", message=f"HTTP {response.status} from {url}", status=response.status)
            raise _CallEnded("error")
        if response.content_type not in ("text/xml", "application/xml"):
            self.emit("error", message=f"content type {response.content_type!r} from {url} is not XML")
            raise _CallEnded("error")
        try:
            root = ET.fromstring(response.body)
        except ET.ParseError as e:
            self.emit("error", message=f"invalid XML from {url}: {e}")
            raise _CallEnded("error") from e
        if root.tag != "Response":
            self.emit("error", message=f"root element is <{root.tag}>, not <Response>")
            raise _CallEnded("error")
        return root

    def status(self, status: str) -> None:
        duration = int(time.monotonic() - self.started)
        params = {**self.base, "CallStatus": status, "CallDuration": str(duration),
                  "StatusCallbackEvent": "completed" if status == "completed" else ""}
        try:
            response = self.sim.transport.post(self.sim.status_url, params, self.sim.sign(self.sim.status_url, params))
            self.result.requests.append({"url": self.sim.status_url, "params": params, "status": response.status})
        except Exception as e:
            self.emit("error", message=f"status callback failed: {e}")

    # -- following TwiML -----------------------------------------------------------------------------------------
    def execute(self) -> None:
        url = self.sim.voice_url
        try:
            response = self.request(url, status="ringing")
            root = self.document(url, response)
            while True:
                next_url, response = self.follow(url, root)
                if next_url is None:
                    self.result.outcome = self.result.outcome or "completed"
                    return
                url = next_url
                root = self._redirected_root if response is None else self.document(url, response)
        except _CallEnded as end:
            self.result.outcome = end.outcome

    def follow(self, url: str, root: ET.Element) -> tuple[str | None, HttpResponse | None]:
        """Run the verbs of one document; return the next document's URL and response, or (None, None)."""
        for verb in root:
            tag = verb.tag
            if tag not in RESPONSE_VERBS:
                self.emit("error", message=f"<{tag}> is not a TwiML verb")
                raise _CallEnded("error")
            if tag == "Say":
                self.emit("say", text=(verb.text or "").strip(), voice=verb.get("voice"),
                          language=verb.get("language"))
            elif tag == "Play":
                self.emit("play", url=(verb.text or "").strip())
            elif tag == "Pause":
                self.emit("pause", length=int(verb.get("length", "1")))
            elif tag == "Gather":
                step = self.gather(url, verb)
                if step is not None:
                    return step
            elif tag == "Redirect":
                target = urljoin(url, (verb.text or "").strip())
                self.emit("redirect", url=target)
                return target, self.request(target)
            elif tag == "Dial":
                step = self.dial(url, verb)
                if step is not None:
                    return step
            elif tag == "Enqueue":
                return self.enqueue(url, verb)
            elif tag == "Record":
                return self.record(url, verb)
            elif tag in ("Hangup", "Reject"):
                self.emit(tag.lower())
                raise _CallEnded(tag.lower())
            elif tag == "Leave":
                self.emit("leave")
            elif tag == "Connect":
                return self.connect(url, verb)
            else:
                self.emit(tag.lower())
        return None, None

    def gather(self, url: str, verb: ET.Element) -> tuple[str, HttpResponse] | None:
        for child in verb:
            if child.tag not in GATHER_CHILDREN:
                self.emit("error", message=f"<{child.tag}> is not allowed inside <Gather>")
                raise _CallEnded("error")
            if child.tag == "Say":
                self.emit("say", text=(child.text or "").strip(), voice=child.get("voice"),
                          language=child.get("language"))
            elif child.tag == "Play":
                self.emit("play", url=(child.text or "").strip())
            else:
                self.emit("pause", length=int(child.get("length", "1")))
        num_digits = int(verb.get("numDigits")) if verb.get("numDigits") else None
        finish = verb.get("finishOnKey", "#")
        info = GatherInfo(num_digits, finish, int(verb.get("timeout", "5")), verb.get("input", "dtmf"),
                          tuple(self.heard))
        self.heard = []
        self.emit("gather", num_digits=num_digits, finish_on_key=finish, timeout=info.timeout, input=info.input,
                  action=verb.get("action"))
        answer = self.caller.gather(info)
        if answer == HANGUP:
            self.emit("caller-hangup")
            raise _CallEnded("caller-hangup")
        digits = _keys_sent(answer or "", num_digits, finish)
        self.emit("input", digits=digits)
        if not digits and verb.get("actionOnEmptyResult", "false") != "true":
            return None  # Twilio goes on to the next verb
        action = urljoin(url, verb.get("action") or url)
        return action, self.request(action, {"Digits": digits})

    def connect(self, url: str, verb: ET.Element) -> tuple[str | None, HttpResponse | None]:
        """``<Connect><Stream>``: a two-way media stream; when the server closes it, Twilio requests the action."""
        children = list(verb)
        if len(children) != 1 or children[0].tag not in CONNECT_NOUNS:
            self.emit("error", message="<Connect> must hold exactly one of " + ", ".join(sorted(CONNECT_NOUNS)))
            raise _CallEnded("error")
        stream = children[0]
        stream_url = (stream.get("url") or "").strip()
        if stream.tag != "Stream" or not stream_url.startswith(("wss://", "ws://")):
            self.emit("error", message=f"<Connect><{stream.tag}> with url {stream_url!r} cannot be simulated")
            raise _CallEnded("error")
        if "?" in stream_url:
            self.emit("error", message="a <Stream> url cannot carry a query string (Twilio drops it)")
            raise _CallEnded("error")
        params = {p.get("name") or "": p.get("value") or "" for p in stream.iter("Parameter")}
        info = GatherInfo(None, "", 5, "speech dtmf", tuple(self.heard))
        self.heard = []
        self.emit("gather", num_digits=None, finish_on_key="", timeout=info.timeout, input=info.input,
                  action=verb.get("action"))
        self.emit("stream", url=stream_url, parameters=params, action=verb.get("action"))
        raw = self.caller.gather(info)
        if raw == HANGUP:
            self.emit("caller-hangup")
            raise _CallEnded("caller-hangup")
        answer = Answer.parse(raw)
        try:
            report = run_stream(stream_url, self.sim.sign(stream_url, {}), self.result.call_sid, self.sim.account_sid,
                                params, answer, self.sim.speech_pace)
        except Exception as e:  # refused (403), unreachable: Twilio goes on to the action as the stream ended
            self.emit("error", message=f"media stream to {stream_url} failed: {e}")
            report = None
        if report is not None:
            if report.played_ms:
                self.emit("stream-audio", played_ms=report.played_ms)
            if report.cleared:
                self.emit("barge-in")
        self.emit("input", digits=answer.keys, speech=answer.text or answer.wav)
        action = verb.get("action")
        if not action:
            return None, None
        action = urljoin(url, action)
        return action, self.request(action)

    def dial(self, url: str, verb: ET.Element) -> tuple[str, HttpResponse] | None:
        nouns = [child for child in verb if child.tag in DIAL_NOUNS]
        kinds = {child.tag for child in nouns}
        if len(kinds) > 1 or [c for c in verb if c.tag not in DIAL_NOUNS]:
            self.emit("error", message="<Dial> mixes noun kinds or holds something else")
            raise _CallEnded("error")
        target = (nouns[0].text or "").strip() if nouns else (verb.text or "").strip()
        kind = nouns[0].tag.lower() if nouns else "number"
        status = self.caller.dial_status(target)
        self.emit("dial", target=target, kind=kind, status=status, caller_id=verb.get("callerId"))
        action = verb.get("action")
        if not action:
            return None
        action = urljoin(url, action)
        answered = status in ("completed", "answered")
        return action, self.request(action, {"DialCallStatus": status, "DialCallSid": "CA" + secrets.token_hex(16),
                                             "DialCallDuration": "60" if answered else "0"})

    def enqueue(self, url: str, verb: ET.Element) -> tuple[str | None, HttpResponse | None]:
        queue = (verb.text or "").strip()
        wait_url = verb.get("waitUrl")
        self.emit("enqueue", queue=queue, wait_url=wait_url)
        queue_sid = "QU" + secrets.token_hex(16)
        if wait_url:
            wait_url = urljoin(url, wait_url)
            response = self.request(wait_url, {"QueuePosition": "1", "QueueSid": queue_sid, "QueueTime": "0",
                                               "AvgQueueTime": "0", "CurrentQueueSize": "1"})
            hold = self.document(wait_url, response)
            for child in hold:
                if child.tag not in WAIT_URL_VERBS:
                    self.emit("error", message=f"<{child.tag}> is not allowed in a waitUrl document")
                    raise _CallEnded("error")
                if child.tag == "Say":
                    self.emit("hold", text=(child.text or "").strip())
        redirect = self._wait_for_redirect()
        if redirect is not None:
            if redirect.hangup:
                self.emit("hangup")
                raise _CallEnded("hangup")
            self.emit("redirected", by="rest")
            if redirect.twiml:
                try:
                    self._redirected_root = ET.fromstring(redirect.twiml)
                except ET.ParseError as e:
                    self.emit("error", message=f"invalid TwiML in a REST redirect: {e}")
                    raise _CallEnded("error") from e
                return url, None
            target = urljoin(url, redirect.url or "")
            return target, self.request(target)
        result = self.caller.queue_result(queue)
        action = verb.get("action")
        if action:
            action = urljoin(url, action)
            response = self.request(action, {"QueueResult": result, "QueueSid": queue_sid, "QueueTime": "30"})
            if result == "hangup":  # the caller is gone: Twilio ignores what the action answers
                self.emit("caller-hangup")
                raise _CallEnded("caller-hangup")
            return action, response
        raise _CallEnded("caller-hangup" if result == "hangup" else "completed")

    def _wait_for_redirect(self) -> Redirect | None:
        """In a queue, a live call can be taken out through the REST API (an agent accepted it)."""
        if self.inbox is None or self.sim.queue_patience <= 0:
            return None
        try:
            return self.inbox.get(timeout=self.sim.queue_patience)
        except queue.Empty:
            return None

    def record(self, url: str, verb: ET.Element) -> tuple[str | None, HttpResponse | None]:
        duration, digits = self.caller.recording()
        recording_sid = "RE" + secrets.token_hex(16)
        api = self.sim.rest.url if self.sim.rest is not None else "https://api.twilio.com"
        recording_url = f"{api}/2010-04-01/Accounts/{self.sim.account_sid}/Recordings/{recording_sid}"
        if self.sim.rest is not None:
            self.sim.rest.add_recording(recording_sid, duration)
        self.emit("record", max_length=int(verb.get("maxLength", "3600")), duration=duration,
                  recording_url=recording_url)
        action = urljoin(url, verb.get("action") or url)
        return action, self.request(action, {"RecordingUrl": recording_url, "RecordingSid": recording_sid,
                                             "RecordingDuration": str(duration), "Digits": digits})


def _keys_sent(answer: str, num_digits: int | None, finish: str) -> str:
    """What Twilio reports as ``Digits``: stops at the finish key (not included) or after numDigits keys."""
    keys = "".join(ch for ch in answer if ch in "0123456789*#")
    out = ""
    for ch in keys:
        if finish and ch == finish:
            break
        out += ch
        if num_digits and len(out) >= num_digits:
            break
    return out
