"""The validated, immutable model of a flow bundle. Built only by :func:`ivr.flowlang.compile.load_bundle`."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Mapping, Union

from ivr.flowlang.conditions import Condition
from ivr.flowlang.schedule import Schedule
from ivr.flowlang.templating import Template
from routing.config import RoutingConfig


class Tts(str, Enum):
    """Who speaks a flow's prompts: Twilio's text-to-speech (``<Say>``), or audio rendered here (``<Play>``)."""

    TWILIO = "twilio"
    LOCAL = "local"


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
    LISTEN = "listen"


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


class LowConfidence(str, Enum):
    """What happens when speech is recognised with less than the threshold's confidence."""

    CONFIRM = "confirm"    # "Did you say ...?" answered by yes/no or 1/2
    REPEAT = "repeat"      # ask again


@dataclass(frozen=True)
class Speech:
    """How a node listens for speech (the flow's ``speech`` block, with a node's own overrides applied).

    Times are in milliseconds. ``confirm_prompt`` is rendered with ``heard`` (what was recognised).
    """

    confidence: float = 0.5
    low_confidence: LowConfidence = LowConfidence.CONFIRM
    confirm_prompt: Prompt = ()
    repeat_prompt: Prompt = ()
    no_input_ms: int = 5000
    end_silence_ms: int = 300
    max_utterance_ms: int = 10000
    grammar: bool = True


@dataclass(frozen=True)
class MenuOption:
    key: str | None
    phrases: tuple[str, ...]
    goto: str
    set: Mapping[str, Any] = field(default_factory=dict)
    intent: str | None = None


@dataclass(frozen=True)
class Menu:
    prompt: Prompt
    options: tuple[MenuOption, ...]
    retry: Retry
    speech: Speech | None = None  # None: keys only

    @property
    def phrases(self) -> tuple[str, ...]:
        """Every phrase the menu accepts, in option order."""
        return tuple(p for option in self.options for p in option.phrases)


@dataclass(frozen=True)
class ListenSpec:
    """Free speech: the caller says what they want; ``intents`` maps an intent name to the node it leads to,
    ``phrases`` holds each intent's phrases, and ``entities`` maps an entity kind (digits, amount, date) to the
    variable receiving it (``None``: only ``entities.<kind>``)."""

    prompt: Prompt
    intents: Mapping[str, str]
    phrases: Mapping[str, tuple[str, ...]]
    entities: Mapping[str, str | None]
    retry: Retry
    speech: Speech
    var: str | None = None  # receives the text heard


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
    speech: Speech | None = None  # None: keys only


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


NodeBody = Union[Prompt, Menu, Collect, ListenSpec, LookupSpec, Branch, Hours, Mapping[str, Any], str, QueueSpec,
                 Transfer, Voicemail, None]


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
    speech: Speech | None = None  # the flow's speech settings; None when the flow is keys-only
    speech_line: int = 0
    intents: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
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
