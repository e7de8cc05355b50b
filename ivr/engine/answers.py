"""The caller's answers at menu, collect and listen nodes: keys and speech, doubtful speech confirmed, retries
and their fallback, digits checked (length, pattern, Luhn) and masked in the call log."""

from __future__ import annotations

import re
from typing import Any, Callable, Mapping

from ivr.engine.events import Input, NoInput
from ivr.engine.gathering import ask_heard, gather
from ivr.engine.run import Run
from ivr.engine.state import Disposition, Waiting
from ivr.errors import EngineError
from ivr.flowlang.model import Collect, ListenSpec, LowConfidence, Menu, MenuOption, Prompt
from speech import intents as words


def on_input(run: Run, event: Input | NoInput) -> None:
    """The caller answered (or did not) at a menu, collect or listen node, or at one of their confirmations."""
    body = run.node.body
    if not isinstance(body, (Menu, Collect, ListenSpec)):
        raise EngineError(f"node '{run.state.node}' does not take input")
    if isinstance(event, NoInput) or not (event.digits or event.speech.strip()):
        if run.state.waiting is Waiting.CONFIRM_SPEECH:
            run.state.pending = ""
        run.record("no-input")
        retry(run, body, body.retry.no_input, "no-input")
        return
    given = event.digits or event.speech
    run.state.vars["last_input"] = given
    if event.speech and not event.digits and run.state.waiting is Waiting.GATHER and not isinstance(body, Collect):
        run.state.vars["heard"] = event.speech.strip()  # at a collect the words are the digits: not kept
    if run.state.waiting is Waiting.CONFIRM:
        on_confirm(run, body, event)
    elif run.state.waiting is Waiting.CONFIRM_SPEECH:
        on_heard_confirm(run, body, event)
    elif doubtful(body, event):
        on_low_confidence(run, body, event)
    else:
        dispatch(run, body, event)


def dispatch(run: Run, body: Menu | Collect | ListenSpec, event: Input) -> None:
    """Input taken at face value: a menu choice, words to understand, or digits."""
    if isinstance(body, Menu):
        on_menu(run, body, event)
    elif isinstance(body, ListenSpec):
        on_listen(run, body, event)
    else:
        on_digits(run, body, event)


def retry(run: Run, body: Menu | Collect | ListenSpec, prompt: Prompt, why: str, confirm: bool = False,
          again: Callable[[Prompt], None] | None = None) -> None:
    """Ask again with ``prompt`` first (``again`` asks differently), or, retries exhausted, go to the fallback
    or end the call as failed."""
    run.state.attempts += 1
    if run.state.attempts > body.retry.retries:
        run.record("retries-exhausted", reason=why)
        if body.retry.fallback is not None:
            run.go(body.retry.fallback)
        else:
            run.end(Disposition.FAILED)
        return
    if again is not None:
        again(prompt)
    else:
        gather(run, body, before=prompt, confirm=confirm)


def doubtful(body: Menu | Collect | ListenSpec, event: Input) -> bool:
    """Speech below the node's confidence threshold (a collect with its own read-back confirms anyway)."""
    speech = body.speech
    return (speech is not None and bool(event.speech) and not event.digits and event.confidence is not None
            and event.confidence < speech.confidence
            and not (isinstance(body, Collect) and body.confirm is not None))


def on_low_confidence(run: Run, body: Menu | Collect | ListenSpec, event: Input) -> None:
    """Doubtful speech: ask again, or "did you say ...?", as the node says."""
    assert body.speech is not None
    heard = _heard(body, event)
    if body.speech.low_confidence is LowConfidence.REPEAT:
        run.record("low-confidence", **heard)
        retry(run, body, body.speech.repeat_prompt, "low-confidence")
        return
    run.state.pending = event.speech.strip()
    run.record("confirming", **heard)
    ask_heard(run, body)


def on_heard_confirm(run: Run, body: Menu | Collect | ListenSpec, event: Input) -> None:
    """The answer to "did you say ...?": yes takes the words, no asks again."""
    assert body.speech is not None
    answer = {"1": True, "2": False}.get(event.digits[:1]) if event.digits else words.yes_or_no(
        event.speech, run.flow.language)
    pending, run.state.pending = run.state.pending, ""
    if answer is True:
        run.record("heard-confirmed", **_heard(body, Input(event.now, speech=pending)))
        if not isinstance(body, Collect):
            run.state.vars["heard"] = pending
        dispatch(run, body, Input(event.now, speech=pending))
    elif answer is False:
        run.record("heard-rejected", **_heard(body, Input(event.now, speech=pending)))
        retry(run, body, body.speech.repeat_prompt, "rejected")
    else:
        run.state.pending = pending
        run.record("no-match", **_heard(body, event))
        retry(run, body, body.retry.no_match, "no-match", again=lambda before: ask_heard(run, body, before))


def on_listen(run: Run, body: ListenSpec, event: Input) -> None:
    """Free speech at a listen node: entities and the intent understood, then where the intent leads."""
    text = event.speech.strip() if not event.digits else ""
    found = words.extract(text, body.entities, run.local_now().date()) if text else {}
    if event.digits and "digits" in body.entities:
        found["digits"] = re.sub(r"[^0-9]", "", event.digits)
    run.state.vars["entities"] = dict(found)
    for kind, var in body.entities.items():
        if var:
            run.state.vars[var] = found.get(kind, "")
    if body.var:
        run.state.vars[body.var] = text
    match = words.match_intent(text, body.phrases) if text else None
    run.state.vars["intent"] = match.name if match else ""
    logged = {**_heard(body, event), "entities": _logged_entities(found) or None}
    if match is not None:
        run.record("understood", intent=match.name, **logged)
        run.go(body.intents[match.name])
    elif run.node.next is not None and text:
        run.record("heard", **logged)
        run.go(run.node.next)
    else:
        run.record("no-match", input=mask(event.digits) if event.digits else None, **logged)
        retry(run, body, body.retry.no_match, "no-match")


def on_menu(run: Run, body: Menu, event: Input) -> None:
    """A key or the phrase of an option."""
    option = None
    if event.digits:
        option = next((o for o in body.options if o.key == event.digits[:1]), None)
    elif event.speech:
        option = _match_option(body, event.speech)
    heard = _heard(body, event)
    if option is None:
        run.record("no-match", input=event.digits or None, **heard)
        retry(run, body, body.retry.no_match, "no-match")
        return
    run.record("chose", input=event.digits or None, target=option.goto,
               intent=option.intent if event.speech and not event.digits else None, **heard)
    run.assign(option.set)
    run.go(option.goto)


def on_digits(run: Run, body: Collect, event: Input) -> None:
    """Digits keyed or spoken at a collect node, checked, then read back or stored."""
    if event.digits:
        digits = re.sub(r"[^0-9*#]", "", event.digits)
    else:
        digits = words.extract_digits(event.speech) or re.sub(r"[^0-9*#]", "", event.speech)
    spoken = _heard(body, event)
    if body.finish_key:
        digits = digits.rstrip(body.finish_key)
    problem = _invalid_digits(body, digits)
    if problem:
        run.record("invalid", input=mask(digits), reason=problem, **spoken)
        retry(run, body, body.invalid or body.retry.no_match, "invalid")
        return
    if body.confirm is not None:
        run.state.pending = digits
        run.record("collected", input=mask(digits), confirm=True, **spoken)
        gather(run, body, confirm=True)
        return
    run.state.vars[body.var] = digits
    run.record("collected", input=mask(digits), **spoken)
    run.go(run.node.next)


def on_confirm(run: Run, body: Menu | Collect | ListenSpec, event: Input) -> None:
    """The answer to the read-back of collected digits: 1/yes stores them, 2/no asks for them again."""
    assert isinstance(body, Collect)
    answer = (event.digits or "")[:1]
    speech = event.speech.strip()
    said = None if answer else words.yes_or_no(speech, run.flow.language)
    if answer == "1" or said is True:
        run.state.vars[body.var] = run.state.pending
        run.record("confirmed", input=mask(run.state.pending))
        run.go(run.node.next)
    elif answer == "2" or said is False:
        run.record("rejected", input=answer or speech)
        run.state.pending = ""
        run.state.attempts += 1
        if run.state.attempts > body.retry.retries:
            retry(run, body, (), "rejected")
        else:
            gather(run, body)
    else:
        run.record("no-match", input=answer or speech)
        retry(run, body, body.retry.no_match, "no-match", confirm=True)


def mask(digits: str) -> str:
    """Collected digits go to the call log; keep the last four only (account and card numbers)."""
    return digits if len(digits) <= 4 else "*" * (len(digits) - 4) + digits[-4:]


def _heard(body: Menu | Collect | ListenSpec, event: Input) -> dict[str, Any]:
    """What the call log keeps of speech: the words and the recogniser's confidence (for a collect only that it
    was spoken: the words are the digits, masked in ``input``)."""
    if not event.speech or event.digits:
        return {}
    if isinstance(body, Collect):
        return {"spoken": True, "confidence": event.confidence}
    return {"heard": event.speech.strip(), "confidence": event.confidence}


def _logged_entities(found: Mapping[str, str]) -> dict[str, str]:
    return {kind: mask(value) if kind == "digits" else value for kind, value in found.items()}


def _match_option(body: Menu, speech: str) -> MenuOption | None:
    """The option whose phrases (its own and its intent's) the caller said best."""
    by_index = {str(i): option.phrases for i, option in enumerate(body.options) if option.phrases}
    match = words.match_intent(speech, by_index)
    return body.options[int(match.name)] if match else None


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum used by card and many account numbers."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _invalid_digits(body: Collect, digits: str) -> str:
    if not digits.isdigit():
        return "not digits"
    if not body.min_length <= len(digits) <= body.max_length:
        return f"length {len(digits)} not in {body.min_length}..{body.max_length}"
    if body.pattern and re.fullmatch(body.pattern, digits) is None:
        return "pattern"
    if body.luhn and not luhn_valid(digits):
        return "luhn"
    return ""

