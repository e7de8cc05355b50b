"""Agent credentials for the agent API: one bearer token per agent, stored only as a SHA-256 digest."""

from __future__ import annotations

import hashlib
import secrets

import redis as redis_lib

from ivr.store import keys


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AgentTokens:
    def __init__(self, redis: redis_lib.Redis):
        self.redis = redis

    def issue(self, agent_id: str) -> str:
        """A new token for ``agent_id`` (previous ones stop working). Shown once; only its digest is kept."""
        token = "agt_" + secrets.token_urlsafe(24)
        old = self.redis.hget(keys.AGENT_TOKEN_OF, agent_id)
        pipe = self.redis.pipeline(transaction=True)
        if old is not None:
            pipe.hdel(keys.AGENT_TOKENS, old)
        pipe.hset(keys.AGENT_TOKENS, _digest(token), agent_id)
        pipe.hset(keys.AGENT_TOKEN_OF, agent_id, _digest(token))
        pipe.execute()
        return token

    def agent_for(self, token: str) -> str | None:
        raw = self.redis.hget(keys.AGENT_TOKENS, _digest(token))
        return raw.decode() if raw is not None else None
