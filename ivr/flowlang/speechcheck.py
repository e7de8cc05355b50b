"""A flow's speech parts: its ``speech`` block and ``intents``, nodes' ``speech``, ``listen`` nodes, model warnings.

Built while the compiler (:mod:`ivr.flowlang.compile`) reaches them, so that their problems are reported in the order
of the file; :func:`model_warnings` is a pass over a valid bundle. (Named ``speechcheck``, not ``speech``, so as not
to read like the top-level :mod:`speech` package it uses.)
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Sequence

from ivr.errors import Diagnostic, Severity, suggest
from ivr.flowlang.model import Bundle, ListenSpec, LowConfidence, Speech
from ivr.flowlang.parsed import Diagnostics, FileState
from ivr.flowlang.values import duration, prompt, retry, target
from ivr.flowlang.yamlsource import Path
from speech.intents import base_language
from speech.models import ModelInfo

#: Default wording of the low-confidence confirmation and of the request to repeat, by language.
CONFIRM_PROMPTS = {
    "en": "Did you say {{heard}}? Say yes or press 1 if that is right. Say no or press 2 to try again.",
    "es": "¿Dijo {{heard}}? Diga sí u oprima 1 si es correcto. Diga no u oprima 2 para intentarlo de nuevo.",
    "ko": "{{heard}}, 맞습니까? 맞으면 예라고 말씀하시거나 1번을, 아니면 아니요라고 말씀하시거나 2번을 눌러 주세요.",
}
REPEAT_PROMPTS = {
    "en": "Sorry, I didn't catch that.",
    "es": "Disculpe, no le entendí.",
    "ko": "죄송합니다. 잘 알아듣지 못했습니다.",
}
#: Limits of the speech timings, in seconds.
SPEECH_LIMITS = {"no_input": (1.0, 60.0), "end_silence": (0.1, 5.0), "max_utterance": (1.0, 120.0)}


def model_warnings(bundle: Bundle, models: Sequence[ModelInfo]) -> list[Diagnostic]:
    """A warning for each flow listening for speech in a language none of ``models`` serves."""
    warnings = []
    for flow in bundle.flows.values():
        if flow.speech is None or any(m.serves(flow.language) for m in models):
            continue
        warnings.append(Diagnostic(
            flow.file, flow.speech_line, "speech",
            f"no speech model for {flow.language} is installed, so callers can only press keys ('ivr speech "
            f"download {flow.language}', or install a vosk-model-{base_language(flow.language)} package; "
            "'ivr speech models' lists what is installed)",
            Severity.WARNING))
    return warnings


def intents(sink: Diagnostics, st: FileState, raw: Any) -> dict[str, tuple[str, ...]]:
    """The flow's ``intents``: name -> every phrase (its phrases, then its synonyms)."""
    if not isinstance(raw, dict):
        return {}
    intents: dict[str, tuple[str, ...]] = {}
    owner: dict[str, str] = {}
    for name, spec in raw.items():
        path: Path = ("intents", name)
        if isinstance(spec, list):
            parts = [(path, spec)]
        elif isinstance(spec, dict):
            parts = [(path + (key,), spec.get(key) or []) for key in ("phrases", "synonyms")]
        else:
            continue
        phrases: list[str] = []
        for ppath, items in parts:
            for i, item in enumerate(items):
                if not isinstance(item, str):
                    continue
                phrase = " ".join(item.split())
                low = phrase.lower()
                if not phrase:
                    sink.error(st, ppath + (i,), "empty phrase")
                elif low in owner and owner[low] != name:
                    sink.error(st, ppath + (i,), f"phrase '{phrase}' is already used by intent '{owner[low]}'")
                elif low not in owner:
                    owner[low] = name
                    phrases.append(phrase)
        if not phrases:
            sink.error(st, path, f"intent '{name}' has no phrases")
        intents[name] = tuple(phrases)
    return intents


def flow_speech(sink: Diagnostics, st: FileState, raw: Any, language: str, voice: str | None) -> Speech | None:
    """The flow's ``speech`` block (None when absent or disabled: the flow is keys-only)."""
    if not isinstance(raw, dict):
        return None
    st.speech_declared = True
    lang = base_language(language)
    confirm = prompt(sink, st, ("speech", "confirm_prompt"),
                     raw.get("confirm_prompt", CONFIRM_PROMPTS.get(lang, CONFIRM_PROMPTS["en"])), voice, language)
    repeat = prompt(sink, st, ("speech", "repeat_prompt"),
                    raw.get("repeat_prompt", REPEAT_PROMPTS.get(lang, REPEAT_PROMPTS["en"])), voice, language)
    base = Speech(confirm_prompt=confirm, repeat_prompt=repeat)
    speech = speech_timing(sink, st, ("speech",), raw, base)
    return speech if raw.get("enabled", True) is True else None


def confidence(sink: Diagnostics, st: FileState, path: Path, raw: Any) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        return 0.5  # reported by the schema
    if not 0 <= raw <= 1:
        sink.error(st, path, f"confidence {raw} is out of range (0 to 1)")
        return 0.5
    return float(raw)


def speech_timing(sink: Diagnostics, st: FileState, path: Path, raw: dict[str, Any], base: Speech) -> Speech:
    values: dict[str, Any] = {}
    for key, (low, high) in SPEECH_LIMITS.items():
        if key in raw:
            seconds = duration(sink, st, path + (key,), raw[key], low, high)
            if seconds is not None:
                values[f"{key}_ms"] = int(round(seconds * 1000))
    if "confidence" in raw:
        values["confidence"] = confidence(sink, st, path + ("confidence",), raw["confidence"])
    if raw.get("low_confidence") in {m.value for m in LowConfidence}:
        values["low_confidence"] = LowConfidence(raw["low_confidence"])
    speech = replace(base, **values)
    if speech.end_silence_ms >= speech.max_utterance_ms:
        where = path + ("end_silence",) if "end_silence" in raw else path
        sink.error(st, where, "end_silence must be shorter than max_utterance")
    return speech


def node_speech(sink: Diagnostics, st: FileState, path: Path, body: dict[str, Any]) -> Speech | None:
    """A menu's, collect's or listen's way of listening: the flow's, adjusted or switched off by its own
    ``speech``."""
    raw = body.get("speech", True)
    if raw is False:
        return None
    if st.speech is None:
        if "speech" in body and not st.speech_declared:
            sink.error(st, path + ("speech",), "this flow does not listen for speech: add a 'speech' block at "
                                               "the top of the flow")
        return None
    return speech_timing(sink, st, path + ("speech",), raw, st.speech) if isinstance(raw, dict) else st.speech


def no_intent(st: FileState, intent: str) -> str:
    """The error for a use of an intent the flow does not define."""
    if not st.intents:
        return f"no intent '{intent}': define it under the flow's 'intents'"
    return f"no intent '{intent}'{suggest(intent, st.intents)}"


def listen(sink: Diagnostics, st: FileState, path: Path, name: str, body: dict[str, Any], language: str,
           voice: str | None, defaults: dict[str, Any]) -> ListenSpec:
    intents: dict[str, str] = {}
    for intent, goto in (body.get("intents") or {}).items():
        if intent not in st.intents:
            sink.error(st, path + ("intents", intent), no_intent(st, intent))
        intents[intent] = target(st, path + ("intents", intent), name, goto) or ""
    if not intents and "next" not in st.raw["nodes"][name]:
        sink.error(st, path, "a listen node needs 'intents' (where each leads) or 'next' (where the call goes "
                             "with what was said)")
    raw_entities = body.get("entities") or []
    entities = dict(raw_entities) if isinstance(raw_entities, dict) else {kind: None for kind in raw_entities}
    st.defined |= {"intent", "entities"} | {v for v in entities.values() if v}
    if body.get("var"):
        st.defined.add(body["var"])
    speech = node_speech(sink, st, path, body)
    if speech is None:
        where = path + ("speech",) if body.get("speech") is False else path
        sink.error(st, where, "a listen node only hears speech: it needs the flow's 'speech' block (enabled) "
                              "and cannot be 'speech: false'")
        speech = Speech()
    return ListenSpec(
        prompt=prompt(sink, st, path + ("prompt",), body["prompt"], voice, language),
        intents=intents, phrases={i: st.intents.get(i, ()) for i in intents}, entities=entities,
        retry=retry(sink, st, path, name, body, defaults, voice, language),
        speech=replace(speech, grammar=bool(body.get("grammar", False))), var=body.get("var"))
