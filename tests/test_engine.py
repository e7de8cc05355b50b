"""The pure step function, driven event by event (no Redis, no HTTP)."""

from __future__ import annotations

import textwrap
from datetime import datetime, timezone
from pathlib import Path

import pytest

from ivr.engine import instructions as ins
from ivr.engine.answers import luhn_valid
from ivr.engine.events import (AgentCallEnded, CallStarted, DialEnded, Input, LookupDone, NoAgentsSignedIn, NoInput,
                               QueueEnded, RecordingEnded)
from ivr.engine.queue import NoAgentsPolicy, when_no_agents
from ivr.engine.state import CallState, Disposition, StepResult, Waiting, new_call
from ivr.engine.step import step
from ivr.errors import EngineError
from ivr.flowlang.compile import load_bundle
from ivr.flowlang.sources import read_directory

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=timezone.utc)  # Monday 10:00 in New York
SAMPLES = Path(__file__).resolve().parent.parent / "flows"


def bundle_of(text: str, **others: str):
    sources = {"main.yaml": textwrap.dedent(text)}
    sources.update({f"{name}.yaml": textwrap.dedent(body) for name, body in others.items()})
    return load_bundle(sources)


def said(instructions) -> list[str]:
    out = []
    for item in instructions:
        if isinstance(item, ins.Say):
            out.append(item.text)
        elif isinstance(item, ins.Gather):
            out.extend(p.text for p in item.prompts if isinstance(p, ins.Say))
    return out


class Call:
    """Drives one call through the engine, keeping the state between events."""

    def __init__(self, bundle, called="+15550100100", caller="+15551230000", now=NOW):
        self.bundle, self.now = bundle, now
        self.state = new_call(1, "CA" + "0" * 32)
        self.out = self.send(CallStarted(now, caller, called, self.state.call_sid))

    def send(self, event):
        result = step(self.bundle, self.state, event)
        self.state, self.log = result.state, result.log
        self.out = result.instructions
        return result.instructions

    def press(self, digits):
        return self.send(Input(self.now, digits=digits))

    def silence(self):
        return self.send(NoInput(self.now))


MENU = """\
    defaults: {no_input: "I did not hear you.", no_match: "Not a choice.", retries: 1}
    nodes:
      menu:
        menu:
          prompt: "Press 1 for sales, 2 for support."
          options:
            - {key: 1, phrases: [sales], goto: sales, set: {topic: sales}}
            - {key: 2, phrases: [support, technical support], goto: support}
          fallback: operator
      sales:
        hangup: "Sales, {{topic}}. Bye."
      support:
        hangup: "Support. Bye."
      operator:
        transfer: {to: "+15559990000", on_failure: sorry}
      sorry:
        hangup: "Nobody answered."
    """


def test_menu_prompt_is_a_gather_with_one_digit():
    call = Call(bundle_of(MENU))
    gather = call.out[-1]
    assert isinstance(gather, ins.Gather) and gather.num_digits == 1
    assert said(call.out) == ["Press 1 for sales, 2 for support."]
    assert gather.hints == ("sales", "support", "technical support")
    assert call.state.waiting is Waiting.GATHER


def test_menu_choice_sets_variables_and_goes_on():
    call = Call(bundle_of(MENU))
    out = call.press("1")
    assert said(out) == ["Sales, sales. Bye."] and isinstance(out[-1], ins.Hangup)
    assert call.state.disposition is Disposition.SELF_SERVICE and call.state.ended


def test_menu_speech_matches_the_longest_phrase():
    call = Call(bundle_of(MENU))
    assert said(call.send(Input(NOW, speech="I need Technical Support please"))) == ["Support. Bye."]


def test_no_input_then_no_match_then_fallback():
    call = Call(bundle_of(MENU))
    out = call.silence()
    assert said(out) == ["I did not hear you.", "Press 1 for sales, 2 for support."]
    out = call.press("7")
    assert isinstance(out[-1], ins.Dial) and out[-1].target == "+15559990000"
    assert [e["outcome"] for e in call.log][:2] == ["no-match", "retries-exhausted"]


def test_transfer_failure_branch_and_success_disposition():
    call = Call(bundle_of(MENU))
    call.silence(), call.silence()
    out = call.send(DialEnded(NOW, "no-answer"))
    assert said(out) == ["Nobody answered."]
    call = Call(bundle_of(MENU))
    call.silence(), call.silence()
    out = call.send(DialEnded(NOW, "completed", 42))
    assert isinstance(out[-1], ins.Hangup) and call.state.disposition is Disposition.TRANSFERRED


COLLECT = """\
    nodes:
      ask:
        collect:
          prompt: "Card number?"
          var: card
          min_length: 8
          max_length: 8
          luhn: true
          invalid: "Invalid."
          confirm: "You entered {{card|digits}}. Press 1 if right, 2 to retry."
          retries: 2
          fallback: bye
        next: thanks
      thanks:
        hangup: "Thanks, card ending {{card|last:4}}."
      bye:
        hangup: "Goodbye."
    """


def test_collect_validates_luhn_and_confirms():
    call = Call(bundle_of(COLLECT))
    assert call.out[-1].num_digits == 8 and call.out[-1].finish_on_key == "#"
    out = call.press("12345678")
    assert said(out) == ["Invalid.", "Card number?"]
    out = call.press("12345674#")
    assert said(out) == ["You entered 1 2 3 4 5 6 7 4. Press 1 if right, 2 to retry."]
    assert call.state.waiting is Waiting.CONFIRM and "card" not in call.state.vars
    out = call.press("1")
    assert said(out) == ["Thanks, card ending 5674."]
    logged = [e.get("input") for e in call.log]
    assert "12345674" not in str(logged)  # collected digits are masked in the log


def test_collect_rejected_confirmation_asks_again():
    call = Call(bundle_of(COLLECT))
    call.press("12345674")
    out = call.press("2")
    assert said(out) == ["Card number?"] and call.state.waiting is Waiting.GATHER


def test_collect_exhausted_goes_to_fallback():
    call = Call(bundle_of(COLLECT))
    call.press("1"), call.press("2")
    assert said(call.press("3")) == ["Goodbye."]


@pytest.mark.parametrize("number,valid", [("12345674", True), ("12345678", False), ("79927398713", True),
                                          ("4111111111111111", True), ("0", True), ("abc", False)])
def test_luhn(number, valid):
    assert luhn_valid(number) is valid


LOOKUP = """\
    services:
      api: {url: "http://backend.example"}
    nodes:
      ask:
        collect: {prompt: "Account?", var: acct}
        next: fetch
      fetch:
        lookup:
          service: api
          path: "/accounts/{{acct}}"
          query: {who: "{{caller}}"}
          as: account
          save: {balance: account.balance}
          on_not_found: unknown
          on_failure: down
        next: read
      read:
        hangup: "Balance {{balance}} for {{account.name}}."
      unknown:
        hangup: "Unknown account."
      down:
        hangup: "System down."
    """


def test_lookup_is_an_effect_and_results_become_variables():
    call = Call(bundle_of(LOOKUP))
    out = call.press("12/../x")
    request = out[-1]
    assert isinstance(request, ins.Lookup) and call.state.waiting is Waiting.LOOKUP
    assert request.url == "http://backend.example/accounts/12"  # only digits are collected
    assert request.params == {"who": "+15551230000"}
    out = call.send(LookupDone(NOW, 200, {"name": "Ada", "account": {"balance": 12.5}}))
    assert said(out) == ["Balance 12.5 for Ada."]


@pytest.mark.parametrize("status,expected", [(404, "Unknown account."), (500, "System down."),
                                             (None, "System down.")])
def test_lookup_failure_branches(status, expected):
    call = Call(bundle_of(LOOKUP))
    call.press("42")
    assert said(call.send(LookupDone(NOW, status, None, error="x"))) == [expected]


def test_template_values_are_escaped_for_urls():
    bundle = bundle_of("""\
        variables: {name: "a/b?c=d&e"}
        services:
          api: {url: "http://h"}
        nodes:
          f:
            lookup: {service: api, path: "/x/{{name}}", on_failure: e}
            next: e
          e:
            hangup: true
        """)
    assert Call(bundle).out[-1].url == "http://h/x/a%2Fb%3Fc%3Dd%26e"


def test_subflow_returns_to_next_and_shares_variables():
    bundle = bundle_of("""\
        nodes:
          a:
            subflow: sub
            next: b
          b:
            hangup: "Back with {{x}}."
        """, sub="""\
        nodes:
          s:
            set: {x: "42"}
            next: r
          r:
            return: true
        """)
    call = Call(bundle)
    assert said(call.out) == ["Back with 42."] and call.state.stack == []


def test_queue_emits_enqueue_with_routing_request_on_session():
    bundle = bundle_of("""\
        nodes:
          q:
            queue: {name: billing, skills: {billing: 3}, priority: 2, prompt: "Please hold."}
            next: vm
          vm:
            voicemail: {prompt: "Leave a message.", max_length: 1m}
            next: bye
          bye:
            hangup: "Bye."
        """)
    call = Call(bundle)
    enqueue = call.out[-1]
    assert isinstance(enqueue, ins.Enqueue) and said(call.out) == ["Please hold."]
    assert call.state.routing == {"queue": "billing", "skills": {"billing": 3}, "priority": 2,
                                  "language": "en-US", "timeout": None}
    out = call.send(QueueEnded(NOW, "leave", 30))
    assert isinstance(out[-1], ins.Record) and out[-1].max_length == 60
    out = call.send(RecordingEnded(NOW, "https://api.twilio.com/rec/RE1", 12))
    assert said(out) == ["Bye."] and call.state.vars["recording_url"] == "https://api.twilio.com/rec/RE1"


def test_queue_bridged_ends_the_call_as_answered():
    call = Call(bundle_of("nodes:\n  q:\n    queue: {name: general}\n"))
    call.send(QueueEnded(NOW, "bridged", 10))
    assert call.state.ended and call.state.disposition is Disposition.ANSWERED


def test_agent_leg_answered_or_missed():
    call = Call(bundle_of("nodes:\n  q:\n    queue: {name: general, skills: [billing]}\n"))
    out = call.send(AgentCallEnded(NOW, "alice", "no-answer"))
    assert isinstance(out[-1], ins.Enqueue) and out[-1].request.skills == {"billing": 1}
    assert call.state.waiting is Waiting.QUEUE
    call.send(AgentCallEnded(NOW, "bob", "completed"))
    assert call.state.ended and call.state.disposition is Disposition.ANSWERED and call.state.vars["agent"] == "bob"


def test_caller_hanging_up_in_the_queue_is_abandoned():
    call = Call(bundle_of("nodes:\n  q:\n    queue: {name: general}\n"))
    call.send(QueueEnded(NOW, "hangup", 10))
    assert call.state.ended and call.state.disposition is Disposition.ABANDONED


def test_branch_on_caller_time_and_day():
    bundle = bundle_of("""\
        timezone: America/New_York
        nodes:
          b:
            branch:
              cases:
                - when: {var: caller, starts_with: "+44"}
                  goto: uk
                - when: {all: [{day: mon-fri}, {time: {from: "09:00", to: "17:00"}}]}
                  goto: open
              else: closed
          uk:
            hangup: UK
          open:
            hangup: Open
          closed:
            hangup: Closed
        """)
    assert said(Call(bundle, caller="+447700900000").out) == ["UK"]
    assert said(Call(bundle).out) == ["Open"]
    saturday = datetime(2026, 11, 28, 15, 0, tzinfo=timezone.utc)
    assert said(Call(bundle, now=saturday).out) == ["Closed"]


def test_runaway_loop_without_input_is_an_engine_error():
    bundle = bundle_of("""\
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
    with pytest.raises(EngineError, match="without input"):
        Call(bundle)


def test_event_that_does_not_fit_is_an_engine_error():
    call = Call(bundle_of(MENU))
    with pytest.raises(EngineError):
        call.send(DialEnded(NOW, "completed"))


def test_state_round_trips_through_a_dict():
    call = Call(bundle_of(COLLECT))
    call.press("12345674")
    again = CallState.from_dict(call.state.to_dict())
    assert again == call.state


def test_step_does_not_mutate_its_input_state():
    call = Call(bundle_of(MENU))
    before = call.state.to_dict()
    step(call.bundle, call.state, Input(NOW, digits="1"))
    assert call.state.to_dict() == before


# -- the sample flows --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def samples():
    return load_bundle(read_directory(SAMPLES))


def test_sample_hours_route_to_queue_when_open_and_voicemail_when_closed(samples):
    call = Call(samples, called="+15550100101")  # the direct English line
    out = call.press("0")
    assert isinstance(out[-1], ins.Enqueue) and out[-1].request.queue == "general"
    night = datetime(2026, 11, 24, 3, 0, tzinfo=timezone.utc)  # Monday 22:00 in New York
    call = Call(samples, called="+15550100101", now=night)
    out = call.press("0")
    assert said(out)[0] == "Our office is now closed. We open again on Tuesday, November 24 at 8:00 AM."
    christmas = datetime(2026, 12, 25, 15, 0, tzinfo=timezone.utc)
    call = Call(samples, called="+15550100101", now=christmas)
    assert said(call.press("0"))[0].startswith("Our office is closed today for Christmas Day.")


@pytest.mark.parametrize("to,kind,target", [
    ("sip:desk@pbx.example.com", ins.DialKind.SIP, "sip:desk@pbx.example.com"),
    ("client:alice", ins.DialKind.CLIENT, "alice"),
    ("+1 (555) 123-4567", ins.DialKind.NUMBER, "+15551234567"),
])
def test_transfer_targets(to, kind, target):
    call = Call(bundle_of(f'nodes:\n  t:\n    transfer: {{to: "{to}", timeout: 20s}}\n'))
    dial = call.out[-1]
    assert (dial.kind, dial.target, dial.timeout) == (kind, target, 20)


# -- speech ----------------------------------------------------------------------------------------------------------
SPEECH = """\
    language: en-US
    speech: {confidence: 0.6, no_input: 4s, end_silence: 500ms, max_utterance: 8s}
    intents:
      billing: {phrases: [billing, pay my bill], synonyms: [invoice]}
      support: [support, technical support]
    defaults: {no_input: "I did not hear you.", no_match: "Not a choice.", retries: 1}
    nodes:
      menu:
        menu:
          prompt: "Press 1 or say billing. Press 2 or say support."
          options:
            - {key: 1, intent: billing, goto: billing}
            - {key: 2, intent: support, phrases: [help], goto: support}
            - {key: 3, goto: reason}
          fallback: operator
      reason:
        listen:
          prompt: "Tell me briefly what you are calling about."
          intents: {billing: billing, support: support}
          entities: {amount: amount, date: pay_date, digits: null}
          var: reason
          fallback: operator
        next: noted
      noted:
        hangup: "Noted: {{reason}}."
      billing:
        hangup: "Billing {{intent}} {{amount}} {{pay_date}} {{entities.digits}}."
      support:
        hangup: "Support. Bye."
      operator:
        hangup: "Operator."
    """


def speak(call, text, confidence=0.9):
    return call.send(Input(NOW, speech=text, confidence=confidence))


def test_speech_menu_gather_listens_for_every_phrase_of_its_options():
    call = Call(bundle_of(SPEECH))
    listen = call.out[-1].listen
    assert listen == ins.Listen(phrases=("billing", "pay my bill", "invoice", "help", "support", "technical support"),
                                grammar=True, no_input_ms=4000, end_silence_ms=500, max_utterance_ms=8000)
    assert call.out[-1].hints == listen.phrases


def test_keys_only_flow_and_keys_only_node_have_no_listen():
    assert Call(bundle_of(MENU)).out[-1].listen is None
    text = SPEECH.replace("fallback: operator\n      reason:", "fallback: operator\n          speech: false\n"
                                                                "      reason:")
    assert Call(bundle_of(text)).out[-1].listen is None


def test_speech_picks_an_option_by_intent_synonym_and_logs_what_was_heard():
    call = Call(bundle_of(SPEECH))
    out = speak(call, "I have a question about my invoice", 0.8)
    assert said(out) == ["Billing    ."]
    chose = next(e for e in call.log if e["outcome"] == "chose")
    assert chose["heard"] == "I have a question about my invoice" and chose["confidence"] == 0.8
    assert chose["intent"] == "billing" and chose["target"] == "billing" and "input" not in chose
    assert call.state.vars["heard"] == "I have a question about my invoice"


def test_unmatched_speech_is_a_no_match_with_the_words_logged():
    call = Call(bundle_of(SPEECH))
    out = speak(call, "the weather")
    assert said(out) == ["Not a choice.", "Press 1 or say billing. Press 2 or say support."]
    assert call.log[0]["outcome"] == "no-match" and call.log[0]["heard"] == "the weather"


def test_empty_speech_is_no_input():
    call = Call(bundle_of(SPEECH))
    out = speak(call, "  ", None)
    assert said(out)[0] == "I did not hear you." and call.log[0]["outcome"] == "no-input"


def test_low_confidence_asks_to_confirm_with_yes_no_words_then_goes_on():
    call = Call(bundle_of(SPEECH))
    out = speak(call, "support", 0.3)
    assert said(out) == ["Did you say support? Say yes or press 1 if that is right. Say no or press 2 to try again."]
    gather = out[-1]
    assert call.state.waiting is Waiting.CONFIRM_SPEECH and gather.num_digits == 1
    assert gather.listen is not None and {"yes", "no"} <= set(gather.listen.phrases) and gather.listen.grammar
    assert call.log[0]["outcome"] == "confirming" and call.log[0]["confidence"] == 0.3
    out = speak(call, "yes", 0.4)  # the answer to the confirmation is not itself confirmed
    assert said(out) == ["Support. Bye."]
    assert [e["outcome"] for e in call.log][:2] == ["heard-confirmed", "chose"]


def test_low_confidence_confirmed_by_key_and_rejected_by_no():
    call = Call(bundle_of(SPEECH))
    speak(call, "billing", 0.2)
    assert said(call.press("1")) == ["Billing    ."]
    call = Call(bundle_of(SPEECH))
    speak(call, "billing", 0.2)
    out = speak(call, "no")
    assert said(out) == ["Sorry, I didn't catch that.", "Press 1 or say billing. Press 2 or say support."]
    assert call.state.waiting is Waiting.GATHER and call.state.pending == ""


def test_unclear_answer_to_the_confirmation_asks_it_again_then_falls_back():
    call = Call(bundle_of(SPEECH))
    speak(call, "billing", 0.2)
    out = speak(call, "purple")
    assert said(out) == ["Not a choice.", "Did you say billing? Say yes or press 1 if that is right. "
                                          "Say no or press 2 to try again."]
    assert said(speak(call, "purple")) == ["Operator."]


def test_low_confidence_repeat_mode_asks_again():
    call = Call(bundle_of(SPEECH.replace("confidence: 0.6,", "confidence: 0.6, low_confidence: repeat,")))
    out = speak(call, "billing", 0.1)
    assert said(out) == ["Sorry, I didn't catch that.", "Press 1 or say billing. Press 2 or say support."]
    assert call.log[0]["outcome"] == "low-confidence"


def test_confirm_prompt_is_configurable():
    text = SPEECH.replace("max_utterance: 8s}", "max_utterance: 8s, confirm_prompt: 'You said {{heard}}, right?'}")
    call = Call(bundle_of(text))
    assert said(speak(call, "help", 0.1)) == ["You said help, right?"]


def test_listen_node_free_speech_gather():
    call = Call(bundle_of(SPEECH))
    out = call.press("3")
    gather = out[-1]
    assert said(out) == ["Tell me briefly what you are calling about."]
    assert gather.listen is not None and gather.listen.grammar is False
    assert gather.listen.phrases == ("billing", "pay my bill", "invoice", "support", "technical support")


def test_listen_node_intent_and_entities_become_variables_and_are_logged():
    call = Call(bundle_of(SPEECH))
    call.press("3")
    out = speak(call, "I want to pay my bill, twenty five dollars next friday, account one two three four five")
    assert said(out) == ["Billing billing 25.00 2026-11-27 12345."]
    assert call.state.vars["entities"] == {"amount": "25.00", "date": "2026-11-27", "digits": "12345"}
    entry = next(e for e in call.log if e["outcome"] == "understood")
    assert entry["intent"] == "billing" and entry["confidence"] == 0.9 and entry["heard"].startswith("I want")
    assert entry["entities"] == {"amount": "25.00", "date": "2026-11-27", "digits": "*2345"}


def test_listen_node_without_an_intent_goes_to_next_with_the_words():
    call = Call(bundle_of(SPEECH))
    call.press("3")
    out = speak(call, "my neighbour's tree fell on the line")
    assert said(out) == ["Noted: my neighbour's tree fell on the line."]
    assert call.state.vars["intent"] == "" and call.log[0]["outcome"] == "heard"


def test_listen_node_without_next_retries_then_falls_back():
    text = SPEECH.replace("          fallback: operator\n        next: noted\n", "          fallback: operator\n")
    text = text.replace("      noted:\n        hangup: \"Noted: {{reason}}.\"\n", "")
    call = Call(bundle_of(text))
    call.press("3")
    out = speak(call, "the weather")
    assert said(out) == ["Not a choice.", "Tell me briefly what you are calling about."]
    out = call.silence()
    assert said(out) == ["Operator."]


def test_listen_node_low_confidence_is_confirmed_first():
    call = Call(bundle_of(SPEECH))
    call.press("3")
    speak(call, "technical support", 0.2)
    assert call.state.waiting is Waiting.CONFIRM_SPEECH
    assert said(speak(call, "yeah")) == ["Support. Bye."]


def test_collect_accepts_spoken_digits_and_spoken_yes():
    text = COLLECT.replace("nodes:", "speech: {}\n    nodes:", 1)
    call = Call(bundle_of(text))
    listen = call.out[-1].listen
    assert listen is not None and listen.grammar is False and "seven" in listen.phrases
    out = speak(call, "one two three four five six seven four", 0.2)  # the read-back is the confirmation
    assert said(out) == ["You entered 1 2 3 4 5 6 7 4. Press 1 if right, 2 to retry."]
    collected = next(e for e in call.log if e["outcome"] == "collected")
    assert collected["input"] == "****5674" and collected["confidence"] == 0.2 and "heard" not in collected
    assert "heard" not in call.state.vars
    assert call.out[-1].listen is not None and "yes" in call.out[-1].listen.phrases
    out = speak(call, "yes")
    assert said(out) == ["Thanks, card ending 5674."]


def test_korean_sample_flow_understands_korean_words(samples):
    call = Call(samples, called="+15550100103")
    gather = call.out[-1]
    assert gather.language == "ko-KR" and gather.listen is not None
    assert {"잔액", "정전", "영업시간", "상담원"} <= set(gather.listen.phrases)
    out = speak(call, "영업시간이 궁금해요")
    assert any("월요일부터 금요일" in text for text in said(out))
    call = Call(samples, called="+15550100103")
    out = speak(call, "잔액", 0.3)
    assert said(out)[0].startswith("잔액, 맞습니까?")
    assert {"예", "네", "아니요", "아니오"} <= set(out[-1].listen.phrases)
    out = speak(call, "네")
    assert said(out)[0].startswith("여덟 자리 계좌 번호")
    out = speak(call, "일 이 삼 사 오 육 칠 사")
    assert said(out)[0].startswith("말씀하신 번호는 1 2 3 4 5 6 7 4")


# -- the Korean flow with the real Korean model ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def korean_model():
    from speech.models import ModelRegistry
    return ModelRegistry().get("ko")


def recognize(model, listen: ins.Listen, text: str, workdir: Path):
    """What the media-stream edge does with a Gather's ``listen``: the caller's words (espeak-ng Korean through
    the 8 kHz mu-law telephone path) recognized with the node's phrases and timings, in 20 ms frames."""
    import subprocess
    import wave

    from speech.audio import TWILIO_RATE, Resampler, pcm_to_ulaw
    from speech.recognizer import StreamRecognizer
    subprocess.run(["espeak-ng", "-v", "ko", "-s", "150", "-w", str(workdir / "said.wav"), text], check=True)
    with wave.open(str(workdir / "said.wav")) as wav:
        pcm, rate = wav.readframes(wav.getnframes()), wav.getframerate()
    ulaw = pcm_to_ulaw(Resampler(rate, TWILIO_RATE).convert(pcm) + b"\x00\x00" * TWILIO_RATE)
    recognizer = StreamRecognizer(model, listen.phrases if listen.grammar else (), no_input_ms=listen.no_input_ms,
                                  end_silence_ms=listen.end_silence_ms, max_utterance_ms=listen.max_utterance_ms)
    for i in range(0, len(ulaw), 160):
        recognizer.feed(ulaw[i:i + 160])
        if recognizer.done:
            break
    return recognizer.end()


@pytest.mark.parametrize("words, reached", [("정전", "outage_zip"), ("영업 시간", "anything_else"),
                                            ("상담원", "queue_general")])
def test_korean_menu_by_voice_through_the_real_model(words, reached, samples, korean_model, tmp_path):
    call = Call(samples, called="+15550100103")
    result = recognize(korean_model, call.out[-1].listen, words, tmp_path)
    assert result.phrase == words
    call.send(Input(NOW, speech=result.phrase, confidence=result.confidence))
    if call.state.waiting is Waiting.CONFIRM_SPEECH:  # the model was unsure: "정전, 맞습니까?" ... 1
        call.press("1")
    assert call.state.node == reached
    chose = [e for e in call.log if e["outcome"] == "chose"]
    assert chose and chose[0]["heard"] == words and chose[0]["intent"]


def test_collect_without_read_back_confirms_doubtful_digits_and_silence_there_starts_over():
    text = """\
        speech: {}
        nodes:
          zip:
            collect: {prompt: "ZIP code?", var: zip, min_length: 5, max_length: 5, no_input: "Hello?"}
            next: bye
          bye:
            hangup: "ZIP {{zip}}."
        """
    call = Call(bundle_of(text))
    out = speak(call, "one oh oh oh three", 0.3)
    assert said(out)[0].startswith("Did you say one oh oh oh three?")
    out = call.silence()
    assert said(out) == ["Hello?", "ZIP code?"] and call.state.pending == ""
    speak(call, "one oh oh oh three", 0.3)
    assert said(speak(call, "yes")) == ["ZIP 10003."]


QUEUES = """\
    skills: [billing]
    queues:
      general: {when_no_agents: voicemail}
      billing: {skills: {billing: 1}, when_no_agents: queue:general}
      line: {when_no_agents: callback}
    """
QUEUED = """\
    nodes:
      thanks:
        say: "Thanks for calling."
        next: q
      q:
        queue: {name: %s, prompt: "Please hold."}
        next: message
      message:
        hangup: "Please call again later."
    """


@pytest.mark.parametrize("queue, told, waiting, disposition, outcome", [
    ("general", ["Thanks for calling.", "Please call again later."], Waiting.ENDED, Disposition.SELF_SERVICE,
     "left-queue"),
    ("billing", ["Thanks for calling.", "Please hold."], Waiting.QUEUE, Disposition.QUEUED, "overflow"),
    ("line", ["We will call you back as soon as an agent is free. Goodbye."], Waiting.ENDED, Disposition.CALLBACK,
     "callback"),
])
def test_with_no_agent_signed_in_the_queue_policy_decides(queue, told, waiting, disposition, outcome):
    call = Call(bundle_of(QUEUED % queue, queues=QUEUES))
    assert when_no_agents(call.bundle, StepResult(call.state, call.out, [])) is not NoAgentsPolicy.WAIT
    out = call.send(NoAgentsSignedIn(NOW, tuple(call.out)))
    assert said(out) == told
    assert (call.state.waiting, call.state.disposition) == (waiting, disposition)
    assert call.log[0]["outcome"] == outcome and call.log[0]["reason"] == "no agents signed in"
    if queue == "billing":
        assert out[-1] == ins.Enqueue(ins.RoutingRequest.from_dict(call.state.routing))
        assert call.state.routing["queue"] == "general"


@pytest.mark.parametrize("on_max_wait, action, queue", [
    ("callback", "callback", None), ("queue:billing_overflow", "overflow", "billing_overflow"),
    ("voicemail", "leave", None)])
def test_the_engine_decides_what_a_queues_maximum_wait_does(on_max_wait, action, queue):
    from ivr.engine.queue import at_max_wait
    decision = at_max_wait(on_max_wait)
    assert (decision.action.value, decision.queue) == (action, queue)


def test_a_call_ended_for_a_callback_is_over_with_disposition_callback():
    from ivr.engine.queue import ended_for_callback
    state = CallState("CA1", 1, flow="english", node="billing_queue", waiting=Waiting.QUEUE,
                      disposition=Disposition.QUEUED)
    ended = ended_for_callback(state)
    assert (ended.waiting, ended.disposition) == (Waiting.ENDED, Disposition.CALLBACK)
