"""One step in progress: the call's state, what it says and logs, and moving from node to node.

The handlers of each kind of node (:mod:`ivr.engine.gathering`, :mod:`ivr.engine.answers`,
:mod:`ivr.engine.nodes`, :mod:`ivr.engine.queue`) work on a :class:`Run`; :mod:`ivr.engine.step` makes one per
event and says how each kind of node is entered.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Mapping, Optional, Tuple
from zoneinfo import ZoneInfo

from ivr.engine import instructions as ins
from ivr.engine.events import Event
from ivr.engine.state import CallState, Disposition, Waiting
from ivr.errors import EngineError
from ivr.flowlang.model import Bundle, Flow, Node, PausePart, PlayPart, Prompt, SayPart
from ivr.flowlang.templating import Template

#: Nodes entered in one step without waiting for the caller; more means a loop with no input.
MAX_TRANSITIONS = 64

#: Where to go next: (node, flow or None for the same flow), or (None, None) when the call waits.
Next = Tuple[Optional[str], Optional[str]]


class Run:
    """The step being computed for one event; ``enter`` runs a node and says where to go next."""

    def __init__(self, bundle: Bundle, state: CallState, event: Event, enter: Callable[["Run", Node], Next]):
        self.bundle = bundle
        self.state = state
        self.event = event
        self.enter = enter
        self.out: list[ins.Instruction] = []
        self.log: list[dict[str, Any]] = []
        self.transitions = 0

    @property
    def flow(self) -> Flow:
        """The flow the call is in."""
        flow = self.bundle.flows.get(self.state.flow)
        if flow is None:
            raise EngineError(f"flow '{self.state.flow}' is not in this bundle")
        return flow

    @property
    def node(self) -> Node:
        """The node the call is at."""
        node = self.flow.nodes.get(self.state.node)
        if node is None:
            raise EngineError(f"node '{self.state.node}' is not in flow '{self.state.flow}'")
        return node

    def local_now(self) -> datetime:
        """The event's time in the flow's time zone."""
        return self.event.now.astimezone(ZoneInfo(self.flow.timezone))

    def variables(self) -> dict[str, Any]:
        """The call's variables and the built-in ones (flow, language, today, now_time)."""
        now = self.local_now()
        values = dict(self.state.vars)
        values.update(flow=self.state.flow, language=self.flow.language, today=now.date().isoformat(),
                      now_time=now.strftime("%H:%M"))
        return values

    def record(self, outcome: str, **extra: Any) -> None:
        """Add a call log entry for the current node (empty values are left out)."""
        entry = {"flow": self.state.flow, "node": self.state.node, "kind": self.node.kind.value,
                 "outcome": outcome, "at": self.event.now.timestamp()}
        entry.update({k: v for k, v in extra.items() if v not in (None, "")})
        self.log.append(entry)

    def render(self, prompt: Prompt, extra: Mapping[str, Any] | None = None) -> list[ins.Prompt]:
        """The prompt's parts with the variables filled in (a part that renders to no words is left out)."""
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
        """Say ``prompt``; returns its text for the call log."""
        parts = self.render(prompt, extra)
        self.out.extend(parts)
        return prompt_text(parts)

    def end(self, disposition: Disposition, prompt: Prompt = ()) -> None:
        """Say ``prompt`` and hang up; the call keeps a disposition it already has."""
        self.say(prompt)
        self.out.append(ins.Hangup())
        self.state.waiting = Waiting.ENDED
        self.state.disposition = self.state.disposition or disposition

    def assign(self, values: Mapping[str, Any]) -> None:
        """Set the call's variables (templates rendered against the variables as they were before)."""
        current = self.variables()
        for var, value in values.items():
            self.state.vars[var] = value.render(current) if isinstance(value, Template) else value

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
            target, flow = self.enter(self, self.node)

    def continue_or_end(self, target: str | None, disposition: Disposition) -> None:
        """Go on at ``target``, or end the call with ``disposition`` when there is none."""
        if target is None:
            self.end(disposition)
        else:
            self.go(target)


def prompt_text(parts: list[ins.Prompt]) -> str:
    """What a prompt says, for the call log (audio as ``[play URL]``)."""
    return " ".join(p.text if isinstance(p, ins.Say) else f"[play {p.url}]" if isinstance(p, ins.Play)
                    else "" for p in parts).strip()
