"""The pure step function: ``step(bundle, state, event) -> StepResult``.

No Flask, no Redis, no clock, no network: everything the engine needs arrives in its arguments, and everything it
wants done leaves as :mod:`ivr.engine.instructions` (a :class:`~ivr.engine.instructions.Lookup` is performed by the
caller, who feeds back a :class:`~ivr.engine.events.LookupDone`; what routing finds comes back the same way, as a
:class:`~ivr.engine.events.NoAgentsSignedIn`). That is what makes flows testable without a phone.

This module says which handler takes each event and how each kind of node is entered; the handlers live by
concept in :mod:`ivr.engine.answers`, :mod:`ivr.engine.gathering`, :mod:`ivr.engine.nodes` and
:mod:`ivr.engine.queue`, over the step in progress (:class:`ivr.engine.run.Run`).
"""

from __future__ import annotations

from typing import Any, Callable

from ivr.engine import instructions as ins
from ivr.engine.answers import on_input
from ivr.engine.events import (AgentCallEnded, CallStarted, DialEnded, Event, Input, LookupDone, NoAgentsSignedIn,
                               NoInput, QueueEnded, RecordingEnded)
from ivr.engine.gathering import gather
from ivr.engine.nodes import branch, hours, lookup_request, on_dial, on_lookup, on_recording, transfer, voicemail
from ivr.engine.queue import enqueue, on_agent, on_no_agents, on_queue
from ivr.engine.run import Next, Run, prompt_text
from ivr.engine.state import CallState, Disposition, Frame, StepResult, Waiting
from ivr.errors import EngineError
from ivr.flowlang.model import Bundle, Node, NodeKind


def step(bundle: Bundle, state: CallState, event: Event) -> StepResult:
    """Advance ``state`` by ``event``; return the new state, what to tell Twilio, and log entries.

    ``state`` is not modified; raises :class:`EngineError` only for inconsistencies (a bug, or a state that does
    not fit the bundle) — the HTTP edge turns that into the fallback.
    """
    run = Run(bundle, CallState.from_dict(state.to_dict()), event, enter)
    _handle(run)
    return StepResult(run.state, run.out, run.log)


def _handle(run: Run) -> None:
    """Hand the event to what the call waits for; an event that does not fit is an inconsistency."""
    event, waiting = run.event, run.state.waiting
    if isinstance(event, CallStarted):
        flow = run.bundle.flow_for_number(event.called)
        if flow is None:
            raise EngineError(f"no flow answers {event.called!r} and there is no default flow")
        run.state.vars = {**flow.variables, "caller": event.caller, "called": event.called,
                          "call_sid": event.call_sid or run.state.call_sid}
        run.state.flow = flow.name
        run.go(flow.start)
        return
    if waiting is Waiting.ENDED:
        run.out.append(ins.Hangup())
        return
    if isinstance(event, (Input, NoInput)) and waiting in (Waiting.GATHER, Waiting.CONFIRM,
                                                          Waiting.CONFIRM_SPEECH):
        on_input(run, event)
    elif isinstance(event, LookupDone) and waiting is Waiting.LOOKUP:
        on_lookup(run, event)
    elif isinstance(event, DialEnded) and waiting is Waiting.DIAL:
        on_dial(run, event)
    elif isinstance(event, QueueEnded) and waiting is Waiting.QUEUE:
        on_queue(run, event)
    elif isinstance(event, AgentCallEnded) and waiting is Waiting.QUEUE:
        on_agent(run, event)
    elif isinstance(event, NoAgentsSignedIn) and waiting is Waiting.QUEUE:
        on_no_agents(run, event)
    elif isinstance(event, RecordingEnded) and waiting is Waiting.RECORD:
        on_recording(run, event)
    else:
        raise EngineError(f"{type(event).__name__} does not fit a call waiting for {waiting.value or 'nothing'}")


def enter(run: Run, node: Node) -> Next:
    """Run ``node``; return the next (node, flow-or-None) to enter immediately, or (None, None) to wait."""
    kind, body = node.kind, node.body
    if kind is NodeKind.SAY:
        run.record("said", prompt=run.say(body))
        return node.next, None
    if kind is NodeKind.SET:
        run.assign(body)
        run.record("set", values=sorted(body))
        return node.next, None
    if kind is NodeKind.BRANCH:
        return branch(run, body), None
    if kind is NodeKind.HOURS:
        return hours(run, body), None
    if kind is NodeKind.SUBFLOW:
        sub = run.bundle.flows.get(body)
        if sub is None:
            raise EngineError(f"subflow '{body}' is not in this bundle")
        if node.next is not None:
            run.state.stack.append(Frame(run.state.flow, node.next))
        run.record("subflow", target=body)
        return sub.start, sub.name
    if kind is NodeKind.RETURN:
        run.record("return")
        if not run.state.stack:
            run.end(Disposition.SELF_SERVICE)
            return None, None
        frame = run.state.stack.pop()
        return frame.next, frame.flow
    if kind is NodeKind.HANGUP:
        run.record("hangup", prompt=prompt_text(run.render(body)))
        run.end(Disposition.SELF_SERVICE, body)
        return None, None
    hand_off = _WAITING_NODES.get(kind)
    if hand_off is None:  # pragma: no cover
        raise EngineError(f"unknown node kind {kind}")
    hand_off(run, body)
    return None, None


#: The kinds of node that hand the call to the edge and wait for what happens there (the next event).
_WAITING_NODES: dict[NodeKind, Callable[[Run, Any], None]] = {
    NodeKind.MENU: gather, NodeKind.COLLECT: gather, NodeKind.LISTEN: gather, NodeKind.LOOKUP: lookup_request,
    NodeKind.QUEUE: enqueue, NodeKind.TRANSFER: transfer, NodeKind.VOICEMAIL: voicemail,
}
