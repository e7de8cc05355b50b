"""The pure step function: ``step(bundle, state, event) -> StepResult``.

No Flask, no Redis, no clock, no network: everything the engine needs arrives in its arguments, and everything it
wants done leaves as :mod:`ivr.engine.instructions` (a :class:`~ivr.engine.instructions.Lookup` is performed by the caller, who
feeds back a :class:`~ivr.engine.events.LookupDone`). That is what makes flows testable without a phone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, Callable, Mapping
from zoneinfo import ZoneInfo

from ivr.engine import instructions as ins
from ivr.flowlang.conditions import Context
from ivr.errors import EngineError
from ivr.engine.events import (
    AgentCallEnded, CallStarted, DialEnded, Event, Input, LookupDone, NoInput, QueueEnded, RecordingEnded,
)
from ivr.flowlang.model import (
    Branch, Bundle, Collect, Flow, Hours, ListenSpec, LookupSpec, LowConfidence, Menu, MenuOption, Node, NodeKind,
    PausePart, PlayPart, Prompt, QueueSpec, SayPart, Speech, Transfer,
)
from ivr.flowlang.templating import Template, lookup
from speech import intents as words

#: Nodes entered in one step without waiting for the caller; more means a loop with no input.
MAX_TRANSITIONS = 64


class Waiting(str, Enum):
    """What a call waits for between steps."""

    NOTHING = ""
    GATHER = "gather"
    CONFIRM = "confirm"                # a collect node's read-back of the digits
    CONFIRM_SPEECH = "confirm-speech"  # "did you say ...?" after speech heard with low confidence
    LOOKUP = "lookup"
    DIAL = "dial"
    QUEUE = "queue"
    RECORD = "record"
    ENDED = "ended"


class Disposition(str, Enum):
    """How a call left the IVR."""

    SELF_SERVICE = "self-service"      # finished in the IVR (hang-up node)
    QUEUED = "queued"                  # waiting for an agent (final only if the call ended there)
    ANSWERED = "answered"              # reached an agent
    TRANSFERRED = "transferred"        # dialled out to a number / SIP / client
    VOICEMAIL = "voicemail"
    CALLBACK = "callback"              # left the queue to be called back when an agent is free
    ABANDONED = "abandoned"            # the caller hung up
    FAILED = "failed"                  # input retries exhausted with no fallback, or a fault


@dataclass
class Frame:
    """A subflow call: where to continue when the subflow returns."""

    flow: str
    next: str


@dataclass
class CallState:
    """Everything the engine knows about one call; serialised to the session store between webhooks."""

    call_sid: str
    version: int
    flow: str = ""
    node: str = ""
    waiting: Waiting = Waiting.NOTHING
    attempts: int = 0
    pending: str = ""
    stack: list[Frame] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)
    routing: dict[str, Any] | None = None
    disposition: Disposition | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (variables are shared, not copied: callers serialise or copy them)."""
        return {"call_sid": self.call_sid, "version": self.version, "flow": self.flow, "node": self.node,
                "waiting": self.waiting.value, "attempts": self.attempts, "pending": self.pending,
                "stack": [{"flow": f.flow, "next": f.next} for f in self.stack], "vars": self.vars,
                "routing": self.routing, "disposition": self.disposition.value if self.disposition else None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "CallState":
        return cls(
            call_sid=data["call_sid"], version=int(data["version"]), flow=data.get("flow", ""),
            node=data.get("node", ""), waiting=Waiting(data.get("waiting", "")),
            attempts=int(data.get("attempts", 0)), pending=data.get("pending", ""),
            stack=[Frame(**f) for f in data.get("stack", [])], vars=dict(data.get("vars", {})),
            routing=data.get("routing"),
            disposition=Disposition(data["disposition"]) if data.get("disposition") else None,
        )

    @property
    def ended(self) -> bool:
        return self.waiting is Waiting.ENDED


@dataclass
class StepResult:
    state: CallState
    instructions: list[ins.Instruction]
    log: list[dict[str, Any]]


def new_call(version: int, call_sid: str) -> CallState:
    return CallState(call_sid=call_sid, version=version)


def step(bundle: Bundle, state: CallState, event: Event) -> StepResult:
    """Advance ``state`` by ``event``; return the new state, what to tell Twilio, and log entries.

    ``state`` is not modified; raises :class:`EngineError` only for inconsistencies (a bug, or a state that does
    not fit the bundle) — the HTTP edge turns that into the fallback.
    """
    run = _Run(bundle, CallState.from_dict(state.to_dict()), event)
    run.handle()
    return StepResult(run.state, run.out, run.log)


class _Run:
    def __init__(self, bundle: Bundle, state: CallState, event: Event):
        self.bundle = bundle
        self.state = state
        self.event = event
        self.out: list[ins.Instruction] = []
        self.log: list[dict[str, Any]] = []
        self.transitions = 0

    # -- plumbing ------------------------------------------------------------------------------------------------
    @property
    def flow(self) -> Flow:
        flow = self.bundle.flows.get(self.state.flow)
        if flow is None:
            raise EngineError(f"flow '{self.state.flow}' is not in this bundle")
        return flow

    @property
    def node(self) -> Node:
        node = self.flow.nodes.get(self.state.node)
        if node is None:
            raise EngineError(f"node '{self.state.node}' is not in flow '{self.state.flow}'")
        return node

    def local_now(self) -> datetime:
        return self.event.now.astimezone(ZoneInfo(self.flow.timezone))

    def variables(self) -> dict[str, Any]:
        now = self.local_now()
        values = dict(self.state.vars)
        values.update(flow=self.state.flow, language=self.flow.language, today=now.date().isoformat(),
                      now_time=now.strftime("%H:%M"))
        return values

    def record(self, outcome: str, **extra: Any) -> None:
        entry = {"flow": self.state.flow, "node": self.state.node, "kind": self.node.kind.value,
                 "outcome": outcome, "at": self.event.now.timestamp()}
        entry.update({k: v for k, v in extra.items() if v not in (None, "")})
        self.log.append(entry)

    def render(self, prompt: Prompt, extra: Mapping[str, Any] | None = None) -> list[ins.Prompt]:
        values = self.variables()
        if extra:
            values.update(extra)
        rendered: list[ins.Prompt] = []
        for part in prompt:
            if isinstance(part, SayPart):
                text = part.text.render(values).strip()
                if text:
                    rendered.append(ins.Say(text, part.voice, part.language, part.tts))
            elif isinstance(part, PlayPart):
                rendered.append(ins.Play(part.url))
            elif isinstance(part, PausePart):
                rendered.append(ins.Pause(part.seconds))
        return rendered

    def say(self, prompt: Prompt, extra: Mapping[str, Any] | None = None) -> str:
        parts = self.render(prompt, extra)
        self.out.extend(parts)
        return _prompt_text(parts)

    def end(self, disposition: Disposition, prompt: Prompt = ()) -> None:
        self.say(prompt)
        self.out.append(ins.Hangup())
        self.state.waiting = Waiting.ENDED
        self.state.disposition = self.state.disposition or disposition

    # -- dispatch ------------------------------------------------------------------------------------------------
    def handle(self) -> None:
        event, waiting = self.event, self.state.waiting
        if isinstance(event, CallStarted):
            flow = self.bundle.flow_for_number(event.called)
            if flow is None:
                raise EngineError(f"no flow answers {event.called!r} and there is no default flow")
            self.state.vars = {**flow.variables, "caller": event.caller, "called": event.called,
                               "call_sid": event.call_sid or self.state.call_sid}
            self.state.flow = flow.name
            self.go(flow.start)
            return
        if waiting is Waiting.ENDED:
            self.out.append(ins.Hangup())
            return
        if isinstance(event, (Input, NoInput)) and waiting in (Waiting.GATHER, Waiting.CONFIRM,
                                                              Waiting.CONFIRM_SPEECH):
            self.on_input(event)
        elif isinstance(event, LookupDone) and waiting is Waiting.LOOKUP:
            self.on_lookup(event)
        elif isinstance(event, DialEnded) and waiting is Waiting.DIAL:
            self.on_dial(event)
        elif isinstance(event, QueueEnded) and waiting is Waiting.QUEUE:
            self.on_queue(event)
        elif isinstance(event, AgentCallEnded) and waiting is Waiting.QUEUE:
            self.on_agent(event)
        elif isinstance(event, RecordingEnded) and waiting is Waiting.RECORD:
            self.on_recording(event)
        else:
            raise EngineError(f"{type(event).__name__} does not fit a call waiting for {waiting.value or 'nothing'}")

    def go(self, target: str | None, flow: str | None = None) -> None:
        """Enter ``target`` and run until the call must wait."""
        while target is not None:
            self.transitions += 1
            if self.transitions > MAX_TRANSITIONS:
                raise EngineError(f"more than {MAX_TRANSITIONS} nodes without input, last '{target}'")
            if flow is not None:
                self.state.flow = flow
                flow = None
            self.state.node = target
            self.state.attempts = 0
            self.state.pending = ""
            target, flow = self.enter(self.node)

    # -- entering nodes ------------------------------------------------------------------------------------------
    def enter(self, node: Node) -> tuple[str | None, str | None]:
        """Run ``node``; return the next (node, flow-or-None) to enter immediately, or (None, None) to wait."""
        kind, body = node.kind, node.body
        if kind is NodeKind.SAY:
            self.record("said", prompt=self.say(body))
            return node.next, None
        if kind is NodeKind.SET:
            self.assign(body)
            self.record("set", values=sorted(body))
            return node.next, None
        if kind is NodeKind.BRANCH:
            return self.branch(body), None
        if kind is NodeKind.HOURS:
            return self.hours(body), None
        if kind is NodeKind.SUBFLOW:
            sub = self.bundle.flows.get(body)
            if sub is None:
                raise EngineError(f"subflow '{body}' is not in this bundle")
            if node.next is not None:
                self.state.stack.append(Frame(self.state.flow, node.next))
            self.record("subflow", target=body)
            return sub.start, sub.name
        if kind is NodeKind.RETURN:
            self.record("return")
            if not self.state.stack:
                self.end(Disposition.SELF_SERVICE)
                return None, None
            frame = self.state.stack.pop()
            return frame.next, frame.flow
        if kind is NodeKind.HANGUP:
            self.record("hangup", prompt=_prompt_text(self.render(body)))
            self.end(Disposition.SELF_SERVICE, body)
            return None, None
        if kind in (NodeKind.MENU, NodeKind.COLLECT, NodeKind.LISTEN):
            self.gather(body)
            return None, None
        if kind is NodeKind.LOOKUP:
            self.out.append(self.lookup_request(body))
            self.state.waiting = Waiting.LOOKUP
            return None, None
        if kind is NodeKind.QUEUE:
            self.enqueue(body)
            return None, None
        if kind is NodeKind.TRANSFER:
            self.transfer(body)
            return None, None
        if kind is NodeKind.VOICEMAIL:
            prompt = self.say(body.prompt)
            self.out.append(ins.Record(max_length=body.max_length, finish_on_key=body.finish_key))
            self.state.waiting = Waiting.RECORD
            self.record("recording", prompt=prompt, mailbox=body.mailbox)
            return None, None
        raise EngineError(f"unknown node kind {kind}")  # pragma: no cover

    def assign(self, values: Mapping[str, Any]) -> None:
        current = self.variables()
        for var, value in values.items():
            self.state.vars[var] = value.render(current) if isinstance(value, Template) else value

    def branch(self, body: Branch) -> str:
        ctx = Context(self.variables(), self.local_now(), self.bundle.schedules)
        for i, (condition, target) in enumerate(body.cases):
            if condition.evaluate(ctx):
                self.record("branch", case=i, target=target)
                return target
        self.record("branch", case="else", target=body.otherwise)
        return body.otherwise

    def hours(self, body: Hours) -> str:
        schedule = self.bundle.schedules.get(body.schedule)
        if schedule is None:
            raise EngineError(f"schedule '{body.schedule}' is not in this bundle")
        status = schedule.status(self.event.now)
        state = getattr(status.state, "value", str(status.state)).lower()
        reopen = status.next_open.astimezone(ZoneInfo(self.flow.timezone)) if status.next_open else None
        self.state.vars["hours"] = {
            "status": state, "name": getattr(status, "name", None) or "",
            "next_open_date": reopen.date().isoformat() if reopen else "",
            "next_open_time": reopen.strftime("%H:%M") if reopen else "",
        }
        if state == "open":
            target = body.open
        elif state == "closure":
            target = body.closure or body.holiday or body.closed
        elif state == "holiday":
            target = body.holiday or body.closed
        else:
            target = body.closed
        self.record("hours", status=state, target=target)
        return target

    def listen(self, speech: Speech | None, phrases: tuple[str, ...], grammar: bool | None = None
               ) -> ins.Listen | None:
        """What the edge should listen for (None: keys only, also when a grammar would have no phrase)."""
        grammar = speech.grammar if speech is not None and grammar is None else grammar
        if speech is None or (grammar and not phrases):
            return None
        return ins.Listen(phrases=tuple(dict.fromkeys(phrases)), grammar=bool(grammar),
                          no_input_ms=speech.no_input_ms, end_silence_ms=speech.end_silence_ms,
                          max_utterance_ms=speech.max_utterance_ms)

    def yes_no(self) -> tuple[str, ...]:
        yes, no = words.yes_no_words(self.flow.language)
        return yes + no

    def gather(self, body: Menu | Collect | ListenSpec, before: Prompt = (), confirm: bool = False) -> None:
        flow = self.flow
        prompts = self.render(before)
        if confirm:
            assert isinstance(body, Collect) and body.confirm is not None
            prompts += self.render(body.confirm, {body.var: self.state.pending})
            gather = ins.Gather(tuple(prompts), num_digits=1, finish_on_key="", timeout=body.retry.timeout,
                                language=flow.language, listen=self.listen(body.speech, self.yes_no(), True))
            self.state.waiting = Waiting.CONFIRM
        elif isinstance(body, Menu):
            prompts += self.render(body.prompt)
            gather = ins.Gather(tuple(prompts), num_digits=1, finish_on_key="", timeout=body.retry.timeout,
                                hints=body.phrases, language=flow.language,
                                listen=self.listen(body.speech, body.phrases))
            self.state.waiting = Waiting.GATHER
        elif isinstance(body, ListenSpec):
            prompts += self.render(body.prompt)
            phrases = tuple(p for intent in body.intents for p in body.phrases[intent])
            gather = ins.Gather(tuple(prompts), finish_on_key="#", timeout=body.retry.timeout, hints=phrases,
                                language=flow.language, listen=self.listen(body.speech, phrases))
            self.state.waiting = Waiting.GATHER
        else:
            prompts += self.render(body.prompt)
            gather = ins.Gather(tuple(prompts), num_digits=body.max_length, finish_on_key=body.finish_key,
                                timeout=body.retry.timeout, language=flow.language,
                                listen=self.listen(body.speech, words.digit_words(flow.language), False))
            self.state.waiting = Waiting.GATHER
        self.out.append(gather)
        self.record("prompted", prompt=_prompt_text(prompts), attempt=self.state.attempts + 1)

    def ask_heard(self, body: Menu | Collect | ListenSpec, before: Prompt = ()) -> None:
        """Low confidence: "did you say ...?", answered by yes/no or 1/2."""
        assert body.speech is not None
        prompts = self.render(before) + self.render(body.speech.confirm_prompt, {"heard": self.state.pending})
        self.out.append(ins.Gather(tuple(prompts), num_digits=1, finish_on_key="", timeout=body.retry.timeout,
                                   language=self.flow.language, listen=self.listen(body.speech, self.yes_no(), True)))
        self.state.waiting = Waiting.CONFIRM_SPEECH
        self.record("prompted", prompt=_prompt_text(prompts), attempt=self.state.attempts + 1)

    def lookup_request(self, spec: LookupSpec) -> ins.Lookup:
        values = self.variables()
        url = spec.base_url + spec.path.render(values, for_url=True)
        return ins.Lookup(
            method=spec.method, url=url, params={k: t.render(values) for k, t in spec.query.items()},
            json={k: t.render(values) for k, t in spec.body.items()} if spec.body is not None else None,
            headers=dict(spec.headers), timeout=spec.timeout,
        )

    def enqueue(self, spec: QueueSpec) -> None:
        prompt = self.say(spec.prompt)
        request = ins.RoutingRequest(queue=spec.name, skills=dict(spec.skills), priority=spec.priority,
                                     language=self.flow.language, timeout=spec.timeout)
        self.state.routing = request.to_dict()
        self.out.append(ins.Enqueue(request))
        self.state.waiting = Waiting.QUEUE
        self.state.disposition = Disposition.QUEUED
        self.record("queued", prompt=prompt, queue=spec.name, skills=dict(spec.skills), priority=spec.priority)

    def transfer(self, spec: Transfer) -> None:
        prompt = self.say(spec.prompt)
        target = spec.to.render(self.variables()).strip()
        kind = ins.DialKind.NUMBER
        if target.startswith("sip:"):
            kind = ins.DialKind.SIP
        elif target.startswith("client:"):
            kind, target = ins.DialKind.CLIENT, target[len("client:"):]
        elif not re.fullmatch(r"\+?[0-9]{3,15}", re.sub(r"[ ()\-.]", "", target)):
            raise EngineError(f"transfer target {target!r} is not a phone number")
        else:
            target = re.sub(r"[ ()\-.]", "", target)
        self.out.append(ins.Dial(target, kind, spec.caller_id, spec.timeout))
        self.state.waiting = Waiting.DIAL
        self.record("transferring", prompt=prompt, target=target)

    # -- events --------------------------------------------------------------------------------------------------
    def on_input(self, event: Input | NoInput) -> None:
        body = self.node.body
        if not isinstance(body, (Menu, Collect, ListenSpec)):
            raise EngineError(f"node '{self.state.node}' does not take input")
        if isinstance(event, NoInput) or not (event.digits or event.speech.strip()):
            if self.state.waiting is Waiting.CONFIRM_SPEECH:
                self.state.pending = ""
            self.record("no-input")
            self.retry(body, body.retry.no_input, "no-input")
            return
        given = event.digits or event.speech
        self.state.vars["last_input"] = given
        if event.speech and not event.digits and self.state.waiting is Waiting.GATHER and not isinstance(body, Collect):
            self.state.vars["heard"] = event.speech.strip()  # at a collect the words are the digits: not kept
        if self.state.waiting is Waiting.CONFIRM:
            self.on_confirm(body, event)
        elif self.state.waiting is Waiting.CONFIRM_SPEECH:
            self.on_heard_confirm(body, event)
        elif self.doubtful(body, event):
            self.on_low_confidence(body, event)
        else:
            self.dispatch(body, event)

    def dispatch(self, body: Menu | Collect | ListenSpec, event: Input) -> None:
        if isinstance(body, Menu):
            self.on_menu(body, event)
        elif isinstance(body, ListenSpec):
            self.on_listen(body, event)
        else:
            self.on_digits(body, event)

    def retry(self, body: Menu | Collect | ListenSpec, prompt: Prompt, why: str, confirm: bool = False,
              again: Callable[[Prompt], None] | None = None) -> None:
        self.state.attempts += 1
        if self.state.attempts > body.retry.retries:
            self.record("retries-exhausted", reason=why)
            if body.retry.fallback is not None:
                self.go(body.retry.fallback)
            else:
                self.end(Disposition.FAILED)
            return
        if again is not None:
            again(prompt)
        else:
            self.gather(body, before=prompt, confirm=confirm)

    # -- speech --------------------------------------------------------------------------------------------------
    def doubtful(self, body: Menu | Collect | ListenSpec, event: Input) -> bool:
        """Speech below the node's confidence threshold (a collect with its own read-back confirms anyway)."""
        speech = body.speech
        return (speech is not None and bool(event.speech) and not event.digits and event.confidence is not None
                and event.confidence < speech.confidence
                and not (isinstance(body, Collect) and body.confirm is not None))

    def on_low_confidence(self, body: Menu | Collect | ListenSpec, event: Input) -> None:
        assert body.speech is not None
        heard = _heard(body, event)
        if body.speech.low_confidence is LowConfidence.REPEAT:
            self.record("low-confidence", **heard)
            self.retry(body, body.speech.repeat_prompt, "low-confidence")
            return
        self.state.pending = event.speech.strip()
        self.record("confirming", **heard)
        self.ask_heard(body)

    def on_heard_confirm(self, body: Menu | Collect | ListenSpec, event: Input) -> None:
        assert body.speech is not None
        answer = {"1": True, "2": False}.get(event.digits[:1]) if event.digits else words.yes_or_no(
            event.speech, self.flow.language)
        pending, self.state.pending = self.state.pending, ""
        if answer is True:
            self.record("heard-confirmed", **_heard(body, Input(event.now, speech=pending)))
            if not isinstance(body, Collect):
                self.state.vars["heard"] = pending
            self.dispatch(body, Input(event.now, speech=pending))
        elif answer is False:
            self.record("heard-rejected", **_heard(body, Input(event.now, speech=pending)))
            self.retry(body, body.speech.repeat_prompt, "rejected")
        else:
            self.state.pending = pending
            self.record("no-match", **_heard(body, event))
            self.retry(body, body.retry.no_match, "no-match", again=lambda before: self.ask_heard(body, before))

    def on_listen(self, body: ListenSpec, event: Input) -> None:
        text = event.speech.strip() if not event.digits else ""
        found = words.extract(text, body.entities, self.local_now().date()) if text else {}
        if event.digits and "digits" in body.entities:
            found["digits"] = re.sub(r"[^0-9]", "", event.digits)
        self.state.vars["entities"] = dict(found)
        for kind, var in body.entities.items():
            if var:
                self.state.vars[var] = found.get(kind, "")
        if body.var:
            self.state.vars[body.var] = text
        match = words.match_intent(text, body.phrases) if text else None
        self.state.vars["intent"] = match.name if match else ""
        logged = {**_heard(body, event), "entities": _logged_entities(found) or None}
        if match is not None:
            self.record("understood", intent=match.name, **logged)
            self.go(body.intents[match.name])
        elif self.node.next is not None and text:
            self.record("heard", **logged)
            self.go(self.node.next)
        else:
            self.record("no-match", input=_mask(event.digits) if event.digits else None, **logged)
            self.retry(body, body.retry.no_match, "no-match")

    # -- keys and phrases ----------------------------------------------------------------------------------------
    def on_menu(self, body: Menu, event: Input) -> None:
        option = None
        if event.digits:
            option = next((o for o in body.options if o.key == event.digits[:1]), None)
        elif event.speech:
            option = _match_option(body, event.speech)
        heard = _heard(body, event)
        if option is None:
            self.record("no-match", input=event.digits or None, **heard)
            self.retry(body, body.retry.no_match, "no-match")
            return
        self.record("chose", input=event.digits or None, target=option.goto,
                    intent=option.intent if event.speech and not event.digits else None, **heard)
        self.assign(option.set)
        self.go(option.goto)

    def on_digits(self, body: Collect, event: Input) -> None:
        if event.digits:
            digits = re.sub(r"[^0-9*#]", "", event.digits)
        else:
            digits = words.extract_digits(event.speech) or re.sub(r"[^0-9*#]", "", event.speech)
        spoken = _heard(body, event)
        if body.finish_key:
            digits = digits.rstrip(body.finish_key)
        problem = _invalid_digits(body, digits)
        if problem:
            self.record("invalid", input=_mask(digits), reason=problem, **spoken)
            self.retry(body, body.invalid or body.retry.no_match, "invalid")
            return
        if body.confirm is not None:
            self.state.pending = digits
            self.record("collected", input=_mask(digits), confirm=True, **spoken)
            self.gather(body, confirm=True)
            return
        self.state.vars[body.var] = digits
        self.record("collected", input=_mask(digits), **spoken)
        self.go(self.node.next)

    def on_confirm(self, body: Menu | Collect | ListenSpec, event: Input) -> None:
        assert isinstance(body, Collect)
        answer = (event.digits or "")[:1]
        speech = event.speech.strip()
        said = None if answer else words.yes_or_no(speech, self.flow.language)
        if answer == "1" or said is True:
            self.state.vars[body.var] = self.state.pending
            self.record("confirmed", input=_mask(self.state.pending))
            self.go(self.node.next)
        elif answer == "2" or said is False:
            self.record("rejected", input=answer or speech)
            self.state.pending = ""
            self.state.attempts += 1
            if self.state.attempts > body.retry.retries:
                self.retry(body, (), "rejected")
            else:
                self.gather(body)
        else:
            self.record("no-match", input=answer or speech)
            self.retry(body, body.retry.no_match, "no-match", confirm=True)

    def on_lookup(self, event: LookupDone) -> None:
        spec: LookupSpec = self.node.body
        self.state.vars["lookup_status"] = event.status or 0
        if event.status is not None and 200 <= event.status < 300:
            if spec.store_as:
                self.state.vars[spec.store_as] = event.data
            for var, path in spec.save.items():
                self.state.vars[var] = lookup(event.data, path) if isinstance(event.data, dict) else None
            self.record("lookup-ok", status=event.status)
            self.go(self.node.next)
        elif event.status == 404 and spec.on_not_found:
            self.record("lookup-not-found", status=404)
            self.go(spec.on_not_found)
        else:
            self.record("lookup-failed", status=event.status, error=event.error)
            self.go(spec.on_failure)

    def on_dial(self, event: DialEnded) -> None:
        spec: Transfer = self.node.body
        self.state.vars["transfer_status"] = event.status
        if event.status in ("completed", "answered"):
            self.state.disposition = Disposition.TRANSFERRED
            self.record("transferred", status=event.status, duration=event.duration)
            self.continue_or_end(self.node.next, Disposition.TRANSFERRED)
        else:
            self.record("transfer-failed", status=event.status)
            self.continue_or_end(spec.on_failure or self.node.next, Disposition.FAILED)

    def on_queue(self, event: QueueEnded) -> None:
        self.state.vars["queue_result"] = event.result
        self.record("left-queue", result=event.result, queue_time=event.queue_time)
        self.state.disposition = None  # decided by how the caller left the queue
        if event.result in ("bridged", "bridging-in-process"):
            self.end(Disposition.ANSWERED)
        elif event.result == "hangup":
            self.end(Disposition.ABANDONED)
        else:
            self.continue_or_end(self.node.next, Disposition.FAILED)

    def on_agent(self, event: AgentCallEnded) -> None:
        """The call was taken out of the queue to ring an agent: answered ends the IVR's part; otherwise the
        caller goes back to waiting (the routing layer kept their place)."""
        if event.answered:
            self.state.vars["agent"] = event.agent
            self.record("answered", agent=event.agent, status=event.status)
            self.state.disposition = None
            self.end(Disposition.ANSWERED)
            return
        self.record("agent-missed", agent=event.agent, status=event.status)
        self.out.append(ins.Enqueue(ins.RoutingRequest.from_dict(self.state.routing or {})))

    def on_recording(self, event: RecordingEnded) -> None:
        self.state.vars.update(recording_url=event.url, recording_duration=event.duration)
        self.state.disposition = Disposition.VOICEMAIL
        self.record("recorded", duration=event.duration, recording=event.url)
        self.continue_or_end(self.node.next, Disposition.VOICEMAIL)

    def continue_or_end(self, target: str | None, disposition: Disposition) -> None:
        if target is None:
            self.end(disposition)
        else:
            self.go(target)


def _prompt_text(parts: list[ins.Prompt]) -> str:
    return " ".join(p.text if isinstance(p, ins.Say) else f"[play {p.url}]" if isinstance(p, ins.Play)
                    else "" for p in parts).strip()


def _mask(digits: str) -> str:
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
    return {kind: _mask(value) if kind == "digits" else value for kind, value in found.items()}


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

