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
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import redis as redis_lib

from ivr.engine.instructions import Gather
from ivr.errors import SessionError
from ivr.store import keys
from speech.recognizer import Outcome, Result
from speech.session import Turn

#: A speech prompt is answered within seconds; an hour covers any retry of the action webhook.
TURN_TTL = 3600


@dataclass(frozen=True)
class ListenTurn:
    """One speech prompt of one call: what the stream listens for (a :class:`~speech.session.Turn`, without its
    audio) and the prompt parts to play into the stream, rendered when the stream starts."""

    call_sid: str
    seq: int
    token: str
    listen: Turn
    prompts: tuple[dict[str, str], ...] = field(default_factory=tuple)

    @classmethod
    def for_gather(cls, call_sid: str, seq: int, gather: Gather, secret: str,
                   prompts: tuple[dict[str, str], ...] = ()) -> "ListenTurn":
        listen = gather.listen
        if listen is None:
            raise ValueError("this prompt does not listen for speech")
        turn = Turn(gather.language or "en-US", tuple(listen.phrases), listen.grammar, listen.no_input_ms,
                    listen.end_silence_ms, listen.max_utterance_ms, gather.num_digits, gather.finish_on_key,
                    gather.timeout * 1000)
        return cls(call_sid, seq, turn_token(secret, call_sid, seq), turn, prompts)

    def matches(self, call_sid: str, token: str) -> bool:
        return call_sid == self.call_sid and hmac.compare_digest(token.encode(), self.token.encode())

    def to_json(self) -> str:
        listen = {f.name: getattr(self.listen, f.name) for f in fields(Turn) if f.name != "prompt_audio"}
        return json.dumps({"call_sid": self.call_sid, "seq": self.seq, "token": self.token, "listen": listen,
                           "prompts": list(self.prompts)})

    @classmethod
    def from_json(cls, raw: str | bytes) -> "ListenTurn":
        data: dict[str, Any] = json.loads(raw)
        listen = dict(data["listen"], phrases=tuple(data["listen"].get("phrases") or ()))
        return cls(data["call_sid"], int(data["seq"]), data["token"], Turn(**listen),
                   tuple(data.get("prompts") or ()))


def turn_token(secret: str, call_sid: str, seq: int) -> str:
    """The token a stream must present for a prompt. Derived, not random: a webhook retried or raced for the same
    prompt renders the same token, so whichever answer Twilio follows, its stream is accepted."""
    return hmac.new(secret.encode(), f"listen:{call_sid}:{seq}".encode(), hashlib.sha256).hexdigest()[:32]


class ListenStore:
    """Turns and their results, one hash per speech prompt (same hash tag as the call's session)."""

    def __init__(self, redis: redis_lib.Redis, ttl: int = TURN_TTL):
        self.redis = redis
        self.ttl = ttl

    def put_turn(self, turn: ListenTurn) -> None:
        key = keys.listen_turn(turn.call_sid, turn.seq)
        try:
            pipe = self.redis.pipeline(transaction=True)
            pipe.hset(key, "turn", turn.to_json())
            pipe.expire(key, self.ttl)
            pipe.execute()
        except redis_lib.RedisError as e:
            raise SessionError(f"cannot store the speech prompt of {turn.call_sid}: {e}") from e

    def turn(self, call_sid: str, seq: int) -> ListenTurn | None:
        raw = self._get(call_sid, seq, "turn")
        return ListenTurn.from_json(raw) if raw is not None else None

    def put_heard(self, call_sid: str, seq: int, heard: Result) -> bool:
        """Store what the stream heard once (a second stream for the same prompt cannot overwrite it); True if
        stored."""
        try:
            return bool(self.redis.hsetnx(keys.listen_turn(call_sid, seq), "heard", json.dumps(asdict(heard))))
        except redis_lib.RedisError as e:
            raise SessionError(f"cannot store what {call_sid} said: {e}") from e

    def heard(self, call_sid: str, seq: int) -> Result | None:
        raw = self._get(call_sid, seq, "heard")
        if raw is None:
            return None
        data = json.loads(raw)
        return Result(**dict(data, outcome=Outcome(data["outcome"])))

    def _get(self, call_sid: str, seq: int, field_name: str) -> bytes | None:
        try:
            return self.redis.hget(keys.listen_turn(call_sid, seq), field_name)
        except redis_lib.RedisError as e:
            raise SessionError(f"cannot read the speech prompt of {call_sid}: {e}") from e
