"""The simulator standing in for Twilio's REST API: ``POST /2010-04-01/Accounts/{AC}/Calls/{CA}.json`` with
``Twiml`` or ``Url`` redirects a live simulated call (as Twilio does when an agent is connected), ``Status=completed``
hangs it up; a call that is not live answers 404 with Twilio's error 20404. ``POST .../Calls.json`` (``calls.create``:
``To``, ``From``, ``Url``) places an outbound call: it is recorded in :attr:`TwilioRestStandIn.placed` with a new SID
for whoever plays the callee. Recordings the simulated callers leave are served as Twilio serves them
(``GET .../Recordings/{RE}.wav``: 8 kHz 16-bit mono, here silence), so voicemail transcription in demos never
reaches the real Twilio. Point the server's ``TWILIO_API_URL`` at :attr:`TwilioRestStandIn.url`."""

from __future__ import annotations

import queue
import secrets
import threading
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.serving import WSGIRequestHandler, make_server

from speech.wav import pcm_wav


@dataclass(frozen=True)
class Redirect:
    """What the REST API asked a live call to do next: new TwiML, a URL to fetch, or hang up."""

    twiml: str | None = None
    url: str | None = None
    hangup: bool = False


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class TwilioRestStandIn:
    """A loopback HTTP server speaking the part of Twilio's REST API that call routing uses."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self._inboxes: dict[str, queue.Queue[Redirect]] = {}
        self._recordings: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self.requests: list[dict[str, str]] = []
        self.placed: "queue.Queue[dict[str, str]]" = queue.Queue()  # outbound calls, each with its new "sid"
        self._server = make_server(host, port, self._app(), threaded=True, request_handler=_Quiet)
        self.url = f"http://{host}:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="twilio-rest", daemon=True)

    def start(self) -> "TwilioRestStandIn":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "TwilioRestStandIn":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def live(self, call_sid: str) -> "queue.Queue[Redirect]":
        """Register a live call; REST updates for it arrive on the returned queue."""
        with self._lock:
            return self._inboxes.setdefault(call_sid, queue.Queue())

    def ended(self, call_sid: str) -> None:
        with self._lock:
            self._inboxes.pop(call_sid, None)

    def add_recording(self, recording_sid: str, seconds: int) -> None:
        """A simulated caller left a recording of ``seconds`` (at most a minute of silence is kept)."""
        audio = pcm_wav(b"\x00\x00" * 8000 * max(0, min(seconds, 60)), 8000)
        with self._lock:
            self._recordings[recording_sid] = audio

    def _app(self) -> Flask:
        app = Flask("twilio-rest-stand-in")

        @app.get("/2010-04-01/Accounts/<account>/Recordings/<recording_sid>.wav")
        def recording(account: str, recording_sid: str):
            with self._lock:
                body = self._recordings.get(recording_sid)
            if body is None:
                return jsonify(code=20404, message=f"The requested resource {recording_sid} was not found",
                               status=404), 404
            return Response(body, 200, mimetype="audio/x-wav")

        @app.post("/2010-04-01/Accounts/<account>/Calls.json")
        def create_call(account: str):
            form = request.form.to_dict()
            missing = [name for name in ("To", "From") if not form.get(name)]
            if missing or not (form.get("Url") or form.get("Twiml")):
                return jsonify(code=21205, message="To, From and Url (or Twiml) are required", status=400), 400
            sid = "CA" + secrets.token_hex(16)
            self.requests.append({"account": account, "call": sid, "create": "1", **form})
            self.placed.put({"sid": sid, **form})
            return jsonify(sid=sid, account_sid=account, to=form["To"], status="queued"), 201

        @app.post("/2010-04-01/Accounts/<account>/Calls/<call_sid>.json")
        def update_call(account: str, call_sid: str):
            form = request.form.to_dict()
            self.requests.append({"account": account, "call": call_sid, **form})
            with self._lock:
                inbox = self._inboxes.get(call_sid)
            if inbox is None:
                return jsonify(code=20404, message=f"The requested resource {call_sid} was not found",
                               more_info="https://www.twilio.com/docs/errors/20404", status=404), 404
            inbox.put(Redirect(form.get("Twiml"), form.get("Url"), form.get("Status") == "completed"))
            return jsonify(sid=call_sid, account_sid=account, status="in-progress")

        return app
