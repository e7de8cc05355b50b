"""Twilio webhooks through the real Flask app and a real Redis: signatures, TwiML, faults, hostile input."""

from __future__ import annotations

import shutil
import textwrap
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest
from twilio.request_validator import RequestValidator

from ivr.config import Settings
from ivr.runner.redis import connect
from webhooks import create_app

TOKEN = "test-auth-token"
SID = "CA" + "a" * 32
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=timezone.utc)
SAMPLES = Path(__file__).resolve().parent.parent / "flows"

ECHO_FLOW = """\
    nodes:
      menu:
        menu:
          prompt: "Press 1 to finish."
          options: [{key: 1, goto: bye}]
          no_match: "You said {{last_input}}."
          retries: 3
          fallback: bye
      bye:
        hangup: "Goodbye."
    """


def write_flows(directory: Path, text: str = ECHO_FLOW) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "main.yaml").write_text(textwrap.dedent(text))
    return directory


def make_app(redis, flows_dir: Path, **overrides):
    settings = replace(Settings(), twilio_auth_token=TOKEN, flows_dir=flows_dir, api_token="api-secret",
                       **overrides)
    return create_app(settings, redis_client=redis, clock=lambda: NOW)


class Twilio:
    """Signs and posts requests as Twilio does."""

    def __init__(self, app, base="http://localhost"):
        self.client = app.test_client()
        self.base = base

    def post(self, url: str, params: dict[str, str], *, sign_url: str | None = None, headers=None):
        full = url if url.startswith("http") else self.base + url
        signature = RequestValidator(TOKEN).compute_signature(sign_url or full, params)
        path = full[full.index("/", 8):]
        return self.client.post(path, data=params, headers={"X-Twilio-Signature": signature, **(headers or {})})

    def call(self, **extra):
        params = {"CallSid": SID, "AccountSid": "AC" + "0" * 32, "From": "+15551230000", "To": "+15550100100",
                  "CallStatus": "ringing", "Direction": "inbound", "ApiVersion": "2010-04-01", **extra}
        return self.post("/twilio/voice", params)

    def follow(self, response, kind: str, **params):
        """POST the action URL of the first verb of ``kind`` in a TwiML response."""
        root = ET.fromstring(response.data)
        if kind == "noinput":
            url = root.find("Redirect").text
        else:
            url = root.find(kind).get("action")
        return self.post(url, {"CallSid": SID, **params})


def texts(response) -> list[str]:
    return [el.text for el in ET.fromstring(response.data).iter("Say")]


@pytest.fixture
def flows_dir(tmp_path):
    return write_flows(tmp_path / "flows")


@pytest.fixture
def app(redis, flows_dir):
    return make_app(redis, flows_dir)


@pytest.fixture
def twilio(app):
    return Twilio(app)


def test_incoming_call_answers_a_gather_with_absolute_action_urls(twilio):
    response = twilio.call()
    assert response.status_code == 200 and response.mimetype == "text/xml"
    root = ET.fromstring(response.data)
    gather = root.find("Gather")
    assert gather.get("action") == "http://localhost/twilio/continue?seq=1&on=gather"
    assert gather.get("numDigits") == "1" and gather.find("Say").text == "Press 1 to finish."
    assert root.find("Redirect").text == "http://localhost/twilio/continue?seq=1&on=noinput"


def test_keys_advance_the_call_and_it_is_logged(twilio, app):
    first = twilio.call()
    second = twilio.follow(first, "Gather", Digits="1")
    assert texts(second) == ["Goodbye."] and ET.fromstring(second.data).find("Hangup") is not None
    record = app.extensions["ivr"].calllog.get(SID)
    assert [s["outcome"] for s in record["steps"]] == ["prompted", "chose", "hangup"]


@pytest.mark.parametrize("signature", ["", "bm90IGEgc2lnbmF0dXJl"])
def test_missing_or_wrong_signature_is_403(app, signature):
    response = app.test_client().post("/twilio/voice", data={"CallSid": SID},
                                      headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403


def test_signature_of_other_params_is_403(twilio):
    params = {"CallSid": SID, "To": "+15550100100"}
    signature = RequestValidator(TOKEN).compute_signature("http://localhost/twilio/voice", params)
    response = twilio.client.post("/twilio/voice", data={**params, "To": "+19005550000"},
                                  headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403


def test_public_url_behind_a_tls_proxy(redis, flows_dir):
    app = make_app(redis, flows_dir, public_url="https://ivr.example.com")
    twilio = Twilio(app)
    params = {"CallSid": SID, "From": "+15551230000", "To": "+15550100100"}
    # Twilio signed the public https URL; the app itself was reached over plain http by the proxy.
    ok = twilio.post("/twilio/voice", params, sign_url="https://ivr.example.com/twilio/voice")
    assert ok.status_code == 200
    assert ET.fromstring(ok.data).find("Gather").get("action").startswith("https://ivr.example.com/twilio/")
    wrong = twilio.post("/twilio/voice", params)  # signed for http://localhost: not what Twilio would sign
    assert wrong.status_code == 403


def test_forwarded_headers_when_proxy_is_trusted(redis, flows_dir):
    app = make_app(redis, flows_dir, trust_proxy=1)
    twilio = Twilio(app)
    params = {"CallSid": SID, "From": "+15551230000", "To": "+15550100100"}
    response = twilio.post("/twilio/voice", params, sign_url="https://ivr.example.org/twilio/voice",
                           headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "ivr.example.org"})
    assert response.status_code == 200
    assert "https://ivr.example.org/twilio/continue" in response.get_data(as_text=True)


def test_stale_or_replayed_action_gets_the_same_answer_and_does_not_advance(twilio, app):
    first = twilio.call()
    second = twilio.follow(first, "Gather", Digits="5")
    assert texts(second)[0] == "You said 5."
    replayed = twilio.follow(first, "Gather", Digits="1")  # seq=1 again: stale
    assert replayed.data == second.data
    steps = app.extensions["ivr"].calllog.get(SID)["steps"]
    assert [s["outcome"] for s in steps].count("chose") == 0


def test_retried_incoming_webhook_gets_the_same_answer(twilio, app):
    first, again = twilio.call(), twilio.call()
    assert first.data == again.data
    assert len(app.extensions["ivr"].calllog.get(SID)["steps"]) == 1


def test_caller_input_echoed_into_a_prompt_is_escaped(twilio):
    first = twilio.call()
    attack = '</Say><Dial>+19005550000</Dial><Say>'
    response = twilio.follow(first, "Gather", SpeechResult=attack)
    root = ET.fromstring(response.data)  # still well-formed
    assert root.find("Dial") is None and root.find(".//Dial") is None
    assert texts(response)[0] == f"You said {attack}."


def test_digits_are_restricted_to_keypad_characters(twilio):
    first = twilio.call()
    response = twilio.follow(first, "Gather", Digits="<x>9&#")
    assert texts(response)[0] == "You said 9#."


def test_non_utf8_and_huge_fields(twilio, app):
    first = twilio.call()
    url = ET.fromstring(first.data).find("Gather").get("action")
    body = b"CallSid=" + SID.encode() + b"&Digits=%FF%FE5"
    # werkzeug keeps undecodable percent-escapes as text; the signature covers what the app sees
    params = {"CallSid": SID, "Digits": "%FF%FE5"}
    signature = RequestValidator(TOKEN).compute_signature(url, params)
    response = app.test_client().post(url[len("http://localhost"):], data=body,
                                      content_type="application/x-www-form-urlencoded",
                                      headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200 and texts(response)[0] == "You said 5."
    huge = twilio.post("/twilio/voice", {"CallSid": SID, "From": "x" * 100_000})
    assert huge.status_code == 413


def test_wrong_content_type_is_a_4xx(app):
    response = app.test_client().post("/twilio/voice", json={"CallSid": SID},
                                      headers={"X-Twilio-Signature": "x"})
    assert 400 <= response.status_code < 500


@pytest.mark.parametrize("sid", ["", "CA123", "XX" + "a" * 32, "CA" + "a" * 31 + "<"])
def test_missing_or_malformed_callsid_is_400(twilio, sid):
    assert twilio.call(CallSid=sid).status_code == 400


def test_unknown_callsid_on_continue_gets_the_spoken_fallback(twilio):
    response = twilio.post("/twilio/continue?seq=1&on=gather", {"CallSid": SID, "Digits": "1"})
    assert response.status_code == 200
    assert "technical difficulties" in texts(response)[0]


def test_bad_event_or_seq_in_the_url_replays_the_current_answer(twilio):
    first = twilio.call()
    for query in ("seq=abc&on=gather", "seq=1&on=<script>", "seq=99999999999&on=dial", ""):
        response = twilio.post("/twilio/continue" + (f"?{query}" if query else ""), {"CallSid": SID, "Digits": "1"})
        assert response.status_code == 200 and response.data == first.data


def test_fallback_number_when_redis_is_down(flows_dir):
    dead = connect("redis://127.0.0.1:1/0")  # nothing listens there
    app = make_app(dead, flows_dir, fallback_number="+15557770000")
    response = Twilio(app).call()
    assert response.status_code == 200
    root = ET.fromstring(response.data)
    assert "technical difficulties" in root.find("Say").text
    assert root.find("Dial/Number").text == "+15557770000"
    status = Twilio(app).post("/twilio/status", {"CallSid": SID, "CallStatus": "completed"})
    assert status.status_code == 204


def test_fallback_queue_on_an_engine_fault(redis, tmp_path):
    flows = write_flows(tmp_path / "f", """\
        nodes:
          a:
            set: {x: "1"}
            next: b
          b:
            branch:
              cases: [{when: {var: x, equals: "2"}, goto: c}]
              else: a
          c:
            hangup: true
        """)
    app = make_app(redis, flows, fallback_queue="support")
    root = ET.fromstring(Twilio(app).call().data)
    assert root.find("Enqueue").text == "support"


def test_broken_flows_at_start_keep_the_working_version(redis, flows_dir):
    app = make_app(redis, flows_dir)
    store = app.extensions["ivr"].repo.store
    assert store.current_version() == 1
    (flows_dir / "main.yaml").write_text("nodes:\n  a:\n    say: Hi\n    next: nowhere\n")
    make_app(redis, flows_dir)
    assert store.current_version() == 1
    assert texts(Twilio(app).call())[0] == "Press 1 to finish."


def test_a_call_stays_on_the_version_it_started_with(redis, flows_dir):
    app = make_app(redis, flows_dir)
    twilio = Twilio(app)
    first = twilio.call()
    (flows_dir / "main.yaml").write_text(textwrap.dedent(ECHO_FLOW).replace("Goodbye.", "See you."))
    app.extensions["ivr"].repo.publish_directory(flows_dir, author="test", message="new goodbye")
    assert texts(twilio.follow(first, "Gather", Digits="1")) == ["Goodbye."]
    other = Twilio(app)
    params = {"CallSid": "CA" + "b" * 32, "From": "+1555", "To": "+1555"}
    new_call = other.post("/twilio/voice", params)
    url = ET.fromstring(new_call.data).find("Gather").get("action")
    assert texts(other.post(url, {**params, "Digits": "1"})) == ["See you."]


def test_status_callbacks_are_idempotent_in_any_order(twilio, app):
    first = twilio.call()
    twilio.follow(first, "Gather", Digits="1")
    for status in ("completed", "in-progress", "completed", "ringing"):
        response = twilio.post("/twilio/status", {"CallSid": SID, "CallStatus": status, "CallDuration": "31"})
        assert response.status_code == 204
    record = app.extensions["ivr"].calllog.get(SID)
    assert record["status"] == "completed" and record["disposition"] == "self-service"
    assert int(record["duration"]) == 31


def test_caller_hanging_up_mid_menu_is_abandoned(twilio, app):
    twilio.call()
    twilio.post("/twilio/status", {"CallSid": SID, "CallStatus": "completed", "CallDuration": "4"})
    assert app.extensions["ivr"].calllog.get(SID)["disposition"] == "abandoned"


def test_no_input_redirect_reprompts(twilio):
    first = twilio.call()
    response = twilio.follow(first, "noinput")
    assert texts(response) == ["Press 1 to finish."]
    assert "seq=2" in ET.fromstring(response.data).find("Gather").get("action")


def test_api_needs_the_token_and_lists_calls(twilio, app):
    twilio.call()
    client = app.test_client()
    assert client.get("/api/calls").status_code == 401
    assert client.get("/api/calls", headers={"Authorization": "Bearer nope"}).status_code == 401
    auth = {"Authorization": "Bearer api-secret"}
    listed = client.get("/api/calls", headers=auth).get_json()["calls"]
    assert [c["call_sid"] for c in listed] == [SID]
    assert client.get(f"/api/calls/{SID}", headers=auth).get_json()["steps"][0]["node"] == "menu"
    assert client.get("/api/calls/CAnope", headers=auth).status_code == 404
    assert client.get("/api/calls?limit=-1", headers=auth).status_code == 400


def test_sample_flows_answer_the_main_number(redis, tmp_path):
    flows = tmp_path / "samples"
    shutil.copytree(SAMPLES, flows)
    app = make_app(redis, flows)
    response = Twilio(app).call()
    assert texts(response)[:2] == ["Thank you for calling Northwind Energy.", "For English, press 1."]
