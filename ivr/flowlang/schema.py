"""The raw shape of a flow file, described once as JSON Schema (validated with ``jsonschema``).

Structure only: what keys exist, which are required, their types (checked by :mod:`ivr.flowlang.validate`). Meaning
(targets exist, durations parse, variables are defined, the graph has no dead ends) is checked while compiling, by
:mod:`ivr.flowlang.compile` and its passes.
"""

from __future__ import annotations

from typing import Any

NAME = {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_\-]*$"}
TARGET = {"type": "string"}
DURATION = {"type": ["string", "integer", "number"]}
TEMPLATE = {"type": ["string", "integer", "number"]}
KEY = {"type": ["string", "integer"]}

PROMPT_ITEM: dict[str, Any] = {
    "anyOf": [
        {"type": ["string", "integer", "number"]},
        {"type": "object", "properties": {"say": TEMPLATE, "voice": {"type": "string"},
                                          "language": {"type": "string"}},
         "required": ["say"], "additionalProperties": False},
        {"type": "object", "properties": {"play": {"type": "string"}}, "required": ["play"],
         "additionalProperties": False},
        {"type": "object", "properties": {"pause": DURATION}, "required": ["pause"], "additionalProperties": False},
    ]
}
PROMPT: dict[str, Any] = {"anyOf": [PROMPT_ITEM, {"type": "array", "items": PROMPT_ITEM, "minItems": 1}]}
#: Human wording for prompt-shape errors (jsonschema's anyOf messages are unreadable).
PROMPT_HELP = "a prompt is text, {say: text}, {play: url}, {pause: duration}, or a list of these"

VARS_MAP = {"type": "object", "propertyNames": NAME, "additionalProperties": {
    "type": ["string", "integer", "number", "boolean", "null"]}}

CONDITION: dict[str, Any] = {"type": "object", "minProperties": 1}  # checked by ivr.flowlang.conditions, recursively

RETRY_KEYS: dict[str, Any] = {
    "timeout": DURATION,
    "retries": {"type": "integer", "minimum": 0, "maximum": 10},
    "no_input": PROMPT,
    "no_match": PROMPT,
    "fallback": TARGET,
}

PHRASES = {"type": "array", "items": {"type": "string"}}

#: How long to listen: for the flow's ``speech`` block and a node's own ``speech`` overrides.
SPEECH_TIMING: dict[str, Any] = {
    "no_input": DURATION,
    "end_silence": DURATION,
    "max_utterance": DURATION,
    "confidence": {"type": "number"},
    "low_confidence": {"type": "string", "enum": ["confirm", "repeat"]},
}

SPEECH = {
    "type": "object",
    "properties": {
        "enabled": {"type": "boolean"},
        "confirm_prompt": PROMPT,
        "repeat_prompt": PROMPT,
        **SPEECH_TIMING,
    },
    "additionalProperties": False,
}

#: A node's ``speech``: ``false`` (keys only), ``true`` (the flow's settings) or overrides of the flow's settings.
NODE_SPEECH = {"type": ["boolean", "object"], "properties": SPEECH_TIMING, "additionalProperties": False}

INTENTS = {"type": "object", "propertyNames": NAME, "additionalProperties": {
    "type": ["array", "object"], "items": {"type": "string"},
    "properties": {"phrases": PHRASES, "synonyms": PHRASES, "description": {"type": "string"}},
    "additionalProperties": False}}

#: What a ``listen`` node can pull out of what the caller said.
ENTITY_KINDS = ["digits", "amount", "date"]

MENU = {
    "type": "object",
    "properties": {
        "prompt": PROMPT,
        "options": {"type": "array", "minItems": 1, "items": {
            "type": "object",
            "properties": {"key": KEY, "phrases": PHRASES, "intent": NAME,
                           "goto": TARGET, "set": VARS_MAP, "description": {"type": "string"}},
            "required": ["goto"], "additionalProperties": False}},
        "speech": NODE_SPEECH,
        **RETRY_KEYS,
    },
    "required": ["prompt", "options"],
    "additionalProperties": False,
}

COLLECT = {
    "type": "object",
    "properties": {
        "prompt": PROMPT,
        "var": NAME,
        "min_length": {"type": "integer", "minimum": 1, "maximum": 64},
        "max_length": {"type": "integer", "minimum": 1, "maximum": 64},
        "finish_key": {"type": "string", "enum": ["#", "*", ""]},
        "pattern": {"type": "string"},
        "luhn": {"type": "boolean"},
        "confirm": PROMPT,
        "invalid": PROMPT,
        "speech": NODE_SPEECH,
        **RETRY_KEYS,
    },
    "required": ["prompt", "var"],
    "additionalProperties": False,
}

LISTEN = {
    "type": "object",
    "properties": {
        "prompt": PROMPT,
        "intents": {"type": "object", "propertyNames": NAME, "additionalProperties": TARGET},
        "entities": {"type": ["array", "object"], "items": {"enum": ENTITY_KINDS},
                     "propertyNames": {"enum": ENTITY_KINDS},
                     "additionalProperties": {**NAME, "type": ["string", "null"]}},
        "var": NAME,
        "grammar": {"type": "boolean"},
        "speech": NODE_SPEECH,
        **RETRY_KEYS,
    },
    "required": ["prompt"],
    "additionalProperties": False,
}

LOOKUP = {
    "type": "object",
    "properties": {
        "service": NAME,
        "path": {"type": "string"},
        "url": {"type": "string"},
        "method": {"type": "string", "enum": ["GET", "POST"]},
        "query": {"type": "object", "additionalProperties": TEMPLATE},
        "body": {"type": "object", "additionalProperties": TEMPLATE},
        "timeout": DURATION,
        "as": NAME,
        "save": {"type": "object", "propertyNames": NAME, "additionalProperties": {"type": "string"}},
        "on_failure": TARGET,
        "on_not_found": TARGET,
    },
    "required": ["on_failure"],
    "additionalProperties": False,
}

BRANCH = {
    "type": "object",
    "properties": {
        "cases": {"type": "array", "minItems": 1, "items": {
            "type": "object", "properties": {"when": CONDITION, "goto": TARGET},
            "required": ["when", "goto"], "additionalProperties": False}},
        "else": TARGET,
    },
    "required": ["cases", "else"],
    "additionalProperties": False,
}

HOURS = {
    "type": "object",
    "properties": {"schedule": NAME, "open": TARGET, "closed": TARGET, "holiday": TARGET, "closure": TARGET},
    "required": ["schedule", "open", "closed"],
    "additionalProperties": False,
}

QUEUE = {
    "type": "object",
    "properties": {
        "name": NAME,
        "skills": {"anyOf": [
            {"type": "array", "items": NAME},
            {"type": "object", "propertyNames": NAME,
             "additionalProperties": {"type": "integer", "minimum": 1, "maximum": 10}}]},
        "priority": {"type": "integer", "minimum": 0, "maximum": 100},
        "timeout": DURATION,
        "prompt": PROMPT,
    },
    "required": ["name"],
    "additionalProperties": False,
}

TRANSFER = {
    "type": "object",
    "properties": {
        "to": {"type": "string"},
        "caller_id": {"type": "string"},
        "timeout": DURATION,
        "prompt": PROMPT,
        "on_failure": TARGET,
    },
    "required": ["to"],
    "additionalProperties": False,
}

VOICEMAIL = {
    "type": "object",
    "properties": {
        "prompt": PROMPT,
        "max_length": DURATION,
        "finish_key": {"type": "string", "enum": ["#", "*", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]},
        "mailbox": NAME,
    },
    "additionalProperties": False,
}

#: The body schema of each node kind, by the key that names the kind.
NODE_KINDS: dict[str, dict[str, Any]] = {
    "say": PROMPT,
    "menu": MENU,
    "collect": COLLECT,
    "listen": LISTEN,
    "lookup": LOOKUP,
    "branch": BRANCH,
    "hours": HOURS,
    "set": VARS_MAP,
    "subflow": NAME,
    "return": {"type": ["boolean", "null"]},
    "queue": QUEUE,
    "transfer": TRANSFER,
    "voicemail": VOICEMAIL,
    "hangup": {"anyOf": [{"type": ["boolean", "null"]}, PROMPT]},
}

#: Keys a node may carry beside its kind key.
NODE_COMMON = {"next": TARGET, "description": {"type": "string"}}

#: Kinds for which ``next`` is meaningful (they can continue), and those that require it.
KINDS_WITH_NEXT = {"say", "collect", "listen", "lookup", "set", "subflow", "queue", "transfer", "voicemail"}
KINDS_NEEDING_NEXT = {"say", "collect", "lookup", "set"}

FLOW = {
    "type": "object",
    "properties": {
        "description": {"type": "string"},
        "language": {"type": "string"},
        "voice": {"type": "string"},
        "tts": {"type": "string", "enum": ["twilio", "local"]},
        "timezone": {"type": "string"},
        "numbers": {"type": "array", "items": {"type": "string"}},
        "default": {"type": "boolean"},
        "start": TARGET,
        "inputs": {"type": "array", "items": NAME},
        "variables": VARS_MAP,
        "defaults": {"type": "object", "properties": dict(RETRY_KEYS), "additionalProperties": False},
        "speech": SPEECH,
        "intents": INTENTS,
        "services": {"type": "object", "propertyNames": NAME, "additionalProperties": {
            "type": "object",
            "properties": {"url": {"type": "string"}, "timeout": DURATION,
                           "headers": {"type": "object", "additionalProperties": {"type": "string"}}},
            "required": ["url"], "additionalProperties": False}},
        "schedules": {"type": "object", "propertyNames": NAME, "additionalProperties": {"type": "object"}},
        "nodes": {"type": "object", "minProperties": 1, "propertyNames": NAME,
                  "additionalProperties": {"type": "object"}},
    },
    "required": ["nodes"],
    "additionalProperties": False,
}
