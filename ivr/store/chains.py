"""Markers of the self-rescheduling job chains: which job owns a chain, so that one chain runs whatever the workers."""

from __future__ import annotations

from enum import Enum

import redis as redis_lib

from ivr.store import keys


class Chain(str, Enum):
    """The job chains, each with its marker key."""

    REMATCH = "rematch"
    WALLBOARD_SAMPLING = "wallboard-sample"

    @property
    def marker(self) -> str:
        return {Chain.REMATCH: keys.REMATCH_SCHEDULED, Chain.WALLBOARD_SAMPLING: keys.WALLBOARD_SAMPLING}[self]


class ChainMarkers:
    """The owner of each chain in Redis; ``redis`` is passed in."""

    def __init__(self, redis: redis_lib.Redis):
        self.redis = redis

    def claim(self, chain: Chain, job_id: str, ttl: int) -> bool:
        """Make ``job_id`` the chain's owner for ``ttl`` seconds, unless the chain has an owner; True when claimed."""
        return bool(self.redis.set(chain.marker, job_id, nx=True, ex=ttl))

    def owner(self, chain: Chain) -> str | None:
        """The id of the job that owns the chain, or None when the marker is gone."""
        raw = self.redis.get(chain.marker)
        return raw.decode() if raw is not None else None

    def release(self, chain: Chain) -> None:
        """The chain has no owner any more (its job is about to schedule the next one)."""
        self.redis.delete(chain.marker)
