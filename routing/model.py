"""The routing domain as plain values: agents and their statuses, offers and how they end, languages as skills."""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import Enum
from typing import Any, Iterable, Mapping

from routing.errors import RoutingError


class AgentStatus(str, Enum):
    OFFLINE = "offline"
    AVAILABLE = "available"
    BUSY = "busy"
    WRAP_UP = "wrap-up"
    BREAK = "break"


class Outcome(str, Enum):
    DECLINED = "declined"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Agent:
    id: str
    name: str
    skills: Mapping[str, int]
    languages: tuple[str, ...] = ()
    capacity: int = 1
    contact: str = ""

    def __post_init__(self) -> None:
        if not self.id or "|" in self.id or "," in self.id:
            raise RoutingError(f"agent id {self.id!r} must be non-empty, without '|' or ','")
        for skill, level in self.skills.items():
            if not 1 <= int(level) <= 10:
                raise RoutingError(f"skill {skill!r} of agent {self.id!r} has level {level}: levels are 1 to 10")
        if self.capacity < 1:
            raise RoutingError(f"agent {self.id!r} needs a capacity of at least 1")


@dataclass(frozen=True)
class Offer:
    """A reservation: ``call_sid`` is offered to ``agent`` until ``expires`` (ms since the epoch)."""

    reservation: str
    call_sid: str
    agent: str
    expires: int


def agents_from(data: Iterable[Mapping[str, Any]]) -> list[Agent]:
    """Agents from plain data (for example a YAML roster)."""
    return [Agent(str(a["id"]), str(a.get("name", a["id"])), dict(a.get("skills", {})),
                  tuple(a.get("languages", ())), int(a.get("capacity", 1)), str(a.get("contact", "")))
            for a in data]


#: Languages are matched as internal skills ``lang:<primary subtag>`` at level 1: an agent's languages are added to
#: their skills in Redis, a call's language to its requirements, so the scripts and indexes need nothing more.
#: (Skill names in queues.yaml cannot contain ':'.)
LANGUAGE_PREFIX = "lang:"


def language_skill(language: str) -> str:
    """The internal skill of a language: ``es-US``, ``es`` and ``ES_mx`` are all ``lang:es``."""
    return LANGUAGE_PREFIX + language.strip().replace("_", "-").split("-")[0].lower()


def clock_ms() -> int:
    """Now, in milliseconds since the epoch: the time of every routing timestamp not given by the caller."""
    return int(time.time() * 1000)
