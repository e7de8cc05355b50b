"""A call as people read it."""

from __future__ import annotations

from ivr.simulator.call import CallEvent, CallResult


def format_event(event: CallEvent) -> str | None:
    """One line for an event, or None for events not worth a line."""
    d, kind = event.data, event.kind
    if kind == "say":
        return f"  IVR: {d['text']}"
    if kind == "play":
        return f"  IVR plays {d['url']}"
    if kind == "input":
        if d.get("speech"):
            return f"  CALLER says: {d['speech']}"
        return f"  CALLER presses: {d['digits']}" if d["digits"] else "  CALLER: (silence)"
    if kind == "stream-audio":
        return f"  IVR plays {d['played_ms']} ms of prompt audio into the stream"
    if kind == "barge-in":
        return "  (the caller spoke over the prompt: the IVR stopped it)"
    if kind == "dial":
        return f"  → transferred to {d['target']} ({d['status']})"
    if kind == "enqueue":
        return f"  → enqueued in '{d['queue']}'"
    if kind == "redirected":
        return "  → taken out of the queue: an agent accepted"
    if kind == "hold":
        return f"  (on hold) {d['text']}"
    if kind == "record":
        return f"  → voicemail recorded ({d['duration']}s)"
    if kind == "hangup":
        return "  → the IVR hung up"
    if kind == "caller-hangup":
        return "  → the caller hung up"
    if kind == "stream":
        return f"  → listening over a media stream ({d['url']})"
    if kind == "error":
        return f"  !! {d['message']}"
    return None


def format_transcript(result: CallResult) -> str:
    lines = [f"call {result.call_sid}"]
    lines += [line for line in (format_event(e) for e in result.events) if line]
    lines.append(f"  outcome: {result.outcome}")
    return "\n".join(lines)
