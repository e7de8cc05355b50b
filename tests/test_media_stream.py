"""Speech prompts over a real WebSocket: the media endpoint, the real Korean Vosk model, and the simulator's side
of Twilio's Media Streams protocol (speech synthesized by espeak-ng, keys as dtmf events)."""

from __future__ import annotations

import pytest
from simple_websocket import Client, ConnectionClosed, ConnectionError
from twilio.request_validator import RequestValidator

from ivr.engine.instructions import Gather, Listen, Say, Tts
from ivr.simulator.stream import Answer, run_stream
from ivr.store.listening import ListenStore, ListenTurn
from ivr.store.sessions import Session, SessionStore

from tests.test_webhooks import TOKEN, make_app, write_flows

SID = "CA" + "b" * 32
ACCOUNT = "AC" + "0" * 32
PHRASES = ("상담원", "정전", "영업 시간", "요금")


@pytest.fixture
def served(redis, tmp_path):
    from ivr.simulator import LoopbackServer
    app = make_app(redis, write_flows(tmp_path / "flows"))
    with LoopbackServer(app) as server:
        yield app, server


def listen_turn(app, seq: int = 3, phrases=PHRASES, **gather_args) -> ListenTurn:
    """A live call waiting at speech prompt ``seq``, as the voice webhook leaves it."""
    services = app.extensions["ivr"]
    SessionStore(services.redis, 600).create(SID, Session(seq, {"call_sid": SID, "version": 1}))
    gather = Gather((Say("말씀하세요"),), language="ko-KR", listen=Listen(phrases), **gather_args)
    turn = ListenTurn.for_gather(SID, seq, gather, TOKEN)
    services.listening.put_turn(turn)
    return turn


def stream(server, turn: ListenTurn, answer: Answer, *, call_sid: str = SID, token: str | None = None,
           sign_with: str = TOKEN):
    url = server.base_url.replace("http://", "ws://") + "/twilio/media"
    headers = {"X-Twilio-Signature": RequestValidator(sign_with).compute_signature(url, {})}
    params = {"call_sid": turn.call_sid, "seq": str(turn.seq), "token": token or turn.token}
    return run_stream(url, headers, call_sid, ACCOUNT, params, answer)


def test_a_spoken_phrase_is_recognized_and_the_server_ends_the_stream(served):
    app, server = served
    turn = listen_turn(app)
    report = stream(server, turn, Answer(text="정전"))
    heard = ListenStore(app.extensions["ivr"].redis).heard(SID, turn.seq)
    assert heard is not None and heard.outcome == "match" and heard.phrase == "정전"
    assert report.closed_by_server  # closing the socket is what sends Twilio to the <Connect action>


def test_keys_on_the_stream_answer_a_speech_prompt(served):
    app, server = served
    turn = listen_turn(app, num_digits=4, finish_on_key="#")
    stream(server, turn, Answer(keys="12#"))
    heard = ListenStore(app.extensions["ivr"].redis).heard(SID, turn.seq)
    assert heard is not None and (heard.outcome, heard.digits, heard.text) == ("dtmf", "12", "")


def test_silence_is_no_input(served):
    app, server = served
    turn = listen_turn(app)
    stream(server, turn, Answer())
    heard = ListenStore(app.extensions["ivr"].redis).heard(SID, turn.seq)
    assert heard is not None and heard.outcome == "no-input"


@pytest.mark.parametrize("change", ["token", "call_sid", "stale"])
def test_a_stream_must_match_the_call_and_its_prompt(served, change):
    app, server = served
    turn = listen_turn(app)
    if change == "token":
        report = stream(server, turn, Answer(text="정전"), token="0" * 32)
    elif change == "call_sid":  # the parameters name one call, Twilio's start message another
        report = stream(server, turn, Answer(text="정전"), call_sid="CA" + "c" * 32)
    else:  # the call moved on since this prompt
        SessionStore(app.extensions["ivr"].redis, 600).delete(SID)
        listen_turn(app, seq=4)
        report = stream(server, turn, Answer(text="정전"))
    assert report.closed_by_server
    assert ListenStore(app.extensions["ivr"].redis).heard(SID, turn.seq) is None


def test_an_unsigned_upgrade_is_refused_before_any_audio(served):
    app, server = served
    turn = listen_turn(app)
    with pytest.raises(ConnectionError) as refused:
        stream(server, turn, Answer(text="정전"), sign_with="wrong-token")
    assert refused.value.status_code == 403
    url = server.base_url.replace("http://", "ws://") + "/twilio/media"
    with pytest.raises(ConnectionError) as unsigned:
        Client.connect(url)
    assert unsigned.value.status_code == 403


def test_a_local_prompt_plays_into_the_stream_and_stops_when_the_caller_speaks(served):
    """In a ``tts: local`` flow the prompt is rendered (pyttsx3) and played into the stream; speaking over it sends
    Twilio a ``clear``."""
    app, server = served
    services = app.extensions["ivr"]
    SessionStore(services.redis, 600).create(SID, Session(3, {"call_sid": SID, "version": 1}))
    prompt = Say("잔액 조회는 1번, 정전 신고는 2번, 영업시간 안내는 3번을 누르시거나 말씀해 주세요.", None, "ko-KR",
                 Tts.LOCAL)
    turn = ListenTurn.for_gather(SID, 3, Gather((prompt,), language="ko-KR", listen=Listen(PHRASES)), TOKEN,
                                 ({"say": prompt.text, "language": "ko-KR"},))
    services.listening.put_turn(turn)
    report = stream(server, turn, Answer(text="상담원"))
    expected_ms = len(services.prompts.ulaw(prompt)) // 8
    assert expected_ms > 2000 and report.played_ms == expected_ms and report.marks == ["prompt-end"]
    assert report.cleared  # barge-in: Twilio is told to drop the rest of the prompt
    heard = ListenStore(services.redis).heard(SID, turn.seq)
    assert heard is not None and heard.phrase == "상담원"


def test_garbage_and_oversized_messages_never_reach_the_recognizer(served):
    from ivr.simulator.stream import _Client
    app, server = served
    turn = listen_turn(app)
    url = server.base_url.replace("http://", "ws://") + "/twilio/media"
    ws = _Client.connect(url, headers={"X-Twilio-Signature": RequestValidator(TOKEN).compute_signature(url, {})})
    ws.send("not json")
    ws.send('{"event": "media", "media": {"payload": "%%%"}}')
    ws.send("x" * 200_000)  # over the message size limit: the server drops the connection
    with pytest.raises(ConnectionClosed):
        for _ in range(3):
            ws.receive(timeout=5)
    assert ListenStore(app.extensions["ivr"].redis).heard(SID, turn.seq) is None


def test_a_recorded_wav_file_is_played_into_the_stream(served, tmp_path):
    """A caller's recording at its own rate (espeak-ng writes 22 kHz PCM) reaches the recognizer as Twilio's 8 kHz."""
    import subprocess
    app, server = served
    turn = listen_turn(app)
    recording = tmp_path / "caller.wav"
    subprocess.run(["espeak-ng", "-v", "ko", "-w", str(recording), "정전"], check=True)
    stream(server, turn, Answer.parse(f"wav:{recording}"))
    heard = ListenStore(app.extensions["ivr"].redis).heard(SID, turn.seq)
    assert heard is not None and heard.phrase == "정전"


@pytest.mark.parametrize("tts, in_stream", [("local", True), ("twilio", False)])
def test_a_local_flow_plays_its_speech_prompt_in_the_stream_others_say_it_first(redis, tmp_path, tts, in_stream):
    import xml.etree.ElementTree as ET

    from tests.test_webhooks import Twilio
    app = make_app(redis, write_flows(tmp_path / "flows", f"""\
        language: ko-KR
        tts: {tts}
        speech: {{}}
        nodes:
          menu:
            menu:
              prompt: "정전 신고는 1번을 누르시거나 말씀해 주세요."
              options: [{{key: 1, phrases: [정전], goto: bye}}]
          bye:
            hangup: "안녕히 계세요."
        """))
    root = ET.fromstring(Twilio(app).call().data)
    assert [child.tag for child in root] == (["Connect"] if in_stream else ["Say", "Connect"])
    params = {p.get("name"): p.get("value") for p in root.iter("Parameter")}
    turn = app.extensions["ivr"].listening.turn(params["call_sid"], int(params["seq"]))
    assert turn is not None and turn.matches(params["call_sid"], params["token"])
    assert turn.prompts == (({"say": "정전 신고는 1번을 누르시거나 말씀해 주세요.", "voice": "", "language": "ko-KR"},)
                            if in_stream else ())
