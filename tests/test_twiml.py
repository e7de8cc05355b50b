"""Engine instructions rendered as TwiML by twilio's VoiceResponse: exact documents."""

from __future__ import annotations

from ivr.engine import instructions as ins
from ivr.telephony.twiml import fallback, render

HEAD = '<?xml version="1.0" encoding="UTF-8"?>'


def url_for(kind: str) -> str:
    return f"https://ivr.example.com/twilio/continue?seq=3&on={kind}"


def rendered(*items) -> str:
    return render(list(items), url_for, "https://ivr.example.com/twilio/wait")


def test_gather_with_prompts_and_no_input_redirect():
    xml = rendered(ins.Gather((ins.Say("Press 1 & 2 <now>", "Polly.Joanna", "en-US"), ins.Pause(1),
                               ins.Play("https://x/a.mp3")), num_digits=1, finish_on_key="", timeout=6))
    assert xml == (
        HEAD + '<Response><Gather action="https://ivr.example.com/twilio/continue?seq=3&amp;on=gather" '
        'actionOnEmptyResult="false" finishOnKey="" input="dtmf" method="POST" numDigits="1" timeout="6">'
        '<Say language="en-US" voice="Polly.Joanna">Press 1 &amp; 2 &lt;now&gt;</Say><Pause length="1" />'
        '<Play>https://x/a.mp3</Play></Gather>'
        '<Redirect method="POST">https://ivr.example.com/twilio/continue?seq=3&amp;on=noinput</Redirect>'
        '</Response>')


def test_dial_number_sip_and_client():
    number = rendered(ins.Dial("+15551234567", ins.DialKind.NUMBER, "+15550100100", 30))
    assert '<Dial action="https://ivr.example.com/twilio/continue?seq=3&amp;on=dial" callerId="+15550100100" ' \
           'method="POST" timeout="30"><Number>+15551234567</Number></Dial>' in number
    assert "<Sip>sip:desk@pbx.example.com</Sip>" in rendered(ins.Dial("sip:desk@pbx.example.com", ins.DialKind.SIP))
    assert "<Client>alice</Client>" in rendered(ins.Dial("alice", ins.DialKind.CLIENT))


def test_enqueue_record_hangup():
    xml = rendered(ins.Say("Hold on."), ins.Enqueue(ins.RoutingRequest("billing", {"billing": 3})))
    assert '<Enqueue action="https://ivr.example.com/twilio/continue?seq=3&amp;on=queue" method="POST" ' \
           'waitUrl="https://ivr.example.com/twilio/wait" waitUrlMethod="POST">billing</Enqueue>' in xml
    record = rendered(ins.Record(max_length=120, finish_on_key="#", timeout=5))
    assert '<Record action="https://ivr.example.com/twilio/continue?seq=3&amp;on=record" finishOnKey="#" ' \
           'maxLength="120" method="POST" playBeep="true" timeout="5" />' in record
    assert rendered(ins.Say("Bye."), ins.Hangup()) == HEAD + "<Response><Say>Bye.</Say><Hangup /></Response>"


def test_a_say_with_rendered_audio_becomes_a_play_and_others_stay_said():
    def audio_for(say: ins.Say) -> str | None:
        return "https://ivr.example.com/prompts/" + "a" * 32 + ".wav" if say.tts is ins.Tts.LOCAL else None

    xml = render([ins.Say("Hello.", "Polly.Joanna", "en-US", ins.Tts.LOCAL),
                  ins.Gather((ins.Say("Press 1.", None, "en-US", ins.Tts.LOCAL), ins.Say("Or wait & see."))),
                  ins.Hangup()], url_for, "https://ivr.example.com/twilio/wait", audio_for)
    play = "<Play>https://ivr.example.com/prompts/" + "a" * 32 + ".wav</Play>"
    assert xml == (
        HEAD + "<Response>" + play + '<Gather action="https://ivr.example.com/twilio/continue?seq=3&amp;on=gather" '
        'actionOnEmptyResult="false" finishOnKey="#" input="dtmf" method="POST" timeout="5">'
        + play + "<Say>Or wait &amp; see.</Say></Gather>"
        '<Redirect method="POST">https://ivr.example.com/twilio/continue?seq=3&amp;on=noinput</Redirect>'
        "<Hangup /></Response>")


def test_fallback_variants():
    assert "<Dial><Number>+15557770000</Number></Dial>" in fallback("Sorry.", "+15557770000", None, "w")
    assert '<Enqueue waitUrl="w" waitUrlMethod="POST">support</Enqueue>' in fallback("Sorry.", None, "support", "w")
    assert fallback("Sorry.", None, None, "w").endswith("<Hangup /></Response>")


def test_ringing_an_agent_is_the_document_the_agent_api_sent():
    # The agent API built this document itself (VoiceResponse in webhooks/api/agents.py) before it switched to the
    # serializer: the documents below are what it sent then, byte for byte.
    from flask import Flask

    from ivr.telephony.twiml import ring_agent
    from ivr.telephony.urls import agent_leg_path
    from routing.model import Agent
    from webhooks.api.agents import AGENT_RING_SECONDS, _ring_agent_twiml

    dial = '<Dial action="https://ivr.example.com/twilio/agent?agent=alice" method="POST" timeout="20">'
    sent_before = {
        "": "<Client>alice</Client>",
        "client:bob": "<Client>bob</Client>",
        "sip:alice@pbx.example.com": "<Sip>sip:alice@pbx.example.com</Sip>",
        "+15550100123": "<Number>+15550100123</Number>",
    }
    app = Flask(__name__)
    app.config["IVR_SETTINGS"] = type("S", (), {"public_url": "https://ivr.example.com"})()
    for contact, target in sent_before.items():
        agent = Agent("alice", "Alice", {}, contact=contact)
        expected = HEAD + f"<Response><Say>Connecting you to an agent now.</Say>{dial}{target}</Dial></Response>"
        with app.test_request_context("/"):
            assert _ring_agent_twiml(agent) == expected
        assert ring_agent(agent.id, agent.contact, "https://ivr.example.com" + agent_leg_path(agent.id),
                          AGENT_RING_SECONDS) == expected


def test_callback_goodbye_leave_redirect_and_hold_documents():
    from ivr.telephony.twiml import goodbye, hold, redirect

    assert goodbye("Bye & thanks.") == HEAD + '<Response><Say>Bye &amp; thanks.</Say><Hangup /></Response>'
    assert redirect("https://ivr.example.com/twilio/continue?seq=2&on=leave") == (
        HEAD + '<Response><Redirect method="POST">https://ivr.example.com/twilio/continue?seq=2&amp;on=leave'
        '</Redirect></Response>')
    assert hold(["One.", "Two."], None, None, None, 10) == (
        HEAD + '<Response><Say>One.</Say><Say>Two.</Say><Pause length="10" /></Response>')
    assert hold(["Uno."], "Polly.Lupe", "es-US", "https://x/m.mp3", 10) == (
        HEAD + '<Response><Say language="es-US" voice="Polly.Lupe">Uno.</Say><Play>https://x/m.mp3</Play>'
        '</Response>')
