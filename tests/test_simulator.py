"""The simulator against a small real Twilio-style app that checks every signature, in-process and over HTTP."""

from __future__ import annotations

import io
import threading
import wave

import pytest
import requests
from flask import Flask, Response, request
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Connect, Dial, Gather, VoiceResponse
from werkzeug.serving import make_server

from ivr.simulator import (HttpTransport, InteractiveCaller, ScriptedCaller, Simulator, TwilioRestStandIn,
                           WsgiTransport, format_transcript)

TOKEN = "sim-token"


def peer_app() -> Flask:
    """A tiny IVR written straight in TwiML; it refuses any request whose signature is wrong."""
    app = Flask("peer")
    app.config["seen"] = []

    @app.before_request
    def check_signature():
        ok = RequestValidator(TOKEN).validate(request.url, request.form, request.headers.get("X-Twilio-Signature", ""))
        app.config["seen"].append((request.path, dict(request.form)))
        if not ok:
            return Response("bad signature", 403)

    def xml(response: VoiceResponse) -> Response:
        return Response(str(response), mimetype="text/xml")

    @app.post("/twilio/voice")
    def voice():
        r = VoiceResponse()
        g = Gather(action="/menu?x=1", num_digits=1)
        g.say("Press 1 to transfer, 2 to queue, 3 to record, 4 for a stream, 5 for bad TwiML, 6 for a 500.")
        r.append(g)
        r.say("We did not get your choice.")
        r.redirect("/twilio/voice")
        return xml(r)

    @app.post("/menu")
    def menu():
        choice = request.form.get("Digits")
        r = VoiceResponse()
        if choice == "1":
            d = Dial(action="/after-dial")
            d.number("+15551234567")
            r.append(d)
        elif choice == "2":
            r.enqueue("support", wait_url="/wait", action="/after-queue")
        elif choice == "3":
            r.record(action="/after-record", max_length=30)
        elif choice == "4":
            c = Connect(action="/after-stream")
            stream = c.stream(url="wss://example.test/media")
            stream.parameter(name="call", value=request.form["CallSid"])
            r.append(c)
        elif choice == "5":
            g = Gather()
            g.append(Dial("+15550000000"))
            r.append(g)
        elif choice == "6":
            return Response("boom", 500)
        else:
            r.say("Unknown.")
            r.hangup()
        return xml(r)

    @app.post("/wait")
    def wait():
        r = VoiceResponse()
        r.say(f"You are number {request.form['QueuePosition']}.")
        return xml(r)

    @app.post("/after-dial")
    def after_dial():
        r = VoiceResponse()
        r.say(f"Dial said {request.form['DialCallStatus']}.")
        return xml(r)

    @app.post("/after-queue")
    def after_queue():
        r = VoiceResponse()
        r.say(f"Queue said {request.form['QueueResult']}.")
        r.hangup()
        return xml(r)

    @app.post("/after-record")
    def after_record():
        r = VoiceResponse()
        r.say(f"Recorded {request.form['RecordingDuration']} seconds.")
        return xml(r)

    @app.post("/after-stream")
    def after_stream():
        r = VoiceResponse()
        r.say("Stream ended.")
        r.hangup()
        return xml(r)

    @app.post("/twilio/status")
    def status():
        return Response(status=204)

    return app


@pytest.fixture
def app():
    return peer_app()


@pytest.fixture
def sim(app):
    return Simulator(WsgiTransport(app), TOKEN)


def call(sim, *inputs, **caller):
    return sim.place_call("+15551230000", "+15550100100", ScriptedCaller(list(inputs), **caller))


def test_every_request_is_signed_and_accepted(sim, app):
    result = call(sim, "1")
    assert all(r["status"] in (200, 204) for r in result.requests)
    assert [path for path, _ in app.config["seen"]] == ["/twilio/voice", "/menu", "/after-dial", "/twilio/status"]
    assert app.config["seen"][1][1]["Digits"] == "1"
    assert app.config["seen"][-1][1]["CallStatus"] == "completed"


def test_wrong_token_is_refused_and_reported(app):
    result = Simulator(WsgiTransport(app), "other-token").place_call("+1", "+2", ScriptedCaller(["1"]))
    assert result.outcome == "error" and result.errors == ["HTTP 403 from http://localhost/twilio/voice"]


def test_no_input_falls_through_to_the_next_verb_like_twilio(sim):
    result = call(sim, None, "9")
    assert result.said[:3] == ["Press 1 to transfer, 2 to queue, 3 to record, 4 for a stream, 5 for bad TwiML, "
                               "6 for a 500.", "We did not get your choice.",
                               "Press 1 to transfer, 2 to queue, 3 to record, 4 for a stream, 5 for bad TwiML, "
                               "6 for a 500."]
    assert result.said[-1] == "Unknown." and result.outcome == "hangup"


def test_num_digits_and_finish_key_shape_the_digits(sim, app):
    call(sim, "98#7")
    assert app.config["seen"][1][1]["Digits"] == "9"  # numDigits=1


@pytest.mark.parametrize("status", ["completed", "no-answer", "busy"])
def test_dial_reports_the_scripted_status(sim, status):
    result = call(sim, "1", dial=status)
    dial = result.of_kind("dial")[0].data
    assert dial["target"] == "+15551234567" and dial["kind"] == "number"
    assert result.said[-1] == f"Dial said {status}."


def test_enqueue_requests_the_wait_url_then_the_action(sim):
    result = call(sim, "2", queue="bridged")
    assert result.of_kind("enqueue")[0].data["queue"] == "support"
    assert [e.data["text"] for e in result.of_kind("hold")] == ["You are number 1."]
    assert result.said[-1] == "Queue said bridged."


def test_caller_giving_up_in_the_queue(sim):
    assert call(sim, "2").outcome == "caller-hangup"


def test_record_posts_a_recording(sim):
    result = call(sim, "3")
    assert result.of_kind("record")[0].data["recording_url"].startswith("https://api.twilio.com/")
    assert result.said[-1] == "Recorded 12 seconds."


def test_with_a_rest_stand_in_the_recording_is_served_by_it(app):
    with TwilioRestStandIn() as rest:
        result = call(Simulator(WsgiTransport(app), TOKEN, rest=rest), "3")
        url = result.of_kind("record")[0].data["recording_url"]
        assert url.startswith(f"{rest.url}/2010-04-01/Accounts/AC")
        with wave.open(io.BytesIO(requests.get(url + ".wav", timeout=10).content)) as wav:
            assert (wav.getframerate(), wav.getsampwidth(), wav.getnchannels(), wav.getnframes()) == \
                (8000, 2, 1, 12 * 8000)
        assert requests.get(url[:-5] + "00000.wav", timeout=10).status_code == 404


def test_a_stream_that_cannot_connect_goes_on_to_the_connect_action_as_twilio_does(sim):
    result = call(sim, "4", None)
    stream = result.of_kind("stream")[0].data
    assert stream["url"] == "wss://example.test/media" and stream["action"] == "/after-stream"
    assert stream["parameters"] == {"call": result.call_sid}
    assert result.errors[0].startswith("media stream to wss://example.test/media failed")
    assert result.said[-1] == "Stream ended." and result.outcome == "hangup"


def test_illegal_nesting_is_a_contract_error(sim):
    result = call(sim, "5")
    assert result.outcome == "error" and "not allowed inside <Gather>" in result.errors[0]


def test_server_error_ends_the_call_as_twilio_would(sim):
    result = call(sim, "6")
    assert result.outcome == "error" and result.errors == ["HTTP 500 from http://localhost/menu?x=1"]


def test_script_exhausted_means_the_caller_hangs_up(sim):
    result = call(sim)
    assert result.outcome == "caller-hangup"
    assert "the caller hung up" in format_transcript(result)


def test_http_transport_against_a_real_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        sim = Simulator(HttpTransport(f"http://127.0.0.1:{server.server_port}"), TOKEN)
        result = sim.place_call("+15551230000", "+15550100100", ScriptedCaller(["1"]))
        assert result.said[-1] == "Dial said completed."
        assert all(r["status"] in (200, 204) for r in result.requests)
    finally:
        server.shutdown()
        server.server_close()


def test_interactive_caller_reads_keys_silence_and_hangup(app):
    answers = iter(["", "9"])
    asked: list[str] = []

    def prompt(text: str) -> str:
        asked.append(text)
        return next(answers)

    result = Simulator(WsgiTransport(app), TOKEN).place_call("+1", "+2", InteractiveCaller(prompt_fn=prompt))
    assert len(asked) == 2 and result.said[-1] == "Unknown." and result.outcome == "hangup"
    hangs_up = InteractiveCaller(prompt_fn=lambda text: "h")
    assert Simulator(WsgiTransport(app), TOKEN).place_call("+1", "+2", hangs_up).outcome == "caller-hangup"


def test_the_rest_stand_in_places_outbound_calls_through_twilios_client():
    from ivr.simulator import TwilioRestStandIn
    from ivr.telephony.rest import TwilioRest, TwilioRestError

    with TwilioRestStandIn() as rest:
        client = TwilioRest("AC" + "0" * 32, "token", rest.url)
        sid = client.call("+15551230000", "+15550100100", "https://ivr.example.com/twilio/callback?id=CB1")
        placed = rest.placed.get_nowait()
        assert placed["sid"] == sid and sid.startswith("CA") and len(sid) == 34
        assert (placed["To"], placed["From"], placed["Url"], placed["Method"]) == (
            "+15551230000", "+15550100100", "https://ivr.example.com/twilio/callback?id=CB1", "POST")
        with pytest.raises(TwilioRestError):
            client.call("", "+15550100100", "https://ivr.example.com/x")
