"""Reading the values inside a flow (durations, templates, prompts, node targets, retries), recording what they name."""

from __future__ import annotations

from typing import Any, Mapping

from ivr.flowlang.durations import parse_duration
from ivr.flowlang.model import PausePart, PlayPart, Prompt, Retry, SayPart, Tts
from ivr.flowlang.parsed import Diagnostics, FileState
from ivr.flowlang.templating import Template, TemplateError
from ivr.flowlang.yamlsource import Path


def duration(sink: Diagnostics, st: FileState, path: Path, raw: Any, low: float, high: float) -> float | None:
    seconds = parse_duration(raw)
    if seconds is None:
        sink.error(st, path, f"'{raw}' is not a duration (use 5s, 500ms, 2m or 1h)")
        return None
    if not low <= seconds <= high:
        sink.error(st, path, f"{raw} is out of range ({_fmt_seconds(low)} to {_fmt_seconds(high)})")
        return None
    return seconds


def template(sink: Diagnostics, st: FileState, path: Path, raw: Any) -> Template:
    try:
        tpl = Template.parse(str(raw))
    except TemplateError as e:
        sink.error(st, path, f"bad template: {e}")
        return Template.parse("")
    for name in tpl.names:
        st.used.append((path, name))
    return tpl


def prompt(sink: Diagnostics, st: FileState, path: Path, raw: Any, voice: str | None, language: str) -> Prompt:
    if raw is None:
        return ()
    items = raw if isinstance(raw, list) else [raw]
    parts = []
    for i, item in enumerate(items):
        item_path = path + (i,) if isinstance(raw, list) else path
        if isinstance(item, dict) and "play" in item:
            parts.append(PlayPart(str(item["play"])))
        elif isinstance(item, dict) and "pause" in item:
            seconds = duration(sink, st, item_path + ("pause",), item["pause"], 1, 30)
            parts.append(PausePart(int(round(seconds or 1))))
        elif isinstance(item, dict) and "say" in item:
            parts.append(SayPart(template(sink, st, item_path + ("say",), item["say"]),
                                 item.get("voice") or voice, item.get("language") or language, tts_of(st.raw)))
        elif isinstance(item, (str, int, float)) and not isinstance(item, bool):
            parts.append(SayPart(template(sink, st, item_path, item), voice, language, tts_of(st.raw)))
    return tuple(parts)


def target(st: FileState, path: Path, node: str, raw: Any) -> str | None:
    """The node ``raw`` names as where ``node`` leads (whether it exists is checked once all nodes are known)."""
    if raw is None:
        return None
    st.targets.append((path, node, str(raw)))
    return str(raw)


def retry(sink: Diagnostics, st: FileState, path: Path, node: str, body: dict[str, Any], defaults: dict[str, Any],
          voice: str | None, language: str) -> Retry:
    def pick(key: str) -> tuple[Any, Path]:
        if key in body:
            return body[key], path + (key,)
        return defaults.get(key), ("defaults", key)

    timeout_raw, timeout_path = pick("timeout")
    timeout = 5.0
    if timeout_raw is not None:
        timeout = duration(sink, st, timeout_path, timeout_raw, 1, 60) or 5.0
    retries_raw, _ = pick("retries")
    no_input_raw, no_input_path = pick("no_input")
    no_match_raw, no_match_path = pick("no_match")
    fallback_raw, fallback_path = pick("fallback")
    return Retry(
        timeout=int(round(timeout)),
        retries=int(retries_raw) if isinstance(retries_raw, int) else 2,
        no_input=prompt(sink, st, no_input_path, no_input_raw, voice, language),
        no_match=prompt(sink, st, no_match_path, no_match_raw, voice, language),
        fallback=target(st, fallback_path, node, fallback_raw),
    )


def tts_of(raw: Mapping[str, Any]) -> Tts:
    """The flow's ``tts`` (the schema reports a value that is neither ``twilio`` nor ``local``)."""
    return Tts.LOCAL if raw.get("tts") == Tts.LOCAL.value else Tts.TWILIO


def _fmt_seconds(seconds: float) -> str:
    if seconds < 1:
        return f"{int(seconds * 1000)}ms"
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{int(seconds // 3600)}h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    return f"{seconds:g}s"
