"""The nodes that decide by themselves or hand the call to the edge and wait: branch and hours (deciding),
lookup, transfer and voicemail (an effect, whose outcome comes back as an event)."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from ivr.engine import instructions as ins
from ivr.engine.events import DialEnded, LookupDone, RecordingEnded
from ivr.engine.run import Run
from ivr.engine.state import Disposition, Waiting
from ivr.errors import EngineError
from ivr.flowlang.conditions import Context
from ivr.flowlang.model import Branch, Hours, LookupSpec, Transfer, Voicemail
from ivr.flowlang.templating import lookup


def branch(run: Run, body: Branch) -> str:
    """The target of the first case whose condition holds, else ``otherwise``."""
    ctx = Context(run.variables(), run.local_now(), run.bundle.schedules)
    for i, (condition, target) in enumerate(body.cases):
        if condition.evaluate(ctx):
            run.record("branch", case=i, target=target)
            return target
    run.record("branch", case="else", target=body.otherwise)
    return body.otherwise


def hours(run: Run, body: Hours) -> str:
    """Where the schedule's state now (open, closure, holiday, closed) leads; ``hours`` tells the flow more."""
    schedule = run.bundle.schedules.get(body.schedule)
    if schedule is None:
        raise EngineError(f"schedule '{body.schedule}' is not in this bundle")
    status = schedule.status(run.event.now)
    state = getattr(status.state, "value", str(status.state)).lower()
    reopen = status.next_open.astimezone(ZoneInfo(run.flow.timezone)) if status.next_open else None
    run.state.vars["hours"] = {
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
    run.record("hours", status=state, target=target)
    return target


def lookup_request(run: Run, spec: LookupSpec) -> None:
    """Ask the caller of the step to perform the node's HTTP request (answered by :class:`LookupDone`)."""
    values = run.variables()
    url = spec.base_url + spec.path.render(values, for_url=True)
    run.out.append(ins.Lookup(
        method=spec.method, url=url, params={k: t.render(values) for k, t in spec.query.items()},
        json={k: t.render(values) for k, t in spec.body.items()} if spec.body is not None else None,
        headers=dict(spec.headers), timeout=spec.timeout,
    ))
    run.state.waiting = Waiting.LOOKUP


def transfer(run: Run, spec: Transfer) -> None:
    """Dial out to a phone number, a SIP address or a Twilio Client identity."""
    prompt = run.say(spec.prompt)
    target = spec.to.render(run.variables()).strip()
    kind = ins.DialKind.NUMBER
    if target.startswith("sip:"):
        kind = ins.DialKind.SIP
    elif target.startswith("client:"):
        kind, target = ins.DialKind.CLIENT, target[len("client:"):]
    elif not re.fullmatch(r"\+?[0-9]{3,15}", re.sub(r"[ ()\-.]", "", target)):
        raise EngineError(f"transfer target {target!r} is not a phone number")
    else:
        target = re.sub(r"[ ()\-.]", "", target)
    run.out.append(ins.Dial(target, kind, spec.caller_id, spec.timeout))
    run.state.waiting = Waiting.DIAL
    run.record("transferring", prompt=prompt, target=target)


def voicemail(run: Run, body: Voicemail) -> None:
    """Say the prompt and record the caller's message."""
    prompt = run.say(body.prompt)
    run.out.append(ins.Record(max_length=body.max_length, finish_on_key=body.finish_key))
    run.state.waiting = Waiting.RECORD
    run.record("recording", prompt=prompt, mailbox=body.mailbox)


def on_lookup(run: Run, event: LookupDone) -> None:
    """The lookup's outcome: data saved and on to ``next``, or ``on_not_found`` / ``on_failure``."""
    spec: LookupSpec = run.node.body
    run.state.vars["lookup_status"] = event.status or 0
    if event.status is not None and 200 <= event.status < 300:
        if spec.store_as:
            run.state.vars[spec.store_as] = event.data
        for var, path in spec.save.items():
            run.state.vars[var] = lookup(event.data, path) if isinstance(event.data, dict) else None
        run.record("lookup-ok", status=event.status)
        run.go(run.node.next)
    elif event.status == 404 and spec.on_not_found:
        run.record("lookup-not-found", status=404)
        run.go(spec.on_not_found)
    else:
        run.record("lookup-failed", status=event.status, error=event.error)
        run.go(spec.on_failure)


def on_dial(run: Run, event: DialEnded) -> None:
    """The transfer ended: transferred, or on to ``on_failure`` (else ``next``)."""
    spec: Transfer = run.node.body
    run.state.vars["transfer_status"] = event.status
    if event.status in ("completed", "answered"):
        run.state.disposition = Disposition.TRANSFERRED
        run.record("transferred", status=event.status, duration=event.duration)
        run.continue_or_end(run.node.next, Disposition.TRANSFERRED)
    else:
        run.record("transfer-failed", status=event.status)
        run.continue_or_end(spec.on_failure or run.node.next, Disposition.FAILED)


def on_recording(run: Run, event: RecordingEnded) -> None:
    """The voicemail was recorded: its URL and length become variables."""
    run.state.vars.update(recording_url=event.url, recording_duration=event.duration)
    run.state.disposition = Disposition.VOICEMAIL
    run.record("recorded", duration=event.duration, recording=event.url)
    run.continue_or_end(run.node.next, Disposition.VOICEMAIL)
