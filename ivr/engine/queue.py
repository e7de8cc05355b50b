"""The queue node: waiting for an agent, how the caller leaves the queue, and what the queue does when routing
finds no agent signed in (``when_no_agents``: wait, overflow to another queue, a callback, or leave).

The engine does not ask routing itself: the service that hands the call to routing feeds back a
:class:`~ivr.engine.events.NoAgentsSignedIn` event when :func:`when_no_agents` says it matters, and the step
function decides what the caller hears and where the call goes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from ivr.engine import instructions as ins
from ivr.engine.events import AgentCallEnded, NoAgentsSignedIn, QueueEnded
from ivr.engine.run import Run
from ivr.engine.state import CallState, Disposition, StepResult, Waiting
from ivr.flowlang.model import Bundle, QueueSpec

#: What a caller hears before the call ends when they are to be called back (no agent signed in, or the
#: queue's maximum wait reached with ``on_max_wait: callback``).
CALLBACK_GOODBYE = "We will call you back as soon as an agent is free. Goodbye."
#: The reason the call log gives for a decision taken because no agent was signed in.
NO_AGENTS_REASON = "no agents signed in"
_PROMPTS = (ins.Say, ins.Play, ins.Pause)


class NoAgentsPolicy(str, Enum):
    """What a queue does with a call when no agent at all is signed in (the kind of its ``when_no_agents``)."""

    WAIT = "wait"          # the call waits anyway (also: not about to wait in a configured queue)
    OVERFLOW = "overflow"  # ``queue:<name>``: the call waits in that queue instead
    CALLBACK = "callback"  # the caller is told they will be called back, and the call ends
    LEAVE = "leave"        # out of the queue at once: the flow goes on from the queue node (``voicemail``...)


class MaxWaitAction(str, Enum):
    """What a queue's ``on_max_wait`` does with a call still waiting when the queue's ``max_wait`` is reached."""

    OVERFLOW = "overflow"  # ``queue:<name>``: the call waits in that queue instead, keeping its time in line
    CALLBACK = "callback"  # the caller is told they will be called back, and the call ends
    LEAVE = "leave"        # out of the queue: the flow goes on from the queue node's ``next`` (``voicemail``)


@dataclass(frozen=True)
class MaxWaitDecision:
    """The engine's decision at a queue's maximum wait: the action, and the queue an overflow goes to."""

    action: MaxWaitAction
    queue: str | None = None


def at_max_wait(on_max_wait: str) -> MaxWaitDecision:
    """What happens to a call still waiting at its queue's maximum wait, by the queue's ``on_max_wait``."""
    if on_max_wait == "callback":
        return MaxWaitDecision(MaxWaitAction.CALLBACK)
    if on_max_wait.startswith("queue:"):
        return MaxWaitDecision(MaxWaitAction.OVERFLOW, on_max_wait[len("queue:"):])
    return MaxWaitDecision(MaxWaitAction.LEAVE)


def ended_for_callback(state: CallState) -> CallState:
    """``state`` of a waiting call whose caller is to be called back: its part in the IVR is over, with
    disposition ``callback`` (what the caller hears is :data:`CALLBACK_GOODBYE`)."""
    state.waiting, state.disposition = Waiting.ENDED, Disposition.CALLBACK
    return state


def when_no_agents(bundle: Bundle, result: StepResult) -> NoAgentsPolicy:
    """What happens to the call of ``result`` if no agent is signed in: :attr:`NoAgentsPolicy.WAIT` unless the
    call is about to wait (its last instruction an Enqueue) in a configured queue with another ``when_no_agents``."""
    if (bundle.routing is None or result.state.waiting is not Waiting.QUEUE or not result.instructions
            or not isinstance(result.instructions[-1], ins.Enqueue)):
        return NoAgentsPolicy.WAIT
    queue = bundle.routing.queues.get((result.state.routing or {}).get("queue", ""))
    if queue is None or queue.when_no_agents == "wait":
        return NoAgentsPolicy.WAIT
    if queue.when_no_agents == "callback":
        return NoAgentsPolicy.CALLBACK
    if queue.when_no_agents.startswith("queue:"):
        return NoAgentsPolicy.OVERFLOW
    return NoAgentsPolicy.LEAVE


def enqueue(run: Run, spec: QueueSpec) -> None:
    """Say the queue node's prompt and put the call in line for an agent."""
    prompt = run.say(spec.prompt)
    request = ins.RoutingRequest(queue=spec.name, skills=dict(spec.skills), priority=spec.priority,
                                 language=run.flow.language, timeout=spec.timeout)
    run.state.routing = request.to_dict()
    run.out.append(ins.Enqueue(request))
    run.state.waiting = Waiting.QUEUE
    run.state.disposition = Disposition.QUEUED
    run.record("queued", prompt=prompt, queue=spec.name, skills=dict(spec.skills), priority=spec.priority)


def on_queue(run: Run, event: QueueEnded, reason: str = "") -> None:
    """The caller left the queue: answered, hung up, or on to the queue node's ``next``."""
    run.state.vars["queue_result"] = event.result
    run.record("left-queue", result=event.result, queue_time=event.queue_time, reason=reason)
    run.state.disposition = None  # decided by how the caller left the queue
    if event.result in ("bridged", "bridging-in-process"):
        run.end(Disposition.ANSWERED)
    elif event.result == "hangup":
        run.end(Disposition.ABANDONED)
    else:
        run.continue_or_end(run.node.next, Disposition.FAILED)


def on_agent(run: Run, event: AgentCallEnded) -> None:
    """The call was taken out of the queue to ring an agent: answered ends the IVR's part; otherwise the
    caller goes back to waiting (the routing layer kept their place)."""
    if event.answered:
        run.state.vars["agent"] = event.agent
        run.record("answered", agent=event.agent, status=event.status)
        run.state.disposition = None
        run.end(Disposition.ANSWERED)
        return
    run.record("agent-missed", agent=event.agent, status=event.status)
    run.out.append(ins.Enqueue(ins.RoutingRequest.from_dict(run.state.routing or {})))


def on_no_agents(run: Run, event: NoAgentsSignedIn) -> None:
    """No agent is signed in: the queue's ``when_no_agents`` decides. The answer replaces ``event.pending``:
    overflow swaps the Enqueue for one to the other queue; a callback drops the prompts before it ("please
    hold" would be wrong now) and says goodbye; leaving drops the queue node's own prompt and goes on from the
    queue node as if the caller had left the queue."""
    state = run.state
    pending = list(event.pending)
    policy = when_no_agents(run.bundle, StepResult(state, pending, []))
    if policy is NoAgentsPolicy.WAIT:
        run.out = pending
        return
    kept = pending[:-1]
    if policy is NoAgentsPolicy.OVERFLOW:
        assert run.bundle.routing is not None
        target = run.bundle.routing.queues[(state.routing or {}).get("queue", "")].when_no_agents[len("queue:"):]
        request = dict(state.routing or {}, queue=target)
        state.routing = request
        run.out = kept + [ins.Enqueue(ins.RoutingRequest.from_dict(request))]
        run.log.append({"flow": state.flow, "node": state.node, "kind": "queue", "outcome": "overflow",
                        "queue": target, "reason": NO_AGENTS_REASON, "at": event.now.timestamp()})
    elif policy is NoAgentsPolicy.CALLBACK:
        while kept and isinstance(kept[-1], _PROMPTS):
            kept.pop()
        state.routing = dict(state.routing or {}, callback=True)
        state.waiting, state.disposition = Waiting.ENDED, Disposition.CALLBACK
        run.log.append({"flow": state.flow, "node": state.node, "kind": "queue", "outcome": "callback",
                        "queue": state.routing.get("queue"), "reason": NO_AGENTS_REASON,
                        "at": event.now.timestamp()})
        run.out = kept + [ins.Say(CALLBACK_GOODBYE), ins.Hangup()]
    else:
        node = run.bundle.flows[state.flow].nodes.get(state.node)
        held = len(node.body.prompt) if node is not None and hasattr(node.body, "prompt") else 0
        while held and kept and isinstance(kept[-1], _PROMPTS):
            kept.pop()
            held -= 1
        run.out = kept
        on_queue(run, QueueEnded(event.now, "leave"), reason=NO_AGENTS_REASON)
