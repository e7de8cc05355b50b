"""Checking YAML values against :mod:`ivr.flowlang.schema`, each violation as a readable message at its path."""

from __future__ import annotations

import copy
import re
from typing import Any

from jsonschema import Draft202012Validator

from ivr.errors import suggest
from ivr.flowlang import schema as fs
from ivr.flowlang.parsed import Diagnostics, FileState
from ivr.flowlang.yamlsource import Path

_VALIDATORS = {id(schema): Draft202012Validator(schema) for schema in [fs.FLOW, *fs.NODE_KINDS.values()]}


def conforms(sink: Diagnostics, st: FileState, schema: dict[str, Any], instance: Any, base: Path) -> bool:
    """Check ``instance`` against ``schema``; report readable errors; True when it conforms."""
    validator = _VALIDATORS.get(id(schema)) or Draft202012Validator(schema)
    ok = True
    for err in validator.iter_errors(instance):
        ok = False
        path = base + tuple(err.absolute_path)
        if err.validator == "additionalProperties" and err.validator_value is False:
            allowed = list(err.schema.get("properties", {}))
            for key in err.instance:  # each unknown key on its own line
                if key not in allowed:
                    sink.error(st, path + (key,), f"unknown key '{key}'{suggest(key, allowed)}")
            continue
        sink.error(st, path, _schema_message(err))
    return ok


def prune(schema: dict[str, Any], instance: Any) -> tuple[Any, bool, list[Any]]:
    """A copy of ``instance`` without its unknown keys (which nothing reads), whether the rest conforms, and the
    values of the unknown keys.

    Values of the wrong type are not left out: the checks of the body would then report what is missing instead.
    """
    validator = _VALIDATORS.get(id(schema)) or Draft202012Validator(schema)
    pruned = copy.deepcopy(instance)
    removed = []
    for err in validator.iter_errors(instance):
        if err.validator == "additionalProperties" and err.validator_value is False:
            parent = pruned
            for part in err.absolute_path:
                parent = parent[part]
            for key in [k for k in err.instance if k not in err.schema.get("properties", {})]:
                removed.append(parent.pop(key, None))
    return pruned, validator.is_valid(pruned), removed


_TYPE_NAMES = {"string": "text", "integer": "a whole number", "number": "a number", "boolean": "true or false",
               "object": "a mapping", "array": "a list", "null": "nothing"}


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    return f"the text '{value}'"


def _schema_message(err: Any) -> str:
    schema = err.schema
    if err.validator == "additionalProperties":
        allowed = list(schema.get("properties", {}))
        unknown = [k for k in err.instance if k not in allowed]
        return "; ".join(f"unknown key '{k}'{suggest(k, allowed)}" for k in unknown) or err.message
    if err.validator == "required":
        missing = re.findall(r"'([^']+)' is a required property", err.message)
        return f"missing required key '{missing[0]}'" if missing else err.message
    if err.validator == "type":
        types = err.validator_value if isinstance(err.validator_value, list) else [err.validator_value]
        wanted = " or ".join(_TYPE_NAMES.get(t, t) for t in types)
        return f"expected {wanted}, got {_describe(err.instance)}"
    if err.validator == "anyOf":
        if schema is fs.PROMPT or schema is fs.PROMPT_ITEM:
            return f"not a prompt: {fs.PROMPT_HELP}"
        return "expected a list of skill names or a mapping of skill: level (1-10)"
    if err.validator == "enum":
        choices = [str(c) for c in err.validator_value]
        return (f"'{err.instance}' is not one of {', '.join(repr(c) for c in choices)}"
                f"{suggest(str(err.instance), choices)}")
    if err.validator == "pattern":
        return f"'{err.instance}' is not a valid name (letters, digits, '_' and '-', starting with a letter)"
    if err.validator == "minItems":
        return "must not be empty"
    if err.validator == "minProperties":
        return "must not be empty"
    return err.message
