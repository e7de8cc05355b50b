"""Who plays the caller: a script of inputs, or a person at the terminal."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol, Sequence

#: An input meaning "the caller hangs up now".
HANGUP = "hangup"


@dataclass(frozen=True)
class GatherInfo:
    """What a ``<Gather>`` asks for, and what the caller heard since their last action."""

    num_digits: int | None
    finish_on_key: str
    timeout: int
    input: str
    heard: tuple[str, ...]


class Caller(Protocol):
    def gather(self, info: GatherInfo) -> str | None:
        """Keys to press (may end with the finish key), ``None`` for silence, or :data:`HANGUP`."""

    def dial_status(self, target: str) -> str:
        """Twilio's DialCallStatus for a transfer to ``target``."""

    def queue_result(self, queue: str) -> str:
        """Twilio's QueueResult when leaving ``queue`` (``hangup``: the caller gave up waiting)."""

    def recording(self) -> tuple[int, str]:
        """(duration in seconds, key that ended it) of a voicemail."""


@dataclass
class ScriptedCaller:
    """Plays a fixed list of inputs: keys (``"1"``, ``"1234#"``), ``None`` for silence, ``"hangup"``.

    When the script runs out the caller hangs up (``on_exhausted="hangup"``) or stays silent (``"silence"``).
    """

    inputs: Sequence[str | None] = ()
    on_exhausted: str = "hangup"
    dial: str = "completed"
    queue: str = "hangup"
    recording_seconds: int = 12
    position: int = 0
    heard: list[tuple[str, ...]] = field(default_factory=list)

    def gather(self, info: GatherInfo) -> str | None:
        self.heard.append(info.heard)
        if self.position >= len(self.inputs):
            return HANGUP if self.on_exhausted == "hangup" else None
        value = self.inputs[self.position]
        self.position += 1
        return value

    def dial_status(self, target: str) -> str:
        return self.dial

    def queue_result(self, queue: str) -> str:
        return self.queue

    def recording(self) -> tuple[int, str]:
        return self.recording_seconds, "#"


class InteractiveCaller(ScriptedCaller):
    """Asks a person at each prompt: keys, ``say:words`` at a speech prompt, empty line for silence, ``h`` to hang
    up."""

    def __init__(self, prompt_fn: Callable[[str], str] = input, print_fn: Callable[[str], None] = print, **kw):
        super().__init__(**kw)
        self.prompt_fn = prompt_fn
        self.print_fn = print_fn

    def gather(self, info: GatherInfo) -> str | None:
        if self.position < len(self.inputs):
            return super().gather(info)
        try:
            hint = "keys or say:words" if "speech" in info.input else "keys"
            answer = self.prompt_fn(f"  {hint} (Enter = silence, h = hang up)> ").strip()
        except EOFError:
            return HANGUP
        if answer.lower() in ("h", "hangup", "q"):
            return HANGUP
        return answer or None
