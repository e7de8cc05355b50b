"""The validated, immutable model of a flow bundle. Built only by :func:`ivr.flowcheck.load_bundle`."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Mapping, Union

from ivr.conditions import Condition
from ivr.instructions import Tts
from ivr.schedule import Schedule
from ivr.templating import Template
from routing.config import RoutingConfig


class NodeKind(str, Enum):
    SAY = "say"
    MENU = "menu"
    COLLECT = "collect"
    LOOKUP = "lookup"
    BRANCH = "branch"
    HOURS = "hours"
    SET = "set"
    SUBFLOW = "subflow"
    RETURN = "return"
    QUEUE = "queue"
    TRANSFER = "transfer"
    VOICEMAIL = "voicemail"
    HANGUP = "hangup"


@dataclass(frozen=True)
class SayPart:
    text: Template
    voice: str | None = None
    language: str | None = None
    tts: Tts = Tts.TWILIO


@dataclass(frozen=True)
class PlayPart:
    url: str


@dataclass(frozen=True)
class PausePart:
    seconds: int


PromptPart = Union[SayPart, PlayPart, PausePart]
Prompt = tuple[PromptPart, ...]


@dataclass(frozen=True)
class Retry:
    """No-input / no-match handling shared by menus and digit collection."""

    timeout: int
    retries: int
    no_input: Prompt
    no_match: Prompt
    fallback: str | None


@dataclass(frozen=True)
class MenuOption:
    key: str | None
    phrases: tuple[str, ...]
    goto: str
    set: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Menu:
    prompt: Prompt
    options: tuple[MenuOption, ...]
    retry: Retry


@dataclass(frozen=True)
class Collect:
    prompt: Prompt
    var: str
    min_length: int
    max_length: int
    finish_key: str
    pattern: str | None
    luhn: bool
    confirm: Prompt | None
    invalid: Prompt
    retry: Retry


@dataclass(frozen=True)
class LookupSpec:
    method: str
    base_url: str
    path: Template
    query: Mapping[str, Template]
    body: Mapping[str, Template] | None
    headers: Mapping[str, str]
    timeout: float
    store_as: str | None
    save: Mapping[str, str]
    on_failure: str
    on_not_found: str | None


@dataclass(frozen=True)
class Branch:
    cases: tuple[tuple[Condition, str], ...]
    otherwise: str


@dataclass(frozen=True)
class Hours:
    schedule: str
    open: str
    closed: str
    holiday: str | None
    closure: str | None


@dataclass(frozen=True)
class QueueSpec:
    name: str
    skills: Mapping[str, int]
    priority: int
    timeout: int | None
    prompt: Prompt


@dataclass(frozen=True)
class Transfer:
    to: Template
    caller_id: str | None
    timeout: int
    prompt: Prompt
    on_failure: str | None


@dataclass(frozen=True)
class Voicemail:
    prompt: Prompt
    max_length: int
    finish_key: str
    mailbox: str | None


NodeBody = Union[Prompt, Menu, Collect, LookupSpec, Branch, Hours, Mapping[str, Any], str, QueueSpec, Transfer,
                 Voicemail, None]


@dataclass(frozen=True)
class Node:
    name: str
    kind: NodeKind
    body: Any
    next: str | None
    line: int


@dataclass(frozen=True)
class Flow:
    name: str
    file: str
    language: str
    voice: str | None
    timezone: str
    start: str
    nodes: Mapping[str, Node]
    variables: Mapping[str, Any]
    inputs: tuple[str, ...]
    numbers: tuple[str, ...]
    default: bool
    tts: Tts = Tts.TWILIO

    def node(self, name: str) -> Node:
        return self.nodes[name]


@dataclass(frozen=True)
class Bundle:
    """Every flow of a published version, with the schedules they share and the number → flow map."""

    flows: Mapping[str, Flow]
    schedules: Mapping[str, Schedule]
    numbers: Mapping[str, str]
    default_flow: str | None
    sources: Mapping[str, str] = field(default_factory=dict)
    routing: RoutingConfig | None = None  # from queues.yaml; None when the bundle has no queue configuration

    def flow_for_number(self, called: str) -> Flow | None:
        """The flow answering calls to ``called``, else the default flow."""
        name = self.numbers.get(normalize_number(called)) or self.default_flow
        return self.flows.get(name) if name else None


def normalize_number(number: str) -> str:
    """Compare phone numbers on digits and a leading '+', so '+1 (555) 010-0000' matches '+15550100000'."""
    number = number.strip()
    if number.startswith(("sip:", "client:")):
        return number.lower()
    digits = "".join(ch for ch in number if ch.isdigit())
    return ("+" if number.startswith("+") else "") + digits
