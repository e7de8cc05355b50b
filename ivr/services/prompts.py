"""Prompts of ``tts: local`` flows, rendered here instead of by Twilio: what to render when a bundle is published
(by the RQ jobs of :mod:`ivr.jobs.prompts` and ``ivr prompts render``), and which audio a ``Say`` becomes when
TwiML is built.

Static prompts (a ``say`` with no ``{{ variable }}``) are rendered ahead of time, once per text, voice, language
and rate, and kept. Dynamic ones (amounts, dates) are rendered when first said, within the webhook (``render``, the
default: about 13 ms measured, see bench/prompts.py) or by the worker for next time while Twilio says them now
(``queue``); either way with a TTL. Whatever fails here, the caller still hears the words through ``<Say>``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable, Iterator

import redis as redis_lib

from ivr.config import Settings
from ivr.engine import instructions as ins
from ivr.flowlang.model import Bundle, SayPart
from speech.errors import TtsError
from speech.prompts import PromptCache, PromptText
from speech.tts import Synthesizer

log = logging.getLogger(__name__)

#: Longest a webhook waits for an on-demand render before Twilio says the prompt instead.
ON_DEMAND_TIMEOUT = 2.0


#: ``enqueue(prompt, ttl)`` has the worker render ``prompt`` (kept ``ttl`` seconds) for the next time it is said.
Enqueue = Callable[[PromptText, "int | None"], None]


class OnDemand(str, Enum):
    """What happens to a local prompt that is not cached when it is about to be said."""

    RENDER = "render"
    QUEUE = "queue"


@dataclass(frozen=True)
class RenderReport:
    """Outcome of rendering a bundle's static prompts."""

    total: int
    rendered: int
    cached: int
    failed: tuple[tuple[str, str], ...] = ()  # (text, why)


def _say_parts(value: Any) -> Iterator[SayPart]:
    if isinstance(value, SayPart):
        yield value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from _say_parts(getattr(value, f.name))
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _say_parts(item)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _say_parts(item)


def static_prompts(bundle: Bundle, rate: int) -> list[PromptText]:
    """Every distinct fixed text that ``tts: local`` flows of ``bundle`` say (node prompts, menu and collect
    prompts, confirmations, retry and invalid-input prompts, queue, transfer and voicemail prompts)."""
    found: dict[str, PromptText] = {}
    for flow in bundle.flows.values():
        for node in flow.nodes.values():
            for part in _say_parts(node.body):
                if part.tts is not ins.Tts.LOCAL or not part.text.is_literal:
                    continue
                text = part.text.render({}).strip()
                if text:
                    prompt = PromptText(text, part.voice, part.language, rate)
                    found.setdefault(prompt.key, prompt)
    return list(found.values())


def render_prompts(prompts: list[PromptText], cache: PromptCache, synthesizer: Synthesizer) -> RenderReport:
    """Render and keep (no TTL) those of ``prompts`` not cached yet; a prompt that fails does not stop the rest."""
    rendered, failed = 0, []
    for prompt in prompts:
        try:
            rendered += cache.ensure(prompt, synthesizer)
        except TtsError as e:
            log.warning("could not render prompt %r: %s", prompt.text[:60], e)
            failed.append((prompt.text, str(e)))
    return RenderReport(len(prompts), rendered, len(prompts) - rendered - len(failed), tuple(failed))


# -- TwiML ---------------------------------------------------------------------------------------------------------
class LocalPrompts:
    """Decides what a ``Say`` becomes: in a ``tts: local`` flow's TwiML, the key of cached audio to ``<Play>`` or
    None to let Twilio say it (not rendered yet, or rendering failed); in a media stream, mu-law frames."""

    def __init__(self, cache: PromptCache, synthesizer: Synthesizer, *, rate: int,
                 on_demand: OnDemand = OnDemand.RENDER, dynamic_ttl: int | None = None,
                 enqueue: Enqueue | None = None):
        self.cache = cache
        self.enqueue = enqueue
        self.synthesizer = synthesizer
        self.rate = rate
        self.on_demand = on_demand
        self.dynamic_ttl = dynamic_ttl if dynamic_ttl is not None else cache.dynamic_ttl

    @classmethod
    def from_settings(cls, connection: redis_lib.Redis, settings: Settings,
                      enqueue: Enqueue | None = None) -> "LocalPrompts":
        """The prompts of ``settings`` (rate, on-demand policy, TTL of dynamic prompts) cached on ``connection``;
        ``enqueue`` has a prompt rendered by the worker (``on_demand: queue``)."""
        return cls(PromptCache(connection, settings.tts_dynamic_ttl), Synthesizer(timeout=ON_DEMAND_TIMEOUT),
                   rate=settings.tts_rate, on_demand=OnDemand(settings.tts_on_demand), enqueue=enqueue)

    def key(self, say: ins.Say) -> str | None:
        """The key of ``say``'s audio for ``<Play>``: None for flows Twilio speaks, and for a prompt not cached
        that is queued for rendering (``queue``) or cannot be rendered now."""
        if say.tts is not ins.Tts.LOCAL:
            return None
        return self._cached(say, self.on_demand)

    def ready(self, say: ins.Say) -> bool:
        """Has ``say`` audio to play into a media stream (cached, else rendered now)? Unlike :meth:`ulaw` it does
        not read the audio: the stream handler does, later."""
        return self._cached(say, OnDemand.RENDER) is not None

    def ulaw(self, say: ins.Say) -> bytes | None:
        """Mu-law frames (8 kHz, no header) of ``say`` to play into a two-way media stream, whatever the flow's
        ``tts`` (Twilio cannot speak into a stream): cached, else rendered now; None when it cannot be rendered.
        Cut them into 20 ms payloads with :func:`speech.prompts.frames`."""
        key = self._cached(say, OnDemand.RENDER)
        try:
            return self.cache.get_ulaw(key) if key else None
        except redis_lib.RedisError as e:
            log.warning("prompt %r has no audio: %s", say.text[:60], e)
            return None

    def _cached(self, say: ins.Say, on_demand: OnDemand) -> str | None:
        if not say.text.strip():
            return None
        prompt = PromptText(say.text, say.voice, say.language, self.rate)
        try:
            if self.cache.has(prompt.key):
                return prompt.key
            if on_demand is OnDemand.RENDER:
                self.cache.ensure(prompt, self.synthesizer, ttl=self.dynamic_ttl)
                return prompt.key
            self._enqueue(prompt)
        except (TtsError, redis_lib.RedisError) as e:
            log.warning("prompt %r is said by Twilio: %s", say.text[:60], e)
        return None

    def _enqueue(self, prompt: PromptText) -> None:
        if self.enqueue is not None:
            self.enqueue(prompt, self.dynamic_ttl)
