"""Every TwiML document the system emits, only through twilio's ``VoiceResponse`` (escaping is the library's job):
a flow's instructions, the fallback, hold announcements, ringing an agent, the callback goodbye and redirects.

The one module that imports ``twilio.twiml``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

from twilio.twiml.voice_response import Connect, Dial, Gather, VoiceResponse

from ivr.engine import instructions as ins

#: ``url_for_event(kind)`` → absolute URL of our continue endpoint for that event kind.
UrlFor = Callable[[str], str]
#: ``audio_for(say)`` → URL of rendered audio to ``<Play>`` instead, or None to keep ``<Say>``.
AudioFor = Callable[[ins.Say], "str | None"]


@dataclass(frozen=True)
class StreamTarget:
    """Where a speech prompt's two-way media stream goes: the ``wss://`` URL, the ``<Parameter>``s that identify
    the call and the prompt, and whether the prompt's audio is played into the stream (else it is spoken first)."""

    url: str
    parameters: Mapping[str, str] = field(default_factory=dict)
    prompts_in_stream: bool = False


#: ``stream_for(gather)`` → the stream for a speech prompt, or None to take keys only (no model, say).
StreamFor = Callable[[ins.Gather], "StreamTarget | None"]


def _add_prompt(parent: VoiceResponse | Gather, prompt: ins.Prompt, audio_for: AudioFor | None) -> None:
    if isinstance(prompt, ins.Say):
        url = audio_for(prompt) if audio_for is not None else None
        if url:
            parent.play(url)
        else:
            parent.say(prompt.text, voice=prompt.voice, language=prompt.language)
    elif isinstance(prompt, ins.Play):
        parent.play(prompt.url)
    elif isinstance(prompt, ins.Pause):
        parent.pause(length=prompt.seconds)


def _add_stream(response: VoiceResponse, item: ins.Gather, target: StreamTarget, url_for: UrlFor,
                audio_for: AudioFor | None) -> None:
    """A speech prompt: ``<Connect>`` blocks until our stream handler closes the socket, then Twilio requests the
    action URL, where the flow goes on with what was heard."""
    if not target.prompts_in_stream:
        for prompt in item.prompts:
            _add_prompt(response, prompt, audio_for)
    connect = Connect(action=url_for("speech"), method="POST")
    stream = connect.stream(url=target.url)
    for name, value in target.parameters.items():
        stream.parameter(name=name, value=value)
    response.append(connect)


def render(instructions: Sequence[ins.Instruction], url_for: UrlFor, wait_url: str,
           audio_for: AudioFor | None = None, stream_for: StreamFor | None = None) -> str:
    """Build the TwiML document answering one webhook (a ``Say`` plays ``audio_for(say)`` when it has audio; a
    ``Gather`` that listens becomes the media stream ``stream_for(gather)`` names, when it names one)."""
    response = VoiceResponse()
    for item in instructions:
        if isinstance(item, (ins.Say, ins.Play, ins.Pause)):
            _add_prompt(response, item, audio_for)
        elif isinstance(item, ins.Gather) and item.listen is not None and stream_for is not None \
                and (target := stream_for(item)) is not None:
            _add_stream(response, item, target, url_for, audio_for)
        elif isinstance(item, ins.Gather):
            gather = Gather(action=url_for("gather"), method="POST", input="dtmf", timeout=item.timeout,
                            finish_on_key=item.finish_on_key, num_digits=item.num_digits,
                            action_on_empty_result=False)
            for prompt in item.prompts:
                _add_prompt(gather, prompt, audio_for)
            response.append(gather)
            # Twilio goes on to the next verb when nothing was entered: that is our no-input event.
            response.redirect(url_for("noinput"), method="POST")
        elif isinstance(item, ins.Dial):
            dial = Dial(action=url_for("dial"), method="POST", timeout=item.timeout, caller_id=item.caller_id)
            if item.kind is ins.DialKind.SIP:
                dial.sip(item.target)
            elif item.kind is ins.DialKind.CLIENT:
                dial.client(item.target)
            else:
                dial.number(item.target)
            response.append(dial)
        elif isinstance(item, ins.Enqueue):
            response.enqueue(item.request.queue, action=url_for("queue"), method="POST", wait_url=wait_url,
                             wait_url_method="POST")
        elif isinstance(item, ins.Record):
            response.record(action=url_for("record"), method="POST", max_length=item.max_length,
                            finish_on_key=item.finish_on_key, timeout=item.timeout, play_beep=item.play_beep)
        elif isinstance(item, ins.Hangup):
            response.hangup()
        elif isinstance(item, ins.Lookup):  # pragma: no cover - performed by CallService before rendering
            raise ValueError("a lookup cannot be rendered as TwiML")
    return str(response)


def fallback(message: str, number: str | None, queue: str | None, wait_url: str) -> str:
    """What a caller hears when anything inside goes wrong: an apology and the configured way out."""
    response = VoiceResponse()
    response.say(message)
    if number:
        dial = Dial()
        dial.number(number)
        response.append(dial)
    elif queue:
        response.enqueue(queue, wait_url=wait_url, wait_url_method="POST")
    else:
        response.say("Please call again later. Goodbye.")
        response.hangup()
    return str(response)


#: What a caller hears while the agent who accepted their call is rung.
RING_AGENT_MESSAGE = "Connecting you to an agent now."


def ring_agent(agent_id: str, contact: str | None, action_url: str, timeout: int) -> str:
    """What the caller's leg does once an agent accepts: ring the agent at ``contact`` (``client:<name>``,
    ``sip:...`` or a number; the agent's own client when unset) for ``timeout`` seconds; the ring's result goes to
    ``action_url``."""
    response = VoiceResponse()
    response.say(RING_AGENT_MESSAGE)
    dial = Dial(action=action_url, method="POST", timeout=timeout)
    contact = contact or f"client:{agent_id}"
    if contact.startswith("client:"):
        dial.client(contact[len("client:"):])
    elif contact.startswith("sip:"):
        dial.sip(contact)
    else:
        dial.number(contact)
    response.append(dial)
    return str(response)


def goodbye(message: str) -> str:
    """Say ``message`` and hang up (a caller taken out of the queue to be called back)."""
    response = VoiceResponse()
    response.say(message)
    response.hangup()
    return str(response)


def redirect(url: str) -> str:
    """Send the call to ``url`` (POST), e.g. a waiting caller back to the flow when they leave the queue."""
    response = VoiceResponse()
    response.redirect(url, method="POST")
    return str(response)


def hold(announcements: Sequence[str], voice: str | None, language: str | None, music: str | None,
         pause: int) -> str:
    """A queue's wait document: the ``announcements`` said in ``voice`` and ``language``, then ``music`` played
    (or a ``pause`` of that many seconds); Twilio requests the wait URL again when it ends."""
    response = VoiceResponse()
    for text in announcements:
        response.say(text, voice=voice, language=language)
    if music:
        response.play(music)
    else:
        response.pause(length=pause)
    return str(response)
