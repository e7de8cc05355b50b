"""Speech prompts between the webhook that asks and the media stream that listens.

The webhook that renders a speech prompt stores a :class:`ListenTurn` (what the prompt listens for, and a random
token that also goes to Twilio inside the stream's ``<Parameter>``); the media stream proves it belongs to that
turn, listens, and stores what it heard; the ``<Connect action>`` webhook reads the result and feeds it to the
engine. Everything lives in Redis: the three requests may reach three different processes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import asdict, dataclass, field
from typing import Any

import redis as redis_lib

from ivr import keys
from ivr.errors import SessionError
from ivr.instructions import Gather

#: A speech prompt is answered within seconds; an hour covers any retry of the action webhook.
TURN_TTL = 3600


@dataclass(frozen=True)
class ListenTurn:
    """One speech prompt: the engine's :class:`~ivr.instructions.Listen` plus how keys end it and the prompt
    texts to play into the stream (their audio, when rendered)."""

    call_sid: str
    seq: int
    token: str
    language: str
    phrases: tuple[str, ...] = ()
    grammar: bool = True
    no_input_ms: int = 5000
    end_silence_ms: int = 300
    max_utterance_ms: int = 10000
    max_digits: int | None = 1
    finish_key: str = ""
    digit_timeout_ms: int = 5000
    prompts: tuple[dict[str, str], ...] = field(default_factory=tuple)

    @classmethod
    def for_gather(cls, call_sid: str, seq: int, gather: Gather, secret: str,
                   prompts: tuple[dict[str, str], ...] = ()) -> "ListenTurn":
        listen = gather.listen
        if listen is None:
            raise ValueError("this prompt does not listen for speech")
        return cls(call_sid, seq, turn_token(secret, call_sid, seq), gather.language or "en-US", tuple(listen.phrases),
                   listen.grammar, listen.no_input_ms, listen.end_silence_ms, listen.max_utterance_ms,
                   gather.num_digits, gather.finish_on_key, gather.timeout * 1000, prompts)

    def matches(self, call_sid: str, token: str) -> bool:
        return call_sid == self.call_sid and hmac.compare_digest(token.encode(), self.token.encode())


def turn_token(secret: str, call_sid: str, seq: int) -> str:
    """The token a stream must present for a prompt. Derived, not random: a webhook retried or raced for the same
    prompt renders the same token, so whichever answer Twilio follows, its stream is accepted."""
    return hmac.new(secret.encode(), f"listen:{call_sid}:{seq}".encode(), hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True)
class Heard:
    """What the stream heard: ``outcome`` is match, no-match, no-input or dtmf."""

    outcome: str
    text: str = ""
    phrase: str | None = None
    confidence: float | None = None
    digits: str = ""
    audio_ms: int = 0


class ListenStore:
    """Turns and their results, one hash per speech prompt (same hash tag as the call's session)."""

    def __init__(self, redis: redis_lib.Redis, ttl: int = TURN_TTL):
        self.redis = redis
        self.ttl = ttl

    def put_turn(self, turn: ListenTurn) -> None:
        key = keys.listen_turn(turn.call_sid, turn.seq)
        try:
            pipe = self.redis.pipeline(transaction=True)
            pipe.hset(key, "turn", json.dumps(asdict(turn)))
            pipe.expire(key, self.ttl)
            pipe.execute()
        except redis_lib.RedisError as e:
            raise SessionError(f"cannot store the speech prompt of {turn.call_sid}: {e}") from e

    def turn(self, call_sid: str, seq: int) -> ListenTurn | None:
        raw = self._get(call_sid, seq, "turn")
        if raw is None:
            return None
        data: dict[str, Any] = json.loads(raw)
        data["phrases"] = tuple(data.get("phrases") or ())
        data["prompts"] = tuple(data.get("prompts") or ())
        return ListenTurn(**data)

    def put_heard(self, call_sid: str, seq: int, heard: Heard) -> bool:
        """Store the result once (a second stream for the same prompt cannot overwrite it); True if stored."""
        try:
            return bool(self.redis.hsetnx(keys.listen_turn(call_sid, seq), "heard", json.dumps(asdict(heard))))
        except redis_lib.RedisError as e:
            raise SessionError(f"cannot store what {call_sid} said: {e}") from e

    def heard(self, call_sid: str, seq: int) -> Heard | None:
        raw = self._get(call_sid, seq, "heard")
        return Heard(**json.loads(raw)) if raw is not None else None

    def _get(self, call_sid: str, seq: int, field_name: str) -> bytes | None:
        try:
            return self.redis.hget(keys.listen_turn(call_sid, seq), field_name)
        except redis_lib.RedisError as e:
            raise SessionError(f"cannot read the speech prompt of {call_sid}: {e}") from e
