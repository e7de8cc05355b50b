"""Prompts of ``tts: local`` flows: rendered on publish by a real RQ worker, served over HTTP, played in TwiML;
real Redis, real pyttsx3 and espeak-ng."""

from __future__ import annotations

import re
import textwrap
import xml.etree.ElementTree as ET
from dataclasses import replace

import pytest
from click.testing import CliRunner
from rq import Queue, SimpleWorker
from test_webhooks import SID, Twilio, make_app, texts, write_flows

from ivr.cli import main
from ivr.config import Settings
from ivr.engine import instructions as ins
from ivr.flowlang.compile import load_bundle
from ivr.jobs.queue import QUEUE_NAME
from ivr.services.prompts import static_prompts
from speech import keys
from speech.prompts import PromptCache, frames, key_for
from speech.wav import read_ulaw_wav

RATE = Settings().tts_rate
PLAY = re.compile(r"^http://localhost/prompts/([0-9a-f]{32})\.wav$")

LOCAL_FLOW = """\
    language: en-US
    voice: Polly.Joanna
    tts: local
    variables: {balance: "42.10"}
    nodes:
      hello:
        say: ["Welcome to Northwind.", {pause: 1}, "Your balance is {{ balance | money }}."]
        next: menu
      menu:
        menu:
          prompt:
            - "Press 1 to finish."
            - {say: "Para español, oprima 2.", language: es-US, voice: Polly.Lupe}
          options: [{key: 1, goto: bye}, {key: 2, goto: bye}]
          no_input: "Sorry, I did not hear you."
          no_match: "You pressed {{ last_input }}."
          retries: 3
          fallback: bye
      bye:
        hangup: "Goodbye."
    """
STATIC = ["Welcome to Northwind.", "Press 1 to finish.", "Para español, oprima 2.", "Sorry, I did not hear you.",
          "Goodbye."]


def static_keys() -> set[str]:
    voices = {"Para español, oprima 2.": ("Polly.Lupe", "es-US")}
    return {key_for(text, *voices.get(text, ("Polly.Joanna", "en-US")), RATE) for text in STATIC}


def work(redis) -> None:
    SimpleWorker([QUEUE_NAME], connection=redis).work(burst=True)


def plays(response) -> list[str]:
    return [el.text for el in ET.fromstring(response.data).iter("Play")]


@pytest.fixture
def local_flows(tmp_path):
    return write_flows(tmp_path / "flows", LOCAL_FLOW)


def test_static_prompts_are_the_fixed_texts_of_local_flows_only():
    bundle = load_bundle({"main.yaml": textwrap.dedent(LOCAL_FLOW),
                          "other.yaml": "nodes:\n  a:\n    hangup: Said by Twilio.\n"})
    found = static_prompts(bundle, RATE)
    assert sorted(p.text for p in found) == sorted(STATIC)
    assert {p.key for p in found} == static_keys()
    assert bundle.flows["main"].tts is ins.Tts.LOCAL and bundle.flows["other"].tts is ins.Tts.TWILIO


def test_an_unknown_tts_mode_is_a_flow_error(tmp_path):
    from ivr.flowlang.check import check_files
    write_flows(tmp_path / "f", "tts: polly\nnodes:\n  a:\n    hangup: Bye.\n")
    assert any("tts" in str(d) for d in check_files([tmp_path / "f"]))


def test_publishing_queues_a_job_and_a_real_worker_renders_the_static_prompts(redis, local_flows):
    make_app(redis, local_flows)
    assert len(Queue(QUEUE_NAME, connection=redis)) == 1
    work(redis)
    cache = PromptCache(redis)
    assert all(cache.has(key) and redis.ttl(keys.prompt(key)) == -1 for key in static_keys())
    assert read_ulaw_wav(cache.get_wav(key_for("Goodbye.", "Polly.Joanna", "en-US", RATE)))[0] == 8000
    make_app(redis, local_flows)  # published again at the next start: everything is cached, no job
    assert len(Queue(QUEUE_NAME, connection=redis)) == 0


def test_default_flows_queue_no_render_job(redis, tmp_path):
    make_app(redis, write_flows(tmp_path / "flows"))
    assert len(Queue(QUEUE_NAME, connection=redis)) == 0


def test_local_flow_plays_cached_prompts_and_renders_dynamic_text_on_demand(redis, local_flows):
    app = make_app(redis, local_flows)
    work(redis)
    response = Twilio(app).call()
    urls = plays(response)
    assert texts(response) == [] and len(urls) == 4  # welcome, balance, the menu's two prompts: nothing said
    keys_played = [PLAY.match(url).group(1) for url in urls]
    assert keys_played[0] == key_for("Welcome to Northwind.", "Polly.Joanna", "en-US", RATE)
    balance = key_for("Your balance is 42 dollars and 10 cents.", "Polly.Joanna", "en-US", RATE)
    assert balance in keys_played and 0 < redis.ttl(keys.prompt(balance)) <= Settings().tts_dynamic_ttl
    assert ET.fromstring(response.data).find("Gather/Play") is not None  # prompts inside the Gather play too


def test_in_queue_mode_uncached_dynamic_text_is_said_now_and_played_next_time(redis, local_flows):
    app = make_app(redis, local_flows, tts_on_demand="queue")
    work(redis)
    twilio = Twilio(app)
    first = twilio.call()
    assert texts(first) == ["Your balance is 42 dollars and 10 cents."]  # said by Twilio this time
    assert len(plays(first)) == 3
    work(redis)  # the job queued by that answer renders it
    again = Twilio(app).call(CallSid="CA" + "b" * 32)
    assert texts(again) == [] and len(plays(again)) == 4


def test_caller_controlled_text_is_escaped_by_the_library(redis, local_flows):
    attack = '</Say><Dial>+19005550000</Dial><Say>'
    twilio = Twilio(make_app(redis, local_flows, tts_on_demand="queue"))
    said = twilio.follow(twilio.call(), "Gather", SpeechResult=attack)
    assert ET.fromstring(said.data).find(".//Dial") is None and f"You pressed {attack}." in texts(said)
    twilio = Twilio(make_app(redis, local_flows))  # rendered on demand: the words become a hashed URL
    played = twilio.follow(twilio.call(CallSid="CA" + "c" * 32), "Gather", CallSid="CA" + "c" * 32,
                           SpeechResult=attack)
    assert ET.fromstring(played.data).find(".//Dial") is None and texts(played) == []
    assert all(PLAY.match(url) for url in plays(played))


def test_a_prompt_that_cannot_be_rendered_is_said_by_twilio(redis, tmp_path):
    flows = write_flows(tmp_path / "flows", "tts: local\nlanguage: xx-YY\nnodes:\n  a:\n    hangup: Bye.\n")
    app = make_app(redis, flows)
    work(redis)  # the job logs the failure and renders what it can
    response = Twilio(app).call()
    assert texts(response) == ["Bye."] and plays(response) == []


def test_twiml_of_default_flows_is_unchanged(redis, tmp_path):
    app = make_app(redis, write_flows(tmp_path / "flows"))
    response = Twilio(app).call()
    assert plays(response) == [] and texts(response) == ["Press 1 to finish."]


def test_media_streams_get_frames_of_any_say(redis, tmp_path):
    app = make_app(redis, write_flows(tmp_path / "flows"))
    prompts = app.extensions["ivr"].prompts
    twilio_said = ins.Say("Please say billing or outages.", "Polly.Joanna", "en-US")
    assert prompts.key(twilio_said) is None  # a default flow's TwiML keeps its Say...
    ulaw = prompts.ulaw(twilio_said)  # ...but a stream has no Twilio voice: rendered here
    assert ulaw and ulaw == PromptCache(redis).get_ulaw(key_for(twilio_said.text, "Polly.Joanna", "en-US", RATE))
    assert all(len(chunk) == 160 for chunk in list(frames(ulaw))[:-1])
    assert prompts.ulaw(ins.Say("Bye.", None, "xx-YY")) is None


# -- HTTP ----------------------------------------------------------------------------------------------------------
def test_prompt_audio_is_served_with_strong_caching(redis, local_flows):
    app = make_app(redis, local_flows)
    work(redis)
    client = app.test_client()
    key = key_for("Goodbye.", "Polly.Joanna", "en-US", RATE)
    response = client.get(f"/prompts/{key}.wav")
    assert response.status_code == 200 and response.mimetype == "audio/wav"
    assert response.headers["ETag"] == f'"{key}"'
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert read_ulaw_wav(response.data) == (8000, PromptCache(redis).get_ulaw(key))
    again = client.get(f"/prompts/{key}.wav", headers={"If-None-Match": f'"{key}"'})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == f'"{key}"'
    assert client.head(f"/prompts/{key}.wav").status_code == 200


@pytest.mark.parametrize("path", ["/prompts/" + "0" * 32 + ".wav", "/prompts/NOTAKEY.wav",
                                  "/prompts/..%2F..%2Fetc%2Fpasswd.wav", "/prompts/" + "a" * 33 + ".wav"])
def test_unknown_or_malformed_prompt_keys_are_a_plain_404(redis, local_flows, path):
    response = make_app(redis, local_flows).test_client().get(path)
    assert response.status_code == 404 and response.mimetype == "text/plain"


# -- command line --------------------------------------------------------------------------------------------------
def test_ivr_prompts_render(redis, redis_url, local_flows):
    make_app(redis, local_flows)
    Queue(QUEUE_NAME, connection=redis).empty()
    env = {"REDIS_URL": redis_url, "IVR_FLOWS_DIR": str(local_flows)}
    first = CliRunner().invoke(main, ["prompts", "render"], env=env)
    assert first.exit_code == 0, first.output
    assert "5 static prompt(s)" in first.output and "rendered 5, already cached 0, failed 0" in first.output
    second = CliRunner().invoke(main, ["prompts", "render"], env=env)
    assert "rendered 0, already cached 5, failed 0" in second.output
