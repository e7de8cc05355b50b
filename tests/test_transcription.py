"""Voicemail transcription by a real RQ worker: a Korean voicemail left through the real webhooks is fetched
from a loopback stand-in for Twilio's API (basic auth), transcribed with the real Korean model and stored on the
call log; wrong credentials, a forged host, a language without a model and an unavailable recording are
recorded, never crash the worker, and nothing is transcribed twice."""

from __future__ import annotations

import base64
import http.server
import subprocess
import textwrap
import threading
import wave
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest
from rq import Queue, SimpleWorker
from twilio.request_validator import RequestValidator

from ivr.cli.calls import format_call
from ivr.config import Settings
from ivr.jobs.queue import QUEUE_NAME, enqueue_transcription
from ivr.jobs.transcription import transcribe_recording
from ivr.services.scheduling import Recording
from ivr.services.transcription import RecordingRefused, media_url
from ivr.store.calllog import CallLog
from speech.audio import Resampler
from speech.wav import pcm_wav
from webhooks import create_app

ACCOUNT = "AC" + "1" * 32
TOKEN = "transcription-test-token"
SID = "CA" + "b" * 32
RECORDING_PATH = f"/2010-04-01/Accounts/{ACCOUNT}/Recordings/RE" + "c" * 32
SPOKEN = "오늘"  # espeak-ng's Korean voice says this one clearly enough for the model's whole vocabulary

KOREAN_FLOW = """\
    language: ko-KR
    start: message
    nodes:
      message:
        voicemail: {prompt: "메시지를 남겨 주세요.", max_length: 1m, mailbox: support}
        next: thanks
      thanks:
        hangup: "감사합니다."
    """


def korean_wav(tmp_path: Path, text: str = SPOKEN) -> bytes:
    """What Twilio serves for a recording: 8 kHz 16-bit mono PCM WAV, here of espeak-ng's Korean voice."""
    raw = tmp_path / "espeak.wav"
    subprocess.run(["espeak-ng", "-v", "ko", "-s", "150", "-w", str(raw), text], check=True)
    with wave.open(str(raw)) as source:
        pcm = Resampler(source.getframerate(), 8000).convert(source.readframes(source.getnframes()))
    return pcm_wav(pcm, 8000)


class RecordingServer:
    """Twilio's API for recordings on loopback: ``GET {RecordingUrl}.wav`` with HTTP basic auth."""

    def __init__(self, body: bytes, status: int = 200):
        self.body, self.status = body, status
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                expected = "Basic " + base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()
                if self.headers.get("Authorization") != expected:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="Twilio API"')
                    self.end_headers()
                    return
                if self.path != f"{RECORDING_PATH}.wav" or server.status != 200:
                    self.send_error(404 if server.status == 200 else server.status)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "audio/x-wav")
                self.send_header("Content-Length", str(len(server.body)))
                self.end_headers()
                self.wfile.write(server.body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def voicemail(tmp_path_factory) -> bytes:
    return korean_wav(tmp_path_factory.mktemp("voicemail"))


@pytest.fixture
def twilio_api(voicemail, monkeypatch, tmp_path):
    server = RecordingServer(voicemail)
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    monkeypatch.setenv("TWILIO_API_URL", server.url)
    monkeypatch.setenv("IVR_SPEECH_MODELS_DIR", str(tmp_path / "models"))
    yield server
    server.close()


def run_worker(redis) -> None:
    SimpleWorker([QUEUE_NAME], connection=redis).work(burst=True)


def call_with_voicemail(redis, url: str, language: str = "ko-KR") -> CallLog:
    calllog = CallLog(redis, ttl=600)
    calllog.start(SID, caller="+821012345678", called="+15550100100", flow="main", version=1, started_at=1.0)
    enqueue_transcription(redis, calllog, Recording(SID, url, language, "main", "message", 3))
    return calllog


def signed_post(client, url: str, params: dict[str, str]):
    signature = RequestValidator(TOKEN).compute_signature(url, params)
    return client.post(url[len("http://localhost"):], data=params, headers={"X-Twilio-Signature": signature})


def test_a_korean_voicemail_is_transcribed_by_the_worker_and_shown_on_the_call(redis, twilio_api, tmp_path):
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "main.yaml").write_text(textwrap.dedent(KOREAN_FLOW))
    settings = replace(Settings(), twilio_account_sid=ACCOUNT, twilio_auth_token=TOKEN, flows_dir=flows,
                       api_token="api-secret", twilio_api_url=twilio_api.url)
    app = create_app(settings, redis_client=redis)
    client = app.test_client()
    answer = signed_post(client, "http://localhost/twilio/voice",
                         {"CallSid": SID, "From": "+821012345678", "To": "+15550100100", "CallStatus": "ringing"})
    action = ET.fromstring(answer.data).find("Record").get("action")
    signed_post(client, action, {"CallSid": SID, "RecordingUrl": twilio_api.url + RECORDING_PATH,
                                 "RecordingSid": RECORDING_PATH[-34:], "RecordingDuration": "2"})
    assert app.extensions["ivr"].calllog.get(SID)["transcript_status"] == "queued"

    run_worker(redis)

    assert twilio_api.requests == [f"{RECORDING_PATH}.wav"]
    record = client.get(f"/api/calls/{SID}", headers={"Authorization": "Bearer api-secret"}).get_json()
    assert record["transcript_status"] == "done" and record["transcript_language"] == "ko-KR"
    assert SPOKEN in record["transcript"].split() and 0 < record["transcript_confidence"] <= 1
    step = record["steps"][-1]
    assert (step["kind"], step["outcome"], step["node"], step["text"]) == \
        ("transcription", "done", "message", record["transcript"])
    assert f"voicemail transcript (ko-KR, done): '{record['transcript']}'" in format_call(record)


def test_wrong_credentials_are_recorded_as_a_failure(redis, twilio_api, monkeypatch):
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "not-the-token")
    calllog = call_with_voicemail(redis, twilio_api.url + RECORDING_PATH)
    job = Queue(QUEUE_NAME, connection=redis).jobs[0]
    run_worker(redis)
    record = calllog.get(SID)
    assert job.get_status(refresh=True) == "finished"
    assert record["transcript_status"] == "failed" and "refused the credentials (HTTP 401)" in record["transcript_error"]
    assert record["steps"][-1]["outcome"] == "failed" and "transcript" not in record


@pytest.mark.parametrize("url", [
    "http://169.254.169.254" + RECORDING_PATH,                       # another host entirely
    "https://api.twilio.com@evil.example" + RECORDING_PATH,          # credentials-in-URL trick
    "http://api.twilio.com" + RECORDING_PATH,                         # Twilio, but not over https
    "https://api.twilio.com/2010-04-01/Accounts/" + "AC" + "9" * 32 + "/Recordings/RE1",  # another account
])
def test_a_recording_url_naming_another_host_is_refused(redis, twilio_api, url):
    calllog = call_with_voicemail(redis, url)
    run_worker(redis)
    record = calllog.get(SID)
    assert record["transcript_status"] == "refused" and "not fetched" in record["transcript_error"]
    assert twilio_api.requests == []


def test_only_twilio_and_the_configured_api_host_are_fetched_from():
    assert media_url("https://api.twilio.com" + RECORDING_PATH, ACCOUNT, None) == \
        f"https://api.twilio.com{RECORDING_PATH}.wav"
    assert media_url("http://127.0.0.1:8099" + RECORDING_PATH + ".wav", ACCOUNT, "http://127.0.0.1:8099") == \
        f"http://127.0.0.1:8099{RECORDING_PATH}.wav"
    with pytest.raises(RecordingRefused):
        media_url("http://127.0.0.1:8100" + RECORDING_PATH, ACCOUNT, "http://127.0.0.1:8099")


def test_a_language_without_a_model_is_recorded_without_fetching(redis, twilio_api):
    calllog = call_with_voicemail(redis, twilio_api.url + RECORDING_PATH, language="en-US")
    run_worker(redis)
    record = calllog.get(SID)
    assert (record["transcript_status"], record["transcript_error"]) == ("no-model", "no model for en-US")
    assert twilio_api.requests == []


def test_an_unavailable_recording_is_retried_then_recorded_as_failed(redis, twilio_api):
    twilio_api.status = 503
    calllog = call_with_voicemail(redis, twilio_api.url + RECORDING_PATH)
    job = Queue(QUEUE_NAME, connection=redis).jobs[0]
    run_worker(redis)
    job.refresh()
    assert job.get_status() == "scheduled" and job.retries_left == 3  # back later, by rq.Retry
    assert calllog.get(SID)["transcript_status"] == "queued"
    outcome = transcribe_recording(SID, twilio_api.url + RECORDING_PATH, "ko-KR", connection=redis)  # last try
    assert outcome["status"] == "failed" and "HTTP 503" in outcome["error"]


def test_a_recording_is_transcribed_once(redis, twilio_api):
    calllog = call_with_voicemail(redis, twilio_api.url + RECORDING_PATH)
    run_worker(redis)
    again = transcribe_recording(SID, twilio_api.url + RECORDING_PATH, "ko-KR", connection=redis)
    enqueue_transcription(redis, calllog, Recording(SID, twilio_api.url + RECORDING_PATH, "ko-KR"))
    run_worker(redis)
    record = calllog.get(SID)
    assert again == {"status": "already transcribed"} and len(twilio_api.requests) == 1
    assert record["transcript_status"] == "done" and SPOKEN in record["transcript"].split()
    assert [s["kind"] for s in record["steps"]] == ["transcription"]
