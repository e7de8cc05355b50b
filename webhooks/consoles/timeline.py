"""What the call history pages show of a call log record: times in the viewer's timezone, the outcome, the queue
wait, and each step as a row of labelled details. Pure functions over :meth:`ivr.store.calllog.CallLog.get` records;
the templates escape every value (caller speech and notes are untrusted input)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from ivr.store.callsearch import outcome_of

#: Step fields every row shows in its own columns.
_FIXED = ("flow", "node", "kind", "outcome", "at")
#: How step fields are labelled, in the order they are shown; other fields follow under their own name.
LABELS = {
    "prompt": "Prompt", "input": "Keys", "heard": "Heard", "spoken": "Spoken", "confidence": "Confidence",
    "intent": "Intent", "entities": "Entities", "text": "Transcript", "language": "Language",
    "attempt": "Attempt", "target": "Next", "case": "Case", "values": "Set", "status": "Status",
    "error": "Error", "reason": "Reason", "queue": "Queue", "skills": "Skills", "priority": "Priority",
    "agent": "Agent", "result": "Queue result", "queue_time": "Time in queue", "duration": "Duration",
    "disposition": "Disposition", "notes": "Notes", "mailbox": "Mailbox", "recording": "Recording",
    "callback": "Callback", "original_call": "Original call",
}
_SECONDS = {"queue_time", "duration"}


@dataclass(frozen=True)
class Detail:
    label: str
    value: str


@dataclass(frozen=True)
class Row:
    """One step: when (offset from the call's start and clock time), where (flow.node), what happened."""

    offset: str
    clock: str
    where: str
    kind: str
    outcome: str
    details: list[Detail] = field(default_factory=list)


@dataclass(frozen=True)
class QueueWait:
    """The call's time in an agent queue: which queue, when it entered (offset), how long it waited, and how the
    wait ended."""

    queue: str
    entered: str
    waited: str
    ended: str


def zone(name: str | None) -> ZoneInfo:
    """The viewer's timezone, UTC when none (or an unknown one) is given."""
    try:
        return ZoneInfo(name) if name else ZoneInfo("UTC")
    except (ValueError, KeyError, OSError):
        return ZoneInfo("UTC")


def clock_time(epoch: Any, tz: ZoneInfo, *, date: bool = True) -> str:
    """An epoch as ``YYYY-MM-DD HH:MM:SS`` (or only the time) in ``tz``; empty when there is none."""
    if epoch in (None, ""):
        return ""
    moment = datetime.fromtimestamp(float(epoch), timezone.utc).astimezone(tz)
    return moment.strftime("%Y-%m-%d %H:%M:%S" if date else "%H:%M:%S")


def seconds(value: Any) -> str:
    """``75`` → ``1m 15s``."""
    if value in (None, ""):
        return ""
    total = max(0, round(float(value)))
    minutes, secs = divmod(total, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def offset(at: Any, started: float) -> str:
    """How long after the call's start: ``+12.5s``."""
    if at in (None, ""):
        return ""
    return f"+{max(0.0, float(at) - started):.1f}s"


def outcome_label(record: Mapping[str, Any]) -> str:
    """The outcome of a call summary, as words."""
    return outcome_of(dict(record)).label


def format_value(key: str, value: Any) -> str:
    """A step field as text: confidences as percentages, seconds as durations, mappings as ``key value`` lists."""
    if key == "confidence" and isinstance(value, (int, float)):
        return f"{value:.0%}"
    if key in _SECONDS and isinstance(value, (int, float)):
        return seconds(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {format_value(k, v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if isinstance(value, (int, float, str)):
        return str(value)
    return json.dumps(value, default=str)


def rows(record: Mapping[str, Any], tz: ZoneInfo) -> list[Row]:
    """Every step of the call, in order."""
    started = float(record.get("started_at") or 0)
    listed: list[Row] = []
    for step in record.get("steps", []):
        known = [k for k in LABELS if k in step]
        other = sorted(k for k in step if k not in LABELS and k not in _FIXED)
        details = [Detail(LABELS.get(k, k.replace("_", " ").capitalize()), format_value(k, step[k]))
                   for k in known + other if step[k] not in (None, "")]
        where = ".".join(part for part in (step.get("flow"), step.get("node")) if part)
        listed.append(Row(offset(step.get("at"), started), clock_time(step.get("at"), tz, date=False), where,
                          str(step.get("kind") or ""), str(step.get("outcome") or ""), details))
    return listed


def queue_wait(record: Mapping[str, Any]) -> QueueWait | None:
    """From the first ``queued`` step to the agent accepting (``accepted_at``), the caller leaving the queue, or
    the end of the call; None when the call never queued."""
    steps = record.get("steps", [])
    entered = next((s for s in steps if s.get("outcome") == "queued" and s.get("at") is not None), None)
    if entered is None:
        return None
    started = float(record.get("started_at") or 0)
    since = float(entered["at"])
    left = next((s for s in steps if s.get("outcome") == "left-queue" and s.get("at") is not None), None)
    if record.get("accepted_at") is not None:
        until, how = float(record["accepted_at"]), f"accepted by {record.get('agent') or 'an agent'}"
    elif left is not None:
        until, how = float(left["at"]), f"left the queue ({left.get('result') or 'unknown'})"
    elif record.get("ended_at") is not None:
        until, how = float(record["ended_at"]), "the call ended"
    else:
        return QueueWait(str(entered.get("queue") or ""), offset(since, started), "", "still waiting")
    return QueueWait(str(entered.get("queue") or ""), offset(since, started), seconds(until - since), how)

