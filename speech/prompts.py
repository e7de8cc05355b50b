"""The prompt cache: rendered prompts in Redis, shared by every web process, RQ worker and media stream.

A prompt is addressed by its content: the hash of its text, voice, language, speaking rate and the renderer's
version, so the same words are rendered once and a change of any of them is a different prompt. Audio is stored
as bare 8 kHz mu-law frames; :meth:`PromptCache.get_wav` adds the WAV header for ``<Play>``, and
:meth:`PromptCache.get_ulaw` with :func:`frames` feeds a two-way media stream in 20 ms chunks. Prompts of
published flows are kept without expiry; dynamic ones (amounts, dates) get a TTL.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Iterator

import redis as redis_lib

from speech import keys
from speech.audio import TWILIO_RATE
from speech.errors import TtsError
from speech.tts import DEFAULT_RATE, RENDERER_VERSION, Synthesizer
from speech.wav import ulaw_wav

#: What a key looks like (validates URLs before they reach Redis).
KEY_PATTERN = re.compile(r"^[0-9a-f]{32}$")
DYNAMIC_TTL = 86400
FRAME_MS = 20


def key_for(text: str, voice: str | None, language: str | None, rate: int = DEFAULT_RATE) -> str:
    """The cache key of a prompt: 32 hex digits of SHA-256 over everything that changes its audio."""
    material = json.dumps([RENDERER_VERSION, text.strip(), voice or "", language or "", int(rate)],
                          ensure_ascii=False)
    return hashlib.sha256(material.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class PromptText:
    """One thing to say, as the cache addresses it. ``voice`` is the flow's (Twilio) voice, kept in the key so
    prompts of different voices never share audio; local rendering picks the espeak-ng voice by ``language``."""

    text: str
    voice: str | None = None
    language: str | None = None
    rate: int = DEFAULT_RATE

    @property
    def key(self) -> str:
        return key_for(self.text, self.voice, self.language, self.rate)


def frames(ulaw: bytes, ms: int = FRAME_MS) -> Iterator[bytes]:
    """``ulaw`` cut into chunks of ``ms`` milliseconds (160 bytes at 20 ms), the last one possibly shorter."""
    size = TWILIO_RATE * ms // 1000
    for start in range(0, len(ulaw), size):
        yield ulaw[start:start + size]


class PromptCache:
    """Rendered prompts in Redis (``redis`` is passed in and must return bytes)."""

    def __init__(self, redis: redis_lib.Redis, dynamic_ttl: int = DYNAMIC_TTL):
        self.redis = redis
        self.dynamic_ttl = dynamic_ttl

    @staticmethod
    def key_for(text: str, voice: str | None, language: str | None, rate: int = DEFAULT_RATE) -> str:
        return key_for(text, voice, language, rate)

    def has(self, key: str) -> bool:
        return KEY_PATTERN.match(key) is not None and bool(self.redis.exists(keys.prompt(key)))

    def get_ulaw(self, key: str) -> bytes | None:
        """Raw 8 kHz mu-law frames (no header), for a media stream; None when not cached."""
        if not KEY_PATTERN.match(key):
            return None
        return self.redis.get(keys.prompt(key))

    def get_wav(self, key: str) -> bytes | None:
        """A complete mu-law WAV file for ``<Play>``; None when not cached."""
        ulaw = self.get_ulaw(key)
        return ulaw_wav(ulaw) if ulaw is not None else None

    def put(self, key: str, ulaw: bytes, *, ttl: int | None = None) -> None:
        """Store rendered frames; ``ttl`` in seconds (None: kept, as for published flows' prompts). A prompt
        already kept forever stays so when the same words are also rendered as a dynamic one."""
        if not KEY_PATTERN.match(key):
            raise TtsError(f"not a prompt key: {key!r}")
        if ttl is None:
            self.redis.set(keys.prompt(key), ulaw)
        else:
            pipe = self.redis.pipeline(transaction=True)
            pipe.set(keys.prompt(key), ulaw, ex=ttl, nx=True)
            pipe.expire(keys.prompt(key), ttl, gt=True)
            pipe.execute()

    def missing(self, prompts: list[PromptText]) -> list[PromptText]:
        """Those of ``prompts`` not cached yet (one round trip)."""
        pipe = self.redis.pipeline(transaction=False)
        for prompt in prompts:
            pipe.exists(keys.prompt(prompt.key))
        return [p for p, found in zip(prompts, pipe.execute()) if not found]

    def ensure(self, prompt: PromptText, synthesizer: Synthesizer, *, ttl: int | None = None) -> bool:
        """Render and store ``prompt`` unless cached; true when it was rendered now (:class:`TtsError` when it
        cannot be). Without ``ttl`` a prompt cached earlier as a dynamic one is kept from now on."""
        key = prompt.key
        if ttl is None and self.redis.persist(keys.prompt(key)):
            return False
        if self.has(key):
            return False
        self.put(key, synthesizer.render(prompt.text, prompt.language, prompt.rate), ttl=ttl)
        return True
