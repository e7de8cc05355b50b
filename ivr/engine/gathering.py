"""Asking the caller: the Gather of menu, collect and listen nodes, the read-back of collected digits and the
"did you say ...?" of doubtful speech, with what to listen for."""

from __future__ import annotations

from ivr.engine import instructions as ins
from ivr.engine.run import Run, prompt_text
from ivr.engine.state import Waiting
from ivr.flowlang.model import Collect, ListenSpec, Menu, Prompt, Speech
from speech import intents as words


def listen(speech: Speech | None, phrases: tuple[str, ...], grammar: bool | None = None) -> ins.Listen | None:
    """What the edge should listen for (None: keys only, also when a grammar would have no phrase)."""
    grammar = speech.grammar if speech is not None and grammar is None else grammar
    if speech is None or (grammar and not phrases):
        return None
    return ins.Listen(phrases=tuple(dict.fromkeys(phrases)), grammar=bool(grammar),
                      no_input_ms=speech.no_input_ms, end_silence_ms=speech.end_silence_ms,
                      max_utterance_ms=speech.max_utterance_ms)


def yes_no(run: Run) -> tuple[str, ...]:
    """The words for yes and no in the flow's language."""
    yes, no = words.yes_no_words(run.flow.language)
    return yes + no


def gather(run: Run, body: Menu | Collect | ListenSpec, before: Prompt = (), confirm: bool = False) -> None:
    """Prompt for the node's input (``before`` first: a retry's prompt); ``confirm``: read collected digits back."""
    flow = run.flow
    prompts = run.render(before)
    if confirm:
        assert isinstance(body, Collect) and body.confirm is not None
        prompts += run.render(body.confirm, {body.var: run.state.pending})
        gathered = ins.Gather(tuple(prompts), num_digits=1, finish_on_key="", timeout=body.retry.timeout,
                              language=flow.language, listen=listen(body.speech, yes_no(run), True))
        run.state.waiting = Waiting.CONFIRM
    elif isinstance(body, Menu):
        prompts += run.render(body.prompt)
        gathered = ins.Gather(tuple(prompts), num_digits=1, finish_on_key="", timeout=body.retry.timeout,
                              hints=body.phrases, language=flow.language,
                              listen=listen(body.speech, body.phrases))
        run.state.waiting = Waiting.GATHER
    elif isinstance(body, ListenSpec):
        prompts += run.render(body.prompt)
        phrases = tuple(p for intent in body.intents for p in body.phrases[intent])
        gathered = ins.Gather(tuple(prompts), finish_on_key="#", timeout=body.retry.timeout, hints=phrases,
                              language=flow.language, listen=listen(body.speech, phrases))
        run.state.waiting = Waiting.GATHER
    else:
        prompts += run.render(body.prompt)
        gathered = ins.Gather(tuple(prompts), num_digits=body.max_length, finish_on_key=body.finish_key,
                              timeout=body.retry.timeout, language=flow.language,
                              listen=listen(body.speech, words.digit_words(flow.language), False))
        run.state.waiting = Waiting.GATHER
    run.out.append(gathered)
    run.record("prompted", prompt=prompt_text(prompts), attempt=run.state.attempts + 1)


def ask_heard(run: Run, body: Menu | Collect | ListenSpec, before: Prompt = ()) -> None:
    """Low confidence: "did you say ...?", answered by yes/no or 1/2."""
    assert body.speech is not None
    prompts = run.render(before) + run.render(body.speech.confirm_prompt, {"heard": run.state.pending})
    run.out.append(ins.Gather(tuple(prompts), num_digits=1, finish_on_key="", timeout=body.retry.timeout,
                              language=run.flow.language, listen=listen(body.speech, yes_no(run), True)))
    run.state.waiting = Waiting.CONFIRM_SPEECH
    run.record("prompted", prompt=prompt_text(prompts), attempt=run.state.attempts + 1)
