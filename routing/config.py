"""Queues as configuration: the ``queues.yaml`` file next to the flows, parsed from plain data.

Shape::

    skills: [billing, collections, english, spanish]      # every skill agents and flows may use
    defaults: {offer_timeout: 15s, wrap_up: 30s, max_missed: 3}
    queues:
      billing:
        skills: {billing: 3, english: 1}     # what every call in the queue needs (flows may add more)
        priority: 2                          # 0-100, added to the call's own priority
        strategy: longest-idle               # or most-skilled, round-robin
        match_language: false                # true: the agent must speak the call's language (its flow's)
        escalation:                          # relax requirements the longer a call waits
          - {after: 60s, skills: {billing: 1}}
          - {after: 3m, skills: {}, priority: 5}
        max_wait: 10m
        on_max_wait: voicemail               # voicemail | callback | queue:<name>
        when_no_agents: voicemail            # wait | voicemail | callback | queue:<name>
        dispositions: [resolved, refund, other]   # what agents record at wrap-up (default: DEFAULT_DISPOSITIONS)
        hold:
          announce_position: true
          announce_wait: true
          every: 30s
          message: "Thank you for holding."
          music: https://example.com/hold.mp3

Pure: :func:`parse_queues` returns the configuration or raises :class:`QueueConfigError` listing every problem
as ``(path, message)``, with a did-you-mean where it fits.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Mapping

from routing.errors import QueueConfigError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
FALLBACKS = ("voicemail", "callback", "wait")
#: What an agent may record about a call at wrap-up when its queue names no ``dispositions`` of its own.
DEFAULT_DISPOSITIONS = ("resolved", "follow-up", "escalated", "wrong-number", "other")
_DISPOSITION = re.compile(r"^[a-z0-9][a-z0-9\-]{0,39}$")


class Strategy(str, Enum):
    LONGEST_IDLE = "longest-idle"
    MOST_SKILLED = "most-skilled"
    ROUND_ROBIN = "round-robin"


@dataclass(frozen=True)
class EscalationStep:
    after: int                        # seconds of waiting
    skills: Mapping[str, int] | None  # replaces the queue's requirements when given
    priority: int | None              # replaces the queue's priority when given


@dataclass(frozen=True)
class Hold:
    """What a waiting caller hears. ``message`` is one text, or texts by language (``{en: ..., ko: ...}``)."""

    announce_position: bool = True
    announce_wait: bool = True
    every: int = 30
    message: str | Mapping[str, str] = "Thank you for holding. Your call is important to us."
    music: str | None = None

    def message_for(self, language: str) -> str:
        """The message in ``language`` (``ko-KR`` takes ``ko-KR``, then ``ko``), else the first one given."""
        if isinstance(self.message, str):
            return self.message
        wanted = language.lower()
        for key in (wanted, wanted.split("-")[0]):
            for name, text in self.message.items():
                if name.lower() == key:
                    return text
        return next(iter(self.message.values()), "")


@dataclass(frozen=True)
class QueueConfig:
    name: str
    skills: Mapping[str, int] = field(default_factory=dict)
    priority: int = 0
    strategy: Strategy = Strategy.LONGEST_IDLE
    escalation: tuple[EscalationStep, ...] = ()
    max_wait: int | None = None
    on_max_wait: str = "voicemail"
    when_no_agents: str = "wait"
    hold: Hold = field(default_factory=Hold)
    match_language: bool = False
    dispositions: tuple[str, ...] = DEFAULT_DISPOSITIONS


@dataclass(frozen=True)
class RoutingConfig:
    skills: frozenset[str]
    queues: Mapping[str, QueueConfig]
    offer_timeout: int = 15
    wrap_up: int = 30
    max_missed: int = 3


def _suggest(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(str(word), sorted(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


class _Parser:
    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append((path, message))

    def keys(self, raw: Mapping[str, Any], allowed: tuple[str, ...], path: str) -> None:
        for key in raw:
            if key not in allowed:
                where = f"{path}.{key}" if path else str(key)
                self.problem(where, f"unknown key '{key}'{_suggest(key, allowed)}")

    def duration(self, raw: Any, path: str, low: float, high: float) -> int | None:
        if isinstance(raw, bool):
            seconds = None
        elif isinstance(raw, (int, float)):
            seconds = float(raw)
        else:
            match = _DURATION.match(str(raw))
            seconds = float(match.group(1)) * _UNITS[match.group(2)] if match else None
        if seconds is None:
            self.problem(path, f"'{raw}' is not a duration (use 30s, 2m or 1h)")
            return None
        if not low <= seconds <= high:
            self.problem(path, f"{raw} is out of range")
            return None
        return int(seconds)

    def skills(self, raw: Any, path: str, known: frozenset[str]) -> dict[str, int]:
        if isinstance(raw, list):
            raw = {name: 1 for name in raw}
        if not isinstance(raw, dict):
            self.problem(path, "expected skill: minimum level (1-10), or a list of skills")
            return {}
        result = {}
        for skill, level in raw.items():
            if skill not in known:
                self.problem(f"{path}.{skill}", f"unknown skill '{skill}'{_suggest(skill, known)}; "
                                                "declare it under 'skills'")
            elif isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 10:
                self.problem(f"{path}.{skill}", f"level {level!r} is not a whole number from 1 to 10")
            else:
                result[skill] = level
        return result

    def fallback(self, raw: Any, path: str, queues: Mapping[str, Any], allowed: tuple[str, ...]) -> str:
        text = str(raw)
        if text.startswith("queue:"):
            target = text[len("queue:"):]
            if target not in queues:
                self.problem(path, f"no queue '{target}'{_suggest(target, queues)}")
            return text
        if text not in allowed:
            self.problem(path, f"'{text}' is not one of {', '.join(allowed)} or queue:<name>"
                               f"{_suggest(text, allowed)}")
        return text

    def dispositions(self, raw: Any, path: str) -> tuple[str, ...]:
        """A non-empty list of distinct lower-case names (``resolved``, ``follow-up``)."""
        if not isinstance(raw, list) or not raw:
            self.problem(path, "expected a non-empty list of dispositions, e.g. [resolved, follow-up, other]")
            return DEFAULT_DISPOSITIONS
        names: list[str] = []
        for i, name in enumerate(raw):
            if not isinstance(name, str) or not _DISPOSITION.match(name):
                self.problem(f"{path}[{i}]", f"{name!r} is not a disposition name (lower-case letters, digits and "
                                             "'-', at most 40)")
            elif name in names:
                self.problem(f"{path}[{i}]", f"'{name}' is listed twice")
            else:
                names.append(name)
        return tuple(names) or DEFAULT_DISPOSITIONS

    def priority(self, raw: Any, path: str) -> int:
        if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= 100:
            self.problem(path, f"priority {raw!r} is not a whole number from 0 to 100")
            return 0
        return raw

    def queue(self, name: str, raw: Any, known: frozenset[str], queues: Mapping[str, Any]) -> QueueConfig | None:
        path = f"queues.{name}"
        if not _NAME.match(name):
            self.problem(path, f"'{name}' is not a valid queue name")
            return None
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            self.problem(path, "expected a mapping")
            return None
        self.keys(raw, ("skills", "priority", "strategy", "escalation", "max_wait", "on_max_wait",
                        "when_no_agents", "hold", "description", "match_language", "dispositions"), path)
        match_language = raw.get("match_language", False)
        if not isinstance(match_language, bool):
            self.problem(f"{path}.match_language", f"expected true or false, not {match_language!r}")
            match_language = False
        skills = self.skills(raw.get("skills", {}), f"{path}.skills", known)
        priority = self.priority(raw.get("priority", 0), f"{path}.priority")
        strategy = Strategy.LONGEST_IDLE
        if "strategy" in raw:
            try:
                strategy = Strategy(raw["strategy"])
            except ValueError:
                choices = [s.value for s in Strategy]
                self.problem(f"{path}.strategy", f"'{raw['strategy']}' is not one of {', '.join(choices)}"
                                                 f"{_suggest(raw['strategy'], choices)}")
        steps = []
        last_after = -1
        for i, step in enumerate(raw.get("escalation") or []):
            spath = f"{path}.escalation[{i}]"
            if not isinstance(step, dict) or "after" not in step:
                self.problem(spath, "expected {after: duration, skills: {...}, priority: N}")
                continue
            self.keys(step, ("after", "skills", "priority"), spath)
            after = self.duration(step["after"], f"{spath}.after", 1, 4 * 3600)
            if after is not None and after <= last_after:
                self.problem(f"{spath}.after", "escalation steps must come later and later")
            last_after = after if after is not None else last_after
            steps.append(EscalationStep(
                after or 0, self.skills(step["skills"], f"{spath}.skills", known) if "skills" in step else None,
                self.priority(step["priority"], f"{spath}.priority") if "priority" in step else None))
        max_wait = self.duration(raw["max_wait"], f"{path}.max_wait", 10, 4 * 3600) if "max_wait" in raw else None
        on_max_wait = self.fallback(raw.get("on_max_wait", "voicemail"), f"{path}.on_max_wait", queues,
                                    ("voicemail", "callback"))
        when_no_agents = self.fallback(raw.get("when_no_agents", "wait"), f"{path}.when_no_agents", queues,
                                       FALLBACKS)
        for fallback_path, value in ((f"{path}.on_max_wait", on_max_wait),
                                     (f"{path}.when_no_agents", when_no_agents)):
            if value == f"queue:{name}":
                self.problem(fallback_path, "a queue cannot overflow into itself")
        hold = Hold()
        if "hold" in raw:
            hraw = raw["hold"]
            if not isinstance(hraw, dict):
                self.problem(f"{path}.hold", "expected a mapping")
            else:
                self.keys(hraw, ("announce_position", "announce_wait", "every", "message", "music"), f"{path}.hold")
                every = self.duration(hraw.get("every", 30), f"{path}.hold.every", 10, 600)
                message = hraw.get("message", Hold.message)
                if isinstance(message, dict):
                    if not message or not all(isinstance(v, str) and v.strip() for v in message.values()):
                        self.problem(f"{path}.hold.message", "texts by language need a text for each language")
                    message = {str(k): str(v) for k, v in message.items()}
                else:
                    message = str(message)
                hold = Hold(bool(hraw.get("announce_position", True)), bool(hraw.get("announce_wait", True)),
                            every or 30, message, hraw.get("music"))
        dispositions = self.dispositions(raw["dispositions"], f"{path}.dispositions") \
            if "dispositions" in raw else DEFAULT_DISPOSITIONS
        return QueueConfig(name, skills, priority, strategy, tuple(steps), max_wait, on_max_wait, when_no_agents,
                           hold, match_language, dispositions)


def parse_queues(raw: Any) -> RoutingConfig:
    """Validate and build the routing configuration; :class:`QueueConfigError` lists every problem."""
    parser = _Parser()
    if not isinstance(raw, dict):
        raise QueueConfigError([("", "queues.yaml is a mapping with 'skills' and 'queues'")])
    parser.keys(raw, ("skills", "queues", "defaults", "description"), "")
    skills_raw = raw.get("skills") or []
    if not isinstance(skills_raw, list) or not all(isinstance(s, str) and _NAME.match(s) for s in skills_raw):
        parser.problem("skills", "expected a list of skill names")
        skills_raw = [s for s in skills_raw if isinstance(s, str)] if isinstance(skills_raw, list) else []
    known = frozenset(skills_raw)
    defaults = raw.get("defaults") or {}
    offer_timeout, wrap_up, max_missed = 15, 30, 3
    if isinstance(defaults, dict):
        parser.keys(defaults, ("offer_timeout", "wrap_up", "max_missed"), "defaults")
        offer_timeout = parser.duration(defaults.get("offer_timeout", 15), "defaults.offer_timeout", 5, 120) or 15
        wrap_up = parser.duration(defaults.get("wrap_up", 30), "defaults.wrap_up", 0, 3600) or 0
        missed = defaults.get("max_missed", 3)
        if isinstance(missed, bool) or not isinstance(missed, int) or missed < 0:
            parser.problem("defaults.max_missed", "expected a whole number (0: never put agents on break)")
        else:
            max_missed = missed
    queues_raw = raw.get("queues") or {}
    if not isinstance(queues_raw, dict) or not queues_raw:
        parser.problem("queues", "define at least one queue")
        queues_raw = {}
    queues = {}
    for name, qraw in queues_raw.items():
        queue = parser.queue(str(name), qraw, known, queues_raw)
        if queue is not None:
            queues[queue.name] = queue
    if parser.problems:
        raise QueueConfigError(parser.problems)
    return RoutingConfig(known, queues, offer_timeout, wrap_up, max_missed)
